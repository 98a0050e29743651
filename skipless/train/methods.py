"""Training methods: normal, KD, iterative skip removal (optimizer kept / rebuilt per step),
skip shortening, and QAT from a float model. One entry point, :func:`run`.

Artifact ids name the method: ``r20-noskip-w8a8.kd-tailor``, ``r20-noskip-w8a8.iter-kept``,
``r20-noskip-w8a8.iter-rebuild``, ``r20-short-w8a8.shorten``, ``r20-skip-w8a8.qat``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from skipless import data as data_mod
from skipless import workspace, zoo
from skipless.errors import SkiplessError
from skipless.fold import transfer_weights
from skipless.resnet import ResNetArch, count_adds
from skipless.train import skips as skip_ops
from skipless.train.kd import KD_LOSSES, make_loss
from skipless.train.loop import (
    Checkpoints,
    build_optimizer,
    evaluate,
    fit,
    make_trainer,
    seed_everything,
    steps_per_epoch,
)
from skipless.train.recipe import TrainConfig

METHODS = ("normal", "kd", "iterative", "iterative-rebuild", "shorten", "qat")


@dataclass
class TrainJob:
    variant: str  # the target variant: r20-noskip-w8a8
    method: str = "normal"
    config: TrainConfig = field(default_factory=TrainConfig)
    teacher: str | None = None  # artifact id of a frozen teacher (KD)
    kd_loss: str | None = None  # hinton / tailor; defaults to tailor when a teacher is given
    temperature: float = 4.0
    alpha: float = 0.9
    init: str | None = None  # artifact id whose weights initialise the student (e.g. the teacher)
    every: int = 3  # iterative / shorten: change skips every k epochs
    per_step: int = 1
    n_skips: int | None = None  # how many skips to change (default: all)
    order: list[int] = field(default_factory=list)  # block indices; default head (input side) first

    @property
    def method_tag(self) -> str:
        return {
            "normal": "normal",
            "kd": f"kd-{self.kd_loss}",
            "iterative": "iter-kept",
            "iterative-rebuild": "iter-rebuild",
            "shorten": "shorten",
            "qat": "qat",
        }[self.method]

    @property
    def artifact_id(self) -> str:
        return f"{zoo.parse_id(self.variant).base}.{self.method_tag}"

    def identity(self) -> dict:
        """Everything that decides the trained weights (the resume check compares it)."""
        return {**{k: v for k, v in asdict(self).items() if k != "config"}, **self.config.to_dict()}


@dataclass
class Prepared:
    """Everything checked and loaded before the first epoch."""

    target: ResNetArch  # the architecture the artifact will have
    start: ResNetArch  # the architecture training starts from (skips present for iterative methods)
    teacher: object | None
    init_model: object | None
    schedule: skip_ops.SkipSchedule | None


def _load_frozen(artifact_id: str, what: str, models_dir: Path | None):
    if not zoo.parse_id(artifact_id).method:
        raise SkiplessError(f"--{what} needs a trained artifact id (like r20-skip-w8a8.normal), got {artifact_id!r}")
    return zoo.load_artifact(artifact_id, models_dir)


def prepare(job: TrainJob, ds: data_mod.Dataset, models_dir: Path | None = None) -> Prepared:
    """Validate the job against the dataset and its teacher; every error comes before any training."""
    if job.method not in METHODS:
        raise SkiplessError(f"unknown training method {job.method!r}: use one of {', '.join(METHODS)}")
    vid = zoo.parse_id(job.variant)
    target = vid.arch(ds.input_shape, len(ds.classes))
    if job.teacher and job.kd_loss is None:
        job.kd_loss = "tailor"
    if job.method == "kd" and not job.teacher:
        raise SkiplessError("--method kd needs --teacher ARTIFACT (a trained model, e.g. r20-skip-w8a8.normal)")
    if job.kd_loss is not None and job.kd_loss not in KD_LOSSES:
        raise SkiplessError(f"unknown KD loss {job.kd_loss!r}: use one of {', '.join(KD_LOSSES)}")
    make_loss(job.kd_loss, job.temperature, job.alpha)  # validates T and alpha

    teacher = None
    if job.teacher:
        teacher, card = _load_frozen(job.teacher, "teacher", models_dir)
        t_arch = zoo.card_arch(card)
        if card.get("dataset") != ds.name:
            raise SkiplessError(f"teacher {job.teacher} was trained on {card.get('dataset')}, the student trains on {ds.name}")
        if t_arch.input_shape != target.input_shape or t_arch.num_classes != target.num_classes:
            raise SkiplessError(
                f"teacher {job.teacher} takes {t_arch.input_shape} and gives {t_arch.num_classes} classes; the student "
                f"takes {target.input_shape} and gives {target.num_classes}: they cannot be distilled"
            )
    init_model = None
    if job.init:
        init_model, card = _load_frozen(job.init, "init", models_dir)
        i_arch = zoo.card_arch(card)
        if i_arch.depth != target.depth or i_arch.input_shape != target.input_shape:
            raise SkiplessError(f"--init {job.init} is a ResNet-{i_arch.depth} on {i_arch.input_shape}; the student is ResNet-{target.depth} on {target.input_shape}")
    elif job.method == "qat":
        raise SkiplessError("--method qat fine-tunes a trained model: give --init ARTIFACT (e.g. r20-skip-float.normal)")

    schedule, start = None, target
    if job.method in ("iterative", "iterative-rebuild", "shorten"):
        kind = "shorten" if job.method == "shorten" else "remove"
        if set(target.skip_modes) != {kind}:
            raise SkiplessError(f"--method {job.method} trains towards a {'short' if kind == 'shorten' else 'noskip'} variant, not {job.variant}")
        start = replace(target, skip_modes="keep")
        order = job.order or list(range(len(start.skip_modes)))
        if job.n_skips is not None:
            if job.n_skips > len(order):
                raise SkiplessError(f"cannot change {job.n_skips} skips: ResNet-{target.depth} has {len(order)}")
            if job.n_skips < 1:
                raise SkiplessError(f"--n-skips must be >= 1, got {job.n_skips}")
            order = order[: job.n_skips]
        schedule = skip_ops.SkipSchedule(kind, job.every, job.per_step, order)
        schedule.validate(start, job.config.epochs)
        if job.n_skips is not None and job.n_skips < len(start.skip_modes):
            # a partial run ends with some skips left: the exported model is a mixed-mode variant
            target = replace(target, skip_modes=schedule.modes_after(start.skip_modes, job.config.epochs))
    return Prepared(target, start, teacher, init_model, schedule)


def run(
    job: TrainJob,
    ds: data_mod.Dataset,
    log: Callable[[str], None] = print,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    models_dir: Path | None = None,
    override_resume_config: bool = False,
):
    """Train per ``job``; returns (training model of the target architecture, model card).

    Teacher and init artifacts are read from ``models_dir`` (default: models/). ``resume`` continues
    from the run's last good checkpoint; a checkpoint made with another configuration is refused
    unless ``override_resume_config``."""
    prep = prepare(job, ds, models_dir)
    seed_everything(job.config.seed)
    name = job.artifact_id.replace(".", "_").replace("-", "_")
    gated = prep.schedule is not None
    student = prep.start.build(name=name, gated=gated)
    if prep.init_model is not None:
        transfer_weights(prep.init_model, student)
    checkpoints = Checkpoints(checkpoint_dir or workspace.current().runs / job.artifact_id)
    identity = {**job.identity(), "dataset": ds.name}
    if resume:
        checkpoints.check_config(identity, override=override_resume_config)
    loss = make_loss(job.kd_loss if prep.teacher is not None else None, job.temperature, job.alpha)
    state = {"student": student}

    def modes() -> list[str]:
        return skip_ops.block_modes(state["student"], prep.start) if gated else list(prep.target.skip_modes)

    def epoch_end(epoch: int, row: dict):
        if not gated:
            return None
        blocks = prep.schedule.blocks_after_epoch(epoch)
        if not blocks:
            return None
        target_mode = skip_ops.KINDS[prep.schedule.kind][1]
        for b in blocks:
            skip_ops.set_block_mode(state["student"], prep.start, b, target_mode)
        log(f"  after epoch {epoch}: {prep.schedule.kind} skip of block(s) {blocks}")
        if job.method != "iterative-rebuild":
            return None
        # the student study's way: a new model and a new optimizer, weights carried over
        old = state["student"]
        fresh = replace(prep.start, skip_modes=modes()).build(name=name, gated=True)
        transfer_weights(old, fresh)
        state["student"] = fresh
        trainer = make_trainer(fresh, prep.teacher, loss)
        steps = steps_per_epoch(ds, job.config)
        build_optimizer(trainer, job.config, steps, start_step=epoch * steps)  # the lr schedule goes on; the state does not
        return trainer

    log(f"training {job.artifact_id} ({job.method}) on {ds.name}: start {skip_ops.count_skips(modes())} skip additions"
        + (f", teacher {job.teacher} ({job.kd_loss} loss)" if prep.teacher is not None else ""))
    history = fit(
        student,
        ds,
        job.config,
        teacher=prep.teacher,
        loss=loss,
        log=log,
        epoch_end=epoch_end,
        describe=lambda: {"skips": skip_ops.count_skips(modes())},
        checkpoints=checkpoints,
        resume=resume,
        stop_after=stop_after,
        identity=identity,
    )
    final, final_arch = state["student"], prep.target
    if gated:
        final, final_arch = skip_ops.export(final, prep.start, name=name)
    test_acc = evaluate(final, ds, ds.x_test, ds.y_test)
    log(f"{job.artifact_id}: test accuracy {100 * test_acc:.2f}% on {len(ds.x_test)} {ds.name} test images, {count_adds(final)} skip additions")
    card = {
        "id": job.artifact_id,
        "arch": final_arch.to_dict(),
        "dataset": ds.name,
        "training": {
            "method": job.method,
            **{k: v for k, v in asdict(job).items() if k not in ("config", "variant", "method")},
            **job.config.to_dict(),
        },
        "metrics": {"test_accuracy": test_acc, "val_accuracy": history[-1]["val_accuracy"] if history else None},
        "history": history,
        "epochs_done": len(history),
        "complete": len(history) == job.config.epochs,
    }
    return final, card
