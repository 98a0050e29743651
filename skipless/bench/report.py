"""The benchmark report: ``report.md`` and a static ``index.html`` with PNG figures next to them.

Sections (each says "no data yet" instead of failing when its inputs do not exist yet), the answers first:

* against the baseline: regressions, improvements and tool changes (the comparison `skipless bench
  compare` makes, with its tolerances), then what is missing or new;
* the headline: per depth and quantization, skip vs noskip vs short (accuracy, resources and their
  savings, latency, whether it fits the part, images verified in RTL; :mod:`skipless.bench.headline`),
  and one verdict line per depth;
* accuracy against LUT and BRAM, per synthesis setting, with the Pareto front (cases that have both
  an accuracy record and a synthesis record);
* savings of ``noskip`` and ``short`` designs against the ``skip`` design of the same depth and
  quantization (resources and latency, from synthesis and co-simulation records);
* the training-method ablation (``benchmarks/results/ablation.json``, written by ``skipless ablation``);
* the history of the key metrics (accuracy, agreement, latency, resources) over runs, from SQLite;
* latest results: the newest record per (case, kind, setting).

On a fresh clone there are no result records: the report then shows the committed baseline's records
and says so. A run marked started but not ended (``skipless bench run start``; a nightly killed by its
time limit) is reported as cut short. Tracked files are never deleted (stale figures only when git does
not track them).
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import re
from collections import defaultdict
from pathlib import Path

from skipless import workspace
from skipless.bench import headline, plots
from skipless.bench.compare import (
    ACCURACY,
    AGREEMENT,
    LATENCY,
    RESOURCE,
    compare,
    default_baseline,
    load_baseline,
    metric_class,
)
from skipless.bench.store import (
    KINDS,
    History,
    case_variant,
    history_db,
    latest,
    load_results,
    record_method,
    results_dir,
    rtl_verified_runs,
    run_status,
    setting,
)
from skipless.errors import SkiplessError
from skipless.fileio import write_atomic
from skipless.provenance import git_commit

NO_DATA = "No data yet"
MAX_HISTORY_FIGURES = 16
SKIP_TOKENS = ("skip", "noskip", "short")


def ablation_json() -> Path:
    """The training ablation's table in the workspace (benchmarks/results/ablation.json)."""
    return workspace.current().results / "ablation.json"


class Section:
    """A titled list of blocks (paragraphs, tables, figures) rendered to both Markdown and HTML."""

    def __init__(self, title: str):
        self.title = title
        self.blocks: list[tuple] = []

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def no_data(self, what: str) -> None:
        self.p(f"{NO_DATA}: {what}.")

    def table(self, header: list[str], rows: list[list]) -> None:
        self.blocks.append(("table", header, [[_cell(c) for c in row] for row in rows]))

    def figure(self, fig, name: str, alt: str) -> None:
        self.blocks.append(("figure", fig, "fig-" + re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".png", alt))


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}" if value.is_integer() else f"{value:.4g}"
    return str(value)


# ---------------------------------------------------------------- metric look-ups


def accuracy_of(metrics: dict) -> float | None:
    """``test_accuracy`` if there is one, else the first accuracy metric (percent)."""
    if "test_accuracy" in metrics:
        return float(metrics["test_accuracy"])
    for name in sorted(metrics):
        if metric_class(name) is ACCURACY:
            return float(metrics[name])
    return None


def _first_token(name: str) -> str:
    return (re.split(r"[^a-z0-9]+", name.lower()) or [""])[0]


def lut_of(metrics: dict) -> float | None:
    for name, value in sorted(metrics.items()):
        if _first_token(name) in ("lut", "luts"):
            return float(value)
    return None


def bram_of(metrics: dict) -> float | None:
    """BRAM in 18 Kb units: a ``bram``/``bram_18k`` count, else RAMB18 + 2 x RAMB36."""
    for name, value in sorted(metrics.items()):
        if _first_token(name) in ("bram", "brams", "bram18", "bram_18k"):
            return float(value)
    ramb18 = [v for n, v in metrics.items() if _first_token(n).startswith("ramb18")]
    ramb36 = [v for n, v in metrics.items() if _first_token(n).startswith("ramb36")]
    if not ramb18 and not ramb36:
        return None
    return float(sum(ramb18) + 2 * sum(ramb36))


