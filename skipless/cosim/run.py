"""RTL co-simulation: ``cosim(design, x, simulator=...) -> CosimResult``.

Two testbenches drive the same Vitis-style ``io_stream`` ports:

* ``bench="hdl"`` (the default, fast): stimulus, capture and protocol checks in a generated Verilog
  bench (:mod:`skipless.cosim.hdl_bench`); Python starts it and waits. Verilator builds it without
  ``--public-flat-rw`` (see :class:`LeanVerilator`), so only the signals the Python side reads are
  visible to VPI. Images stream in chunks (a simulator run each), with a progress callback.
* ``bench="python"``: the original cocotb testbench, one Python wake-up per beat
  (:mod:`skipless.cosim.tb`); kept for internal-stream probes and as the speed baseline.

Both add seeded random input gaps and output back-pressure (on by default) and a stall watchdog
that names the last active layer or an undersized skip FIFO; the HDL bench also checks the output
port's handshake protocol, and the library's assertions (:mod:`skipless.rtl`) check every internal
stage. Simulator builds are cached by the bytes of every source, the bench and the flags.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skipless.cosim.hdl_bench import BENCH_TOP, bench_verilog
from skipless.errors import SkiplessError
from skipless.fileio import exclusive, sha256_file, write_atomic, write_json
from skipless.fixed import FixedType, pack_lanes, unpack_lanes
from skipless.rtl.design import RTLDesign
from skipless.tools import simulator_env

BENCHES = ("hdl", "python")
PY_TB_MODULE = "skipless.cosim.tb"
HDL_TB_MODULE = "skipless.cosim.tb_hdl"
DEFAULT_CHUNK = 500  # images per simulator run of the HDL bench
CLEAN_IMAGES = 2  # images streamed without gaps/back-pressure first, for latency and interval
BURST_PROB = 1 / 16  # with back-pressure on: after an accepted output beat, a long stall with this probability ...
BURST_INTERVALS = 0.5  # ... of 1/4 to 3/4 image intervals (the mean, in intervals)
# The first stressed output beat starts a stall that lasts until the design has refused input for a
# whole interval in a row: every stage is full and holds its beats (in a flowing pipeline the input
# waits at most for a row's worth of outputs, never an interval). On r8-skip-w8a8 that takes about 7.6
# intervals: the dense layer's input buffer and the global pooling hold several images. Capped at
# FIRST_BURST_MAX_INTERVALS.
FIRST_BURST_MAX_INTERVALS = 20


LONG_RUN_CYCLES = 100_000_000  # from this many simulated cycles on, the C++ is compiled with -O3


@dataclass(frozen=True)
class VerilatorOptions:
    """How Verilator builds the fast bench; each choice measured in ``pytest benchmarks -k cosim_flags``.

    The C++ optimization is a trade: ``-O3`` (``LONG_RUN``) simulates faster than Verilator's own
    ``-Os`` but takes minutes longer to compile. :meth:`for_run` picks it for runs of at least
    ``LONG_RUN_CYCLES`` cycles (a test set), where the faster simulation pays for the compile, and
    the quicker build for the few-image runs of the test suite."""

    threads: int = 1
    opt: str = "-O3"  # Verilator's own optimization level
    cflags: str = ""  # extra C++ flags after Verilator's OPT_FAST (-Os); LONG_RUN adds -O3
    x_fast: bool = True
    hdl_clock: bool = True  # the bench's own clock (needs --timing) instead of cocotb's
    assertions: bool = True  # the library's simulation-only checks (off: -DSYNTHESIS, for measuring their cost)

    def args(self) -> list[str]:
        out = ["-Wno-fatal", self.opt] + ([] if self.assertions else ["-DSYNTHESIS"])
        if self.cflags:
            out += ["-CFLAGS", self.cflags]
        if self.x_fast:
            out += ["--x-assign", "fast", "--x-initial", "fast"]
        if self.threads > 1:
            out += ["--threads", str(self.threads)]
        out += ["--timing"] if self.hdl_clock else ["--no-timing"]
        return out

    @classmethod
    def for_run(cls, cycles: float) -> VerilatorOptions:
        """The options for a run of about ``cycles`` simulated cycles."""
        return LONG_RUN if cycles >= LONG_RUN_CYCLES else cls()


LONG_RUN = VerilatorOptions(cflags="-O3")


@dataclass
class CosimResult:
    outputs: np.ndarray  # exact values as float64, shaped as the model's output: (N, classes) or (N, H, W, C)
    mantissas: np.ndarray  # (N, beats, channels)
    simulator: str
    latency_cycles: int  # first input beat to last output beat, first image (empty pipeline)
    interval_cycles: float | None  # between the last output beats of the first two images (None for 1 image)
    cycles: int  # simulated cycles in all
    wall_s: float  # simulation wall time (excluding the build)
    build_s: float
    seed: int
    gap_prob: float
    stall_prob: float
    per_image_latency: list[int] = field(default_factory=list)
    probes: dict = field(default_factory=dict)  # stream -> raw beat words, for the streams asked for (python bench)
    bench: str = "hdl"
    timing_clean: bool = True  # latency/interval measured without gaps and back-pressure
    mismatches: list[dict] = field(default_factory=list)  # with `expected`: image, output, got, want
    stopped_early: bool = False  # stopped at max_mismatches before the last image

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
            "simulator": self.simulator, "bench": self.bench, "images": len(self.outputs), "latency_cycles": self.latency_cycles,
            "latency_us": round(self.latency_us(clock_period_ns), 3), "interval_cycles": self.interval_cycles,
            "timing_clean": self.timing_clean, "cycles": self.cycles, "wall_s": round(self.wall_s, 2),
            "build_s": round(self.build_s, 2), "cycles_per_s": round(self.cycles_per_s, 1),
            "images_per_s": round(self.images_per_s, 4), "seed": self.seed, "gap_prob": self.gap_prob,
            "stall_prob": self.stall_prob, "mismatches": len(self.mismatches),
        }


def _type(spec: dict) -> FixedType:
    return FixedType(spec["width"], spec["frac"], spec["signed"], spec.get("rounding", "TRN"), spec.get("overflow", "WRAP"))


def input_mantissas(design: RTLDesign, x) -> np.ndarray:
    """Images (N, H, W, C) as values -> (N, beats, channels) mantissas in the input type (ap_fixed cast)."""
    spec = design.info["interface"]["input"]
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or len(x) == 0 or int(np.prod(x.shape[1:])) != spec["beats_per_image"] * spec["channels"]:
        raise SkiplessError(
            f"cosim input has shape {tuple(x.shape)}; the design takes images of {spec['beats_per_image']} beats "
            f"of {spec['channels']} channels (N x H x W x C, N >= 1)"
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


def _runner(simulator: str, lean: bool):
    """cocotb's runner for ``simulator`` (``lean``: Verilator without ``--public-flat-rw``). Its command
    lines go to the build and run logs, not to the terminal (the runner logs them at INFO)."""
    import logging

    from cocotb_tools.runner import Verilator, get_runner

    if simulator != "verilator" or not lean:
        runner = get_runner(simulator)
    else:
        class LeanVerilator(Verilator):
            """cocotb's Verilator runner without ``--public-flat-rw``. cocotb 2.1 hard-codes that flag, which
            makes every signal of the design visible to VPI; Verilator's maintainers measure about 7x for it.
            The HDL bench and the generated RTL mark the few signals the Python side reads with
            ``/*verilator public_flat_rd*/`` instead (the bench's done/cycle/out_beats/idle, the beat counters)."""

            def _build_command(self):
                cmds = super()._build_command()
                cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
                return cmds

        runner = LeanVerilator()
    runner.log.setLevel(logging.WARNING)
    return runner


def build(design: RTLDesign, simulator: str, bench: str = "hdl", log=print, options: VerilatorOptions | None = None):
    """Build (or reuse) the simulation of ``design``; returns (runner, build dir, seconds spent, bench options)."""
    if bench not in BENCHES:
        raise SkiplessError(f"unknown testbench {bench!r}: use one of {', '.join(BENCHES)}")
    env = simulator_env(simulator)
    design.verify()
    options = options or VerilatorOptions()
    hdl_clock = options.hdl_clock if simulator == "verilator" else True
    custom = simulator == "verilator" and bench == "hdl" and options != VerilatorOptions()
    tag = f"{simulator}_{bench}" + (f"_{hashlib.sha256(repr(options).encode()).hexdigest()[:8]}" if custom else "")
    build_dir = design.path.resolve() / f"sim_{tag}"
    sources = [Path(f) for f in design.files]
    if bench == "hdl":
        bench_file = build_dir.with_name(build_dir.name + "_bench.v")
        write_atomic(bench_file, bench_verilog(design, hdl_clock=hdl_clock))
        sources.append(bench_file)
        top = BENCH_TOP
        args = options.args() if simulator == "verilator" else []
    else:
        top = design.top
        args = ["-Wno-fatal", "-O3", "--x-assign", "fast", "--x-initial", "fast"] if simulator == "verilator" else []
    # reused only for the same bytes of every source (never on mtimes: Icarus's own "Skipping
    # compilation" once passed an edited design), the same simulator, flags and install
    identity = {"sources": {f.name: sha256_file(f) for f in sources}, "simulator": simulator, "args": args,
                "install": env.get("VERILATOR_ROOT", ""), "bench": bench}
    stamp = build_dir / "skipless_build.json"
    log_path = design.path / f"build_{tag}.log"
    start = time.time()
    with exclusive(design.path / f".sim_{tag}_lock", f"{simulator} build of", wait=True):
        try:
            cached = json.loads(stamp.read_text()) == identity
        except (OSError, ValueError):
            cached = False
        with _environ(env):
            runner = _runner(simulator, lean=bench == "hdl")
            if not cached and build_dir.exists():
                shutil.rmtree(build_dir)
            try:
                with open(log_path, "w") as logf, contextlib.redirect_stdout(logf):
                    runner.build(sources=[str(f) for f in sources], hdl_toplevel=top, build_dir=str(build_dir), build_args=args,
                                 timescale=("1ns", "1ns"), always=not cached, log_file=str(log_path))
            except (SystemExit, Exception) as e:
                raise SkiplessError(f"{simulator} could not build {design.path}: {e}; see {log_path}") from None
        write_json(stamp, identity)
    seconds = time.time() - start
    if not cached:
        log(f"built {design.top} for {simulator} ({bench} bench) in {seconds:.1f} s")
    return runner, build_dir, seconds, hdl_clock


def cosim(design, x, simulator: str = "verilator", seed: int = 0, gap_prob: float = 0.2, stall_prob: float = 0.3,
          watchdog_cycles: int | None = None, probes: tuple[str, ...] = (), log=print, bench: str = "hdl",
          chunk: int = DEFAULT_CHUNK, expected: np.ndarray | None = None, max_mismatches: int | None = None,
          progress=None, options: VerilatorOptions | None = None, resume_dir: Path | str | None = None) -> CosimResult:
    """Stream images ``x`` (values, N x H x W x C) through the design's RTL; exact outputs and timing.

    With random gaps or back-pressure on and at least three images, the first two images run without
    them (latency and interval are measured on those) and the rest under them. ``expected`` (the
    reference outputs, e.g. QKeras') makes the run compare as it goes: every differing image is listed in
    ``mismatches`` (image, output index, values), and the run stops after ``max_mismatches`` of them.
    ``progress(images_done, images_total)`` is called now and then. With ``resume_dir`` (HDL bench),
    every finished chunk is kept there until the run ends, so the same call after a kill or crash
    simulates only the chunks still missing (see :class:`_ChunkStore`).
    """
    design = design if isinstance(design, RTLDesign) else RTLDesign.load(design)
    for name, p in (("gap_prob", gap_prob), ("stall_prob", stall_prob)):
        if not 0.0 <= p < 1.0:
            raise SkiplessError(f"{name} must be in [0, 1), got {p}")
    if chunk < 1:
        raise SkiplessError(f"chunk must be >= 1 image, got {chunk}")
    images = input_mantissas(design, x)
    stress = gap_prob > 0 or stall_prob > 0
    clean = CLEAN_IMAGES if stress and len(images) > CLEAN_IMAGES else (0 if stress else len(images))
    if bench == "python":
        result = _cosim_python(design, images, simulator, seed, gap_prob, stall_prob, watchdog_cycles, probes, log)
    else:
        if probes:
            raise SkiplessError("internal-stream probes need the per-beat testbench: pass bench='python'")
        result = _cosim_hdl(design, images, simulator, seed, gap_prob, stall_prob, watchdog_cycles, log, chunk, clean,
                            expected, max_mismatches, progress, options, resume_dir)
    if expected is not None and bench == "python":
        result.mismatches = compare(result.outputs, expected, 0)
    return result


def image_values(values: np.ndarray, spec: dict) -> np.ndarray:
    """Output values (N, beats, channels) in the model's output shape: (N, channels) for one beat per image,
    (N, H, W, C) for an image (designs written before the interface held its shape stay (N, beats, C))."""
    if spec["beats_per_image"] == 1:
        return values.reshape(len(values), -1)
    return values.reshape(len(values), *spec["shape"]) if "shape" in spec else values


def compare(outputs: np.ndarray, expected: np.ndarray, first_image: int) -> list[dict]:
    """Every image of ``outputs`` that differs from ``expected``: index, first differing output, values."""
    got = outputs.reshape(len(outputs), -1)
    want = np.asarray(expected, dtype=np.float64)[first_image : first_image + len(outputs)].reshape(len(outputs), -1)
    out = []
    for i in np.nonzero((got != want).any(axis=1))[0]:
        j = int(np.argmax(got[i] != want[i]))
        out.append({"image": first_image + int(i), "output": j, "got": float(got[i, j]), "want": float(want[i, j]),
                    "n_outputs_different": int((got[i] != want[i]).sum())})
    return out


# ---------------------------------------------------------------- the fast (HDL) bench


def _write_inputs(path: Path, images: np.ndarray, width: int) -> None:
    with open(path, "w") as f:
        for image in images:
            for beat in image:
                f.write(f"{pack_lanes(beat, width):x}\n")


def _parse_events(text: str, spec: dict) -> dict:
    first_in, outs, errors, done = [], [], [], None
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "i":
            first_in.append(int(rest))
        elif kind == "o":
            cycle, word = rest.split()
            outs.append((int(cycle), int(word, 16)))
        elif kind == "E":
            errors.append(rest)
        elif kind == "d":
            done = int(rest)
    return {"first_in": first_in, "outs": outs, "errors": errors, "done": done}


def _assertions(log_text: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"SKL_ASSERT (.*)", log_text)]


