"""Bit-exactness check and mismatch diagnosis: where does the C-simulation leave the QKeras reference?

:func:`verify` runs the C-simulation and the QKeras model (or a given exact reference) on the same
images and demands exact equality. When they differ, :func:`first_divergence` recompiles the project with hls4ml's layer
tracing into a sibling folder, runs the first mismatching image through it and through the QKeras
model layer by layer, and names the first layer (in hls4ml's graph order) whose outputs differ, with
the position and both values.

A layer *diverges* when its hls4ml output is not the QKeras output written in that layer's hls4ml
type. (hls4ml may give an accumulator fewer fraction bits than float32 carries when the layer after
it needs no more, e.g. ``fixed<11,7,TRN>`` ahead of a ``TRN`` activation: such a layer is faithful,
and the divergence shows where the values really part.) hls4ml's ``<layer>_linear`` nodes are
compared with the QKeras ``QActivation`` that follows ``<layer>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skipless.errors import SkiplessError
from skipless.fixed import FixedType
from skipless.hls.csim import csim
from skipless.hls.project import HLSProject, to_hls4ml
from skipless.train.health import layer_outputs


@dataclass
class Divergence:
    layer: str
    sample: int
    position: tuple[int, ...]
    hls_value: float
    keras_value: float
    n_different: int

    def __str__(self) -> str:
        return (
            f"first divergent layer {self.layer!r}: sample {self.sample}, position {self.position}: "
            f"hls4ml {self.hls_value!r} vs QKeras {self.keras_value!r} ({self.n_different} values differ in that layer)"
        )


@dataclass
class Verification:
    n_images: int
    n_equal: int
    max_abs_diff: float
    csim_outputs: np.ndarray
    reference: np.ndarray
    divergence: Divergence | None = None
    against: str = "QKeras"  # what the outputs were compared with

    @property
    def bit_exact(self) -> bool:
        return self.n_equal == self.n_images

    def summary(self) -> str:
        if self.bit_exact:
            return f"bit-exact: {self.n_images}/{self.n_images} images, every output equal to {self.against}"
        text = f"MISMATCH: {self.n_equal}/{self.n_images} images equal to {self.against}, max |diff| {self.max_abs_diff:g}"
        return text + (f"; {self.divergence}" if self.divergence else "")


def in_hls_type(values: np.ndarray, precision: str) -> np.ndarray | None:
    """``values`` written in an hls4ml fixed-point type (quantization and overflow modes applied);
    ``None`` for types this check does not model (not fixed-point, or wider than 62 bits)."""
    try:
        return FixedType.parse(precision).quantize(values)
    except SkiplessError:
        return None


def _keras_counterpart(model, hls_name: str) -> str | None:
    names = {layer.name for layer in model.layers}
    if hls_name in names:
        return hls_name
    if hls_name.endswith("_linear") and hls_name[: -len("_linear")] in names:
        producer = model.get_layer(hls_name[: -len("_linear")])
        consumers = [node.outbound_layer for node in producer._outbound_nodes]
        if len(consumers) == 1 and type(consumers[0]).__name__ == "QActivation":
            return consumers[0].name
    return None


def first_divergence(model, project: HLSProject, x: np.ndarray, sample: int) -> Divergence | None:
    """Trace image ``sample`` through hls4ml and QKeras; the first layer in hls4ml's order that differs."""
    trace_model = to_hls4ml(model, project.path / "trace_prj", project.settings, trace=True)
    image = np.ascontiguousarray(x[sample : sample + 1], dtype=np.float64)
    _, traces = trace_model.trace(image)
    keras_outs = layer_outputs(model, image)
    for layer in trace_model.get_layers():
        keras_name = _keras_counterpart(model, layer.name)
        if layer.name not in traces or keras_name is None:
            continue
        hls_out = np.asarray(traces[layer.name][0], dtype=np.float64).reshape(-1)
        ref = keras_outs[keras_name][0].reshape(-1)
        if hls_out.shape != ref.shape:
            continue
        expected = in_hls_type(ref, str(layer.get_output_variable().type.precision))
        diff = np.nonzero(hls_out != (ref if expected is None else expected))[0]
        if len(diff):
            i = int(diff[0])
            position = np.unravel_index(i, keras_outs[keras_name][0].shape)
            return Divergence(layer.name, sample, tuple(int(p) for p in position), float(hls_out[i]), float(ref[i]), len(diff))
    return None


def verify(model, project: HLSProject, x: np.ndarray, workers: int | None = None, diagnose: bool = True,
           progress=None, reference: np.ndarray | None = None, against: str = "QKeras") -> Verification:
    """C-simulate ``x`` and compare every output, exactly, with ``reference`` (what ``against`` names),
    by default ``model``'s QKeras outputs. The layer-by-layer diagnosis traces QKeras, so it runs only
    when QKeras is the reference (not against the integer reference, where QKeras' float32 is not exact)."""
    outputs = csim(project, x, workers=workers, progress=progress)
    if reference is None:
        reference = np.asarray(model.predict(np.asarray(x, dtype=np.float32), verbose=0), dtype=np.float64)
    diagnose = diagnose and against == "QKeras"
    equal = np.all(outputs.reshape(len(x), -1) == reference.reshape(len(x), -1), axis=1)
    result = Verification(
        n_images=len(x),
        n_equal=int(equal.sum()),
        max_abs_diff=float(np.abs(outputs - reference.reshape(outputs.shape)).max()) if len(x) else 0.0,
        csim_outputs=outputs,
        reference=reference,
        against=against,
    )
    if diagnose and not result.bit_exact:
        result.divergence = first_divergence(model, project, x, int(np.argmin(equal)))
    return result
