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
    "QConv1D",
    "QDepthwiseConv2D",
    "QSeparableConv2D",
    "QDense",
    "Add",
    "Concatenate",
    "GlobalAveragePooling2D",
    "AveragePooling2D",
    "MaxPooling2D",
    "Flatten",
)
WEIGHT_QUANTIZERS = {  # the quantizers each weighted layer must have
    "QConv1D": ("kernel_quantizer",), "QConv2D": ("kernel_quantizer",), "QDense": ("kernel_quantizer",),
    "QDepthwiseConv2D": ("depthwise_quantizer",), "QSeparableConv2D": ("depthwise_quantizer", "pointwise_quantizer"),
}
RESERVED_NAMES = {"input": "image", "output": "logits"}  # hls4ml's reserved names -> a suggested new name
NEEDS_QUANTIZED_OUTPUT = ("Add", "GlobalAveragePooling2D", "AveragePooling2D")
# weight quantizers hls4ml 1.3's bit-exact flow gets wrong, measured on a QDense: quantized_po2 and
# quantized_bits(alpha="auto_po2") do not compile ("Failed to compile project"); binary, stochastic_binary
# and quantized_bits(alpha="auto") compile but their C-simulation differs from QKeras. (ternary and
# stochastic_ternary were exact.) QKeras 0.9's quantized_bits without alpha means alpha="auto_po2".
BAD_WEIGHT_QUANTIZERS = {"quantized_po2": "does not compile", "binary": "is not bit-exact",
                         "stochastic_binary": "is not bit-exact"}
BAD_ALPHAS = {"auto_po2": "does not compile", "auto": "is not bit-exact"}
# activation quantizers hls4ml 1.3 converts bit-exactly (measured on a QConv2D -> QActivation -> Flatten -> QDense
# model: quantized_tanh and quantized_sigmoid become hard activations, binary its binary_tanh)
EXACT_ACTIVATIONS = ("quantized_bits", "quantized_relu", "quantized_tanh", "quantized_sigmoid", "binary")
# what to use instead of a float function (a Keras Activation, or QActivation('tanh')): QKeras computes
# it in floating point, which no fixed-point design reproduces bit for bit
FLOAT_ACTIVATION_ADVICE = {
    "relu": "quantized_relu(bits, integer)", "linear": "quantized_bits(bits, integer, alpha=1)",
    "tanh": "quantized_tanh(bits)", "sigmoid": "quantized_sigmoid(bits)", "hard_sigmoid": "quantized_sigmoid(bits)",
    "softmax": "nothing: leave softmax out of the hardware model (the largest logit is the same class)",
}


def _weight_quantizer_problem(layer) -> str | None:
    """Why hls4ml's bit-exact flow cannot compile this layer's kernel or bias quantizer, or None."""
    for what in ("kernel", "depthwise", "pointwise", "bias"):
        q = getattr(layer, f"{what}_quantizer_internal", None)
        if q is None:
            continue
        name = type(q).__name__
        if name in BAD_WEIGHT_QUANTIZERS:
            return f"its {what}_quantizer {name} {BAD_WEIGHT_QUANTIZERS[name]} in hls4ml's bit-exact flow"
        alpha = getattr(q, "alpha", None)
        if isinstance(alpha, str):  # a scale per channel, outside the fixed-point type
            why = BAD_ALPHAS.get(alpha, "is not supported")
            default = " (QKeras' default when alpha is not given)" if alpha == "auto_po2" else ""
            return f"its {what}_quantizer {name}(alpha={alpha!r}){default} {why} in hls4ml's bit-exact flow"
    return None


def _float_activation_advice(name: str) -> str:
    advice = FLOAT_ACTIVATION_ADVICE.get(name, "one of the QKeras quantizers " + ", ".join(EXACT_ACTIVATIONS))
    return advice if advice.startswith("nothing") else f"QActivation({advice})"


def _activation_problem(layer) -> str | None:
    """Why hls4ml's bit-exact flow cannot reproduce this QActivation's QKeras output, or None."""
    q = layer.quantizer
    if not hasattr(q, "get_config"):  # a float function, e.g. QActivation("sigmoid")
        name = getattr(q, "__name__", str(q))
        return (f"its activation {name!r} is a float function that hls4ml's QKeras converter does not take "
                f"(it fails with 'Unsupported QKeras activation'): use {_float_activation_advice(name)}")
    name = type(q).__name__
    function = name.removeprefix("quantized_")  # tanh, sigmoid
    if name in ("quantized_tanh", "quantized_sigmoid") and getattr(q, f"use_real_{function}", False):
        return (f"{name}(use_real_{function}=True) is not bit-exact in hls4ml's flow: hls4ml computes it from a "
                f"lookup table, QKeras from the real function (measured: outputs differ by up to 0.037 on a 6-bit "
                f"{name}); drop use_real_{function} (hls4ml then builds QKeras' hard {function}, exact)")
    if name == "ternary":
        return ("a ternary activation does not compile in hls4ml 1.3's bit-exact flow (measured: 'Failed to compile "
                "project'); use binary(alpha=1), or quantized_bits(2, integer, alpha=1) for a signed 2-bit activation")
    if name == "binary" and (getattr(q, "use_01", False) or getattr(q, "alpha", None) not in (None, 1, 1.0)):
        return ("binary(use_01=True) or binary(alpha != 1) is not bit-exact in hls4ml's flow: its binary_tanh always gives "
                "-1 or +1; use binary(alpha=1)")
    if name not in EXACT_ACTIVATIONS:
        return f"its activation quantizer {name} is not one hls4ml converts bit-exactly; use one of {', '.join(EXACT_ACTIVATIONS)}"
    return None


