"""hls4ml C-simulation must equal the QKeras reference bit for bit (marker `csim`).

Parametrized over the variant grid; test ids are variant ids, so `pytest verification -k r20` or
`-k "noskip and w4a4"` select the obvious cases. A trained artifact from models/ is used where one
exists for the variant, random weights (BN calibrated on real images) otherwise.

w16a16 is not in that grid: its 16x16-bit products accumulate past float32's 24-bit mantissa, so the
QKeras reference itself (computed in float32) is not exact there. A w16a16 design is checked against the
integer reference instead (`test_w16a16_csim_is_checked_against_the_integer_reference`).
"""

import itertools

import numpy as np
import pytest

from skipless import hls, zoo
from skipless.data import edge_cases
from skipless.flow import INTEGER, Build

pytestmark = pytest.mark.csim

# the fast tier (CI, under 30 min on 2 cores): r8 in every skip mode at w8a8 and w4a4, and one r20
FAST = [f"r8-{s}-{q}" for s, q in itertools.product(("skip", "noskip", "short"), ("w8a8", "w4a4"))] + ["r20-skip-w8a8"]
SLOW = [
    f"r{d}-{s}-{q}"
    for d, s, q in itertools.product((8, 20, 32, 44, 56), ("skip", "noskip", "short"), ("w8a8", "w6a8", "w4a4"))
    if f"r{d}-{s}-{q}" not in FAST
]
CASES = FAST + [pytest.param(v, marks=pytest.mark.slow) for v in SLOW]


def csim_inputs(ds, n_images):
    """The first ``n_images`` real test images, then the edge cases."""
    return np.concatenate([ds.normalize(ds.x_test[:n_images]), edge_cases(ds.input_shape)])


@pytest.mark.parametrize("variant", CASES)
def test_csim_equals_qkeras(variant, dataset, n_images, hls_dir):
    model, what = zoo.model_for_variant(variant, dataset)
    project = hls.convert(model, hls_dir / variant, source={"id": what})
    x = csim_inputs(dataset, n_images)
    result = hls.verify(model, project, x)
    assert result.bit_exact, f"{what}: {result.summary()}"
    np.testing.assert_array_equal(result.csim_outputs, result.reference)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["r8-skip-w8a8", "r8-noskip-w8a8", "r20-skip-w8a8", "r20-noskip-w8a8"])
def test_csim_equals_qkeras_on_the_full_test_set(variant, dataset, hls_dir):
    model, what = zoo.model_for_variant(variant, dataset)
    project = hls.convert(model, hls_dir / variant, source={"id": what})
    result = hls.verify(model, project, dataset.normalize(dataset.x_test))
    assert result.bit_exact, f"{what}: {result.summary()}"


def test_pool_and_single_process_equal_stock_hls4ml_predict(dataset, hls_dir):
    model, _ = zoo.model_for_variant("r8-skip-w8a8", dataset)
    x = csim_inputs(dataset, 4)
    project = hls.convert(model, hls_dir / "r8-skip-w8a8")
    pooled = hls.csim(project, x, workers=2)
    single = hls.csim(project, x, workers=1)
    stock = hls.stock_model(model, project).predict(np.ascontiguousarray(x, dtype=np.float64))
    np.testing.assert_array_equal(pooled, single)
    np.testing.assert_array_equal(pooled, stock)


@pytest.mark.parametrize("planted", ["stem_relu", pytest.param("s2b1_relu1", marks=pytest.mark.slow),
                                     pytest.param("s3b1_relu2", marks=pytest.mark.slow)])
def test_mismatch_report_names_the_layer_with_the_planted_wrong_precision(planted, dataset, hls_dir):
    """A too-narrow result type on one layer: the report must name that layer, image and position."""
    model, _ = zoo.model_for_variant("r8-skip-w8a8", dataset)
    narrow = "ufixed<6,2>"  # the spec says ufixed<8,3>
    project = hls.convert(
        model, hls_dir / f"r8-skip-w8a8-planted-{planted}", overrides={"LayerName": {planted: {"Precision": {"result": narrow}}}}
    )
    assert project.precisions[planted].startswith(narrow[:-1])
    result = hls.verify(model, project, csim_inputs(dataset, 4))
    assert not result.bit_exact
    d = result.divergence
    assert d is not None and d.layer == planted, result.summary()
    assert d.hls_value != d.keras_value
    assert f"first divergent layer '{planted}'" in result.summary() and f"sample {d.sample}" in result.summary()


def test_w16a16_csim_is_checked_against_the_integer_reference(dataset, hls_dir):
    """QKeras computes w16a16 in float32 and misses the last bits, so the C-simulation is compared with
    the integer reference (skipless.rtl.reference, from the project's graph); a reference one LSB off on
    one output is caught and named."""
    build = Build("r8-noskip-w16a16", folder=hls_dir / "r8-noskip-w16a16", dataset=dataset, log=lambda *a: None)
    x = csim_inputs(dataset, 4)
    result = build.verify(x=x)
    assert result.record["reference"] == INTEGER and result.bit_exact, result.summary()
    assert "the integer reference" in result.summary()
    assert result.record["qkeras_max_abs_diff"] > 0  # why QKeras is not the reference here
    np.testing.assert_array_equal(result.csim_outputs, build.exact_reference(x)[0].reshape(result.csim_outputs.shape))
    planted = result.reference.copy().reshape(len(x), -1)
    planted[1, 3] += 2.0 ** -build.network.output.type.frac
    bad = hls.verify(build.model, build.convert(), x, reference=planted, against="the integer reference")
    assert bad.n_equal == len(x) - 1 and not bad.bit_exact
    assert bad.summary().startswith(f"MISMATCH: {len(x) - 1}/{len(x)} images equal to the integer reference")
