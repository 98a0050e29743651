"""Open RTL: synthesizable Verilog-2001 for an hls4ml network, bit-exact with its fixed-point types.

    design = rtl.generate(project_or_graph, "hls_projects/<id>/rtl")   # Verilog + design.json
    rtl.lint(design)                                                   # verilator --lint-only -Wall
    y = rtl.reference.predict(rtl.network_of(graph), x_mantissa)       # the integer golden model
"""

from skipless.fixed import FixedType
from skipless.rtl import reference
from skipless.rtl.design import RTLDesign, derive, generate, lint, network_of, write_design
from skipless.rtl.graph import Network
from skipless.rtl.hls_import import from_hls4ml
from skipless.rtl.schedule import RTLSettings, plan

__all__ = ["FixedType", "Network", "RTLDesign", "RTLSettings", "derive", "from_hls4ml", "generate", "lint", "network_of", "plan", "reference", "write_design"]
