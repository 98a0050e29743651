"""The training recipe: hyper-parameters, optimizer and learning-rate schedule.

Defaults follow the standard CIFAR ResNet recipe (He et al.; Tailor's code): SGD with Nesterov
momentum 0.9, weight decay 1e-4 (an L2 term on every kernel, set in the builder), lr 0.1, and a
cosine or step schedule. The schedule is a function of the optimizer's iteration count, so it carries
on unchanged when training resumes or when skips are removed mid-run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from skipless.errors import SkiplessError

SCHEDULES = ("cosine", "step", "constant")


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    schedule: str = "cosine"
    step_epochs: int = 30  # step schedule: multiply lr by step_gamma every step_epochs epochs
    step_gamma: float = 0.1
    val_size: int = 5000
    limit: int | None = None  # use only the first `limit` training images (quick runs)
    augment: bool = True
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1:
            raise SkiplessError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise SkiplessError(f"batch size must be >= 1, got {self.batch_size}")
        if not math.isfinite(self.lr) or self.lr <= 0:
            raise SkiplessError(f"learning rate must be a finite number > 0, got {self.lr}")
        if self.schedule not in SCHEDULES:
            raise SkiplessError(f"unknown lr schedule {self.schedule!r}: use one of {', '.join(SCHEDULES)}")
        if self.limit is not None and self.limit < 1:
            raise SkiplessError(f"--limit must be >= 1, got {self.limit}")

    def to_dict(self) -> dict:
        return asdict(self)


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    import tensorflow as tf

    if config.schedule == "cosine":
        lr = tf.keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=config.epochs * steps_per_epoch)
    elif config.schedule == "step":
        boundaries = list(range(config.step_epochs, config.epochs, config.step_epochs))
        values = [config.lr * config.step_gamma**i for i in range(len(boundaries) + 1)]
        lr = tf.keras.optimizers.schedules.PiecewiseConstantDecay([b * steps_per_epoch for b in boundaries], values)
    else:
        lr = config.lr
    return tf.keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum, nesterov=config.nesterov)
