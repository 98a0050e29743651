"""The training loop: seeded, one Keras ``fit`` per epoch over a freshly shuffled, augmented epoch.

The model and its optimizer live across all epochs (one compiled model), so momentum slots, the
iteration count and the schedule carry on from epoch to epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from skipless import data as data_mod
from skipless.train.recipe import TrainConfig, make_optimizer


def seed_everything(seed: int) -> None:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def evaluate(model, ds: data_mod.Dataset, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy (0..1) of a logits model on uint8 images."""
    logits = model.predict(ds.normalize(x), batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(logits, axis=1) == y))


def fit(
    model,
    ds: data_mod.Dataset,
    config: TrainConfig,
    loss=None,
    log: Callable[[str], None] = print,
    epoch_end: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Train ``model`` in place; returns the per-epoch history (loss, accuracy, val accuracy, lr, time)."""
    import tensorflow as tf

    (x_train, y_train), (x_val, y_val) = ds.split(config.val_size, seed=config.seed)
    if config.limit:
        x_train, y_train = x_train[: config.limit], y_train[: config.limit]
    steps = math.ceil(len(x_train) / config.batch_size)
    model.compile(
        optimizer=make_optimizer(config, steps),
        loss=loss or tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    history = []
    for epoch in range(config.epochs):
        start = time.time()
        pipe = data_mod.train_pipeline(ds, x_train, y_train, config.batch_size, config.seed, epoch, config.augment)
        out = model.fit(pipe, epochs=1, verbose=0)
        seconds = time.time() - start
        lr = model.optimizer.learning_rate
        lr_now = float(lr(model.optimizer.iterations) if callable(lr) else lr)
        row = {
            "epoch": epoch + 1,
            "loss": float(out.history["loss"][-1]),
            "accuracy": float(out.history["accuracy"][-1]),
            "val_accuracy": evaluate(model, ds, x_val, y_val) if len(x_val) else None,
            "lr": lr_now,
            "seconds": round(seconds, 2),
            "images_per_s": round(len(x_train) / seconds, 1),
        }
        history.append(row)
        val = f"  val_acc {100 * row['val_accuracy']:.2f}%" if row["val_accuracy"] is not None else ""
        log(
            f"epoch {epoch + 1}/{config.epochs}  loss {row['loss']:.4f}  acc {100 * row['accuracy']:.2f}%{val}"
            f"  lr {lr_now:.4g}  ({seconds:.0f} s, {row['images_per_s']:.0f} img/s)"
        )
        if epoch_end:
            epoch_end(epoch, row)
    return history


def train_variant(variant, ds: data_mod.Dataset, config: TrainConfig, log: Callable[[str], None] = print):
    """Normal training of a zoo variant from scratch: returns (training model, model card)."""
    from skipless.resnet import count_adds

    seed_everything(config.seed)
    arch = variant.arch(ds.input_shape, len(ds.classes))
    model = arch.build(name=str(variant).replace(".", "_").replace("-", "_"))
    log(f"training {variant} on {ds.name}: {count_adds(model)} skip additions, {model.count_params()} parameters")
    history = fit(model, ds, config, log=log)
    test_acc = evaluate(model, ds, ds.x_test, ds.y_test)
    log(f"{variant}: test accuracy {100 * test_acc:.2f}% on {len(ds.x_test)} {ds.name} test images")
    card = {
        "id": str(variant),
        "arch": arch.to_dict(),
        "dataset": ds.name,
        "training": {"method": variant.method or "normal", **config.to_dict()},
        "metrics": {"test_accuracy": test_acc, "val_accuracy": history[-1]["val_accuracy"]},
        "history": history,
    }
    return model, card
