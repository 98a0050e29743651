"""The peer-model suite's QKeras models: the kinds of network hls4ml's own QKeras tests convert (a jet-tagging
MLP, single dense layers over quantizer settings, convs with pooling and a Flatten head, residual blocks
with odd widths and strided projections, saturating inputs), written for skipless, plus layers the open
RTL does not cover yet. Each builder returns a model with deterministic non-trivial weights.

:data:`PEERS` says, per model, what the flow must do with it: ``None`` means bit-exact with QKeras through
C-simulation and the open RTL; a string is the refusal (a regular expression) the flow must stop with.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from qkeras import (
    QActivation,
    QConv1D,
    QConv2D,
    QDense,
    QDepthwiseConv2D,
    QSeparableConv2D,
    binary,
    quantized_bits,
    quantized_relu,
    quantized_sigmoid,
    quantized_tanh,
    ternary,
)
from tensorflow.keras import layers


def q(bits, integer):
    return quantized_bits(bits, integer, alpha=1)


def wq(bits=6, bias_bits=8):
    return {"kernel_quantizer": q(bits, 0), "bias_quantizer": q(bias_bits, 2)}


def _finish(inp, out, name, seed):
    model = tf.keras.Model(inp, out, name=name)
    rng = np.random.default_rng(seed)
    for w in model.trainable_weights:
        w.assign(rng.uniform(-0.9, 0.9, w.shape).astype(np.float32))
    return model


def _image_in(shape, bits=8, integer=2):
    inp = tf.keras.Input(shape, name="pixels")
    return inp, QActivation(q(bits, integer), name="q_in")(inp)


def jet_mlp():
    """hls4ml's jet-tagging network: 16 inputs, 64-32-32 ReLU, 5 outputs."""
    inp = tf.keras.Input((16,), name="jets")
    x = QActivation(q(10, 4), name="q_in")(inp)
    for i, width in enumerate((64, 32, 32)):
        x = QDense(width, **wq(6), name=f"fc{i + 1}")(x)
        x = QActivation(quantized_relu(6, 3), name=f"relu{i + 1}")(x)
    return _finish(inp, QDense(5, **wq(6), name="out_fc")(x), "jet_mlp", 1)


def dense_bits(bits: int, act_bits: int):
    def build():
        inp = tf.keras.Input((10,), name="features")
        x = QActivation(q(8, 3), name="q_in")(inp)
        x = QDense(8, **wq(bits), name="fc")(x)
        return _finish(inp, QActivation(quantized_relu(act_bits, 2), name="act")(x), f"dense_w{bits}_a{act_bits}", bits)
    return build


def dense_saturating():
    """A dense layer whose output quantizer is much narrower than its accumulator: most values saturate."""
    inp = tf.keras.Input((12,), name="features")
    x = QActivation(q(8, 3), name="q_in")(inp)
    x = QDense(6, **wq(8), name="fc")(x)
    return _finish(inp, QActivation(q(4, 1), name="narrow")(x), "dense_saturating", 5)


def dense_ternary():
    inp = tf.keras.Input((10,), name="features")
    x = QActivation(q(8, 3), name="q_in")(inp)
    x = QDense(6, kernel_quantizer=ternary(alpha=1), bias_quantizer=q(8, 2), name="fc")(x)
    return _finish(inp, x, "dense_ternary", 6)


def conv_maxpool_flatten():
    """Conv, 2x2 max pooling of a 9x9 map (the last row and column fall outside every window), 2x2
    average pooling, Flatten, Dense."""
    inp, x = _image_in((9, 9, 3))
    x = QConv2D(4, 3, padding="same", **wq(6), name="c1")(x)
    x = QActivation(q(8, 3), name="q1")(x)
    x = layers.MaxPooling2D(2, name="mpool")(x)
    x = layers.AveragePooling2D(2, name="apool")(x)
    x = QActivation(q(9, 4), name="q_pool")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(4, **wq(6), name="head")(x), "conv_maxpool_flatten", 7)


def conv_avgpool_relu_flatten():
    inp, x = _image_in((8, 8, 2))
    x = QConv2D(6, 3, padding="same", **wq(5), name="c1")(x)
    x = QActivation(quantized_relu(6, 2), name="r1")(x)
    x = layers.AveragePooling2D(2, name="apool")(x)
    x = QActivation(quantized_relu(7, 3), name="q_pool")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(3, **wq(6), name="head")(x), "conv_avgpool_relu_flatten", 8)


def maxpool_3x3():
    inp, x = _image_in((9, 9, 2))
    x = QConv2D(3, 3, padding="same", **wq(6), name="c1")(x)
    x = QActivation(quantized_relu(6, 3), name="r1")(x)
    x = layers.MaxPooling2D(3, name="mpool")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(4, **wq(6), name="head")(x), "maxpool_3x3", 9)


