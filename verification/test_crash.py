"""Crash safety, tested by killing real processes with SIGKILL at random moments, and concurrent writers.

After every kill the next run must either reuse what is complete or redo what is not; nothing half
written may ever be used:

* the results store and its SQLite history (every record file parses, the history is consistent, no
  record is lost by two processes writing at once): fast tier;
* a training run's checkpoints and its artifact, an hls4ml project cache, a Verilator build folder:
  slow tier, ``KILLS`` kills in a row each (``$SKIPLESS_KILLS`` overrides, for a quick look).

The kill moments are drawn from a seeded generator, over the span the work takes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

KILLS = int(os.environ.get("SKIPLESS_KILLS", "20"))
ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKIPLESS_")}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", SKIPLESS_HOME=str(tmp_path / "ws"), **extra)
    return env


def _start(script: str, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill_after(proc: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL the process (and its children: the C++ compiler, the simulator) after ``seconds``;
    returns True when it had already finished by itself."""
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return False


def _finish(proc: subprocess.Popen, timeout: float = 1800) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


# ---------------------------------------------------------------- the results store (fast tier)

WRITER = """
    import sys
    from skipless.bench.store import make_record, save
    tag, count = sys.argv[1] if len(sys.argv) > 1 else "{tag}", {count}
    for i in range(count):
        save(make_record(f"{tag}-case{{i}}", "accuracy", {{"test_accuracy": float(i)}}, params={{"method": "normal"}}))
    print("done")
"""


def _store_state(ws: Path) -> tuple[list[dict], list[tuple]]:
    from skipless.bench.store import load_results

    records = load_results(ws / "benchmarks" / "results" / "runs")
    db = ws / "benchmarks" / "results" / "history.sqlite"
    if not db.exists():
        return records, []
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT case_id, run_id, value FROM results").fetchall()
    finally:
        conn.close()
    return records, rows


def test_the_results_store_survives_kill_9_at_random_moments(tmp_path):
    """A writer saving records is killed KILLS times; every record file that exists parses, and every
    history row has its record file (the history never holds what the store does not)."""
    rng = np.random.default_rng(1)
    env = _env(tmp_path)
    (tmp_path / "ws").mkdir()
    for kill in range(KILLS):
        proc = _start(WRITER.format(tag=f"k{kill}", count=400), env, tmp_path)
        _kill_after(proc, float(rng.uniform(0.3, 3.0)))
        records, rows = _store_state(tmp_path / "ws")
        files = {(r["case"], r["run_id"]) for r in records}
        assert {(case, run) for case, run, _ in rows} <= files, f"kill {kill}: history rows without a record file"
        assert all(r["metrics"]["test_accuracy"] == float(r["case"].rsplit("case", 1)[1]) for r in records)
    # the store still takes records after all that
    _finish(_start(WRITER.format(tag="after", count=3), env, tmp_path))
    records, rows = _store_state(tmp_path / "ws")
    assert {f"after-case{i}" for i in range(3)} <= {r["case"] for r in records} & {c for c, _, _ in rows}


