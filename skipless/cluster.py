"""The grid's work on more than one machine, through Dask distributed.

A *client* comes from a cluster spec (:func:`connect`):

* ``local``: a :class:`distributed.LocalCluster` of worker processes on this machine (``--workers N``);
* ``tcp://host:8786``: a running scheduler (``dask scheduler`` on one machine, ``dask worker
  tcp://host:8786`` on the others, each in the project's checkout or with ``--workspace`` shared);
* ``slurm``, ``pbs``, ``sge``, ``lsf``: batch jobs through dask-jobqueue, one Dask worker per job
  (``--job-cores``, ``--job-memory``, ``--walltime``, ``--queue``, ``--account``).

The work is split into tasks, each a plain function of this module that Dask ships to a worker:

* :func:`train_task`: one run of the trained grid (its checkpoints under the shared checkpoints
  folder; a task started again after its worker died resumes from the last good checkpoint). Runs
  wait for the runs they need (teacher, init) through Dask's dependencies.
* :func:`csim_task` / :func:`cosim_task`: a chunk of test images through a design's C-simulation or
  RTL co-simulation, compared with QKeras; the coordinator joins the chunks of a design into one record.
* :func:`synth_task`: one Yosys synthesis; the task writes its report and its record file.

Every task writes result files (records, artifacts, reports) into the shared workspace, never the
SQLite history: the coordinator (:func:`train_grid`, :func:`verify_designs`) adds the records to the
history when the tasks are done, so the history never sits on a network file system with several
writers. A worker that dies mid-task makes the scheduler run the task again elsewhere (up to Dask's
``allowed-failures``, 3 by default).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skipless.errors import SkiplessError

JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster"}


@dataclass
class ClusterSettings:
    spec: str = "local"
    workers: int = 2
    job_cores: int = 2
    job_memory: str = "16GB"
    walltime: str = "12:00:00"
    queue: str | None = None
    account: str | None = None


def _dask():
    try:
        import distributed
    except ImportError:
        raise SkiplessError("Dask is not installed: pip install 'skipless[cluster]' (dask[distributed] and dask-jobqueue)") from None
    return distributed


def connect(settings: ClusterSettings):
    """A Dask client for ``settings.spec`` (see the module docstring)."""
    distributed = _dask()
    spec = settings.spec
    if settings.workers < 1:
        raise SkiplessError(f"--workers must be >= 1, got {settings.workers}")
    if spec == "local":
        cluster = distributed.LocalCluster(n_workers=settings.workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        return distributed.Client(cluster)
    if spec.startswith(("tcp://", "tls://")):
        try:
            return distributed.Client(spec, timeout=30)
        except OSError as e:
            raise SkiplessError(f"no Dask scheduler answers at {spec} ({e}): start one with `dask scheduler`") from None
    if spec in JOBQUEUE:
        try:
            import dask_jobqueue
        except ImportError:
            raise SkiplessError("dask-jobqueue is not installed: pip install 'skipless[cluster]'") from None
        kw = {"cores": settings.job_cores, "processes": 1, "memory": settings.job_memory, "walltime": settings.walltime}
        if settings.queue:
            kw["queue"] = settings.queue
        if settings.account:
            kw["account"] = settings.account
        cluster = getattr(dask_jobqueue, JOBQUEUE[spec])(**kw)
        cluster.scale(jobs=settings.workers)
        return distributed.Client(cluster)
    raise SkiplessError(f"unknown cluster {spec!r}: use local, tcp://HOST:PORT, or one of {', '.join(JOBQUEUE)}")


# ---------------------------------------------------------------- tasks (run on the workers)


def _dataset(dataset):
    """A Dataset, or ``(name, data_dir)`` loaded on the worker (the full dataset is not shipped around)."""
    if isinstance(dataset, tuple):
        from skipless import data

        return data.load(*dataset)
    return dataset


def train_task(run, dataset, models_dir: str, checkpoints_dir: str, results_dir: str, *_needs) -> str | None:
    """Train one grid run unless it is done; returns the path of its ``train`` record (None when done)."""
    from skipless.bench.store import make_record, write_result
    from skipless.train import grid

    ds = _dataset(dataset)
    models, ckpts = Path(models_dir), Path(checkpoints_dir)
    state = grid.run_state(run, models, ckpts, ds.name)
    if state["state"] == "done":
        return None
    if state["state"] == "conflict":
        raise SkiplessError(f"models/{run.artifact} exists but was trained with other settings ({', '.join(state['differs'])})")
    (ckpts / run.artifact).mkdir(parents=True, exist_ok=True)
    # the run's log on the shared disk, one block per attempt (a rerun after a killed worker shows here)
    with open(ckpts / run.artifact / "train.log", "a") as logf:
        logf.write(f"== attempt at {time.strftime('%Y-%m-%d %H:%M:%S')} by PID {os.getpid()}\n")

        def log(line: str) -> None:
            logf.write(line + "\n")
            logf.flush()

        card = grid.train_one(run, ds, models, ckpts, resume=True, log=log)
    metrics = {"test_accuracy": 100 * card["metrics"]["test_accuracy"], "train_seconds": card.get("wall_seconds", 0)}
    record = make_record(run.artifact, "train", metrics, params={"method": run.job.method_tag, "dataset": ds.name})
    return str(write_result(record, results_dir))


def _build(design_id: str, dataset):
    from skipless.flow import Build

    return Build(design_id, dataset=_dataset(dataset), log=lambda *a: None)


def csim_task(design_id: str, dataset, start: int, stop: int) -> dict:
    """C-simulate test images [start, stop) of a design against its exact reference (QKeras; the integer
    reference at w16a16); counts and the differing images."""
    from skipless import hls
    from skipless.flow import REFERENCE_LABEL

    build = _build(design_id, dataset)
    x, y = build.test_images(stop)
    x, y = x[start:], y[start:]
    reference, against = build.exact_reference(x)
    result = hls.verify(build.model, build.convert(), x, workers=1, diagnose=False, reference=reference,
                        against=REFERENCE_LABEL[against])
    got, want = result.csim_outputs.reshape(len(x), -1), result.reference.reshape(len(x), -1)
    bad = np.nonzero((got != want).any(axis=1))[0]
    return {"images": len(x), "mismatch_images": [start + int(i) for i in bad], "correct": int((got.argmax(axis=1) == y).sum())}


def cosim_task(design_id: str, dataset, start: int, stop: int, seed: int = 0) -> dict:
    """Co-simulate test images [start, stop) of a design's open RTL against its exact reference."""
    from skipless import cosim

    build = _build(design_id, dataset)
    x, y = build.test_images(stop)
    x, y = x[start:], y[start:]
    design = build.rtl()
    result = cosim.cosim(design, x, seed=seed + start, expected=build.exact_reference(x)[0], log=lambda *a: None)
    predicted = result.outputs.reshape(len(x), -1).argmax(axis=1)
    return {"images": len(x), "mismatch_images": [start + m["image"] for m in result.mismatches],
            "correct": int((predicted == y).sum()), "cycles": result.cycles, "wall_s": result.wall_s}


