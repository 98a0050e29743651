"""Training: the CIFAR recipe (this module), and the compression methods built on it."""

from skipless.train.loop import evaluate, fit, train_variant
from skipless.train.recipe import TrainConfig

__all__ = ["TrainConfig", "evaluate", "fit", "train_variant"]
