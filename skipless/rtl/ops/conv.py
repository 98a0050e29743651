"""Convolutions: KH x KW Conv2D (any strides, zero padding), Conv1D (a 1 x K conv on a 1 x L image),
1x1 PointwiseConv2D/1D, and Dense (a 1x1 conv on a 1x1 image); ZeroPadding2D/1D fold into the
convolution that reads them, and a Flatten into the Dense that
reads it: Dense over a flattened H x W x C image is an H x W convolution without padding whose one
output pixel is the Dense's vector (Keras flattens in (h, w, c) order, the kernel's order), so the
image streams into it pixel by pixel and is never gathered into one wide beat."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skipless.errors import SkiplessError
from skipless.fixed import FixedType, pack_lanes
from skipless.rtl.graph import Node, clog2
from skipless.rtl.ops import ImportContext, Importer, Op, align, out_shape, out_type, register, weights
from skipless.rtl.ops.elementwise import cast_params, type_params

SIDES = ("top", "bottom", "left", "right")


@register
class ZeroPadding(Importer):
    """hls4ml's explicit padding layer: recorded, and folded into the convolution that reads it."""

    hls_classes = ("ZeroPadding2D", "ZeroPadding1D")

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> None:
        ctx.pads[layer.outputs[0]] = (layer.inputs[0], {s: int(layer.attributes.get(f"pad_{s}", 0)) for s in SIDES})
        return None


def depthwise_as_dense(w: np.ndarray) -> np.ndarray:
    """A depthwise kernel (H, W, C, M) as the kernel (H, W, C, C x M) of a full convolution: output channel
    c x M + m reads input channel c only, every other weight is 0. Exact (a zero product adds nothing to
    the accumulator) and no new engine, at C times the MACs and weight ROM of a true depthwise engine."""
    kh, kw, c, m = w.shape
    full = np.zeros((kh, kw, c, c * m), dtype=w.dtype)
    for ch in range(c):
        full[:, :, ch, ch * m : (ch + 1) * m] = w[:, :, ch, :]
    return full


@register
class Flatten(Importer):
    """hls4ml's Reshape to a vector (Keras Flatten): recorded, and folded into the Dense that reads it."""

    hls_classes = ("Reshape",)

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> None:
        target = [int(d) for d in layer.get_attr("target_shape", None) or layer.get_output_variable().shape]
        src = layer.inputs[0]
        if len(target) != 1:
            raise SkiplessError(f"layer {layer.name}: Reshape to {tuple(target)} is not supported by the open RTL (only a Flatten "
                                f"read by a Dense)")
        ctx.flattened[layer.outputs[0]] = src
        return None


# How a convolution makes its PI x PO products (skl_conv's MUL parameter):
#   dsp   one multiplier per product (a DSP48 each);
#   dsp2  two products per multiplier: two output lanes that share an input, packed into one DSP48
#         multiply (operands of XW + 2WW + 1 <= 25 and XW + 1 <= 18 bits, PO even: w8a8 and narrower;
#         the weight ROM is the same as for dsp, the DSP48's pre-adder packs the two weights);
#   lut   shift-and-add in LUTs, no multiplier (meant for weights of 4 bits or fewer).
MULTIPLIERS = {"dsp": 0, "dsp2": 1, "lut": 2}
LUT_WEIGHT_BITS = 4  # the planner's "auto" puts layers with weights this narrow in LUTs when DSPs run out
DSP_A, DSP_B = 25, 18  # DSP48E1 multiplier port widths (signed)


def packed_operands(in_width: int, weight_width: int) -> tuple[int, int]:
    """(packed weight operand, input operand) bit widths of a two-products-per-multiplier lane pair."""
    return in_width + 2 * weight_width + 1, in_width + 1


def can_pack(in_width: int, weight_width: int) -> bool:
    """Whether two products x * w_lo, x * w_hi fit one DSP48E1 multiply (skl_conv MUL = 1)."""
    a, b = sorted(packed_operands(in_width, weight_width), reverse=True)
    return a <= DSP_A and b <= DSP_B


