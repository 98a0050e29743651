"""Options and checks shared by the commands, and the one place argparse values become typed settings."""

from __future__ import annotations

import argparse
import json
import math
import sys

from skipless.errors import SkiplessError


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help texts that show every option's default (those with one)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)".strip()


def add_parser(sub, name: str, help: str, **kw) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=kw.pop("description", help), formatter_class=Formatter, **kw)


# ---------------------------------------------------------------- value checks (one-line errors)


def int_at_least(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""

    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return check


positive_int = int_at_least(1)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1), got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def utilization(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share of the part in (0, 1], e.g. 0.85, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], e.g. 0.85, got {text}")
    return value


def image_count(text: str) -> int | str:
    """A positive number of test images or 'all'."""
    if text.strip().lower() == "all":
        return "all"
    return positive_int(text)


def int_list(text: str, option: str) -> list[int]:
    try:
        return [int(item) for item in text.split(",")]
    except ValueError:
        raise SkiplessError(f"{option} takes comma-separated integers, like 2,1,0; got {text!r}") from None


class Progress:
    """A tqdm bar on stderr for long steps (C-sim, co-sim, synthesis, the grid), silent when stderr is not a
    terminal or with --quiet. Use as a context manager; call it with (done, total)."""

    def __init__(self, desc: str, quiet: bool = False, unit: str = "img"):
        self.desc, self.unit, self.enabled, self.bar = desc, unit, not quiet and sys.stderr.isatty(), None

    def __enter__(self):
        return self

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def add_quiet_arg(p) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def emit_json(data) -> None:
    print(json.dumps(data, indent=1, default=str))


# ---------------------------------------------------------------- option groups


def add_data_args(p: argparse.ArgumentParser) -> None:
    from skipless.data import DATASETS, DEFAULT_DATASET

    p.add_argument("--dataset", default=DEFAULT_DATASET, choices=DATASETS, help="dataset")
    p.add_argument("--data-dir", help="folder (or CIFAR-10 .tar.gz) holding the dataset files")


def add_hls_args(p: argparse.ArgumentParser) -> None:
    from skipless.hls.project import BACKENDS, IO_TYPES, STRATEGIES, HLSSettings

    d = HLSSettings()
    p.add_argument("--backend", choices=BACKENDS, default=d.backend, help="hls4ml backend")
    p.add_argument("--io-type", choices=IO_TYPES, default=d.io_type, help="hls4ml I/O type")
    p.add_argument("--part", default=d.part, help="FPGA part (the Pynq-Z2's by default)")
    p.add_argument("--clock-period", type=positive_float, default=d.clock_period, help="ns (6.667 = 150 MHz)")
    p.add_argument("--strategy", choices=STRATEGIES, default=d.strategy, help="hls4ml strategy")
    p.add_argument("--reuse-factor", type=positive_int, default=d.reuse_factor, help="hls4ml reuse factor")
    p.add_argument("--weight-seed", type=int, default=0, help="weight seed for variant ids (random weights)")
    p.add_argument("--projects-dir", help="where projects go (default: the workspace's hls_projects/)")
    add_data_args(p)


def add_rtl_args(p: argparse.ArgumentParser) -> None:
    from skipless.rtl.schedule import DEFAULT_CYCLES_PER_LAYER

    p.add_argument("--cycles-per-layer", type=positive_int, default=DEFAULT_CYCLES_PER_LAYER,
                   help="parallelism target: each conv finishes an image within this many cycles")
    p.add_argument("--macs-per-cycle", help="per-layer parallelism, e.g. s1b1_conv1=64,fc=2 (PI x PO)")
    p.add_argument("--multiplier", choices=("dsp", "dsp2", "lut", "auto"), default=None,
                   help="how products are made: dsp (one DSP48 each), dsp2 (two per DSP48 where the widths allow), "
                        "lut (shift-and-add in LUTs), auto (dsp2, and LUTs for <= 4-bit weights when DSPs run out); "
                        "default: auto with --fit/--target-interval, else dsp")
    p.add_argument("--multipliers", help="per-layer multiplier kind, e.g. s1b1_conv1=dsp2,fc=lut (overrides --multiplier)")
    p.add_argument("--fit", action="store_true",
                   help="plan the parallelism for --part: the smallest interval whose predicted resources fit")
    p.add_argument("--target-interval", type=positive_int, help="plan every conv to finish an image within this many "
                   "cycles and check the design fits --part (implies --fit)")
    p.add_argument("--max-util", type=utilization, default=0.85, help="with --fit: the share of each resource of the part "
                   "the design may use")
    p.add_argument("--allow-overfit", action="store_true", help="with --fit: write a design predicted not to fit anyway")


