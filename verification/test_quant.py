"""Quantization specs: naming, parsing, and the QKeras quantizers they map to."""

import numpy as np
import pytest

from skipless.errors import SkiplessError
from skipless.fixed import FixedType
from skipless.quant import NAMED_SPECS, get_spec, quantizer, relu_quantizer

Fixed = FixedType.of


@pytest.mark.parametrize("name", [n for n in NAMED_SPECS if n != "float"])
def test_named_specs_define_every_tensor_class(name):
    spec = get_spec(name)
    assert not spec.is_float
    assert spec.relu.signed is False
    for t in (spec.input, spec.weight, spec.bias, spec.signed):
        assert t.signed


def test_weight_and_activation_widths_match_the_name():
    assert get_spec("w8a8").weight.width == 8 and get_spec("w8a8").relu.width == 8
    assert get_spec("w6a8").weight.width == 6 and get_spec("w6a8").relu.width == 8
    assert get_spec("w4a4").weight.width == 4 and get_spec("w4a4").relu.width == 4
    assert get_spec("w16a16").weight.width == 16


def test_uniform_spec_is_the_student_studys_fixed_8_3():
    spec = get_spec("q8i3")
    assert spec.weight == Fixed(8, 3) and spec.input == Fixed(8, 3) and spec.signed == Fixed(8, 3)
    assert spec.relu == Fixed(7, 2, signed=False)
    assert get_spec("q16i4").weight == FixedType.parse("fixed<16,4>")


@pytest.mark.parametrize("bad", ["w7a7", "q8i9", "q8i0", "int8", ""])
def test_unknown_specs_are_rejected_with_the_choices(bad):
    with pytest.raises(SkiplessError, match="quant"):
        get_spec(bad)


@pytest.mark.parametrize("t", [Fixed(8, 3), Fixed(4, 1), Fixed(9, 4), Fixed(16, 2)], ids=str)
def test_linear_quantizer_rounds_to_the_grid_and_saturates(t):
    x = np.linspace(-2 * 2.0 ** t.integer, 2 * 2.0 ** t.integer, 4001).astype(np.float32)
    q = np.asarray(quantizer(t)(x))
    steps = q / t.step
    np.testing.assert_array_equal(steps, np.round(steps))  # on the grid
    assert q.min() == t.min_value and q.max() == t.max_value  # saturates at the type's range
    inside = (x > t.min_value) & (x < t.max_value)
    assert np.abs(q[inside] - x[inside]).max() <= t.step / 2 + 1e-7


@pytest.mark.parametrize("t", [Fixed(8, 3, signed=False), Fixed(4, 2, signed=False)], ids=str)
def test_relu_quantizer_is_the_unsigned_type(t):
    x = np.linspace(-4, 4 * 2.0 ** t.integer, 3001).astype(np.float32)
    q = np.asarray(relu_quantizer(t)(x))
    np.testing.assert_array_equal(q / t.step, np.round(q / t.step))
    assert q.min() == 0.0 and q.max() == t.max_value


@pytest.mark.parametrize("text, expected", [
    ("fixed<19,8,TRN,WRAP,0>", FixedType(19, 11, True)),
    ("ap_ufixed<8,3,RND_CONV,SAT>", FixedType(8, 5, False, "RND_CONV", "SAT")),
    ("fixed<9,4,RND,SAT_SYM>", FixedType(9, 5, True, "RND", "SAT_SYM")),
    ("ap_int<8>", FixedType(8, 0, True)),
    ("uint<4>", FixedType(4, 0, False)),
])
def test_one_fixed_point_type_parses_hls4ml_precision_strings(text, expected):
    assert FixedType.parse(text) == expected


def test_sat_sym_is_modelled_by_the_parsed_type():
    """The diagnosis once skipped SAT_SYM layers (its own regex did not know the mode)."""
    from skipless.hls.diagnose import in_hls_type

    got = in_hls_type(np.array([-9.0, -8.0, 7.9, 0.3]), "fixed<4,4,TRN,SAT_SYM>")
    np.testing.assert_array_equal(got, [-7.0, -7.0, 7.0, 0.0])
    with pytest.raises(SkiplessError, match="not a fixed-point type"):
        FixedType.parse("float")


def test_qkeras_is_exact_where_every_product_fits_float32():
    """The RTL's reference: QKeras (float32) up to w8a8, the integer reference at w16a16, whose 32-bit
    products float32 cannot hold (its QKeras outputs differ from the fixed-point values in the last bits)."""
    assert all(get_spec(q).qkeras_exact for q in ("w4a4", "w6a8", "w8a8", "float"))
    assert not get_spec("w16a16").qkeras_exact
