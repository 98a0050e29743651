"""Folding BatchNorm into the convolutions must not change what the model computes."""

import numpy as np
import pytest
import tensorflow as tf

from skipless.fold import fold_batchnorm
from skipless.resnet import ResNetArch


def _trained_a_little(arch: ResNetArch, seed: int = 0):
    """A model whose BN statistics and weights have moved away from their initial values."""
    tf.keras.utils.set_random_seed(seed)
    model = arch.build()
    x = np.random.default_rng(seed).normal(size=(64, 32, 32, 1)).astype(np.float32)
    y = np.arange(64) % 10
    model.compile(optimizer=tf.keras.optimizers.SGD(0.05), loss=tf.keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    return model, x


@pytest.mark.parametrize("skip", ["keep", "remove", "shorten"])
@pytest.mark.parametrize("quant", ["w8a8", "w4a4"])
def test_quantized_fold_is_bit_exact(skip, quant):
    arch = ResNetArch(8, skip, quant)
    model, x = _trained_a_little(arch)
    hw = fold_batchnorm(model, arch)
    assert not any("Batchnorm" in type(layer).__name__ for layer in hw.layers)
    np.testing.assert_array_equal(hw.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("skip", ["keep", "shorten"])
def test_float_fold_equals_conv_plus_bn(skip):
    arch = ResNetArch(8, skip, "float")
    model, x = _trained_a_little(arch)
    hw = fold_batchnorm(model, arch)
    ref = model.predict(x, verbose=0)
    np.testing.assert_allclose(hw.predict(x, verbose=0), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
