"""RTL co-simulation performance: latency and interval per variant at the default parallelism, skip
FIFO cost of skip/short against noskip, and simulator speed (Verilator against Icarus, side by side).

Results go to benchmarks/results/cosim.json and, as "cosim" records, to the results store.
"""


import numpy as np
import pytest

from skipless import cosim, hls, rtl, workspace, zoo
from skipless.bench.store import make_record, save, update_json_rows
from skipless.provenance import provenance

RESULTS = workspace.current().results / "cosim.json"
VARIANTS = [f"r{d}-{s}-w8a8" for d in (8, 20) for s in ("skip", "noskip", "short")]


def _run(variant, dataset, hls_dir, simulator, n):
    reason = cosim.available(simulator)
    if reason:
        pytest.skip(reason)
    model, what = zoo.model_for_variant(variant, dataset)
    project = hls.convert(model, hls_dir / variant, source={"id": what}, log=lambda *a: None)
    design = rtl.generate(hls.stock_model(model, project), hls_dir / variant / "rtl", log=lambda *a: None)
    x = dataset.normalize(dataset.x_test[:n])
    result = cosim.cosim(design, x, simulator=simulator, log=lambda *a: None)
    match = float(np.all(result.outputs == model.predict(x, verbose=0).astype(np.float64), axis=1).mean())
    return what, design, result, match


@pytest.mark.cosim
@pytest.mark.parametrize("variant", VARIANTS)
def test_latency_interval_and_skip_fifos(variant, dataset, hls_dir):
    what, design, result, match = _run(variant, dataset, hls_dir, "verilator", 3)
    period = design.info["clock_period_ns"]
    fifos = design.info["fifos"]
    row = {
        "model": what, "images": len(result.outputs), "cosim_match": match,
        "latency_cycles": result.latency_cycles, "latency_us": round(result.latency_us(period), 2),
        "interval_cycles": result.interval_cycles, "macs_per_cycle": design.info["macs_per_cycle"],
        "fifo_depths": [f["depth"] for f in fifos], "fifo_bits": sum(f["bits"] for f in fifos),
        "window_buffer_bits": sum(layer["buffer_bits"] for layer in design.info["layers"]),
        "provenance": provenance(),
    }
    update_json_rows(RESULTS, f"{variant}/latency", row)
    save(make_record(variant, "cosim", {k: row[k] for k in ("cosim_match", "latency_cycles", "latency_us", "interval_cycles",
                                                               "macs_per_cycle", "fifo_bits", "window_buffer_bits")},
                     params={"simulator": "verilator", "model": what, "clock_period": period}))
    print(f"\n{variant}: latency {row['latency_cycles']} cycles ({row['latency_us']} us), interval {row['interval_cycles']} cycles, "
          f"skip FIFOs {row['fifo_depths']} = {row['fifo_bits']} bits, window buffers {row['window_buffer_bits']} bits")
    assert match == 1.0


@pytest.mark.cosim
@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
@pytest.mark.parametrize("variant", ["r8-skip-w8a8", "r20-skip-w8a8"])
def test_simulator_speed(variant, simulator, dataset, hls_dir):
    what, design, result, match = _run(variant, dataset, hls_dir, simulator, 1)
    row = {"model": what, "simulator": simulator, "cycles": result.cycles, "wall_s": round(result.wall_s, 2),
           "cycles_per_s": round(result.cycles_per_s, 1), "images_per_s": round(result.images_per_s, 5),
           "build_s": round(result.build_s, 1), "cosim_match": match, "provenance": provenance()}
    update_json_rows(RESULTS, f"{variant}/{simulator}", row)
    save(make_record(variant, "cosim", {k: row[k] for k in ("cycles_per_s", "images_per_s", "cosim_match")},
                     params={"simulator": simulator, "model": what}))
    print(f"\n{variant} on {simulator}: {row['cycles_per_s']} cycles/s, {row['images_per_s']} images/s (build {row['build_s']} s)")
    assert match == 1.0
