"""Quantization specs: naming, parsing, and the QKeras quantizers they map to."""

import numpy as np
import pytest

from skipless.errors import SkiplessError
from skipless.quant import NAMED_SPECS, Fixed, get_spec


@pytest.mark.parametrize("name", [n for n in NAMED_SPECS if n != "float"])
def test_named_specs_define_every_tensor_class(name):
    spec = get_spec(name)
    assert not spec.is_float
    assert spec.relu.signed is False
    for t in (spec.input, spec.weight, spec.bias, spec.signed):
        assert t.signed


def test_weight_and_activation_widths_match_the_name():
    assert get_spec("w8a8").weight.bits == 8 and get_spec("w8a8").relu.bits == 8
    assert get_spec("w6a8").weight.bits == 6 and get_spec("w6a8").relu.bits == 8
    assert get_spec("w4a4").weight.bits == 4 and get_spec("w4a4").relu.bits == 4
    assert get_spec("w16a16").weight.bits == 16


def test_uniform_spec_is_the_student_studys_fixed_8_3():
    spec = get_spec("q8i3")
    assert spec.weight == Fixed(8, 3) and spec.input == Fixed(8, 3) and spec.signed == Fixed(8, 3)
    assert spec.relu == Fixed(7, 2, signed=False)
    assert get_spec("q16i4").weight.hls == "fixed<16,4>"


@pytest.mark.parametrize("bad", ["w7a7", "q8i9", "q8i0", "int8", ""])
def test_unknown_specs_are_rejected_with_the_choices(bad):
    with pytest.raises(SkiplessError, match="quant"):
        get_spec(bad)


@pytest.mark.parametrize("t", [Fixed(8, 3), Fixed(4, 1), Fixed(9, 4), Fixed(16, 2)], ids=lambda t: t.hls)
def test_linear_quantizer_rounds_to_the_grid_and_saturates(t):
    x = np.linspace(-2 * 2.0 ** t.integer, 2 * 2.0 ** t.integer, 4001).astype(np.float32)
    q = np.asarray(t.quantizer()(x))
    steps = q / t.step
    np.testing.assert_array_equal(steps, np.round(steps))  # on the grid
    assert q.min() == t.min and q.max() == t.max  # saturates at the type's range
    inside = (x > t.min) & (x < t.max)
    assert np.abs(q[inside] - x[inside]).max() <= t.step / 2 + 1e-7


@pytest.mark.parametrize("t", [Fixed(8, 3, signed=False), Fixed(4, 2, signed=False)], ids=lambda t: t.hls)
def test_relu_quantizer_is_the_unsigned_type(t):
    x = np.linspace(-4, 4 * 2.0 ** t.integer, 3001).astype(np.float32)
    q = np.asarray(t.relu()(x))
    np.testing.assert_array_equal(q / t.step, np.round(q / t.step))
    assert q.min() == 0.0 and q.max() == t.max
