"""``skipless bench compare|baseline|ingest`` and ``skipless report``: thin commands over skipless.bench."""

from __future__ import annotations

import argparse

from skipless.cli.common import add_parser, emit_json
from skipless.errors import SkiplessError


def cmd_bench_compare(args) -> int:
    from skipless.bench.compare import compare, default_baseline, load_baseline
    from skipless.bench.store import load_results, results_dir

    folder = results_dir(args.results)
    records = load_results(folder)
    if not records:
        raise SkiplessError(f"no result records in {folder}: run the benchmarks first (pytest benchmarks) "
                            "or pass --results DIR")
    baseline = load_baseline(args.baseline)
    comparison = compare(records, baseline, baseline_path=args.baseline or default_baseline())
    if args.json:
        emit_json({"counts": comparison.counts(), "failed": comparison.failed,
                   "rows": [{"status": r.status, "case": r.case, "kind": r.kind, "setting": r.setting, "metric": r.metric,
                             "baseline": r.baseline, "current": r.current, "change_pct": r.change_pct,
                             "class": r.cls.name, "tool_change": r.tool_change} for r in comparison.rows]})
    elif args.markdown:
        print(comparison.markdown())
    else:
        print(comparison.table())
    if comparison.failed:
        if not args.json:
            print(f"FAILED: {len(comparison.regressions)} metric(s) regressed beyond tolerance")
        return 1
    return 0


def cmd_bench_baseline(args) -> int:
    from skipless.bench.compare import baseline_keys, default_baseline, load_baseline, update_baseline
    from skipless.bench.store import load_results, results_dir

    path = args.baseline or default_baseline()
    if not args.update:
        data = load_baseline(path)
        print(f"{path}: {len(data['records'])} record(s)")
        for case, kind, sett in baseline_keys(data):
            print(f"  {case:28s} {kind:9s} {sett or '-'}")
        print("rewrite it from the latest results with: skipless bench baseline --update")
        return 0
    summary = update_baseline(load_results(results_dir(args.results)), path, prune=args.prune)
    print(f"wrote {summary['path']}: {len(summary['updated'])} record(s) from the results"
          + (f", {len(summary['kept'])} kept from the old baseline (no new result)" if summary["kept"] else ""))
    for case, kind, sett in summary["updated"]:
        print(f"  updated {case} {kind} {sett or '-'}")
    for case, kind, sett in summary["kept"]:
        print(f"  kept    {case} {kind} {sett or '-'}")
    return 0


def cmd_bench_ingest(args) -> int:
    from skipless.bench.adapters import read_synth_report
    from skipless.bench.store import save

    records = [read_synth_report(path) for path in args.reports]  # all checked before anything is written
    for path, record in zip(args.reports, records, strict=True):
        written = save(record, args.results, args.history)
        print(f"{path}: {record['case']} {record['params']['flow']} -> {written.name} ({len(record['metrics'])} metrics)")
    return 0


def cmd_report(args) -> int:
    from skipless.bench.report import summary_markdown, write_report

    index = write_report(out=args.out, results=args.results, history=args.history, ablation=args.ablation,
                         baseline=args.baseline)
    print(f"wrote {index} and {index.with_name('report.md')}")
    if args.summary:
        text = summary_markdown(index.with_name("report.md"))
        if args.summary == "-":
            print(text)
        else:
            with open(args.summary, "a") as f:  # $GITHUB_STEP_SUMMARY is appended to
                f.write(text + "\n")
    return 0


def cmd_bench_merge(args) -> int:
    from skipless.bench.store import merge

    added, present = merge(args.sources, args.results, args.history)
    print(f"merged {added} record(s) into the store and its history ({present} already there)")
    return 0


def cmd_bench_run(args) -> int:
    from skipless.bench.store import mark_run

    path = mark_run(args.state, args.results, note=args.note or "")
    print(f"run {args.state}: {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` (compare, baseline, ingest) and ``report`` to the ``skipless`` parser's subcommands."""
    results_help = "folder of result JSON files (default: $SKIPLESS_RESULTS_DIR or the workspace's benchmarks/results/runs)"
    history_help = "SQLite history (default: $SKIPLESS_HISTORY_DB or the workspace's benchmarks/results/history.sqlite)"
    bench = add_parser(sub, "bench", "compare benchmark results with the baseline; update the baseline")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = add_parser(bsub, "compare", "diff the latest results against the baseline; exit 1 on a regression")
    p.add_argument("--results", help=results_help)
    p.add_argument("--baseline", help="baseline JSON (default: benchmarks/baselines/default.json)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the comparison as JSON")
    out.add_argument("--markdown", action="store_true", help="print regressions, improvements and tool changes as Markdown "
                     "(for a CI job summary)")
    p.set_defaults(func=cmd_bench_compare)
    p = add_parser(bsub, "merge", "bring the result records of other folders (sharded jobs, cluster tasks) into the store "
                   "and the history")
    p.add_argument("sources", nargs="+", help="folders of result JSON files")
    p.add_argument("--results", help=results_help)
    p.add_argument("--history", help=history_help)
    p.set_defaults(func=cmd_bench_merge)
    p = add_parser(bsub, "run", "mark a benchmark run started or ended (a run never ended is reported as cut short)")
    p.add_argument("state", choices=("start", "end"))
    p.add_argument("--results", help=results_help)
    p.add_argument("--note", help="a note kept with the status, e.g. the CI job")
    p.set_defaults(func=cmd_bench_run)
    p = add_parser(bsub, "baseline", "show the baseline, or rewrite it (--update) from the latest results")
    p.add_argument("--update", action="store_true", help="rewrite the baseline from the latest result per case")
    p.add_argument("--prune", action="store_true", help="with --update: drop baseline records with no new result")
    p.add_argument("--results", help=results_help)
    p.add_argument("--baseline", help="baseline JSON (default: benchmarks/baselines/default.json)")
    p.set_defaults(func=cmd_bench_baseline)
    p = add_parser(bsub, "ingest", "add synthesis reports (synth_<flow>.json) to the results store and history")
    p.add_argument("reports", nargs="+", help="synth_<flow>.json files written by 'skipless synth'")
    p.add_argument("--results", help=results_help)
    p.add_argument("--history", help=history_help)
    p.set_defaults(func=cmd_bench_ingest)

    p = add_parser(sub, "report", "write the benchmark report (report.md, index.html, plots)")
    p.add_argument("--results", help=results_help)
    p.add_argument("--history", help=history_help)
    p.add_argument("--ablation", help="ablation table JSON (default: benchmarks/results/ablation.json)")
    p.add_argument("--out", help="output folder (default: benchmarks/reports/latest)")
    p.add_argument("--baseline", help="baseline JSON to compare with (default: benchmarks/baselines/default.json)")
    p.add_argument("--summary", help="also append the report's top (baseline comparison, headline, verdict) as Markdown "
                   "to this file, e.g. $GITHUB_STEP_SUMMARY ('-': print it)")
    p.set_defaults(func=cmd_report)
