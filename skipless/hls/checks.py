"""What a model must look like before hls4ml's bit-exact conversion: named, actionable errors.

Bit-exactness needs an explicit fixed-point type on every tensor that crosses a layer boundary, so:

* no BatchNorm in the graph (fold it: :func:`skipless.fold.fold_batchnorm`);
* every conv/dense layer is a QKeras layer with a kernel quantizer;
* the input is quantized by a ``QActivation`` right after the input layer;
* each Add and pooling output goes through a ``QActivation`` before anything else reads it;
* only layers that skipless verifies (listed in :data:`SUPPORTED`) appear.
"""

from __future__ import annotations

from skipless.errors import SkiplessError

SUPPORTED = (
    "InputLayer",
    "QActivation",
    "QConv2D",
    "QDense",
    "Add",
    "GlobalAveragePooling2D",
    "AveragePooling2D",
    "MaxPooling2D",
    "Flatten",
)
RESERVED_NAMES = ("input", "output")
NEEDS_QUANTIZED_OUTPUT = ("Add", "GlobalAveragePooling2D", "AveragePooling2D")


def _consumers(layer) -> list:
    return [node.outbound_layer for node in layer._outbound_nodes]


def check_model(model) -> None:
    """Raise :class:`SkiplessError` naming the first layer that bit-exact conversion cannot handle."""
    for layer in model.layers:
        kind = type(layer).__name__
        if layer.name in RESERVED_NAMES:
            raise SkiplessError(f"layer {layer.name!r}: hls4ml reserves this name; rename the layer (e.g. 'image')")
        if kind in ("BatchNormalization", "QBatchNormalization", "QConv2DBatchnorm", "QDepthwiseConv2DBatchnorm"):
            raise SkiplessError(
                f"layer {layer.name!r} ({kind}): BatchNorm must be folded into the convolution before conversion "
                "(skipless.fold.fold_batchnorm, or zoo.load_hardware_model for trained artifacts)"
            )
        if kind in ("Conv2D", "Dense", "DepthwiseConv2D"):
            raise SkiplessError(
                f"layer {layer.name!r} is a float {kind}: bit-exact conversion needs the QKeras Q{kind} "
                "with kernel_quantizer and bias_quantizer"
            )
        if kind not in SUPPORTED:
            raise SkiplessError(
                f"layer {layer.name!r} of type {kind} is not supported by skipless' bit-exact flow "
                f"(supported: {', '.join(SUPPORTED)})"
            )
        if kind in ("QConv2D", "QDense") and layer.kernel_quantizer is None:
            raise SkiplessError(f"layer {layer.name!r} ({kind}) has no kernel_quantizer; give it one, e.g. quantized_bits(8, 1)")
        if kind == "InputLayer":
            after = _consumers(layer)
            if not after or any(type(c).__name__ != "QActivation" for c in after):
                raise SkiplessError(
                    f"input {layer.name!r} is not quantized: put QActivation(quantized_bits(...)) right after the input "
                    "so that hls4ml gives it a fixed-point type"
                )
        if kind in NEEDS_QUANTIZED_OUTPUT:
            for consumer in _consumers(layer):
                if type(consumer).__name__ != "QActivation":
                    raise SkiplessError(
                        f"the output of {layer.name!r} ({kind}) goes to {consumer.name!r} unquantized: put a "
                        "QActivation(quantized_bits(...)) (or quantized_relu) after it"
                    )
