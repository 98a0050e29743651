"""A non-editable install: the wheel in a fresh virtualenv works from any folder and never writes into
site-packages (the workspace is the current folder, or $SKIPLESS_HOME).

The fresh venv gets skipless from a wheel built from this checkout, and the heavy dependencies
(TensorFlow, hls4ml, ...) from the running environment through a ``.pth`` path entry: adding a folder
that way puts it on ``sys.path`` without running its ``.pth`` files, so this checkout's editable
install stays out of the fresh venv.
"""

import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, its python, its site-packages) with the skipless wheel installed, not editable."""
    tmp = tmp_path_factory.mktemp("install")
    wheel_dir = tmp / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"pip wheel failed: {proc.stderr[-2000:]}", pytrace=False)
    [wheel] = wheel_dir.glob("skipless-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    # the running environment's packages (TensorFlow, hls4ml, pip, ...) without their .pth files
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (purelib / "_skipless_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    proc = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(purelib),
                           str(wheel)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"installing the wheel failed: {proc.stderr[-2000:]}", pytrace=False)
    # the console script the wheel declares (pip --target does not write scripts): call the entry point
    script = venv / "bin" / "skipless"
    script.write_text(f"#!{python}\nimport sys\nfrom skipless.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return venv, python, purelib


def _run(cmd, cwd, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("SKIPLESS_")}
    full.update(env)
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600, env=full)


def test_the_wheel_is_imported_from_site_packages_with_its_verilog_library(installed, tmp_path):
    venv, python, purelib = installed
    proc = _run([str(python), "-c", "import skipless, skipless.rtl.design as d; print(skipless.__file__); "
                 "print(len(d.library_text()))"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    where, size = proc.stdout.split()
    assert Path(where).is_relative_to(purelib), where  # not this checkout: the editable install is not visible
    assert int(size) > 1000  # skipless_lib.v is package data of the wheel


def test_an_installed_skipless_uses_the_current_folder_not_site_packages(installed, tmp_path):
    venv, python, purelib = installed
    empty = tmp_path / "empty"
    empty.mkdir()
    before = sorted(p.relative_to(purelib) for p in purelib.rglob("*") if "__pycache__" not in p.parts)
    proc = _run([str(venv / "bin" / "skipless"), "models", "list", "--trained"], empty)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert str(empty / "models") in proc.stdout, proc.stdout
    proc = _run([str(python), "-c", "from skipless import workspace; print(workspace.current().root)"], empty)
    assert Path(proc.stdout.strip()) == empty.resolve()
    home = tmp_path / "home"
    proc = _run([str(python), "-c", "from skipless import workspace; print(workspace.current().models)"], empty,
                SKIPLESS_HOME=str(home))
    assert Path(proc.stdout.strip()) == home.resolve() / "models"
    # a step that writes: a results record lands in the workspace, nothing in site-packages
    proc = _run([str(python), "-c", "from skipless.bench.store import make_record, save; "
                 "print(save(make_record('r8-skip-w8a8', 'accuracy', {'test_accuracy': 90.0})))"], empty)
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).is_relative_to(empty.resolve() / "benchmarks" / "results" / "runs")
    after = sorted(p.relative_to(purelib) for p in purelib.rglob("*") if "__pycache__" not in p.parts)
    assert after == before


@pytest.mark.slow
def test_the_demo_runs_from_an_empty_folder_with_the_wheel(installed, tmp_path):
    """``pip install .`` then ``skipless demo`` in an empty folder (a short demo: 1 epoch on 2 000 images)."""
    venv, python, purelib = installed
    empty = tmp_path / "demo"
    empty.mkdir()
    proc = _run([str(venv / "bin" / "skipless"), "demo", "--epochs", "1", "--limit", "2000", "--n", "10", "--n-cosim", "3"],
                empty)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "bit-exact" in proc.stdout
    assert (empty / "runs" / "demo" / "models").is_dir()
    assert not any(p.name == "runs" for p in purelib.iterdir())
