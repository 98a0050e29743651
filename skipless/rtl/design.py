"""Generate, write and lint an open RTL design: ``generate(graph_or_project, out_dir) -> RTLDesign``.

A design folder holds ``skipless_lib.v`` (the library), ``<top>.v`` (the network) and
``design.json``: top, files and their SHA-256, clock, content hash, per-layer parallelism and
cycles, the skip FIFOs (depth, width, bits), the stream table and the top-level interface (element
types per beat). ``design.json`` is written last; loading a design checks every file against its
recorded hash, so an edited, truncated or half-written design is never simulated or synthesized.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from skipless.errors import SkiplessError
from skipless.fileio import changed_files, exclusive, sha256_files, write_atomic, write_json
from skipless.parts import find_part
from skipless.rtl import fit
from skipless.rtl.emit import emit, ident, tdata_width
from skipless.rtl.graph import Network
from skipless.rtl.hls_import import from_hls4ml
from skipless.rtl.schedule import Plan, RTLSettings, plan

LIBRARY = "skipless_lib.v"
DESIGN_FILE = "design.json"
GENERATOR_VERSION = 1


def library_text() -> str:
    return resources.files("skipless.rtl").joinpath("verilog", LIBRARY).read_text()


@dataclass
class RTLDesign:
    path: Path
    top: str
    info: dict  # the content of design.json

    @property
    def files(self) -> list[Path]:
        return [self.path / f for f in self.info["files"]]

    @property
    def content_hash(self) -> str:
        return self.info["content_hash"]

    def stale_files(self) -> list[str]:
        """Files that are missing or differ from the hashes recorded at generation (empty: intact)."""
        if "file_sha256" not in self.info:
            return [f"{DESIGN_FILE} (written by an older skipless, without file hashes)"]
        return changed_files(self.info["file_sha256"], self.path)

    def verify(self) -> RTLDesign:
        """Raise unless every file is exactly what the generator wrote."""
        stale = self.stale_files()
        if stale:
            raise SkiplessError(
                f"the RTL in {self.path} changed since it was generated ({', '.join(stale)}): regenerate it with "
                "`skipless rtl <id>` (a deliberately changed design needs its own folder, see skipless.rtl.derive)"
            )
        return self

    @property
    def design_id(self) -> str:
        return self.info.get("id") or self.info.get("network") or self.top

    @classmethod
    def load(cls, path, verify: bool = True) -> RTLDesign:
        """Read and check ``design.json`` (top, files inside the folder, clock, FIFOs) and, unless
        ``verify`` is False, that every file is what the generator wrote. The one reader of design.json."""
        path = Path(path)
        if not path.is_dir():
            raise SkiplessError(f"no RTL design folder at {path}: run `skipless rtl <id>` first")
        try:
            info = json.loads((path / DESIGN_FILE).read_text())
        except FileNotFoundError:
            raise SkiplessError(f"{path} holds no open RTL design ({DESIGN_FILE} missing): run `skipless rtl <id>` first") from None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise _design_error(path, f"unreadable ({e})") from None
        _check_structure(path, info)
        design = cls(path, info["top"], info)
        return design.verify() if verify else design


def _design_error(path: Path, what: str) -> SkiplessError:
    return SkiplessError(f"{path / DESIGN_FILE}: {what}; regenerate the design with `skipless rtl <id>`")


def _check_structure(path: Path, info) -> None:
    if not isinstance(info, dict):
        raise _design_error(path, "not a JSON object")
    if not isinstance(info.get("top"), str) or not info["top"]:
        raise _design_error(path, "no 'top' module name")
    files = info.get("files")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) and f for f in files):
        raise _design_error(path, "'files' must be a non-empty list of Verilog file names")
    vendor = info.get("flow") == "vendor"  # the vendor's RTL stays in the hls project, referenced from here
    for name in files:
        if not vendor and (Path(name).is_absolute() or ".." in Path(name).parts):
            raise _design_error(path, f"file {name!r} is outside the design folder")
        if not (path / name).is_file():
            raise _design_error(path, f"lists {name}, which is missing")
    clock = info.get("clock_period_ns")
    if not isinstance(clock, (int, float)) or isinstance(clock, bool) or clock <= 0:
        raise _design_error(path, f"'clock_period_ns' must be a positive number, got {clock!r}")
    fifos = info.get("fifos", [])
    if not isinstance(fifos, list):
        raise _design_error(path, "'fifos' must be a list")
    for fifo in fifos:
        ok = isinstance(fifo, dict) and isinstance(fifo.get("name"), str)
        ok = ok and all(isinstance(fifo.get(k), int) and fifo[k] >= 0 for k in ("depth", "width", "bits"))
        if not ok:
            raise _design_error(path, f"FIFO entry {fifo!r} needs name, depth, width, bits (non-negative integers)")


def _interface(net: Network, port: str, stream: str) -> dict:
    node = net.producer(stream)
    t = node.type
    return {
        "port": ident(port), "shape": list(node.shape), "channels": node.shape[2], "width": t.width, "frac": t.frac, "signed": t.signed,
        "rounding": t.rounding, "overflow": t.overflow,
        "type": t.hls(), "beats_per_image": node.beats, "tdata_width": tdata_width(node.shape[2] * t.width),
    }


def describe(net: Network, p: Plan, settings: RTLSettings, streams: list[dict], top: str) -> dict:
    return {
        "top": top,
        "files": [LIBRARY, f"{top}.v"],
        "network": net.name,
        "clock_period_ns": settings.clock_period_ns,
        "settings": settings.to_dict(),
        "interface": {"input": _interface(net, net.input_port, net.input_name), "output": _interface(net, net.output_port, net.output_name)},
        "layers": [
            {"name": c.name, "macs_per_cycle": c.macs_per_cycle, "pi": c.pi, "po": c.po, "multiplier": c.multiplier,
             "multipliers": c.multipliers, "steps_per_pixel": c.steps_per_pixel,
             "cycles": c.cycles, "macs": c.macs, "buffer_pixels": c.buffer_pixels, "buffer_bits": c.buffer_bits}
            for c in p.convs.values()
        ],
        "fifos": [
            {"name": f"{f.add}_skip_fifo", "add": f.add, "stream": f.stream, "depth": f.depth, "derived_depth": f.derived_depth,
             "lead": f.lead, "width": f.width, "bits": f.bits}
            for f in p.fifos.values()
        ],
        "estimated_interval_cycles": p.interval_cycles,
        "macs_per_cycle": p.macs_per_cycle,
        "multipliers": p.multipliers,
        # who reads each stream (its ready comes from them): names the ends of a timing path on top-level nets
        "streams": [dict(s, consumers=[n.name for n in net.nodes if s["stream"] in n.inputs]) for s in streams],
    }


def network_of(source, name: str = "myproject") -> Network:
    """The Network of an hls4ml ModelGraph, or of an HLSProject converted in this process."""
    graph = getattr(source, "hls_model", source)
    if graph is None:
        raise SkiplessError(
            "this hls project was loaded from its cache and carries no hls4ml graph: pass "
            "skipless.hls.stock_model(model, project) (the graph) to rtl.generate"
        )
    if not hasattr(graph, "get_layers"):
        raise SkiplessError(f"rtl.generate needs an hls4ml ModelGraph or an HLSProject, not {type(source).__name__}")
    return from_hls4ml(graph, name)


def generate(source, out_dir, settings: RTLSettings | None = None, top: str = "myproject", log=print,
             design_id: str | None = None) -> RTLDesign:
    """Write the open RTL of an hls4ml graph (or project) into ``out_dir``. Without ``settings`` the
    design runs at the project's clock (an HLSProject's, or the graph's own)."""
    if settings is None:
        settings = RTLSettings(clock_period_ns=_clock_of(source))
    return write_design(network_of(source, ident(top)), out_dir, settings, top, log, design_id)


