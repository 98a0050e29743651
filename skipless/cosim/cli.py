"""``skipless rtl`` (write the open RTL of a design) and ``skipless cosim`` (co-simulate it)."""

from __future__ import annotations

import json
import os

from skipless.errors import SkiplessError


def _parse_macs(text: str | None) -> dict:
    out = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        if not value.strip().isdigit():
            raise SkiplessError(f"--macs-per-cycle wants layer=N pairs, got {item!r}")
        out[name.strip()] = int(value)
    return out


def _add_rtl_args(p) -> None:
    from skipless.rtl.schedule import DEFAULT_CYCLES_PER_LAYER

    p.add_argument("--cycles-per-layer", type=int, default=DEFAULT_CYCLES_PER_LAYER,
                   help="parallelism target: each conv finishes an image within this many cycles (default: %(default)s)")
    p.add_argument("--macs-per-cycle", help="per-layer parallelism, e.g. s1b1_conv1=64,fc=2 (PI x PO)")


def make_rtl(model_id: str, ds, args, log=print):
    """(model, hls project, open RTL design) of a trained artifact or variant id."""
    from skipless import hls, rtl
    from skipless.cli import _convert_one

    model, project = _convert_one(model_id, ds, args)
    graph = hls.stock_model(model, project)
    settings = rtl.RTLSettings(cycles_per_layer=args.cycles_per_layer, macs_per_cycle=_parse_macs(args.macs_per_cycle),
                               clock_period_ns=project.settings.clock_period)
    design = rtl.generate(graph, project.path / "rtl", settings, log=log)
    return model, project, design


def cmd_rtl(args) -> int:
    from skipless import data, rtl

    ds = data.load(args.dataset, args.data_dir)
    for model_id in args.ids:
        _, _, design = make_rtl(model_id, ds, args)
        info = design.info
        print(f"{model_id}: {design.path}/{design.top}.v  {info['macs_per_cycle']} MACs/cycle, "
              f"~{info['estimated_interval_cycles']} cycles/image")
        for f in info["fifos"]:
            print(f"  skip FIFO {f['name']}: depth {f['depth']} x {f['width']} bits = {f['bits']} bits (lead {f['lead']} beats)")
        if args.lint:
            rtl.lint(design)
            print("  verilator --lint-only -Wall: clean")
    return 0


def cosim_one(model_id: str, ds, args) -> bool:
    import numpy as np

    from skipless import cosim

    model, project, design = make_rtl(model_id, ds, args)
    if args.rtl == "vendor":
        from skipless.cosim.vendor import vendor_design

        design = vendor_design(model, project)
    x = ds.normalize(ds.x_test[: args.n])
    result = cosim.cosim(design, x, simulator=args.sim, seed=args.seed, gap_prob=args.gap, stall_prob=args.stall)
    reference = model.predict(x, verbose=0).astype(np.float64).reshape(result.outputs.shape)
    same = int((result.outputs == reference).reshape(len(x), -1).all(axis=1).sum())
    period = design.info["clock_period_ns"]
    s = result.summary(period)
    print(f"{model_id} ({args.rtl} RTL, {args.sim}): {same}/{len(x)} images bit-exact with QKeras")
    if design.info.get("fifos"):
        print(f"  skip FIFOs: {', '.join(str(f['depth']) for f in design.info['fifos'])} beats deep, {sum(f['bits'] for f in design.info['fifos'])} bits")
    interval = f"{s['interval_cycles']:.0f} cycles" if s["interval_cycles"] else "n/a (one image)"
    print(f"  latency {s['latency_cycles']} cycles = {s['latency_us']} us at {1000 / period:.0f} MHz; interval {interval}")
    print(f"  {args.sim}: {s['cycles']} cycles in {s['wall_s']} s = {s['cycles_per_s']:.0f} cycles/s, "
          f"{s['images_per_s']:.3f} images/s (build {s['build_s']} s); gaps {args.gap}, back-pressure {args.stall}, seed {args.seed}")
    record = {**s, "bit_exact_images": same, "design_hash": design.content_hash}
    tmp = design.path / "cosim.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, design.path / "cosim.json")
    return same == len(x)


def cmd_cosim(args) -> int:
    from skipless import data

    ds = data.load(args.dataset, args.data_dir)
    results = [cosim_one(model_id, ds, args) for model_id in args.ids]
    return 0 if all(results) else 1


def add_rtl_commands(sub) -> None:
    """Register ``skipless rtl`` and ``skipless cosim``."""
    from skipless.cli import _add_hls_args
    from skipless.cosim.simulators import SIMULATORS

    p = sub.add_parser("rtl", help="write the open RTL (Verilog) of models into hls_projects/<id>/rtl/")
    p.add_argument("ids", nargs="+", help="trained artifacts (r8-skip-w8a8.normal) or variant ids (random weights)")
    p.add_argument("--lint", action="store_true", help="also run verilator --lint-only -Wall")
    _add_rtl_args(p)
    _add_hls_args(p)
    p.set_defaults(func=cmd_rtl)

    p = sub.add_parser("cosim", help="co-simulate models' RTL with cocotb and compare it bit for bit with QKeras; "
                       "writes hls_projects/<id>/rtl/cosim.json (latency, interval) for `skipless synth`")
    p.add_argument("ids", nargs="+", help="trained artifacts or variant ids")
    p.add_argument("--n", type=int, default=2, help="test images to stream (default: %(default)s)")
    p.add_argument("--sim", choices=SIMULATORS, default="verilator")
    p.add_argument("--rtl", choices=("open", "vendor"), default="open", help="open RTL, or the Vitis/Vivado HLS RTL")
    p.add_argument("--gap", type=float, default=0.0, help="probability of a gap before each input beat (default: %(default)s)")
    p.add_argument("--stall", type=float, default=0.0, help="probability of output back-pressure per cycle (default: %(default)s)")
    _add_rtl_args(p)
    _add_hls_args(p)
    p.set_defaults(func=cmd_cosim)


__all__ = ["add_rtl_commands", "make_rtl"]
