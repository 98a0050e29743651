"""The results store: one JSON file per result record, and a SQLite history of every metric over runs.

A *record* is a plain dict::

    {"case": "r8-skip-w8a8",              # a variant id or an artifact id
     "kind": "accuracy",                  # accuracy | csim | cosim | synth | train
     "metrics": {"test_accuracy": 91.57}, # name -> number
     "params": {"method": "normal"},      # free-form settings: simulator, flow, part, ...
     "provenance": {...},                 # skipless.provenance.provenance(), plus "seed" where one matters
     "run_id": "..."}                     # added when written: which run (night) produced it

:func:`write_result` writes a record to ``benchmarks/results/runs/`` (or ``$SKIPLESS_RESULTS_DIR``)
atomically; :class:`History` appends it to ``benchmarks/results/history.sqlite`` (or
``$SKIPLESS_HISTORY_DB``), one row per (run id, case, kind, metric), in one transaction per record.

A record's *identity* is ``(case, kind, setting)``: the setting is made of the params in
:data:`IDENTITY_PARAMS` (method, flow, part, ...), so that a Yosys and a Vivado synthesis of the same
case, a KD and a normal artifact of the same variant, or a design at its default plan and at the fit
planner's (``plan=fit``; a default plan records no plan) are different results rather than one
overwriting the other. Other params (image counts of a speed run, worker counts) describe the
measurement and do not split results.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import sqlite3
import uuid
from pathlib import Path

from skipless import workspace
from skipless.errors import SkiplessError
from skipless.fileio import read_json, writable_dir, write_atomic
from skipless.provenance import provenance

KINDS = ("accuracy", "csim", "cosim", "synth", "train")
RUN_ID_ENV = "SKIPLESS_RUN_ID"
IDENTITY_PARAMS = (
    "method", "dataset", "test_images", "flow", "tool", "simulator", "backend", "part", "io_type", "strategy",
    "reuse_factor", "clock_period", "plan",
)

_RUN_ID: str | None = None


def results_dir(path: str | Path | None = None) -> Path:
    """``path``, else ``$SKIPLESS_RESULTS_DIR``, else benchmarks/results/runs/."""
    return Path(path) if path else workspace.current().result_records


def history_db(path: str | Path | None = None) -> Path:
    """``path``, else ``$SKIPLESS_HISTORY_DB``, else benchmarks/results/history.sqlite."""
    return Path(path) if path else workspace.current().history_db


def run_id() -> str:
    """This run's id: ``$SKIPLESS_RUN_ID`` (the nightly sets it) or one made per process (UTC time + random)."""
    global _RUN_ID
    if os.environ.get(RUN_ID_ENV):
        return os.environ[RUN_ID_ENV]
    if _RUN_ID is None:
        _RUN_ID = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    return _RUN_ID


def make_record(case: str, kind: str, metrics: dict, params: dict | None = None, seed: int | None = None) -> dict:
    """A complete, checked record with this machine's provenance (and ``seed`` in it when given)."""
    prov = provenance()
    if seed is not None:
        prov["seed"] = seed
    return check_record({"case": case, "kind": kind, "metrics": dict(metrics), "params": dict(params or {}),
                         "provenance": prov})


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_record(record, where: str = "result record") -> dict:
    """Return ``record`` if it has the record's shape, else raise SkiplessError saying what is wrong."""
    if not isinstance(record, dict):
        raise SkiplessError(f"{where}: a result record is a JSON object, not {type(record).__name__}")
    for key in ("case", "kind", "metrics"):
        if key not in record:
            raise SkiplessError(f"{where}: the record lacks {key!r} (needs case, kind, metrics, params, provenance)")
    if not isinstance(record["case"], str) or not record["case"].strip() or "/" in record["case"]:
        raise SkiplessError(f"{where}: 'case' must be a variant or artifact id such as r8-skip-w8a8, not {record['case']!r}")
    if record["kind"] not in KINDS:
        raise SkiplessError(f"{where}: kind {record['kind']!r} is not one of {', '.join(KINDS)}")
    metrics = record["metrics"]
    if not isinstance(metrics, dict) or not metrics:
        raise SkiplessError(f"{where}: 'metrics' must be a non-empty object of name -> number")
    for name, value in metrics.items():
        if not _is_number(value):
            raise SkiplessError(f"{where}: metric {name!r} is {value!r}; metrics must be finite numbers")
    for key in ("params", "provenance"):
        if not isinstance(record.get(key, {}), dict):
            raise SkiplessError(f"{where}: {key!r} must be an object")
    return record


def case_variant(case: str):
    """The parsed variant id of a record's case (skipless.zoo.VariantId), or None where the case is not
    a variant id (a speed run, a demo)."""
    from skipless.zoo import parse_id

    try:
        return parse_id(case)
    except SkiplessError:
        return None


