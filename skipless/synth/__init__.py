"""Synthesis flows and their one report schema.

* :func:`yosys_synth`: the open flow, Yosys ``synth_xilinx`` on an RTL design folder (``skipless rtl``).
* :func:`vendor_synth` / :func:`vendor_flow`: Vitis/Vivado HLS through hls4ml, where the tools exist;
  :func:`hls_report_to_schema` maps hls4ml's report into the schema.
* :mod:`skipless.synth.report`: the schema, atomic writing, the cache; :mod:`skipless.parts`: target parts.
"""

from skipless.parts import DEFAULT_PART, PARTS, Part, get_part
from skipless.synth.report import read_report, validate, write_report
from skipless.synth.vendor import (
    hls_report_to_schema,
    read_hls_reports,
    vendor_flow,
)
from skipless.synth.yosys import load_design, yosys_synth

__all__ = [
    "DEFAULT_PART",
    "PARTS",
    "Part",
    "get_part",
    "hls_report_to_schema",
    "load_design",
    "read_hls_reports",
    "read_report",
    "validate",
    "vendor_flow",
    "write_report",
    "yosys_synth",
]
