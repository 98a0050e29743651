"""Shared pytest options and fixtures for verification/ and benchmarks/.

Options:
  --dataset NAME     dataset for tests that need real images (default: fashion_mnist, the embedded one)
  --data-dir DIR     where that dataset lives, if not in a default place
  --n-images N       images per hardware check (default 8; the slow tier raises it)
  --sim NAME         RTL simulator for co-simulation (verilator or icarus)
  --hls-dir DIR      where tests put hls4ml projects (default: build/hls-tests; cached by content hash)
  --run-slow         also run the nightly tier (tests marked `slow`); `-m slow` selects it too
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_addoption(parser):
    group = parser.getgroup("skipless")
    group.addoption("--dataset", default="fashion_mnist", help="dataset for tests using real images")
    group.addoption("--data-dir", default=None, help="folder holding the dataset files")
    group.addoption("--n-images", type=int, default=8, help="images per hardware check")
    group.addoption("--sim", default="verilator", choices=("verilator", "icarus"), help="RTL simulator")
    group.addoption("--hls-dir", default=None, help="folder for the tests' hls4ml projects")
    group.addoption("--run-slow", action="store_true", help="run the slow (nightly) tier too")


def pytest_collection_modifyitems(config, items):
    markexpr = config.getoption("-m") or ""
    if config.getoption("--run-slow") or "slow" in markexpr:
        return
    skip_slow = pytest.mark.skip(reason="slow (nightly) tier: run with --run-slow or -m slow, or `tox -e nightly`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def dataset(request):
    """The dataset named by --dataset, loaded once (a clear failure if it is missing)."""
    from skipless import data
    from skipless.errors import SkiplessError

    try:
        return data.load(request.config.getoption("--dataset"), request.config.getoption("--data-dir"))
    except SkiplessError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def n_images(request) -> int:
    return request.config.getoption("--n-images")


@pytest.fixture(scope="session")
def simulator(request) -> str:
    return request.config.getoption("--sim")


@pytest.fixture(scope="session")
def hls_dir(request):
    """Folder for the tests' hls4ml projects and RTL builds; kept between runs so that unchanged designs
    are not rebuilt. Under pytest-xdist each worker has its own subfolder, so that two workers never
    build the same design in the same place."""
    import os
    from pathlib import Path

    from skipless import workspace

    path = Path(request.config.getoption("--hls-dir") or workspace.current().build / "hls-tests")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        path = path / worker
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _private_results_store(request, tmp_path_factory, monkeypatch):
    """Verification tests write results (e.g. through `skipless synth`) into a private store, never into
    benchmarks/results/; the benchmarks (benchmarks/) write into the real one."""
    if "benchmarks" in request.node.path.parts:
        return
    store = tmp_path_factory.mktemp("results-store")
    monkeypatch.setenv("SKIPLESS_RESULTS_DIR", str(store / "runs"))
    monkeypatch.setenv("SKIPLESS_HISTORY_DB", str(store / "history.sqlite"))



@pytest.fixture(scope="session")
def build_of(dataset, hls_dir):
    """``build_of(variant)``: the typed Build (skipless.flow) of a variant, on its trained artifact from
    models/ when one exists for this dataset (first in order: .normal, then the grid's), else on seeded
    random weights; its project under the tests' hls folder."""
    from skipless import zoo
    from skipless.flow import Build

    def make(variant: str, **kw):
        trained = [a for a in zoo.trained_artifacts() if a.startswith(variant + ".")
                   and zoo.read_card(a).get("dataset") == dataset.name]
        design_id = sorted(trained, key=lambda a: (not a.endswith(".normal"), a))[0] if trained else variant
        return Build(design_id, folder=hls_dir / design_id, dataset=dataset, log=lambda *a: None, **kw)

    return make
