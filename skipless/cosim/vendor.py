"""The vendor RTL path: Vitis/Vivado HLS synthesizes the hls4ml project into Verilog, and the same
cocotb testbench drives it (``skipless cosim ID --rtl vendor``).

C synthesis writes the RTL to ``<project>_prj/solution1/syn/verilog/``; skipless wraps that folder
in a design.json (top ``myproject``, the io_stream ports' element types from the hls4ml graph) so
that :func:`skipless.cosim.cosim` treats it like the open RTL. Without the tool on PATH this stops,
before anything is written, with the fix.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from skipless.errors import SkiplessError
from skipless.fileio import sha256_file, write_json
from skipless.hls.vendor import vendor_synth
from skipless.rtl.design import DESIGN_FILE, RTLDesign, _interface, network_of
from skipless.tools import VENDOR_TOOLS, find_vendor_tool

VENDOR_DIR = "rtl_vendor"


def vendor_rtl_dir(project) -> Path:
    name = project.settings.project_name
    return project.generated_dir / f"{name}_prj" / "solution1" / "syn" / "verilog"


def vendor_design(model, project, log=print) -> RTLDesign:
    """C-synthesize ``project`` with the vendor tool and describe its RTL for the testbench."""
    backend = project.settings.backend
    if find_vendor_tool(backend) is None:
        raise SkiplessError(
            f"--rtl vendor needs {VENDOR_TOOLS[backend]} ({backend} HLS) on PATH to produce the RTL: source the "
            "tool's settings64.sh, or co-simulate the open RTL (--rtl open)"
        )
    from skipless.hls.project import stock_model

    graph = stock_model(model, project)
    vendor_synth(model, project, csynth=True)
    src = vendor_rtl_dir(project)
    files = sorted(p for p in src.glob("*.v")) if src.is_dir() else []
    if not files:
        raise SkiplessError(f"{VENDOR_TOOLS[backend]} ran but wrote no Verilog into {src}; see its log in {project.generated_dir}")
    net = network_of(graph)
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    info = {
        "top": project.settings.project_name,
        "files": [os.path.relpath(p, project.path / VENDOR_DIR) for p in files],
        "flow": "vendor",
        "clock_period_ns": project.settings.clock_period,
        "interface": {"input": _interface(net, net.input_port, net.input_name), "output": _interface(net, net.output_port, net.output_name)},
        "streams": [],
        "fifos": [],
        "content_hash": digest,
    }
    out = project.path / VENDOR_DIR
    info["file_sha256"] = {rel: sha256_file(f) for rel, f in zip(info["files"], files, strict=True)}
    write_json(out / DESIGN_FILE, info, indent=2)
    log(f"vendor RTL of {project.path.name}: {len(files)} Verilog files in {src}")
    return RTLDesign.load(out)
