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
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from skipless import data as data_mod
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
    """Per-epoch checkpoints of a run: student and optimizer variables, epochs done, history."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    @property
    def history_file(self) -> Path:
        return self.folder / "history.json"

    def exists(self) -> bool:
        return self.history_file.exists()

    def _checkpoint(self, student, optimizer):
        import tensorflow as tf

        return tf.train.Checkpoint(student=student, optimizer=optimizer)

    def save(self, student, optimizer, history: list[dict]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._checkpoint(student, optimizer).write(str(self.folder / "state"))
        tmp = self.history_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(history, indent=1))
        os.replace(tmp, self.history_file)  # the history names the epochs the state holds

    def restore(self, student, optimizer) -> list[dict]:
        self._checkpoint(student, optimizer).read(str(self.folder / "state")).assert_existing_objects_matched()
        return json.loads(self.history_file.read_text())


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
) -> list[dict]:
    """Train ``student`` in place and return the per-epoch history.

    ``epoch_end(epoch, row)`` runs after each epoch (1-based); it may return a replacement trainer
    (the rebuild-per-step ablation). ``describe()`` adds fields to each history row (e.g. skips
    left). ``stop_after`` ends the run after that many epochs in total (an interruption, resumable).
    """
    (x_train, y_train), (x_val, y_val) = training_split(ds, config)
    steps = math.ceil(len(x_train) / config.batch_size)
    trainer = make_trainer(student, teacher, loss)
    build_optimizer(trainer, config, steps)
    history: list[dict] = []
    if resume and checkpoints and checkpoints.exists():
        history = checkpoints.restore(trainer.student, trainer.optimizer)
        log(f"resumed from {checkpoints.folder} after epoch {len(history)}")
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
            checkpoints.save(trainer.student, trainer.optimizer, history)
    return history
