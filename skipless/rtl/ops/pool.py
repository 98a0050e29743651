"""Pooling node kinds: global average pooling."""

from __future__ import annotations

import numpy as np

from skipless.errors import SkiplessError
from skipless.fixed import FixedType
from skipless.rtl.graph import Node
from skipless.rtl.ops import ImportContext, Op, align, out_type, register
from skipless.rtl.ops.elementwise import cast_params, type_params


@register
class GlobalAveragePool(Op):
    """Sum over the image in the accumulator type, divide the mantissa by H x W truncating toward zero
    (as ``ap_fixed``'s ``operator/``), cast to the output type."""

    kind = "gap"
    hls_classes = ("GlobalPooling2D",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        a = layer.attributes
        if a.get("pool_op") != "Average":
            raise SkiplessError(f"layer {layer.name}: global {a.get('pool_op')} pooling is not supported (Average)")
        acc = FixedType.from_hls4ml(a["accum_t"].precision)
        src = layer.inputs[0]
        h, w, c = ctx.shapes[src]
        return Node(layer.name, cls.kind, [src], list(layer.outputs), (1, 1, c), out_type(layer), {"acc_type": acc, "count": h * w})

    @classmethod
    def needs(cls, node, ins):
        return ins[0][-1:]

    @classmethod
    def run(cls, node, ins, in_fracs):
        x, x_frac = ins[0], in_fracs[0]
        acc_t = node.params["acc_type"]
        summed = acc_t.cast(align(x, x_frac, acc_t.frac), acc_t.frac).sum(axis=(1, 2))
        summed = acc_t.cast(summed, acc_t.frac)
        count = node.params["count"]
        quotient = np.sign(summed) * (np.abs(summed) // count)  # ap_fixed division truncates toward zero
        return node.type.cast(quotient, acc_t.frac).reshape(len(x), 1, 1, -1)

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src, out = node.inputs[0], node.outputs[0]
        acc, count = node.params["acc_type"], node.params["count"]
        pow2 = count & (count - 1) == 0
        sid = top.wire(out, top.width(out), node.name)
        params = [f".C({node.shape[2]})", f".N({count})", f".LOG2N({count.bit_length() - 1 if pow2 else 0})", f".POW2({int(pow2)})",
                  *type_params("IN", top.types[src]), *type_params("ACC", acc), *type_params("OUT", node.type), *cast_params(node.type),
                  f".CW({top.clog2(count + 1)})"]
        top.body += top.inst("skl_gap", params, top.ident(node.name), top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", sid))
