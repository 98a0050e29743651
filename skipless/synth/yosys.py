"""The open synthesis flow: Yosys ``synth_xilinx`` on an RTL design folder, parsed into the report schema.

A design folder (normally ``hls_projects/<id>/rtl/``, written by ``skipless rtl``) holds Verilog files
and ``design.json``::

    {"top": "myproject", "files": ["skipless_lib.v", "myproject.v"], "clock_period_ns": 6.667,
     "content_hash": "<sha256>", "fifos": [{"name": "s1b1_skip_fifo", "depth": 70, "width": 128, "bits": 8960}],
     "layers": [...]}

and, after co-simulation, ``cosim.json`` with ``latency_cycles`` and ``interval_cycles``.

What is counted (from ``stat`` after ``synth_xilinx -flatten -noiopad``): LUT = LUT1..LUT6 (logic
LUTs; distributed-RAM and SRL cells are listed apart), FF = FD* cells, CARRY = CARRY4/CARRY8, DSP =
DSP48E1/DSP48E2, BRAM18 = RAMB18E1/E2 + 2 x RAMB36E1/E2, URAM = URAM288. The skip FIFOs' share of
memory is their bits (design.json) over the bits of all memories Yosys inferred, as declared (depth x
width) before they are mapped to BRAM, LUTRAM or registers: ``stat`` run between ``synth_xilinx``'s
``coarse`` steps, where memories are still whole. Yosys gives no Fmax for these parts: ``timing`` holds
skipless's own estimate (:mod:`skipless.synth.timing`: static timing over the netlist with the delays of
Yosys's xc7 cell library), and latency comes from co-simulation, in cycles and in us at the design's clock.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from skipless.errors import SkiplessError
from skipless.fileio import exclusive
from skipless.parts import DEFAULT_PART, Part, get_part
from skipless.provenance import provenance
from skipless.rtl.cost import plan_kind
from skipless.rtl.design import RTLDesign
from skipless.synth import timing
from skipless.synth.report import (
    SCHEMA_VERSION,
    cached_report,
    interval_block,
    latency_block,
    utilization,
    write_report,
)
from skipless.tools import find_yosys

COSIM_FILE = "cosim.json"
LOG_FILE = "synth_yosys.log"
LOCK_DIR = ".synth_yosys_lock"  # holds the flock that lets one synthesis of a design run at a time
FLOW = "yosys"
# Bumped when the script or the way its output is read changes, so that older cached reports are redone.
SCRIPT_VERSION = 2  # 2: the timing estimate (skipless.synth.timing)
SYNTH_OPTIONS = "-flatten -noiopad"
RAMB18_BITS = 18 * 1024
URAM_BITS = 288 * 1024
LOG_TAIL_LINES = 25


def yosys_version(cmd: list[str]) -> str:
    """The first line of ``yosys -V`` (asked once per process and command)."""
    return _version(tuple(cmd))


@functools.cache
def _version(cmd: tuple[str, ...]) -> str:
    try:
        out = subprocess.run([*cmd, "-V"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise SkiplessError(f"{cmd[0]} -V failed ({e}): reinstall Yosys") from e
    version = out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    if out.returncode != 0 or not version:
        raise SkiplessError(f"{cmd[0]} -V failed (exit {out.returncode}): {out.stderr.strip()[-300:]}; reinstall Yosys")
    return version


# ---------------------------------------------------------------- the design folder


def load_design(rtl_dir: Path | str) -> dict:
    """design.json of a design folder, read and checked by the one reader (:meth:`RTLDesign.load`)."""
    return RTLDesign.load(rtl_dir).info


def rtl_hash(rtl_dir: Path | str, design: dict) -> str:
    """SHA-256 over what synthesis reads: the top name, design.json's content hash and every listed file."""
    rtl_dir = Path(rtl_dir)
    h = hashlib.sha256()
    h.update(design["top"].encode())
    h.update(str(design.get("content_hash", "")).encode())
    for name in design["files"]:
        h.update(name.encode() + b"\0")
        h.update((rtl_dir / name).read_bytes())
    return h.hexdigest()


def read_cosim(rtl_dir: Path | str, design_hash: str | None = None) -> dict | None:
    """cosim.json's cycle counts; None before co-simulation, when the run measured no clean timing
    (every image under gaps/back-pressure), or when it simulated another version of the design."""
    path = Path(rtl_dir) / COSIM_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SkiplessError(f"{path} is unreadable ({e}): rerun the co-simulation") from e
    if isinstance(data, dict) and (data.get("timing_clean") is False
                                   or (design_hash and data.get("design_hash") not in (None, design_hash))):
        return None
    out = {}
    for key in ("latency_cycles", "interval_cycles"):
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # skipless cosim writes the interval as a float (73728.0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SkiplessError(f"{path}: {key!r} must be a non-negative integer, got {value!r}; rerun the co-simulation")
        out[key] = value
    return out