def residual_odd_strided():
    """A residual block on 5 channels with a strided 3x3 branch and a strided 1x1 projection to 7."""
    inp, x = _image_in((8, 8, 5))
    a = QConv2D(7, 3, strides=2, padding="same", **wq(6), name="c1")(x)
    a = QActivation(q(8, 3), name="q1")(a)
    p = QConv2D(7, 1, strides=2, **wq(6), name="proj")(x)
    p = QActivation(q(8, 3), name="qp")(p)
    s = layers.Add(name="res")([a, p])
    s = QActivation(quantized_relu(7, 3), name="r2")(s)
    g = layers.GlobalAveragePooling2D(name="gap")(s)
    g = QActivation(q(9, 4), name="q_gap")(g)
    return _finish(inp, QDense(3, **wq(6), name="head")(g), "residual_odd_strided", 10)


def conv_stride2_valid():
    inp, x = _image_in((9, 9, 2))
    x = QConv2D(4, 3, strides=2, **wq(6), name="c1")(x)
    x = QActivation(quantized_relu(6, 2), name="r1")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(5, **wq(6), name="head")(x), "conv_stride2_valid", 11)


def saturating_input():
    """An input quantizer of 4 bits fed values far outside its range: the input cast saturates."""
    inp, x = _image_in((6, 6, 2), bits=4, integer=1)
    x = QConv2D(3, 3, padding="same", **wq(6), name="c1")(x)
    x = QActivation(quantized_relu(6, 2), name="r1")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), "saturating_input", 12)


def pointwise_chain():
    """1x1 convs only, unsigned activations between them, and an image output."""
    inp, x = _image_in((5, 5, 3))
    x = QConv2D(6, 1, **wq(4), name="pw1")(x)
    x = QActivation(quantized_relu(4, 2), name="r1")(x)
    x = QConv2D(2, 1, **wq(4), name="pw2")(x)
    return _finish(inp, QActivation(quantized_relu(5, 2), name="r2")(x), "pointwise_chain", 13)


def handwritten_residual():
    from verification.test_hls_api import handwritten_qkeras_model

    return handwritten_qkeras_model()


def conv1d():
    """Conv1D with 'same' padding (hls4ml's ZeroPadding1D), a strided one, and a Flatten -> Dense head."""
    inp = tf.keras.Input((16, 3), name="series")
    x = QActivation(q(8, 2), name="q_in")(inp)
    x = QConv1D(4, 3, padding="same", **wq(6), name="c1")(x)
    x = QActivation(quantized_relu(6, 3), name="r1")(x)
    x = QConv1D(5, 4, strides=2, **wq(6), name="c2")(x)
    x = QActivation(q(8, 3), name="q2")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), "conv1d", 14)


def nonsquare_image():
    """A 6 x 10 image, a 3x5 kernel with strides (1, 2), and a Flatten of the non-square result."""
    inp, x = _image_in((6, 10, 2))
    x = QConv2D(3, (3, 5), strides=(1, 2), padding="same", **wq(6), name="c1")(x)
    x = QActivation(quantized_relu(6, 3), name="r1")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(3, **wq(6), name="head")(x), "nonsquare_image", 21)


def depthwise(multiplier: int = 1):
    """A depthwise conv with 'same' padding, then a Flatten -> Dense head."""
    def build():
        inp, x = _image_in((8, 8, 3))
        x = QDepthwiseConv2D(3, padding="same", depth_multiplier=multiplier, depthwise_quantizer=q(6, 0), bias_quantizer=q(8, 2),
                             name="dw")(x)
        x = QActivation(quantized_relu(6, 3), name="r1")(x)
        x = layers.Flatten(name="flat")(x)
        return _finish(inp, QDense(3, **wq(6), name="head")(x), f"depthwise_m{multiplier}", 15)
    return build


def separable():
    inp, x = _image_in((8, 8, 3))
    x = QSeparableConv2D(4, 3, depthwise_quantizer=q(6, 0), pointwise_quantizer=q(6, 0), bias_quantizer=q(8, 2), name="sep")(x)
    return _finish(inp, x, "separable", 16)


def concatenate():
    inp, x = _image_in((6, 6, 2))
    a = QConv2D(2, 3, padding="same", **wq(6), name="a")(x)
    b = QConv2D(3, 1, **wq(6), name="b")(x)
    x = layers.Concatenate(name="cat")([QActivation(q(8, 3), name="qa")(a), QActivation(q(8, 3), name="qb")(b)])
    return _finish(inp, x, "concatenate", 17)


def quantized_tanh_act():
    inp, x = _image_in((4, 4, 2))
    x = QConv2D(2, 1, **wq(6), name="c1")(x)
    x = QActivation(quantized_tanh(6), name="tanh")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), "quantized_tanh", 18)


