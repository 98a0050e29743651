"""``skipless faults``: mutation testing of a design's verification (see skipless.faults)."""

from __future__ import annotations

from skipless.cli.common import (
    add_cosim_args,
    add_hls_args,
    add_parser,
    emit_json,
    load_dataset,
    make_build,
    positive_int,
)


def cmd_faults(args) -> int:
    from skipless import faults, workspace
    from skipless.bench.store import update_json_rows
    from skipless.provenance import provenance

    build = make_build(args.id, args, load_dataset(args))
    chosen = args.only.split(",") if args.only else None
    log = (lambda *a: None) if args.json else print
    outcomes = faults.run(build, chosen, n=args.n, log=log)
    caught, applicable = faults.score(outcomes)
    summary = {"design": args.id, "caught": caught, "applicable": applicable, "score": caught / applicable if applicable else None,
               "images": args.n, "simulator": args.sim, "seed": args.seed, "gap_prob": args.gap,
               "stall_prob": args.stall, "faults": [o.__dict__ for o in outcomes], "provenance": provenance()}
    if args.record:
        update_json_rows(workspace.current().results / "mutation.json", args.id, summary)
    if args.json:
        emit_json(summary)
    else:
        print(f"{args.id}: {caught} of {applicable} planted faults caught ({100 * caught / applicable:.0f} %)" if applicable
              else f"{args.id}: no fault applies")
    return 0 if caught == applicable else 1


def register(sub) -> None:
    from skipless.faults import CATALOGUE

    p = add_parser(sub, "faults", "plant faults in a design's RTL and hls project one at a time; report caught or missed",
                   description="Mutation testing. The catalogue: " + ", ".join(f.name for f in CATALOGUE)
                   + ". Exit 1 when a fault is missed.")
    p.add_argument("id", help="trained artifact or variant id")
    p.add_argument("--only", help="comma-separated fault names (default: the whole catalogue)")
    p.add_argument("--n", type=positive_int, default=12, help="test images per co-simulation")
    p.add_argument("--record", action="store_true", help="write the score to benchmarks/results/mutation.json")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_cosim_args(p)
    add_hls_args(p)
    p.set_defaults(func=cmd_faults)