# ---------------------------------------------------------------- Yosys


def synth_script(design: dict, part: Part, work: str) -> str:
    """The Yosys script; ``work`` is the scratch folder relative to the design folder (yowasp sees only its cwd)."""
    top = design["top"]
    synth = f"synth_xilinx -family {part.family} -top {top} {SYNTH_OPTIONS}"
    files = " ".join(json.dumps(f) for f in design["files"])
    return "\n".join(
        [
            f"read_verilog {files}",
            f"{synth} -run :coarse",
            f"tee -q -o {work}/memories.json stat -json -top {top}",
            f"{synth} -run coarse:",
            f"tee -q -o {work}/stat.json stat -json -top {top}",
            *(timing.script_lines(work) if part.family in timing.FAMILIES else []),
            "",
        ]
    )


def _stat_totals(path: Path) -> dict:
    """The whole-design totals of a ``stat -json -top`` output."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SkiplessError(f"Yosys wrote no readable statistics ({path.name}: {e}); see {LOG_FILE}") from e
    if "design" in data:
        return data["design"]
    modules = list(data.get("modules", {}).values())
    if len(modules) != 1:
        raise SkiplessError(f"Yosys statistics in {path.name} have no design totals; see {LOG_FILE}")
    return modules[0]


def count_resources(cells: dict[str, int]) -> dict:
    """Report resources from Yosys cell counts (cell type -> number)."""

    def total(names) -> int:
        return sum(cells.get(n, 0) for n in names)

    ramb18 = total(("RAMB18E1", "RAMB18E2"))
    ramb36 = total(("RAMB36E1", "RAMB36E2"))
    return {
        "lut": total(f"LUT{i}" for i in range(1, 7)),
        "ff": sum(n for name, n in cells.items() if name.startswith("FD")),
        "carry": total(("CARRY4", "CARRY8")),
        "dsp": total(("DSP48E1", "DSP48E2")),
        "bram18": ramb18 + 2 * ramb36,
        "uram": total(("URAM288", "URAM288_BASE")),
        "ramb18": ramb18,
        "ramb36": ramb36,
        "lutram_cells": sum(n for name, n in cells.items() if name.startswith("RAM") and not name.startswith("RAMB")),
        "srl_cells": sum(n for name, n in cells.items() if name.startswith("SRL")),
    }


def _log_tail(path: Path, extra: str = "") -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    lines += extra.strip().splitlines()
    return " | ".join(line.strip() for line in lines[-LOG_TAIL_LINES:] if line.strip())


def run_yosys(cmd: list[str], rtl_dir: Path, design: dict, part: Part, timeout: float | None = None) -> dict:
    """Run the script in ``rtl_dir``; returns cell counts, inferred memory bits and the wall time.

    The log ends up in ``rtl_dir/synth_yosys.log`` (also when Yosys fails); scratch files live in a
    temporary folder inside ``rtl_dir`` that is removed afterwards.
    """
    work = Path(tempfile.mkdtemp(prefix=".synth_yosys.", dir=rtl_dir))
    rel = work.name
    try:
        (work / "synth.ys").write_text(synth_script(design, part, rel))
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [*cmd, "-q", "-l", f"{rel}/yosys.log", "-s", f"{rel}/synth.ys"],
                cwd=rtl_dir,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            _keep_log(work, rtl_dir)
            raise SkiplessError(
                f"Yosys ran past {timeout} s on {rtl_dir}; see {rtl_dir / LOG_FILE} (raise the timeout)"
            ) from e
        except OSError as e:
            raise SkiplessError(f"cannot run {cmd[0]}: {e}; reinstall Yosys") from e
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            tail = _log_tail(work / "yosys.log", proc.stderr)
            _keep_log(work, rtl_dir)
            raise SkiplessError(
                f"Yosys failed on {rtl_dir} (exit {proc.returncode}); full log in {rtl_dir / LOG_FILE}; its end: {tail}"
            )
        before = _stat_totals(work / "memories.json")
        after = _stat_totals(work / "stat.json")
        _keep_log(work, rtl_dir)
        if part.family not in timing.FAMILIES:
            estimate = {"estimated_ns": None, "error": f"the cell delays are Artix-7's; no estimate for the {part.family} family"}
        else:
            try:
                estimate = timing.estimate(work, design["top"], float(design["clock_period_ns"]))
                timing.name_stream_ends(estimate.get("critical_path"), design.get("streams", []))
            except SkiplessError as e:
                estimate = {"estimated_ns": None, "error": str(e)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "cells": dict(sorted(after.get("num_cells_by_type", {}).items())),
        "memory_bits": int(before.get("num_memory_bits", 0)),
        "seconds": seconds,
        "timing": estimate,
    }


def _keep_log(work: Path, rtl_dir: Path) -> None:
    if (work / "yosys.log").exists():
        os.replace(work / "yosys.log", rtl_dir / LOG_FILE)


# ---------------------------------------------------------------- the flow


def cache_key(rtl_digest: str, part: Part) -> str:
    """What a netlist depends on: the RTL, the script and the Yosys family (not the part: two parts of one
    family get the same cells, only their utilization differs)."""
    data = {"rtl": rtl_digest, "family": part.family, "flow": FLOW, "script": SCRIPT_VERSION, "schema": SCHEMA_VERSION}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _part_fields(resources: dict, target: Part) -> dict:
    """The report fields that depend on the part rather than on the netlist."""
    return {
        "part": target.name,
        "target": {"family": target.family, "board": target.board, "available": target.available()},
        "utilization": utilization(resources, target.available()),
    }


def _retarget(report: dict, target: Part) -> dict:
    """A report of the same netlist measured against another part of the same family."""
    report = dict(report, **_part_fields(report["resources"], target))
    report["cache"] = dict(report["cache"], part=target.name)
    return report


def fifo_block(design: dict, memory_bits: int, resources: dict) -> dict:
    fifos = design.get("fifos", [])
    bits = sum(f["bits"] for f in fifos)
    return {
        "depths": {f["name"]: f["depth"] for f in fifos},
        "bits": bits,
        "memory_bits": memory_bits,
        "block_ram_capacity_bits": resources["bram18"] * RAMB18_BITS + resources["uram"] * URAM_BITS,
        "share_of_memory": round(bits / memory_bits, 4) if memory_bits else None,
        "method": "FIFO bits from design.json over the bits (depth x width) of all memories Yosys inferred, "
        "counted before memory mapping; not the share of block RAM tiles",
    }


def _latency(rtl_dir: Path, clock: float, design_hash: str | None = None) -> tuple[dict, dict, str]:
    cosim = read_cosim(rtl_dir, design_hash)
    if cosim is None:
        return latency_block(None, clock), interval_block(), "no latency yet: run the co-simulation (cosim.json)"
    lat = latency_block(cosim["latency_cycles"], clock, source=COSIM_FILE)
    ii = cosim["interval_cycles"]
    return lat, interval_block(ii, ii, ii), f"latency and interval measured in co-simulation ({COSIM_FILE})"


def _timing_note(block: dict) -> str:
    if block.get("estimated_ns") is None:
        return f"no timing estimate ({block.get('error', 'the netlist has no timed path')})"
    path = block["critical_path"]
    return (f"timing: an estimate, not sign-off (placement-free, {block['wire_ps']} ps per net): {block['estimated_ns']} ns, "
            f"{block['fmax_mhz']} MHz, against the {block['target_ns']} ns target; critical path from "
            f"{path['from']['layer']} ({path['from']['net']}) to {path['to']['layer']} ({path['to']['net']}), "
            f"{path['cells']} cells")


def _notes(resources: dict, fifo: dict, latency_note: str, timing_block: dict) -> list[str]:
    notes = [
        "Yosys synth_xilinx estimate, not Vivado sign-off: cell counts, not placed-and-routed utilization",
        _timing_note(timing_block),
        "synthesized flattened and out of context (-flatten -noiopad: no I/O buffers)",
        latency_note,
    ]
    if resources["lutram_cells"] or resources["srl_cells"]:
        notes.append(
            f"lut counts logic LUTs only: {resources['lutram_cells']} distributed-RAM and "
            f"{resources['srl_cells']} shift-register (SRL) cells are not included"
        )
    if fifo["share_of_memory"] is not None and fifo["share_of_memory"] > 1:
        notes.append("FIFO bits exceed the inferred memory bits: some FIFOs were built from registers, not memories")
    return notes


def _refresh_latency(report: dict, rtl_dir: Path) -> dict:
    """A cached report with latency re-read from cosim.json (co-simulation may have run since); rewritten if it changed."""
    latency, interval, latency_note = _latency(rtl_dir, report["clock_period_ns"])
    if latency != report["latency"] or interval != report["interval"]:
        report = dict(report, latency=latency, interval=interval)
        report["notes"] = _notes(report["resources"], report["fifo"], latency_note, report["timing"])
        write_report(report, rtl_dir)
    return report


def yosys_synth(
    rtl_dir: Path | str, part: str = DEFAULT_PART, force: bool = False, timeout: float | None = None, log=print
) -> dict:
    """Synthesize the design in ``rtl_dir`` with Yosys for ``part``; returns the report (also written to
    ``rtl_dir/synth_yosys.json``). An unchanged design (files, Yosys family, flow) reuses the report unless
    ``force``; for another part of the same family only the utilization is computed again.
    """
    rtl_dir = Path(rtl_dir)
    target = get_part(part)
    load_design(rtl_dir)  # a missing or edited design is refused before the lock folder is made
    # one synthesis of a design at a time: a second caller waits, then finds the first one's report
    with exclusive(rtl_dir / LOCK_DIR, "Yosys synthesis of", wait=True):
        return _synth(rtl_dir, target, force, timeout, log)


def _synth(rtl_dir: Path, target, force: bool, timeout: float | None, log) -> dict:
    design = load_design(rtl_dir)
    digest = rtl_hash(rtl_dir, design)
    key = cache_key(digest, target)
    name = RTLDesign(rtl_dir, design["top"], design).design_id
    if not force:
        cached = _same_tool(cached_report(rtl_dir, FLOW, key), name, log)
        if cached is not None:
            if "plan" not in cached:  # a report written before reports named their plan
                cached = dict(cached, plan=plan_kind(design))
                write_report(cached, rtl_dir)
            if cached["part"] == target.name:
                log(f"{name}: yosys report for {target.name} up to date (rtl {digest[:12]})")
            else:
                log(f"{name}: yosys netlist for {target.family} up to date (rtl {digest[:12]}); utilization of {target.name}")
                cached = _retarget(cached, target)
                write_report(cached, rtl_dir)
            return _refresh_latency(cached, rtl_dir)
    cmd = find_yosys()
    version = yosys_version(cmd)
    log(f"{name}: synthesizing with {version.split(' (')[0]} for {target.name} ({target.family})")
    run = run_yosys(cmd, rtl_dir, design, target, timeout=timeout)
    resources = count_resources(run["cells"])
    clock = float(design["clock_period_ns"])
    latency, interval, latency_note = _latency(rtl_dir, clock, design.get("content_hash"))
    fifo = fifo_block(design, run["memory_bits"], resources)
    timing_block = {"target_ns": clock, **run["timing"]}
    report = {
        "schema": SCHEMA_VERSION,
        "id": name,
        "plan": plan_kind(design),
        "flow": FLOW,
        "tool": {"name": "yosys", "version": version, "command": os.path.basename(cmd[0])},
        **_part_fields(resources, target),
        "clock_period_ns": clock,
        "resources": resources,
        "timing": timing_block,
        "latency": latency,
        "interval": interval,
        "fifo": fifo,
        "cells": run["cells"],
        "predicted": prediction_error(design, resources),
        "notes": _notes(resources, fifo, latency_note, timing_block),
        "cache": {"key": key, "rtl_hash": digest, "part": target.name, "flow": FLOW, "script_version": SCRIPT_VERSION},
        "provenance": provenance(),
        "seconds": round(run["seconds"], 2),
    }
    write_report(report, rtl_dir)
    log(f"{name}: {resources['lut']} LUT, {resources['ff']} FF, {resources['dsp']} DSP, "
        f"{resources['bram18']} BRAM18 in {run['seconds']:.1f} s")
    if report["timing"].get("estimated_ns") is not None:
        path = report["timing"]["critical_path"]
        log(f"{name}: timing estimate {report['timing']['estimated_ns']} ns ({report['timing']['fmax_mhz']} MHz, "
            f"target {clock} ns); critical path {path['from']['layer']} -> {path['to']['layer']}, {path['cells']} cells")
    if report["predicted"]:
        log(f"{name}: predicted by the planner's model vs Yosys: " + ", ".join(
            f"{r.upper()} {v['predicted']:,} vs {v['yosys']:,}"
            + (f" ({v['error_pct']:+.1f}%)" if v["error_pct"] is not None else "") for r, v in report["predicted"].items()))
    return report


def _same_tool(cached: dict | None, name: str, log) -> dict | None:
    """A cached report, unless another Yosys is installed now: a report names the version that made it, and
    a changed tool is synthesized again rather than read as the new tool's result. With no Yosys installed
    the cached report stands (it names its version)."""
    if cached is None:
        return None
    try:
        installed = yosys_version(find_yosys())
    except SkiplessError:
        return cached
    if cached["tool"]["version"] != installed:
        log(f"{name}: the cached report is from {cached['tool']['version'].split(' (')[0]}, the installed Yosys is "
            f"{installed.split(' (')[0]}: synthesizing again")
        return None
    return cached


def prediction_error(design: dict, resources: dict) -> dict | None:
    """The resources design.json predicted (skipless.rtl.cost) beside Yosys' counts, error in % of Yosys."""
    from skipless.rtl.cost import compare

    predicted = (design.get("fit") or {}).get("predicted")
    return compare(predicted, resources) if predicted else None
