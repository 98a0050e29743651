"""RTL co-simulation: ``cosim(design, x, simulator=...) -> CosimResult``.

Builds the design with ``cocotb_tools.runner`` (Verilator or Icarus; the build is cached per design
content and simulator), streams the images through the testbench in :mod:`skipless.cosim.tb`, and
returns the outputs as exact fixed-point values with latency, interval and simulator speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skipless.errors import SkiplessError
from skipless.fileio import exclusive, sha256_file, write_json
from skipless.fixed import FixedType
from skipless.rtl.design import RTLDesign
from skipless.tools import simulator_env

TB_MODULE = "skipless.cosim.tb"


@dataclass
class CosimResult:
    outputs: np.ndarray  # (N, output values...) exact values as float64
    mantissas: np.ndarray  # (N, beats, channels)
    simulator: str
    latency_cycles: int  # first input beat to last output beat, first image (empty pipeline)
    interval_cycles: float | None  # between the last output beats of consecutive images (None for 1 image)
    cycles: int  # simulated cycles in all
    wall_s: float  # simulation wall time (excluding the build)
    build_s: float
    seed: int
    gap_prob: float
    stall_prob: float
    per_image_latency: list[int] = field(default_factory=list)
    probes: dict = field(default_factory=dict)  # stream -> raw beat words, for the streams asked for

    @property
    def cycles_per_s(self) -> float:
        return self.cycles / self.wall_s if self.wall_s else 0.0

    @property
    def images_per_s(self) -> float:
        return len(self.outputs) / self.wall_s if self.wall_s else 0.0

    def latency_us(self, clock_period_ns: float) -> float:
        return self.latency_cycles * clock_period_ns / 1000.0

    def summary(self, clock_period_ns: float) -> dict:
        return {
            "simulator": self.simulator, "images": len(self.outputs), "latency_cycles": self.latency_cycles,
            "latency_us": round(self.latency_us(clock_period_ns), 3), "interval_cycles": self.interval_cycles,
            "cycles": self.cycles, "wall_s": round(self.wall_s, 2), "build_s": round(self.build_s, 2),
            "cycles_per_s": round(self.cycles_per_s, 1), "images_per_s": round(self.images_per_s, 4),
            "seed": self.seed, "gap_prob": self.gap_prob, "stall_prob": self.stall_prob,
        }


def _type(spec: dict) -> FixedType:
    return FixedType(spec["width"], spec["frac"], spec["signed"], spec.get("rounding", "TRN"), spec.get("overflow", "WRAP"))


def input_mantissas(design: RTLDesign, x) -> np.ndarray:
    """Images (N, H, W, C) as values -> (N, beats, channels) mantissas in the input type (ap_fixed cast)."""
    spec = design.info["interface"]["input"]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or int(np.prod(x.shape[1:])) != spec["beats_per_image"] * spec["channels"]:
        raise SkiplessError(
            f"cosim input has shape {x.shape[1:]} per image; the design takes {spec['beats_per_image']} beats of {spec['channels']} channels"
        )
    return _type(spec).to_mantissa(x).reshape(len(x), spec["beats_per_image"], spec["channels"])


@contextlib.contextmanager
def _environ(env: dict):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build(design: RTLDesign, simulator: str, log=print) -> tuple[object, Path, float]:
    """Build (or reuse) the simulation of ``design``; returns (runner, build dir, seconds spent)."""
    from cocotb_tools.runner import get_runner

    env = simulator_env(simulator)
    design.verify()
    build_dir = design.path.resolve() / f"sim_{simulator}"
    stamp = build_dir / "skipless_build.json"
    args = ["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast"] if simulator == "verilator" else []
    # the build is reused only for the same bytes of every source (never on mtimes: Icarus's own
    # "Skipping compilation" once passed an edited design), the same simulator and the same flags
    identity = {"sources": {f.name: sha256_file(f) for f in design.files}, "simulator": simulator, "args": args,
                "install": env.get("VERILATOR_ROOT", "")}
    start = time.time()
    with exclusive(design.path / f".sim_{simulator}_lock", f"{simulator} build of", wait=True):
        try:
            cached = json.loads(stamp.read_text()) == identity
        except (OSError, ValueError):
            cached = False
        with _environ(env):
            runner = get_runner(simulator)
            if not cached and build_dir.exists():
                shutil.rmtree(build_dir)
            try:
                with open(design.path / f"build_{simulator}.log", "w") as logf, contextlib.redirect_stdout(logf):
                    runner.build(
                        sources=[str(f) for f in design.files], hdl_toplevel=design.top, build_dir=str(build_dir),
                        build_args=args, timescale=("1ns", "1ps"), always=not cached, log_file=str(design.path / f"build_{simulator}.log"),
                    )
            except (SystemExit, Exception) as e:
                raise SkiplessError(f"{simulator} could not build {design.path}: {e}; see {design.path / f'build_{simulator}.log'}") from None
        write_json(stamp, identity)
    seconds = time.time() - start
    if not cached:
        log(f"built {design.top} for {simulator} in {seconds:.1f} s")
    return runner, build_dir, seconds


def cosim(design, x, simulator: str = "verilator", seed: int = 0, gap_prob: float = 0.0, stall_prob: float = 0.0,
          watchdog_cycles: int | None = None, probes: tuple[str, ...] = (), log=print) -> CosimResult:
    """Stream images ``x`` (values, N x H x W x C) through the design's RTL; exact outputs and timing."""
    design = design if isinstance(design, RTLDesign) else RTLDesign.load(design)
    for name, p in (("gap_prob", gap_prob), ("stall_prob", stall_prob)):
        if not 0.0 <= p < 1.0:
            raise SkiplessError(f"{name} must be in [0, 1), got {p}")
    images = input_mantissas(design, x)
    runner, build_dir, build_s = build(design, simulator, log)
    run_dir = build_dir.resolve() / "runs"
    run_dir.mkdir(exist_ok=True)
    job_path = run_dir / f"job_{os.getpid()}_{time.time_ns()}.json"
    np.save(job_path.with_suffix(".npy"), images)
    interval = design.info.get("estimated_interval_cycles") or 100_000
    job = {
        "inputs": str(job_path.with_suffix(".npy")), "interface": design.info["interface"], "streams": design.info.get("streams", []),
        "clock_period_ns": design.info["clock_period_ns"], "seed": seed, "gap_prob": gap_prob, "stall_prob": stall_prob,
        "watchdog_cycles": int(watchdog_cycles or 4 * interval + 100_000), "probes": list(probes),
    }
    job_path.write_text(json.dumps(job))
    result_path = job_path.with_name(job_path.stem + ".result.json")
    env = simulator_env(simulator)
    env["SKIPLESS_COSIM_JOB"] = str(job_path)
    with _environ(env):
        try:
            with open(run_dir / f"{job_path.stem}.log", "w") as logf, contextlib.redirect_stdout(logf):
                runner.test(test_module=TB_MODULE, hdl_toplevel=design.top, build_dir=str(build_dir), test_dir=str(run_dir),
                            results_xml=str(job_path.with_suffix(".xml")), log_file=str(run_dir / f"{job_path.stem}.log"))
        except (SystemExit, Exception) as e:  # the runner raises when the cocotb test failed, e.g. on a stall
            if not result_path.exists():
                raise SkiplessError(f"{simulator} simulation of {design.path} failed to run: {e}; see {run_dir / (job_path.stem + '.log')}") from None
    if not result_path.exists():
        raise SkiplessError(f"the {simulator} testbench left no result; see {run_dir / (job_path.stem + '.log')}")
    res = json.loads(result_path.read_text())
    for p in (job_path, job_path.with_suffix(".npy")):
        p.unlink(missing_ok=True)
    if res["error"]:
        raise SkiplessError(f"{design.top} ({simulator}): {res['error']} (beats per stream: {result_path})")
    result_path.unlink()
    spec = design.info["interface"]["output"]
    mant = np.asarray(res["outputs"], dtype=np.int64)
    values = _type(spec).to_float(mant)
    values = values.reshape(len(values), -1) if spec["beats_per_image"] == 1 else values
    latencies = [o - i for i, o in zip(res["first_in"], res["last_out"], strict=True)]
    outs = res["last_out"]
    interval_cycles = float(np.mean(np.diff(outs))) if len(outs) > 1 else None
    return CosimResult(values, mant, simulator, latencies[0], interval_cycles, res["cycles"], res["wall_s"], build_s, seed,
                       gap_prob, stall_prob, latencies, {k: [int(w) for w in v] for k, v in res["probes"].items()})