def _clock_of(source) -> float:
    project_settings = getattr(source, "settings", None)
    if project_settings is not None and hasattr(project_settings, "clock_period"):
        return float(project_settings.clock_period)
    graph = getattr(source, "hls_model", source)
    try:
        return float(graph.config.get_config_value("ClockPeriod"))
    except (AttributeError, TypeError, ValueError):
        return RTLSettings().clock_period_ns


def write_design(net: Network, out_dir, settings: RTLSettings | None = None, top: str = "myproject", log=print,
                 design_id: str | None = None) -> RTLDesign:
    """Plan, emit and write a Network's RTL; an unchanged design (same content hash) is not rewritten."""
    settings = settings or RTLSettings()
    top = ident(top)
    if settings.fit or settings.target_interval is not None:
        chosen = fit.fit(net, settings)  # refuses, before anything is written, a plan that does not fit
        settings = replace(settings, cycles_per_layer=chosen.cycles_per_layer, multipliers=chosen.multipliers)
    elif find_part(settings.part) is not None:
        chosen = fit.evaluate(net, settings)
        if not chosen.fits:
            log(f"warning: {net.name} is predicted not to fit {chosen.part} ({'; '.join(chosen.over())}); "
                f"pass --fit to plan it for the part")
    else:
        chosen = None  # a part hls4ml takes but skipless has no resource table for: no prediction
    p = chosen.plan if chosen else plan(net, settings)
    text, streams = emit(net, p, top)
    lib = library_text()
    info = describe(net, p, settings, streams, top)
    info["fit"] = chosen.to_dict() if chosen else None
    info["id"] = design_id or net.name
    # the hardware's identity: the Verilog and what describes it, not the resource model's prediction, so
    # that refitting the model (`skipless synth --calibrate-cost`) keeps synthesis and co-simulation results
    hardware = {k: v for k, v in info.items() if k != "fit"}
    info["content_hash"] = hashlib.sha256((lib + text + json.dumps(hardware, sort_keys=True, default=str)).encode()).hexdigest()
    info["generator_version"] = GENERATOR_VERSION
    texts = {LIBRARY: lib, f"{top}.v": text}
    out = Path(out_dir)
    with exclusive(out, "RTL design", wait=True):
        try:
            old = RTLDesign.load(out, verify=False)
            if (old.info.get("content_hash") == info["content_hash"] and old.info.get("id") == info["id"]
                    and old.info.get("fit") == json.loads(json.dumps(info["fit"], default=str)) and not old.stale_files()):
                return old
        except SkiplessError:
            pass
        design = write_files(out, texts, info)
    fifo_bits = sum(f["bits"] for f in info["fifos"])
    log(f"wrote open RTL of {net.name} to {out}: {p.macs_per_cycle} MACs/cycle, ~{p.interval_cycles} cycles/image, "
        f"{len(info['fifos'])} skip FIFOs ({fifo_bits} bits)")
    return design


