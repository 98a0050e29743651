"""RTL co-simulation performance: latency and interval per design at the default parallelism, skip
FIFO cost, simulator speed (Verilator against Icarus), the fast HDL bench against the per-beat
cocotb bench (``-k cosim_speed``) and the Verilator build options (``-k cosim_flags``), each pair
measured side by side in one run.

Results go to benchmarks/results/cosim.json and, as "cosim" records, to the results store.
"""

import time

import numpy as np
import pytest

from skipless import cosim, workspace
from skipless.bench.store import make_record, save, update_json_rows
from skipless.cosim.run import LONG_RUN, VerilatorOptions
from skipless.provenance import provenance

RESULTS = workspace.current().results / "cosim.json"
VARIANTS = [f"r{d}-{s}-w8a8" for d in (8, 20) for s in ("skip", "noskip", "short")]


def _skip_without(simulator):
    reason = cosim.available(simulator)
    if reason:
        pytest.skip(reason)


def _timed(build, x, **kw):
    design = build.rtl()
    from skipless.cosim.run import build as build_sim

    build_sim(design, kw.get("simulator", "verilator"), kw.get("bench", "hdl"), lambda *a: None, kw.get("options"))
    result = cosim.cosim(design, x, log=lambda *a: None, expected=build.reference(x), **kw)
    assert result.mismatches == []
    return design, result


@pytest.mark.cosim
@pytest.mark.parametrize("variant", VARIANTS)
def test_latency_interval_and_skip_fifos(variant, build_of, dataset):
    _skip_without("verilator")
    build = build_of(variant)
    x, _ = build.test_images(3)
    design, result = _timed(build, x, gap_prob=0, stall_prob=0)
    period = design.info["clock_period_ns"]
    fifos = design.info["fifos"]
    row = {
        "model": build.design_id, "images": len(result.outputs), "latency_cycles": result.latency_cycles,
        "latency_us": round(result.latency_us(period), 2), "interval_cycles": result.interval_cycles,
        "macs_per_cycle": design.info["macs_per_cycle"], "fifo_depths": [f["depth"] for f in fifos],
        "fifo_bits": sum(f["bits"] for f in fifos),
        "window_buffer_bits": sum(layer["buffer_bits"] for layer in design.info["layers"]), "provenance": provenance(),
    }
    update_json_rows(RESULTS, f"{variant}/latency", row)
    save(make_record(variant, "cosim", {k: row[k] for k in ("latency_cycles", "latency_us", "interval_cycles", "macs_per_cycle",
                                                               "fifo_bits", "window_buffer_bits")},
                     params={"simulator": "verilator", "model": build.design_id, "clock_period": period}))
    print(f"\n{variant}: latency {row['latency_cycles']} cycles ({row['latency_us']} us), interval {row['interval_cycles']} cycles, "
          f"skip FIFOs {row['fifo_depths']} = {row['fifo_bits']} bits, window buffers {row['window_buffer_bits']} bits")


@pytest.mark.cosim
@pytest.mark.parametrize("variant", ["r8-skip-w8a8", "r20-skip-w8a8"])
def test_simulator_speed(variant, build_of):
    """Verilator against Icarus on the same HDL bench, side by side."""
    _skip_without("verilator")
    _skip_without("icarus")
    build = build_of(variant)
    x, _ = build.test_images(1)
    rows = {}
    for simulator in ("verilator", "icarus"):
        _, result = _timed(build, x, simulator=simulator, gap_prob=0, stall_prob=0)
        rows[simulator] = {"cycles_per_s": round(result.cycles_per_s, 1), "images_per_s": round(result.images_per_s, 5),
                           "build_s": round(result.build_s, 1)}
    row = {"model": build.design_id, **{f"{s}_{k}": v for s, r in rows.items() for k, v in r.items()},
           "ratio": round(rows["verilator"]["cycles_per_s"] / rows["icarus"]["cycles_per_s"], 1), "provenance": provenance()}
    update_json_rows(RESULTS, f"{variant}/simulators", row)
    for simulator, r in rows.items():
        save(make_record(variant, "cosim", {k: r[k] for k in ("cycles_per_s", "images_per_s")},
                         params={"simulator": simulator, "bench": "hdl", "model": build.design_id}))
    print(f"\n{variant}: Verilator {rows['verilator']['cycles_per_s']} vs Icarus {rows['icarus']['cycles_per_s']} cycles/s = {row['ratio']}x")


