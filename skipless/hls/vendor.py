"""The vendor HLS tool (Vitis/Vivado HLS) on a converted project, through hls4ml's own ``build``.

hls4ml 1.3 drives Vitis HLS through ``vitis-run`` and Vivado HLS through ``vivado_hls``; skipless
looks the tool up first and says what to do when it is missing. C synthesis writes the vendor's RTL
(which :mod:`skipless.cosim.vendor` co-simulates) and the reports that :mod:`skipless.synth.vendor`
reads into the report schema.
"""

from __future__ import annotations

from skipless.errors import SkiplessError
from skipless.tools import VENDOR_TOOLS, find_vendor_tool


def vendor_synth(model, project, csynth: bool = True, vsynth: bool = False, cosim: bool = False) -> dict:
    """Run the vendor tool on a converted project; returns hls4ml's report dict."""
    from skipless.hls.project import stock_model

    backend = project.settings.backend
    tool = find_vendor_tool(backend)
    if tool is None:
        raise SkiplessError(
            f"{VENDOR_TOOLS[backend]} is not on PATH, so the {backend} HLS flow cannot run here: install "
            f"{backend} HLS and source its settings64.sh (e.g. /tools/Xilinx/Vitis/2024.1/settings64.sh), "
            "or run this on a machine that has it"
        )
    graph = stock_model(model, project)
    graph.write()  # the project as hls4ml's build expects it (the cached C-sim build may predate it)
    try:
        report = graph.build(csim=False, synth=csynth, vsynth=vsynth, cosim=cosim)
    except Exception as e:  # hls4ml raises bare Exceptions for tool failures
        raise SkiplessError(f"{tool} failed on {project.generated_dir}: {e}") from e
    if not report:
        raise SkiplessError(f"{tool} ran in {project.generated_dir} but left no synthesis report; see its log there")
    return report
