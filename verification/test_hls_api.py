"""The public hls API with a QKeras model written outside skipless; caching; clear errors for bad models."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, binary, quantized_bits, quantized_po2, quantized_relu
from tensorflow.keras import layers

from skipless import hls
from skipless.errors import SkiplessError
from skipless.hls.checks import check_model

pytestmark = pytest.mark.csim


def handwritten_qkeras_model(seed=1):
    """A small QKeras CNN of its own: quantized input, two convs with a residual add, pooling, dense."""
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((12, 12, 3), name="pixels")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="q_in")(inp)
    a = QConv2D(6, 3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="c1")(x)
    a = QActivation(quantized_relu(6, 2), name="r1")(a)
    b = QConv2D(6, 3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="c2")(a)
    b = QActivation(quantized_bits(8, 3, alpha=1), name="q2")(b)
    s = layers.Add(name="res")([b, a])
    s = QActivation(quantized_relu(7, 3), name="r2")(s)
    p = layers.AveragePooling2D(2, name="pool")(s)
    p = QActivation(quantized_bits(9, 4, alpha=1), name="q_pool")(p)
    f = layers.Flatten(name="flat")(p)
    out = QDense(4, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), name="head")(f)
    model = tf.keras.Model(inp, out, name="handwritten")
    for w in model.trainable_weights:  # non-trivial weights in the quantizers' range
        w.assign(np.random.default_rng(seed).uniform(-0.9, 0.9, w.shape).astype(np.float32))
    return model


def test_outside_model_is_bit_exact_through_the_public_api(tmp_path):
    model = handwritten_qkeras_model()
    project = hls.convert(model, tmp_path / "handwritten", io_type="io_stream")
    x = np.random.default_rng(0).uniform(-3, 3, (16, 12, 12, 3)).astype(np.float32)
    y = hls.csim(project, x)
    np.testing.assert_array_equal(y, model.predict(x, verbose=0).astype(np.float64))
    assert np.abs(y).max() > 0
    assert hls.verify(model, project, x).bit_exact


@pytest.mark.parametrize("damage", ["edit a weight file", "delete a weight file", "edit defines.h", "delete the library",
                                    "corrupt the build record"])
def test_a_cached_project_whose_files_changed_is_rebuilt_not_trusted(tmp_path, damage):
    model = handwritten_qkeras_model()
    first = hls.convert(model, tmp_path / "p", log=lambda s: None)
    firmware = first.generated_dir / "firmware"
    weight = sorted((firmware / "weights").glob("w*.txt"))[0]
    if damage == "edit a weight file":
        weight.write_text(weight.read_text().replace("0", "1", 1))
    elif damage == "delete a weight file":
        weight.unlink()
    elif damage == "edit defines.h":
        defines = firmware / "defines.h"
        defines.write_text(defines.read_text().replace("ap_fixed<", "ap_fixed<1+", 1))
    elif damage == "delete the library":
        first.lib_path.unlink()
    else:
        (first.generated_dir / "skipless_build.json").write_text("{")
    logs = []
    again = hls.convert(model, tmp_path / "p", log=logs.append)
    assert again.built, f"{damage}: the cache was trusted"
    if damage != "corrupt the build record":
        assert any("generated files changed since the build" in line for line in logs)
    x = np.random.default_rng(0).uniform(-3, 3, (4, 12, 12, 3)).astype(np.float32)
    np.testing.assert_array_equal(hls.csim(again, x), model.predict(x, verbose=0).astype(np.float64))


def test_a_project_folder_moved_elsewhere_is_rebuilt_not_trusted(tmp_path):
    """A workspace copied or restored to another path (a CI cache, another checkout): hls4ml's library
    reads its weights from the absolute path it was built in, so the moved project is rebuilt in its new
    place (before, it was trusted, and its C-simulation died looking for the old folder's weight files)."""
    import shutil

    model = handwritten_qkeras_model()
    hls.convert(model, tmp_path / "here" / "p", log=lambda s: None)
    shutil.move(tmp_path / "here", tmp_path / "there")
    logs = []
    moved = hls.convert(model, tmp_path / "there" / "p", log=logs.append)
    assert moved.built and moved.lib_path.is_relative_to((tmp_path / "there").resolve())
    assert any("built in" in line and "here" in line for line in logs), logs
    x = np.random.default_rng(0).uniform(-3, 3, (4, 12, 12, 3)).astype(np.float32)
    np.testing.assert_array_equal(hls.csim(moved, x), model.predict(x, verbose=0).astype(np.float64))
    assert not hls.convert(model, tmp_path / "there" / "p", log=lambda s: None).built  # and then it is cached


def test_two_converts_of_one_folder_take_turns(tmp_path):
    """Two processes converting the same model into one folder: the second waits for the first's lock,
    then finds its build (before, the second's cleanup deleted the first's project)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from verification.test_hls_api import handwritten_qkeras_model
        from skipless import hls
        p = hls.convert(handwritten_qkeras_model(), {str(tmp_path / "p")!r}, log=lambda s: None)
        print("built" if p.built else "cached", p.lib_path.exists())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = sorted(proc.communicate(timeout=600)[0].split()[-2] for proc in procs)
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outs == ["built", "cached"]


def test_second_convert_does_no_work_and_changes_rebuild(tmp_path):
    model = handwritten_qkeras_model()
    first = hls.convert(model, tmp_path / "p")
    lib_mtime = first.lib_path.stat().st_mtime_ns
    again = hls.convert(model, tmp_path / "p")
    assert first.built and not again.built
    assert again.content_hash == first.content_hash and again.lib_path.stat().st_mtime_ns == lib_mtime
    assert (tmp_path / "p" / "skipless.yaml").exists()

    other_setting = hls.convert(model, tmp_path / "p", reuse_factor=4)
    assert other_setting.built and other_setting.content_hash != first.content_hash

    model.get_layer("head").bias.assign_add(np.full(4, 0.25, np.float32))
    new_weights = hls.convert(model, tmp_path / "p", reuse_factor=4)
    assert new_weights.built and new_weights.content_hash != other_setting.content_hash


KERAS_HASH = """
import json
import tensorflow as tf
from skipless.hls.project import HLSSettings, content_hash
from verification.test_hls_api import handwritten_qkeras_model
model = handwritten_qkeras_model()
print(json.dumps([json.loads(model.to_json())["keras_version"], content_hash(model, HLSSettings())]))
"""


def test_the_cache_key_is_the_same_under_keras_and_tf_keras():
    """QKeras' import sets TF_USE_LEGACY_KERAS=1, so a subprocess runs tf_keras 2.15.1 where its parent runs
    Keras 2.15.0: the same model must give the same content hash (it once made every project built by a
    subprocess look stale to the parent, and be rebuilt)."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("tf_keras")
    root = Path(__file__).resolve().parents[1]
    runs = []
    for legacy in ("1", None):
        env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
        env.update({"PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}, **({"TF_USE_LEGACY_KERAS": legacy} if legacy else {}))
        out = subprocess.run([sys.executable, "-c", KERAS_HASH], env=env, cwd=root, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    (legacy_version, legacy_hash), (keras_version, keras_hash) = runs
    assert legacy_version != keras_version  # two implementations really ran
    assert legacy_hash == keras_hash


def _model(build):
    inp = tf.keras.Input((8, 8, 1), name="img")
    return tf.keras.Model(inp, build(inp), name="m")


Q8 = dict(kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1))


def _q(x):
    return QActivation(quantized_bits(8, 2, alpha=1), name="q")(x)


def _conv_with(kernel_quantizer):
    return lambda x: layers.Flatten(name="f")(QConv2D(2, 3, kernel_quantizer=kernel_quantizer, name="c")(_q(x)))


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda x: layers.BatchNormalization(name="bn")(QConv2D(2, 3, **Q8, name="c")(_q(x))),
         "'bn'.*folded into the layer before it.*scale that layer's kernel by gamma/sqrt"),
        (lambda x: layers.Conv2D(2, 3, name="plain")(_q(x)), "'plain' is a float Conv2D"),
        (lambda x: QConv2D(2, 3, **Q8, name="c")(x), "input 'img' is not quantized"),
        (lambda x: layers.UpSampling2D(name="up")(QConv2D(2, 3, **Q8, name="c")(_q(x))), "'up' of type UpSampling2D is not supported"),
        (lambda x: layers.Flatten(name="f")(layers.Add(name="sum")([QConv2D(2, 3, **Q8, name="c")(_q(x))] * 2)),
         "output of 'sum' .* unquantized"),
        (lambda x: QConv2D(2, 3, name="c")(_q(x)), "'c' .* no kernel_quantizer"),
        (lambda x: QConv2D(2, 3, **Q8, name="output")(_q(x)), "'output': hls4ml reserves this name.*'logits'"),
        # D6: quantizers hls4ml's bit-exact flow does not compile, or compiles wrong (measured), refused before any compile
        (_conv_with(quantized_bits(8, 0)), r"'c' \(QConv2D\): its kernel_quantizer quantized_bits\(alpha='auto_po2'\) \(QKeras' default"),
        (_conv_with(quantized_bits(8, 0, alpha="auto")), r"alpha='auto'\) is not bit-exact"),
        (_conv_with(quantized_po2(4)), "its kernel_quantizer quantized_po2 does not compile"),
        (_conv_with(binary(alpha=1)), "its kernel_quantizer binary is not bit-exact"),
        (lambda x: _q(x), "model 'm' has no layer but QActivation"),
        # io_stream pooling asserts stride == pool size and no padding (its C-simulation aborts: measured)
        (lambda x: layers.Flatten(name="f")(layers.MaxPooling2D(2, padding="same", name="mp")(_q(x))),
         r"'mp' \(MaxPooling2D\): padding='same'; hls4ml's io_stream pooling has no padding.*use padding='valid'"),
        (lambda x: layers.Flatten(name="f")(layers.AveragePooling2D(3, strides=1, name="ap")(_q(x))),
         r"'ap' \(AveragePooling2D\): pool size \(3, 3\) with strides \(1, 1\).*set strides=pool_size"),
        # activations: hls4ml's binary_tanh is always +-1; a float function has no bit-exact fixed-point twin
        (lambda x: layers.Flatten(name="f")(QActivation(binary(use_01=True), name="b01")(_q(x))),
         r"'b01' \(QActivation\): binary\(use_01=True\).*always gives -1 or \+1; use binary\(alpha=1\)"),
        (lambda x: layers.Flatten(name="f")(layers.Activation("relu", name="r")(_q(x))),
         r"'r' \(Activation 'relu'\) computes a float function.*use QActivation\(quantized_relu\(bits, integer\)\)"),
    ],
    ids=["batchnorm", "float-conv", "unquantized-input", "unsupported-layer", "unquantized-add", "no-kernel-quantizer",
         "reserved-output", "default-alpha", "alpha-auto", "po2", "binary", "only-a-qactivation", "stream-pool-padding",
         "stream-pool-stride", "binary-01-activation", "float-activation"],
)
def test_bad_models_get_errors_naming_the_layer_and_the_fix(build, message, tmp_path):
    with pytest.raises(SkiplessError, match=message):
        hls.convert(_model(build), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()  # nothing half-written


def test_a_sequential_model_with_an_unquantized_input_is_refused(tmp_path):
    """D1: a Sequential model lists no InputLayer, so the check must look at its first layer."""
    model = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), QConv2D(2, 3, **Q8, name="c"), layers.Flatten(name="f")], name="seq")
    with pytest.raises(SkiplessError, match="the input of 'seq' is not quantized: its first layer 'c' .QConv2D"):
        hls.convert(model, tmp_path / "seq")
    assert not (tmp_path / "seq").exists()
    quantized = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), QActivation(quantized_bits(8, 2, alpha=1), name="q"),
                                     QConv2D(2, 3, **Q8, name="c")], name="seq_q")
    check_model(quantized)  # passes


