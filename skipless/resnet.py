"""CIFAR-style ResNet-(6n+2) builder with a skip mode per block, float or QKeras-quantized.

He et al.'s CIFAR ResNet: a 3x3 stem conv with 16 channels, three stages of n basic blocks with
16/32/64 channels (the first block of stages 2 and 3 has stride 2), global average pooling and a
dense classifier. Where a skip changes shape it is a 1x1 projection conv (as Tailor and the MLPerf
Tiny ResNet-8 do).

Skip modes per block:

* ``keep``:    x -> conv-BN-ReLU -> conv-BN -> (+ x) -> ReLU            (one long skip)
* ``remove``:  x -> conv-BN-ReLU -> conv-BN -> ReLU                     (no skip)
* ``shorten``: x -> conv-BN -> (+ x) -> ReLU -> conv-BN -> (+ .) -> ReLU (Tailor: two short skips)

Two graphs are built from the same names:

* the *training* graph keeps BatchNorm: ``Conv2D`` + ``BatchNormalization`` (float) or QKeras
  ``QConv2DBatchnorm`` (quantized: BN folded into the kernel *before* the kernel quantizer, so the
  quantizer sees the weights the hardware will hold);
* the *hardware* graph (``folded=True``) has no BatchNorm: plain ``Conv2D``/``QConv2D`` with bias.
  :func:`skipless.fold.fold_batchnorm` moves a training model's weights into it.

In quantized builds every tensor that crosses a layer boundary has an explicit quantizer: the input,
each ReLU (``quantized_relu``), each conv output that feeds an Add, each Add (through the ReLU that
follows it) and the pooled features; so hls4ml's ``bit_exact=True`` conversion applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from skipless.errors import SkiplessError
from skipless.quant import QuantSpec, get_spec, quantizer, relu_quantizer

SKIP_MODES = ("keep", "remove", "shorten")
DEPTHS = (8, 20, 32, 44, 56, 110)
STAGE_CHANNELS = (16, 32, 64)
# BatchNorm's moving statistics follow the batch statistics with this momentum (PyTorch's 0.1
# update rate, as in Tailor's training); Keras' 0.99 leaves short runs with stale statistics.
BN_MOMENTUM = 0.9


MAX_DEPTH = 1202  # the deepest CIFAR ResNet in He et al.; deeper ids are refused before anything is built


def blocks_per_stage(depth: int) -> int:
    if depth < 8 or (depth - 2) % 6:
        raise SkiplessError(f"ResNet depth must be 6n+2 with n >= 1 (8, 20, 32, 44, 56, 110...), got {depth}")
    if depth > MAX_DEPTH:
        raise SkiplessError(f"ResNet depth {depth} is above {MAX_DEPTH}, the deepest CIFAR ResNet (He et al.): use a smaller depth")
    return (depth - 2) // 6


def block_skip_modes(depth: int, skip: str | Sequence[str]) -> list[str]:
    """Expand a skip mode (one for all blocks) or a per-block list into one mode per block."""
    nblocks = 3 * blocks_per_stage(depth)
    modes = [skip] * nblocks if isinstance(skip, str) else list(skip)
    if len(modes) != nblocks:
        raise SkiplessError(f"ResNet-{depth} has {nblocks} blocks, but {len(modes)} skip modes were given")
    for m in modes:
        if m not in SKIP_MODES:
            raise SkiplessError(f"unknown skip mode {m!r}: use one of {', '.join(SKIP_MODES)}")
    return modes


def block_name(stage: int, block: int) -> str:
    return f"s{stage + 1}b{block + 1}"


# Gate values of the gated ("universal") block per skip mode: (first short skip, second short skip, long skip)
GATES = {"keep": (0.0, 0.0, 1.0), "remove": (0.0, 0.0, 0.0), "shorten": (1.0, 1.0, 0.0)}


def gated_add_class():
    """The GatedAdd layer class (built on first use, so that importing this module needs no TensorFlow)."""
    global _GATED_ADD
    if _GATED_ADD is None:
        import tensorflow as tf

        class GatedAdd(tf.keras.layers.Layer):
            """``inputs[0] + sum(gate_i * inputs[i+1])`` with non-trainable gates (1 = skip present).

            Flipping a gate during training removes or adds a skip without rebuilding the model, so the
            optimizer (momentum slots, iteration count, schedule) carries on.
            """

            def __init__(self, gates=(1.0,), **kwargs):
                super().__init__(**kwargs)
                self.initial_gates = [float(g) for g in gates]

            def build(self, input_shape):
                self.gates = self.add_weight(
                    name="gates",
                    shape=(len(self.initial_gates),),
                    initializer=tf.keras.initializers.Constant(self.initial_gates),
                    trainable=False,
                )

            def call(self, inputs):
                out = inputs[0]
                for i, branch in enumerate(inputs[1:]):
                    out = out + self.gates[i] * branch
                return out

            def get_config(self):
                return {**super().get_config(), "gates": self.initial_gates}

        _GATED_ADD = GatedAdd
    return _GATED_ADD


_GATED_ADD = None


@dataclass
class _Builder:
    spec: QuantSpec
    folded: bool
    weight_decay: float
    gated: bool = False

    def _reg(self):
        import tensorflow as tf

        return tf.keras.regularizers.l2(self.weight_decay) if self.weight_decay else None

    def conv(self, x, filters: int, kernel: int, stride: int, name: str):
        """A conv with its BatchNorm (training graph) or with a bias (hardware graph)."""
        from tensorflow.keras import layers

        common = dict(strides=stride, padding="same", kernel_initializer="he_normal", kernel_regularizer=self._reg())
        if self.spec.is_float:
            if self.folded:
                return layers.Conv2D(filters, kernel, use_bias=True, name=name, **common)(x)
            x = layers.Conv2D(filters, kernel, use_bias=False, name=name, **common)(x)
            return layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
        from qkeras import QConv2D, QConv2DBatchnorm

        quantizers = dict(kernel_quantizer=quantizer(self.spec.weight), bias_quantizer=quantizer(self.spec.bias))
        if self.folded:
            return QConv2D(filters, kernel, use_bias=True, name=name, **quantizers, **common)(x)
        return QConv2DBatchnorm(
            filters, kernel, use_bias=False, momentum=BN_MOMENTUM, name=name, **quantizers, **common
        )(x)

    def relu(self, x, name: str):
        from tensorflow.keras import layers

        if self.spec.is_float:
            return layers.ReLU(name=name)(x)
        from qkeras import QActivation

        return QActivation(relu_quantizer(self.spec.relu), name=name)(x)

    def signed(self, x, name: str, fixed=None):
        """Quantize a signed tensor at a layer boundary (no-op in float builds)."""
        if self.spec.is_float:
            return x
        from qkeras import QActivation

        return QActivation(quantizer(fixed or self.spec.signed), name=name)(x)

    def dense(self, x, units: int, name: str):
        from tensorflow.keras import layers

        if self.spec.is_float:
            return layers.Dense(units, name=name, kernel_regularizer=self._reg())(x)
        from qkeras import QDense

        return QDense(
            units,
            name=name,
            kernel_quantizer=quantizer(self.spec.weight),
            bias_quantizer=quantizer(self.spec.bias),
            kernel_regularizer=self._reg(),
        )(x)

    def shortcut(self, x, filters: int, stride: int, name: str):
        if stride == 1 and x.shape[-1] == filters:
            return x
        return self.signed(self.conv(x, filters, 1, stride, f"{name}_proj"), f"{name}_proj_q")

    def gated_block(self, x, filters: int, stride: int, mode: str, name: str):
        """Every skip of keep and shorten present, each behind a gate set from ``mode``."""
        gated_add = gated_add_class()
        g1, g2, g_long = GATES[mode]
        sc = self.shortcut(x, filters, stride, name)
        y = self.signed(self.conv(x, filters, 3, stride, f"{name}_conv1"), f"{name}_conv1_q")
        y = self.relu(gated_add(gates=[g1], name=f"{name}_add1")([y, sc]), f"{name}_relu1")
        z = self.signed(self.conv(y, filters, 3, 1, f"{name}_conv2"), f"{name}_conv2_q")
        z = gated_add(gates=[g2, g_long], name=f"{name}_add2")([z, y, sc])
        return self.relu(z, f"{name}_relu2")

    def block(self, x, filters: int, stride: int, mode: str, name: str):
        from tensorflow.keras import layers

        if self.gated:
            return self.gated_block(x, filters, stride, mode, name)
        if mode == "shorten":
            y = self.signed(self.conv(x, filters, 3, stride, f"{name}_conv1"), f"{name}_conv1_q")
            y = layers.Add(name=f"{name}_add1")([y, self.shortcut(x, filters, stride, name)])
            y = self.relu(y, f"{name}_relu1")
            z = self.signed(self.conv(y, filters, 3, 1, f"{name}_conv2"), f"{name}_conv2_q")
            z = layers.Add(name=f"{name}_add2")([z, y])
            return self.relu(z, f"{name}_relu2")
        y = self.relu(self.conv(x, filters, 3, stride, f"{name}_conv1"), f"{name}_relu1")
        y = self.conv(y, filters, 3, 1, f"{name}_conv2")
        if mode == "keep":
            y = self.signed(y, f"{name}_conv2_q")
            y = layers.Add(name=f"{name}_add")([y, self.shortcut(x, filters, stride, name)])
        return self.relu(y, f"{name}_relu2")


def build_resnet(
    depth: int,
    skip: str | Sequence[str] = "keep",
    quant: str | QuantSpec = "float",
    input_shape: tuple[int, int, int] = (32, 32, 1),
    num_classes: int = 10,
    folded: bool = False,
    weight_decay: float = 1e-4,
    name: str | None = None,
    gated: bool = False,
):
    """Build a ResNet-``depth`` Keras model whose output is the logits (no softmax).

    ``gated=True`` builds the training graph for iterative skip removal/shortening: every block holds
    all skips behind :class:`GatedAdd` gates set from its mode (see :mod:`skipless.train.skips`).
    """
    import tensorflow as tf
    from tensorflow.keras import layers

    n = blocks_per_stage(depth)
    modes = block_skip_modes(depth, skip)
    spec = get_spec(quant) if isinstance(quant, str) else quant
    if gated and folded:
        raise SkiplessError("a gated model is a training graph: export it (skipless.train.skips.export) before folding")
    b = _Builder(spec, folded, weight_decay, gated)

    inputs = tf.keras.Input(shape=tuple(input_shape), name="image")
    x = b.signed(inputs, "input_q", spec.input)
    x = b.relu(b.conv(x, STAGE_CHANNELS[0], 3, 1, "stem_conv"), "stem_relu")
    for s, filters in enumerate(STAGE_CHANNELS):
        for i in range(n):
            stride = 2 if (s > 0 and i == 0) else 1
            x = b.block(x, filters, stride, modes[s * n + i], block_name(s, i))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = b.signed(x, "gap_q")
    logits = b.dense(x, num_classes, "fc")
    return tf.keras.Model(inputs, logits, name=name or f"resnet{depth}")


@dataclass
class ResNetArch:
    """Everything that defines a ResNet's graph; stored in the model card, rebuilt from it."""

    depth: int
    skip_modes: list[str]
    quant: str
    input_shape: tuple[int, int, int] = (32, 32, 1)
    num_classes: int = 10
    weight_decay: float = 1e-4
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.skip_modes = block_skip_modes(self.depth, self.skip_modes)
        self.input_shape = tuple(int(d) for d in self.input_shape)
        get_spec(self.quant)

    @property
    def spec(self) -> QuantSpec:
        return get_spec(self.quant)

    def build(self, folded: bool = False, name: str | None = None, gated: bool = False):
        return build_resnet(
            self.depth,
            self.skip_modes,
            self.quant,
            self.input_shape,
            self.num_classes,
            folded=folded,
            weight_decay=self.weight_decay,
            name=name,
            gated=gated,
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ResNetArch:
        return cls(**d)


def count_adds(model) -> int:
    from tensorflow.keras import layers

    return sum(isinstance(layer, layers.Add) for layer in model.layers)


def count_macs(model) -> int:
    """Multiply-accumulates of one inference: convolutions and dense layers."""
    from tensorflow.keras import layers

    macs = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kh, kw = layer.kernel_size
            _, h, w, c_out = layer.output.shape
            macs += h * w * c_out * kh * kw * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            macs += layer.input.shape[-1] * layer.units
    return int(macs)
