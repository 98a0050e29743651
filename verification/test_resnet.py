"""The ResNet builder: depths, skip modes, shapes, and a quantizer on every layer boundary."""

import numpy as np
import pytest
from tensorflow.keras import layers

from skipless.errors import SkiplessError
from skipless.resnet import DEPTHS, ResNetArch, block_skip_modes, build_resnet, count_adds, count_macs

ADDS_PER_BLOCK = {"keep": 1, "remove": 0, "shorten": 2}


TOKENS = {"keep": "skip", "remove": "noskip", "shorten": "short"}


@pytest.mark.parametrize(
    "depth, skip",
    [(d, m) for d in DEPTHS for m in TOKENS],
    ids=[f"r{d}-{t}-w8a8" for d in DEPTHS for t in TOKENS.values()],
)
def test_skip_additions_and_conv_count(depth, skip):
    model = build_resnet(depth, skip, "w8a8", folded=True)
    n = (depth - 2) // 6
    assert count_adds(model) == 3 * n * ADDS_PER_BLOCK[skip]
    convs = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    projections = 2 if skip != "remove" else 0  # 1x1 shortcut where stages 2 and 3 change shape
    assert len(convs) == 1 + 6 * n + projections
    assert model.output_shape == (None, 10)


def test_he_et_al_layer_structure_of_resnet20():
    model = build_resnet(20, "keep", "float", input_shape=(32, 32, 3))
    assert count_adds(model) == 9
    shapes = {layer.name: layer.output.shape[1:] for layer in model.layers}
    assert shapes["s1b3_relu2"] == (32, 32, 16)
    assert shapes["s2b1_relu2"] == (16, 16, 32)
    assert shapes["s3b3_relu2"] == (8, 8, 64)
    assert shapes["s2b1_proj"] == (16, 16, 32)
    # 0.27 M parameters, as in He et al.'s table for ResNet-20 (plus BN and projections)
    assert 265_000 < model.count_params() < 280_000


def test_noskip_variant_has_no_add_and_fewer_macs():
    keep = build_resnet(20, "keep", "w8a8", folded=True)
    remove = build_resnet(20, "remove", "w8a8", folded=True)
    assert not any(isinstance(layer, layers.Add) for layer in remove.layers)
    # the two 1x1 projections are the only MACs a skip adds
    assert count_macs(keep) - count_macs(remove) == 16 * 16 * 32 * 16 + 8 * 8 * 64 * 32


def test_per_block_override_list():
    modes = ["keep", "remove", "shorten"] * 3
    model = build_resnet(20, modes, "w8a8")
    assert count_adds(model) == 3 * (1 + 0 + 2)
    names = {layer.name for layer in model.layers}
    assert "s1b1_add" in names and "s1b2_add" not in names and "s1b3_add1" in names and "s1b3_add2" in names


@pytest.mark.parametrize(
    "depth, skip, message",
    [(21, "keep", "6n\\+2"), (2, "keep", "6n\\+2"), (8, "drop", "unknown skip mode"), (8, ["keep"] * 2, "3 blocks")],
)
def test_bad_arguments_are_clear_errors(depth, skip, message):
    with pytest.raises(SkiplessError, match=message):
        block_skip_modes(depth, skip)


def _producer(tensor):
    return tensor._keras_history.layer


@pytest.mark.parametrize("skip", ["keep", "remove", "shorten"])
@pytest.mark.parametrize("folded", [False, True], ids=["train", "hw"])
def test_every_layer_boundary_is_quantized(skip, folded):
    """Convs, Adds, pooling and the classifier only ever read tensors that a quantizer produced."""
    from qkeras import QActivation

    model = build_resnet(8, skip, "w4a4", folded=folded)
    consumers = (layers.Conv2D, layers.Add, layers.GlobalAveragePooling2D, layers.Dense)
    checked = 0
    for layer in model.layers:
        if isinstance(layer, consumers):
            inputs = layer.input if isinstance(layer.input, list) else [layer.input]
            for t in inputs:
                assert isinstance(_producer(t), QActivation), f"{layer.name} reads an unquantized {_producer(t).name}"
                checked += 1
        if isinstance(layer, (layers.Add, layers.GlobalAveragePooling2D)):
            for node in layer._outbound_nodes:
                assert isinstance(node.outbound_layer, QActivation), f"{layer.name} output is not quantized"
    assert checked > 0


def test_float_build_has_no_quantizers_and_trains_bn():
    model = build_resnet(8, "keep", "float")
    kinds = {type(layer).__name__ for layer in model.layers}
    assert "QActivation" not in kinds and "BatchNormalization" in kinds
    hw = build_resnet(8, "keep", "float", folded=True)
    assert "BatchNormalization" not in {type(layer).__name__ for layer in hw.layers}


def test_arch_roundtrip_through_dict():
    arch = ResNetArch(8, ["keep", "remove", "shorten"], "w6a8", (32, 32, 3), 10)
    again = ResNetArch.from_dict(arch.to_dict())
    assert again == arch
    x = np.zeros((1, 32, 32, 3), np.float32)
    assert again.build().predict(x, verbose=0).shape == (1, 10)