def synth_task(design_id: str, dataset, results_dir: str) -> str:
    """Synthesize a design with Yosys (cached); writes its report and its ``synth`` record file."""
    from skipless.bench.adapters import synth_record
    from skipless.bench.store import write_result

    build = _build(design_id, dataset)
    report = build.synth("yosys", record=False)
    return str(write_result(synth_record(report, where=design_id), results_dir))


# ---------------------------------------------------------------- the coordinator


def _to_history(paths: list[str], db=None) -> int:
    """Add the record files the tasks wrote to the history (the coordinator is its only writer)."""
    import json

    from skipless.bench.store import History

    paths = [p for p in paths if p]
    with History(db) as hist:
        for path in paths:
            hist.add(json.loads(Path(path).read_text()))
    return len(paths)


def train_grid(client, runs, dataset, models_dir: Path, checkpoints_dir: Path, results_dir: Path | None = None,
               log=print) -> list[str]:
    """Submit every run of ``runs`` that is not done, each after the runs it needs; wait; returns the
    artifacts trained. ``dataset`` is a Dataset or ``(name, data_dir)``."""
    from skipless.bench.store import results_dir as default_results
    from skipless.train import grid

    results = str(Path(results_dir or default_results()).resolve())
    Path(results).mkdir(parents=True, exist_ok=True)
    name = dataset[0] if isinstance(dataset, tuple) else dataset.name
    by_id = {r.artifact: r for r in runs}
    futures: dict[str, object] = {}
    for r in runs:  # plan order: a run's needs come before it
        if grid.run_state(r, models_dir, checkpoints_dir, name)["state"] == "done":
            continue
        for need in r.needs:
            if need not in by_id and not zoo_present(need, models_dir):
                raise SkiplessError(f"{r.artifact} needs {need}, which is neither trained nor part of this sweep")
        deps = [futures[n] for n in r.needs if n in futures]
        futures[r.artifact] = client.submit(train_task, r, dataset, str(models_dir), str(checkpoints_dir), results, *deps,
                                            key=f"train-{r.artifact}", pure=False)
        log(f"submitted {r.artifact}" + (f" (after {', '.join(n for n in r.needs if n in futures)})" if deps else ""))
    client.gather(list(futures.values()))
    # the train records of these runs, also those whose task's return value was lost with a killed worker
    # (the task ran again, found the run done and returned nothing): adding a record twice changes nothing
    from skipless.bench.store import load_results

    mine = [str(Path(results) / r["_file"]) for r in load_results(results) if r["kind"] == "train" and r["case"] in futures]
    _to_history(mine)
    return [a for a in futures if grid.run_state(by_id[a], models_dir, checkpoints_dir, name)["state"] == "done"]


