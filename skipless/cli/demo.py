"""``skipless demo``: the whole flow on the embedded dataset in a few minutes."""

from __future__ import annotations

from skipless.cli.common import add_parser, positive_int


def cmd_demo(args) -> int:
    from pathlib import Path

    from skipless import workspace
    from skipless.demo import run_demo

    out = Path(args.out) if args.out else workspace.current().runs / "demo"
    return run_demo(epochs=args.epochs, limit=args.limit, n_csim=args.n, out_dir=out, n_cosim=args.n_cosim)


def register(sub) -> None:
    p = add_parser(sub, "demo", "train a ResNet-8 briefly, remove its skips, verify C-sim and RTL co-sim bit for bit")
    p.add_argument("--epochs", type=positive_int, default=2)
    p.add_argument("--limit", type=positive_int, default=12000, help="training images")
    p.add_argument("--n", type=positive_int, default=100, help="test images to C-simulate")
    p.add_argument("--n-cosim", type=positive_int, default=10, help="test images to co-simulate as RTL")
    p.add_argument("--out", help="where the demo's models and projects go (default: the workspace's runs/demo)")
    p.set_defaults(func=cmd_demo)
