"""The trained grid's hardware rows: for every trained design (`skipless grid designs`), C-simulation on
1 000 test images (bit-exact with QKeras), RTL latency and interval from a clean co-simulation, and
Yosys synthesis for the xc7z020 (resources, utilization, fits, skip FIFO bits). Each writes its
record to the results store; with the `accuracy` records of test_accuracy.py they make the headline
table (`skipless report`, README). Test ids are the design ids: `pytest benchmarks -k r20` selects the
r20 rows.
"""

import pytest

from skipless.bench.store import make_record, save
from skipless.flow import Build, CosimSettings
from skipless.train import grid

DESIGNS = grid.hardware_designs()
CSIM_IMAGES = 1000


@pytest.mark.parametrize(
    "design", DESIGNS or [pytest.param("none", marks=pytest.mark.skip(reason="no trained grid design in models/ yet"))]
)
def test_grid_row(design, dataset):
    build = Build(design, dataset=dataset, log=lambda *a: None)
    verified = build.verify(n=CSIM_IMAGES)
    save(make_record(design, "csim", {"csim_match": verified.n_equal / verified.n_images,
                                      "csim_accuracy": 100 * verified.record["accuracy"]},
                     params={"test_images": verified.n_images, "dataset": dataset.name}))
    assert verified.bit_exact, verified.summary()
    timed = build.cosim(n=3, settings=CosimSettings(gap_prob=0.0, stall_prob=0.0), record=True)
    assert timed.bit_exact and timed.timing_clean
    report = build.synth("yosys", record=True)  # its record carries the skip FIFO bits too
    util = report["utilization"]
    print(f"\n{design}: C-sim {verified.n_equal}/{verified.n_images} bit-exact; latency {timed.latency_cycles} cycles, interval "
          f"{timed.interval_cycles:.0f}; LUT {report['resources']['lut']} ({util['lut']} %), DSP {report['resources']['dsp']} "
          f"({util['dsp']} %), BRAM18 {report['resources']['bram18']} ({util['bram18']} %); skip FIFOs {report['fifo']['bits']} bits")
