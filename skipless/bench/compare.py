"""Compare results with a committed baseline, metric by metric, with a tolerance per metric class.

The class of a metric follows from its name (:func:`metric_class`):

=============  ===============================================  ===========================  ==========
class          names                                            tolerance                    better
=============  ===============================================  ===========================  ==========
tool speed     ``*per_s*``, ``speedup``, ``seconds``, ``wall``  never fails (reported only)  higher
agreement      ``*match*``, ``bit_exact``, ``agreement``        none: equal or better        higher
accuracy       ``acc*``, ``*accuracy*`` (in percent)            1.0 percentage point         higher
latency        ``*latency*``, ``*interval*``, ``*cycles*``      2 % of the baseline          lower
resources      LUT, FF, DSP, BRAM, RAMB18/36, URAM, CARRY, ...  10 % of the baseline         lower
other          anything else                                    never fails (reported only)  -
=============  ===============================================  ===========================  ==========

Tool speed (images/s of the C-simulation, cycles/s of a simulator) measures the machine as much as the
code: on the shared 2-core development machine stock hls4ml ``predict`` of r8-skip-w8a8 ran at 8.3
images/s when quiet and 2.8 images/s beside a training job, and CI runners vary too. Such a metric is
shown, with its change, but never fails a comparison. The latency and resource tolerances are
hls4ml's own synthesis-baseline tolerances; accuracy is compared in absolute points, since a relative
tolerance would let a low-accuracy model drift further.

A baseline is ``benchmarks/baselines/<name>.json``: ``{"records": [...]}``, one record per identity
(case, kind, setting; see :mod:`skipless.bench.store`), rewritten only on purpose
(``skipless bench baseline --update``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from skipless import workspace
from skipless.bench.store import check_record, latest, result_key, write_json
from skipless.errors import SkiplessError
from skipless.provenance import provenance


def default_baseline() -> Path:
    """The workspace's benchmarks/baselines/default.json."""
    return workspace.current().baselines / "default.json"
BASELINE_VERSION = 1

RESOURCE_TOKENS = ("lut", "ff", "dsp", "bram", "ramb18", "ramb36", "uram", "carry", "fifo", "srl", "lutram", "mux")
STATUS_ORDER = ("regression", "improvement", "tool changed", "missing", "new", "ok", "info")


@dataclass(frozen=True)
class MetricClass:
    name: str
    higher_is_better: bool | None  # None: no direction (unknown metric)
    tolerance: float  # relative (fraction of the baseline) or absolute, see `relative`
    relative: bool
    gating: bool  # False: reported, never a regression

    def describe(self) -> str:
        if not self.gating:
            return f"{self.name} (never fails)"
        tol = f"{100 * self.tolerance:g} %" if self.relative else (f"{self.tolerance:g} pt" if self.tolerance else "exact")
        return f"{self.name} ±{tol}" if self.tolerance else f"{self.name} (exact)"


TOOL_SPEED = MetricClass("tool speed", True, 0.0, True, gating=False)
AGREEMENT = MetricClass("agreement", True, 0.0, False, gating=True)
ACCURACY = MetricClass("accuracy", True, 1.0, False, gating=True)
LATENCY = MetricClass("latency", False, 0.02, True, gating=True)
RESOURCE = MetricClass("resource", False, 0.10, True, gating=True)
OTHER = MetricClass("other", None, 0.0, True, gating=False)


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def metric_class(name: str) -> MetricClass:
    """The class of a metric, from its name (see the module's table)."""
    low = name.lower()
    if "per_s" in low or any(w in low for w in ("speedup", "seconds", "wall")):
        return TOOL_SPEED
    if any(w in low for w in ("match", "bit_exact", "agreement")):
        return AGREEMENT
    if low.startswith("acc") or "accuracy" in low:
        return ACCURACY
    if any(w in low for w in ("latency", "interval", "cycles")):
        return LATENCY
    if any(tok.startswith(RESOURCE_TOKENS) for tok in _tokens(low)):
        return RESOURCE
    return OTHER


@dataclass
class Row:
    case: str
    kind: str
    setting: str
    metric: str
    baseline: float | None
    current: float | None
    status: str
    cls: MetricClass = field(default=OTHER)
    tool_change: str | None = None  # "yosys 0.23 -> 0.70" when the tool's version differs from the baseline's

    @property
    def change_pct(self) -> float | None:
        if self.baseline is None or self.current is None or self.baseline == 0:
            return None
        return 100.0 * (self.current - self.baseline) / abs(self.baseline)


def tool_changed(base_record: dict, current_record: dict) -> str | None:
    """"<tool> <old> -> <new>" when both records name the tool's version and the versions differ.

    The version is not part of a result's identity (the baseline must match across upgrades), so the
    comparison reads it here: a beyond-tolerance change under another tool version is reported as
    "tool changed", never as a regression or an improvement of the design."""
    b, c = base_record.get("params") or {}, current_record.get("params") or {}
    if b.get("tool_version") and c.get("tool_version") and b["tool_version"] != c["tool_version"]:
        return f"{c.get('tool') or b.get('tool') or 'tool'} {b['tool_version']} -> {c['tool_version']}"
    return None


def judge(cls: MetricClass, baseline: float, current: float) -> str:
    """ok / improvement / regression (or info for metrics that never fail)."""
    if not cls.gating or cls.higher_is_better is None:
        return "info"
    gain = (current - baseline) if cls.higher_is_better else (baseline - current)
    allowed = cls.tolerance * abs(baseline) if cls.relative else cls.tolerance
    if gain < -allowed:
        return "regression"
    if gain > allowed:
        return "improvement"
    return "ok"


