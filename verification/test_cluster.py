"""The grid on Dask: a real LocalCluster of two worker processes trains a small grid cell in dependency
order, survives a worker killed in the middle of a run (the run starts again elsewhere and resumes
from its checkpoint), and the coordinator alone writes the history."""

import os
import signal
import sqlite3
import time

import pytest

from skipless import zoo
from skipless.errors import SkiplessError
from skipless.train import grid

from .test_data import write_fashion

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from skipless import data

    folder = tmp_path_factory.mktemp("fm")
    write_fashion(folder, n_train=160, n_test=40)
    return data.load("fashion_mnist", folder), folder


def test_unknown_cluster_and_missing_scheduler_are_one_line_errors():
    from skipless.cluster import ClusterSettings, connect

    with pytest.raises(SkiplessError, match="unknown cluster 'kubernetes': use local, tcp://HOST:PORT, or one of slurm"):
        connect(ClusterSettings("kubernetes"))
    with pytest.raises(SkiplessError, match="no Dask scheduler answers at tcp://127.0.0.1:9"):
        connect(ClusterSettings("tcp://127.0.0.1:9"))


def test_slurm_jobs_are_described_by_dask_jobqueue():
    """The Slurm cluster as dask-jobqueue writes its batch script (nothing is submitted here)."""
    import dask_jobqueue

    cluster = dask_jobqueue.SLURMCluster(cores=2, processes=1, memory="16GB", walltime="12:00:00", queue="gpu")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p gpu" in script and "#SBATCH -t 12:00:00" in script and "distributed.cli.dask_worker" in script


@pytest.mark.slow
def test_a_grid_cell_trains_on_a_local_cluster_and_survives_a_killed_worker(tiny_data, tmp_path, monkeypatch):
    from skipless import cluster

    ds, folder = tiny_data
    results, db = tmp_path / "runs", tmp_path / "history.sqlite"
    monkeypatch.setenv("SKIPLESS_RESULTS_DIR", str(results))
    monkeypatch.setenv("SKIPLESS_HISTORY_DB", str(db))
    models, ckpts = tmp_path / "models", tmp_path / "ckpt"
    # the float net, its QAT teacher and the teacher's iterative student: a chain of three dependencies
    cell = grid.select(grid.plan([8], ["w8a8"]), ["r8-skip-float.normal", "r8-skip-w8a8.qat", "r8-noskip-w8a8.iter-kept"])
    runs = grid.with_budget(cell, 2, batch_size=32, val_size=32)
    teacher = "r8-skip-w8a8.qat"
    with cluster.connect(cluster.ClusterSettings("local", workers=2)) as client:
        pids = client.run(os.getpid)  # worker address -> PID
        killed = {}

        def kill_the_teacher_once():
            """Wait until the teacher's run has written its first checkpoint, then SIGKILL its worker."""
            deadline = time.time() + 600
            while time.time() < deadline:
                processing = client.processing()
                for address, keys in processing.items():
                    if f"train-{teacher}" in keys and list((ckpts / teacher).glob("epoch-0001")):
                        os.kill(pids[address], signal.SIGKILL)
                        killed["address"] = address
                        return
                time.sleep(0.2)

        import threading

        watcher = threading.Thread(target=kill_the_teacher_once, daemon=True)
        watcher.start()
        trained = cluster.train_grid(client, runs, ("fashion_mnist", str(folder)), models, ckpts, results, log=lambda *a: None)
        watcher.join(timeout=5)
    assert killed, "the teacher's worker was not found running it"
    assert sorted(trained) == sorted(r.artifact for r in runs)
    for r in runs:
        card = zoo.read_card(r.artifact, models)
        assert card["complete"] and card["epochs_done"] == 2, r.artifact
    log = (ckpts / teacher / "train.log").read_text()
    assert log.count("== attempt at") == 2  # the killed run started again, on a live worker ...
    assert f"resumed from {ckpts / teacher} after epoch 1" in log  # ... from the checkpoint of its first epoch
    assert [row["epoch"] for row in zoo.read_card(teacher, models)["history"]] == [1, 2]
    # each task wrote its own record file; the coordinator put them all into the history
    from skipless.bench.store import load_results

    records = load_results(results)
    assert sorted(r["case"] for r in records if r["kind"] == "train") == sorted(r.artifact for r in runs)
    conn = sqlite3.connect(db)
    try:
        cases = {c for (c,) in conn.execute("SELECT DISTINCT case_id FROM results WHERE kind = 'train'")}
    finally:
        conn.close()
    assert cases == {r.artifact for r in runs}