def quantized_sigmoid_act():
    inp, x = _image_in((4, 4, 3))
    x = QConv2D(3, 1, **wq(6), name="c1")(x)
    x = QActivation(quantized_sigmoid(5), name="sigmoid")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), "quantized_sigmoid", 20)


def _activation_model(activation, name: str, seed: int):
    """pixels -> 1x1 QConv2D -> the activation (a QActivation of ``activation``, or a Keras layer) -> Flatten -> QDense."""
    inp, x = _image_in((4, 4, 2))
    x = QConv2D(3, 1, **wq(6), name="c1")(x)
    x = (activation if isinstance(activation, layers.Layer) else QActivation(activation, name="act"))(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), name, seed)


def binary_act():
    """QKeras binary as an activation: hls4ml's binary_tanh, +-1 into ap_int<2>."""
    return _activation_model(binary(alpha=1), "binary_act", 23)


def ternary_act():
    return _activation_model(ternary(alpha=1), "ternary_act", 24)


def real_tanh_act():
    return _activation_model(quantized_tanh(6, use_real_tanh=True), "real_tanh", 25)


def float_sigmoid_act():
    return _activation_model("sigmoid", "float_sigmoid", 26)


def keras_softmax_act():
    return _activation_model(layers.Activation("softmax", name="act"), "keras_softmax", 27)


def upsampling():
    inp, x = _image_in((4, 4, 2))
    x = layers.UpSampling2D(name="up")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), "upsampling", 22)


def overlapping_pool():
    inp, x = _image_in((8, 8, 2))
    x = layers.MaxPooling2D(3, strides=2, name="mpool")(x)
    x = layers.Flatten(name="flat")(x)
    return _finish(inp, QDense(2, **wq(6), name="head")(x), "overlapping_pool", 19)


PEERS = {  # name -> (builder, input shape, None for bit-exact or the refusal's regular expression)
    "jet_mlp": (jet_mlp, (16,), None),
    "dense_w4_a4": (dense_bits(4, 4), (10,), None),
    "dense_w8_a8": (dense_bits(8, 8), (10,), None),
    "dense_saturating": (dense_saturating, (12,), None),
    "dense_ternary": (dense_ternary, (10,), None),
    "conv_maxpool_flatten": (conv_maxpool_flatten, (9, 9, 3), None),
    "conv_avgpool_relu_flatten": (conv_avgpool_relu_flatten, (8, 8, 2), None),
    "maxpool_3x3": (maxpool_3x3, (9, 9, 2), None),
    "residual_odd_strided": (residual_odd_strided, (8, 8, 5), None),
    "conv_stride2_valid": (conv_stride2_valid, (9, 9, 2), None),
    "saturating_input": (saturating_input, (6, 6, 2), None),
    "pointwise_chain": (pointwise_chain, (5, 5, 3), None),
    "handwritten_residual": (handwritten_residual, (12, 12, 3), None),
    "conv1d": (conv1d, (16, 3), None),
    "nonsquare_image": (nonsquare_image, (6, 10, 2), None),
    "depthwise": (depthwise(1), (8, 8, 3), None),
    "depthwise_multiplier": (depthwise(2), (8, 8, 3), r"layer 'dw' \(QDepthwiseConv2D\): depth_multiplier=2; hls4ml 1.3 cannot convert it"),
    "separable": (separable, (8, 8, 3), None),
    "concatenate": (concatenate, (6, 6, 2), None),
    "quantized_tanh": (quantized_tanh_act, (4, 4, 2), None),
    "quantized_sigmoid": (quantized_sigmoid_act, (4, 4, 3), None),
    "binary_act": (binary_act, (4, 4, 2), None),
    "ternary_act": (ternary_act, (4, 4, 2), r"layer 'act' \(QActivation\): a ternary activation does not compile in hls4ml 1.3"),
    "real_tanh": (real_tanh_act, (4, 4, 2), r"layer 'act' \(QActivation\): quantized_tanh\(use_real_tanh=True\) is not bit-exact"),
    "float_sigmoid": (float_sigmoid_act, (4, 4, 2), r"layer 'act' \(QActivation\): its activation 'sigmoid' is a float function.*"
                      r"use QActivation\(quantized_sigmoid\(bits\)\)"),
    "keras_softmax": (keras_softmax_act, (4, 4, 2), r"layer 'act' \(Activation 'softmax'\) computes a float function.*leave softmax out"),
    "upsampling": (upsampling, (4, 4, 2), "layer 'up' of type UpSampling2D is not supported by skipless' bit-exact flow"),
    "overlapping_pool": (overlapping_pool, (8, 8, 2), r"layer 'mpool' \(MaxPooling2D\): pool size \(3, 3\) with strides \(2, 2\); "
                         r"hls4ml's io_stream pooling needs strides equal to the pool size"),
}
