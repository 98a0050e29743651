"""C-simulation throughput: skipless `csim` (a process per core) against stock hls4ml `predict`.

Both run the same compiled library on the same images, side by side in one run; the ratio is the
claim. Results go to benchmarks/results/csim_speed.json, and as a "csim" record (speeds, and the
fraction of images whose C-simulation equals QKeras exactly) to the results store.
"""

import os
import time

import numpy as np
import pytest

from skipless import hls, workspace, zoo
from skipless.bench.store import make_record, save, update_json_rows
from skipless.provenance import provenance

RESULTS = workspace.current().results / "csim_speed.json"


@pytest.mark.csim
@pytest.mark.parametrize("variant", ["r8-skip-w8a8", "r20-skip-w8a8"])
def test_csim_throughput_against_stock_predict(variant, dataset, hls_dir, n_images):
    n = max(n_images, 16)
    model, what = zoo.model_for_variant(variant, dataset)
    project = hls.convert(model, hls_dir / variant)
    stock_graph = hls.stock_model(model, project)
    x = np.ascontiguousarray(dataset.normalize(dataset.x_test[:n]), dtype=np.float64)

    start = time.perf_counter()
    stock = stock_graph.predict(x)
    stock_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = hls.csim(project, x)
    ours_s = time.perf_counter() - start

    np.testing.assert_array_equal(ours, stock)  # same answers, or the speed means nothing
    reference = np.asarray(model.predict(x.astype(np.float32), verbose=0), dtype=np.float64)
    equal = np.all(ours.reshape(n, -1) == reference.reshape(n, -1), axis=1)
    row = {
        "model": what,
        "images": n,
        "workers": os.cpu_count(),
        "stock_hls4ml_predict_images_per_s": round(n / stock_s, 3),
        "skipless_csim_images_per_s": round(n / ours_s, 3),
        "speedup": round(stock_s / ours_s, 2),
        "provenance": provenance(),
    }
    update_json_rows(RESULTS, variant, row)
    method = what[len(variant) + 1:] if what.startswith(variant + ".") else None  # None: random weights
    save(make_record(
        variant,
        "csim",
        {
            "csim_match": float(equal.mean()),
            "stock_predict_images_per_s": row["stock_hls4ml_predict_images_per_s"],
            "csim_images_per_s": row["skipless_csim_images_per_s"],
            "speedup": row["speedup"],
        },
        params={k: v for k, v in {
            "method": method, "model": what, "images": n, "workers": os.cpu_count(), "io_type": project.settings.io_type,
            "strategy": project.settings.strategy, "part": project.settings.part,
        }.items() if v is not None},
    ))
    print(f"\n{variant}: stock predict {row['stock_hls4ml_predict_images_per_s']} img/s, "
          f"skipless csim {row['skipless_csim_images_per_s']} img/s, x{row['speedup']}")