def record_method(record: dict) -> str | None:
    """The training method of a record's design: the artifact id's suffix (r8-skip-w8a8.qat), else its
    params' method (accuracy records); None for a random-weight design."""
    vid = case_variant(record["case"])
    return (vid.method if vid else None) or (record.get("params") or {}).get("method")


def plan_param(plan: str | None) -> str | None:
    """The ``plan`` param a record of a design at ``plan`` carries: "fit" for the fit planner's design,
    none for the default plan (its records keep the identity they had before plans were recorded)."""
    return "fit" if plan == "fit" else None


def record_plan(record: dict) -> str:
    """The plan of the design a record measured: "fit" or "default"."""
    return (record.get("params") or {}).get("plan") or "default"


def setting(record: dict) -> str:
    """The identity params of a record as ``k=v`` pairs ("" when it has none)."""
    params = record.get("params") or {}
    return ",".join(f"{k}={params[k]}" for k in IDENTITY_PARAMS if params.get(k) is not None)


def result_key(record: dict) -> tuple[str, str, str]:
    return record["case"], record["kind"], setting(record)


def write_json(path: Path, data) -> None:
    """Write ``data`` as JSON, atomically (see :func:`skipless.fileio.write_atomic`)."""
    write_atomic(Path(path), json.dumps(data, indent=2, sort_keys=True) + "\n")


def update_json_rows(path: Path, key: str, row: dict) -> None:
    """Set ``key`` to ``row`` in a JSON object file of rows (e.g. benchmarks/results/cosim.json), atomically."""
    path = Path(path)
    rows = json.loads(path.read_text()) if path.exists() else {}
    rows[key] = row
    write_json(path, rows)


RTL_VERIFIED = "rtl_verified.json"  # per design, its largest RTL verification run (committed, in the results folder)


def rtl_verified_key(design_id: str, rtl: str = "open", plan: str = "default") -> str:
    """A design's row in rtl_verified.json: the id, ``/vendor`` for the vendor's RTL, ``@fit`` for the fit
    planner's design (another design than the default plan's, so neither run replaces the other)."""
    return design_id + ("" if rtl == "open" else f"/{rtl}") + ("@fit" if plan == "fit" else "")


def rtl_verified_runs(path: str | Path | None = None) -> dict:
    """``benchmarks/results/rtl_verified.json``: design id -> its largest RTL verification run ({} when absent)."""
    path = Path(path) if path is not None else workspace.current().results / RTL_VERIFIED
    if not path.exists():
        return {}
    return read_json(path, "RTL verification table")


RUN_STATUS = "run_status.json"


def mark_run(state: str, directory: str | Path | None = None, note: str = "") -> Path:
    """Record that a benchmark run ("start") began or ("end") finished, in ``<results dir>/run_status.json``.

    A run that was started and never ended (a job killed by its time limit) is reported as cut short by
    :func:`run_status` and the report."""
    if state not in ("start", "end"):
        raise SkiplessError(f"a run is marked 'start' or 'end', not {state!r}")
    path = results_dir(directory) / RUN_STATUS
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    status = {"run_id": run_id(), "started": now, "ended": None, "note": note}
    if state == "end":
        old = run_status(directory) or {}
        status = {**old, "run_id": old.get("run_id") or run_id(), "ended": now}
        status.setdefault("started", None)
    write_json(path, status)
    return path


def run_status(directory: str | Path | None = None) -> dict | None:
    """The run status written by :func:`mark_run`, with ``cut_short`` set; None when no run was marked."""
    path = results_dir(directory) / RUN_STATUS
    if not path.exists():
        return None
    try:
        status = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SkiplessError(f"{path} is unreadable ({e}): delete it and mark the run again") from e
    status["cut_short"] = bool(status.get("started")) and not status.get("ended")
    return status


def write_result(record: dict, directory: str | Path | None = None) -> Path:
    """Write one record as its own JSON file (atomically); returns the file. Adds provenance and the run id
    if the record lacks them."""
    record = dict(check_record(record))
    record.setdefault("params", {})
    record.setdefault("provenance", provenance())
    record.setdefault("run_id", run_id())
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    safe_case = "".join(c if c.isalnum() or c in "-_." else "_" for c in record["case"])
    path = results_dir(directory) / f"{stamp}-{safe_case}-{record['kind']}-{uuid.uuid4().hex[:6]}.json"
    write_json(path, record)
    return path


