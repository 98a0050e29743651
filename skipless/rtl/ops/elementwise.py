"""Node kinds that work beat by beat: the input stream, casts (with ReLU), hard sigmoid/tanh, the binary
tanh, the joins of two streams (Add, Concatenate on channels), and the fork."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from skipless.errors import SkiplessError
from skipless.fixed import FixedType
from skipless.rtl.graph import Node
from skipless.rtl.ops import ImportContext, Op, align, out_shape, out_type, register


def type_params(prefix: str, t) -> list[str]:
    return [f".{prefix}_W({t.width})", f".{prefix}_F({t.frac})", f".{prefix}_S({int(t.signed)})"]


RND_CODE = {"TRN": 0, "RND": 1, "RND_CONV": 2}
OVF_CODE = {"WRAP": 0, "SAT": 1, "SAT_SYM": 2}


def cast_params(t) -> list[str]:
    return [f".RND({RND_CODE[t.rounding]})", f".OVF({OVF_CODE[t.overflow]})"]


@register
class Input(Op):
    """The image stream; its type is the network's input type."""

    kind = "input"
    hls_classes = ("Input", "InputLayer")

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        return Node(layer.name, cls.kind, [], list(layer.outputs), out_shape(layer), out_type(layer))

    @classmethod
    def emit(cls, node: Node, top) -> None:
        top.wire(node.outputs[0], top.width(node.outputs[0]), node.name)  # driven by the top-level port

    @classmethod
    def register_stages(cls, node: Node, plan: object | None = None) -> int:
        return 0