def _consumers(layer) -> list:
    return [node.outbound_layer for node in layer._outbound_nodes]


def _check_stream_pooling(layer) -> None:
    """hls4ml 1.3's io_stream pooling asserts a stride equal to the pool size and no padding (measured: the
    C-simulation aborts on ``Assertion `CONFIG_T::pool_height == CONFIG_T::stride_height ...' failed``)."""
    pool, strides = tuple(layer.pool_size), tuple(layer.strides)
    if pool != strides:
        raise SkiplessError(f"layer {layer.name!r} ({type(layer).__name__}): pool size {pool} with strides {strides}; hls4ml's "
                            "io_stream pooling needs strides equal to the pool size (its C-simulation aborts otherwise): "
                            "set strides=pool_size, or convert with io_type='io_parallel' (C-simulation only)")
    if layer.padding != "valid":
        raise SkiplessError(f"layer {layer.name!r} ({type(layer).__name__}): padding={layer.padding!r}; hls4ml's io_stream pooling "
                            "has no padding (its C-simulation aborts otherwise): use padding='valid'")


def check_model(model, io_type: str = "io_stream") -> None:
    """Raise :class:`SkiplessError` naming the first layer that bit-exact conversion cannot handle
    (with ``io_type``: what hls4ml's streaming templates cannot compute)."""
    kinds = [type(layer).__name__ for layer in model.layers]
    if "InputLayer" not in kinds and model.layers and kinds[0] != "QActivation":
        # a Sequential model lists no InputLayer: its first layer reads the input
        raise SkiplessError(
            f"the input of {model.name!r} is not quantized: its first layer {model.layers[0].name!r} ({kinds[0]}) reads "
            "it directly; put QActivation(quantized_bits(...)) first so that hls4ml gives the input a fixed-point type"
        )
    if all(kind in ("InputLayer", "QActivation") for kind in kinds):
        raise SkiplessError(
            f"model {model.name!r} has no layer but QActivation: hls4ml's bit-exact flow cannot compile a model that "
            "only quantizes its input (measured: 'Failed to compile project'); verify the model that uses it"
        )
    for layer in model.layers:
        kind = type(layer).__name__
        if layer.name in RESERVED_NAMES:
            raise SkiplessError(f"layer {layer.name!r}: hls4ml reserves this name; rename the layer "
                                f"(e.g. {RESERVED_NAMES[layer.name]!r})")
        if kind in ("BatchNormalization", "QBatchNormalization", "QConv2DBatchnorm", "QDepthwiseConv2DBatchnorm"):
            raise SkiplessError(
                f"layer {layer.name!r} ({kind}): BatchNorm must be folded into the layer before it for bit-exact "
                "conversion: scale that layer's kernel by gamma/sqrt(var+eps) and shift its bias, then quantize "
                "(a skipless ResNet does this with skipless.fold.fold_batchnorm(model, arch), a trained artifact "
                "with zoo.load_hardware_model)"
            )
        if kind in ("Conv1D", "Conv2D", "Dense", "DepthwiseConv2D", "SeparableConv2D"):
            raise SkiplessError(
                f"layer {layer.name!r} is a float {kind}: bit-exact conversion needs the QKeras Q{kind} "
                "with kernel_quantizer and bias_quantizer"
            )
        if kind == "Activation":
            name = getattr(layer.activation, "__name__", str(layer.activation))
            raise SkiplessError(f"layer {layer.name!r} (Activation {name!r}) computes a float function, which no fixed-point "
                                f"design matches bit for bit: use {_float_activation_advice(name)}")
        if kind == "QActivation":
            problem = _activation_problem(layer)
            if problem:
                raise SkiplessError(f"layer {layer.name!r} (QActivation): {problem}")
        if kind not in SUPPORTED:
            raise SkiplessError(
                f"layer {layer.name!r} of type {kind} is not supported by skipless' bit-exact flow "
                f"(supported: {', '.join(SUPPORTED)})"
            )
        if kind in ("QDepthwiseConv2D", "QSeparableConv2D") and int(getattr(layer, "depth_multiplier", 1)) != 1:
            raise SkiplessError(f"layer {layer.name!r} ({kind}): depth_multiplier={layer.depth_multiplier}; hls4ml 1.3 cannot convert "
                                "it (measured: 'operands could not be broadcast together'): use depth_multiplier=1 and a "
                                "1x1 convolution after it for more channels")
        if kind in ("AveragePooling2D", "MaxPooling2D") and io_type == "io_stream":
            _check_stream_pooling(layer)
        for what in WEIGHT_QUANTIZERS.get(kind, ()):
            if getattr(layer, what, None) is None:
                raise SkiplessError(f"layer {layer.name!r} ({kind}) has no {what}; give it one, e.g. quantized_bits(8, 1, alpha=1)")
        problem = _weight_quantizer_problem(layer) if kind in WEIGHT_QUANTIZERS else None
        if problem:
            raise SkiplessError(
                f"layer {layer.name!r} ({kind}): {problem}; use quantized_bits(bits, integer, alpha=1) (or ternary)"
            )
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
