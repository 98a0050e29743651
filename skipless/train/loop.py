"""The training loop: seeded, one Keras ``fit`` per epoch over a freshly shuffled, augmented epoch.

A :class:`Trainer` wraps the student (and a frozen teacher for KD) with a custom train step; the
student and its optimizer live across all epochs, so momentum slots, the iteration count and the
learning-rate schedule carry on from epoch to epoch, and across skip removals (see
:mod:`skipless.train.skips`). Every epoch is checkpointed (student, optimizer, epoch, history), and a
run can resume from its last checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from skipless import data as data_mod
from skipless.errors import SkiplessError
from skipless.fileio import sha256_file, write_atomic
from skipless.train.kd import make_loss
from skipless.train.recipe import TrainConfig, make_optimizer


def seed_everything(seed: int) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def evaluate(model, ds: data_mod.Dataset, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy (0..1) of a logits model on uint8 images."""
    logits = model.predict(ds.normalize(x), batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))


def training_split(ds: data_mod.Dataset, config: TrainConfig):
    """((x, y) train, (x, y) validation) for a run: the seeded split, then --limit on the training part."""
    (x_train, y_train), val = ds.split(config.val_size, seed=config.seed)
    if config.limit:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    return (x_train, y_train), val


def steps_per_epoch(ds: data_mod.Dataset, config: TrainConfig) -> int:
    return math.ceil(len(training_split(ds, config)[0][0]) / config.batch_size)


def make_trainer(student, teacher=None, loss=None):
    """A Keras model whose ``fit`` trains ``student`` with ``loss(labels, student_logits, teacher_logits)``."""
    import tensorflow as tf

    loss = loss or make_loss(None)

    class Trainer(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.student = student
            self.teacher = teacher
            self.loss_mean = tf.keras.metrics.Mean(name="loss")
            self.accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        @property
        def metrics(self):
            return [self.loss_mean, self.accuracy]

        def call(self, x, training=False):
            return self.student(x, training=training)

        def train_step(self, batch):
            x, y = batch
            t_logits = self.teacher(x, training=False) if self.teacher is not None else None
            with tf.GradientTape() as tape:
                s_logits = self.student(x, training=True)
                value = loss(y, s_logits, t_logits)
                if self.student.losses:
                    value = value + tf.add_n(self.student.losses)
            variables = self.student.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True))
            self.loss_mean.update_state(value)
            self.accuracy.update_state(y, s_logits)
            return {"loss": self.loss_mean.result(), "accuracy": self.accuracy.result()}

    if teacher is not None:
        teacher.trainable = False
    return Trainer()


class Checkpoints:
    """Per-epoch checkpoints of a run, safe against a kill at any moment.

    Each epoch goes into its own folder ``epoch-NNNN/`` (student and optimizer variables, the
    history, and a manifest with the SHA-256 of every file). It is written under a temporary name
    and renamed into place only when complete, and the previous good epoch is kept, so a process
    killed mid-write leaves the last good checkpoint untouched. ``run.json`` records the run's
    configuration: a resume with a different one is refused, naming what differs.
    """

    KEEP = 2  # the newest complete epochs kept: a torn newest one still leaves the one before

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def config_file(self) -> Path:
        return self.folder / "run.json"

    def _epoch_dirs(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted((p for p in self.folder.glob("epoch-*") if p.is_dir()), reverse=True)

    @staticmethod
    def _valid(epoch_dir: Path) -> bool:
        manifest = epoch_dir / "MANIFEST.json"
        try:
            files = json.loads(manifest.read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return all((epoch_dir / name).is_file() and sha256_file(epoch_dir / name) == digest for name, digest in files.items())

    def latest(self) -> Path | None:
        """The newest checkpoint whose files are all present and match their manifest."""
        return next((d for d in self._epoch_dirs() if self._valid(d)), None)

    def exists(self) -> bool:
        return self.latest() is not None

    def epochs_done(self) -> int:
        latest = self.latest()
        return int(latest.name.split("-")[1]) if latest else 0

    def check_config(self, identity: dict, override: bool = False) -> None:
        """Refuse to continue a run whose recorded configuration differs from ``identity``."""
        if not self.config_file.exists():
            return
        try:
            recorded = json.loads(self.config_file.read_text())
        except ValueError as e:
            raise SkiplessError(f"{self.config_file} is not valid JSON ({e}); delete {self.folder} to start over") from e
        diffs = [f"{k} {recorded.get(k)!r} -> {identity.get(k)!r}" for k in sorted(set(recorded) | set(identity)) if recorded.get(k) != identity.get(k)]
        if diffs and not override:
            raise SkiplessError(
                f"--resume: the checkpoints in {self.folder} were made with another configuration ({'; '.join(diffs)}); "
                "resume with the same options, pass --override-resume-config to continue anyway, or delete the folder to start over"
            )

    def _checkpoint(self, student, optimizer):
        import tensorflow as tf

        return tf.train.Checkpoint(student=student, optimizer=optimizer)

    def save(self, student, optimizer, history: list[dict], identity: dict | None = None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        if identity is not None:
            write_atomic(self.config_file, json.dumps(identity, indent=1, sort_keys=True, default=str))
        final = self.folder / f"epoch-{len(history):04d}"
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.folder))
        try:
            self._checkpoint(student, optimizer).write(str(tmp / "state"))
            (tmp / "history.json").write_text(json.dumps(history, indent=1))
            files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir())}
            (tmp / "MANIFEST.json").write_text(json.dumps({"epoch": len(history), "files": files}, indent=1))
            if final.exists():  # a re-run of an epoch after a resume: replace it
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in self._epoch_dirs()[self.KEEP :]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def clean_partial(self) -> None:
        """Remove the temporary folders of checkpoints whose writer was killed."""
        for tmp in self.folder.glob(".epoch-*"):
            shutil.rmtree(tmp, ignore_errors=True)

    def restore(self, student, optimizer, log: Callable[[str], None] = print) -> list[dict]:
        """Load the newest good checkpoint (falling back to the one before if TensorFlow cannot read it)."""
        self.clean_partial()
        candidates = [d for d in self._epoch_dirs() if self._valid(d)]
        torn = [d.name for d in self._epoch_dirs() if d not in candidates]
        if torn:
            log(f"ignoring incomplete checkpoint(s) {', '.join(torn)} in {self.folder} (a run killed while writing)")
        for epoch_dir in candidates:
            try:
                self._checkpoint(student, optimizer).read(str(epoch_dir / "state")).assert_existing_objects_matched()
                return json.loads((epoch_dir / "history.json").read_text())
            except Exception as e:  # TensorFlow raises OpError / AssertionError / ValueError for a bad file
                log(f"cannot read checkpoint {epoch_dir} ({type(e).__name__}); trying the one before")
        if self._epoch_dirs():
            raise SkiplessError(f"no readable checkpoint in {self.folder}: delete the folder to start the run over")
        return []


