"""Mutation testing: plant faults in a design, one at a time, and check that verification catches each.

A verification harness is only as good as the faults it catches. :data:`CATALOGUE` lists faults of
the kinds a hand edit, a generator bug or a tool bug would make:

* in the open RTL's data path (the network re-emitted with one change): a weight's LSB or MSB, a
  bias, two output channels swapped, padding off by one on each side, the requantization shift,
  the rounding mode, the saturation bound;
* in its control: a skip FIFO too small, the FIFO's full or empty flag off by one, a valid or a
  ready stuck on an internal stream, a stage that ignores back-pressure, data changing while stalled;
* in the generated hls4ml project: one precision in ``defines.h``, one weight in a ``.txt`` file.

Each RTL fault is co-simulated through the fast HDL bench (random gaps, back-pressure and its
bursts, the protocol checker, the library's assertions, the stall watchdog) against QKeras; a fault
in the Verilog library also runs the library self-test (:mod:`skipless.cosim.selftest`). An hls
fault is compiled as edited and C-simulated against QKeras, and located by comparing the project's
files with what was generated. :func:`run` reports caught / missed with how.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from skipless.data import edge_cases
from skipless.errors import SkiplessError
from skipless.fileio import changed_files
from skipless.rtl.design import LIBRARY, RTLDesign, derive, write_design

LIB_EDITS = {
    "pad-bottom": ("    wire inb = (iy >= 0) && (iy < H) && (ix >= 0) && (ix < W);",
                   "    wire inb = (iy >= 0) && (iy < H - 1) && (ix >= 0) && (ix < W);"),
    "pad-right": ("    wire inb = (iy >= 0) && (iy < H) && (ix >= 0) && (ix < W);",
                  "    wire inb = (iy >= 0) && (iy < H) && (ix >= 0) && (ix < W - 1);"),
    "fifo-full-flag": ("    assign in_ready = count < DEPTH;", "    assign in_ready = count <= DEPTH;"),
    "fifo-empty-flag": ("    wire pop = (count != 0) && room;", "    wire pop = (count > 1) && room;"),
    "ignores-back-pressure": ("    assign room = !out_valid || out_ready;", "    assign room = 1'b1;"),
    "data-changes-while-stalled": ("        if (load) out_data <= din;", "        out_data <= din;"),
}


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str  # "network" (re-emitted), "top" (edit of the generated top), "library", "hls"
    what: str


CATALOGUE = [
    Fault("weight-lsb", "network", "the lowest bit of one weight of the first convolution flipped"),
    Fault("weight-msb", "network", "the sign bit of one weight of the first convolution flipped"),
    Fault("bias", "network", "one bias of the first convolution one step off"),
    Fault("channel-swap", "network", "output channels 0 and 1 of the first convolution swapped"),
    Fault("pad-top", "network", "top padding of the first convolution one row too many"),
    Fault("pad-left", "network", "left padding of the first convolution one column too many"),
    Fault("pad-bottom", "library", "the last input row treated as padding (bottom padding off by one)"),
    Fault("pad-right", "library", "the last input column treated as padding (right padding off by one)"),
    Fault("requant-shift", "top", "the product shift of the first convolution off by one"),
    Fault("rounding", "top", "the first requantization rounds by truncation instead of its mode"),
    Fault("saturation", "top", "the first saturating requantization wraps instead"),
    Fault("skip-fifo-too-small", "network", "the first skip FIFO half as deep as the lead of the branch it buffers"),
    Fault("fifo-full-flag", "library", "the skip FIFO's full flag one entry late"),
    Fault("fifo-empty-flag", "library", "the skip FIFO's empty flag one entry early"),
    Fault("stuck-valid", "top", "the valid of an internal stream stuck at 1"),
    Fault("stuck-ready", "top", "the ready of an internal stream stuck at 1"),
    Fault("ignores-back-pressure", "library", "output registers that load over a beat not yet accepted"),
    Fault("data-changes-while-stalled", "library", "output registers whose data follow their input while stalled"),
    Fault("hls-precision", "hls", "the first layer result type in the hls project's defines.h with half its fraction bits "
          "(a precision set by hand too coarse)"),
    Fault("hls-weight", "hls", "one weight in the hls project's weights/*.txt changed"),
]
BY_NAME = {f.name: f for f in CATALOGUE}


@dataclass
class Outcome:
    fault: str
    kind: str
    caught: bool | None  # None: the design has no place for this fault (not counted)
    how: str
    located: str = ""
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    def line(self) -> str:
        mark = {True: "caught", False: "MISSED", None: "n/a"}[self.caught]
        return f"{self.fault:28s} {mark:7s} {self.how}" + (f"; located: {self.located}" if self.located else "")


# ---------------------------------------------------------------- planting


def _first_conv(net):
    return next(n for n in net.nodes if n.op == "conv" and n.params["kernel"][0] > 1)


def _network_fault(name: str, net, design: RTLDesign):
    """A copy of the network (and RTL settings changes) with the fault in it; (None, None) when the
    design has no place for it."""
    faulty = copy.deepcopy(net)
    settings = {}
    conv = _first_conv(faulty)
    p = conv.params
    if name in ("weight-lsb", "weight-msb"):
        w = p["weight"].copy()
        bit = 0 if name == "weight-lsb" else p["weight_type"].width - 1
        m = int(w.flat[0]) & ((1 << p["weight_type"].width) - 1)
        m ^= 1 << bit
        w.flat[0] = m - (1 << p["weight_type"].width) if m >> (p["weight_type"].width - 1) else m
        p["weight"] = w
    elif name == "bias":
        b = p["bias"].copy()
        b[0] = b[0] + 1 if b[0] < p["bias_type"].hi else b[0] - 1
        p["bias"] = b
    elif name == "channel-swap":
        order = list(range(conv.shape[2]))
        order[0], order[1] = 1, 0
        p["weight"], p["bias"] = p["weight"][..., order], p["bias"][order]
    elif name == "pad-top":
        p["pad_top"] += 1
    elif name == "pad-left":
        p["pad_left"] += 1
    elif name == "skip-fifo-too-small":
        # half the lead of the branch it buffers; a skip whose branches keep pace needs no buffer to speak of
        fifos = [f for f in design.info.get("fifos", []) if f["lead"] > 2]
        if not fifos:
            return None, None
        settings = {"fifo_depths": {fifos[0]["add"]: fifos[0]["lead"] // 2}}
    else:
        raise SkiplessError(f"not a network fault: {name}")
    return faulty, settings


def _top_edit(name: str, text: str) -> str | None:
    if name == "requant-shift":
        m = re.search(r"\.PSH\((-?\d+)\)", text)
        return text[: m.start()] + f".PSH({int(m.group(1)) + 1})" + text[m.end():] if m else None
    if name == "rounding":
        m = re.search(r"(skl_map #\(\n\s+[^\n]*?)\.RND\(([12])\)", text)
        return text[: m.start()] + m.group(1) + ".RND(0)" + text[m.end():] if m else None
    if name == "saturation":
        m = re.search(r"(skl_map #\(\n\s+[^\n]*?)\.OVF\(([12])\)", text)
        return text[: m.start()] + m.group(1) + ".OVF(0)" + text[m.end():] if m else None
    if name in ("stuck-valid", "stuck-ready"):
        # the stream from the first convolution's accumulator into its requantization (skl_map)
        port, sig = ("in_valid", "valid") if name == "stuck-valid" else ("out_ready", "ready")
        m = re.search(rf"\.{port}\((s_\w+_{sig})\)", text)
        return text[: m.start()] + f".{port}(1'b1)" + text[m.end():] if m else None
    raise SkiplessError(f"not an edit of the top: {name}")


def plant(fault: Fault, design: RTLDesign, net, out: Path) -> RTLDesign | None:
    """The design with ``fault`` planted, in its own folder ``out`` (None if the design has no place for it)."""
    if out.exists():
        shutil.rmtree(out)
    if fault.kind == "network":
        from skipless.rtl.schedule import RTLSettings

        faulty, changes = _network_fault(fault.name, net, design)
        if faulty is None:
            return None
        base = RTLSettings(**{k: v for k, v in design.info["settings"].items()})
        settings = replace(base, **changes) if changes else base
        return write_design(faulty, out, settings, top=design.top, log=lambda *a: None, design_id=f"{design.design_id}~{fault.name}")
    if fault.kind == "top":
        top_file = f"{design.top}.v"
        text = _top_edit(fault.name, (design.path / top_file).read_text())
        return None if text is None else derive(design, out, {top_file: text}, why=fault.name)
    if fault.kind == "library":
        old, new = LIB_EDITS[fault.name]
        lib = (design.path / LIBRARY).read_text()
        if old not in lib:
            raise SkiplessError(f"fault {fault.name}: the library no longer has the line it edits ({old.strip()!r})")
        return derive(design, out, {LIBRARY: lib.replace(old, new, 1)}, why=fault.name)
    raise SkiplessError(f"fault {fault.name} is not an RTL fault")


# ---------------------------------------------------------------- judging


def _judge_rtl(fault: Fault, design: RTLDesign, x, expected, settings) -> tuple[bool, str, dict]:
    from skipless import cosim

    try:
        result = cosim.cosim(design, x, simulator=settings.simulator, seed=settings.seed, gap_prob=settings.gap_prob,
                             stall_prob=settings.stall_prob, expected=expected,
                             log=lambda *a: None)
    except SkiplessError as e:
        text = str(e)
        for key, how in (("assertion failed", "library assertion"), ("protocol", "port protocol check"),
                         ("stalled", "stall watchdog"), ("output beats before the run ended", "output beat count")):
            if key in text:
                return True, f"{how}: {text.split(': ', 1)[-1][:200]}", {}
        if "could not build" in text:
            raise
        return True, f"simulation error: {text[:200]}", {}
    if result.mismatches:
        m = result.mismatches[0]
        return True, (f"mismatch at image {m['image']}, output {m['output']}: RTL {m['got']} vs QKeras {m['want']} "
                      f"({len(result.mismatches)} of {len(x)} images differ)"), {"mismatches": len(result.mismatches)}
    return False, f"all {len(x)} images bit-exact, no protocol error, no stall", {}


def _judge_hls(fault: Fault, build, x, expected, scratch: Path) -> tuple[bool, str, str]:
    from skipless import hls

    project = build.convert()
    work = scratch / "hls4ml_prj"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(project.generated_dir, work)
    record = (project.generated_dir / "skipless_build.json")
    if fault.name == "hls-precision":
        path = work / "firmware" / "defines.h"
        text = path.read_text()
        # the first layer result type with plain (TRN, WRAP) semantics, e.g. ap_fixed<17,7> of the first conv,
        # keeps half its fraction bits. Dropping one LSB is not enough: a result rounded again by the next
        # quantizer hides it on all but tie cases (measured: 18 of 18 images equal on a small network).
        m = re.search(r"typedef nnet::array<ap_fixed<(\d+),(-?\d+)>, [^>]*> (\w+_t);", text)
        if m is None or int(m.group(1)) - int(m.group(2)) < 2:
            return False, "no layer result type with fraction bits to narrow in defines.h", ""
        width, integer = int(m.group(1)), int(m.group(2))
        narrow = f"ap_fixed<{integer + (width - integer) // 2},{integer}>"
        old = m.group(0)
        path.write_text(text.replace(old, old.replace(f"ap_fixed<{width},{integer}>", narrow), 1))
    else:
        weights = sorted((work / "firmware" / "weights").glob("w*.txt"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
        path = weights[0]
        values = path.read_text().split(",")
        values[0] = str(float(values[0]) + 0.5)
        path.write_text(",".join(values))
    for so in (work / "firmware").glob("*.so"):
        so.unlink()
    proc = subprocess.run(["bash", "build_lib.sh"], cwd=work, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return True, f"the edited project does not compile: {proc.stderr.strip().splitlines()[-1][:200]}", ""
    lib = next((work / "firmware").glob("*.so"))
    edited = replace(project, path=scratch, lib_path=lib, hls_model=None)
    y = hls.csim(edited, x, workers=1)
    import json

    edits = [f for f in changed_files(json.loads(record.read_text())["files"], work) if not f.split(" ")[0].endswith(".so")]
    located = ", ".join(edits) or "nothing"
    differs = np.nonzero((y.reshape(len(x), -1) != expected.reshape(len(x), -1)).any(axis=1))[0]
    if len(differs):
        i = int(differs[0])
        j = int(np.argmax(y.reshape(len(x), -1)[i] != expected.reshape(len(x), -1)[i]))
        return True, f"C-sim mismatch at image {i}, output {j} ({len(differs)} of {len(x)} images differ)", located
    return False, f"C-sim equal to QKeras on all {len(x)} images", located


def run(build, faults: list[str] | None = None, n: int = 12, simulator: str | None = None, scratch: Path | None = None,
        log=print) -> list[Outcome]:
    """Plant each fault of the catalogue (or those named) in ``build``'s design and verify it; returns outcomes.

    Each RTL fault is co-simulated on ``n`` test images and the saturating edge cases of
    :func:`skipless.data.edge_cases`, with the build's co-simulation settings (seed,
    random gaps and back-pressure; ``simulator`` overrides its simulator)."""
    import time

    from skipless.cosim.selftest import run_selftest
    from skipless.rtl.hls_import import from_hls4ml

    unknown = [f for f in faults or [] if f not in BY_NAME]
    if unknown:
        raise SkiplessError(f"unknown fault(s) {', '.join(unknown)}: the catalogue has {', '.join(BY_NAME)}")
    chosen = [BY_NAME[f] for f in faults] if faults else CATALOGUE
    settings = build.settings.cosim if simulator is None else replace(build.settings.cosim, simulator=simulator)
    if settings.gap_prob == 0 and settings.stall_prob == 0:
        raise SkiplessError("mutation testing needs random gaps or back-pressure (--gap/--stall above 0): "
                            "faults in the handshakes show only under them")
    scratch = Path(scratch) if scratch else build.folder / "faults"
    design = build.rtl()
    net = from_hls4ml(build.graph(), design.top)
    x = build.test_images(n)[0]
    x = np.concatenate([x, edge_cases(x.shape[1:]).astype(x.dtype)])  # saturating inputs: a wrong saturation shows
    expected = build.reference(x)
    outcomes = []
    for fault in chosen:
        start = time.time()
        log(f"fault {fault.name}: {fault.what}")
        located = ""
        if fault.kind == "hls":
            caught, how, located = _judge_hls(fault, build, x, expected, scratch / fault.name)
        else:
            planted = plant(fault, design, net, scratch / fault.name)
            if planted is None:
                outcomes.append(Outcome(fault.name, fault.kind, None, "not applicable: the design has no place for it"))
                continue
            caught, how, _ = _judge_rtl(fault, planted, x, expected, settings)
            if fault.kind == "library":
                found = run_selftest((planted.path / LIBRARY).read_text(), scratch / fault.name / "selftest", settings.simulator)
                how = f"{how}; library self-test: {found or 'passed'}"
                caught = caught or found is not None
                located = "skipless_lib.v"
            elif fault.kind == "top":
                located = f"{design.top}.v"
        outcome = Outcome(fault.name, fault.kind, caught, how, located, round(time.time() - start, 1))
        log("  " + outcome.line())
        outcomes.append(outcome)
    return outcomes


def score(outcomes: list[Outcome]) -> tuple[int, int]:
    """(caught, applicable) over the outcomes."""
    applicable = [o for o in outcomes if o.caught is not None]
    return sum(1 for o in applicable if o.caught), len(applicable)
