"""Turn other stages' outputs into result records.

:func:`synth_record` takes a synthesis report in the schema of :mod:`skipless.synth.report`
(``synth_<flow>.json``: id, flow, tool, part, clock_period_ns, resources, latency, interval, fifo,
timing, provenance) and makes a ``synth`` record: the resource counts under their schema names
(lut, ff, carry, dsp, bram18, uram), ``latency_cycles``/``latency_us``, ``interval_cycles``,
``fifo_bits`` and ``estimated_clock_ns``; null values are left out. The flow, part, clock and a fitted
plan are identity params (a Yosys and a Vitis result of one design are two results); the tool version
is not.
"""

from __future__ import annotations

from pathlib import Path

from skipless.bench.store import check_record, plan_param
from skipless.errors import SkiplessError


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def synth_record(report: dict, where: str = "synthesis report") -> dict:
    for key in ("id", "flow", "resources"):
        if key not in report:
            raise SkiplessError(f"{where}: lacks {key!r}; is it a skipless synthesis report (synth_<flow>.json)?")
    metrics = {k: v for k, v in report["resources"].items() if _number(v)}
    pairs = (
        ("latency_cycles", ("latency", "cycles")),
        ("latency_us", ("latency", "us")),
        ("interval_cycles", ("interval", "cycles")),
        ("fifo_bits", ("fifo", "bits")),
        ("estimated_clock_ns", ("timing", "estimated_ns")),
    )
    for name, (block, key) in pairs:
        value = (report.get(block) or {}).get(key)
        if _number(value):
            metrics[name] = value
    if not metrics:
        raise SkiplessError(f"{where}: no numbers in it (resources, latency, interval all null); nothing to record")
    tool = report.get("tool") or {}
    params = {
        "flow": report["flow"],
        "part": report.get("part"),
        "clock_period": report.get("clock_period_ns"),
        "tool": tool.get("name"),
        "tool_version": tool.get("version"),
        "notes": report.get("notes") or [],
        # a fitted design (skipless rtl --fit) is another result than the default plan's
        "plan": plan_param(report.get("plan")),
    }
    record = {"case": report["id"], "kind": "synth", "metrics": metrics,
              "params": {k: v for k, v in params.items() if v is not None}, "provenance": report.get("provenance") or {}}
    return check_record(record, where)


def read_synth_report(path: str | Path) -> dict:
    """The ``synth`` record of a ``synth_<flow>.json`` file, read and schema-checked by
    :func:`skipless.synth.report.read_report`; SkiplessError naming the file when it is bad."""
    from skipless.synth.report import read_report

    return synth_record(read_report(path), where=str(path))
