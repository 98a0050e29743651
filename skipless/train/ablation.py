"""The training-method ablation: does iterative skip removal need the optimizer state kept?

For each depth x quant spec x seed, with one epoch budget for every row:

    skip (normal)         the with-skip baseline; also the teacher of the KD rows
    noskip (normal)       skip-less, trained from scratch
    noskip KD (Hinton)    skip-less student, initialised from the teacher, Hinton loss
    noskip KD (Tailor)    the same with Tailor's 0.35 MSE + 0.65 CE
    iterative, kept       skips removed one step at a time in one run, optimizer kept (Tailor), KD Tailor
    iterative, rebuild    the same with a new model and optimizer at each step (the student study)
    short (shorten)       long skips turned into short ones on the same schedule, KD Tailor

Every run's result is a small JSON file under ``<out>/runs/`` (a finished run is not redone), and
:func:`render` writes ``<out>.json`` and ``<out>.md`` (mean +- std over seeds).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from skipless import data as data_mod
from skipless import zoo
from skipless.provenance import provenance
from skipless.train.methods import TrainJob, run
from skipless.train.recipe import TrainConfig
from skipless.train.skips import count_skips

ROWS = (
    ("skip (normal)", "skip", "normal", None),
    ("noskip (normal)", "noskip", "normal", None),
    ("noskip KD (Hinton)", "noskip", "kd", "hinton"),
    ("noskip KD (Tailor)", "noskip", "kd", "tailor"),
    ("iterative removal, optimizer kept", "noskip", "iterative", "tailor"),
    ("iterative removal, rebuilt per step", "noskip", "iterative-rebuild", "tailor"),
    ("short skips (shortened)", "short", "shorten", "tailor"),
)


@dataclass
class AblationSetup:
    epochs: int = 6
    limit: int | None = 5000
    batch_size: int = 128
    every: int = 1  # removal/shortening: one step every `every` epochs
    lr: float = 0.1

    def per_step(self, depth: int) -> int:
        """Skips per step, so that every skip is gone by half the budget."""
        n_blocks = 3 * (depth - 2) // 6
        steps = max(1, self.epochs // (2 * self.every))
        return -(-n_blocks // steps)


def run_one(row, depth: int, quant: str, seed: int, setup: AblationSetup, ds, out: Path, log=print) -> dict:
    label, skip, method, kd_loss = row
    result_file = out / "runs" / f"r{depth}-{quant}" / f"{label.replace(' ', '_').replace(',', '')}-s{seed}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    models_dir = out / "models" / f"s{seed}"
    teacher_id = f"r{depth}-skip-{quant}.normal"
    config = TrainConfig(epochs=setup.epochs, batch_size=setup.batch_size, lr=setup.lr, limit=setup.limit, seed=seed, val_size=5000)
    job = TrainJob(f"r{depth}-{skip}-{quant}", method, config, kd_loss=kd_loss, every=setup.every, per_step=setup.per_step(depth))
    if kd_loss:
        job.teacher = job.init = teacher_id
    start = time.time()
    # teachers of this seed live beside the sweep, not in models/
    model, card = run(job, ds, log=log, checkpoint_dir=out / "checkpoints" / f"s{seed}" / job.artifact_id, models_dir=models_dir)
    if method == "normal" and skip == "skip":
        zoo.save_artifact(model, card, models_dir)
    result = {
        "row": label,
        "depth": depth,
        "quant": quant,
        "seed": seed,
        "artifact": card["id"],
        "test_accuracy": card["metrics"]["test_accuracy"],
        "epochs": setup.epochs,
        "train_images": setup.limit,
        "seconds": round(time.time() - start, 1),
        "skip_additions": count_skips(card["arch"]["skip_modes"]),
        "dataset": ds.name,
        "date": provenance()["date"],
        "schedule": {"every": setup.every, "per_step": setup.per_step(depth)} if method in ("iterative", "iterative-rebuild", "shorten") else None,
    }
    result_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = result_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, result_file)
    return result


def sweep(depths, quants, seeds, setup: AblationSetup, out: Path, dataset="fashion_mnist", log=print) -> None:
    ds = data_mod.load(dataset)
    for depth in depths:
        for quant in quants:
            for seed in seeds:
                for row in ROWS:  # the baseline (teacher) first
                    r = run_one(row, depth, quant, seed, setup, ds, out, log)
                    log(f"== r{depth} {quant} seed {seed} {row[0]}: {100 * r['test_accuracy']:.2f}%")
                render(out)


def reproduce_commands(table: list[dict]) -> list[str]:
    """The `skipless ablation` commands that make ``table``: one per depth (depths with the same quant
    specs, seeds and budget share one), with the options that differ from the defaults."""
    default = AblationSetup()
    by_setting: dict[tuple, list[int]] = {}
    for depth in sorted({t["depth"] for t in table}):
        rows = [t for t in table if t["depth"] == depth]
        quants = ",".join(dict.fromkeys(t["quant"] for t in rows))
        seeds = ",".join(str(s) for s in sorted({s for t in rows for s in t["seeds"]}))
        setting = (quants, seeds, rows[0]["epochs"], rows[0]["train_images"])
        by_setting.setdefault(setting, []).append(depth)
    commands = []
    for (quants, seeds, epochs, images), depths in by_setting.items():
        cmd = f"skipless ablation --depths {','.join(map(str, depths))} --quants {quants} --seeds {seeds}"
        if epochs != default.epochs:
            cmd += f" --epochs {epochs}"
        if images != default.limit:
            cmd += f" --limit {images or 0}"
        commands.append(cmd)
    return commands


def render(out: Path) -> tuple[Path, Path]:
    results = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*/*.json"))]
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["depth"], r["quant"], r["row"]), []).append(r)
    order = {row[0]: i for i, row in enumerate(ROWS)}
    table = []
    for (depth, quant, label), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order[kv[0][2]])):
        accs = [100 * r["test_accuracy"] for r in rs]
        table.append(
            {
                "depth": depth,
                "quant": quant,
                "method": label,
                "seeds": sorted(r["seed"] for r in rs),
                "mean": round(statistics.mean(accs), 2),
                "std": round(statistics.stdev(accs), 2) if len(accs) > 1 else 0.0,
                "accuracies": [round(a, 2) for a in accs],
                "epochs": rs[0]["epochs"],
                "train_images": rs[0]["train_images"],
                "skip_additions": rs[0]["skip_additions"],
                "schedule": rs[0]["schedule"],
            }
        )
    json_path, md_path = out.with_suffix(".json"), out.with_suffix(".md")
    report = {"dataset": results[0].get("dataset", "fashion_mnist") if results else None, "provenance": provenance(), "rows": table}
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        "# Training-method ablation (Fashion-MNIST test set, 10 000 images)",
        "",
        "Each row: the same epoch budget and training images; KD rows (and iterative/short) use the seed's",
        "with-skip baseline as teacher and start from its weights; iterative rows remove skips step by",
        "step, head first (see the schedule column). Reproduce (each command continues from the runs",
        "kept in the output folder):",
        "",
        *(f"    {command}" for command in reproduce_commands(table)),
        "",
        "| depth | quant | method | skip adds | test accuracy % (mean ± std) | seeds | epochs | train images | schedule |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in table:
        sched = f"every {t['schedule']['every']} ep, {t['schedule']['per_step']}/step" if t["schedule"] else "-"
        lines.append(
            f"| r{t['depth']} | {t['quant']} | {t['method']} | {t['skip_additions']} | {t['mean']:.2f} ± {t['std']:.2f} "
            f"| {len(t['seeds'])} | {t['epochs']} | {t['train_images'] or 'all'} | {sched} |"
        )
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
