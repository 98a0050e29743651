"""The ``skipless`` command: a thin layer over the Python API."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from skipless.bench.cli import add_bench_commands
from skipless.cosim.cli import add_rtl_commands
from skipless.errors import SkiplessError
from skipless.provenance import REPO_ROOT
from skipless.synth.cli import add_synth_command

HLS_PROJECTS_DIR = REPO_ROOT / "hls_projects"
DEMO_DIR = REPO_ROOT / "runs" / "demo"


def _add_data_args(p: argparse.ArgumentParser) -> None:
    from skipless.data import DATASETS, DEFAULT_DATASET

    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=DATASETS, help="dataset (default: %(default)s)")
    p.add_argument("--data-dir", help="folder (or CIFAR-10 .tar.gz) holding the dataset files")


# ---------------------------------------------------------------- models


def cmd_models_list(args) -> int:
    from skipless import zoo

    if args.trained:
        ids = zoo.trained_artifacts()
        if not ids:
            print(f"no trained artifacts in {zoo.MODELS_DIR}")
        for artifact_id in ids:
            card = zoo.read_card(artifact_id)
            acc = card.get("metrics", {}).get("test_accuracy")
            acc_txt = f"{100 * acc:.2f}%" if acc is not None else "-"
            print(f"{artifact_id:32s} {card.get('dataset', '?'):14s} test accuracy {acc_txt}")
        return 0
    grid = zoo.variant_grid()
    print(f"{len(grid)} variants: r{{depth}}-{{skip}}-{{quant}}")
    print(f"  depths: {', '.join(str(d) for d in sorted({v.depth for v in grid}))}")
    print(f"  skips:  {', '.join(f'{t} ({m})' for t, m in zoo.SKIP_TOKENS.items())}")
    print(f"  quants: {', '.join(zoo.GRID_QUANTS)} (and q<bits>i<int>, e.g. q8i3)")
    for v in grid:
        print(f"  {v}")
    return 0


def describe_model(variant_or_artifact: str) -> dict:
    """Summary of a variant (built with random weights) or of a trained artifact."""
    from skipless import zoo
    from skipless.resnet import count_adds, count_macs

    vid = zoo.parse_id(variant_or_artifact)
    if vid.method:
        model, card = zoo.load_hardware_model(variant_or_artifact)
        arch = zoo.card_arch(card)
    else:
        arch, card = vid.arch(), None
        model = arch.build(folded=True)
    kinds = Counter(type(layer).__name__ for layer in model.layers)
    return {
        "id": variant_or_artifact,
        "depth": arch.depth,
        "skip_modes": Counter(arch.skip_modes),
        "quant": arch.quant,
        "input_shape": arch.input_shape,
        "skip_additions": count_adds(model),
        "parameters": model.count_params(),
        "macs": count_macs(model),
        "layers": kinds,
        "card": card,
        "model": model,
    }


def cmd_models_show(args) -> int:
    info = describe_model(args.id)
    model = info["model"]
    print(f"{info['id']}: ResNet-{info['depth']}, quant {info['quant']}, input {info['input_shape']}")
    print(f"  blocks:         {dict(info['skip_modes'])}")
    print(f"  skip additions: {info['skip_additions']}")
    print(f"  parameters:     {info['parameters']:,}")
    print(f"  MACs/image:     {info['macs']:,}")
    print(f"  layers:         {len(model.layers)} ({', '.join(f'{k} {v}' for k, v in sorted(info['layers'].items()))})")
    if info["card"]:
        card = info["card"]
        print(f"  trained on {card.get('dataset')} with {card.get('training', {}).get('method')}: {card.get('metrics')}")
    if args.layers:
        for layer in model.layers:
            print(f"    {layer.name:24s} {type(layer).__name__:18s} {tuple(layer.output.shape[1:])}")
    return 0


# ---------------------------------------------------------------- data


def cmd_data_info(args) -> int:
    import numpy as np

    from skipless import data

    ds = data.load(args.dataset, args.data_dir)
    print(f"{ds.name} from {ds.source}")
    print(f"  train: {ds.x_train.shape} {ds.x_train.dtype}, test: {ds.x_test.shape}")
    print(f"  classes: {', '.join(ds.classes)}")
    counts = np.bincount(ds.y_train, minlength=len(ds.classes))
    print(f"  train images per class: {counts.min()}..{counts.max()}")
    print(f"  augmentation: random crop (4-pixel padding){', horizontal flip' if ds.flip else ''}")
    return 0


# ---------------------------------------------------------------- train


def _add_train_args(p: argparse.ArgumentParser) -> None:
    from skipless.train.recipe import SCHEDULES, TrainConfig

    d = TrainConfig()
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    p.add_argument("--val-size", type=int, default=d.val_size, help="validation images held out of the training set")
    p.add_argument("--limit", type=int, help="train on the first N training images only (quick runs)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--seed", type=int, default=d.seed)


def _train_config(args):
    from skipless.train.recipe import TrainConfig

    return TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        schedule=args.schedule,
        val_size=args.val_size,
        limit=args.limit,
        augment=not args.no_augment,
        seed=args.seed,
    )


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(item) for item in text.split(",")]
    except ValueError:
        raise SkiplessError(f"{option} takes comma-separated integers, like 2,1,0; got {text!r}") from None


def cmd_demo(args) -> int:
    from skipless.demo import run_demo

    return run_demo(epochs=args.epochs, limit=args.limit, n_csim=args.n, out_dir=args.out, n_cosim=args.n_cosim)


def cmd_train(args) -> int:
    from pathlib import Path

    from skipless import data, zoo
    from skipless.train import TrainJob, run

    vid = zoo.parse_id(args.id)
    order = _int_list(args.order, "--order") if args.order else []
    job = TrainJob(
        variant=vid.base,
        method=args.method,
        config=_train_config(args),
        teacher=args.teacher,
        kd_loss=args.kd_loss,
        temperature=args.temperature,
        alpha=args.alpha,
        init=args.init,
        every=args.every,
        per_step=args.per_step,
        n_skips=args.n_skips,
        order=order,
    )
    ds = data.load(args.dataset, args.data_dir)
    checkpoint_dir = Path(args.checkpoint_dir) / job.artifact_id if args.checkpoint_dir else None
    model, card = run(job, ds, checkpoint_dir=checkpoint_dir, resume=args.resume, stop_after=args.stop_after,
                      override_resume_config=args.override_resume_config)
    if not card["complete"]:
        print(f"{job.artifact_id}: {card['epochs_done']}/{job.config.epochs} epochs done; not saved (continue with --resume)")
        return 0
    path = zoo.save_artifact(model, card, Path(args.models_dir))
    print(f"saved {path} and its model card")
    return 0


def cmd_ablation(args) -> int:
    from pathlib import Path

    from skipless.train.ablation import AblationSetup, render, sweep

    out = Path(args.out)
    if not args.render_only:
        sweep(
            [int(d) for d in args.depths.split(",")],
            args.quants.split(","),
            [int(s) for s in args.seeds.split(",")],
            AblationSetup(epochs=args.epochs, limit=args.limit or None, every=args.every),
            out,
            dataset=args.dataset,
        )
    for path in render(out):
        print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------- grid


GRID_CHECKPOINTS = REPO_ROOT / "runs" / "grid"


def _grid_runs(args):
    from skipless.train import grid

    depths = _int_list(args.depths, "--depths") if args.depths else None
    quants = args.quants.split(",") if args.quants else None
    only = args.only.split(",") if args.only else None
    return grid.with_budget(grid.select(grid.plan(depths, quants, seed=args.seed), only), args.epochs)


def cmd_grid_train(args) -> int:
    from pathlib import Path

    from skipless import data
    from skipless.train import grid

    runs = _grid_runs(args)
    ds = data.load(args.dataset, args.data_dir)
    trained = grid.train(runs, ds, Path(args.models_dir), Path(args.checkpoints), resume=args.resume,
                         stop_after_runs=args.stop_after_runs)
    print(f"grid: {len(trained)} run(s) trained now" + (f": {', '.join(trained)}" if trained else "; nothing left to do"))
    return 0


def cmd_grid_status(args) -> int:
    import json
    from pathlib import Path

    from skipless.train import grid

    rows = grid.status(_grid_runs(args), Path(args.models_dir), Path(args.checkpoints), args.dataset)
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'run':30s} {'role':8s} {'state':9s} {'epochs':>7s} {'test acc':>9s} {'wall':>9s}  needs")
    for r in rows:
        acc = f"{100 * r['test_accuracy']:.2f}%" if r.get("test_accuracy") is not None else "-"
        wall = f"{r['seconds'] / 60:.1f} min" if r.get("seconds") else "-"
        state = r["state"] + (f" (PID {r['pid']})" if r.get("pid") else "")
        print(f"{r['artifact']:30s} {r['role']:8s} {state:9s} {r['epochs'] or 0:>3d}/{r['epochs_planned']:<3d} {acc:>9s} {wall:>9s}  "
              f"{', '.join(r['needs']) or '-'}")
    counts = Counter(r["state"] for r in rows)
    print("  ".join(f"{k} {counts[k]}" for k in ("done", "running", "partial", "left", "conflict") if counts[k]))
    return 0


# ---------------------------------------------------------------- hls4ml


def _add_hls_args(p: argparse.ArgumentParser) -> None:
    from skipless.hls.project import BACKENDS, IO_TYPES, STRATEGIES, HLSSettings

    d = HLSSettings()
    p.add_argument("--backend", choices=BACKENDS, default=d.backend)
    p.add_argument("--io-type", choices=IO_TYPES, default=d.io_type)
    p.add_argument("--part", default=d.part, help="FPGA part (default: %(default)s, the Pynq-Z2's)")
    p.add_argument("--clock-period", type=float, default=d.clock_period, help="ns (default: %(default)s = 150 MHz)")
    p.add_argument("--strategy", choices=STRATEGIES, default=d.strategy)
    p.add_argument("--reuse-factor", type=int, default=d.reuse_factor)
    p.add_argument("--seed", type=int, default=0, help="weight seed for variant ids (random weights)")
    p.add_argument("--projects-dir", default=str(HLS_PROJECTS_DIR))
    _add_data_args(p)


def _hls_settings(args) -> dict:
    return dict(
        backend=args.backend,
        io_type=args.io_type,
        part=args.part,
        clock_period=args.clock_period,
        strategy=args.strategy,
        reuse_factor=args.reuse_factor,
    )


def _convert_one(model_id: str, ds, args):
    from pathlib import Path

    from skipless import hls, zoo

    model = zoo.hardware_model(model_id, ds, seed=args.seed)
    source = {"id": model_id, "dataset": ds.name, "weights": "trained" if zoo.parse_id(model_id).method else f"random, seed {args.seed}"}
    project = hls.convert(model, Path(args.projects_dir) / model_id, source=source, **_hls_settings(args))
    if not project.built:
        print(f"{model_id}: up to date in {project.path} (content hash {project.content_hash[:12]})")
    return model, project


def cmd_convert(args) -> int:
    from skipless import data

    ds = data.load(args.dataset, args.data_dir)
    for model_id in args.ids:
        _convert_one(model_id, ds, args)
    return 0


def cmd_csim(args) -> int:
    import time

    from skipless import data, hls

    ds = data.load(args.dataset, args.data_dir)
    model, project = _convert_one(args.id, ds, args)
    x = ds.normalize(ds.x_test[: args.n])
    start = time.time()
    result = hls.verify(model, project, x, workers=args.workers)
    seconds = time.time() - start
    predicted = result.csim_outputs.reshape(len(x), -1).argmax(axis=1)
    accuracy = float((predicted == ds.y_test[: len(x)]).mean())
    print(f"{args.id}: {result.summary()}")
    print(f"  C-sim accuracy {100 * accuracy:.2f}% on {len(x)} {ds.name} test images; {len(x) / seconds:.1f} images/s")
    return 0 if result.bit_exact else 1


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    from skipless import __version__
    from skipless.zoo import MODELS_DIR

    parser = argparse.ArgumentParser(prog="skipless", description=__doc__)
    parser.add_argument("--version", action="version", version=f"skipless {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="the variant grid and trained artifacts")
    msub = models.add_subparsers(dest="models_command", required=True)
    p = msub.add_parser("list", help="list the variant grid (or --trained artifacts)")
    p.add_argument("--trained", action="store_true", help="list the trained artifacts in models/")
    p.set_defaults(func=cmd_models_list)
    p = msub.add_parser("show", help="layers, skip additions, parameters and MACs of a variant or artifact")
    p.add_argument("id", help="variant id (r20-skip-w8a8) or trained artifact (r20-noskip-w8a8.kd)")
    p.add_argument("--layers", action="store_true", help="print every layer with its output shape")
    p.set_defaults(func=cmd_models_show)

    dgroup = sub.add_parser("data", help="datasets")
    dsub = dgroup.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("info", help="where a dataset is read from and what it holds")
    p.add_argument("dataset", choices=("fashion_mnist", "cifar10"))
    p.add_argument("--data-dir")
    p.set_defaults(func=cmd_data_info)

    p = sub.add_parser(
        "train",
        help="train a variant (normal, KD, iterative skip removal, shortening, QAT); saves models/<id>.<method>.h5 + .json",
    )
    p.add_argument("id", help="target variant id, e.g. r8-noskip-w8a8 (saved as r8-noskip-w8a8.<method>)")
    _add_data_args(p)
    _add_train_args(p)
    from skipless.train import METHODS

    p.add_argument("--method", choices=METHODS, default="normal",
                   help="normal | kd (needs --teacher) | iterative (skips removed every --every epochs, optimizer kept) | "
                   "iterative-rebuild (new model and optimizer at each removal) | shorten | qat (needs --init)")
    p.add_argument("--teacher", help="trained artifact to distil from (frozen)")
    p.add_argument("--kd-loss", choices=("hinton", "tailor"), help="KD loss (default with a teacher: tailor)")
    p.add_argument("--temperature", type=float, default=4.0, help="Hinton KD temperature")
    p.add_argument("--alpha", type=float, default=0.9, help="Hinton KD weight of the soft targets")
    p.add_argument("--init", help="trained artifact whose weights initialise the student (e.g. the teacher)")
    p.add_argument("--every", type=int, default=3, help="iterative/shorten: change skips every K epochs")
    p.add_argument("--per-step", type=int, default=1, help="iterative/shorten: skips changed per step")
    p.add_argument("--n-skips", type=int, help="iterative/shorten: how many skips to change (default: all)")
    p.add_argument("--order", help="iterative/shorten: block indices in order, e.g. 2,1,0 (default: head first)")
    p.add_argument("--checkpoint-dir", help="checkpoints go to DIR/<artifact id> (default: runs/<artifact id>)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--override-resume-config", action="store_true",
                   help="with --resume: continue even though the options differ from the checkpoint's")
    p.add_argument("--stop-after", type=int, help="stop after this many epochs in total (resume later)")
    p.add_argument("--models-dir", default=str(MODELS_DIR))
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("ablation", help="the training-method ablation (normal, KD, iterative kept/rebuilt, short)")
    p.add_argument("--depths", default="8", help="comma-separated depths (default: %(default)s)")
    p.add_argument("--quants", default="float,w8a8", help="comma-separated quant specs (default: %(default)s)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=6, help="epoch budget of every row (default: %(default)s)")
    p.add_argument("--limit", type=int, default=5000, help="training images, 0 = all (default: %(default)s)")
    p.add_argument("--every", type=int, default=1, help="skip changes every K epochs (default: %(default)s)")
    p.add_argument("--out", default=str(REPO_ROOT / "benchmarks" / "results" / "ablation"))
    p.add_argument("--render-only", action="store_true", help="only rebuild the table from finished runs")
    p.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "cifar10"))
    p.set_defaults(func=cmd_ablation)

    gp = sub.add_parser("grid", help="the trained benchmark grid: every depth x quant with skip/noskip/short")
    gsub = gp.add_subparsers(dest="grid_command", required=True)
    for name, func, text in (("train", cmd_grid_train, "train what is left of the grid, in order (resumable)"),
                             ("status", cmd_grid_status, "done / running / left, with test accuracy and wall time")):
        p = gsub.add_parser(name, help=text, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--depths", help="only these depths, e.g. 8 (default: all of the grid)")
        p.add_argument("--quants", help="only these quant specs, e.g. w8a8,w4a4 (default: all of the grid)")
        p.add_argument("--only", help="only these runs (artifact ids, comma-separated)")
        p.add_argument("--epochs", type=int, help="override every epoch budget (quick test sweeps)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--models-dir", default=str(MODELS_DIR))
        p.add_argument("--checkpoints", default=str(GRID_CHECKPOINTS), help="checkpoints of the runs (and the sweep's lock)")
        _add_data_args(p)
        p.set_defaults(func=func)
        if name == "train":
            p.add_argument("--resume", action="store_true", help="continue a run that was killed from its last checkpoint")
            p.add_argument("--stop-after-runs", type=int, help="stop after training this many runs")
        else:
            p.add_argument("--json", action="store_true", help="print the status as JSON")

    p = sub.add_parser("convert", help="convert models into bit-exact hls4ml projects under hls_projects/<id>/")
    p.add_argument("ids", nargs="+", help="trained artifacts (r8-skip-w8a8.normal) or variant ids (random weights)")
    _add_hls_args(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("csim", help="C-simulate a model's hls4ml project and compare it bit for bit with QKeras")
    p.add_argument("id", help="trained artifact or variant id")
    p.add_argument("--n", type=int, default=100, help="test images to simulate (default: %(default)s)")
    p.add_argument("--workers", type=int, help="processes (default: one per core)")
    _add_hls_args(p)
    p.set_defaults(func=cmd_csim)

    p = sub.add_parser("demo", help="train a ResNet-8 briefly, remove its skips, verify C-sim and RTL co-sim bit for bit")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit", type=int, default=12000, help="training images (default: %(default)s)")
    p.add_argument("--n", type=int, default=100, help="test images to C-simulate (default: %(default)s)")
    p.add_argument("--n-cosim", type=int, default=3, help="test images to co-simulate as RTL (default: %(default)s)")
    p.add_argument("--out", default=str(DEMO_DIR), help="where the demo's model and project go")
    p.set_defaults(func=cmd_demo)
    add_rtl_commands(sub)  # rtl, cosim: the open RTL and its cocotb co-simulation
    add_bench_commands(sub)  # bench compare|baseline|ingest, report
    add_synth_command(sub)  # synth: Yosys / vendor synthesis and the resource table
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SkiplessError as e:
        print(f"skipless: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skipless: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
