"""The open RTL's node kinds, one registered class each.

An :class:`Op` holds everything skipless knows about one kind of node:

* ``hls_classes`` and :meth:`Op.from_hls4ml`: which hls4ml layers it imports, and how;
* :meth:`Op.needs`: for the planner, which beat of its input each output beat waits for;
* :meth:`Op.run`: its integer reference (the golden model the RTL is checked against);
* :meth:`Op.emit`: its Verilog, instantiated in the top module;
* :meth:`Op.plan` (convolutions) and :meth:`Op.register_stages` (skip FIFO sizing).

Adding a node kind means adding one class with ``@register``; the importer, planner, reference and
emitter find it in :data:`OPS` by ``node.op``. Layers that only change how their neighbour is
imported (ZeroPadding2D folds into the conv after it) register an :class:`Importer` instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from skipless.errors import SkiplessError
from skipless.fixed import FixedType, mantissas
from skipless.rtl.graph import Node

OPS: dict[str, type[Op]] = {}
IMPORTERS: dict[str, type[Importer]] = {}


@dataclass
class ImportContext:
    """What importing one layer may look up: shapes of the streams seen so far, folded paddings."""

    shapes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    pads: dict[str, tuple[str, dict]] = field(default_factory=dict)  # padded stream -> (source stream, pads)
    flattened: dict[str, str] = field(default_factory=dict)  # flattened vector stream -> the image stream it came from
    # layers whose fused activation hls4ml has split into an activation layer of its own (that layer reads
    # the stream and is imported as such; the ``activation`` attribute left on the layer is stale)
    split_activations: set[str] = field(default_factory=set)

    def source(self, stream: str) -> tuple[str, dict]:
        """(stream actually read, paddings folded into the reader) for an input stream."""
        return self.pads.get(stream, (stream, {}))


class Importer:
    """Reads hls4ml layers of ``hls_classes``; returns a Node, or None when the layer folds away."""

    hls_classes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node | None:
        raise NotImplementedError


class Op(Importer):
    kind: ClassVar[str] = ""

    @classmethod
    def needs(cls, node: Node, ins: list[np.ndarray]) -> np.ndarray:
        """Per output beat of one image: how many beats of the start stream it waits for, given the
        same for each input (element-wise ops: the input's own)."""
        return ins[0]

    @classmethod
    def run(cls, node: Node, ins: list[np.ndarray], in_fracs: list[int]) -> np.ndarray:
        """Output mantissas (N, H, W, C) in ``node.type`` from input mantissas and their binary points."""
        raise NotImplementedError

    @classmethod
    def emit(cls, node: Node, top) -> None:
        """Add the node's instances and wires to the top module being built (``skipless.rtl.emit.Top``)."""
        raise NotImplementedError

    @classmethod
    def plan(cls, node: Node, in_width: int, settings) -> object | None:
        """The node's parallelism plan (convolutions); None for nodes without one."""
        return None

    @classmethod
    def register_stages(cls, node: Node, plan: object | None = None) -> int:
        """Register stages a beat passes on its way through (sizes the skip FIFOs); ``plan`` is the
        node's own :meth:`plan` (None for nodes without one)."""
        return 1


def register(cls):
    """Class decorator: make an Op (by ``kind``) and/or an Importer (by its hls4ml classes) known."""
    if issubclass(cls, Op) and cls.kind:
        if cls.kind in OPS:
            raise ValueError(f"node kind {cls.kind!r} registered twice")
        OPS[cls.kind] = cls
    for hls_class in cls.hls_classes:
        IMPORTERS[hls_class] = cls
    return cls


def op_of(node: Node) -> type[Op]:
    try:
        return OPS[node.op]
    except KeyError:
        raise SkiplessError(f"node {node.name}: unknown node kind {node.op!r}; known kinds: {', '.join(sorted(OPS))}") from None


def supported_layers() -> str:
    return ", ".join(sorted(IMPORTERS))


# ---------------------------------------------------------------- helpers shared by the ops


def hw_shape(shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return shape
    if len(shape) == 2:  # a sequence (L, C): one row of L pixels
        return (1, *shape)
    if len(shape) == 1:
        return (1, 1, shape[0])
    raise SkiplessError(f"tensor shape {shape} is neither an image (H, W, C), a sequence (L, C) nor a vector")


def out_type(layer) -> FixedType:
    return FixedType.from_hls4ml(layer.get_output_variable().type.precision)


def out_shape(layer) -> tuple[int, int, int]:
    return hw_shape(layer.get_output_variable().shape)


def weights(layer, key: str) -> tuple[np.ndarray, FixedType]:
    w = layer.weights[key]
    t = FixedType.from_hls4ml(w.type.precision)
    try:
        m = mantissas(w.data, t.frac)
    except SkiplessError as e:
        raise SkiplessError(f"layer {layer.name} {key}: {e}") from None
    return m, t


def align(m: np.ndarray, frac: int, to_frac: int) -> np.ndarray:
    """Put mantissas on another binary point, flooring dropped bits (ap_fixed TRN)."""
    return m << (to_frac - frac) if to_frac >= frac else m >> (frac - to_frac)


# the node kinds: importing the modules registers them
from skipless.rtl.ops import conv, elementwise, pool  # noqa: E402,F401
