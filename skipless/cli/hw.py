"""``skipless convert``, ``csim``, ``rtl`` and ``cosim``: the hardware steps of a build (skipless.flow)."""

from __future__ import annotations

from skipless.cli.common import (
    Progress,
    add_cosim_args,
    add_hls_args,
    add_parser,
    add_quiet_arg,
    add_rtl_args,
    emit_json,
    image_count,
    load_dataset,
    make_build,
    positive_int,
)


def cmd_convert(args) -> int:
    ds = load_dataset(args)
    for design_id in args.ids:
        make_build(design_id, args, ds).convert()
    return 0


def cmd_csim(args) -> int:
    build = make_build(args.id, args, load_dataset(args))
    with Progress(f"{args.id} C-sim", args.quiet or args.json) as progress:
        result = build.verify(n=args.n, workers=args.workers, progress=progress)
    record = result.record
    if args.json:
        emit_json(record)
    else:
        print(f"{args.id}: {result.summary()}")
        if "qkeras_max_abs_diff" in record:
            print(f"  QKeras (float32, not exact at {build.vid.quant}) is off by up to {record['qkeras_max_abs_diff']:g}")
        rate = record["images"] / record["seconds"] if record["seconds"] else 0.0
        print(f"  C-sim accuracy {100 * record['accuracy']:.2f}% on {record['images']} {build.dataset.name} test images; "
              f"{rate:.1f} images/s")
    return 0 if result.bit_exact else 1


def cmd_rtl(args) -> int:
    from collections import Counter

    from skipless import rtl

    ds = load_dataset(args)
    for design_id in args.ids:
        design = make_build(design_id, args, ds).rtl()
        info = design.info
        kinds = Counter(layer["multiplier"] for layer in info["layers"])
        print(f"{design_id}: {design.path}/{design.top}.v  {info['macs_per_cycle']} MACs/cycle on {info['multipliers']} "
              f"multipliers ({', '.join(f'{k}: {v} layers' for k, v in sorted(kinds.items()))}), "
              f"~{info['estimated_interval_cycles']} cycles/image")
        for f in info["fifos"]:
            print(f"  skip FIFO {f['name']}: depth {f['depth']} x {f['width']} bits = {f['bits']} bits (lead {f['lead']} beats)")
        fit = info.get("fit")
        if fit:
            used = ", ".join(f"{r.upper()} {fit['predicted'][r]:,} ({100 * fit['utilization'][r]:.0f}%)" for r in fit["predicted"])
            print(f"  predicted on {fit['part']}: {used}; {'fits' if fit['fits'] else 'DOES NOT FIT'} within "
                  f"{100 * fit['max_util']:.0f}%; device limit {fit['device_limit_interval']:,} cycles/image")
        if args.lint:
            rtl.lint(design)
            print("  verilator --lint-only -Wall: clean")
    return 0


def _print_cosim(design_id: str, result, design, args) -> None:
    r = result.record
    print(f"{design_id} ({args.rtl} RTL, {args.sim}): {r['bit_exact_images']}/{r['images']} images bit-exact with "
          f"{'QKeras' if r.get('reference', 'qkeras') == 'qkeras' else 'the integer reference'}"
          + (f"; hardware top-1 {100 * r['accuracy']:.2f}%" if "accuracy" in r else ""))
    if "first_mismatch" in r:
        m = r["first_mismatch"]
        print(f"  MISMATCH: first at image {m['image']}, output {m['output']}: RTL {m['got']} vs QKeras {m['want']} "
              f"({r['mismatches']} images differ" + (", stopped early)" if result.stopped_early else ")"))
    if design.info.get("fifos"):
        print(f"  skip FIFOs: {', '.join(str(f['depth']) for f in design.info['fifos'])} beats deep, "
              f"{sum(f['bits'] for f in design.info['fifos'])} bits")
    period = design.info["clock_period_ns"]
    interval = f"{r['interval_cycles']:.0f} cycles" if r["interval_cycles"] else "n/a (one image)"
    timing = "" if r["timing_clean"] else " (measured under gaps/back-pressure: run --n 3 or more for clean timing)"
    print(f"  latency {r['latency_cycles']} cycles = {r['latency_us']} us at the {1000 / period:.0f} MHz target clock; interval {interval}{timing}")
    print(f"  {args.sim}: {r['cycles']} cycles in {r['wall_s']} s = {r['cycles_per_s']:.0f} cycles/s, "
          f"{r['images_per_s']:.3f} images/s (build {r['build_s']} s); gaps {args.gap}, back-pressure {args.stall}, seed {args.seed}")


