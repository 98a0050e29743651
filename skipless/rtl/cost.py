"""Predicted FPGA resources of an open-RTL plan, for the fit-to-part planner (:mod:`skipless.rtl.fit`).

What is counted, and how each count was checked against Yosys ``synth_xilinx`` on this RTL:

* **DSP48**: one per multiplier lane (PI x PO per convolution) whose product fits the DSP48E1's
  25 x 18 signed multiplier (the engine's product is ``(XW + 1) x WW`` bits, of which Yosys keeps XW
  for a signed input); wider ones take ``ceil(a/25) x ceil(b/18)``, and a product under 9 bits stays
  in LUTs as Yosys leaves it (:func:`dsp_per_lane`). Every calibration design matches Yosys exactly. A layer with two products per multiplier (``dsp2``) takes
  one DSP48 per lane pair (the weights' packing goes into the DSP48's pre-adder and the rounding
  constant into its post-adder: no LUT, checked on a toy module with Yosys 0.70); one with LUT
  multipliers none.
* **LUT multipliers** (``lut``): counted from their structure, one LUT per adder bit: WW - 1 adders of
  the product's width per lane (:func:`lut_multiplier_bits`).
* **BRAM18**: every memory of the design (weight and bias ROMs, convolution window buffers, skip
  FIFOs) by its geometry. ROMs of at least ``BLOCK_ROM_BITS`` carry ``rom_style = "block"``; RAMs
  deeper than ``LUTRAM_MAX_DEPTH`` words go to block RAM (the RAM32M/RAM64M counts of the r8
  reports match the bits of the shallower ones). A block memory of D words x W bits takes
  ``ceil(W / width(D))`` BRAM18 columns, ``width(D)`` being the widest 7-series BRAM18 aspect ratio
  that holds D words (512 x 36, 1K x 18, 2K x 9, 4K x 4, 8K x 2, 16K x 1), times ``ceil(D / 16K)``.
  Yosys packs and merges them differently (Yosys 0.70 comes out 5-30 % under this count), so the
  count is then corrected by a linear fit (:data:`TERMS`).
* **LUT and FF**: the MAC pipeline counted from its structure (:func:`mac_pipeline`: one FF per
  pipeline register bit, one LUT per adder-tree bit), plus a linear model (:data:`TERMS`). LUT: a part
  per layer, per block RAM and per stream bit (:func:`stream_bits`: the elementwise modules work on a
  whole pixel, so their logic grows with the widths). FF: per layer, per block RAM, per bit of the
  memories kept in LUTs and per DSP48 (which takes in registers the count puts in fabric: a negative
  coefficient).

The terms were chosen on Yosys 0.70 reports of designs with one product per DSP48 and with two
(``dsp2``), at w4a4, w8a8 and w16a16, by the largest error over the calibration rows and the error on
each row left out of the fit.
The fitted coefficients come from least squares over the Yosys reports of a calibration file, computed
when the module is used (never typed in); :func:`calibration_error` says how well they fit. The file is
the workspace's ``benchmarks/results/cost_calibration.json`` when ``skipless synth --calibrate-cost`` wrote
one there, else the one shipped with skipless (package data, ``skipless/rtl/cost_calibration.json``). Each
row names the RTL hash of the report it came from, so a row can be traced to a committed Yosys report.

Estimates for planning, not sign-off: the planner keeps a margin (``max_util``) for what they miss.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from skipless.errors import SkiplessError
from skipless.rtl.emit import BLOCK_ROM_BITS
from skipless.rtl.graph import Network
from skipless.rtl.ops.conv import DSP_A, DSP_B
from skipless.rtl.schedule import Plan

DSP_Y_MINWIDTH = 9  # Yosys synth_xilinx (mul2dsp) maps a multiply to a DSP48 from a 9-bit product up
LUTRAM_MAX_DEPTH = 64  # RAMs up to this many words stay in distributed RAM (RAM64M)
BRAM18_ASPECTS = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))
CALIBRATION_FILE = "cost_calibration.json"
RESOURCES = ("lut", "ff", "dsp", "bram18")


@dataclass(frozen=True)
class Memory:
    name: str
    depth: int
    width: int
    rom: bool

    @property
    def bits(self) -> int:
        return self.depth * self.width

    @property
    def in_block_ram(self) -> bool:
        return self.bits >= BLOCK_ROM_BITS if self.rom else self.depth > LUTRAM_MAX_DEPTH

    @property
    def bram18(self) -> int:
        if not self.in_block_ram:
            return 0
        for depth, width in BRAM18_ASPECTS:
            if self.depth <= depth:
                return math.ceil(self.width / width)
        return math.ceil(self.depth / BRAM18_ASPECTS[-1][0]) * self.width


def memories(net: Network, plan: Plan) -> list[Memory]:
    """Every memory the emitted RTL declares, with the geometry it is declared with."""
    widths = net.stream_widths()
    out = []
    for node in net.convs():
        cp, p = plan.convs[node.name], node.params
        cin, cout = p["in_shape"][2], node.shape[2]
        out += [Memory(f"{node.name}_w", cp.steps_per_pixel, cp.pi * cp.po * p["weight_type"].width, True),
                Memory(f"{node.name}_b", cout // cp.po, cp.po * p["acc_type"].width, True),
                Memory(f"{node.name}_window", cp.buffer_pixels, cin * widths[node.inputs[0]], False)]
    out += [Memory(f"{f.add}_skip_fifo", f.depth, f.width, False) for f in plan.fifos.values()]
    return out


def dsp_per_lane(in_width: int, weight_width: int, in_signed: bool = True) -> int:
    """DSP48s Yosys maps one product to. skl_conv multiplies the input as a signed XW + 1-bit operand;
    Yosys drops the extra copy of a signed input's sign bit, not the zero above an unsigned one, and
    leaves a product under ``DSP_Y_MINWIDTH`` bits in LUTs (the w4a4 stem: 4 x 4 bits, checked on
    r8-skip-w4a4.qat, 2 of its 167 products)."""
    a = in_width if in_signed else in_width + 1
    if a + weight_width < DSP_Y_MINWIDTH:
        return 0
    a, b = sorted((a, weight_width), reverse=True)
    if a <= DSP_A and b <= DSP_B:
        return 1
    return math.ceil(a / DSP_A) * math.ceil(b / DSP_B)


def lut_multiplier_bits(in_width: int, weight_width: int) -> int:
    """Adder bits of one shift-and-add multiplier (skl_conv MUL = 2): WW - 1 adds of the product's
    XW + 1 + WW bits."""
    return (weight_width - 1) * (in_width + 1 + weight_width)


def adder_tree(n: int) -> tuple[int, int, int]:
    """(levels, registers, adders) of skl_addtree over ``n`` operands: a balanced binary tree, one register
    after every level (an odd node out is registered as it is)."""
    levels = registers = adders = 0
    while n > 1:
        adders += n // 2
        n = (n + 1) // 2
        registers += n
        levels += 1
    return levels, registers, adders


def mac_pipeline(pi: int, po: int, acc_width: int, in_width: int, weight_width: int, multiplier: str) -> tuple[int, int]:
    """(flip-flops, adder bits) of one convolution's MAC pipeline (skl_conv + skl_addtree): the operand
    stage (PI inputs of XW + 1 bits, a bias operand per lane, and the PI x PO weights when they feed LUT
    multipliers: Yosys puts a DSP48's weight register inside it, measured on the packed r8-skip), then
    PO lanes each registering PI products and that bias, then a registered adder tree over those PI + 1
    operands of the accumulator's width, and four flag bits per stage."""
    levels, registers, adders = adder_tree(pi + 1)
    operands = pi * (in_width + 1) + po * acc_width + (pi * po * weight_width if multiplier == "lut" else 0)
    return operands + po * (pi + 1 + registers) * acc_width + 4 * (2 + levels), po * adders * acc_width


def stream_bits(net: Network, plan: Plan) -> int:
    """Bits of one beat (a pixel: channels x element width) summed over every stream the top declares, the
    network's and the skip FIFOs' outputs. Each module registers its output beat, and the elementwise ones
    (casts, adds, pooling) work on all of it at once, so this is what scales a design's logic with its widths."""
    return (sum(n.shape[2] * n.type.width * len(n.outputs) for n in net.nodes)
            + sum(f.width for f in plan.fifos.values()))


def features(net: Network, plan: Plan) -> dict:
    """What the resource model reads from a plan (also written to design.json, to re-fit it later)."""
    widths = net.stream_widths()
    dsp = lane_bits = pipeline_ff = tree_adder_bits = lut_mult_bits = 0
    for node in net.convs():
        cp, p = plan.convs[node.name], node.params
        lanes = cp.pi * cp.po
        in_width, ww = widths[node.inputs[0]], p["weight_type"].width
        per_lane = 1 if cp.multiplier == "dsp2" else dsp_per_lane(in_width, ww, net.producer(node.inputs[0]).type.signed)
        if cp.multiplier == "lut" or per_lane == 0:  # shift-and-add in LUTs, or a product Yosys leaves there
            lut_mult_bits += lanes * lut_multiplier_bits(in_width, ww)
        else:
            dsp += cp.multipliers * per_lane
        lane_bits += lanes * p["acc_type"].width
        ff, adder = mac_pipeline(cp.pi, cp.po, p["acc_type"].width, in_width, ww, cp.multiplier)
        pipeline_ff += ff
        tree_adder_bits += adder
    mems = memories(net, plan)
    return {"dsp": dsp, "lane_bits": lane_bits, "stream_bits": stream_bits(net, plan), "lut_memory_bits": sum(m.bits for m in mems if not m.in_block_ram),
            "bram18_geometry": sum(m.bram18 for m in mems), "layers": len(net.nodes),
            "pipeline_ff": pipeline_ff, "tree_adder_bits": tree_adder_bits, "lut_multiplier_bits": lut_mult_bits}


TERMS = {  # resource -> the features its linear model reads (and a constant)
    # A negative per-DSP48 coefficient is expected for FF: Yosys puts pipeline registers inside the DSP48
    # (its A/B/P registers) that the counted MAC pipeline puts in fabric.
    # LUT and BRAM18 read the stream bits, which scale with the widths: without them a model fitted to w8a8
    # alone missed w16a16 by up to -28 % LUT and w4a4 by up to +61 % BRAM18.
    "lut": ("stream_bits", "layers", "bram18_geometry"),
    "ff": ("lut_memory_bits", "layers", "dsp", "bram18_geometry"),
    "bram18": ("stream_bits", "bram18_geometry", "lane_bits", "lut_memory_bits"),
}
# Counted, not fitted: one flip-flop per MAC pipeline register bit, one LUT per adder-tree bit and per
# LUT-multiplier adder bit (a LUT and a carry bit each). A calibration row from RTL before the MAC
# pipeline or the LUT multipliers lacks those features (0).
STRUCTURAL = {"lut": ("tree_adder_bits", "lut_multiplier_bits"), "ff": ("pipeline_ff",)}


def _structural(feats: dict, resource: str) -> float:
    return float(sum(feats.get(f, 0) for f in STRUCTURAL.get(resource, ())))


def _row(feats: dict, resource: str) -> list[float]:
    return [float(feats[t]) for t in TERMS[resource]] + [1.0]


def workspace_calibration() -> Path:
    """Where ``--calibrate-cost`` writes a refitted model, and where it is read first."""
    from skipless import workspace

    return workspace.current().results / CALIBRATION_FILE


def calibration_source() -> tuple[str, str]:
    """(where the calibration in use comes from, its text): the workspace's refit, else the shipped one."""
    own = workspace_calibration()
    try:
        return str(own), own.read_text()
    except FileNotFoundError:
        pass
    except OSError as e:
        raise SkiplessError(f"the resource model's calibration {own} cannot be read ({e}): delete it to use the shipped one") from e
    shipped = resources.files("skipless.rtl").joinpath(CALIBRATION_FILE)
    try:
        return f"skipless/rtl/{CALIBRATION_FILE} (shipped)", shipped.read_text()
    except OSError as e:
        raise SkiplessError(f"the shipped resource-model calibration cannot be read ({e}): reinstall skipless") from e


def calibration_label() -> str:
    """Which calibration a prediction used, for design.json: shipped or the workspace's refit, and a
    hash of its content (never a path, so the same design hashes the same in every checkout)."""
    source, text = calibration_source()
    where = "shipped" if source.endswith("(shipped)") else "workspace refit"
    return f"{where} sha256:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def calibration() -> tuple[list[dict], dict[str, np.ndarray]]:
    """The calibration rows (design features beside Yosys' counts) and the least-squares coefficients."""
    return _fit(*calibration_source())


@cache
def _fit(source: str, text: str) -> tuple[list[dict], dict[str, np.ndarray]]:
    try:
        rows = json.loads(text)["designs"]
    except (ValueError, KeyError, TypeError) as e:
        raise SkiplessError(f"the resource model's calibration {source} is not a calibration file ({e}): "
                            f"rewrite it with `skipless synth IDS --flow yosys --calibrate-cost`, or delete it") from None
    return rows, _coefficients(rows, source)


def _coefficients(rows: list[dict], source: str) -> dict[str, np.ndarray]:
    coef = {}
    for resource, terms in TERMS.items():
        if len(rows) <= len(terms):
            raise SkiplessError(f"{source}: {len(rows)} designs cannot calibrate {len(terms) + 1} {resource} terms")
        a = np.array([_row(r["features"], resource) for r in rows])
        counted = [r["yosys"][resource] - _structural(r["features"], resource) for r in rows]
        coef[resource] = np.linalg.lstsq(a, np.array(counted, dtype=float), rcond=None)[0]
    return coef


def predict(feats: dict, coef: dict[str, np.ndarray] | None = None) -> dict[str, int]:
    """Predicted LUT, FF, DSP and BRAM18 of a plan with these :func:`features` (by the calibration in use,
    or by ``coef``)."""
    coef = coef if coef is not None else calibration()[1]
    out = {r: max(0, round(float(np.array(_row(feats, r)) @ c) + _structural(feats, r))) for r, c in coef.items()}
    return {"lut": out["lut"], "ff": out["ff"], "dsp": int(feats["dsp"]), "bram18": out["bram18"]}


def compare(predicted: dict, yosys: dict) -> dict[str, dict]:
    """Per resource: predicted, Yosys' count, and the error in % of Yosys' count (None where it is 0)."""
    return {r: {"predicted": v, "yosys": yosys[r],
                "error_pct": round(100 * (v - yosys[r]) / yosys[r], 1) if yosys[r] else None}
            for r, v in predicted.items()}


def row_name(row: dict) -> str:
    """A design's name in calibration rows and synthesis tables (a row or a Yosys report: ``id`` and ``plan``):
    the id, marked ``--fit`` when its plan came from the fit planner (the same network is one design per plan)."""
    return f"{row['id']} --fit" if row.get("plan") == "fit" else row["id"]


def plan_kind(design: dict) -> str:
    """How a design.json's plan was made: by the fit planner ("fit") or at the fixed settings ("default")."""
    return "fit" if (design.get("settings") or {}).get("fit") else "default"


def calibration_error() -> dict[str, dict]:
    """Per calibration row (:func:`row_name`) and resource: predicted, Yosys, and the error in % of Yosys."""
    rows, _ = calibration()
    return {row_name(row): compare(predict(row["features"]), row["yosys"]) for row in rows}


def leave_one_out() -> dict[str, dict]:
    """Per calibration row: the error of the model fitted to the other rows only, i.e. on a design it has
    not seen (what a design outside the calibration can expect)."""
    rows, _ = calibration()
    return {row_name(row): compare(predict(row["features"], _coefficients(rows[:i] + rows[i + 1:], "leave one out")), row["yosys"])
            for i, row in enumerate(rows)}


def against_reports(reports_and_designs: list[tuple[dict, dict]]) -> dict[str, dict]:
    """Per Yosys report (named like a calibration row, :func:`row_name`): the model in use (not the one its
    design.json was planned with) against Yosys' counts, from the features its design.json recorded."""
    out = {}
    for report, design in reports_and_designs:
        if "features" not in (design.get("fit") or {}):
            raise SkiplessError(f"{report.get('id')}: its design.json records no resource features; regenerate it with `skipless rtl`")
        out[row_name({"id": report["id"], "plan": plan_kind(design)})] = compare(predict(design["fit"]["features"]), {r: report["resources"][r] for r in RESOURCES})
    return out


def error_table(title: str, errors: dict[str, dict]) -> str:
    """Lines of predicted vs Yosys per design and resource, and the largest error per resource."""
    lines = [title]
    worst: dict[str, float] = {}
    for name, by_resource in errors.items():
        cells = []
        for r, v in by_resource.items():
            pct = v["error_pct"]
            cells.append(f"{r.upper()} {v['predicted']:,} vs {v['yosys']:,} ({'-' if pct is None else f'{pct:+.1f}%'})")
            if pct is not None:
                worst[r] = max(worst.get(r, 0.0), abs(pct))
        lines.append(f"  {name:30s} " + "  ".join(cells))
    lines.append("  largest error: " + ", ".join(f"{r.upper()} {v:.1f}%" for r, v in worst.items()))
    return "\n".join(lines) + "\n"


def write_calibration(reports_and_designs: list[tuple[dict, dict]]) -> Path:
    """Refit the model: the workspace's calibration file (:func:`workspace_calibration`) gets, per Yosys
    report, the features its design.json recorded beside the counts Yosys reported
    (``skipless synth IDS --flow yosys --calibrate-cost``). Copy it over the shipped one to ship it."""
    from skipless.fileio import write_json

    rows = []
    for report, design in reports_and_designs:
        if report.get("flow") != "yosys" or "features" not in (design.get("fit") or {}):
            raise SkiplessError(f"{report.get('id')}: only Yosys reports of designs written with their resource features "
                                f"(skipless rtl, this version) can calibrate the model; regenerate and synthesize it")
        rows.append({"id": report["id"], "plan": plan_kind(design),
                     "features": design["fit"]["features"],
                     "yosys": {r: report["resources"][r] for r in RESOURCES}, "yosys_version": report["tool"]["version"],
                     "rtl_hash": (report.get("cache") or {}).get("rtl_hash"),
                     "synthesized_at_commit": report["provenance"]["git_commit"]})
    names = [row_name(row) for row in rows]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SkiplessError(f"two reports of {', '.join(twice)}: give each design (and plan) once to --calibrate-cost")
    if len(rows) <= max(len(t) for t in TERMS.values()):
        raise SkiplessError(f"{len(rows)} reports cannot calibrate the model: give at least {max(len(t) for t in TERMS.values()) + 1}")
    path = workspace_calibration()
    write_json(path, {"source": "skipless synth --flow yosys --calibrate-cost", "designs": rows}, indent=1)
    return path