def write_files(out: Path, texts: dict[str, str], info: dict) -> RTLDesign:
    """Write a design's files, then ``design.json`` with their hashes (last, so that a design killed
    half-way has no valid record and is regenerated)."""
    (out / DESIGN_FILE).unlink(missing_ok=True)
    for name, content in texts.items():
        write_atomic(out / name, content)
    info = {**info, "files": list(texts), "file_sha256": sha256_files([out / n for n in texts], out)}
    write_json(out / DESIGN_FILE, info, indent=2)
    return RTLDesign(out, info["top"], info)


def derive(design: RTLDesign, out_dir, edits: dict[str, str], why: str) -> RTLDesign:
    """A deliberately changed copy of ``design`` in its own folder: ``edits`` maps file names to new
    text; the copy records what it was derived from and why (e.g. a planted fault), and gets hashes of
    its own, so it can be simulated while the original stays verifiable."""
    out = Path(out_dir)
    if out.resolve() == design.path.resolve():
        raise SkiplessError("a derived design needs its own folder, not the original's")
    unknown = set(edits) - set(design.info["files"])
    if unknown:
        raise SkiplessError(f"derive: {sorted(unknown)} are not files of {design.path} ({design.info['files']})")
    texts = {name: edits.get(name, (design.path / name).read_text()) for name in design.info["files"]}
    info = {k: v for k, v in design.info.items() if k not in ("files", "file_sha256")}
    info["derived_from"] = {"path": str(design.path), "content_hash": design.content_hash, "why": why}
    info["content_hash"] = hashlib.sha256(json.dumps(texts, sort_keys=True).encode() + why.encode()).hexdigest()
    with exclusive(out, "RTL design", wait=True):
        return write_files(out, texts, info)


def lint(design: RTLDesign) -> str:
    """``verilator --lint-only -Wall`` on the design; returns its output, raises on any warning."""
    from skipless.tools import verilator_env

    env = verilator_env()
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", design.top, *map(str, design.files)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise SkiplessError(f"verilator lint of {design.path} failed:\n{proc.stderr[-4000:]}")
    return proc.stderr