class _Progress(threading.Thread):
    """Counts output beats in the bench's output file while a chunk runs, for the progress callback."""

    def __init__(self, path: Path, beats_per_image: int, offset: int, total: int, callback):
        super().__init__(daemon=True)
        self.path, self.bpi, self.offset, self.total, self.callback = path, beats_per_image, offset, total, callback
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            try:
                beats = sum(1 for line in self.path.read_text().splitlines() if line.startswith("o "))
            except OSError:
                continue
            self.callback(min(self.total, self.offset + beats // self.bpi), self.total)


class _ChunkStore:
    """The finished chunks of one resumable run, one JSON file each under ``<resume_dir>/<key>/``.

    The key hashes everything a chunk's outputs and cycles depend on: the bytes of every source and of
    the bench (the build's stamp, written after the sources were checked against ``design.json``), the
    simulator and its flags, the seeds, gap and back-pressure settings, the chunking and the images
    themselves. So a chunk is reused only by the same run of the same design; a file that cannot be
    read (killed mid-write cannot happen: writes are atomic) or belongs to another key is simulated again.
    The folder goes when the run ends."""

    def __init__(self, root: Path | None, identity: dict):
        self.folder = None
        if root is not None:
            key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
            self.folder, self.key = Path(root) / key[:16], key

    def _path(self, start: int) -> Path:
        return self.folder / f"chunk_{start:07d}.json"

    def load(self, start: int, n_images: int) -> dict | None:
        if self.folder is None:
            return None
        try:
            saved = json.loads(self._path(start).read_text())
        except (OSError, ValueError):
            return None
        return saved if saved.get("key") == self.key and len(saved.get("mantissas", ())) == n_images else None

    def save(self, start: int, chunk: dict) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_json(self._path(start), {"key": self.key, **chunk}, indent=None)

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                self.folder.parent.rmdir()  # only when no other run's chunks are left


def _run_chunk(design, runner, build_dir, run_dir, env, part, start, simulator, seed, gap_prob, stall_prob, clean, watchdog,
               hdl_clock, burst, ospec, ispec, progress, total) -> dict:
    """One simulator run of the HDL bench over the images ``part`` (starting at image ``start``): the output
    mantissas and, relative to the chunk's cycle 0, each image's first input and last output cycle."""
    stem = f"job_{os.getpid()}_{time.time_ns()}"
    in_file, out_file, job_file = (run_dir / f"{stem}{ext}" for ext in (".in", ".out", ".json"))
    _write_inputs(in_file, part, ispec["width"])
    job = {"hdl_clock": hdl_clock, "watchdog_cycles": watchdog, "streams": design.info.get("streams", []),
           "fifos": design.info.get("fifos", [])}
    job_file.write_text(json.dumps(job))
    plusargs = [f"+in={in_file}", f"+out={out_file}", f"+images={len(part)}", f"+seed={seed + start}",
                f"+gap={round(gap_prob * 65536)}", f"+stall={round(stall_prob * 65536)}",
                f"+clean={clean if start == 0 else 0}"]
    if stall_prob > 0:
        plusargs += [f"+{name}={value}" for name, value in burst.items()]
    log_file = run_dir / f"{stem}.log"
    monitor = _Progress(out_file, ospec["beats_per_image"], start, total, progress) if progress else None
    if monitor:
        monitor.start()
    try:
        with _environ({**env, "SKIPLESS_COSIM_JOB": str(job_file)}):
            try:
                with open(log_file, "w") as logf, contextlib.redirect_stdout(logf):
                    runner.test(test_module=HDL_TB_MODULE, hdl_toplevel=BENCH_TOP, build_dir=str(build_dir),
                                test_dir=str(run_dir), results_xml=str(run_dir / f"{stem}.xml"), plusargs=plusargs,
                                log_file=str(log_file))
            except (SystemExit, Exception):
                pass  # judged below from the bench's files and the log
    finally:
        if monitor:
            monitor.stop.set()
            monitor.join()
    log_text = log_file.read_text(errors="replace") if log_file.exists() else ""
    asserts = _assertions(log_text)
    if asserts:
        raise SkiplessError(f"{design.top} ({simulator}): assertion failed: {asserts[0]} (log: {log_file})")
    result_path = job_file.with_name(stem + ".result.json")
    if not result_path.exists() or not out_file.exists():
        raise SkiplessError(f"the {simulator} run of {design.path} ended without a result (crashed or killed); "
                            f"see {log_file}")
    res = json.loads(result_path.read_text())
    events = _parse_events(out_file.read_text(), ospec)
    if events["errors"]:
        raise SkiplessError(f"{design.top} ({simulator}): {events['errors'][0]} (images {start}..{start + len(part) - 1})")
    if res["error"]:
        raise SkiplessError(f"{design.top} ({simulator}): {res['error']}")
    n_beats = len(part) * ospec["beats_per_image"]
    if len(events["outs"]) != n_beats or events["done"] is None:
        raise SkiplessError(f"{design.top} ({simulator}): {len(events['outs'])} of {n_beats} output beats before the "
                            f"run ended; see {log_file}")
    mant = [unpack_lanes(w, ospec["channels"], ospec["width"], ospec["signed"]) for _, w in events["outs"]]
    last_out = np.array([c for c, _ in events["outs"]]).reshape(len(part), ospec["beats_per_image"])[:, -1]
    for p in (in_file, out_file, job_file, result_path, log_file, run_dir / f"{stem}.xml"):
        p.unlink(missing_ok=True)
    return {"mantissas": np.asarray(mant, dtype=np.int64).tolist(), "first_in": [int(c) for c in events["first_in"]],
            "last_out": [int(c) for c in last_out], "cycles": int(res["cycles"]), "wall_s": float(res["wall_s"])}


def _cosim_hdl(design, images, simulator, seed, gap_prob, stall_prob, watchdog_cycles, log, chunk, clean, expected,
               max_mismatches, progress, options, resume_dir=None) -> CosimResult:
    interval = design.info.get("estimated_interval_cycles") or 100_000
    options = options or VerilatorOptions.for_run(len(images) * interval)
    runner, build_dir, build_s, hdl_clock = build(design, simulator, "hdl", log, options)
    iface = design.info["interface"]
    ispec, ospec = iface["input"], iface["output"]
    run_dir = build_dir / "runs"
    run_dir.mkdir(exist_ok=True)
    watchdog = int(watchdog_cycles or 4 * interval + 100_000)
    env = simulator_env(simulator)
    outputs, first_in, last_out = [], [], []
    mismatches: list[dict] = []
    cycles, wall = 0, 0.0
    stopped = False
    burst = {"burst": int(BURST_INTERVALS * interval), "burst0": int(FIRST_BURST_MAX_INTERVALS * interval),
             "burstp": round(BURST_PROB * 65536), "fill": int(interval)}
    store = _ChunkStore(resume_dir, {"build": json.loads((build_dir / "skipless_build.json").read_text()),
                                     "seed": seed, "gap": gap_prob, "stall": stall_prob, "clean": clean, "chunk": chunk,
                                     "watchdog": watchdog, "burst": burst, "images": hashlib.sha256(images.tobytes()).hexdigest(),
                                     "shape": images.shape})
    resumed = 0
    for start in range(0, len(images), chunk):
        part = images[start : start + chunk]
        done = store.load(start, len(part))
        if done is None:
            done = _run_chunk(design, runner, build_dir, run_dir, env, part, start, simulator, seed, gap_prob, stall_prob,
                              clean, watchdog, hdl_clock, burst, ospec, ispec, progress, len(images))
            store.save(start, done)
        else:
            resumed += 1
        mant = np.array(done["mantissas"], dtype=np.int64).reshape(len(part), ospec["beats_per_image"], ospec["channels"])
        outputs.append(mant)
        first_in += [c + cycles for c in done["first_in"]]
        last_out += [c + cycles for c in done["last_out"]]
        cycles += done["cycles"]
        wall += done["wall_s"]
        if expected is not None:
            values = _type(ospec).to_float(mant)
            mismatches += compare(values, expected, start)
            if max_mismatches is not None and len(mismatches) > max_mismatches:
                stopped = start + len(part) < len(images)
                break
        if progress:
            progress(start + len(part), len(images))
    if resumed:
        log(f"resumed a killed run: {resumed} chunk(s) of {chunk} images taken from {store.folder}")
    store.remove()
    mant = np.concatenate(outputs)
    values = _type(ospec).to_float(mant)
    values = image_values(values, ospec)
    latencies = [o - i for i, o in zip(first_in, last_out, strict=False)]
    timing_clean = clean >= min(CLEAN_IMAGES, len(images))
    interval_cycles = float(last_out[1] - last_out[0]) if len(last_out) > 1 else None
    if not timing_clean and len(last_out) > 1:
        interval_cycles = float(np.mean(np.diff(last_out)))
    return CosimResult(values, mant, simulator, latencies[0], interval_cycles, cycles, wall, build_s, seed, gap_prob,
                       stall_prob, latencies, {}, "hdl", timing_clean, mismatches, stopped)


# ---------------------------------------------------------------- the per-beat (Python) bench


def _cosim_python(design, images, simulator, seed, gap_prob, stall_prob, watchdog_cycles, probes, log) -> CosimResult:
    runner, build_dir, build_s, _ = build(design, simulator, "python", log)
    run_dir = build_dir / "runs"
    run_dir.mkdir(exist_ok=True)
    job_path = run_dir / f"job_{os.getpid()}_{time.time_ns()}.json"
    np.save(job_path.with_suffix(".npy"), images)
    interval = design.info.get("estimated_interval_cycles") or 100_000
    job = {
        "inputs": str(job_path.with_suffix(".npy")), "interface": design.info["interface"], "streams": design.info.get("streams", []),
        "fifos": design.info.get("fifos", []), "clock_period_ns": design.info["clock_period_ns"], "seed": seed,
        "gap_prob": gap_prob, "stall_prob": stall_prob, "watchdog_cycles": int(watchdog_cycles or 4 * interval + 100_000),
        "probes": list(probes),
    }
    job_path.write_text(json.dumps(job))
    result_path = job_path.with_name(job_path.stem + ".result.json")
    log_file = run_dir / f"{job_path.stem}.log"
    with _environ({**simulator_env(simulator), "SKIPLESS_COSIM_JOB": str(job_path)}):
        try:
            with open(log_file, "w") as logf, contextlib.redirect_stdout(logf):
                runner.test(test_module=PY_TB_MODULE, hdl_toplevel=design.top, build_dir=str(build_dir), test_dir=str(run_dir),
                            results_xml=str(job_path.with_suffix(".xml")), log_file=str(log_file))
        except (SystemExit, Exception) as e:  # the runner raises when the cocotb test failed, e.g. on a stall
            asserts = _assertions(log_file.read_text(errors="replace")) if log_file.exists() else []
            if asserts:
                raise SkiplessError(f"{design.top} ({simulator}): assertion failed: {asserts[0]} (log: {log_file})") from None
            if not result_path.exists():
                raise SkiplessError(f"{simulator} simulation of {design.path} failed to run: {e}; see {log_file}") from None
    if not result_path.exists():
        raise SkiplessError(f"the {simulator} testbench left no result; see {log_file}")
    res = json.loads(result_path.read_text())
    for p in (job_path, job_path.with_suffix(".npy")):
        p.unlink(missing_ok=True)
    if res["error"]:
        raise SkiplessError(f"{design.top} ({simulator}): {res['error']} (beats per stream: {result_path})")
    result_path.unlink()
    spec = design.info["interface"]["output"]
    mant = np.asarray(res["outputs"], dtype=np.int64)
    values = _type(spec).to_float(mant)
    values = image_values(values, spec)
    latencies = [o - i for i, o in zip(res["first_in"], res["last_out"], strict=True)]
    outs = res["last_out"]
    interval_cycles = float(np.mean(np.diff(outs))) if len(outs) > 1 else None
    clean = gap_prob == 0 and stall_prob == 0
    return CosimResult(values, mant, simulator, latencies[0], interval_cycles, res["cycles"], res["wall_s"], build_s, seed,
                       gap_prob, stall_prob, latencies, {k: [int(w) for w in v] for k, v in res["probes"].items()}, "python", clean)
