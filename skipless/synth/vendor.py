"""The vendor flow: hls4ml's own ``build`` (C synthesis, optional logic synthesis) with Vitis or Vivado HLS.

hls4ml 1.3 drives Vitis HLS through ``vitis-run`` and Vivado HLS through ``vivado_hls``; skipless
looks the tool up first and says what to do when it is missing, then hands over to hls4ml and returns
hls4ml's parsed report (``parse_vivado_report``). :func:`hls_report_to_schema` maps that report into
skipless's one report schema (:mod:`skipless.synth.report`); :func:`vendor_flow` is the cached flow the
``skipless synth --flow vendor`` command runs on a converted project.
"""

from __future__ import annotations

import contextlib
import io
import xml.etree.ElementTree as ET
from pathlib import Path

from skipless.errors import SkiplessError
from skipless.hls.vendor import vendor_synth
from skipless.tools import VENDOR_TOOLS, find_vendor_tool

# ---------------------------------------------------------------- reports -> the skipless schema

VENDOR_FLOWS = {"Vitis": "vitis", "Vivado": "vivado"}


def read_hls_reports(hls_dir: Path | str) -> dict:
    """hls4ml's parsed reports of a built project (``hls4ml.report.parse_vivado_report``), quietly.

    hls4ml reads ``project.tcl`` (project name, backend), ``<name>_prj/hls.app`` or ``vivado_hls.app``
    (solutions), ``<solution>/syn/report/<name>_csynth.xml``, ``<solution>/sim/report/<name>_cosim.rpt``
    and ``vivado_synth.rpt``; it prints what it misses and fails on a project without a solution.
    """
    from hls4ml.report import parse_vivado_report

    hls_dir = Path(hls_dir)
    if not (hls_dir / "project.tcl").is_file():
        raise SkiplessError(f"{hls_dir} is not an hls4ml project (no project.tcl): run `skipless convert <id>` first")
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            report = parse_vivado_report(str(hls_dir))
    except Exception as e:  # hls4ml indexes an empty solution list, reads tags it assumes exist, ...
        raise SkiplessError(
            f"hls4ml could not read the vendor reports in {hls_dir} ({type(e).__name__}: {e}; "
            f"{' '.join(said.getvalue().split())[:300]}): run the vendor flow there first (`skipless synth --flow vendor`)"
        ) from e
    if not report or not any(k in report for k in ("CSynthesisReport", "VivadoSynthReport", "ImplementationReport")):
        raise SkiplessError(
            f"no synthesis report in {hls_dir} ({' '.join(said.getvalue().split())[:300]}): "
            "run the vendor flow there first (`skipless synth --flow vendor`)"
        )
    return report


def csynth_tool_version(hls_dir: Path | str) -> str | None:
    """The HLS tool version written in the first ``*_csynth.xml`` (``<ReportVersion><Version>``), if any."""
    for path in sorted(Path(hls_dir).glob("*_prj/*/syn/report/*_csynth.xml")):
        try:
            node = ET.parse(path).getroot().find("./ReportVersion/Version")
        except (OSError, ET.ParseError):
            continue
        if node is not None and node.text:
            return node.text.strip()
    return None


def _num(section: dict, key: str, what: str):
    """A number from hls4ml's report strings: int where integral, float otherwise, None if absent or undefined."""
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    if text.lower() in ("", "-", "undef", "na", "n/a"):
        return None
    try:
        number = float(text)
    except ValueError as e:
        raise SkiplessError(f"{what} {key} is {text!r}, not a number: the report is damaged; rerun the vendor flow") from e
    return int(number) if number.is_integer() else number