def add_cosim_args(p: argparse.ArgumentParser) -> None:
    from skipless.flow import CosimSettings
    from skipless.tools import SIMULATORS

    d = CosimSettings()
    p.add_argument("--sim", choices=SIMULATORS, default=d.simulator, help="RTL simulator")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of the random gaps and back-pressure")
    p.add_argument("--gap", type=probability, default=d.gap_prob, help="probability of a gap before each input beat")
    p.add_argument("--stall", type=probability, default=d.stall_prob, help="probability of output back-pressure per cycle")


def parse_macs(text: str | None) -> dict:
    out = {}
    for item in filter(None, (text or "").split(",")):
        name, _, value = item.partition("=")
        if not value.strip().isdigit() or int(value) < 1:
            raise SkiplessError(f"--macs-per-cycle wants layer=N pairs with N >= 1, got {item!r}")
        out[name.strip()] = int(value)
    return out


def parse_multipliers(text: str | None) -> dict:
    from skipless.rtl.ops.conv import MULTIPLIERS

    out = {}
    for item in filter(None, (text or "").split(",")):
        name, _, kind = item.partition("=")
        if kind.strip() not in MULTIPLIERS:
            raise SkiplessError(f"--multipliers wants layer=KIND pairs with KIND one of {', '.join(MULTIPLIERS)}, got {item!r}")
        out[name.strip()] = kind.strip()
    return out


def build_settings(args):
    """The typed settings of a build from the hls/rtl/cosim options a command has."""
    from skipless.flow import BuildSettings, CosimSettings
    from skipless.hls.project import HLSSettings
    from skipless.rtl.schedule import RTLSettings

    hls = HLSSettings(backend=args.backend, io_type=args.io_type, part=args.part, clock_period=args.clock_period,
                      strategy=args.strategy, reuse_factor=args.reuse_factor)
    rtl = None
    if hasattr(args, "cycles_per_layer"):
        rtl = RTLSettings(cycles_per_layer=args.cycles_per_layer, macs_per_cycle=parse_macs(args.macs_per_cycle),
                          multiplier=args.multiplier, multipliers=parse_multipliers(args.multipliers),
                          clock_period_ns=args.clock_period, part=args.part, fit=args.fit, max_util=args.max_util,
                          target_interval=args.target_interval, allow_overfit=args.allow_overfit)
    cosim = CosimSettings()
    if hasattr(args, "sim"):
        cosim = CosimSettings(simulator=args.sim, seed=args.seed, gap_prob=args.gap, stall_prob=args.stall)
    return BuildSettings(hls=hls, rtl=rtl, cosim=cosim, dataset=args.dataset, data_dir=args.data_dir, weight_seed=args.weight_seed)


def make_build(design_id: str, args, dataset=None):
    from pathlib import Path

    from skipless.fileio import writable_dir
    from skipless.flow import Build

    if args.projects_dir:  # refused before any model is built, not after
        writable_dir(args.projects_dir, "projects")
    folder = Path(args.projects_dir) / design_id if args.projects_dir else None
    # with --json, stdout carries the JSON document alone: what the steps say goes to stderr
    log = (lambda *a: print(*a, file=sys.stderr)) if getattr(args, "json", False) else print
    return Build(design_id, build_settings(args), folder=folder, dataset=dataset, log=log)


def load_dataset(args):
    from skipless import data

    return data.load(args.dataset, args.data_dir)


def quiet_broken_pipe() -> None:
    """After the reader of our output went away (``skipless ... | head``): exit without a traceback."""
    import os

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
