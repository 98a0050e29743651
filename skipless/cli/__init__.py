"""The ``skipless`` command: a thin layer over the Python API, one module per group of commands.

    models.py  models list|show, data info        train.py  train, ablation, grid train|status
    hw.py      convert, csim, rtl, cosim          synth.py  synth
    bench.py   bench compare|baseline|ingest, report         demo.py   demo
    faults.py  faults (mutation testing)

Every command parses its options into typed settings (:mod:`skipless.cli.common`) and calls the
library (mostly :class:`skipless.flow.Build`); no argparse Namespace goes further down.
"""

from __future__ import annotations

import argparse
import sys

from skipless.errors import SkiplessError


def build_parser() -> argparse.ArgumentParser:
    from skipless import __version__
    from skipless.cli import bench, demo, faults, hw, models, synth, train
    from skipless.cli.common import Formatter

    parser = argparse.ArgumentParser(prog="skipless", description=__doc__.split("\n")[0], formatter_class=Formatter)
    parser.add_argument("--version", action="version", version=f"skipless {__version__}")
    parser.add_argument("--workspace", help="folder for models/, hls_projects/, runs/ and benchmarks/ "
                        "(default: $SKIPLESS_HOME, else the skipless project around the current folder, else the current folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (models, train, hw, synth, faults, bench, demo):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from skipless import workspace
    from skipless.cli.common import quiet_broken_pipe

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.workspace:
            workspace.use(args.workspace)
        return args.func(args)
    except SkiplessError as e:
        print(f"skipless: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        quiet_broken_pipe()
        return 0
    except KeyboardInterrupt:
        print("skipless: interrupted", file=sys.stderr)
        return 130
    except PermissionError as e:
        print(f"skipless: error: permission denied on {e.filename or e}: make it writable or choose another location",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
