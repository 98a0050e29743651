"""How the open RTL is sized: parallelism per convolution, window buffers, and skip FIFO depths.

Parallelism: a convolution does PI x PO multiply-accumulates per cycle (PI input channels times PO
output channels), like hls4ml's reuse factor read the other way round. By default each convolution
gets the smallest PI x PO that finishes an image within ``cycles_per_layer`` cycles; a layer can be
given an explicit ``macs_per_cycle`` instead. How the products are made is a second choice per layer
(``multiplier``: one DSP48 per product, two per DSP48, or LUTs; see :mod:`skipless.rtl.ops.conv`).

Skip FIFOs: an Add reads two branches that leave one fork. The branch that produces its beats sooner
(the skip) must buffer them until the other (the main branch, with its convolutions' window delays)
catches up. For every stream after the branch point, ``needs`` gives, per beat, how many beats of the
branch point's stream must have passed before that beat can exist; the FIFO depth is the largest
lead of the early branch over the late one, plus two beats per register stage on the late branch. A smaller FIFO deadlocks the network
(the fork stalls both branches): that buffer is the hardware cost of a skip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from skipless.errors import SkiplessError
from skipless.parts import DEFAULT_PART
from skipless.rtl.graph import Network, Node
from skipless.rtl.ops import op_of
from skipless.rtl.ops.conv import MULTIPLIERS, ConvPlan

DEFAULT_CYCLES_PER_LAYER = 75_000  # r8 on 32x32 inputs: ~74k cycles per layer, latency < 114k cycles


@dataclass
class RTLSettings:
    cycles_per_layer: int = DEFAULT_CYCLES_PER_LAYER
    macs_per_cycle: dict = field(default_factory=dict)  # layer name -> PI*PO
    # how products are made: "dsp" (one DSP48 each), "dsp2" (two per DSP48 where the widths allow, else
    # one), "lut", or "auto" (the fit planner's choice: dsp2 where it can, LUTs for <= 4-bit weights
    # when DSPs run out); None: "auto" when fitting to the part, else "dsp". A layer's own entry in
    # multipliers overrides it
    multiplier: str | None = None
    multipliers: dict = field(default_factory=dict)  # layer name -> "dsp" | "dsp2" | "lut"
    fifo_depths: dict = field(default_factory=dict)  # add layer name -> depth (overrides the derived one)
    clock_period_ns: float = 6.667
    # the fit-to-part planner (skipless.rtl.fit): with fit, cycles_per_layer is chosen (or target_interval
    # used) so that the predicted resources stay within max_util of the part; every design records its
    # predicted resources against the part
    part: str = DEFAULT_PART
    fit: bool = False
    max_util: float = 0.85
    target_interval: int | None = None
    allow_overfit: bool = False

    def __post_init__(self):
        if self.cycles_per_layer < 1:
            raise SkiplessError(f"cycles_per_layer must be >= 1, got {self.cycles_per_layer}")
        if self.clock_period_ns <= 0:
            raise SkiplessError(f"clock_period_ns must be > 0, got {self.clock_period_ns}")
        if not 0 < self.max_util <= 1:
            raise SkiplessError(f"max_util must be in (0, 1], got {self.max_util}")
        if self.multiplier not in (None, *MULTIPLIERS, "auto"):
            raise SkiplessError(f"unknown multiplier {self.multiplier!r}: use one of {', '.join((*MULTIPLIERS, 'auto'))}")
        bad = {k: v for k, v in self.multipliers.items() if v not in MULTIPLIERS}
        if bad:
            raise SkiplessError(f"unknown multiplier for {', '.join(f'{k}={v}' for k, v in bad.items())}: use one of {', '.join(MULTIPLIERS)}")
        if self.target_interval is not None and self.target_interval < 1:
            raise SkiplessError(f"target_interval must be >= 1 cycle, got {self.target_interval}")

    @property
    def multiplier_policy(self) -> str:
        if self.multiplier is not None:
            return self.multiplier
        return "auto" if self.fit or self.target_interval is not None else "dsp"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FifoPlan:
    add: str  # the layer joining the two branches (Add or Concatenate)
    stream: str  # the input stream it buffers
    depth: int
    derived_depth: int
    lead: int  # beats the buffered branch runs ahead (ideal, zero-delay)
    width: int

    @property
    def bits(self) -> int:
        return self.depth * self.width


@dataclass
class Plan:
    convs: dict[str, ConvPlan]
    fifos: dict[str, FifoPlan]

    @property
    def interval_cycles(self) -> int:
        return max((c.cycles for c in self.convs.values()), default=0)

    @property
    def macs_per_cycle(self) -> int:
        return sum(c.macs_per_cycle for c in self.convs.values())

    @property
    def multipliers(self) -> int:
        return sum(c.multipliers for c in self.convs.values())


def needs(net: Network, start: str | None = None) -> dict[str, np.ndarray]:
    """Per stream downstream of ``start`` (default: the network input): for each beat of one image, how
    many beats of ``start`` must have passed before it can exist."""
    start = start or net.input_name
    out = {start: np.arange(1, net.producer(start).beats + 1)}
    for node in net.nodes:
        if any(s in out for s in node.outputs) or not node.inputs or any(i not in out for i in node.inputs):
            continue
        need = op_of(node).needs(node, [out[i] for i in node.inputs])
        # beats leave in raster order: a beat also waits for every beat before it (the last row's
        # windows stop at the bottom edge, so without this a later beat could seem to need less)
        need = np.maximum.accumulate(need)
        for name in node.outputs:
            out[name] = need
    return out


def _ancestors(net: Network, stream: str) -> set[str]:
    """Streams that ``stream`` is computed from, itself and the network input included."""
    seen: set[str] = set()
    todo = [stream]
    while todo:
        s = todo.pop()
        if s in seen:
            continue
        seen.add(s)
        if s != net.input_name:
            todo.extend(net.producer(s).inputs)
    return seen


def _branch_point(net: Network, a: str, b: str) -> str:
    """The last stream both ``a`` and ``b`` are computed from (the input of the fork they leave)."""
    common = _ancestors(net, a) & _ancestors(net, b)
    order = {s: i for i, n in enumerate(net.nodes) for s in n.outputs}
    return max(common, key=lambda s: order[s])


def _register_stages(net: Network, streams: set[str], convs: dict[str, ConvPlan]) -> int:
    """Register stages between the fork and the Add on a branch (a conv: its output register, the
    requantization and its planned MAC pipeline)."""
    nodes = {net.producer(s).name: net.producer(s) for s in streams}
    return sum(op_of(n).register_stages(n, convs.get(n.name)) for n in nodes.values())


def plan_fifo(net: Network, node: Node, settings: RTLSettings, convs: dict[str, ConvPlan]) -> FifoPlan:
    a, b = node.inputs
    start = _branch_point(net, a, b)
    need = needs(net, start)  # counted in beats of the stream both branches leave from
    grid = np.arange(1, net.producer(start).beats + 1)
    produced = {s: np.searchsorted(need[s], grid, side="right") for s in (a, b)}
    lead = {a: int(np.max(produced[a] - produced[b])), b: int(np.max(produced[b] - produced[a]))}
    early, late = (a, b) if lead[a] > lead[b] else (b, a)
    late_only = _ancestors(net, late) - _ancestors(net, early)
    derived = lead[early] + 2 * _register_stages(net, late_only, convs) + 2
    depth = int(settings.fifo_depths.get(node.name, derived))
    if depth < 1:
        raise SkiplessError(f"FIFO depth for {node.name} must be >= 1, got {depth}")
    width = net.producer(early).shape[2] * net.producer(early).type.width
    return FifoPlan(node.name, early, depth, derived, lead[early], width)


def plan(net: Network, settings: RTLSettings | None = None) -> Plan:
    settings = settings or RTLSettings()
    for option in ("macs_per_cycle", "multipliers"):
        unknown = set(getattr(settings, option)) - {n.name for n in net.convs()}
        if unknown:
            raise SkiplessError(f"{option} names no convolution/dense layer: {sorted(unknown)}; layers are {[n.name for n in net.convs()]}")
    widths = net.stream_widths()
    plans = {n.name: op_of(n).plan(n, widths[n.inputs[0]], settings) for n in net.nodes[1:]}
    convs = {name: p for name, p in plans.items() if p is not None}
    joins = [n for n in net.nodes if len(n.inputs) == 2]  # Add, Concatenate: one skip FIFO each
    unknown = set(settings.fifo_depths) - {n.name for n in joins}
    if unknown:
        raise SkiplessError(f"fifo_depths names no Add or Concatenate layer: {sorted(unknown)}; those layers are {[n.name for n in joins]}")
    fifos = {n.name: plan_fifo(net, n, settings, convs) for n in joins}
    return Plan(convs, fifos)
