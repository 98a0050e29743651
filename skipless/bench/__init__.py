"""Benchmark results: the store (JSON files + SQLite history), baseline comparison, and the report.

    from skipless.bench.store import make_record, save, load_results
    from skipless.bench.compare import compare, load_baseline

    save(make_record("r8-skip-w8a8", "accuracy", {"test_accuracy": 91.57}, {"method": "normal"}))
    comparison = compare(load_results(), load_baseline())
    print(comparison.table())

Modules: :mod:`~skipless.bench.store` (records, JSON files, SQLite history),
:mod:`~skipless.bench.compare` (metric classes, tolerances, baselines), :mod:`~skipless.bench.report`
and :mod:`~skipless.bench.plots` (the report; they need matplotlib).
"""
