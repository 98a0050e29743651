"""Is a trained network still alive? Every layer's outputs on real images: the share of zeros, how
many distinct values, and whether the output still depends on the image.

A network collapses when some layer gives the same output for every image: everything after it is a
constant, so it predicts one class (a quantized ReLU that is 0 or saturated everywhere also passes no
gradient, so training cannot bring it back). :func:`first_constant_layer` names that layer.
``skipless models activations ID`` prints the table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skipless.errors import SkiplessError


def layer_outputs(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output for images ``x`` (float64), by layer name."""
    import tensorflow as tf

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    probe = tf.keras.Model(model.inputs, [layer.output for layer in layers])
    outs = probe.predict(np.asarray(x, dtype=np.float32), verbose=0)
    if len(layers) == 1:
        outs = [outs]
    return {layer.name: np.asarray(o, dtype=np.float64) for layer, o in zip(layers, outs, strict=True)}


@dataclass
class LayerHealth:
    name: str
    kind: str  # the Keras layer class
    zero_share: float  # fraction of output values that are exactly 0
    distinct: int  # distinct output values over all images
    varies: bool  # whether any output value differs between two images

    def text(self) -> str:
        state = "" if self.varies else "  SAME FOR EVERY IMAGE"
        return f"{self.name:28s} {self.kind:22s} zeros {100 * self.zero_share:6.2f} %  distinct {self.distinct:7d}{state}"


def layer_health(model, x: np.ndarray, outs: dict[str, np.ndarray] | None = None) -> list[LayerHealth]:
    """One row per layer, in the model's order, on images ``x`` (at least two); ``outs``: their
    :func:`layer_outputs` where the caller has them already."""
    if len(x) < 2:
        raise SkiplessError("layer health needs at least two images to tell whether an output depends on the image")
    outs = layer_outputs(model, x) if outs is None else outs
    rows = []
    for layer in model.layers:
        if layer.name not in outs:
            continue
        o = outs[layer.name]
        rows.append(LayerHealth(layer.name, type(layer).__name__, float(np.mean(o == 0)), int(len(np.unique(o))),
                                bool(np.any(o != o[:1]))))
    return rows


def first_constant_layer(rows: list[LayerHealth]) -> LayerHealth | None:
    """The first layer whose output is the same for every image (None: the network still sees its input)."""
    return next((r for r in rows if not r.varies), None)