# ---------------------------------------------------------------- sections


def latest_section(records: list[dict], where: Path) -> Section:
    s = Section("Latest results")
    if not records:
        s.no_data(f"no result records in {_shown(where)}; run the benchmarks (`pytest benchmarks`)")
        return s
    newest = latest(records)
    for kind in KINDS:
        rows = [
            [case, sett.replace(",", ", ") or "-", "; ".join(f"{m} {_cell(float(v))}" for m, v in sorted(rec["metrics"].items())),
             rec.get("provenance", {}).get("date", "-")]
            for (case, k, sett), rec in sorted(newest.items())
            if k == kind
        ]
        if rows:
            s.p(f"**{kind}**")
            s.table(["case", "setting", "metrics", "date"], rows)
    return s


def baseline_section(records: list[dict], baseline: dict | None, baseline_path: Path, from_baseline: bool) -> Section:
    s = Section("Against the baseline")
    if baseline is None:
        s.no_data(f"no baseline at {_shown(baseline_path)}; write one with `skipless bench baseline --update`")
        return s
    if from_baseline:
        s.p(f"No result records of a new run: every section below shows the committed baseline "
            f"(`{_shown(baseline_path)}`, updated {(baseline.get('updated') or {}).get('date', '?')}).")
        return s
    comparison = compare(records, baseline, baseline_path)
    counts = comparison.counts()
    s.p(f"Compared with `{_shown(baseline_path)}` (tolerances: latency 2 %, resources 10 %, accuracy 1 point, "
        "agreement exact; tool speed never fails): " + ", ".join(f"**{n} {k}**" if k == "regression" and n else f"{n} {k}"
                                                                 for k, n in counts.items()) + ".")
    header = ["case", "kind", "setting", "metric", "baseline", "current", "change", "class"]

    def rows_of(status):
        return [[r.case, r.kind, r.setting.replace(",", ", ") or "-", r.metric, r.baseline, r.current,
                 "-" if r.change_pct is None else f"{r.change_pct:+.2f} %", r.cls.describe() + (f"; {r.tool_change}" if r.tool_change else "")]
                for r in comparison.by_status(status)]

    for status, title in (("regression", "REGRESSIONS (beyond tolerance)"), ("improvement", "Improvements (beyond tolerance)"),
                          ("tool changed", "Tool changed (the tool's version differs from the baseline's: not judged)")):
        rows = rows_of(status)
        if rows:
            s.p(f"**{title}**")
            s.table(header, rows)
        elif status == "regression":
            s.p("No regression beyond tolerance.")
    for status in ("missing", "new"):
        keys = sorted({f"{r.case} {r.kind}" for r in comparison.by_status(status)})
        if keys:
            s.p(f"{status.capitalize()} ({len(keys)}): " + ", ".join(keys[:12]) + (" ..." if len(keys) > 12 else ""))
    return s


def headline_section(records: list[dict]) -> Section:
    s = Section("Headline: skip vs noskip vs short")
    rows = headline.headline_rows(records, rtl_verified=rtl_verified_runs())
    if not rows:
        s.no_data("needs accuracy and synthesis or co-simulation records of trained designs "
                  "(`pytest benchmarks`, `skipless synth`)")
        return s
    s.p("Per depth and quantization: each trained design's QKeras test accuracy and its difference to the "
        "skip design, Yosys resources on the xc7z020 with their change against skip (negative: fewer), latency and interval from "
        "co-simulation, whether it fits the part, and how many images were checked bit for bit in RTL.")
    header, cells = headline.table(rows)
    s.table(header, cells)
    s.p("**Verdict** (of the designs that fit the part, those within 1 point of the best of them; the winner "
        "is the one with the fewest LUTs; where none fits, there is no winner):")
    for line in headline.verdicts(rows):
        s.p(line)
    return s