def load_results(directory: str | Path | None = None) -> list[dict]:
    """Every record in ``directory`` (oldest first, by date then file name); [] when it does not exist.
    A file that is not a valid record raises SkiplessError naming it."""
    folder = results_dir(directory)
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise SkiplessError(f"results folder {folder} is a file; pass the folder holding the result JSON files")
    records = []
    for path in sorted(p for p in folder.glob("*.json") if p.name != RUN_STATUS):
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise SkiplessError(f"{path}: not valid JSON ({e}); delete or fix the file, or re-run the benchmark") from e
        records.append(check_record(record, where=str(path)))
        record["_file"] = path.name
    records.sort(key=lambda r: (r.get("provenance", {}).get("date", ""), r["_file"]))
    return records


def merge(sources: list[str | Path], directory: str | Path | None = None, db: str | Path | None = None) -> tuple[int, int]:
    """Bring the record files of other stores (a sharded nightly's jobs, a cluster's tasks) into this
    store and its history; returns (added, already there). Only this process writes the SQLite history,
    so the shards never share a database file. Every source file is checked before anything is written."""
    target = results_dir(directory)
    incoming = []
    for source in sources:
        folder = Path(source)
        if not folder.is_dir():
            raise SkiplessError(f"{folder} is not a folder of result records: pass the folders the shards wrote")
        incoming += [(path, record) for record in load_results(folder) for path in [folder / record["_file"]]]
    added = present = 0
    with History(db) as hist:
        for path, record in incoming:
            dest = target / path.name
            if dest.exists():
                present += 1
                continue
            clean = {k: v for k, v in record.items() if not k.startswith("_")}
            write_json(dest, clean)
            try:
                hist.add(clean)
            except BaseException:
                dest.unlink(missing_ok=True)
                raise
            added += 1
    return added, present


def latest(records: list[dict]) -> dict[tuple[str, str, str], dict]:
    """The newest record per identity (``records`` oldest first, as :func:`load_results` returns them)."""
    out: dict[tuple[str, str, str], dict] = {}
    for record in records:
        out[result_key(record)] = record
    return out


def save(record: dict, directory: str | Path | None = None, db: str | Path | None = None) -> Path:
    """Write ``record`` to the results folder and append it to the history; returns the JSON file.

    The history is opened (and checked) first, and the JSON file is removed again if the history
    refuses the record, so a failed save leaves nothing and a retry records it once."""
    with History(db) as hist:
        path = write_result(record, directory)
        try:
            hist.add(json.loads(path.read_text()))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return path


# ---------------------------------------------------------------- history

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL,
    date TEXT NOT NULL,
    case_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    setting TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    git_commit TEXT,
    PRIMARY KEY (run_id, case_id, kind, setting, metric)
)
"""


class History:
    """SQLite history of every metric of every recorded run. Each record goes in in one transaction:
    either all its metrics are there or none."""

    def __init__(self, path: str | Path | None = None):
        self.path = history_db(path)
        writable_dir(self.path.parent, "results")
        if self.path.exists() and not os.access(self.path, os.W_OK):
            raise SkiplessError(f"the history database {self.path} is read-only: make it writable or set $SKIPLESS_HISTORY_DB")
        try:
            # several processes may record at once (benchmarks, ingest): wait for each other's transactions
            self.conn = sqlite3.connect(self.path, timeout=60)
            with self.conn:
                self.conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise SkiplessError(f"{self.path}: not a usable history database ({e}); move it aside and re-run") from e

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, record: dict) -> int:
        """Insert one row per metric of ``record``, all in one transaction; returns the row count."""
        record = check_record(record)
        prov = record.get("provenance") or {}
        base = (record.get("run_id") or run_id(), prov.get("date") or _dt.datetime.now(_dt.timezone.utc).isoformat(
            timespec="seconds"), record["case"], record["kind"], setting(record))
        rows = [(*base, name, float(value), prov.get("git_commit")) for name, value in sorted(record["metrics"].items())]
        try:
            with self.conn:  # commits on success, rolls the whole record back on any error
                self.conn.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as e:
            raise SkiplessError(f"{self.path}: could not record {record['case']} {record['kind']} ({e}); "
                                "nothing of this record was written") from e
        return len(rows)

    def rows(self, metric: str | None = None) -> list[dict]:
        """Every stored row (or those of one metric), oldest run first."""
        query = "SELECT run_id, date, case_id, kind, setting, metric, value, git_commit FROM results"
        args: tuple = ()
        if metric is not None:
            query, args = query + " WHERE metric = ?", (metric,)
        keys = ("run_id", "date", "case", "kind", "setting", "metric", "value", "git_commit")
        try:
            cursor = self.conn.execute(query + " ORDER BY date, run_id, case_id, kind, setting, metric", args)
            return [dict(zip(keys, row, strict=True)) for row in cursor]
        except sqlite3.DatabaseError as e:
            raise SkiplessError(f"{self.path}: cannot read the history ({e}); move it aside and re-run") from e
