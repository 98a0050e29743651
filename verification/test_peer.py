"""The peer-model suite (`pytest verification -k peer`): QKeras models of the kinds hls4ml's own tests
convert, each through check_model -> convert -> C-simulation -> open RTL -> co-simulation under gaps
and back-pressure, compared exactly with QKeras; or refused with its one-line message before any of
that goes wrong. The models are in :mod:`verification.peer_models`."""

import numpy as np
import pytest

from skipless import cosim, hls, rtl
from skipless.errors import SkiplessError
from skipless.hls.checks import check_model

from .peer_models import PEERS

pytestmark = [pytest.mark.csim, pytest.mark.cosim]

# the cheap ones run in CI's fast tier; the rest (a compile and an RTL build each) in the nightly
FAST = {"jet_mlp", "conv_maxpool_flatten", "conv1d", "separable", "binary_act", "upsampling", "overlapping_pool",
        "ternary_act", "real_tanh", "float_sigmoid", "keras_softmax"}


def flow(model, shape, folder, simulator, seed=0):
    """check_model -> convert -> C-sim -> open RTL -> co-sim; the QKeras, C-sim and RTL outputs."""
    check_model(model)
    project = hls.convert(model, folder, log=lambda *a: None)
    rng = np.random.default_rng(seed)
    scale = 20 if model.name == "saturating_input" else 3  # far outside a 4-bit input's range
    x = rng.uniform(-scale, scale, (12, *shape)).astype(np.float32)
    x[0] = scale  # extremes of both signs
    x[1] = -scale
    expected = model.predict(x, verbose=0).astype(np.float64)
    csim = hls.csim(project, x)
    design = rtl.generate(hls.stock_model(model, project), folder / "rtl", log=lambda *a: None)
    rtl.lint(design)
    result = cosim.cosim(design, x[:4], simulator=simulator, seed=seed + 1, gap_prob=0.3, stall_prob=0.4, log=lambda *a: None)
    return expected, csim, result.outputs


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow) for n in PEERS])
def test_peer_model(name, tmp_path, simulator):
    build, shape, refusal = PEERS[name]
    if refusal is None and cosim.available(simulator):
        pytest.skip(cosim.available(simulator))
    model = build()
    if refusal is not None:
        with pytest.raises(SkiplessError, match=refusal):
            flow(model, shape, tmp_path / name, simulator)
        assert not (tmp_path / name).exists() or not any((tmp_path / name / "rtl").glob("*.v"))
        return
    expected, csim, rtl_out = flow(model, shape, tmp_path / name, simulator)
    np.testing.assert_array_equal(csim, expected)
    np.testing.assert_array_equal(rtl_out, expected[:4])
    assert np.abs(expected).max() > 0 and len(np.unique(expected)) > 2  # the outputs carry information