def pareto_section(records: list[dict]) -> Section:
    s = Section("Accuracy against resources (Pareto front)")
    newest = latest(records).values()
    acc: dict[tuple[str, str | None], float] = {}
    for rec in newest:
        value = accuracy_of(rec["metrics"]) if rec["kind"] == "accuracy" else None
        vid = case_variant(rec["case"])
        if value is not None and vid:
            acc[(vid.base, record_method(rec))] = value
    groups: dict[str, list[tuple[str, float, dict]]] = defaultdict(list)
    for rec in newest:
        vid = case_variant(rec["case"]) if rec["kind"] == "synth" else None
        if not vid:
            continue
        method = record_method(rec)
        # the accuracy of the same trained design (variant and method); a random-weight design (no
        # method) has none, even where its variant has one trained artifact
        if method is not None and (vid.base, method) in acc:
            label = f"{vid.base}.{method}"
            groups[setting(rec) or "default"].append((label, acc[(vid.base, method)], rec["metrics"], vid.quant))
    if not groups:
        s.no_data("needs, for the same case, an accuracy record and a synthesis record with LUT/BRAM counts")
        return s
    s.p("Resource counts are what each flow reports (Yosys counts are estimates, not Vivado sign-off). "
        "The Pareto front joins the designs that no other design beats on both accuracy and the resource.")
    for sett, points in sorted(groups.items()):
        for name, getter in (("LUT", lut_of), ("BRAM (18 Kb units)", bram_of)):
            pts = [(label, getter(m), a, q) for label, a, m, q in points if getter(m) is not None]
            if not pts:
                s.p(f"Setting `{sett}`: no {name} counts in its synthesis records.")
                continue
            labels, res, accs = [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]
            front = set(plots.pareto_front(list(zip(res, accs, strict=True))))
            s.figure(plots.accuracy_vs_resource(labels, res, accs, name, f"accuracy vs {name} ({sett})", [p[3] for p in pts]),
                     f"pareto-{name.split()[0].lower()}-{sett}", f"accuracy against {name}, {sett}")
            s.table(["design", name, "accuracy %", "Pareto"],
                    [[lbl, r, a, "yes" if i in front else ""] for i, (lbl, r, a, _) in enumerate(pts)])
    return s


def savings_section(records: list[dict]) -> Section:
    s = Section("Savings from removing or shortening skips")
    groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
    rank: dict[tuple, int] = {}
    for rec in latest(records).values():
        vid = case_variant(rec["case"]) if rec["kind"] in ("synth", "cosim") else None
        if not vid or vid.skip not in SKIP_TOKENS:
            continue
        # trained designs of one cell compare across their methods (skip: QAT, noskip: iter-kept, ...),
        # each skip mode's preferred method first; random-weight designs among themselves
        method = record_method(rec)
        key = (vid.depth, vid.quant, "trained" if method else "-", rec["kind"], setting(rec) or "default")
        order = headline.PREFERRED[vid.skip]
        r = order.index(method) if method in order else len(order)
        if vid.skip not in groups[key] or r < rank[key + (vid.skip,)]:
            groups[key][vid.skip] = rec
            rank[key + (vid.skip,)] = r
    shown = 0
    for (depth, quant, method, kind, sett), by_skip in sorted(groups.items(), key=lambda kv: tuple(map(str, kv[0]))):
        others = [t for t in SKIP_TOKENS[1:] if t in by_skip]
        if "skip" not in by_skip or not others:
            continue
        base = by_skip["skip"]["metrics"]
        metrics = [m for m in sorted(base) if metric_class(m) in (RESOURCE, LATENCY) and base[m] > 0]
        if not metrics:
            continue
        series = {t: [_saving(base[m], by_skip[t]["metrics"].get(m)) for m in metrics] for t in others}
        title = f"r{depth} {quant} ({kind}, {sett})"
        s.figure(plots.savings_bars(metrics, series, f"saving against r{depth}-skip-{quant}: {kind}, {sett}"),
                 "-".join(x for x in ("savings", f"r{depth}", quant, method, kind, sett) if x != "-"), f"savings {title}")
        header = ["metric", "skip"] + [h for t in others for h in (t, f"{t} saving %")]
        rows = [[m, base[m]] + [c for t in others for c in (by_skip[t]["metrics"].get(m), _saving_txt(base[m], by_skip[t]["metrics"].get(m)))]
                for m in metrics]
        s.table(header, rows)
        shown += 1
    if not shown:
        s.no_data("needs synthesis or co-simulation records of a skip design and its noskip or short counterpart "
                  "(same depth, quantization and setting)")
    else:
        s.p("Saving = (skip - other) / skip; positive means the skip-less or short design uses less.")
    return s