@register
class Cast(Op):
    """Element-wise assignment to another type, optionally after ReLU (hls4ml Activation layers)."""

    kind = "cast"
    hls_classes = ("Activation",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        act = layer.attributes.get("activation")
        if act == "binary_tanh":
            return BinaryTanh.from_hls4ml(layer, ctx)
        if act not in ("linear", "relu"):
            raise SkiplessError(f"layer {layer.name}: activation {act!r} is not supported by the open RTL (linear, relu, binary_tanh)")
        src = layer.inputs[0]
        return Node(layer.name, cls.kind, [src], list(layer.outputs), ctx.shapes[src], out_type(layer), {"relu": act == "relu"})

    @classmethod
    def run(cls, node, ins, in_fracs):
        v = np.maximum(ins[0], 0) if node.params["relu"] else ins[0]
        return node.type.cast(v, in_fracs[0])

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src, out = node.inputs[0], node.outputs[0]
        sid = top.wire(out, top.width(out), node.name)
        params = [f".C({node.shape[2]})", *type_params("IN", top.types[src]), *type_params("OUT", node.type), *cast_params(node.type),
                  f".RELU({int(node.params['relu'])})"]
        top.body += top.inst("skl_map", params, top.ident(node.name), top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", sid))


@register
class HardActivation(Op):
    """hls4ml's hard_sigmoid, ``clip(slope * x + shift, 0, 1)``, and hard_tanh, ``2 * hard_sigmoid - 1``
    (QKeras ``quantized_tanh``/``hard_sigmoid``): computed exactly on the finest binary point of x * slope
    and shift (as C++ ``auto`` does), then cast to the output type. slope and shift are constants of
    hls4ml's slope_t/shift_t types."""

    kind = "hard"
    hls_classes = ("HardActivation",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        act = layer.attributes.get("activation")
        if act not in ("hard_sigmoid", "hard_tanh"):
            raise SkiplessError(f"layer {layer.name}: activation {act!r} is not supported by the open RTL (hard_sigmoid, hard_tanh)")
        constants = {}
        for name in ("slope", "shift"):
            t = FixedType.from_hls4ml(layer.get_attr(f"{name}_t").precision)
            m = t.to_mantissa(float(layer.get_attr(name)))  # the C++ constant, assigned to its type
            constants[name] = (int(m), t.frac)
        src = layer.inputs[0]
        return Node(layer.name, cls.kind, [src], list(layer.outputs), ctx.shapes[src], out_type(layer),
                    {"tanh": act == "hard_tanh", "slope": constants["slope"], "shift": constants["shift"]})

    @staticmethod
    def binary_point(node: Node, in_frac: int) -> int:
        return max(in_frac + node.params["slope"][1], node.params["shift"][1])

    @classmethod
    def run(cls, node, ins, in_fracs):
        (slope, sf), (shift, tf) = node.params["slope"], node.params["shift"]
        f = cls.binary_point(node, in_fracs[0])
        v = ((ins[0] * slope) << (f - in_fracs[0] - sf)) + (shift << (f - tf))
        v = np.clip(v, 0, 1 << f)
        return node.type.cast(2 * v - (1 << f) if node.params["tanh"] else v, f)

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src, out = node.inputs[0], node.outputs[0]
        xt = top.types[src]
        (slope, sf), (shift, tf) = node.params["slope"], node.params["shift"]
        f = cls.binary_point(node, xt.frac)
        sid = top.wire(out, top.width(out), node.name)
        params = [f".C({node.shape[2]})", f".IN_W({xt.width})", f".IN_S({int(xt.signed)})", f".SLOPE({slope})", f".SLOPE_W({max(slope.bit_length(), 1) + 1})",
                  f".PSH({f - xt.frac - sf})", f".SHIFT({shift << (f - tf)})", f".F({f})", f".TANH({int(node.params['tanh'])})",
                  *type_params("OUT", node.type), *cast_params(node.type)]
        top.body += top.inst("skl_hard", params, top.ident(node.name), top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", sid))


@register
class BinaryTanh(Op):
    """hls4ml's binary_tanh (QKeras ``binary`` as an activation): +1 where x >= 0, else -1, cast to the
    output type (hls4ml gives it ap_int<2>). Imported through :class:`Cast`, hls4ml's Activation class."""

    kind = "binary"

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        t = out_type(layer)
        if not t.signed:  # hls4ml maps -1 to 0 for ap_uint<1> only, and wraps it for other unsigned types
            raise SkiplessError(f"layer {layer.name}: binary_tanh into the unsigned type {t} is not supported by the open RTL; "
                                "keep hls4ml's signed result type (ap_int<2>)")
        src = layer.inputs[0]
        return Node(layer.name, cls.kind, [src], list(layer.outputs), ctx.shapes[src], t, {})

    @classmethod
    def run(cls, node, ins, in_fracs):
        return node.type.cast(np.where(ins[0] >= 0, 1, -1), 0)

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src, out = node.inputs[0], node.outputs[0]
        xt = top.types[src]
        sid = top.wire(out, top.width(out), node.name)
        params = [f".C({node.shape[2]})", f".IN_W({xt.width})", f".IN_S({int(xt.signed)})", *type_params("OUT", node.type), *cast_params(node.type)]
        top.body += top.inst("skl_sign", params, top.ident(node.name), top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", sid))


class Join(Op):
    """A node that reads two streams beat by beat (Add, Concatenate): each output beat waits for both
    inputs, and the branch that runs ahead is buffered in the skip FIFO the planner sized for it. A
    subclass names its library module (``module``) and that module's parameters (:meth:`params`)."""

    module: ClassVar[str] = ""

    @classmethod
    def needs(cls, node, ins):
        return np.maximum(ins[0], ins[1])

    @classmethod
    def params(cls, node: Node, top) -> list[str]:
        raise NotImplementedError

    @classmethod
    def emit(cls, node: Node, top) -> None:
        fifo = top.plan.fifos[node.name]
        ins = []
        for src in node.inputs:
            sid = top.sid(src)
            if src == fifo.stream:
                fid = top.wire(f"{node.name}_skip_fifo", top.width(src), f"{node.name}_skip_fifo")
                params = [f".DW({top.width(src)})", f".DEPTH({fifo.depth})", f".AW({top.clog2(fifo.depth)})"]
                top.body += top.inst("skl_fifo", params, f"{top.ident(node.name)}_skip_fifo",
                                     top.CLK + top.stream_ports("in", sid) + top.stream_ports("out", fid))
                sid = fid
            ins.append(sid)
        out = node.outputs[0]
        sid = top.wire(out, top.width(out), node.name)
        top.body += top.inst(cls.module, cls.params(node, top), top.ident(node.name),
                             top.CLK + top.stream_ports("a", ins[0]) + top.stream_ports("b", ins[1]) + top.stream_ports("out", sid))


@register
class Add(Join):
    """Element-wise sum of two streams (hls4ml Merge 'add'): exact on the finer binary point, then cast."""

    kind = "add"
    module = "skl_add"
    hls_classes = ("Merge",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        if layer.attributes.get("op") != "add":
            raise SkiplessError(f"layer {layer.name}: merge {layer.attributes.get('op')!r} is not supported by the open RTL (add)")
        ins = list(layer.inputs)
        return Node(layer.name, cls.kind, ins, list(layer.outputs), ctx.shapes[ins[0]], out_type(layer))

    @classmethod
    def run(cls, node, ins, in_fracs):
        f = max(in_fracs)
        return node.type.cast(align(ins[0], in_fracs[0], f) + align(ins[1], in_fracs[1], f), f)

    @classmethod
    def params(cls, node: Node, top) -> list[str]:
        a, b = (top.types[s] for s in node.inputs)
        return [f".C({node.shape[2]})", *type_params("A", a), *type_params("B", b), *type_params("OUT", node.type), *cast_params(node.type)]


@register
class Concat(Join):
    """Two streams joined on channels (hls4ml Concatenate, axis -1): each element assigned to the output
    type, the first input's channels first."""

    kind = "concat"
    module = "skl_concat"
    hls_classes = ("Concatenate",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        ins = list(layer.inputs)
        shapes = [ctx.shapes[i] for i in ins]
        axis = int(layer.attributes.get("axis", -1))
        if len(ins) != 2 or axis not in (-1, 3) or shapes[0][:2] != shapes[1][:2]:
            raise SkiplessError(f"layer {layer.name}: only a Concatenate of two images on the channel axis is supported by the "
                                f"open RTL (got axis {axis}, shapes {shapes})")
        return Node(layer.name, cls.kind, ins, list(layer.outputs), out_shape(layer), out_type(layer))

    @classmethod
    def run(cls, node, ins, in_fracs):
        return np.concatenate([node.type.cast(m, f) for m, f in zip(ins, in_fracs, strict=True)], axis=-1)

    @classmethod
    def params(cls, node: Node, top) -> list[str]:
        a, b = node.inputs
        return [f".CA({top.channels[a]})", f".CB({top.channels[b]})", *type_params("A", top.types[a]), *type_params("B", top.types[b]),
                *type_params("OUT", node.type), *cast_params(node.type)]


@register
class Fork(Op):
    """One stream read by two consumers (hls4ml Clone); each side takes a beat on its own handshake."""

    kind = "fork"
    hls_classes = ("Clone",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        src = layer.inputs[0]
        return Node(layer.name, cls.kind, [src], list(layer.outputs), ctx.shapes[src], out_type(layer))

    @classmethod
    def run(cls, node, ins, in_fracs):
        return ins[0]

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src = node.inputs[0]
        a = top.wire(node.outputs[0], top.width(src), node.name)
        b = top.wire(node.outputs[1], top.width(src), node.name)
        top.body += top.inst("skl_fork", [f".DW({top.width(src)})"], top.ident(node.name),
                             top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("a", a) + top.stream_ports("b", b))

    @classmethod
    def register_stages(cls, node: Node, plan: object | None = None) -> int:
        return 0
