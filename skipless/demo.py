"""The demo: the whole flow on the embedded dataset in a few minutes.

Train a quantized ResNet-8 (w8a8, with skips) on Fashion-MNIST for a short budget, fold its BatchNorm,
convert it with hls4ml (bit-exact types), and check the C-simulation against QKeras on test images.
"""

from __future__ import annotations

import time
from pathlib import Path

from skipless import data, hls, zoo
from skipless.fold import fold_batchnorm
from skipless.train import TrainConfig, TrainJob, run

DEMO_VARIANT = "r8-skip-w8a8"


def run_demo(epochs: int = 2, limit: int = 12000, n_csim: int = 100, out_dir: str | Path = "runs/demo") -> int:
    out = Path(out_dir)
    ds = data.load("fashion_mnist")
    print(f"[1/3] train {DEMO_VARIANT} on {ds.name} ({limit} images, {epochs} epochs)")
    job = TrainJob(DEMO_VARIANT, "normal", TrainConfig(epochs=epochs, limit=limit, val_size=2000, seed=0))
    model, card = run(job, ds, checkpoint_dir=out / "checkpoints" / job.artifact_id)
    zoo.save_artifact(model, card, out / "models")
    print(f"      test accuracy (QKeras, 10000 images): {100 * card['metrics']['test_accuracy']:.2f}%")

    print("[2/3] fold BatchNorm and convert with hls4ml (bit_exact=True)")
    hw = fold_batchnorm(model, zoo.card_arch(card))
    project = hls.convert(hw, out / "hls" / DEMO_VARIANT, source={"id": DEMO_VARIANT})

    print(f"[3/3] C-simulation of {n_csim} test images against QKeras")
    x = ds.normalize(ds.x_test[:n_csim])
    start = time.time()
    result = hls.verify(hw, project, x)
    seconds = time.time() - start
    correct = (result.csim_outputs.reshape(n_csim, -1).argmax(axis=1) == ds.y_test[:n_csim]).mean()
    print(f"      {result.summary()} ({n_csim / seconds:.1f} images/s)")
    print(f"      C-sim accuracy on those images: {100 * correct:.2f}%")
    return 0 if result.bit_exact else 1
