"""The demo: the whole flow on the embedded dataset in a few minutes.

1. train a quantized ResNet-8 teacher (w8a8, with skips) on Fashion-MNIST for a short budget;
2. remove its skips one at a time in one training run with KD (Tailor's loss), optimizer kept;
3. fold BatchNorm, convert the skip-less student with hls4ml (bit-exact types), and check its
   C-simulation against QKeras on test images;
4. generate the student's open RTL and co-simulate it with cocotb (Verilator, else Icarus) on a few
   test images, bit for bit against QKeras, with its latency in cycles.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from skipless import cosim, data, zoo
from skipless.flow import Build
from skipless.fold import fold_batchnorm
from skipless.resnet import count_adds
from skipless.train import TrainConfig, TrainJob, run

TEACHER = "r8-skip-w8a8"
STUDENT = "r8-noskip-w8a8"


def run_demo(epochs: int = 2, limit: int = 12000, n_csim: int = 100, out_dir: str | Path = "runs/demo", n_cosim: int = 10) -> int:
    out = Path(out_dir)
    models = out / "models"
    ds = data.load("fashion_mnist")
    config = TrainConfig(epochs=epochs, limit=limit, val_size=2000, seed=0)

    print(f"[1/5] train the teacher {TEACHER} on {ds.name} ({limit} images, {epochs} epochs)")
    job = TrainJob(TEACHER, "normal", config)
    teacher, t_card = run(job, ds, checkpoint_dir=out / "checkpoints" / job.artifact_id)
    zoo.save_artifact(teacher, t_card, models)

    student_epochs = epochs + 2  # three removals, then a last epoch with no skip left
    print(f"[2/5] remove its {count_adds(teacher)} skips one per epoch with KD, optimizer kept ({student_epochs} epochs)")
    job = TrainJob(
        STUDENT,
        "iterative",
        TrainConfig(epochs=student_epochs, limit=limit, val_size=2000, seed=0),
        teacher=job.artifact_id,
        init=job.artifact_id,
        kd_loss="tailor",
        every=1,
    )
    student, s_card = run(job, ds, checkpoint_dir=out / "checkpoints" / job.artifact_id, models_dir=models)
    zoo.save_artifact(student, s_card, models)

    print("[3/5] fold BatchNorm and convert the skip-less student with hls4ml (bit_exact=True)")
    hw = fold_batchnorm(student, zoo.card_arch(s_card))
    build = Build(hw, design_id=s_card["id"], folder=out / "hls" / s_card["id"], dataset=ds)
    build.convert()

    print(f"[4/5] C-simulation of {n_csim} test images against QKeras")
    result = build.verify(n=n_csim)
    rate = result.record["images"] / result.record["seconds"]
    print(f"      {result.summary()} ({rate:.1f} images/s)")
    simulator = "verilator" if cosim.available("verilator") is None else "icarus"
    print(f"[5/5] open RTL of the student, co-simulated with cocotb on {simulator} ({n_cosim} test images, "
          "random input gaps and output back-pressure)")
    sim = build.cosim(n=n_cosim, settings=replace(build.settings.cosim, simulator=simulator))
    rtl_exact = sim.bit_exact
    period = build.rtl().info["clock_period_ns"]
    interval = f"{sim.interval_cycles:.0f}" if sim.interval_cycles else "-"
    print(f"      bit-exact with QKeras: {rtl_exact}; latency {sim.latency_cycles} cycles = {sim.latency_us(period):.0f} us "
          f"at the {1000 / period:.0f} MHz target clock, one image every {interval} cycles ({sim.cycles_per_s:.0f} simulated cycles/s)")
    print()
    print(f"teacher {t_card['id']:24s} {count_adds(teacher)} skip additions  test accuracy {100 * t_card['metrics']['test_accuracy']:.2f}%")
    print(f"student {s_card['id']:24s} {count_adds(student)} skip additions  test accuracy {100 * s_card['metrics']['test_accuracy']:.2f}%")
    print(f"student in C-simulation: {100 * result.record['accuracy']:.2f}% on the first {n_csim} test images, "
          f"bit-exact: {result.bit_exact}")
    print(f"student in RTL co-simulation ({simulator}): bit-exact on {n_cosim} images: {rtl_exact}")
    return 0 if result.bit_exact and rtl_exact else 1
