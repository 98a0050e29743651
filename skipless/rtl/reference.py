"""Integer execution of a :class:`~skipless.rtl.graph.Network`: the golden model of the open RTL.

Every stream holds mantissas (int64) in its fixed-point type. The arithmetic is the RTL's, written
once more in numpy: accumulation in the accumulator type (products floored onto its binary point,
wrapped to its width), then ``FixedType.cast``. It is checked against hls4ml's C-simulation in the
verification suite, and the RTL against it, so a mismatch says which side moved.
"""

from __future__ import annotations

import numpy as np

from skipless.errors import SkiplessError
from skipless.rtl.graph import Network, Node


def _align(m: np.ndarray, frac: int, to_frac: int) -> np.ndarray:
    """Put mantissas on another binary point, flooring dropped bits (ap_fixed TRN)."""
    return m << (to_frac - frac) if to_frac >= frac else m >> (frac - to_frac)


def conv(node: Node, x: np.ndarray, x_frac: int) -> np.ndarray:
    """x: (N, H, W, Cin) mantissas -> (N, OH, OW, Cout) mantissas of the conv's output type."""
    p = node.params
    k, s = p["k"], p["stride"]
    acc_t, w_t, b_t = p["acc_type"], p["weight_type"], p["bias_type"]
    n, h, w, cin = x.shape
    oh, ow, cout = node.shape
    padded = np.zeros((n, h + p["pad_top"] + p["pad_bottom"] + k, w + p["pad_left"] + p["pad_right"] + k, cin), np.int64)
    padded[:, p["pad_top"] : p["pad_top"] + h, p["pad_left"] : p["pad_left"] + w] = x
    prod_frac = x_frac + w_t.frac
    acc = np.broadcast_to(_align(p["bias"], b_t.frac, acc_t.frac), (n, oh, ow, cout)).copy()
    for ky in range(k):
        for kx in range(k):
            window = padded[:, ky : ky + s * oh : s, kx : kx + s * ow : s, :]  # (N, OH, OW, Cin)
            if acc_t.frac >= prod_frac:
                acc += (window @ p["weight"][ky, kx]) << (acc_t.frac - prod_frac)
            else:  # each product floored onto the accumulator's binary point
                prods = window[..., :, None] * p["weight"][ky, kx][None, None, None]
                acc += (prods >> (prod_frac - acc_t.frac)).sum(axis=-2)
    acc = acc_t.cast(acc, acc_t.frac)  # wrap to the accumulator width
    return node.type.cast(acc, acc_t.frac)


def gap(node: Node, x: np.ndarray, x_frac: int) -> np.ndarray:
    acc_t = node.params["acc_type"]
    summed = acc_t.cast(_align(x, x_frac, acc_t.frac), acc_t.frac).sum(axis=(1, 2))
    summed = acc_t.cast(summed, acc_t.frac)
    count = node.params["count"]
    quotient = np.sign(summed) * (np.abs(summed) // count)  # ap_fixed division truncates toward zero
    return node.type.cast(quotient, acc_t.frac).reshape(len(x), 1, 1, -1)


def run(net: Network, x_mantissa: np.ndarray) -> dict[str, np.ndarray]:
    """Every stream's mantissas for input mantissas ``x_mantissa`` (N, H, W, C) in the input type."""
    x = np.asarray(x_mantissa, dtype=np.int64)
    if x.shape[1:] != net.input.shape:
        raise SkiplessError(f"input has shape {x.shape[1:]} per image; the network expects {net.input.shape}")
    streams: dict[str, np.ndarray] = {net.input_name: x}
    fracs: dict[str, int] = {net.input_name: net.input.type.frac}
    for node in net.nodes[1:]:
        ins = [streams[i] for i in node.inputs]
        in_fracs = [fracs[i] for i in node.inputs]
        if node.op == "conv":
            out = conv(node, ins[0], in_fracs[0])
        elif node.op == "cast":
            v = np.maximum(ins[0], 0) if node.params["relu"] else ins[0]
            out = node.type.cast(v, in_fracs[0])
        elif node.op == "add":
            f = max(in_fracs)
            out = node.type.cast(_align(ins[0], in_fracs[0], f) + _align(ins[1], in_fracs[1], f), f)
        elif node.op == "fork":
            out = ins[0]
        elif node.op == "gap":
            out = gap(node, ins[0], in_fracs[0])
        else:
            raise SkiplessError(f"no reference for node kind {node.op!r}")
        for name in node.outputs:
            streams[name] = out
            fracs[name] = node.type.frac
    return streams


def predict(net: Network, x_mantissa: np.ndarray) -> np.ndarray:
    """Output values (float64, exact) of the network, shaped like the output stream (N, C) for vectors."""
    out = run(net, x_mantissa)[net.output_name]
    values = net.output.type.to_float(out)
    return values.reshape(len(values), -1) if net.output.shape[:2] == (1, 1) else values