SPEED_IMAGES = {"r8-skip-w8a8": (2, 12), "r20-skip-w8a8": (1, 4)}  # (per-beat bench, HDL bench)


@pytest.mark.cosim
@pytest.mark.parametrize("variant", list(SPEED_IMAGES))
def test_cosim_speed(variant, build_of):
    """The per-beat cocotb bench against the fast HDL bench: same design, same simulator, same images
    (the HDL bench streams more of them), one run after the other in this test."""
    _skip_without("verilator")
    build = build_of(variant)
    n_old, n_new = SPEED_IMAGES[variant]
    x, _ = build.test_images(n_new)
    rows = {}
    # the HDL bench as a test set runs it (LONG_RUN: C++ -O3), the per-beat bench as it always ran
    for bench, n, options in (("python", n_old, None), ("hdl", n_new, LONG_RUN)):
        start = time.time()
        _, result = _timed(build, x[:n], bench=bench, gap_prob=0, stall_prob=0, options=options)
        rows[bench] = {"images": n, "cycles": result.cycles, "wall_s": round(result.wall_s, 2),
                       "cycles_per_s": round(result.cycles_per_s, 1), "images_per_s": round(result.images_per_s, 3),
                       "call_s": round(time.time() - start, 1)}
    ratio = rows["hdl"]["cycles_per_s"] / rows["python"]["cycles_per_s"]
    row = {"model": build.design_id, "simulator": "verilator", "per_beat_bench": rows["python"], "hdl_bench": rows["hdl"],
           "speedup": round(ratio, 1), "options": repr(LONG_RUN), "provenance": provenance()}
    update_json_rows(RESULTS, f"{variant}/cosim_speed", row)
    save(make_record(variant, "cosim", {"hdl_cycles_per_s": rows["hdl"]["cycles_per_s"], "hdl_images_per_s": rows["hdl"]["images_per_s"],
                                        "per_beat_cycles_per_s": rows["python"]["cycles_per_s"], "speedup": round(ratio, 2)},
                     params={"simulator": "verilator", "bench": "hdl-vs-python", "model": build.design_id}))
    print(f"\n{variant}: per-beat bench {rows['python']['cycles_per_s']} cycles/s ({rows['python']['images_per_s']} images/s), "
          f"HDL bench {rows['hdl']['cycles_per_s']} cycles/s ({rows['hdl']['images_per_s']} images/s): {ratio:.1f}x")
    assert ratio > 1


FLAG_VARIANTS = {
    "default (c++ -Os, Verilator's OPT_FAST)": VerilatorOptions(),
    "c++ -O3 (LONG_RUN)": VerilatorOptions(cflags="-O3"),
    "c++ -O3 -march=native": VerilatorOptions(cflags="-O3 -march=native"),
    "--threads 2": VerilatorOptions(threads=2),
    "cocotb clock (no --timing)": VerilatorOptions(hdl_clock=False),
    "library assertions off": VerilatorOptions(assertions=False),
}


