"""Integer execution of a :class:`~skipless.rtl.graph.Network`: the golden model of the open RTL.

Every stream holds mantissas (int64) in its fixed-point type. The arithmetic is the RTL's, written
once more in numpy, one :meth:`Op.run <skipless.rtl.ops.Op.run>` per node kind: accumulation in the
accumulator type (products floored onto its binary point, wrapped to its width), then ``FixedType.cast``. It is checked against hls4ml's C-simulation in the
verification suite, and the RTL against it, so a mismatch says which side moved.
"""

from __future__ import annotations

import numpy as np

from skipless.errors import SkiplessError
from skipless.rtl.graph import Network
from skipless.rtl.ops import op_of


def run(net: Network, x_mantissa: np.ndarray) -> dict[str, np.ndarray]:
    """Every stream's mantissas for input mantissas ``x_mantissa`` (N, H, W, C) in the input type."""
    x = np.asarray(x_mantissa, dtype=np.int64)
    if x.shape[1:] != net.input.shape:
        raise SkiplessError(f"input has shape {x.shape[1:]} per image; the network expects {net.input.shape}")
    streams: dict[str, np.ndarray] = {net.input_name: x}
    fracs: dict[str, int] = {net.input_name: net.input.type.frac}
    for node in net.nodes[1:]:
        out = op_of(node).run(node, [streams[i] for i in node.inputs], [fracs[i] for i in node.inputs])
        for name in node.outputs:
            streams[name] = out
            fracs[name] = node.type.frac
    return streams


def predict(net: Network, x_mantissa: np.ndarray) -> np.ndarray:
    """Output values (float64, exact) of the network, shaped like the output stream (N, C) for vectors."""
    out = run(net, x_mantissa)[net.output_name]
    values = net.output.type.to_float(out)
    return values.reshape(len(values), -1) if net.output.shape[:2] == (1, 1) else values
