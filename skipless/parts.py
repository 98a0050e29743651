"""Target FPGA parts: the resources a design is measured against, and the Yosys ``synth_xilinx`` family.

Sources of the numbers (device totals, not what a board shell leaves free):

* xc7z020 (Pynq-Z2): AMD/Xilinx Zynq-7000 SoC product table (DS190): 53,200 LUTs, 106,400 flip-flops,
  140 block RAMs of 36 Kb (= 280 of 18 Kb), 220 DSP48E1. The LUT, BRAM and DSP counts were checked in
  this project against a public device listing ("XC7Z020 ... 53200 6-lut, 140 bram, 220 dsp");
  flip-flops are 2 per LUT in 7-series slices.
* xczu9eg (ZCU102): Zynq UltraScale+ MPSoC product table (DS891): 274,080 CLB LUTs, 548,160 CLB
  flip-flops, 912 block RAMs of 36 Kb, 2,520 DSP48E2, no UltraRAM.
* xcu250 (Alveo U250): Alveo U250 data sheet (DS962): 1,728K LUTs, 3,456K registers, 12,288 DSP
  slices, 2,688 block RAMs of 36 Kb, 1,280 UltraRAMs.
  The ZU9EG and U250 figures are as given in those AMD tables; no public copy of them could be
  reached from this project's search tools, so re-check them there when adding parts.
"""

from __future__ import annotations

from dataclasses import dataclass

from skipless.errors import SkiplessError


@dataclass(frozen=True)
class Part:
    name: str
    board: str
    family: str  # Yosys synth_xilinx -family
    lut: int
    ff: int
    dsp: int
    ramb36: int
    uram: int = 0

    @property
    def bram18(self) -> int:
        """Block RAM in 18 Kb halves (a RAMB36 is two RAMB18)."""
        return 2 * self.ramb36

    def available(self) -> dict[str, int]:
        """Totals keyed like a report's ``resources``."""
        return {"lut": self.lut, "ff": self.ff, "dsp": self.dsp, "bram18": self.bram18, "uram": self.uram}


PARTS = {
    p.name: p
    for p in (
        Part("xc7z020clg400-1", "Pynq-Z2", "xc7", lut=53200, ff=106400, dsp=220, ramb36=140),
        Part("xczu9eg-ffvb1156-2-e", "ZCU102", "xcup", lut=274080, ff=548160, dsp=2520, ramb36=912),
        Part("xcu250-figd2104-2L-e", "Alveo U250", "xcup", lut=1728000, ff=3456000, dsp=12288, ramb36=2688, uram=1280),
    )
}
DEFAULT_PART = "xc7z020clg400-1"


def find_part(name: str) -> Part | None:
    """The part called ``name`` (case-insensitive), or None."""
    return next((part for key, part in PARTS.items() if key.lower() == name.strip().lower()), None)


def get_part(name: str) -> Part:
    """The part called ``name`` (case-insensitive), or a SkiplessError listing the known ones."""
    part = find_part(name)
    if part is not None:
        return part
    known = ", ".join(f"{p.name} ({p.board})" for p in PARTS.values())
    raise SkiplessError(f"unknown FPGA part {name!r}: use one of {known}, or add it to skipless/parts.py")