@pytest.mark.cosim
def test_cosim_flags(build_of):
    """Verilator build options on r8-skip-w8a8, one after the other in this test: the build from scratch
    (seconds) and the simulation speed (cycles/s, mean of two runs of 6 images) of each."""
    import shutil

    from skipless.cosim.run import build as build_sim

    _skip_without("verilator")
    build = build_of("r8-skip-w8a8")
    x, _ = build.test_images(6)
    design = build.rtl()
    rows = {}
    for name, options in FLAG_VARIANTS.items():
        first = _build_dir(design, options)
        shutil.rmtree(first, ignore_errors=True)
        start = time.time()
        build_sim(design, "verilator", "hdl", lambda *a: None, options)
        build_s = time.time() - start
        speeds = [_timed(build, x, options=options, gap_prob=0, stall_prob=0)[1].cycles_per_s for _ in range(2)]
        rows[name] = {"cycles_per_s": round(float(np.mean(speeds)), 1), "build_s": round(build_s, 1)}
    base = next(iter(rows.values()))["cycles_per_s"]
    row = {"model": build.design_id, "variants": rows,
           "relative_speed": {k: round(v["cycles_per_s"] / base, 3) for k, v in rows.items()}, "provenance": provenance()}
    update_json_rows(RESULTS, "r8-skip-w8a8/cosim_flags", row)
    print("\n" + "\n".join(f"  {k:40s} {v['cycles_per_s']:>10.0f} cycles/s  {v['cycles_per_s'] / base:.2f}x  build {v['build_s']} s"
                            for k, v in rows.items()))


def _build_dir(design, options):
    """The build folder skipless.cosim.run.build uses for these options (the default has no hash tag)."""
    import hashlib

    if options == VerilatorOptions():
        return design.path / "sim_verilator_hdl"
    return design.path / f"sim_verilator_hdl_{hashlib.sha256(repr(options).encode()).hexdigest()[:8]}"


@pytest.mark.cosim
def test_cosim_ceiling(build_of, tmp_path):
    """What limits the fast path: the same HDL bench and design, built with the same flags, run once under
    cocotb (VPI, the Python watchdog) and once as a plain Verilator binary (``--binary``, no VPI, no
    Python), side by side on the same 12 images. Equal speeds mean the testbench costs nothing and the
    design model's own evaluation is the limit."""
    import subprocess

    from skipless.cosim.hdl_bench import BENCH_TOP, bench_verilog
    from skipless.cosim.run import _parse_events, _write_inputs, input_mantissas
    from skipless.tools import verilator_env

    _skip_without("verilator")
    build = build_of("r8-skip-w8a8")
    x, _ = build.test_images(12)
    design, cocotb_run = _timed(build, x, gap_prob=0, stall_prob=0, options=LONG_RUN)
    (tmp_path / "bench.v").write_text(bench_verilog(design))
    _write_inputs(tmp_path / "in.txt", input_mantissas(design, x), design.info["interface"]["input"]["width"])
    args = [a for a in LONG_RUN.args() if a != "--timing"]  # --binary implies --timing
    cmd = ["verilator", "--binary", "-j", "2", *args, "--timescale", "1ns/1ns", "--top-module", BENCH_TOP, "-Mdir", "obj",
           *[str(f) for f in design.files], "bench.v", "-o", "native"]
    built = subprocess.run(cmd, cwd=tmp_path, env=verilator_env(), capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    start = time.time()
    ran = subprocess.run(["obj/native", f"+in={tmp_path / 'in.txt'}", f"+out={tmp_path / 'out.txt'}", f"+images={len(x)}",
                          f"+clean={len(x)}", "+finish=1"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    wall = time.time() - start
    assert ran.returncode == 0, ran.stdout[-2000:]
    events = _parse_events((tmp_path / "out.txt").read_text(), design.info["interface"]["output"])
    assert len(events["outs"]) == len(x) and not events["errors"]
    native = events["done"] / wall
    row = {"model": build.design_id, "images": len(x), "cocotb_cycles_per_s": round(cocotb_run.cycles_per_s, 1),
           "native_cycles_per_s": round(native, 1), "cocotb_over_native": round(cocotb_run.cycles_per_s / native, 3),
           "options": repr(LONG_RUN), "provenance": provenance()}
    update_json_rows(RESULTS, "r8-skip-w8a8/cosim_ceiling", row)
    print(f"\nr8-skip-w8a8, same bench and flags: under cocotb {row['cocotb_cycles_per_s']} cycles/s, "
          f"native Verilator binary {row['native_cycles_per_s']} cycles/s ({row['cocotb_over_native']}x)")
