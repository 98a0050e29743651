"""``skipless bench compare|baseline`` and ``skipless report``: thin commands over skipless.bench."""

from __future__ import annotations

import argparse

from skipless.errors import SkiplessError


def cmd_bench_compare(args) -> int:
    from skipless.bench.compare import DEFAULT_BASELINE, compare, load_baseline
    from skipless.bench.store import load_results, results_dir

    folder = results_dir(args.results)
    records = load_results(folder)
    if not records:
        raise SkiplessError(f"no result records in {folder}: run the benchmarks first (pytest benchmarks) "
                            "or pass --results DIR")
    baseline = load_baseline(args.baseline)
    comparison = compare(records, baseline, baseline_path=args.baseline or DEFAULT_BASELINE)
    print(comparison.table())
    if comparison.failed:
        print(f"FAILED: {len(comparison.regressions)} metric(s) regressed beyond tolerance")
        return 1
    return 0


def cmd_bench_baseline(args) -> int:
    from skipless.bench.compare import DEFAULT_BASELINE, baseline_keys, load_baseline, update_baseline
    from skipless.bench.store import load_results, results_dir

    path = args.baseline or DEFAULT_BASELINE
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
    from skipless.bench.report import write_report

    index = write_report(out=args.out, results=args.results, history=args.history, ablation=args.ablation)
    print(f"wrote {index} and {index.with_name('report.md')}")
    return 0


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` (compare, baseline) and ``report`` to the ``skipless`` parser's subcommands."""
    from skipless.bench.store import HISTORY_ENV, RESULTS_ENV

    results_help = f"folder of result JSON files (default: ${RESULTS_ENV} or benchmarks/results/runs)"
    bench = sub.add_parser("bench", help="compare benchmark results with the baseline; update the baseline")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("compare", help="diff the latest results against the baseline; exit 1 on a regression")
    p.add_argument("--results", help=results_help)
    p.add_argument("--baseline", help="baseline JSON (default: benchmarks/baselines/default.json)")
    p.set_defaults(func=cmd_bench_compare)
    p = bsub.add_parser("baseline", help="show the baseline, or rewrite it (--update) from the latest results")
    p.add_argument("--update", action="store_true", help="rewrite the baseline from the latest result per case")
    p.add_argument("--prune", action="store_true", help="with --update: drop baseline records with no new result")
    p.add_argument("--results", help=results_help)
    p.add_argument("--baseline", help="baseline JSON (default: benchmarks/baselines/default.json)")
    p.set_defaults(func=cmd_bench_baseline)
    p = bsub.add_parser("ingest", help="add synthesis reports (synth_<flow>.json) to the results store and history")
    p.add_argument("reports", nargs="+", help="synth_<flow>.json files written by 'skipless synth'")
    p.add_argument("--results", help=results_help)
    p.add_argument("--history", help=f"SQLite history (default: ${HISTORY_ENV} or benchmarks/results/history.sqlite)")
    p.set_defaults(func=cmd_bench_ingest)

    p = sub.add_parser("report", help="write the benchmark report (report.md, index.html, plots)")
    p.add_argument("--results", help=results_help)
    p.add_argument("--history", help=f"SQLite history (default: ${HISTORY_ENV} or benchmarks/results/history.sqlite)")
    p.add_argument("--ablation", help="ablation table JSON (default: benchmarks/results/ablation.json)")
    p.add_argument("--out", help="output folder (default: benchmarks/reports/latest)")
    p.set_defaults(func=cmd_report)