def _table_row(design_id: str, record: dict, args) -> None:
    """Keep, per design and plan, its largest RTL verification run in benchmarks/results/rtl_verified.json
    (committed; the README's "RTL-verified" column): a run of fewer images of the same design does not
    replace it, and a fitted design's run has its own row (``ID@fit``)."""
    from skipless import workspace
    from skipless.bench.store import RTL_VERIFIED, rtl_verified_key, rtl_verified_runs, update_json_rows

    path = workspace.current().results / RTL_VERIFIED
    key = rtl_verified_key(design_id, args.rtl, record.get("plan", "default"))
    old = rtl_verified_runs(path).get(key)
    if old and old.get("design_hash") == record["design_hash"] and old.get("images", 0) > record["images"]:
        return
    keys = ("images", "bit_exact_images", "mismatches", "accuracy", "latency_cycles", "interval_cycles", "timing_clean",
            "simulator", "bench", "cycles", "wall_s", "cycles_per_s", "images_per_s", "seed", "gap_prob", "stall_prob",
            "design_hash", "first_mismatch")
    row = {k: record[k] for k in keys if k in record}
    n = "all" if args.n == "all" else args.n
    row["command"] = (f"skipless cosim {design_id} --n {n} --sim {args.sim} --gap {args.gap} --stall {args.stall} --seed {args.seed}"
                      + ("" if args.rtl == "open" else f" --rtl {args.rtl}") + (" --fit" if record.get("plan") == "fit" else ""))
    from skipless.provenance import provenance

    row["provenance"] = provenance()
    update_json_rows(path, key, row)


def cmd_cosim(args) -> int:
    ds = load_dataset(args)
    records, ok = [], True
    for design_id in args.ids:
        build = make_build(design_id, args, ds)
        design = build.vendor_rtl() if args.rtl == "vendor" else build.rtl()
        with Progress(f"{design_id} RTL", args.quiet or args.json) as progress:
            result = build.cosim(n=args.n, design=design, max_mismatches=args.max_mismatches, progress=progress,
                                 record=not args.no_record)
        records.append(result.record)
        ok = ok and result.bit_exact
        if not args.no_record:
            _table_row(design_id, result.record, args)
        if not args.json:
            _print_cosim(design_id, result, design, args)
    if args.json:
        emit_json(records)
    return 0 if ok else 1


def register(sub) -> None:
    p = add_parser(sub, "convert", "convert models into bit-exact hls4ml projects under hls_projects/<id>/")
    p.add_argument("ids", nargs="+", help="trained artifacts (r8-skip-w8a8.normal) or variant ids (random weights)")
    add_hls_args(p)
    p.set_defaults(func=cmd_convert)

    p = add_parser(sub, "csim", "C-simulate a model's hls4ml project and compare it bit for bit with QKeras")
    p.add_argument("id", help="trained artifact or variant id")
    p.add_argument("--n", type=image_count, default=100, help="test images to simulate (or 'all')")
    p.add_argument("--workers", type=positive_int, help="processes (default: one per core)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_quiet_arg(p)
    add_hls_args(p)
    p.set_defaults(func=cmd_csim)

    p = add_parser(sub, "rtl", "write the open RTL (Verilog) of models into hls_projects/<id>/rtl/")
    p.add_argument("ids", nargs="+", help="trained artifacts (r8-skip-w8a8.normal) or variant ids (random weights)")
    p.add_argument("--lint", action="store_true", help="also run verilator --lint-only -Wall")
    add_rtl_args(p)
    add_hls_args(p)
    p.set_defaults(func=cmd_rtl)

    p = add_parser(sub, "cosim", "co-simulate models' RTL and compare it bit for bit with QKeras; writes "
                   "hls_projects/<id>/rtl/cosim.json (latency, interval) for `skipless synth`")
    p.add_argument("ids", nargs="+", help="trained artifacts or variant ids")
    p.add_argument("--n", type=image_count, default=10, help="test images to stream (or 'all')")
    p.add_argument("--rtl", choices=("open", "vendor"), default="open", help="open RTL, or the Vitis/Vivado HLS RTL")
    p.add_argument("--max-mismatches", type=int, help="stop after this many mismatching images (default: check them all)")
    p.add_argument("--no-record", action="store_true", help="do not add the result to the results store")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    add_quiet_arg(p)
    add_cosim_args(p)
    add_rtl_args(p)
    add_hls_args(p)
    p.set_defaults(func=cmd_cosim)
