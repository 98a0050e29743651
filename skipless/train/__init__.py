"""Training: the CIFAR recipe, KD, iterative skip removal/shortening, QAT (see methods.run)."""

from skipless.train.loop import evaluate, fit
from skipless.train.methods import METHODS, TrainJob, run
from skipless.train.recipe import TrainConfig

__all__ = ["METHODS", "TrainConfig", "TrainJob", "evaluate", "fit", "run"]