def zoo_present(artifact: str, models_dir: Path) -> bool:
    from skipless import zoo

    return artifact in zoo.trained_artifacts(models_dir)


def verify_designs(client, designs: list[str], dataset, csim: int | str | None = None, cosim: int | str | None = None,
                   synth: bool = False, chunk: int = 500, results_dir: Path | None = None, log=print) -> list[dict]:
    """The hardware rows of ``designs``: C-simulation and co-simulation of ``csim``/``cosim`` test images
    in chunks of ``chunk``, and Yosys synthesis; returns the records written (one per design and kind)."""
    import json

    from skipless.bench.store import make_record, write_result
    from skipless.bench.store import results_dir as default_results
    from skipless.flow import check_count

    results = Path(results_dir or default_results()).resolve()
    results.mkdir(parents=True, exist_ok=True)
    ds = _dataset(dataset)
    spec = (ds.name, None) if isinstance(dataset, tuple) else dataset
    total = len(ds.x_test)
    jobs: dict[tuple[str, str], list] = {}
    for d in designs:
        for kind, count, task in (("csim", csim, csim_task), ("cosim", cosim, cosim_task)):
            if count is None:
                continue
            n = check_count(count, total)
            jobs[(d, kind)] = [client.submit(task, d, spec, a, min(a + chunk, n), key=f"{kind}-{d}-{a}", pure=False)
                               for a in range(0, n, chunk)]
        if synth:
            jobs[(d, "synth")] = [client.submit(synth_task, d, spec, str(results), key=f"synth-{d}", pure=False)]
    log(f"submitted {sum(len(v) for v in jobs.values())} task(s) for {len(designs)} design(s)")
    records, paths = [], []
    for (d, kind), futures in jobs.items():
        parts = client.gather(futures)
        if kind == "synth":
            paths += parts
            records.append(json.loads(Path(parts[0]).read_text()))
            continue
        images = sum(p["images"] for p in parts)
        bad = sorted(i for p in parts for i in p["mismatch_images"])
        metrics = {f"{kind}_match": (images - len(bad)) / images, f"{kind}_mismatches": len(bad)}
        metrics["rtl_accuracy" if kind == "cosim" else "csim_accuracy"] = 100 * sum(p["correct"] for p in parts) / images
        record = make_record(d, kind, metrics, params={"test_images": images, "chunks": len(parts), "cluster": True,
                                                          "first_mismatch_image": bad[0] if bad else None})
        paths.append(str(write_result(record, results)))
        records.append(record)
        log(f"{d} {kind}: {images - len(bad)}/{images} images bit-exact" + (f"; first mismatch at image {bad[0]}" if bad else ""))
    _to_history(paths)
    return records
