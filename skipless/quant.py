"""Quantization specs and their mapping to QKeras quantizers.

A spec fixes the fixed-point type of every tensor class in the network. Types are written the
way hls4ml/Vivado write them: ``ap_fixed<W, I>`` has W bits in all and I integer bits
*including* the sign bit; ``ap_ufixed<W, I>`` is unsigned.

Named specs (``wXaY``: X-bit weights, Y-bit activations)::

    spec    input        weight       bias          relu            signed (pre-Add, shortcut, pool)
    w16a16  fixed<16,4>  fixed<16,2>  fixed<24,8>   ufixed<16,6>    fixed<17,7>
    w8a8    fixed<8,3>   fixed<8,2>   fixed<16,6>   ufixed<8,3>     fixed<9,4>
    w6a8    fixed<8,3>   fixed<6,2>   fixed<16,6>   ufixed<8,3>     fixed<9,4>
    w4a4    fixed<4,3>   fixed<4,1>   fixed<12,6>   ufixed<4,2>     fixed<5,3>

Uniform specs ``q{W}i{I}`` (the student study's <8,3> and <16,4>: ``q8i3``, ``q16i4``) give every
tensor ``fixed<W,I>`` (ReLU outputs ``ufixed<W-1,I-1>``, the non-negative half of it).

``float`` is the unquantized build.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from skipless.errors import SkiplessError
from skipless.fixed import FixedType


def quantizer(t: FixedType):
    """The QKeras quantizer that rounds to the signed type ``t`` and saturates (QKeras' integer bits
    exclude the sign, hls4ml's include it)."""
    from qkeras import quantized_bits

    if not t.signed:
        raise SkiplessError("unsigned types are used through relu_quantizer(); they have no linear quantizer")
    return quantized_bits(t.width, t.integer - 1, keep_negative=True, alpha=1)


def relu_quantizer(t: FixedType):
    """QKeras quantized_relu producing the unsigned type ``t``."""
    from qkeras import quantized_relu

    if t.signed:
        raise SkiplessError("relu_quantizer() needs an unsigned type")
    return quantized_relu(t.width, t.integer)


def _type(width: int, integer: int, signed: bool = True) -> FixedType:
    if not 2 <= width <= 32:
        raise SkiplessError(f"fixed-point width {width} is out of range 2..32 for a quantization spec")
    return FixedType.of(width, integer, signed)


@dataclass(frozen=True)
class QuantSpec:
    """Fixed-point types for each tensor class of a ResNet; ``None`` fields mean a float build."""

    name: str
    input: FixedType | None = None
    weight: FixedType | None = None
    bias: FixedType | None = None
    relu: FixedType | None = None
    signed: FixedType | None = None

    @property
    def is_float(self) -> bool:
        return self.weight is None

    @property
    def qkeras_exact(self) -> bool:
        """Whether QKeras, which computes in float32, gives the exact fixed-point values: every weight x
        activation product must fit float32's 24-bit significand (bit-exact measured at w4a4 to w8a8;
        w16a16's 32-bit products do not fit, and its QKeras outputs differ in the last bits)."""
        if self.is_float:
            return True
        widest = max(t.width for t in (self.input, self.relu, self.signed) if t is not None)
        return self.weight.width + widest <= 24

    def to_dict(self) -> dict:
        return asdict(self)


def _named(name, inp, w, b, a, s) -> QuantSpec:
    return QuantSpec(
        name,
        input=_type(*inp),
        weight=_type(*w),
        bias=_type(*b),
        relu=_type(*a, signed=False),
        signed=_type(*s),
    )


NAMED_SPECS: dict[str, QuantSpec] = {
    "float": QuantSpec("float"),
    "w16a16": _named("w16a16", (16, 4), (16, 2), (24, 8), (16, 6), (17, 7)),
    "w8a8": _named("w8a8", (8, 3), (8, 2), (16, 6), (8, 3), (9, 4)),
    "w6a8": _named("w6a8", (8, 3), (6, 2), (16, 6), (8, 3), (9, 4)),
    "w4a4": _named("w4a4", (4, 3), (4, 1), (12, 6), (4, 2), (5, 3)),
}

_UNIFORM = re.compile(r"^q(\d+)i(\d+)$")


def get_spec(name: str) -> QuantSpec:
    """Look up a named spec (``w8a8``...) or parse a uniform one (``q8i3`` = every tensor fixed<8,3>)."""
    if name in NAMED_SPECS:
        return NAMED_SPECS[name]
    m = _UNIFORM.match(name)
    if m:
        bits, integer = int(m.group(1)), int(m.group(2))
        if not 1 <= integer < bits:
            raise SkiplessError(f"quant spec {name!r}: integer bits must be in 1..{bits - 1}")
        t = _type(bits, integer)
        return QuantSpec(name, input=t, weight=t, bias=t, relu=_type(bits - 1, integer - 1, signed=False), signed=t)
    raise SkiplessError(
        f"unknown quantization spec {name!r}: use one of {', '.join(NAMED_SPECS)} "
        "or q<bits>i<integer bits> (e.g. q8i3 for ap_fixed<8,3> everywhere)"
    )