def test_reading_the_git_commit_never_locks_or_rewrites_the_index(tmp_path):
    """Every record reads the checkout's commit and dirty state. A plain `git status` refreshes a stale
    index under .git/index.lock, so a writer killed in that moment (above) left the lock in the
    developer's checkout and every later git command failed; provenance must only read."""
    from skipless.provenance import git_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                       env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t"})

    git("init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git("add", "a.txt")
    git("commit", "-qm", "one")
    os.utime(tmp_path / "a.txt", (time.time() + 5, time.time() + 5))  # stat data stale: status would refresh
    index = tmp_path / ".git" / "index"
    before = index.stat().st_mtime_ns, index.read_bytes()
    assert git_commit(tmp_path).endswith("-dirty") is False
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before


def test_two_writers_at_once_lose_no_record(tmp_path):
    """Two processes (two benchmarks, two `bench ingest`s) saving into one store at the same time."""
    env = _env(tmp_path)
    (tmp_path / "ws").mkdir()
    procs = [_start(WRITER.format(tag=tag, count=60), env, tmp_path) for tag in ("a", "b")]
    for proc in procs:
        _finish(proc, timeout=600)
    records, rows = _store_state(tmp_path / "ws")
    want = {f"{tag}-case{i}" for tag in ("a", "b") for i in range(60)}
    assert {r["case"] for r in records} == want and len(records) == 120
    assert {c for c, _, _ in rows} == want and len(rows) == 120


# ---------------------------------------------------------------- training checkpoints and artifacts (slow)


@pytest.mark.slow
def test_training_survives_kill_9_at_random_moments(tmp_path):
    """`skipless train ... --resume` killed KILLS times at random moments (inside epochs, checkpoint
    writes and the artifact's save), then run to the end: it resumes from the last good checkpoint
    every time, the artifact is never half-written, and the finished run has every epoch."""
    from skipless import zoo

    rng = np.random.default_rng(2)
    env = _env(tmp_path)
    models = tmp_path / "ws" / "models"
    cmd = ["r8-skip-float", "--epochs", "4", "--limit", "768", "--val-size", "128", "--batch-size", "64", "--resume",
           "--checkpoint-dir", str(tmp_path / "ckpt"), "--models-dir", str(models)]
    script = f"import sys; from skipless.cli import main; sys.exit(main(['train', *{cmd!r}]))"
    start = time.time()
    _finish(_start(script, env, tmp_path))  # one whole run: how long the work takes
    span = time.time() - start
    for path in models.glob("*"):
        path.unlink()
    for _kill in range(KILLS):
        proc = _start(script, env, tmp_path)
        finished = _kill_after(proc, float(rng.uniform(0.1, 1.0) * span))
        out = proc.stdout.read()
        assert "Traceback" not in out, out[-3000:]
        if finished:
            assert proc.returncode == 0, out[-3000:]
        if (models / "r8-skip-float.normal.h5").exists() or (models / "r8-skip-float.normal.json").exists():
            zoo.load_artifact("r8-skip-float.normal", models)  # complete, or not there at all
    out = _finish(_start(script, env, tmp_path))
    card = zoo.read_card("r8-skip-float.normal", models)
    assert card["complete"] and [row["epoch"] for row in card["history"]] == [1, 2, 3, 4], out[-2000:]
    zoo.load_artifact("r8-skip-float.normal", models)


# ---------------------------------------------------------------- the hls4ml project cache (slow)

CONVERT = """
    import tensorflow as tf
    from skipless import hls
    from verification.test_cosim import outside_qkeras_model
    tf.keras.utils.set_random_seed(0)
    project = hls.convert(outside_qkeras_model(), {folder!r}, log=lambda *a: None)
    print("built" if project.built else "cached", flush=True)
"""


@pytest.mark.slow
def test_the_hls_project_cache_survives_kill_9_at_random_moments(tmp_path):
    """`convert` killed KILLS times (while writing the project, compiling, stamping the cache); then a
    run to the end gives a project whose C-simulation equals QKeras, and a second run reuses it."""
    import tensorflow as tf

    from skipless import hls

    from .test_cosim import outside_qkeras_model

    rng = np.random.default_rng(3)
    env = _env(tmp_path)
    folder = tmp_path / "project"
    script = CONVERT.format(folder=str(folder))
    start = time.time()
    _finish(_start(script, env, ROOT))
    span = time.time() - start
    import shutil

    shutil.rmtree(folder)
    for _ in range(KILLS):
        proc = _start(script, env, ROOT)
        _kill_after(proc, float(rng.uniform(0.2, 1.0) * span))
        out = proc.stdout.read()
        assert "Traceback" not in out, out[-3000:]
    assert _finish(_start(script, env, ROOT)).strip().splitlines()[-1] in ("built", "cached")
    assert _finish(_start(script, env, ROOT)).strip().splitlines()[-1] == "cached"
    tf.keras.utils.set_random_seed(0)
    model = outside_qkeras_model()
    project = hls.convert(model, folder, log=lambda *a: None)
    assert not project.built  # the file hashes match: reused
    x = np.random.default_rng(3).uniform(-3, 3, (4, 10, 10, 2))
    assert hls.verify(model, project, x).bit_exact


# ---------------------------------------------------------------- a Verilator build folder (slow)

COSIM = """
    import numpy as np
    from skipless import cosim
    from skipless.rtl.design import RTLDesign
    design = RTLDesign.load({design!r})
    x = np.load({inputs!r})
    result = cosim.cosim(design, x, log=lambda *a: None)
    np.save({out!r}, result.outputs)
    print("ok", flush=True)
"""


@pytest.mark.slow
def test_a_verilator_build_survives_kill_9_at_random_moments(tmp_path):
    """`cosim` killed KILLS times while Verilator builds (verilating, compiling, linking) or runs; the
    next run never uses a half-built simulator: the outputs stay equal to the integer reference."""
    from skipless import cosim, rtl
    from skipless.rtl import reference

    from .rtl_networks import residual_block

    if cosim.available("verilator"):
        pytest.skip(cosim.available("verilator"))
    rng = np.random.default_rng(4)
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "design", top="unit", log=lambda *a: None)
    x = rng.uniform(-4, 4, (3, *net.input.shape))
    np.save(tmp_path / "x.npy", x)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    script = COSIM.format(design=str(design.path), inputs=str(tmp_path / "x.npy"), out=str(tmp_path / "y.npy"))
    env = _env(tmp_path)
    start = time.time()
    _finish(_start(script, env, ROOT))
    span = time.time() - start
    import shutil

    for build in design.path.glob("sim_*"):
        shutil.rmtree(build) if build.is_dir() else build.unlink()
    for kill in range(KILLS):
        (tmp_path / "y.npy").unlink(missing_ok=True)
        proc = _start(script, env, ROOT)
        finished = _kill_after(proc, float(rng.uniform(0.05, 1.0) * span))
        out = proc.stdout.read()
        assert "Traceback" not in out, out[-3000:]
        if finished:
            got = np.load(tmp_path / "y.npy")
            np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"after kill {kill}")
    _finish(_start(script, env, ROOT))
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy").reshape(want.shape), want)
    json.loads((next(design.path.glob("sim_verilator_hdl")) / "skipless_build.json").read_text())


