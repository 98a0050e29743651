"""An open timing estimate of a Yosys xc7 netlist: static timing analysis over the cells Yosys mapped to.

Yosys reports no Fmax for Xilinx parts, and its own ``sta`` pass finds no timing arcs on the flip-flops
and carry chains (FDRE, CARRY4) of a ``synth_xilinx`` netlist, so it cannot time one. This module does
the analysis itself, from two files the synthesis script writes:

- ``netlist.json``: the flattened netlist (``write_json``), plus the modules Yosys derived for cells whose
  timing depends on their parameters (``$paramod...DSP48E1``, ``...RAMB18E1``), with their specify
  blocks already evaluated for those parameters (whether the DSP's M and P registers are used, ...);
- ``cells.json``: Yosys's xc7 cell library (``read_verilog -lib -specify +/xilinx/cells_sim.v; proc =*``), whose
  specify blocks carry the delays Yosys's abc9 maps with, taken there from Project X-Ray's Artix-7 timing
  database (prjxray-db SDF files): LUT input-to-output, carry-chain arcs, flip-flop clock-to-out and
  setup, LUT-RAM, block RAM and DSP clock-to-out, setup and combinational arcs.

No number here is typed in except the routing delay: there is no placement, so every net (driver output
to sink input) costs ``WIRE_PS`` = 300 ps, except the dedicated carry, wide-mux and DSP cascade wires
(``DEDICATED``), which cost nothing beyond the cell arcs; 300 ps is the per-net wire delay Yosys's xc7 flow itself assumed when
mapping with abc9 (``XC7_WIRE_DELAY`` in Yosys's ``synth_xilinx``/``abc9`` sources up to 0.9). Real
routes are longer under congestion and high fanout, so read the result as an optimistic estimate of a
placed design, and compare designs with it rather than trust its absolute value: the report states the
critical path's cells and nets, so anyone can redo the sum with another wire delay.

Launch at a clock edge (a clock-to-out arc) or at a top-level input (time 0); capture at an input with a
setup rule or at a top-level output. Where a cell's arc has conditions (an inverted clock, a register
enable), the slowest variant counts. Clock insertion delay is the same at launch and capture and is left
out. A cell type with no timing in either file is counted in ``untimed_cells``: its outputs start paths
at time 0 and its inputs end none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from skipless.errors import SkiplessError

WIRE_PS = 300
FAMILIES = ("xc7",)  # the library's delays are Project X-Ray's Artix-7 ones: 7-series parts only
NETLIST_FILE = "netlist.json"
LIBRARY_FILE = "cells.json"
PATH_STEPS_KEPT = 40
# Connections on dedicated in-slice or cascade wires, which cost no general routing: (driver cell, its
# output port, sink cell, its input port); every other net costs WIRE_PS.
DEDICATED = {
    ("CARRY4", "CO", "CARRY4", "CI"),
    ("LUT6", "O", "MUXF7", "I0"), ("LUT6", "O", "MUXF7", "I1"),
    ("MUXF7", "O", "MUXF8", "I0"), ("MUXF7", "O", "MUXF8", "I1"),
    ("DSP48E1", "PCOUT", "DSP48E1", "PCIN"), ("DSP48E1", "ACOUT", "DSP48E1", "ACIN"),
    ("DSP48E1", "BCOUT", "DSP48E1", "BCIN"), ("DSP48E1", "CARRYCASCOUT", "DSP48E1", "CARRYCASCIN"),
}
METHOD = (
    "static timing over the Yosys netlist; cell delays from Yosys's xc7 cell library (prjxray-db "
    f"Artix-7 timing), {WIRE_PS} ps per net (no placement: optimistic); an estimate, not sign-off"
)


def script_lines(work: str) -> list[str]:
    """The Yosys commands, run after synthesis, that write the two files this module reads."""
    return [
        f"write_json {work}/{NETLIST_FILE}",
        "design -reset",
        "read_verilog -lib -specify +/xilinx/cells_sim.v",
        "proc =*",  # the library's flip-flops are whiteboxes with processes, which write_json refuses
        f"write_json {work}/{LIBRARY_FILE}",
    ]


# ---------------------------------------------------------------- cell timing models

Pin = tuple[str, int]  # (port name, bit index)


@dataclass
class CellModel:
    """The timing of one cell type (or one parameterization of it), in ps."""

    into: dict[Pin, list[tuple[Pin, int]]] = field(default_factory=dict)  # output pin -> [(input pin, delay)]
    clock_to_out: dict[Pin, int] = field(default_factory=dict)
    setup: dict[Pin, int] = field(default_factory=dict)

    @property
    def timed(self) -> bool:
        return bool(self.into or self.clock_to_out or self.setup)


def _number(value) -> int | None:
    """A Yosys JSON parameter as an integer (binary strings are 32-bit two's complement); None for x."""
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value or set(value) - {"0", "1"}:
        return None
    n = int(value, 2)
    return n - (1 << len(value)) if len(value) == 32 and value[0] == "1" else n


def _off(conn: dict, name: str) -> bool:
    """True when the enable ``name`` of a specify cell is tied to constant 0 (the arc never applies)."""
    return conn.get(name) == ["0"] or conn.get(name) == [0]


def build_model(module: dict) -> CellModel:
    """A cell model from the ``$specify2``/``$specify3``/``$specrule`` cells of a module's JSON."""
    where: dict[int, Pin] = {}
    for port, info in module.get("ports", {}).items():
        for i, bit in enumerate(info["bits"]):
            if isinstance(bit, int):
                where[bit] = (port, i)
    model = CellModel()

    def pins(bits) -> list[Pin]:
        return [where[b] for b in bits if isinstance(b, int) and b in where]

    for cell in module.get("cells", {}).values():
        kind, p, conn = cell["type"], cell.get("parameters", {}), cell.get("connections", {})
        if kind == "$specify2" and not _off(conn, "EN"):
            delays = [d for d in (_number(p.get("T_RISE_MAX")), _number(p.get("T_FALL_MAX"))) if d is not None]
            if not delays:
                continue
            src, dst = pins(conn.get("SRC", [])), pins(conn.get("DST", []))
            pairs = [(s, d) for s in src for d in dst] if _number(p.get("FULL")) else list(zip(src, dst, strict=False))  # bit i to bit i
            for s, d in pairs:
                model.into.setdefault(d, []).append((s, max(delays)))
        elif kind == "$specify3":  # any condition: the slowest variant counts (block RAM's DOA_REG ones
            # reduce a 32-bit parameter with & and |, so Yosys ties both enables to 0 for DOA_REG = 0)
            if _number(p.get("EDGE_EN")) and not _number(p.get("EDGE_POL")):
                continue  # the falling-edge variant (an inverted clock)
            delays = [d for d in (_number(p.get("T_RISE_MAX")), _number(p.get("T_FALL_MAX"))) if d is not None]
            for d in pins(conn.get("DST", [])) if delays else []:
                model.clock_to_out[d] = max(model.clock_to_out.get(d, 0), max(delays))
        elif kind == "$specrule" and p.get("TYPE") in ("$setup", "$setuphold"):
            limit = _number(p.get("T_LIMIT_MAX"))
            if limit is None:
                continue
            for s in pins(conn.get("SRC", [])):
                model.setup[s] = max(model.setup.get(s, 0), limit, 0)  # negative setups count as 0
    return model


class Library:
    """Cell models by type, and by parameterization for the types Yosys derived a module for."""

    def __init__(self, library: dict, netlist: dict):
        self.base = {name: build_model(m) for name, m in library.get("modules", {}).items()}
        self.derived: dict[str, list[tuple[dict, CellModel]]] = {}
        for name, m in netlist.get("modules", {}).items():
            base = (m.get("attributes") or {}).get("hdlname") or name.rsplit("\\", 1)[-1]
            if name.startswith("$paramod") and base in self.base:
                model = build_model(m)
                if model.timed:
                    params = {k: _norm(v) for k, v in (m.get("parameter_default_values") or {}).items()}
                    self.derived.setdefault(base, []).append((params, model))

    def model(self, kind: str, parameters: dict) -> CellModel | None:
        for params, model in self.derived.get(kind, ()):
            if all(params.get(k) == _norm(v) for k, v in parameters.items() if k in params):
                return model
        base = self.base.get(kind)
        return base if base is not None and base.timed else None


def _norm(value):
    n = _number(value)
    return n if n is not None else value


# ---------------------------------------------------------------- the analysis


def _bit_names(top: dict) -> dict[int, str]:
    """A readable name per net bit: the shortest visible net name that holds it (a Yosys-made one if none)."""
    names: dict[int, tuple[int, int, str]] = {}
    for name, info in top.get("netnames", {}).items():
        bits = info.get("bits", [])
        for i, bit in enumerate(bits):
            if isinstance(bit, int):
                label = name if len(bits) == 1 else f"{name}[{i + int(info.get('offset', 0))}]"
                rank = (int(bool(info.get("hide_name", 0))), len(label), label)
                if bit not in names or rank < names[bit]:
                    names[bit] = rank
    return {bit: rank[2] for bit, rank in names.items()}


def _where(cell_name: str, cell: dict, net: str) -> dict:
    """Where a cell of a flattened netlist came from: its layer (the first instance name, ``u_`` dropped),
    the net it drives or reads, and the source line of the RTL it was made from."""
    hdl = (cell.get("attributes") or {}).get("hdlname") or ""
    if hdl:
        path = hdl.split(" ")
    elif "." in cell_name and not cell_name.startswith("$"):
        path = cell_name.split(".")
    else:
        path = net.split(".")[:-1]
    layer = path[0][2:] if path and path[0].startswith("u_") else (path[0] if path else "(top level)")
    sources = (cell.get("attributes") or {}).get("src", "").split("|")
    src = next((x for x in sources if "/share/" not in x), sources[0])  # the design's line, not a techmap's
    return {"layer": layer, "net": net, "cell": cell["type"], "src": src}


def analyze(netlist: dict, library: dict, top: str, clock_period_ns: float, wire_ps: int = WIRE_PS) -> dict:
    """The timing estimate of module ``top`` of a Yosys JSON netlist, with ``library`` the cell library JSON."""
    modules = netlist.get("modules", {})
    if top not in modules:
        raise SkiplessError(f"the netlist has no module {top!r}; rerun the synthesis")
    lib = Library(library, netlist)
    module = modules[top]
    cells = module.get("cells", {})
    models: dict[str, CellModel | None] = {}
    untimed: dict[str, int] = {}
    driver: dict[int, tuple[str, Pin]] = {}  # bit -> (cell, output pin)
    for name, cell in cells.items():
        model = lib.model(cell["type"], cell.get("parameters", {}))
        models[name] = model
        if model is None and not cell["type"].startswith("$scopeinfo"):
            untimed[cell["type"]] = untimed.get(cell["type"], 0) + 1
        for port, bits in cell.get("connections", {}).items():
            if cell.get("port_directions", {}).get(port) == "output":
                for i, bit in enumerate(bits):
                    if isinstance(bit, int):
                        driver[bit] = (name, (port, i))
    inputs = {b for p in module.get("ports", {}).values() if p["direction"] == "input" for b in p["bits"]}

    def wire(bit, sink_cell: str, sink_port: str) -> int:
        src = driver.get(bit)
        if src is not None and (cells[src[0]]["type"], src[1][0], cells[sink_cell]["type"], sink_port) in DEDICATED:
            return 0
        return wire_ps

    arrival: dict[tuple[str, Pin], int] = {}
    came_from: dict[tuple[str, Pin], tuple[str, Pin] | None] = {}

    def net_arrival(bit) -> int | None:
        if not isinstance(bit, int):
            return None  # a constant
        if bit in driver:
            return pin_arrival(driver[bit])
        return 0 if bit in inputs else None

    def pin_arrival(start: tuple[str, Pin]) -> int:
        """Arrival at a cell output pin, by an explicit-stack depth-first walk (paths can be long)."""
        if start in arrival:
            return arrival[start]
        stack, expanded = [start], set()  # expanded: on the current depth-first path, inputs pending
        while stack:
            key = stack[-1]
            if key in arrival:
                stack.pop()
                continue
            cell, pin = key
            model = models[cell]
            arcs = model.into.get(pin, []) if model is not None else []
            launch = model.clock_to_out.get(pin, 0) if model is not None else 0
            conns = cells[cell]["connections"]
            if key not in expanded:
                expanded.add(key)
                pending = []
                for (port, i), _ in arcs:
                    bits = conns.get(port, [])
                    bit = bits[i] if i < len(bits) else None
                    if isinstance(bit, int) and bit in driver and driver[bit] not in arrival:
                        if driver[bit] in expanded:
                            raise SkiplessError(f"combinational loop through cell {cell} in the netlist; "
                                                "the RTL has a loop that synthesis kept")
                        pending.append(driver[bit])
                if pending:
                    stack.extend(pending)
                    continue
            best, src = launch, None
            for (port, i), delay in arcs:
                bits = conns.get(port, [])
                at = net_arrival(bits[i]) if i < len(bits) else None
                if at is not None:
                    through = at + wire(bits[i], cell, port) + delay
                    if through > best:
                        best, src = through, driver.get(bits[i])
            arrival[key], came_from[key] = best, src
            expanded.discard(key)
            stack.pop()
        return arrival[start]

    worst, worst_end = -1, None
    for name, cell in cells.items():
        model = models[name]
        if model is None or not model.setup:
            continue
        for (port, i), setup in model.setup.items():
            bits = cell.get("connections", {}).get(port, [])
            at = net_arrival(bits[i]) if i < len(bits) else None
            if at is not None:
                required = at + wire(bits[i], name, port) + setup
                if required > worst:
                    worst, worst_end = required, (name, (port, i), bits[i], setup)
    for port, info in module.get("ports", {}).items():
        if info["direction"] != "output":
            continue
        for bit in info["bits"]:
            at = net_arrival(bit)
            if at is not None and at > worst:
                worst, worst_end = at, (None, (port, 0), bit, 0)
    if worst_end is None:
        return _result(None, clock_period_ns, wire_ps, untimed, None)
    return _result(worst, clock_period_ns, wire_ps, untimed,
                   _path(worst_end, driver, came_from, arrival, cells, _bit_names(module)))


def _path(end, driver, came_from, arrival, cells, names) -> dict:
    end_cell, end_pin, end_bit, setup = end
    steps = []
    key = driver.get(end_bit) if isinstance(end_bit, int) else None
    while key is not None:
        cell, (port, i) = key
        bit = cells[cell]["connections"][port][i]
        steps.append((cell, {"cell": cells[cell]["type"], "net": names.get(bit, f"${bit}"), "at_ps": arrival[key]}))
        key = came_from.get(key)
    steps.reverse()
    if steps:
        start = _where(steps[0][0], cells[steps[0][0]], steps[0][1]["net"])
    else:
        start = {"layer": "(top level)", "net": names.get(end_bit, "(input)"), "cell": "input", "src": ""}
    if end_cell:
        # a register is named by the net its flip-flop drives; other endpoints by the pin
        outs = [b for p, bits in cells[end_cell]["connections"].items()
                if cells[end_cell].get("port_directions", {}).get(p) == "output" for b in bits if isinstance(b, int)]
        net = names.get(outs[0]) if outs and cells[end_cell]["type"].startswith("FD") else None
        finish = _where(end_cell, cells[end_cell], net or f"{end_pin[0]}[{end_pin[1]}]")
    else:
        finish = {"layer": "(top level)", "net": end_pin[0], "cell": "output", "src": ""}
    finish.update(pin=end_pin[0], setup_ps=setup)
    kept = [step for _, step in steps]
    return {
        "from": start,
        "to": finish,
        "cells": len(steps),
        "steps": kept[:PATH_STEPS_KEPT] + ([{"cell": "...", "net": f"{len(kept) - PATH_STEPS_KEPT} more"}]
                                            if len(kept) > PATH_STEPS_KEPT else []),
    }


def _result(worst_ps, clock_period_ns, wire_ps, untimed, path) -> dict:
    est = None if worst_ps is None else round(worst_ps / 1000.0, 3)
    return {
        "estimated_ns": est,
        "fmax_mhz": None if not worst_ps else round(1e6 / worst_ps, 1),
        "meets_target": None if est is None else est <= clock_period_ns,
        "wire_ps": wire_ps,
        "critical_path": path,
        "untimed_cells": dict(sorted(untimed.items())),
        "method": METHOD,
    }


def name_stream_ends(path: dict | None, streams: list[dict]) -> None:
    """Give the critical path's ends on top-level stream nets the layer they belong to, in place: a
    stream's ready is made by its consumer, its valid and data by its producer (the flattened netlist
    names such a register after the top-level wire, so :func:`_where` sees no instance). ``streams`` is
    design.json's list (signal, producer, consumers)."""
    if not path:
        return
    for end in path.get("from"), path.get("to"):
        if not end or end.get("layer") != "(top level)":
            continue
        wire = end.get("net", "").split("[")[0]
        for s in streams:
            if wire == f"{s['signal']}_ready":
                end.update(layer=", ".join(s.get("consumers") or ["(output port)"]), stream=s["stream"])
            elif wire in (f"{s['signal']}_valid", f"{s['signal']}_data"):
                end.update(layer=s["producer"], stream=s["stream"])


def estimate(work: Path | str, top: str, clock_period_ns: float) -> dict:
    """The estimate from the two files ``script_lines`` made Yosys write into ``work``."""
    work = Path(work)
    try:
        netlist = json.loads((work / NETLIST_FILE).read_text())
        library = json.loads((work / LIBRARY_FILE).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SkiplessError(f"Yosys wrote no readable netlist for the timing estimate ({e}); "
                            "see synth_yosys.log and rerun `skipless synth --force`") from e
    return analyze(netlist, library, top, clock_period_ns)
