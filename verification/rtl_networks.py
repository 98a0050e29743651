"""Small hand-built networks for the open RTL's module tests (no TensorFlow, seconds to simulate)."""

from __future__ import annotations

import numpy as np

from skipless.fixed import FixedType
from skipless.rtl.graph import Network, Node

X_SIGNED = FixedType(8, 5, True, "RND_CONV", "SAT")
X_UNSIGNED = FixedType(8, 4, False, "RND_CONV", "SAT")
WEIGHT = FixedType(6, 4, True)
BIAS = FixedType(10, 4, True)
ACC = FixedType(22, 9, True)


def conv_node(name, src, in_shape, cout, k, stride, pads, rng, x_type, acc=ACC, out_type=None, weight_type=WEIGHT):
    h, w, cin = in_shape
    top, left, bottom, right = pads
    oh = (h + top + bottom - k) // stride + 1
    ow = (w + left + right - k) // stride + 1
    params = dict(
        kernel=(k, k), strides=(stride, stride), in_shape=in_shape, pad_top=top, pad_left=left, pad_bottom=bottom, pad_right=right,
        weight=rng.integers(weight_type.lo, weight_type.hi + 1, (k, k, cin, cout)), weight_type=weight_type,
        bias=rng.integers(-500, 500, cout), bias_type=BIAS, acc_type=acc,
    )
    del x_type
    return Node(name, "conv", [src], [name], (oh, ow, cout), out_type or acc, params)


def single_conv(shape=(8, 8, 2), cout=4, k=3, stride=1, pads=(1, 1, 1, 1), x_type=X_SIGNED, seed=0, out_type=None,
                weight_type=WEIGHT) -> Network:
    rng = np.random.default_rng(seed)
    inp = Node("image", "input", [], ["image"], shape, x_type)
    conv = conv_node("conv", "image", shape, cout, k, stride, pads, rng, x_type, out_type=out_type, weight_type=weight_type)
    return Network("unit_conv", [inp, conv], "image", "conv", "image", "out")


def residual_block(shape=(6, 6, 4), seed=0, weight_type=WEIGHT) -> Network:
    """image -> relu -> fork -> [conv3x3 -> cast -> conv3x3 -> cast] + skip -> add -> relu -> GAP -> dense."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    act = FixedType(8, 4, False, "RND_CONV", "SAT")
    mid = FixedType(9, 4, True, "RND_CONV", "SAT")
    nodes = [
        Node("image", "input", [], ["image"], shape, X_SIGNED),
        Node("relu0", "cast", ["image"], ["relu0"], shape, act, {"relu": True}),
        Node("fork", "fork", ["relu0"], ["relu0_cpy1", "relu0_cpy2"], shape, act),
        conv_node("c1", "relu0_cpy1", shape, c, 3, 1, (1, 1, 1, 1), rng, act, weight_type=weight_type),
        Node("r1", "cast", ["c1"], ["r1"], shape, act, {"relu": True}),
        conv_node("c2", "r1", shape, c, 3, 1, (1, 1, 1, 1), rng, act, weight_type=weight_type),
        Node("q2", "cast", ["c2"], ["q2"], shape, mid, {"relu": False}),
        Node("add", "add", ["q2", "relu0_cpy2"], ["add"], shape, FixedType(10, 5, True)),
        Node("r2", "cast", ["add"], ["r2"], shape, act, {"relu": True}),
        Node("gap", "gap", ["r2"], ["gap"], (1, 1, c), FixedType(9, 4, True, "RND_CONV", "SAT"),
             {"acc_type": FixedType(20, 9, False), "count": h * w}),
        conv_node("fc", "gap", (1, 1, c), 3, 1, 1, (0, 0, 0, 0), rng, FixedType(9, 4, True)),
    ]
    return Network("unit_block", nodes, "image", "fc", "image", "out")


def random_input(net: Network, n: int, seed: int = 1) -> np.ndarray:
    """Values (N, H, W, C) spanning the input type, saturating extremes included."""
    t = net.input.type
    rng = np.random.default_rng(seed)
    m = rng.integers(t.lo, t.hi + 1, (n, *net.input.shape))
    m[0].flat[:4] = [t.lo, t.hi, 0, t.hi]
    return t.to_float(m)


def pooling_net(max_pool: bool, shape=(9, 9, 3), pool=(2, 2), seed=0) -> Network:
    """image -> 3x3 conv -> max or average pooling (the last row and column fall outside every window) ->
    hard tanh -> concatenation with a 1x1 branch; exercises skl_pool, skl_hard and skl_concat."""
    rng = np.random.default_rng(seed)
    h, w, _ = shape
    oh, ow = h // pool[0], w // pool[1]
    mid = FixedType(9, 4, True, "RND_CONV", "SAT")
    # the average's accumulator keeps the input's binary point, so the divide by 4 leaves remainders
    # (truncation toward zero and floor differ on negative sums, and nothing after it rounds that away)
    acc = mid if max_pool else FixedType(12, 4, True)
    out = mid if max_pool else FixedType(10, 4, True, "RND_CONV", "SAT")
    tanh = FixedType(6, 4, True, "RND_CONV", "SAT")
    nodes = [
        Node("image", "input", [], ["image"], shape, X_SIGNED),
        conv_node("c1", "image", shape, 4, 3, 1, (1, 1, 1, 1), rng, X_SIGNED),
        Node("q1", "cast", ["c1"], ["q1"], (h, w, 4), mid, {"relu": False}),
        Node("pool", "pool", ["q1"], ["pool"], (oh, ow, 4), out, {"max": max_pool, "pool": pool, "in_shape": (h, w, 4), "acc_type": acc}),
        Node("tanh", "hard", ["pool"], ["tanh"], (oh, ow, 4), tanh, {"tanh": True, "slope": (2, 2), "shift": (2, 2)}),
        Node("fork", "fork", ["tanh"], ["tanh_cpy1", "tanh_cpy2"], (oh, ow, 4), tanh),
        conv_node("pw", "tanh_cpy1", (oh, ow, 4), 2, 1, 1, (0, 0, 0, 0), rng, tanh, out_type=mid),
        Node("cat", "concat", ["tanh_cpy2", "pw"], ["cat"], (oh, ow, 6), mid),
    ]
    return Network("pooling", nodes, "image", "cat", "image", "out")