def _saving(base: float, other: float | None) -> float:
    return float("nan") if other is None else 100.0 * (base - other) / base


def _saving_txt(base: float, other: float | None) -> str:
    return "-" if other is None else f"{_saving(base, other):+.1f}"


def read_ablation(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SkiplessError(f"{path}: not valid JSON ({e}); re-render it with 'skipless ablation --render-only'") from e
    rows = data.get("rows") if isinstance(data, dict) else None
    needed = ("depth", "quant", "method", "mean", "std")
    if not isinstance(rows, list) or any(not isinstance(r, dict) or any(k not in r for k in needed) for r in rows):
        raise SkiplessError(f"{path}: expected {{'rows': [{{{', '.join(needed)}, ...}}]}} as 'skipless ablation' "
                            "writes it; re-render it with 'skipless ablation --render-only'")
    return data


def ablation_section(path: Path) -> Section:
    s = Section("Training-method ablation")
    data = read_ablation(path)
    if not data or not data["rows"]:
        s.no_data(f"{path} does not exist or has no rows; run `skipless ablation`")
        return s
    prov = data.get("provenance") or {}
    s.p(f"From `{path.name}` (dataset {data.get('dataset', '?')}, {prov.get('date', 'date unknown')}); "
        "test accuracy in %, mean ± std over the seeds.")
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in data["rows"]:
        groups[(row["depth"], row["quant"])].append(row)
    for (depth, quant), rows in groups.items():
        methods = [r["method"] for r in rows]
        means = [float(r["mean"]) for r in rows]
        stds = [float(r["std"] or 0.0) for r in rows]
        s.figure(plots.ablation_bars(methods, means, stds, f"r{depth} {quant}"), f"ablation-r{depth}-{quant}",
                 f"ablation r{depth} {quant}")
        s.table(["depth", "quant", "method", "accuracy %", "seeds", "epochs", "train images"],
                [[f"r{depth}", quant, r["method"], f"{float(r['mean']):.2f} ± {float(r['std'] or 0):.2f}",
                  len(r.get("seeds") or []), r.get("epochs"), r.get("train_images")] for r in rows])
    return s


def history_section(rows: list[dict], where: Path) -> Section:
    s = Section("History of key metrics")
    key_classes = (ACCURACY, AGREEMENT, LATENCY, RESOURCE)
    rows = [r for r in rows if metric_class(r["metric"]) in key_classes]
    if not rows:
        s.no_data(f"no accuracy, agreement, latency or resource metrics in {_shown(where)}")
        return s
    runs = sorted({(r["date"], r["run_id"]) for r in rows})
    index = {run: i for i, run in enumerate(runs)}
    labels = [date[:16].replace("T", " ") for date, _ in runs]
    dates = [_parse_date(date) for date, _ in runs]
    by_metric: dict[str, dict[str, list]] = defaultdict(dict)
    for r in rows:
        name = " ".join(x for x in (r["case"], r["kind"], r["setting"]) if x)
        series = by_metric[r["metric"]].setdefault(name, [None] * len(runs))
        series[index[(r["date"], r["run_id"])]] = r["value"]
    s.p(f"{len(runs)} run(s) from {labels[0]} to {labels[-1]} in `{where.name}`.")
    metrics = sorted(by_metric)
    for metric in metrics[:MAX_HISTORY_FIGURES]:
        s.figure(plots.history_lines(dates, by_metric[metric], metric), f"history-{metric}", f"{metric} over runs")
    if len(metrics) > MAX_HISTORY_FIGURES:
        s.p(f"{len(metrics) - MAX_HISTORY_FIGURES} more metrics are in the database: "
            + ", ".join(metrics[MAX_HISTORY_FIGURES:]))
    return s


def _parse_date(text: str) -> _dt.datetime:
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


# ---------------------------------------------------------------- rendering


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(title: str, meta: list[str], sections: list[Section]) -> str:
    out = [f"# {title}", "", *[f"- {m}" for m in meta], ""]
    for sec in sections:
        out += [f"## {sec.title}", ""]
        for block in sec.blocks:
            if block[0] == "p":
                out += [block[1], ""]
            elif block[0] == "table":
                header, rows = block[1], block[2]
                out.append("| " + " | ".join(map(_md_escape, header)) + " |")
                out.append("|" + "---|" * len(header))
                out += ["| " + " | ".join(map(_md_escape, row)) + " |" for row in rows]
                out.append("")
            else:
                out += [f"![{block[3]}]({block[2]})", ""]
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escape, then render the two Markdown marks the report uses: `code` and **bold**."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)


def to_html(title: str, meta: list[str], sections: list[Section]) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}"
        "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}"
        "img{max-width:100%;display:block;margin:.5em 0}code{background:#f5f5f5}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{_inline(m)}</li>" for m in meta) + "</ul>",
    ]
    for sec in sections:
        out.append(f"<h2>{html.escape(sec.title)}</h2>")
        for block in sec.blocks:
            if block[0] == "p":
                out.append(f"<p>{_inline(block[1])}</p>")
            elif block[0] == "table":
                out.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in block[1]) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block[2]]
                out.append("</table>")
            else:
                out.append(f'<img src="{html.escape(block[2])}" alt="{html.escape(block[3])}">')
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (so a committed report names no home folder)."""
    try:
        return str(path.resolve().relative_to(workspace.current().root))
    except ValueError:
        return str(path)


def summary_markdown(report_md: Path) -> str:
    """The report's top as Markdown for a CI job summary: its meta lines and the baseline and headline
    sections (figures left out)."""
    text = Path(report_md).read_text()
    keep, out = True, []
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line[3:] in ("Against the baseline", "Headline: skip vs noskip vs short")
        if keep and not line.startswith("!["):
            out.append(line)
    return "\n".join(out).strip() + "\n"


def _tracked(path: Path) -> bool:
    """Whether git tracks ``path`` (True when git cannot tell: then nothing is deleted)."""
    import subprocess

    try:
        proc = subprocess.run(["git", "ls-files", "--error-unmatch", path.name], cwd=path.parent, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return True
    if proc.returncode != 0 and b"not a git repository" in proc.stderr:
        return False
    return proc.returncode == 0


def write_report(out: str | Path | None = None, results: str | Path | None = None, history: str | Path | None = None,
                 ablation: str | Path | None = None, baseline: str | Path | None = None) -> Path:
    """Build the report from the results folder, the history database, the ablation table and the baseline;
    returns ``<out>/index.html`` (``report.md`` and the figures lie next to it)."""
    out = Path(out or workspace.current().reports)
    folder, db = results_dir(results), history_db(history)
    ablation_path = Path(ablation or ablation_json())
    baseline_path = Path(baseline or default_baseline())
    records = load_results(folder)
    base = load_baseline(baseline_path) if baseline_path.exists() else None
    from_baseline = not records and base is not None
    if from_baseline:
        records = [dict(r) for r in base["records"]]
    rows = []
    if db.exists():
        with History(db) as hist:
            rows = hist.rows()
    sections = [
        baseline_section(records, base, baseline_path, from_baseline),
        headline_section(records),
        pareto_section(records),
        savings_section(records),
        ablation_section(ablation_path),
        history_section(rows, db),
        latest_section(records, baseline_path if from_baseline else folder),
    ]
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta = [f"generated {now} at commit `{git_commit()}`",
            (f"{len(records)} record(s) of the committed baseline `{_shown(baseline_path)}` (no new results)" if from_baseline
             else f"{len(records)} result record(s) from `{_shown(folder)}`")
            + f"; history `{_shown(db)}`" + ("" if db.exists() else " (none yet)")]
    status = None if from_baseline else run_status(folder)
    if status and status["cut_short"]:
        meta.insert(0, f"**This run was cut short**: started {status.get('started')}, never finished "
                       f"(run {status.get('run_id')}); sections may lack this run's later results.")
    out.mkdir(parents=True, exist_ok=True)
    written = set()
    for sec in sections:
        for block in sec.blocks:
            if block[0] == "figure":
                plots.save_png(block[1], out / block[2])
                written.add(block[2])
    for stale in out.glob("fig-*.png"):
        if stale.name not in written and not _tracked(stale):
            stale.unlink()
    title = "skipless benchmark report"
    write_atomic(out / "report.md", to_markdown(title, meta, sections))
    write_atomic(out / "index.html", to_html(title, meta, sections))
    return out / "index.html"
