"""``skipless train``, ``skipless ablation`` and ``skipless grid train|status``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from skipless import workspace
from skipless.cli.common import add_data_args, add_parser, emit_json, image_count, int_list, load_dataset, positive_int
from skipless.errors import SkiplessError


def _add_train_args(p) -> None:
    from skipless.train.recipe import SCHEDULES, TrainConfig

    d = TrainConfig()
    p.add_argument("--epochs", type=positive_int, default=d.epochs, help="epochs")
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size, help="batch size")
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate (finite, > 0)")
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help="learning-rate schedule")
    p.add_argument("--val-size", type=int, default=d.val_size, help="validation images held out of the training set")
    p.add_argument("--limit", type=positive_int, help="train on the first N training images only (quick runs)")
    p.add_argument("--no-augment", action="store_true", help="no random crops/flips")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the weights, split and shuffling")


def _train_config(args):
    from skipless.train.recipe import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule=args.schedule,
                       val_size=args.val_size, limit=args.limit, augment=not args.no_augment, seed=args.seed)


def cmd_train(args) -> int:
    from skipless import zoo
    from skipless.train import TrainJob, run

    vid = zoo.parse_id(args.id)
    job = TrainJob(
        variant=vid.base, method=args.method, config=_train_config(args), teacher=args.teacher, kd_loss=args.kd_loss,
        temperature=args.temperature, alpha=args.alpha, init=args.init, every=args.every, per_step=args.per_step,
        n_skips=args.n_skips, order=int_list(args.order, "--order") if args.order else [],
    )
    ds = load_dataset(args)
    models_dir = Path(args.models_dir) if args.models_dir else zoo.models_folder()
    from skipless.fileio import writable_dir

    writable_dir(models_dir, "models")  # a read-only models folder is refused before hours of training
    checkpoint_dir = Path(args.checkpoint_dir) / job.artifact_id if args.checkpoint_dir else None
    model, card = run(job, ds, checkpoint_dir=checkpoint_dir, resume=args.resume, stop_after=args.stop_after,
                      override_resume_config=args.override_resume_config)
    if not card["complete"]:
        print(f"{job.artifact_id}: {card['epochs_done']}/{job.config.epochs} epochs done; not saved (continue with --resume)")
        return 0
    path = zoo.save_artifact(model, card, models_dir)
    print(f"saved {path} and its model card")
    return 0


def cmd_ablation(args) -> int:
    from skipless.train.ablation import AblationSetup, render, sweep

    out = Path(args.out) if args.out else workspace.current().results / "ablation"
    if not args.render_only:
        sweep(int_list(args.depths, "--depths"), args.quants.split(","), int_list(args.seeds, "--seeds"),
              AblationSetup(epochs=args.epochs, limit=args.limit or None, every=args.every), out, dataset=args.dataset)
    for path in render(out):
        print(f"wrote {path}")
    return 0


def _grid_runs(args):
    from skipless.train import grid

    depths = int_list(args.depths, "--depths") if args.depths else None
    quants = args.quants.split(",") if args.quants else None
    only = args.only.split(",") if args.only else None
    return grid.with_budget(grid.select(grid.plan(depths, quants, seed=args.seed), only), args.epochs)


def _grid_dirs(args) -> tuple[Path, Path]:
    from skipless import zoo

    models = Path(args.models_dir) if args.models_dir else zoo.models_folder()
    checkpoints = Path(args.checkpoints) if args.checkpoints else workspace.current().runs / "grid"
    return models, checkpoints


def _cluster_settings(args):
    from skipless.cluster import ClusterSettings

    return ClusterSettings(args.cluster, args.workers, args.job_cores, args.job_memory, args.walltime, args.queue, args.account)


def cmd_grid_train(args) -> int:
    from skipless.train import grid

    runs = _grid_runs(args)
    models, checkpoints = _grid_dirs(args)
    if args.cluster:
        from skipless import cluster

        with cluster.connect(_cluster_settings(args)) as client:
            trained = cluster.train_grid(client, runs, (args.dataset, args.data_dir), models.resolve(), checkpoints.resolve())
        print(f"grid: {len(trained)} run(s) trained on the cluster" + (f": {', '.join(trained)}" if trained else "; nothing left to do"))
        return 0
    ds = load_dataset(args)
    from skipless.cli.common import Progress

    with Progress("grid", args.quiet, unit="run") as progress:
        trained = grid.train(runs, ds, models, checkpoints, resume=args.resume, stop_after_runs=args.stop_after_runs,
                             progress=progress)
    print(f"grid: {len(trained)} run(s) trained now" + (f": {', '.join(trained)}" if trained else "; nothing left to do"))
    return 0


def cmd_grid_status(args) -> int:
    from skipless.train import grid

    models, checkpoints = _grid_dirs(args)
    rows = grid.status(_grid_runs(args), models, checkpoints, args.dataset)
    if args.json:
        emit_json(rows)
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


def cmd_grid_verify(args) -> int:
    from skipless import cluster

    designs = args.designs.split(",") if args.designs else _designs(args)
    if args.csim is None and args.cosim is None and not args.synth:
        raise SkiplessError("nothing to do: pass --csim N, --cosim N (or 'all') and/or --synth")
    with cluster.connect(_cluster_settings(args)) as client:
        records = cluster.verify_designs(client, designs, (args.dataset, args.data_dir), csim=args.csim, cosim=args.cosim,
                                         synth=args.synth, chunk=args.chunk)
    failed = [r for r in records if any(k.endswith("_match") and v < 1 for k, v in r["metrics"].items())]
    print(f"grid verify: {len(records)} record(s) for {len(designs)} design(s); "
          + (f"MISMATCH in {', '.join(r['case'] + ' ' + r['kind'] for r in failed)}" if failed else "every checked image bit-exact"))
    return 1 if failed else 0


def cmd_grid_designs(args) -> int:
    print("\n".join(_designs(args)))
    return 0


def _designs(args) -> list[str]:
    """The trained designs the hardware benchmarks run on (tox synth/bench, the nightly)."""
    import sys

    from skipless import zoo
    from skipless.train import grid

    models, _ = _grid_dirs(args)
    wanted = {r.artifact for r in _grid_runs(args)}
    designs = [d for d in grid.hardware_designs(models) if d in wanted]
    if not designs:
        depths = set(int_list(args.depths, "--depths")) if args.depths else None
        quants = set(args.quants.split(",")) if args.quants else None
        designs = [a for a in zoo.trained_artifacts(models) if a.endswith(".normal")
                   for vid in [zoo.parse_id(a)] if vid.skip in ("skip", "noskip", "short") and vid.quant != "float"
                   and (depths is None or vid.depth in depths) and (quants is None or vid.quant in quants)]
        if designs:
            print(f"no trained grid design in {models} yet: the .normal artifacts instead", file=sys.stderr)
    if not designs:
        raise SkiplessError(f"no trained designs in {models}: train the grid first (skipless grid train)")
    return designs


def _add_cluster_args(p, required: bool) -> None:
    """``required``: the command always runs on a cluster (default: a LocalCluster)."""
    from skipless.cluster import ClusterSettings

    d = ClusterSettings()
    p.add_argument("--cluster", default="local" if required else None,
                   help="run as Dask tasks: 'local' (worker processes here), tcp://HOST:PORT (a running scheduler), "
                        "or slurm|pbs|sge|lsf (batch jobs through dask-jobqueue)"
                        + ("" if required else "; without it the sweep runs here, one run at a time"))
    p.add_argument("--workers", type=positive_int, default=d.workers, help="Dask workers (local processes or batch jobs)")
    p.add_argument("--job-cores", type=positive_int, default=d.job_cores, help="cores per batch job")
    p.add_argument("--job-memory", default=d.job_memory, help="memory per batch job")
    p.add_argument("--walltime", default=d.walltime, help="time limit per batch job")
    p.add_argument("--queue", help="batch queue / partition")
    p.add_argument("--account", help="batch account / project")


def register(sub) -> None:
    from skipless.train import METHODS

    p = add_parser(sub, "train", "train a variant (normal, KD, iterative skip removal, shortening, QAT); "
                   "saves models/<id>.<method>.h5 + .json")
    p.add_argument("id", help="target variant id, e.g. r8-noskip-w8a8 (saved as r8-noskip-w8a8.<method>)")
    add_data_args(p)
    _add_train_args(p)
    p.add_argument("--method", choices=METHODS, default="normal",
                   help="normal | kd (needs --teacher) | iterative (skips removed every --every epochs, optimizer kept) | "
                   "iterative-rebuild (new model and optimizer at each removal) | shorten | qat (needs --init)")
    p.add_argument("--teacher", help="trained artifact to distil from (frozen)")
    p.add_argument("--kd-loss", choices=("hinton", "tailor"), help="KD loss (with a teacher: tailor)")
    p.add_argument("--temperature", type=float, default=4.0, help="Hinton KD temperature")
    p.add_argument("--alpha", type=float, default=0.9, help="Hinton KD weight of the soft targets")
    p.add_argument("--init", help="trained artifact whose weights initialise the student (e.g. the teacher)")
    p.add_argument("--every", type=int, default=3, help="iterative/shorten: change skips every K epochs")
    p.add_argument("--per-step", type=int, default=1, help="iterative/shorten: skips changed per step")
    p.add_argument("--n-skips", type=int, help="iterative/shorten: how many skips to change (default: all)")
    p.add_argument("--order", help="iterative/shorten: block indices in order, e.g. 2,1,0 (default: head first)")
    p.add_argument("--checkpoint-dir", help="checkpoints go to DIR/<artifact id> (default: the workspace's runs/<artifact id>)")
    p.add_argument("--resume", action="store_true", help="continue from the last good checkpoint")
    p.add_argument("--override-resume-config", action="store_true",
                   help="with --resume: continue even though the options differ from the checkpoint's")
    p.add_argument("--stop-after", type=positive_int, help="stop after this many epochs in total (resume later)")
    p.add_argument("--models-dir", help="where the artifact goes (default: the workspace's models/)")
    p.set_defaults(func=cmd_train)

    p = add_parser(sub, "ablation", "the training-method ablation (normal, KD, iterative kept/rebuilt, short)")
    p.add_argument("--depths", default="8", help="comma-separated depths")
    p.add_argument("--quants", default="float,w8a8", help="comma-separated quant specs")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--epochs", type=positive_int, default=6, help="epoch budget of every row")
    p.add_argument("--limit", type=int, default=5000, help="training images, 0 = all")
    p.add_argument("--every", type=positive_int, default=1, help="skip changes every K epochs")
    p.add_argument("--out", help="output folder (default: the workspace's benchmarks/results/ablation)")
    p.add_argument("--render-only", action="store_true", help="only rebuild the table from finished runs")
    p.add_argument("--dataset", default="fashion_mnist", choices=("fashion_mnist", "cifar10"))
    p.set_defaults(func=cmd_ablation)

    gp = add_parser(sub, "grid", "the trained benchmark grid: every depth x quant with skip/noskip/short")
    gsub = gp.add_subparsers(dest="grid_command", required=True)
    for name, func, text in (("train", cmd_grid_train, "train what is left of the grid, in order (resumable)"),
                             ("status", cmd_grid_status, "done / running / left, with test accuracy and wall time"),
                             ("designs", cmd_grid_designs, "the trained hardware designs (skip/noskip/short of each cell) "
                              "present in models/, one per line: what synthesis and the benchmarks run on"),
                             ("verify", cmd_grid_verify, "C-simulation, RTL co-simulation (in chunks) and Yosys synthesis of the "
                              "trained designs as tasks on a Dask cluster; records into the store, history by this process")):
        p = add_parser(gsub, name, text)
        p.add_argument("--depths", help="only these depths, e.g. 8 (default: all of the grid)")
        p.add_argument("--quants", help="only these quant specs, e.g. w8a8,w4a4 (default: all of the grid)")
        p.add_argument("--only", help="only these runs (artifact ids, comma-separated)")
        p.add_argument("--epochs", type=positive_int, help="override every epoch budget (quick test sweeps)")
        p.add_argument("--seed", type=int, default=0, help="seed of the weights, split and shuffling")
        p.add_argument("--models-dir", help="default: the workspace's models/")
        p.add_argument("--checkpoints", help="checkpoints of the runs and the sweep's lock (default: the workspace's runs/grid)")
        if name != "designs":
            add_data_args(p)
        p.set_defaults(func=func)
        if name in ("train", "verify"):
            _add_cluster_args(p, required=name == "verify")
        if name == "verify":
            p.add_argument("--designs", help="comma-separated design ids (default: `skipless grid designs`)")
            p.add_argument("--csim", type=image_count, help="test images to C-simulate per design (or 'all')")
            p.add_argument("--cosim", type=image_count, help="test images to co-simulate in RTL per design (or 'all')")
            p.add_argument("--synth", action="store_true", help="also synthesize each design with Yosys")
            p.add_argument("--chunk", type=positive_int, default=500, help="images per task")
        if name == "train":
            p.add_argument("--quiet", action="store_true", help="no progress bar")
            p.add_argument("--resume", action="store_true", help="continue a run that was killed from its last checkpoint")
            p.add_argument("--stop-after-runs", type=positive_int, help="stop after training this many runs")
        elif name == "status":
            p.add_argument("--json", action="store_true", help="print the status as JSON")
