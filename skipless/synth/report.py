"""One synthesis report schema for every flow (Yosys, Vitis HLS, Vivado HLS).

A report is a JSON object written atomically as ``synth_<flow>.json`` in the design's folder::

    id               design id (e.g. r20-noskip-w8a8)
    plan             Yosys flow only: "fit" when the open RTL's plan came from the fit planner
                     (`skipless rtl --fit`), else "default"; the same id at two plans is two designs
    flow             "yosys" | "vitis" | "vivado"
    tool             {"name", "version"}
    part             part name; "family" and "board" when the part table knows it
    clock_period_ns  the design's target clock
    resources        {lut, ff, carry, dsp, bram18, uram}: counts; bram18 in RAMB18 equivalents
                     (a RAMB36 counts 2); null where the flow does not say
    utilization      {lut, ff, dsp, bram18, uram}: % of the part; null where the part has none
    timing           {target_ns, estimated_ns}: estimated_ns null when the flow gives no timing; the
                     Yosys flow adds fmax_mhz, meets_target, wire_ps, critical_path, untimed_cells and
                     method (skipless.synth.timing), the vendor flows give the HLS tool's estimate
    latency          {cycles, us, best, worst, source}: cycles is the figure tables use, us = cycles x
                     clock_period_ns / 1000; best/worst in cycles where the flow reports a range
    interval         {cycles, min, max} in cycles
    fifo             {depths, bits, memory_bits, share_of_memory, method}
    notes            list of strings: what the numbers are (and are not)
    cache            {key, ...}: what the report was made from; an unchanged key reuses the report
    provenance       skipless.provenance.provenance()
    seconds          wall time of the synthesis that made the report
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from skipless.errors import SkiplessError

SCHEMA_VERSION = 1
FLOWS = ("yosys", "vitis", "vivado")
RESOURCE_KEYS = ("lut", "ff", "carry", "dsp", "bram18", "uram")
UTILIZATION_KEYS = ("lut", "ff", "dsp", "bram18", "uram")
REQUIRED = {
    "schema": int,
    "id": str,
    "flow": str,
    "tool": dict,
    "part": str,
    "clock_period_ns": (int, float),
    "resources": dict,
    "utilization": dict,
    "timing": dict,
    "latency": dict,
    "interval": dict,
    "fifo": dict,
    "notes": list,
    "cache": dict,
    "provenance": dict,
    "seconds": (int, float),
}


def report_path(folder: Path | str, flow: str) -> Path:
    return Path(folder) / f"synth_{flow}.json"


def utilization(resources: dict, available: dict) -> dict:
    """% of each available resource, rounded to 0.01; null where the part has none of it or the count is unknown."""
    out = {}
    for key in UTILIZATION_KEYS:
        used, total = resources.get(key), available.get(key)
        out[key] = round(100.0 * used / total, 2) if used is not None and total else None
    return out


def latency_block(cycles, clock_period_ns: float, best=None, worst=None, source: str | None = None) -> dict:
    us = round(cycles * clock_period_ns / 1000.0, 4) if cycles is not None else None
    return {"cycles": cycles, "us": us, "best": best, "worst": worst, "source": source}


def interval_block(cycles=None, lo=None, hi=None) -> dict:
    return {"cycles": cycles, "min": lo, "max": hi}


def validate(report: dict) -> dict:
    """``report`` if it follows the schema, else a SkiplessError naming the first problem."""
    if not isinstance(report, dict):
        raise SkiplessError("a synthesis report must be a JSON object")
    for key, kind in REQUIRED.items():
        if key not in report:
            raise SkiplessError(f"synthesis report lacks {key!r}")
        if not isinstance(report[key], kind) or isinstance(report[key], bool):
            raise SkiplessError(f"synthesis report field {key!r} has the wrong type: {type(report[key]).__name__}")
    if report["schema"] != SCHEMA_VERSION:
        raise SkiplessError(f"synthesis report schema {report['schema']} is not {SCHEMA_VERSION}")
    if report["flow"] not in FLOWS:
        raise SkiplessError(f"synthesis report flow {report['flow']!r} is not one of {', '.join(FLOWS)}")
    for block, keys in (
        ("resources", RESOURCE_KEYS),
        ("utilization", UTILIZATION_KEYS),
        ("latency", ("cycles", "us", "best", "worst")),
        ("interval", ("cycles", "min", "max")),
        ("fifo", ("depths", "bits", "share_of_memory")),
        ("timing", ("target_ns", "estimated_ns")),
    ):
        missing = [k for k in keys if k not in report[block]]
        if missing:
            raise SkiplessError(f"synthesis report {block} lacks {', '.join(missing)}")
        for k in keys:
            v = report[block][k]
            if block != "fifo" and v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
                raise SkiplessError(f"synthesis report {block}.{k} must be a number or null, got {v!r}")
    return report


def write_report(report: dict, folder: Path | str) -> Path:
    """Validate and write ``synth_<flow>.json`` in ``folder`` atomically (temporary file + rename)."""
    validate(report)
    path = report_path(folder, report["flow"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_report(path: Path | str) -> dict:
    """A written report; a SkiplessError when it is missing, not JSON or off the schema."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise SkiplessError(f"cannot read synthesis report {path}: {e.strerror}; run `skipless synth` first") from e
    except json.JSONDecodeError as e:
        raise SkiplessError(f"{path} is not valid JSON ({e}); delete it and run `skipless synth` again") from e
    try:
        return validate(data)
    except SkiplessError as e:
        raise SkiplessError(f"{path}: {e}; delete it and run `skipless synth` again") from e


def cached_report(folder: Path | str, flow: str, key: str) -> dict | None:
    """The report in ``folder`` when it was made from the same inputs (``key``); None otherwise.

    A report that is unreadable or off the schema counts as absent: the caller synthesizes again and
    overwrites it.
    """
    path = report_path(folder, flow)
    if not path.exists():
        return None
    try:
        report = read_report(path)
    except SkiplessError:
        return None
    return report if report["cache"].get("key") == key else None
