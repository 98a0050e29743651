"""QKeras test accuracy of every trained artifact's hardware model (quantized, BatchNorm folded).

One result record per artifact (kind "accuracy", case = its variant id, params method) goes to the
results store (benchmarks/results/runs/ and the history database); `skipless bench compare` checks
them against benchmarks/baselines/default.json. Test ids are the artifact ids, so
`pytest benchmarks -k r8` or `-k "noskip and w8a8"` select the obvious ones.
"""

import pytest

from skipless import zoo
from skipless.bench.store import make_record, save

ARTIFACTS = zoo.trained_artifacts()


@pytest.mark.parametrize(
    "artifact", ARTIFACTS or [pytest.param("none", marks=pytest.mark.skip(reason=f"no trained artifacts in {zoo.models_folder()}"))]
)
def test_hardware_model_test_accuracy(artifact, dataset):
    from skipless.train.loop import evaluate

    card = zoo.read_card(artifact)
    if card.get("dataset") != dataset.name:
        pytest.skip(f"{artifact} was trained on {card.get('dataset')}, not {dataset.name}: pass --dataset {card.get('dataset')}")
    model, card = zoo.load_hardware_model(artifact)
    vid = zoo.parse_id(artifact)
    n = len(dataset.x_test)
    accuracy = evaluate(model, dataset, dataset.x_test, dataset.y_test)
    record = make_record(
        vid.base,
        "accuracy",
        {"test_accuracy": round(100 * accuracy, 4)},
        params={"method": vid.method, "artifact": artifact, "dataset": dataset.name, "test_images": n},
        seed=card.get("training", {}).get("seed"),
    )
    path = save(record)
    print(f"\n{artifact}: hardware model {100 * accuracy:.2f}% on {n} {dataset.name} test images -> {path.name}")
    # Folding BatchNorm changes no output (verification/test_fold.py), so the hardware model must score
    # exactly what training measured on the same test set (up to the card's float rounding).
    assert accuracy == pytest.approx(card["metrics"]["test_accuracy"], abs=0.5 / n)
