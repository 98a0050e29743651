"""The trained benchmark grid: every depth x quant cell with its skip, noskip and short designs.

Each cell (depth D, quant Q) holds four artifacts, trained on the full training set:

    rD-skip-Q.qat          the teacher: QAT fine-tuning of a float ResNet with skips
    rD-noskip-Q.iter-kept  skips removed one step at a time in ONE run, optimizer kept, Tailor KD
                           from the teacher, started from the teacher's weights
    rD-short-Q.shorten     long skips turned into Tailor's short ones on the same schedule, same teacher
    rD-noskip-Q.qat        the accuracy control: a skip-less net trained normally (float, then QAT)

and the two float nets of a depth (``rD-skip-float.normal``, ``rD-noskip-float.normal``) are shared
by all its quant specs. :func:`plan` lists the runs in dependency order (r8 first, then r20); the
sweep (:func:`train`) runs what is left, one run at a time, checkpointing every epoch. A finished
run is an artifact in models/ whose card records the planned configuration, and is never redone; a
killed run continues from its last good checkpoint with ``resume``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from skipless import zoo
from skipless.errors import SkiplessError
from skipless.fileio import exclusive, lock_holder, write_atomic
from skipless.train.loop import Checkpoints
from skipless.train.recipe import TrainConfig

CELLS: dict[int, tuple[str, ...]] = {8: ("w8a8", "w4a4", "w6a8", "w16a16"), 20: ("w8a8", "w4a4")}
ROLES = ("float", "teacher", "noskip", "short", "control")


@dataclass(frozen=True)
class Budget:
    """Epochs and learning rates of one depth's runs (cosine schedule, batch 128, 5 000 validation images)."""

    float_epochs: int = 20  # float nets from scratch, lr 0.1
    qat_epochs: int = 8  # QAT fine-tuning of a float net, lr `finetune_lr`
    student_epochs: int = 10  # noskip / short students from the teacher's weights, lr `finetune_lr`
    every: int = 2  # skips change every `every` epochs ...
    finetune_lr: float = 0.02

    def per_step(self, depth: int) -> int:
        """... `per_step` at a time, so that every skip has changed after three steps (epoch 3 x every)."""
        n_blocks = 3 * (depth - 2) // 6
        return -(-n_blocks // 3)


BUDGETS = {8: Budget(), 20: Budget()}


@dataclass
class GridRun:
    artifact: str
    role: str
    depth: int
    quant: str
    job: object  # TrainJob
    needs: tuple[str, ...] = field(default_factory=tuple)


def _job(variant: str, method: str, epochs: int, lr: float, seed: int, **kw):
    from skipless.train.methods import TrainJob

    return TrainJob(variant, method, TrainConfig(epochs=epochs, lr=lr, seed=seed), **kw)


def plan(depths=None, quants=None, seed: int = 0) -> list[GridRun]:
    """The grid's runs in the order the sweep trains them: per depth its floats, then cell by cell."""
    runs: list[GridRun] = []
    for depth, cell_quants in CELLS.items():
        if depths and depth not in depths:
            continue
        b = BUDGETS[depth]
        chosen = [q for q in cell_quants if not quants or q in quants]
        if not chosen:
            continue
        floats = {skip: f"r{depth}-{skip}-float.normal" for skip in ("skip", "noskip")}
        for skip, artifact in floats.items():
            runs.append(GridRun(artifact, "float", depth, "float", _job(f"r{depth}-{skip}-float", "normal", b.float_epochs, 0.1, seed)))
        for q in chosen:
            teacher = f"r{depth}-skip-{q}.qat"
            ft = dict(epochs=b.qat_epochs, lr=b.finetune_lr, seed=seed)
            st = dict(epochs=b.student_epochs, lr=b.finetune_lr, seed=seed, teacher=teacher, init=teacher, kd_loss="tailor",
                      every=b.every, per_step=b.per_step(depth))
            runs += [
                GridRun(teacher, "teacher", depth, q, _job(f"r{depth}-skip-{q}", "qat", init=floats["skip"], **ft), (floats["skip"],)),
                GridRun(f"r{depth}-noskip-{q}.iter-kept", "noskip", depth, q, _job(f"r{depth}-noskip-{q}", "iterative", **st), (teacher,)),
                GridRun(f"r{depth}-short-{q}.shorten", "short", depth, q, _job(f"r{depth}-short-{q}", "shorten", **st), (teacher,)),
                GridRun(f"r{depth}-noskip-{q}.qat", "control", depth, q, _job(f"r{depth}-noskip-{q}", "qat", init=floats["noskip"], **ft),
                        (floats["noskip"],)),
            ]
    for r in runs:
        assert r.job.artifact_id == r.artifact, (r.job.artifact_id, r.artifact)
    return runs


def hardware_designs(models_dir: Path | None = None) -> list[str]:
    """The trained grid's hardware designs present in models/ (teacher, noskip and short of each cell)."""
    present = set(zoo.trained_artifacts(models_dir))
    return [r.artifact for r in plan() if r.role in ("teacher", "noskip", "short") and r.artifact in present]


# ---------------------------------------------------------------- state


def _identity(run: GridRun, dataset: str) -> dict:
    return {**run.job.identity(), "dataset": dataset}


def run_state(run: GridRun, models_dir: Path, checkpoints_dir: Path, dataset: str) -> dict:
    """``{"state": done|conflict|partial|left, ...}`` of one run, from models/ and its checkpoints."""
    card_path = zoo.artifact_paths(run.artifact, models_dir)[1]
    if card_path.exists():
        card = zoo.read_card(run.artifact, models_dir)
        recorded = {**card.get("training", {}), "dataset": card.get("dataset")}
        planned = {k: v for k, v in _identity(run, dataset).items() if k != "variant"}
        differs = sorted(k for k, v in planned.items() if recorded.get(k) != v)
        state = "conflict" if differs else "done"
        return {
            "state": state,
            "epochs": card.get("epochs_done"),
            "test_accuracy": card.get("metrics", {}).get("test_accuracy"),
            "seconds": card.get("wall_seconds") or sum(row.get("seconds", 0) for row in card.get("history", [])),
            "differs": differs,
        }
    ckpt = Checkpoints(checkpoints_dir / run.artifact)
    done = ckpt.epochs_done()
    if done:
        return {"state": "partial", "epochs": done}
    return {"state": "left", "epochs": 0}


def status(runs: list[GridRun], models_dir: Path, checkpoints_dir: Path, dataset: str) -> list[dict]:
    running_pid = lock_holder(checkpoints_dir)
    current = _current(checkpoints_dir) if running_pid else None
    rows = []
    for r in runs:
        st = run_state(r, models_dir, checkpoints_dir, dataset)
        if current == r.artifact and st["state"] in ("partial", "left"):
            st = {**st, "state": "running", "pid": running_pid}
        rows.append({"artifact": r.artifact, "role": r.role, "depth": r.depth, "quant": r.quant,
                     "epochs_planned": r.job.config.epochs, "needs": list(r.needs), **st})
    return rows


def _current(checkpoints_dir: Path) -> str | None:
    path = checkpoints_dir / "CURRENT"
    return path.read_text().strip() if path.exists() else None


# ---------------------------------------------------------------- sweep


def check_ready(run: GridRun, models_dir: Path, runs: list[GridRun]) -> None:
    """A run whose teacher or init artifact is missing says which run to do first."""
    present = set(zoo.trained_artifacts(models_dir))
    missing = [n for n in run.needs if n not in present]
    if missing:
        raise SkiplessError(
            f"{run.artifact} needs {', '.join(missing)} first: run 'skipless grid train --only {','.join(missing)}' "
            "(or 'skipless grid train' for the whole grid in order)"
        )


def train(
    runs: list[GridRun],
    ds,
    models_dir: Path,
    checkpoints_dir: Path,
    resume: bool = False,
    log: Callable[[str], None] = print,
    stop_after_runs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Train every run of ``runs`` that is not done, in order; returns the artifacts trained now.

    One sweep per checkpoints folder at a time (a lock). A run with checkpoints continues from them
    only with ``resume``; otherwise the sweep stops and says so, so that nothing is silently redone.
    """
    trained: list[str] = []
    with exclusive(checkpoints_dir, "grid sweep"):
        for r in runs:
            st = run_state(r, models_dir, checkpoints_dir, ds.name)
            if st["state"] == "done":
                continue
            if st["state"] == "conflict":
                raise SkiplessError(
                    f"models/{r.artifact} exists but was trained with other settings ({', '.join(st['differs'])}): "
                    "move it away to let the grid train its own"
                )
            if st["state"] == "partial" and not resume:
                raise SkiplessError(
                    f"{r.artifact} has checkpoints up to epoch {st['epochs']} in {checkpoints_dir / r.artifact}: "
                    "continue with 'skipless grid train --resume' (or delete that folder to start the run over)"
                )
            check_ready(r, models_dir, runs)
            if stop_after_runs is not None and len(trained) >= stop_after_runs:
                break
            write_atomic(checkpoints_dir / "CURRENT", r.artifact + "\n")
            train_one(r, ds, models_dir, checkpoints_dir, resume=st["state"] == "partial", log=log)
            trained.append(r.artifact)
            if progress:
                progress(sum(run_state(x, models_dir, checkpoints_dir, ds.name)["state"] == "done" for x in runs), len(runs))
        (checkpoints_dir / "CURRENT").unlink(missing_ok=True)
    return trained


def train_one(r: GridRun, ds, models_dir: Path, checkpoints_dir: Path, resume: bool, log: Callable[[str], None] = print) -> dict:
    """Train one run of the grid (its checkpoints in ``checkpoints_dir/<artifact>``) and save its artifact;
    returns the card. The sweep above calls it one run at a time; :mod:`skipless.cluster` as a task."""
    from skipless.train.methods import run as run_job

    log(f"== grid: {r.artifact} ({r.role}, {r.job.config.epochs} epochs)")
    start = time.time()
    model, card = run_job(r.job, ds, log=log, checkpoint_dir=checkpoints_dir / r.artifact, resume=resume, models_dir=models_dir)
    card = {**card, "grid": {"role": r.role, "cell": f"r{r.depth}-{r.quant}"}, "wall_seconds": round(time.time() - start, 1)}
    zoo.save_artifact(model, card, models_dir)
    log(f"== grid: saved {r.artifact}: test accuracy {100 * card['metrics']['test_accuracy']:.2f}% "
        f"({card['wall_seconds'] / 60:.1f} min this session)")
    return zoo.read_card(r.artifact, models_dir)


def select(runs: list[GridRun], only: list[str] | None) -> list[GridRun]:
    if not only:
        return runs
    by_id = {r.artifact: r for r in runs}
    unknown = [a for a in only if a not in by_id]
    if unknown:
        raise SkiplessError(f"not a run of the grid: {', '.join(unknown)}; 'skipless grid status' lists them")
    return [by_id[a] for a in only]


def with_budget(runs: list[GridRun], epochs: int | None = None, **config) -> list[GridRun]:
    """The same runs with every epoch budget set to ``epochs`` and other TrainConfig fields replaced
    (quick sweeps; tests)."""
    if epochs is None and not config:
        return runs
    out = []
    for r in runs:
        if epochs is not None:
            config["epochs"] = epochs
        job = replace(r.job, config=replace(r.job.config, **config))
        if epochs is not None and job.method in ("iterative", "shorten"):  # every skip changed within the budget
            n_blocks = 3 * (r.depth - 2) // 6
            job = replace(job, every=1, per_step=-(-n_blocks // epochs))
        out.append(replace(r, job=job))
    return out
