"""Reuse factors hls4ml can compile: one valid value per conv/dense layer, set in its config by name.

hls4ml's Resource strategy splits a layer's ``n_in x n_out`` multiplications over ``ReuseFactor``
cycles, and only some factors are valid for a given ``n_in, n_out``: the factor must divide
``n_in * n_out``; below ``n_in`` the multipliers must come out a whole multiple of ``n_out``; at or
above ``n_in`` it must be a multiple of ``n_in``. hls4ml 1.3 replaces an invalid factor with the
nearest valid one for the layers it validates, but not for the node its optimizer puts in place of a
strided 1x1 conv: that node keeps the raw default and the project fails to compile
(``DenseResource_rf_gt_nin`` is not defined by the templates; measured on a 1x1 conv from 5
channels with the default 16). So :func:`valid_reuse_factors` fixes every layer's factor in the
config before hls4ml sees it.
"""

from __future__ import annotations

import math

MULTIPLYING_LAYERS = ("QConv2D", "QDense", "QConv1D", "Conv2D", "Dense", "Conv1D")


def is_valid(rf: int, n_in: int, n_out: int) -> bool:
    """Whether hls4ml's Resource strategy can build a layer of ``n_in x n_out`` multiplications with ``rf``."""
    if rf < 1 or (n_in * n_out) % rf:
        return False
    if rf < n_in:
        return math.ceil(n_in * n_out / rf) % n_out == 0
    return rf % n_in == 0


def nearest_valid(rf: int, n_in: int, n_out: int) -> int:
    """The valid reuse factor closest to ``rf`` (the smaller one on a tie; ``n_in`` is always valid)."""
    candidates = [f for f in range(1, n_in * n_out + 1) if is_valid(f, n_in, n_out)]
    return min(candidates, key=lambda f: (abs(f - rf), f))


def layer_sizes(layer) -> tuple[int, int] | None:
    """(n_in, n_out) of the dense product a conv or dense layer computes per output pixel, else None."""
    kind = type(layer).__name__
    if kind not in MULTIPLYING_LAYERS:
        return None
    shape = tuple(layer.kernel.shape)  # (k..., C_in, C_out) or (n_in, n_out); no copy of the weights
    return int(math.prod(shape[:-1])), int(shape[-1])


def valid_reuse_factors(model, config: dict) -> list[str]:
    """Set a valid ``ReuseFactor`` for every conv/dense layer of ``config["LayerName"]`` (in place), keeping
    what is valid; returns one line per layer that changed."""
    changed = []
    names = config.setdefault("LayerName", {})
    default = int(config.get("Model", {}).get("ReuseFactor", 1))
    for layer in model.layers:
        sizes = layer_sizes(layer)
        if sizes is None:
            continue
        layer_cfg = names.setdefault(layer.name, {})
        rf = int(layer_cfg.get("ReuseFactor", default))
        if not is_valid(rf, *sizes):
            fixed = nearest_valid(rf, *sizes)
            changed.append(f"{layer.name}: reuse factor {rf} is not valid for {sizes[0]} x {sizes[1]} multiplications; using {fixed}")
            rf = fixed
        layer_cfg["ReuseFactor"] = rf
    return changed