def build_optimizer(trainer, config: TrainConfig, steps_per_epoch: int, start_step: int = 0):
    """Compile ``trainer`` with a fresh optimizer whose schedule starts at ``start_step``."""
    optimizer = make_optimizer(config, steps_per_epoch)
    if start_step:
        optimizer.iterations.assign(start_step)
    trainer.compile(optimizer=optimizer)
    trainer.optimizer.build(trainer.student.trainable_variables)
    return optimizer


def fit(
    student,
    ds: data_mod.Dataset,
    config: TrainConfig,
    teacher=None,
    loss=None,
    log: Callable[[str], None] = print,
    epoch_end: Callable[[int, dict], object] | None = None,
    describe: Callable[[], dict] | None = None,
    checkpoints: Checkpoints | None = None,
    resume: bool = False,
    stop_after: int | None = None,
    identity: dict | None = None,
) -> list[dict]:
    """Train ``student`` in place and return the per-epoch history.

    ``epoch_end(epoch, row)`` runs after each epoch (1-based); it may return a replacement trainer
    (the rebuild-per-step ablation). ``describe()`` adds fields to each history row (e.g. skips
    left). ``stop_after`` ends the run after that many epochs in total (an interruption, resumable).
    ``identity`` (the run's configuration) is stored with the checkpoints. A loss that stops being
    finite ends the run with an error before anything of that epoch is saved.
    """
    (x_train, y_train), (x_val, y_val) = training_split(ds, config)
    steps = math.ceil(len(x_train) / config.batch_size)
    trainer = make_trainer(student, teacher, loss)
    build_optimizer(trainer, config, steps)
    history: list[dict] = []
    if resume and checkpoints:
        history = checkpoints.restore(trainer.student, trainer.optimizer, log)
        if history:
            log(f"resumed from {checkpoints.folder} after epoch {len(history)}")
        else:
            log(f"no complete checkpoint in {checkpoints.folder}: starting from epoch 1")
    for epoch in range(len(history), config.epochs):
        if stop_after is not None and epoch >= stop_after:
            log(f"stopped after epoch {epoch} (resume with --resume)")
            break
        start = time.time()
        pipe = data_mod.train_pipeline(ds, x_train, y_train, config.batch_size, config.seed, epoch, config.augment)
        out = trainer.fit(pipe, epochs=1, verbose=0)
        seconds = time.time() - start
        lr = trainer.optimizer.learning_rate
        lr_now = float(lr(trainer.optimizer.iterations) if callable(lr) else lr)
        if not math.isfinite(out.history["loss"][-1]):
            raise SkiplessError(
                f"training diverged: the loss is {out.history['loss'][-1]} in epoch {epoch + 1} (lr {lr_now:.4g}); "
                "nothing of this epoch was saved. Lower --lr or check the data."
            )
        row = {
            "epoch": epoch + 1,
            "loss": float(out.history["loss"][-1]),
            "accuracy": float(out.history["accuracy"][-1]),
            "val_accuracy": evaluate(trainer.student, ds, x_val, y_val) if len(x_val) else None,
            "lr": lr_now,
            "seconds": round(seconds, 2),
            "images_per_s": round(len(x_train) / seconds, 1),
        }
        replacement = epoch_end(epoch + 1, row) if epoch_end else None
        if replacement is not None:
            trainer = replacement
        if describe:
            row.update(describe())
        history.append(row)
        val = f"  val_acc {100 * row['val_accuracy']:.2f}%" if row["val_accuracy"] is not None else ""
        skips = f"  skips {row['skips']}" if "skips" in row else ""
        log(
            f"epoch {epoch + 1}/{config.epochs}  loss {row['loss']:.4f}  acc {100 * row['accuracy']:.2f}%{val}"
            f"  lr {lr_now:.4g}{skips}  ({seconds:.0f} s, {row['images_per_s']:.0f} img/s)"
        )
        if checkpoints:
            checkpoints.save(trainer.student, trainer.optimizer, history, identity)
    return history