def test_default_settings_compile_a_strided_projection_from_an_odd_channel_count(tmp_path):
    """D2: the default reuse factor 16 is invalid for a 1x1 conv from 5 channels (5 x 7 products); hls4ml
    1.3 fixes it for the layers it validates but not for the node that replaces a strided 1x1 conv, which
    then fails to compile (DenseResource_rf_gt_nin). convert sets a valid factor per layer and says so."""
    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((8, 8, 5), name="x")
    x = QActivation(quantized_bits(8, 2, alpha=1), name="qin")(inp)
    x = QConv2D(7, 1, strides=2, **Q8, name="proj")(x)
    x = QActivation(quantized_relu(8, 3), name="r")(x)
    x = QConv2D(3, 3, padding="same", **Q8, name="c3")(x)
    x = QActivation(quantized_relu(8, 3), name="r3")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = QActivation(quantized_bits(10, 4, alpha=1), name="qg")(x)
    model = tf.keras.Model(inp, QDense(2, **Q8, name="fc")(x))
    said = []
    project = hls.convert(model, tmp_path / "odd", log=said.append)
    assert "proj: reuse factor 16 is not valid for 5 x 7 multiplications; using 5" in said
    x = np.random.default_rng(0).uniform(-3, 3, (6, 8, 8, 5)).astype(np.float32)
    np.testing.assert_array_equal(hls.csim(project, x), model.predict(x, verbose=0).astype(np.float64))


