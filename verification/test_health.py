"""Is a trained network alive? skipless.train.health finds the first layer whose output no longer
depends on the image (a collapsed network), with a planted dead ReLU and on the committed artifacts."""

import json

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, quantized_bits, quantized_relu
from tensorflow.keras import layers

from skipless import zoo
from skipless.cli import main
from skipless.errors import SkiplessError
from skipless.train.health import first_constant_layer, layer_health


def small_net(seed=0):
    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((8, 8, 1), name="img")
    a = QConv2D(4, 3, padding="same", kernel_quantizer=quantized_bits(4, 0, alpha=1), name="c1")(inp)
    a = QActivation(quantized_relu(4, 2), name="r1")(a)
    b = QConv2D(4, 3, padding="same", kernel_quantizer=quantized_bits(4, 0, alpha=1), name="c2")(a)
    b = QActivation(quantized_relu(4, 2), name="r2")(b)
    out = layers.Dense(3, name="head")(layers.GlobalAveragePooling2D(name="gap")(b))
    return tf.keras.Model(inp, out)


def test_a_live_network_has_no_constant_layer_and_a_planted_dead_relu_is_named():
    x = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 1)).astype(np.float32)
    model = small_net()
    rows = layer_health(model, x)
    assert [r.name for r in rows] == ["c1", "r1", "c2", "r2", "gap", "head"]
    assert first_constant_layer(rows) is None
    # plant the collapse: c2 sees nothing of its input and its bias is negative, so r2 is 0 everywhere
    kernel, bias = model.get_layer("c2").get_weights()
    model.get_layer("c2").set_weights([np.zeros_like(kernel), np.full_like(bias, -0.5)])
    rows = layer_health(model, x)
    dead = first_constant_layer(rows)
    assert dead is not None and dead.name == "c2"  # c2's output is its bias alone: the same for every image
    r2 = next(r for r in rows if r.name == "r2")
    assert r2.zero_share == 1.0 and r2.distinct == 1 and not r2.varies
    with pytest.raises(SkiplessError, match="at least two images"):
        layer_health(model, x[:1])


@pytest.mark.skipif("r20-noskip-w4a4.iter-kept" not in zoo.trained_artifacts(), reason="the collapsed grid run is not in models/")
def test_the_collapsed_grid_student_is_named_and_a_healthy_one_passes(capsys):
    assert main(["models", "activations", "r20-noskip-w4a4.iter-kept", "--n", "16"]) == 1
    out = capsys.readouterr().out
    assert "COLLAPSED: from stem_relu on" in out
    classes = json.loads(out.split("predicted classes: ")[1].splitlines()[0])
    assert len(classes) == 10 and sorted(classes)[-2:] == [0, 16]  # all 16 images in one class
    assert main(["models", "activations", "r20-skip-w4a4.qat", "--n", "16"]) == 0
    assert "every layer's output depends on the image" in capsys.readouterr().out
