"""The one fixed-point type of skipless: ``ap_fixed``/``ap_ufixed`` with their rounding and overflow.

Every place that names a fixed-point type uses :class:`FixedType`: the quantization specs
(:mod:`skipless.quant`), hls4ml precisions (parsed from strings like ``fixed<19,8,TRN,WRAP,0>`` or
read from hls4ml's precision objects), the C-simulation diagnosis, the open RTL and its testbench.

A value of type ``FixedType(width, frac, signed)`` is held as its integer mantissa ``m`` (value =
m * 2**-frac; ``integer = width - frac`` counts the sign bit, as hls4ml and Vivado write it).
``cast`` converts a mantissa from one binary point to a type with exactly the semantics of
``ap_fixed``/``ap_ufixed`` assignment: quantization first (TRN = floor, RND = round half up,
RND_CONV = round half to even), then overflow (WRAP keeps the low bits, SAT clamps, SAT_SYM clamps
symmetrically).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from skipless.errors import SkiplessError

_FIXED = re.compile(r"^(?:ap_)?(u?)fixed<(\d+),(-?\d+)(?:,(\w+))?(?:,(\w+))?(?:,(\d+))?>$")
_INT = re.compile(r"^(?:ap_)?(u?)int<(\d+)>$")
ROUNDING = ("TRN", "RND", "RND_CONV")
OVERFLOW = ("WRAP", "SAT", "SAT_SYM")
MAX_WIDTH = 62  # mantissas live in int64; products of two such values are formed per term


@dataclass(frozen=True)
class FixedType:
    width: int
    frac: int  # fractional bits: width - integer bits
    signed: bool
    rounding: str = "TRN"
    overflow: str = "WRAP"

    def __post_init__(self):
        if not 1 <= self.width <= MAX_WIDTH:
            raise SkiplessError(f"fixed-point width {self.width} is outside 1..{MAX_WIDTH}, which the RTL supports")
        if self.rounding not in ROUNDING:
            raise SkiplessError(f"rounding mode {self.rounding} is not supported by the open RTL: use one of {', '.join(ROUNDING)}")
        if self.overflow not in OVERFLOW:
            raise SkiplessError(f"overflow mode {self.overflow} is not supported by the open RTL: use one of {', '.join(OVERFLOW)}")

    @classmethod
    def of(cls, width: int, integer: int, signed: bool = True, rounding: str = "TRN", overflow: str = "WRAP") -> FixedType:
        """``ap_fixed<width, integer>`` (integer bits include the sign), or ``ap_ufixed`` when not signed."""
        return cls(width, width - integer, signed, rounding, overflow)

    @classmethod
    def parse(cls, text: str) -> FixedType:
        """From a type as hls4ml or Vivado write it: ``fixed<8,3>``, ``ap_ufixed<8,3,RND_CONV,SAT>``,
        ``fixed<19,8,TRN,WRAP,0>``, ``ap_int<8>``, ``uint<4>``."""
        t = str(text).replace(" ", "")
        m = _FIXED.match(t)
        if m:
            if m.group(6) not in (None, "0"):
                raise SkiplessError(f"{text}: saturation bits are not supported")
            width, integer = int(m.group(2)), int(m.group(3))
            return cls.of(width, integer, m.group(1) != "u", m.group(4) or "TRN", m.group(5) or "WRAP")
        m = _INT.match(t)
        if m:
            return cls.of(int(m.group(2)), int(m.group(2)), m.group(1) != "u")
        raise SkiplessError(f"not a fixed-point type: {text!r} (expected e.g. fixed<8,3> or ap_ufixed<8,3,RND,SAT>)")

    @property
    def integer(self) -> int:
        """Integer bits, the sign bit included (hls4ml's ``I``)."""
        return self.width - self.frac

    @property
    def step(self) -> float:
        return 2.0**-self.frac

    @property
    def min_value(self) -> float:
        return self.lo * self.step

    @property
    def max_value(self) -> float:
        return self.hi * self.step

    def quantize(self, values) -> np.ndarray:
        """Real values written into this type (rounding and overflow applied), as exact float64 values."""
        return self.to_float(self.to_mantissa(values))

    @classmethod
    def from_hls4ml(cls, precision) -> FixedType:
        """From an hls4ml FixedPrecisionType / IntegerPrecisionType."""
        width = int(precision.width)
        integer = int(getattr(precision, "integer", width))
        rounding = str(getattr(precision, "rounding_mode", None) or "TRN")
        overflow = str(getattr(precision, "saturation_mode", None) or "WRAP")
        if getattr(precision, "saturation_bits", 0):
            raise SkiplessError(f"{precision}: saturation bits are not supported by the open RTL")
        return cls(width, width - integer, bool(precision.signed), rounding, overflow)

    @property
    def lo(self) -> int:
        if not self.signed:
            return 0
        return -(1 << (self.width - 1)) + (1 if self.overflow == "SAT_SYM" else 0)

    @property
    def hi(self) -> int:
        return (1 << (self.width - (1 if self.signed else 0))) - 1

    def hls(self) -> str:
        kind = "fixed" if self.signed else "ufixed"
        return f"{kind}<{self.width},{self.width - self.frac},{self.rounding},{self.overflow}>"

    def __str__(self) -> str:
        return self.hls()

    def to_mantissa(self, values) -> np.ndarray:
        """Mantissas of real values written into this type (values must be exact multiples of the step
        when they come from a quantized model; this is also how inputs are quantized to the input type)."""
        v = np.asarray(values, dtype=np.float64)
        scaled = v * (2.0**self.frac)
        # the exact binary expansion of a double with <= 53 significant bits: split integer and fraction
        whole = np.floor(scaled)
        frac_part = scaled - whole
        m = whole.astype(np.int64)
        # scaled = m + f with 0 <= f < 1: emulate a cast from infinite precision to frac bits
        up = np.zeros_like(m, dtype=bool)
        if self.rounding == "RND":
            up = frac_part >= 0.5
        elif self.rounding == "RND_CONV":
            up = (frac_part > 0.5) | ((frac_part == 0.5) & (m % 2 == 1))
        return self._overflow(m + up.astype(np.int64))

    def to_float(self, mantissa) -> np.ndarray:
        return np.asarray(mantissa, dtype=np.float64) * (2.0**-self.frac)

    def cast(self, mantissa, frac: int) -> np.ndarray:
        """Mantissa (int64 array) with ``frac`` fractional bits, assigned to this type."""
        m = np.asarray(mantissa, dtype=np.int64)
        shift = frac - self.frac
        if shift > 0:
            q = m >> shift  # floor
            rem = m - (q << shift)
            half = 1 << (shift - 1)
            if self.rounding == "RND":
                q = q + (rem >= half)
            elif self.rounding == "RND_CONV":
                q = q + ((rem > half) | ((rem == half) & (q % 2 == 1)))
            m = q
        elif shift < 0:
            m = m << (-shift)
        return self._overflow(m)

    def _overflow(self, m: np.ndarray) -> np.ndarray:
        if self.overflow == "WRAP":
            mod = 1 << self.width
            m = np.mod(m, mod)
            if self.signed:
                m = np.where(m >= (mod >> 1), m - mod, m)
            return m.astype(np.int64)
        return np.clip(m, self.lo, self.hi).astype(np.int64)


def pack_lanes(values, width: int) -> int:
    """Mantissas as one word, lane i in bits [i*width, (i+1)*width) (two's complement): a stream beat, a ROM word."""
    mask = (1 << width) - 1
    word = 0
    for lane, v in enumerate(values):
        word |= (int(v) & mask) << (lane * width)
    return word


def unpack_lanes(word: int, lanes: int, width: int, signed: bool) -> list[int]:
    """The inverse of :func:`pack_lanes`."""
    mask = (1 << width) - 1
    out = []
    for lane in range(lanes):
        v = (word >> (lane * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def mantissas(values, frac: int) -> np.ndarray:
    """Integer mantissas of values that are exact multiples of 2**-frac (weights of a quantized model)."""
    scaled = np.asarray(values, dtype=np.float64) * (2.0**frac)
    m = np.round(scaled)
    if not np.array_equal(m, scaled):
        worst = float(np.max(np.abs(m - scaled)))
        raise SkiplessError(
            f"values are not multiples of 2^-{frac} (off by up to {worst:g} steps): the model's weights are not "
            "quantized to the type hls4ml derived; convert a QKeras model with quantized weights (bit_exact=True)"
        )
    return m.astype(np.int64)