def test_valid_reuse_factors_follow_hls4ml():
    from skipless.hls.reuse import is_valid, nearest_valid

    # the lists hls4ml 1.3 prints for these layer sizes
    for (n_in, n_out), valid in {(5, 7): [1, 5, 35], (63, 3): [1, 3, 7, 9, 21, 63, 189], (3, 2): [1, 3, 6],
                                 (9, 16): [1, 3, 9, 18, 36, 72, 144]}.items():
        assert [f for f in range(1, n_in * n_out + 1) if is_valid(f, n_in, n_out)] == valid
    assert nearest_valid(16, 5, 7) == 5 and nearest_valid(16, 63, 3) == 21 and nearest_valid(16, 9, 16) == 18


def test_bad_settings_are_clear_errors(tmp_path):
    with pytest.raises(SkiplessError, match="unknown io_type"):
        hls.convert(handwritten_qkeras_model(), tmp_path / "x", io_type="io_serial")
    with pytest.raises(SkiplessError, match="reuse_factor"):
        hls.convert(handwritten_qkeras_model(), tmp_path / "x", reuse_factor=0)


def test_values_written_in_hls_types():
    from skipless.hls.diagnose import in_hls_type

    np.testing.assert_array_equal(in_hls_type([0.49609375, -0.01], "ufixed<6,2,TRN,WRAP,0>"), [0.4375, 3.9375])
    np.testing.assert_array_equal(in_hls_type([0.03125, 0.09375], "fixed<6,2,RND_CONV,SAT,0>"), [0.0, 0.125])  # ties to even
    np.testing.assert_array_equal(in_hls_type([0.03125], "fixed<6,2,RND,SAT,0>"), [0.0625])
    np.testing.assert_array_equal(in_hls_type([5.0, -9.0], "fixed<6,3,TRN,SAT,0>"), [3.875, -4.0])
    np.testing.assert_array_equal(in_hls_type([4.0], "fixed<6,3,TRN,WRAP,0>"), [-4.0])
    assert in_hls_type([1.0], "fixed<8,3,RND_INF,SAT,0>") is None