# ---------------------------------------------------------------- a shared simulator build (fast tier)


def test_two_cosims_of_one_design_share_one_build_and_a_damaged_build_is_redone(tmp_path):
    """Two co-simulations of one design started together take turns on its build folder and both come
    out exact; a torn build stamp or a deleted simulator binary makes the next run rebuild."""
    from skipless import cosim, rtl
    from skipless.rtl import reference

    from .rtl_networks import residual_block

    if cosim.available("verilator"):
        pytest.skip(cosim.available("verilator"))
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "design", top="unit", log=lambda *a: None)
    x = np.random.default_rng(6).uniform(-4, 4, (2, *net.input.shape))
    np.save(tmp_path / "x.npy", x)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    env = _env(tmp_path)
    procs = [_start(COSIM.format(design=str(design.path), inputs=str(tmp_path / "x.npy"), out=str(tmp_path / f"y{i}.npy")),
                    env, ROOT) for i in range(2)]
    for proc in procs:
        _finish(proc, timeout=1200)
    for i in range(2):
        np.testing.assert_array_equal(np.load(tmp_path / f"y{i}.npy").reshape(want.shape), want)
    build_dir = design.path / "sim_verilator_hdl"
    for damage in ("torn stamp", "binary deleted"):
        if damage == "torn stamp":
            (build_dir / "skipless_build.json").write_text('{"sources": {"unit.v"')
        else:
            (build_dir / "skl_tb").unlink()
        logs = []
        result = cosim.cosim(design, x, log=logs.append)
        np.testing.assert_array_equal(result.outputs.reshape(want.shape), want, err_msg=damage)
        assert (build_dir / "skl_tb").is_file(), damage
        if damage == "torn stamp":
            assert any(line.startswith("built unit for verilator") for line in logs), logs
