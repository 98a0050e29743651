"""Fold BatchNorm into the convolutions: training graph -> hardware graph.

hls4ml is dropping ``QConv2DBatchnorm``, so the hardware model never holds a BatchNorm. The fold
keeps what the model computes:

* quantized builds train with ``QConv2DBatchnorm``, which already applies its kernel quantizer to
  the BN-folded kernel; the hardware ``QConv2D`` receives exactly that folded kernel and bias
  (``get_folded_weights``) and the same quantizers, so its inference output is identical;
* float builds fold ``Conv2D`` + ``BatchNormalization`` (inference statistics) into a ``Conv2D``
  with bias, equal up to float rounding.
"""

from __future__ import annotations

import numpy as np

from skipless.errors import SkiplessError
from skipless.resnet import ResNetArch


def _float_fold(conv, bn) -> list[np.ndarray]:
    gamma, beta, mean, var = (w.astype(np.float64) for w in bn.get_weights())
    inv = gamma / np.sqrt(var + bn.epsilon)
    kernel = conv.get_weights()[0].astype(np.float64) * inv
    bias = beta - mean * inv
    return [kernel.astype(np.float32), bias.astype(np.float32)]


def fold_batchnorm(model, arch: ResNetArch):
    """Return the BN-free hardware model of ``arch`` carrying ``model``'s trained weights."""
    from qkeras import QConv2DBatchnorm
    from tensorflow.keras import layers

    hw = arch.build(folded=True, name=f"{model.name}_hw")
    trained = {layer.name: layer for layer in model.layers}
    for layer in hw.layers:
        if not layer.weights:
            continue
        src = trained.get(layer.name)
        if src is None:
            raise SkiplessError(f"cannot fold: the trained model has no layer {layer.name!r}; is the model card stale?")
        if isinstance(src, QConv2DBatchnorm):
            kernel, bias = src.get_folded_weights()
            layer.set_weights([np.asarray(kernel), np.asarray(bias)])
        elif isinstance(src, layers.Conv2D) and f"{layer.name}_bn" in trained:
            layer.set_weights(_float_fold(src, trained[f"{layer.name}_bn"]))
        else:
            layer.set_weights(src.get_weights())
    return hw


def transfer_weights(src, dst) -> None:
    """Copy weights by layer name from ``src`` into every layer of ``dst`` that ``src`` also has.

    Handles a float ``Conv2D`` + ``BatchNormalization`` pair going into a ``QConv2DBatchnorm`` (QAT of a
    float model). Gates of gated models are left as ``dst`` has them (they are the schedule's state).
    """
    from qkeras import QConv2DBatchnorm

    src_layers = {layer.name: layer for layer in src.layers}
    for layer in dst.layers:
        src_layer = src_layers.get(layer.name)
        if not layer.weights or src_layer is None or hasattr(layer, "gates"):
            continue
        if isinstance(layer, QConv2DBatchnorm) and not isinstance(src_layer, QConv2DBatchnorm):
            bn = src_layers.get(f"{layer.name}_bn")
            if bn is None:
                raise SkiplessError(f"cannot initialise {layer.name!r}: the source has no BatchNorm {layer.name}_bn")
            gamma, beta, mean, var = bn.get_weights()
            layer.set_weights([src_layer.get_weights()[0], gamma, beta, np.array(0, np.int64), mean, var])
        else:
            layer.set_weights(src_layer.get_weights())
