"""The trained grid's hardware rows: for every trained design (`skipless grid designs`), C-simulation on
1 000 test images (bit-exact with QKeras, or with the integer reference at w16a16), RTL latency and
interval from a clean co-simulation, and Yosys synthesis for the xc7z020 (resources, utilization, fits,
skip FIFO bits). Each writes its record to the results store; with the `accuracy` records of
test_accuracy.py they make the headline table (`skipless report`, README).

A design that the planner predicts does not fit the part at its default plan (the r20 designs need
about 550 DSP48s of the xc7z020's 220) is also planned by the fit planner, in
`hls_projects/fit/<id>/`, synthesized and co-simulated there (`test_grid_fit`): its records carry
`plan=fit`, and the headline compares such a cell at that plan.

Test ids are the design ids, one test per step: `pytest benchmarks -k r20` selects the r20 rows,
`pytest benchmarks/test_grid.py -k csim` the C-simulations only (Yosys takes 2-15 min a design here).
"""

import pytest

from skipless import workspace
from skipless.bench.store import make_record, save
from skipless.flow import Build, BuildSettings, CosimSettings
from skipless.rtl.schedule import RTLSettings
from skipless.train import grid

DESIGNS = grid.hardware_designs()
CSIM_IMAGES = 1000

designs = pytest.mark.parametrize(
    "design", DESIGNS or [pytest.param("none", marks=pytest.mark.skip(reason="no trained grid design in models/ yet"))]
)


def _build(design, dataset):
    return Build(design, dataset=dataset, log=lambda *a: None)


@designs
def test_grid_csim(design, dataset):
    verified = _build(design, dataset).verify(n=CSIM_IMAGES)
    save(make_record(design, "csim", {"csim_match": verified.n_equal / verified.n_images,
                                      "csim_accuracy": 100 * verified.record["accuracy"]},
                     params={"test_images": verified.n_images, "dataset": dataset.name,
                             "reference": verified.record["reference"]}))
    print(f"\n{design}: C-sim {verified.summary()}")
    assert verified.bit_exact, verified.summary()


@designs
def test_grid_cosim(design, dataset):
    timed = _build(design, dataset).cosim(n=3, settings=CosimSettings(gap_prob=0.0, stall_prob=0.0), record=True)
    print(f"\n{design}: RTL latency {timed.latency_cycles} cycles, interval {timed.interval_cycles:.0f}")
    assert timed.bit_exact and timed.timing_clean


@designs
def test_grid_synth(design, dataset):
    report = _build(design, dataset).synth("yosys", record=True)  # its record carries the skip FIFO bits too
    util = report["utilization"]
    print(f"\n{design}: LUT {report['resources']['lut']} ({util['lut']} %), DSP {report['resources']['dsp']} "
          f"({util['dsp']} %), BRAM18 {report['resources']['bram18']} ({util['bram18']} %); "
          f"skip FIFOs {report['fifo']['bits']} bits")
    # the DSP48s are counted, not modelled: Yosys must map exactly the multipliers the RTL declares
    assert report["resources"]["dsp"] == report["predicted"]["dsp"]["predicted"], report["predicted"]["dsp"]


@designs
def test_grid_fit(design, dataset):
    prediction = _build(design, dataset).rtl().info["fit"]
    if prediction is None or prediction["fits"]:
        pytest.skip(f"{design} is predicted to fit its part at the default plan")
    fitted = Build(design, BuildSettings(rtl=RTLSettings(fit=True)), folder=workspace.current().fitted_project(design),
                   dataset=dataset, log=lambda *a: None)
    report = fitted.synth("yosys", record=True)
    timed = fitted.cosim(n=3, settings=CosimSettings(gap_prob=0.0, stall_prob=0.0), record=True)
    util = report["utilization"]
    print(f"\n{design} (fitted plan): LUT {report['resources']['lut']} ({util['lut']} %), DSP {report['resources']['dsp']} "
          f"({util['dsp']} %), BRAM18 {report['resources']['bram18']} ({util['bram18']} %); RTL latency "
          f"{timed.latency_cycles} cycles, interval {timed.interval_cycles:.0f}")
    assert report["plan"] == "fit" and all(u is None or u <= 100 for u in util.values()), util  # fits, by Yosys
    assert timed.bit_exact and timed.timing_clean