def _resources(report: dict) -> tuple[dict, str]:
    impl = report.get("ImplementationReport") or {}
    vsynth = report.get("VivadoSynthReport") or {}
    csynth = report.get("CSynthesisReport") or {}
    if impl:
        w = "implementation report"
        ramb36, ramb18 = _num(impl, "RAMB36s", w), _num(impl, "RAMB18s", w)
        bram18 = 2 * ramb36 + ramb18 if ramb36 is not None and ramb18 is not None else None
        res = {"lut": _num(impl, "TotLUTs", w), "ff": _num(impl, "FFs", w), "dsp": _num(impl, "DSPs", w),
               "bram18": bram18, "uram": _num(impl, "URAMs", w)}
        return res, "Vivado placed-and-routed utilization (util.rpt)"
    if vsynth:
        w = "vivado_synth.rpt"
        # hls4ml files Vivado's "Block RAM Tile" under BRAM_18K, but a tile is a 36 Kb block (a RAMB18
        # counts 0.5 of one), so RAMB18 equivalents are twice the tile count.
        tiles = _num(vsynth, "BRAM_18K", w)
        res = {"lut": _num(vsynth, "LUT", w), "ff": _num(vsynth, "FF", w), "dsp": _num(vsynth, "DSP48E", w),
               "bram18": round(2 * tiles) if tiles is not None else None, "uram": _num(vsynth, "URAM", w)}
        return res, "Vivado synthesis utilization (vivado_synth.rpt), before placement"
    w = "csynth.xml"
    res = {"lut": _num(csynth, "LUT", w), "ff": _num(csynth, "FF", w), "dsp": _num(csynth, "DSP", w),
           "bram18": _num(csynth, "BRAM_18K", w), "uram": _num(csynth, "URAM", w)}
    return res, "HLS C-synthesis estimate (csynth.xml), not Vivado synthesis"


def hls_report_to_schema(
    report: dict,
    *,
    design_id: str,
    flow: str,
    part: str,
    clock_period_ns: float,
    tool_version: str | None = None,
    seconds: float = 0.0,
    cache: dict | None = None,
) -> dict:
    """Map hls4ml's report dict (``parse_vivado_report``) into the skipless report schema.

    Resources come from the most final report present: implementation, then Vivado synthesis, then
    C synthesis. Latency is the co-simulated one when C/RTL co-simulation passed, else C synthesis's
    best/worst case (``cycles`` = worst case). Utilization is against the part table, or against the
    totals C synthesis reports for a part the table does not know.
    """
    from skipless.parts import PARTS, get_part
    from skipless.provenance import provenance
    from skipless.synth.report import SCHEMA_VERSION, interval_block, latency_block, utilization

    if flow not in VENDOR_FLOWS.values():
        raise SkiplessError(f"no vendor flow {flow!r}: use one of {', '.join(VENDOR_FLOWS.values())}")
    csynth = report.get("CSynthesisReport") or {}
    cosim = report.get("CosimReport") or {}
    resources, resource_source = _resources(report)
    resources = {"lut": None, "ff": None, "carry": None, "dsp": None, "bram18": None, "uram": None, **resources}
    target_ns = _num(csynth, "TargetClockPeriod", "csynth.xml") or clock_period_ns
    estimated_ns = _num(csynth, "EstimatedClockPeriod", "csynth.xml")
    notes = [f"resources: {resource_source}"]
    if cosim.get("Status") == "Pass" and cosim.get("LatencyMax") is not None:
        best, worst = _num(cosim, "LatencyMin", "cosim.rpt"), _num(cosim, "LatencyMax", "cosim.rpt")
        latency = latency_block(worst, target_ns, best=best, worst=worst, source="cosim")
        lo, hi = _num(cosim, "IntervalMin", "cosim.rpt"), _num(cosim, "IntervalMax", "cosim.rpt")
        notes.append("latency and interval measured in C/RTL co-simulation")
    else:
        best, worst = _num(csynth, "BestLatency", "csynth.xml"), _num(csynth, "WorstLatency", "csynth.xml")
        latency = latency_block(worst, target_ns, best=best, worst=worst, source="csynth" if worst is not None else None)
        lo, hi = _num(csynth, "IntervalMin", "csynth.xml"), _num(csynth, "IntervalMax", "csynth.xml")
        notes.append("latency and interval: C-synthesis estimate (cycles = worst case)")
    if estimated_ns is not None:
        notes.append(f"timing: HLS estimated clock {estimated_ns} ns against a {target_ns} ns target (not post-route)")
    if part.lower() in (p.lower() for p in PARTS):
        target = get_part(part)
        available = target.available()
        target_info = {"family": target.family, "board": target.board, "available": available}
    else:
        available = {
            key: _num(csynth, "Available" + tag, "csynth.xml")
            for key, tag in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP"), ("bram18", "BRAM_18K"), ("uram", "URAM"))
        }
        target_info = {"family": None, "board": None, "available": available}
        notes.append(f"{part} is not in skipless's part table: utilization is against the totals C synthesis reports")
    notes.append("skip FIFO depths are not in the HLS reports: see the RTL flow's report for the FIFO share")
    return {
        "schema": SCHEMA_VERSION,
        "id": design_id,
        "flow": flow,
        "tool": {"name": "Vitis HLS" if flow == "vitis" else "Vivado HLS", "version": tool_version},
        "part": part,
        "target": target_info,
        "clock_period_ns": float(target_ns),
        "resources": resources,
        "utilization": utilization(resources, available),
        "timing": {"target_ns": target_ns, "estimated_ns": estimated_ns},
        "latency": latency,
        "interval": interval_block(hi, lo, hi),
        "fifo": {"depths": {}, "bits": None, "memory_bits": None, "share_of_memory": None,
                 "method": "not available from the HLS reports"},
        "notes": notes,
        "cache": cache or {},
        "provenance": provenance(),
        "seconds": round(float(seconds), 2),
        "raw": report,
    }