@dataclass
class Comparison:
    rows: list[Row]
    baseline_path: Path | None = None

    def by_status(self, status: str) -> list[Row]:
        return [r for r in self.rows if r.status == status]

    @property
    def regressions(self) -> list[Row]:
        return self.by_status("regression")

    @property
    def improvements(self) -> list[Row]:
        return self.by_status("improvement")

    @property
    def failed(self) -> bool:
        return bool(self.regressions)

    def counts(self) -> dict[str, int]:
        return {s: len(self.by_status(s)) for s in STATUS_ORDER}

    def table(self) -> str:
        """The diff as a text table: regressions first, then improvements, missing, new, ok, info."""
        header = ("status", "case", "kind", "setting", "metric", "baseline", "current", "change", "class")
        lines = [header]
        for row in sorted(self.rows, key=lambda r: (STATUS_ORDER.index(r.status), r.case, r.kind, r.setting, r.metric)):
            change = "-" if row.change_pct is None else f"{row.change_pct:+.2f}%"
            lines.append((row.status.upper() if row.status == "regression" else row.status, row.case, row.kind,
                          row.setting or "-", row.metric, _fmt(row.baseline), _fmt(row.current), change,
                          row.cls.describe() + (f"; {row.tool_change}" if row.tool_change else "")))
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines]
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        where = f" against {self.baseline_path}" if self.baseline_path else ""
        return "\n".join(text) + f"\n\n{counts or 'nothing to compare'}{where}"


    def markdown(self) -> str:
        """Regressions, improvements and tool changes as Markdown tables, then the counts (a CI job summary)."""
        out = []
        for status, title in (("regression", "Regressions beyond tolerance"), ("improvement", "Improvements beyond tolerance"),
                              ("tool changed", "Tool changed (not judged)")):
            rows = self.by_status(status)
            if not rows:
                continue
            out += [f"### {title}", "", "| case | kind | setting | metric | baseline | current | change | class |",
                    "|---|---|---|---|---|---|---|---|"]
            for r in rows:
                change = "-" if r.change_pct is None else f"{r.change_pct:+.2f} %"
                cls = r.cls.describe() + (f"; {r.tool_change}" if r.tool_change else "")
                out.append(f"| {r.case} | {r.kind} | {r.setting or '-'} | {r.metric} | {_fmt(r.baseline)} | {_fmt(r.current)} "
                           f"| {change} | {cls} |")
            out.append("")
        if not self.regressions:
            out.append("No regression beyond tolerance.")
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        where = f" against `{self.baseline_path}`" if self.baseline_path else ""
        out.append(f"\n{counts or 'nothing to compare'}{where}")
        return "\n".join(out)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if float(value).is_integer() else f"{value:.4g}"


def compare(current_records: list[dict], baseline: dict | list[dict], baseline_path: Path | None = None) -> Comparison:
    """Compare the newest current record per identity with the baseline's record of that identity.

    A metric in the baseline but not in the current results (or a whole baseline record without a
    current one) is *missing*; one only in the current results is *new*; neither fails the comparison.
    """
    base_records = baseline["records"] if isinstance(baseline, dict) else baseline
    base = latest(base_records)
    cur = latest(current_records)
    rows = []
    for key in sorted(set(base) | set(cur)):
        b_metrics = base[key]["metrics"] if key in base else {}
        c_metrics = cur[key]["metrics"] if key in cur else {}
        changed = key in base and key in cur and tool_changed(base[key], cur[key])
        for metric in sorted(set(b_metrics) | set(c_metrics)):
            cls = metric_class(metric)
            b, c = b_metrics.get(metric), c_metrics.get(metric)
            status = "new" if b is None else "missing" if c is None else judge(cls, float(b), float(c))
            if changed and status in ("regression", "improvement"):
                status = "tool changed"  # a new Yosys (say) moves the counts: not the design's doing
            rows.append(Row(*key, metric, b, c, status, cls, changed))
    return Comparison(rows, baseline_path)


# ---------------------------------------------------------------- baseline files


def load_baseline(path: str | Path | None = None) -> dict:
    path = Path(path or default_baseline())
    if not path.exists():
        raise SkiplessError(f"no baseline {path}: create it from the current results with 'skipless bench baseline --update'")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SkiplessError(f"{path}: the baseline is not valid JSON ({e}); restore it from git or rewrite it "
                            "with 'skipless bench baseline --update'") from e
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise SkiplessError(f"{path}: a baseline is a JSON object with a 'records' list; rewrite it with "
                            "'skipless bench baseline --update'")
    for i, record in enumerate(data["records"]):
        check_record(record, where=f"{path} record {i}")
    return data


def _clean(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def update_baseline(records: list[dict], path: str | Path | None = None, prune: bool = False) -> dict:
    """Rewrite the baseline with the newest record per identity from ``records``. Baseline records with no
    new result are kept (a night without the vendor machine must not drop its rows) unless ``prune``.
    Returns a summary: {"updated": [...keys], "kept": [...], "path": Path}."""
    path = Path(path or default_baseline())
    if not records:
        raise SkiplessError("no results to make a baseline from: run the benchmarks first (pytest benchmarks)")
    old = latest(load_baseline(path)["records"]) if path.exists() else {}
    new = {key: _clean(rec) for key, rec in latest(records).items()}
    kept = {} if prune else {key: rec for key, rec in old.items() if key not in new}
    merged = {**kept, **new}
    data = {
        "baseline_version": BASELINE_VERSION,
        "updated": provenance(),
        "records": [merged[key] for key in sorted(merged)],
    }
    write_json(path, data)
    return {"updated": sorted(new), "kept": sorted(kept), "path": path}


def baseline_keys(data: dict) -> list[tuple[str, str, str]]:
    return sorted(result_key(r) for r in data["records"])
