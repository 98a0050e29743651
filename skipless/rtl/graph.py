"""The network as the open RTL sees it: a small dataflow graph of typed nodes and named streams.

Each :class:`Node` has a kind (``node.op``) whose behaviour lives in one registered class of
:mod:`skipless.rtl.ops` (import from hls4ml, planner needs, integer reference, Verilog).
:func:`skipless.rtl.hls_import.from_hls4ml` builds a Network from a converted hls4ml graph; tests build
small ones by hand. Streams are named after hls4ml's output variables, so names match its C++.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from skipless.fixed import FixedType


@dataclass
class Node:
    name: str
    op: str
    inputs: list[str]  # stream names read
    outputs: list[str]  # stream names written (two for a fork)
    shape: tuple[int, int, int]  # output (H, W, C); vectors are (1, 1, C)
    type: FixedType  # output type
    params: dict = field(default_factory=dict)

    @property
    def beats(self) -> int:
        """Beats per image on the output stream (one beat = one pixel, all channels)."""
        return self.shape[0] * self.shape[1]


@dataclass
class Network:
    name: str
    nodes: list[Node]
    input_name: str  # stream names in the graph
    output_name: str
    input_port: str = "image"  # the top-level stream ports, named like hls4ml's C++ top
    output_port: str = "layer_out"

    def producer(self, stream: str) -> Node:
        for node in self.nodes:
            if stream in node.outputs:
                return node
        raise KeyError(stream)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def output(self) -> Node:
        return self.producer(self.output_name)

    def convs(self) -> list[Node]:
        return [n for n in self.nodes if n.op == "conv"]

    def stream_widths(self) -> dict[str, int]:
        """Bits per element of every stream (its producer's type width)."""
        return {s: n.type.width for n in self.nodes for s in n.outputs}


def clog2(n: int) -> int:
    """Address bits for n entries (at least 1)."""
    return max(1, int(n - 1).bit_length())