def _seed_of(source: dict) -> int:
    """The weight seed a project was converted with (``source`` as skipless.flow.Build records it)."""
    if source.get("weights") == "trained":
        return 0
    seed = source.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    raise SkiplessError(f"cannot tell which weights the project was converted with ({source!r}): convert it again")


def vendor_flow(project_dir: Path | str, part: str | None = None, force: bool = False, log=print) -> dict:
    """The vendor flow on a converted project folder (``hls_projects/<id>/``), cached; returns the report.

    Writes ``synth_<vitis|vivado>.json`` into the generated hls4ml project. Reports already in the
    project (from an earlier build of the same conversion) are read without running the tool again.
    """
    import hashlib
    import json
    import time

    import yaml

    from skipless.hls.project import BUILD_FILE, GENERATED_DIR, SETTINGS_FILE
    from skipless.synth.report import SCHEMA_VERSION, cached_report, write_report

    project_dir = Path(project_dir)
    generated = project_dir / GENERATED_DIR
    try:
        tracked = yaml.safe_load((project_dir / SETTINGS_FILE).read_text())
        build = json.loads((generated / BUILD_FILE).read_text())
        settings, source = tracked["settings"], tracked.get("source", {})
    except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as e:
        raise SkiplessError(
            f"no converted hls4ml project at {project_dir}: run `skipless convert {project_dir.name}` first"
        ) from e
    backend = settings["backend"]
    flow = VENDOR_FLOWS[backend]
    if part is not None and part.lower() != settings["part"].lower():
        raise SkiplessError(
            f"{project_dir.name} was converted for {settings['part']}, not {part}: "
            f"run `skipless convert {project_dir.name} --part {part}` first"
        )
    part = settings["part"]
    design_id = str(source.get("id") or project_dir.name)
    key_data = {"content": build["content_hash"], "part": part, "flow": flow, "schema": SCHEMA_VERSION}
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()
    if not force:
        cached = cached_report(generated, flow, key)
        if cached is not None:
            log(f"{design_id}: {flow} report for {part} up to date")
            return cached
    start = time.time()
    have_reports = any(generated.glob("*_prj/*/syn/report/*_csynth.xml")) or (generated / "vivado_synth.rpt").exists()
    if have_reports and not force:
        log(f"{design_id}: reading the {backend} reports already in {generated}")
        raw = read_hls_reports(generated)
    else:
        if find_vendor_tool(backend) is None:
            raise SkiplessError(
                f"{VENDOR_TOOLS[backend]} is not on PATH, so the {backend} HLS flow cannot run here: install "
                f"{backend} HLS and source its settings64.sh, or use `--flow yosys` on the open RTL"
            )
        from skipless import data, hls, zoo

        ds = data.load(source.get("dataset") or data.DEFAULT_DATASET)
        model = zoo.hardware_model(design_id, ds, seed=_seed_of(source))
        project = hls.convert(model, project_dir, source=source, **settings)
        log(f"{design_id}: running {VENDOR_TOOLS[backend]} (C synthesis) in {project.generated_dir}")
        raw = vendor_synth(model, project)
    cache = {"key": key, **key_data}
    report = hls_report_to_schema(
        raw,
        design_id=design_id,
        flow=flow,
        part=part,
        clock_period_ns=float(settings["clock_period"]),
        tool_version=csynth_tool_version(generated),
        seconds=time.time() - start,
        cache=cache,
    )
    write_report(report, generated)
    return report
