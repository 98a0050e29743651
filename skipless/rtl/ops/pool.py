"""Pooling node kinds: global average pooling, and max/average pooling over windows (Pooling2D)."""

from __future__ import annotations

import numpy as np

from skipless.errors import SkiplessError
from skipless.fixed import FixedType
from skipless.rtl.graph import Node, clog2
from skipless.rtl.ops import ImportContext, Op, align, out_shape, out_type, register
from skipless.rtl.ops.elementwise import OVF_CODE, RND_CODE, cast_params, type_params


def divide_toward_zero(m: np.ndarray, n: int) -> np.ndarray:
    """Mantissas divided by the integer ``n`` on the same binary point, truncating toward zero (ap_fixed's
    ``operator/`` by an integer, the Verilog ``skl_divn``)."""
    return np.sign(m) * (np.abs(m) // n)


def divider_params(n: int) -> list[str]:
    pow2 = n & (n - 1) == 0
    return [f".LOG2N({n.bit_length() - 1 if pow2 else 0})", f".POW2({int(pow2)})"]


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
        return node.type.cast(divide_toward_zero(summed, node.params["count"]), acc_t.frac).reshape(len(x), 1, 1, -1)

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src, out = node.inputs[0], node.outputs[0]
        acc, count = node.params["acc_type"], node.params["count"]
        sid = top.wire(out, top.width(out), node.name)
        params = [f".C({node.shape[2]})", f".N({count})", *divider_params(count),
                  *type_params("IN", top.types[src]), *type_params("ACC", acc), *type_params("OUT", node.type), *cast_params(node.type),
                  f".CW({top.clog2(count + 1)})"]
        top.body += top.inst("skl_gap", params, top.ident(node.name), top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", sid))


@register
class Pool(Op):
    """Max or average pooling over PH x PW windows moved by a stride equal to the window, without padding
    (hls4ml's io_stream pooling asserts both). Each input is cast to the accumulator type; max, or the
    sum divided by PH x PW truncating toward zero; then cast to the output type."""

    kind = "pool"
    hls_classes = ("Pooling2D",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        a = layer.attributes
        op = a.get("pool_op")
        if op not in ("Max", "Average"):
            raise SkiplessError(f"layer {layer.name}: {op} pooling is not supported by the open RTL (Max, Average)")
        ph, pw, sh, sw = (int(a[k]) for k in ("pool_height", "pool_width", "stride_height", "stride_width"))
        if (ph, pw) != (sh, sw):
            raise SkiplessError(f"layer {layer.name}: pooling {ph}x{pw} with stride {sh}x{sw} is not supported; hls4ml's io_stream "
                                f"pooling (which the open RTL follows) needs the stride equal to the pool size")
        if any(int(a.get(f"pad_{s}", 0)) for s in ("top", "bottom", "left", "right")):
            raise SkiplessError(f"layer {layer.name}: padded pooling is not supported (hls4ml's io_stream pooling has no "
                                f"padding); use padding='valid'")
        acc = FixedType.from_hls4ml(a["accum_t"].precision)
        if op == "Average" and acc.overflow != "WRAP":
            raise SkiplessError(f"layer {layer.name}: accumulator type {acc} must wrap (a saturating sum is order-dependent)")
        src = layer.inputs[0]
        params = {"max": op == "Max", "pool": (ph, pw), "in_shape": tuple(ctx.shapes[src]), "acc_type": acc}
        return Node(layer.name, cls.kind, [src], list(layer.outputs), out_shape(layer), out_type(layer), params)

    @classmethod
    def needs(cls, node, ins):
        (ph, pw), w = node.params["pool"], node.params["in_shape"][1]
        oh, ow, _ = node.shape
        last = ((np.arange(oh) * ph + ph - 1)[:, None] * w + (np.arange(ow) * pw + pw - 1)[None, :]).reshape(-1)
        return ins[0][last]

    @classmethod
    def run(cls, node, ins, in_fracs):
        x, x_frac = ins[0], in_fracs[0]
        acc_t, (ph, pw) = node.params["acc_type"], node.params["pool"]
        n, (oh, ow, c) = len(x), node.shape
        xa = acc_t.cast(x[:, : oh * ph, : ow * pw], x_frac).reshape(n, oh, ph, ow, pw, c)
        if node.params["max"]:
            return node.type.cast(xa.max(axis=(2, 4)), acc_t.frac)
        summed = acc_t.cast(xa.sum(axis=(2, 4)), acc_t.frac)  # the sum wraps in the accumulator
        return node.type.cast(divide_toward_zero(summed, ph * pw), acc_t.frac)

    @classmethod
    def emit(cls, node: Node, top) -> None:
        src, out = node.inputs[0], node.outputs[0]
        (ph, pw), (h, w, c), acc = node.params["pool"], node.params["in_shape"], node.params["acc_type"]
        sid = top.wire(out, top.width(out), node.name)
        params = [f".C({c})", f".H({h})", f".W({w})", f".PH({ph})", f".PW({pw})", f".OH({node.shape[0]})", f".OW({node.shape[1]})",
                  f".MAX({int(node.params['max'])})", *divider_params(ph * pw), *type_params("IN", top.types[src]),
                  *type_params("ACC", acc), f".ACC_RND({RND_CODE[acc.rounding]})", f".ACC_OVF({OVF_CODE[acc.overflow]})",
                  *type_params("OUT", node.type), *cast_params(node.type), f".CB({clog2(max(h, w) + 1)})"]
        top.body += top.inst("skl_pool", params, top.ident(node.name), top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", sid))
