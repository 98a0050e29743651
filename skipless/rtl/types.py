"""Fixed-point types of the hls4ml graph as integers: what the RTL computes and the reference checks.

A value of type ``FixedType(width, frac, signed)`` is held as its integer mantissa ``m`` (value =
m * 2**-frac). ``cast`` converts a mantissa from one binary point to a type with exactly the
semantics of ``ap_fixed``/``ap_ufixed`` assignment: quantization first (TRN = floor, RND = round
half up, RND_CONV = round half to even), then overflow (WRAP keeps the low bits, SAT clamps,
SAT_SYM clamps symmetrically).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skipless.errors import SkiplessError

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
