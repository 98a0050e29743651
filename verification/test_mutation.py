"""Mutation testing (marker ``mutation``): faults planted one at a time must each be caught.

Fast tier: a few faults of every kind on a small QKeras network and the library self-test on the
shipped library and on each library fault. Nightly (slow): the whole catalogue on r8-skip-w8a8,
which must score 100 %.
"""

import pytest

from skipless import faults
from skipless.cosim import available
from skipless.cosim.selftest import run_selftest
from skipless.flow import Build
from skipless.rtl.design import library_text

from .test_cosim import outside_qkeras_model

pytestmark = [pytest.mark.mutation, pytest.mark.cosim]


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    if available("verilator"):
        pytest.skip(available("verilator"))
    folder = tmp_path_factory.mktemp("mutation")

    class Images:  # a QKeras model of its own, fed random images instead of the dataset
        name = "random"

    build = Build(outside_qkeras_model(), design_id="outside", folder=folder / "outside", log=lambda *a: None)
    import numpy as np

    x = np.random.default_rng(5).uniform(-3, 3, (12, 10, 10, 2)).astype(np.float32)
    build.test_images = lambda n: (x[: (len(x) if n == "all" else n)], None)
    return build


def test_the_library_self_test_passes_on_the_shipped_library(tmp_path):
    if available("verilator"):
        pytest.skip(available("verilator"))
    assert run_selftest(library_text(), tmp_path) is None


@pytest.mark.parametrize("name", ["fifo-full-flag", "fifo-empty-flag", "ignores-back-pressure", "data-changes-while-stalled"])
def test_the_library_self_test_catches_each_library_fault(name, tmp_path):
    if available("verilator"):
        pytest.skip(available("verilator"))
    old, new = faults.LIB_EDITS[name]
    assert run_selftest(library_text().replace(old, new, 1), tmp_path) is not None


# one or two of each kind (network, top, library, hls) in the fast tier; the rest of these in the slow one
FAST = ["weight-lsb", "saturation", "stuck-ready", "ignores-back-pressure", "hls-precision"]
MORE = ["channel-swap", "pad-left", "requant-shift"]


@pytest.mark.parametrize("name", FAST + [pytest.param(n, marks=pytest.mark.slow) for n in MORE])
def test_planted_fault_is_caught_on_a_small_network(name, small_build):
    [outcome] = faults.run(small_build, [name], log=lambda *a: None)
    assert outcome.caught, outcome.line()
    if outcome.kind == "hls":
        assert "defines.h (edited)" in outcome.located


@pytest.mark.slow
def test_a_skip_fifo_too_small_is_named_by_the_watchdog(small_build, build_of):
    """On r8-skip-w8a8 (skip FIFOs 80/48/32 deep) half of the first one's lead stalls the network, and the
    watchdog names it. The small network's branches nearly keep pace: its FIFO cut to half the lead is
    still enough, and the harness must pass that correct design rather than raise a false alarm."""
    if available("verilator"):
        pytest.skip(available("verilator"))
    [outcome] = faults.run(build_of("r8-skip-w8a8"), ["skip-fifo-too-small"], n=3, log=lambda *a: None)
    assert outcome.caught and "stall watchdog" in outcome.how and "skip FIFO" in outcome.how, outcome.line()
    [small] = faults.run(small_build, ["skip-fifo-too-small"], log=lambda *a: None)
    assert small.caught is False and small.how.startswith("all 18 images bit-exact"), small.line()


def test_an_unknown_fault_is_refused(small_build):
    from skipless.errors import SkiplessError

    with pytest.raises(SkiplessError, match="unknown fault.*the catalogue has weight-lsb"):
        faults.run(small_build, ["cosmic-ray"])


@pytest.mark.slow
def test_every_fault_of_the_catalogue_is_caught_on_r8(build_of):
    if available("verilator"):
        pytest.skip(available("verilator"))
    outcomes = faults.run(build_of("r8-skip-w8a8"), n=6, log=print)
    caught, applicable = faults.score(outcomes)
    assert caught == applicable == len(faults.CATALOGUE), "\n".join(o.line() for o in outcomes if not o.caught)
