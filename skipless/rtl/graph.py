"""The network as the open RTL sees it: a small dataflow graph read from an hls4ml ModelGraph.

hls4ml has already derived every fixed-point type (``bit_exact=True``), inserted explicit
zero-padding layers and clone (fork) layers for streams read twice. ``from_hls4ml`` keeps those
types and folds each ZeroPadding2D into the convolution that reads it. Node kinds:

    input   the image stream (its type is the input type)
    conv    KxK convolution (K = 1 or 3, any stride, zero padding); Dense is a 1x1 conv on a 1x1 image
    cast    element-wise assignment to another type, optionally after ReLU (hls4ml Activation layers)
    add     element-wise sum of two streams (hls4ml Merge 'add')
    fork    one stream read by two consumers (hls4ml Clone)
    gap     global average pooling (sum in the accumulator type, divide, cast)

Streams are named after hls4ml's output variables, so names match its C++ and traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from skipless.errors import SkiplessError
from skipless.rtl.types import FixedType, mantissas


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

    def consumers(self, stream: str) -> list[Node]:
        return [n for n in self.nodes if stream in n.inputs]

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


def _hw(shape) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return shape
    if len(shape) == 1:
        return (1, 1, shape[0])
    raise SkiplessError(f"tensor shape {shape} is neither an image (H, W, C) nor a vector")


def _out_type(layer) -> FixedType:
    return FixedType.from_hls4ml(layer.get_output_variable().type.precision)


def _weights(layer, key: str) -> tuple[np.ndarray, FixedType]:
    w = layer.weights[key]
    t = FixedType.from_hls4ml(w.type.precision)
    try:
        m = mantissas(w.data, t.frac)
    except SkiplessError as e:
        raise SkiplessError(f"layer {layer.name} {key}: {e}") from None
    return m, t


def _conv(layer, pad: dict, in_shape) -> dict:
    a = layer.attributes
    w, wt = _weights(layer, "weight")
    b, bt = _weights(layer, "bias")
    transposed = bool(layer.get_attr("_weights_transposed", False))  # hls4ml's Resource strategy pass
    if layer.class_name == "Dense":
        w = w.T if transposed else w  # (out, in) -> (in, out)
        k, stride, w = 1, 1, w.reshape(1, 1, *w.shape)
    else:
        w = np.transpose(w, (1, 2, 3, 0)) if transposed else w  # (F, H, W, C) -> (H, W, C, F)
        k, stride = int(a["filt_height"]), int(a["stride_height"])
        if int(a["filt_width"]) != k or int(a["stride_width"]) != stride:
            raise SkiplessError(f"layer {layer.name}: only square kernels and equal strides are supported")
        if any(int(a[f"pad_{s}"]) for s in ("top", "bottom", "left", "right")):
            raise SkiplessError(f"layer {layer.name}: expected hls4ml to pad in a ZeroPadding2D layer")
        if w.shape[:3] != (k, k, in_shape[2]):
            raise SkiplessError(f"layer {layer.name}: weights of shape {w.shape} do not match a {k}x{k}x{in_shape[2]} kernel")
    if a.get("activation", "linear") != "linear":
        raise SkiplessError(f"layer {layer.name}: fused activation {a['activation']!r} is not supported; use a separate activation layer")
    acc = FixedType.from_hls4ml(a["accum_t"].precision)
    if acc.overflow != "WRAP":
        raise SkiplessError(f"layer {layer.name}: accumulator type {acc} must wrap (saturating accumulation is order-dependent)")
    return {
        "k": k, "stride": stride, "in_shape": tuple(in_shape),
        "pad_top": pad.get("top", 0), "pad_left": pad.get("left", 0),
        "pad_bottom": pad.get("bottom", 0), "pad_right": pad.get("right", 0),
        "weight": w, "weight_type": wt, "bias": b.reshape(-1), "bias_type": bt, "acc_type": acc,
    }


SUPPORTED = "Input, ZeroPadding2D, Conv2D, PointwiseConv2D, Dense, Activation (linear/relu), Merge add, Clone, GlobalAveragePooling2D"


def from_hls4ml(graph, name: str = "myproject") -> Network:
    """Read a converted hls4ml ModelGraph (io_stream or io_parallel; bit_exact types) into a Network."""
    nodes: list[Node] = []
    pads: dict[str, tuple[str, dict]] = {}  # padded stream -> (unpadded stream, pads)
    shapes: dict[str, tuple] = {}
    for layer in graph.get_layers():
        cls, a = layer.class_name, layer.attributes
        ins = list(layer.inputs)
        outs = list(layer.outputs)
        if cls == "Input":
            shape = _hw(layer.get_output_variable().shape)
            nodes.append(Node(layer.name, "input", [], outs, shape, _out_type(layer)))
        elif cls == "ZeroPadding2D":
            src = ins[0]
            pads[outs[0]] = (src, {s: int(a[f"pad_{s}"]) for s in ("top", "bottom", "left", "right")})
            continue
        elif cls in ("Conv2D", "PointwiseConv2D", "Dense"):
            src, pad = pads.get(ins[0], (ins[0], {}))
            params = _conv(layer, pad, shapes[src])
            nodes.append(Node(layer.name, "conv", [src], outs, _hw(layer.get_output_variable().shape), _out_type(layer), params))
        elif cls == "Activation":
            act = a.get("activation")
            if act not in ("linear", "relu"):
                raise SkiplessError(f"layer {layer.name}: activation {act!r} is not supported by the open RTL (linear, relu)")
            nodes.append(Node(layer.name, "cast", ins, outs, shapes[ins[0]], _out_type(layer), {"relu": act == "relu"}))
        elif cls == "Merge":
            if a.get("op") != "add":
                raise SkiplessError(f"layer {layer.name}: merge {a.get('op')!r} is not supported by the open RTL (add)")
            nodes.append(Node(layer.name, "add", ins, outs, shapes[ins[0]], _out_type(layer)))
        elif cls == "Clone":
            nodes.append(Node(layer.name, "fork", ins, outs, shapes[ins[0]], _out_type(layer)))
        elif cls == "GlobalPooling2D":
            if a.get("pool_op") != "Average":
                raise SkiplessError(f"layer {layer.name}: global {a.get('pool_op')} pooling is not supported (Average)")
            acc = FixedType.from_hls4ml(a["accum_t"].precision)
            h, w, c = shapes[ins[0]]
            nodes.append(Node(layer.name, "gap", ins, outs, (1, 1, c), _out_type(layer), {"acc_type": acc, "count": h * w}))
        else:
            raise SkiplessError(f"layer {layer.name} ({cls}) is not supported by the open RTL generator; it supports {SUPPORTED}")
        for out in outs:
            shapes[out] = nodes[-1].shape
    in_vars, out_vars = graph.get_input_variables(), graph.get_output_variables()
    if len(in_vars) != 1 or len(out_vars) != 1:
        raise SkiplessError("the open RTL supports networks with one input and one output")
    return Network(name, nodes, nodes[0].outputs[0], graph.outputs[0], in_vars[0].name, out_vars[0].name)