@dataclass
class ConvPlan:
    name: str
    pi: int
    po: int
    steps_per_pixel: int
    cycles: int  # per image, without stalls
    macs: int  # per image
    buffer_pixels: int
    buffer_bits: int
    multiplier: str = "dsp"  # a key of MULTIPLIERS

    @property
    def macs_per_cycle(self) -> int:
        return self.pi * self.po

    @property
    def multipliers(self) -> int:
        """Multiplier instances: PI x PO, half that when two products share one, none in LUTs."""
        return {"dsp": self.macs_per_cycle, "dsp2": self.macs_per_cycle // 2, "lut": 0}[self.multiplier]

    @property
    def mac_stages(self) -> int:
        """Registers from the issue stage to the accumulator: the operand stage, the products, then the
        adder tree over PI products and the bias (skl_conv's TREE_D = 2 + clog2(PI + 1))."""
        return 2 + clog2(self.pi + 1)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@register
class Conv(Op):
    kind = "conv"
    hls_classes = ("Conv2D", "PointwiseConv2D", "Conv1D", "PointwiseConv1D", "DepthwiseConv2D", "Dense")

    @classmethod
    def from_hls4ml(cls, layer, ctx: ImportContext) -> Node:
        image = ctx.flattened.get(layer.inputs[0]) if layer.class_name == "Dense" else None
        src, pad = ctx.source(image or layer.inputs[0])
        in_shape = ctx.shapes[src]
        a = layer.attributes
        w, wt = weights(layer, "weight")
        b, bt = weights(layer, "bias")
        transposed = bool(layer.get_attr("_weights_transposed", False))  # hls4ml's Resource strategy pass
        if layer.class_name == "Dense":
            w = w.T if transposed else w  # (out, in) -> (in, out)
            if image is None:
                kernel, strides, w = (1, 1), (1, 1), w.reshape(1, 1, *w.shape)
            else:  # Flatten -> Dense: an H x W kernel over the image, one output pixel
                kernel, strides, w = tuple(in_shape[:2]), (1, 1), w.reshape(*in_shape, w.shape[-1])
        else:
            one_d = layer.class_name.endswith("1D")
            if one_d:  # (K, C, F), or (F, K, C) after hls4ml's Resource transpose -> (1, K, C, F)
                w = (np.transpose(w, (1, 2, 0)) if transposed else w)[None]
                kernel, strides = (1, int(a["filt_width"])), (1, int(a["stride_width"]))
            else:
                w = np.transpose(w, (1, 2, 3, 0)) if transposed else w  # (F, H, W, C) -> (H, W, C, F)
                kernel = (int(a["filt_height"]), int(a["filt_width"]))
                strides = (int(a["stride_height"]), int(a["stride_width"]))
            if layer.class_name == "DepthwiseConv2D":
                w = depthwise_as_dense(w)
            if any(int(a.get(f"pad_{s}", 0)) for s in SIDES):
                raise SkiplessError(f"layer {layer.name}: expected hls4ml to pad in a ZeroPadding layer")
            if w.shape[:3] != (*kernel, in_shape[2]):
                raise SkiplessError(f"layer {layer.name}: weights of shape {w.shape} do not match a {kernel[0]}x{kernel[1]}x{in_shape[2]} kernel")
        if a.get("activation", "linear") != "linear" and layer.name not in ctx.split_activations:
            raise SkiplessError(f"layer {layer.name}: fused activation {a['activation']!r} is not supported; use a separate activation layer")
        acc = FixedType.from_hls4ml(a["accum_t"].precision)
        if acc.overflow != "WRAP":
            raise SkiplessError(f"layer {layer.name}: accumulator type {acc} must wrap (saturating accumulation is order-dependent)")
        params = {
            "kernel": kernel, "strides": strides, "in_shape": tuple(in_shape),
            "pad_top": pad.get("top", 0), "pad_left": pad.get("left", 0),
            "pad_bottom": pad.get("bottom", 0), "pad_right": pad.get("right", 0),
            "weight": w, "weight_type": wt, "bias": b.reshape(-1), "bias_type": bt, "acc_type": acc,
        }
        return Node(layer.name, cls.kind, [src], list(layer.outputs), out_shape(layer), out_type(layer), params)

    # ---------------------------------------------------------------- planner

    @classmethod
    def cycle_options(cls, node: Node) -> dict[tuple[int, int], int]:
        """Every (PI, PO) the engine can run (PI | input channels, PO | output channels) -> cycles per image."""
        cin, cout, macs = node.params["in_shape"][2], node.shape[2], cls.macs(node)
        return {(pi, po): macs // (pi * po) for pi in _divisors(cin) for po in _divisors(cout)}

    @classmethod
    def macs(cls, node: Node) -> int:
        """Multiply-accumulates per image."""
        cin, (oh, ow, cout), (kh, kw) = node.params["in_shape"][2], node.shape, node.params["kernel"]
        return oh * ow * kh * kw * cin * cout

    @classmethod
    def multiplier_for(cls, node: Node, in_width: int, settings) -> str:
        """The layer's multiplier kind: its own entry in ``settings.multipliers``, else the policy
        (``auto`` and ``dsp2`` pack where the widths allow, else one per product; the fit planner may
        then move ``auto``'s narrow-weight layers to LUTs)."""
        ww = node.params["weight_type"].width
        own = settings.multipliers.get(node.name)
        if own is not None:
            if own == "dsp2" and not can_pack(in_width, ww):
                a, b = packed_operands(in_width, ww)
                raise SkiplessError(f"layer {node.name}: two products per DSP48 need operands of at most {DSP_A} x {DSP_B} bits, "
                                    f"this layer's are {a} x {b} ({in_width}-bit inputs, {ww}-bit weights); use dsp or lut")
            if own == "dsp2" and node.shape[2] % 2:
                raise SkiplessError(f"layer {node.name}: two products per DSP48 pair output channels, and it has {node.shape[2]}; use dsp or lut")
            return own
        policy = settings.multiplier_policy
        if policy in ("dsp2", "auto") and can_pack(in_width, ww) and node.shape[2] % 2 == 0:
            return "dsp2"
        return "dsp" if policy in ("dsp2", "auto") else policy

    @classmethod
    def plan(cls, node: Node, in_width: int, settings) -> ConvPlan:
        p = node.params
        h, w, cin = p["in_shape"]
        cout = node.shape[2]
        kh, kw = p["kernel"]
        cycles = cls.cycle_options(node)
        multiplier = cls.multiplier_for(node, in_width, settings)
        # packing pairs output lanes: PO must be even (every option with PO = 1 has a PO = 2 twin)
        options = [o for o in cycles if multiplier != "dsp2" or o[1] % 2 == 0]
        wanted = settings.macs_per_cycle.get(node.name)
        if wanted is not None:
            exact = [o for o in options if o[0] * o[1] == int(wanted)]
            if not exact:
                valid = sorted({o[0] * o[1] for o in options})
                raise SkiplessError(f"layer {node.name}: {wanted} MACs/cycle is not PI x PO with PI | {cin} and PO | {cout}"
                                    f"{' and PO even (two products per DSP48)' if multiplier == 'dsp2' else ''}; use one of {valid}")
            pi, po = max(exact)
        else:
            fits = [o for o in options if cycles[o] <= settings.cycles_per_layer]
            pi, po = min(fits, key=lambda o: (o[0] * o[1], -o[0])) if fits else max(options)
        buffer_pixels = 1 << clog2((kh - 1) * w + kw + w)
        return ConvPlan(node.name, pi, po, (cout // po) * kh * kw * (cin // pi), cycles[(pi, po)], cls.macs(node),
                        buffer_pixels, buffer_pixels * cin * in_width, multiplier)

    @classmethod
    def last_input_index(cls, node: Node) -> np.ndarray:
        """Per output pixel: the raster index of the last input pixel its window reads."""
        p = node.params
        h, w, _ = p["in_shape"]
        oh, ow, _ = node.shape
        (kh, kw), (sh, sw) = p["kernel"], p["strides"]
        rows = np.minimum(np.arange(oh) * sh - p["pad_top"] + kh - 1, h - 1)
        cols = np.minimum(np.arange(ow) * sw - p["pad_left"] + kw - 1, w - 1)
        return (rows[:, None] * w + cols[None, :]).reshape(-1)

    @classmethod
    def needs(cls, node, ins):
        return ins[0][cls.last_input_index(node)]

    @classmethod
    def register_stages(cls, node: Node, plan: ConvPlan) -> int:
        # the output register and the requantization after it, plus the planned MAC pipeline
        return 2 + plan.mac_stages

    # ---------------------------------------------------------------- reference

    @classmethod
    def run(cls, node, ins, in_fracs):
        """x: (N, H, W, Cin) mantissas -> (N, OH, OW, Cout) mantissas of the conv's output type."""
        x, x_frac = ins[0], in_fracs[0]
        p = node.params
        (kh, kw), (sh, sw) = p["kernel"], p["strides"]
        acc_t, w_t, b_t = p["acc_type"], p["weight_type"], p["bias_type"]
        n, h, w, cin = x.shape
        oh, ow, cout = node.shape
        padded = np.zeros((n, h + p["pad_top"] + p["pad_bottom"] + kh, w + p["pad_left"] + p["pad_right"] + kw, cin), np.int64)
        padded[:, p["pad_top"] : p["pad_top"] + h, p["pad_left"] : p["pad_left"] + w] = x
        prod_frac = x_frac + w_t.frac
        acc = np.broadcast_to(align(p["bias"], b_t.frac, acc_t.frac), (n, oh, ow, cout)).copy()
        for ky in range(kh):
            for kx in range(kw):
                window = padded[:, ky : ky + sh * oh : sh, kx : kx + sw * ow : sw, :]  # (N, OH, OW, Cin)
                if acc_t.frac >= prod_frac:
                    acc += (window @ p["weight"][ky, kx]) << (acc_t.frac - prod_frac)
                else:  # each product floored onto the accumulator's binary point
                    prods = window[..., :, None] * p["weight"][ky, kx][None, None, None]
                    acc += (prods >> (prod_frac - acc_t.frac)).sum(axis=-2)
        acc = acc_t.cast(acc, acc_t.frac)  # wrap to the accumulator width
        return node.type.cast(acc, acc_t.frac)

    # ---------------------------------------------------------------- Verilog

    @classmethod
    def roms(cls, node: Node, plan: ConvPlan, top) -> tuple[str, str, str, str]:
        """(weight ROM module name, its text, bias ROM module name, its text) in the engine's step order."""
        p = node.params
        w, wt, acc = p["weight"], p["weight_type"], p["acc_type"]
        (kh, kw), (cin, cout) = p["kernel"], (p["in_shape"][2], node.shape[2])
        pi, po = plan.pi, plan.po
        words = []
        for g in range(cout // po):
            for ky in range(kh):
                for kx in range(kw):
                    for c in range(cin // pi):
                        block = w[ky, kx, c * pi : (c + 1) * pi, g * po : (g + 1) * po]  # (pi, po)
                        words.append(pack_lanes(block.T.reshape(-1), wt.width))  # lane o*PI + i
        bias = align(p["bias"], p["bias_type"].frac, acc.frac)
        bias_words = [pack_lanes(bias[g * po : (g + 1) * po], acc.width) for g in range(cout // po)]
        wname, bname = f"{top.name}_{top.ident(node.name)}_w", f"{top.name}_{top.ident(node.name)}_b"
        return wname, top.rom(wname, words, po * pi * wt.width), bname, top.rom(bname, bias_words, po * acc.width)

    @classmethod
    def emit(cls, node: Node, top) -> None:
        p, cp = node.params, top.plan.convs[node.name]
        if not p["weight_type"].signed:
            raise SkiplessError(f"layer {node.name}: unsigned weight types are not supported by the open RTL")
        src = node.inputs[0]
        xt, acc = top.types[src], p["acc_type"]
        n = top.ident(node.name)
        cin, cout = p["in_shape"][2], node.shape[2]
        wname, wtext, bname, btext = cls.roms(node, cp, top)
        top.modules += [wtext, btext]
        steps, groups = cp.steps_per_pixel, cout // cp.po
        sa, ga = clog2(steps), clog2(groups)
        out = node.outputs[0]
        raw = top.wire(f"{node.name}_acc", cout * acc.width, node.name) if acc != node.type else top.wire(out, top.width(out), node.name)
        top.decls += [
            f"    wire {n}_rom_en;", f"    wire [{sa - 1}:0] {n}_w_addr;", f"    wire [{cp.po * cp.pi * p['weight_type'].width - 1}:0] {n}_w_data;",
            f"    wire [{ga - 1}:0] {n}_b_addr;", f"    wire [{cp.po * acc.width - 1}:0] {n}_b_data;",
        ]
        params = [
            f".H({p['in_shape'][0]})", f".W({p['in_shape'][1]})", f".CIN({cin})", f".COUT({cout})", f".KH({p['kernel'][0]})", f".KW({p['kernel'][1]})",
            f".SH({p['strides'][0]})", f".SW({p['strides'][1]})", f".PT({p['pad_top']})", f".PL({p['pad_left']})", f".OH({node.shape[0]})", f".OW({node.shape[1]})",
            f".XW({xt.width})", f".XS({int(xt.signed)})", f".WW({p['weight_type'].width})", f".AW({acc.width})",
            f".PSH({acc.frac - xt.frac - p['weight_type'].frac})", f".PI({cp.pi})", f".PO({cp.po})",
            f".MUL({MULTIPLIERS[cp.multiplier]})",
            f".BUF_AW({clog2(cp.buffer_pixels)})", f".SA_W({sa})", f".GA_W({ga})",
        ]
        top.body += top.inst("skl_conv", params, n, top.CLK + top.stream_ports("in", top.sid(src)) + top.stream_ports("out", raw) + [
            ("rom_en", f"{n}_rom_en"), ("w_addr", f"{n}_w_addr"), ("w_data", f"{n}_w_data"), ("b_addr", f"{n}_b_addr"), ("b_data", f"{n}_b_data"),
        ])
        top.body += top.inst(wname, [], f"{n}_w", [("clk", "ap_clk"), ("en", f"{n}_rom_en"), ("addr", f"{n}_w_addr"), ("q", f"{n}_w_data")])
        top.body += top.inst(bname, [], f"{n}_b", [("clk", "ap_clk"), ("en", f"{n}_rom_en"), ("addr", f"{n}_b_addr"), ("q", f"{n}_b_data")])
        if acc != node.type:  # the conv's own result type differs from its accumulator
            sid = top.wire(out, top.width(out), node.name)
            params = [f".C({cout})", *type_params("IN", acc), *type_params("OUT", node.type), *cast_params(node.type), ".RELU(0)"]
            top.body += top.inst("skl_map", params, f"{n}_result", top.CLK + top.stream_ports("in", raw) + top.stream_ports("out", sid))
