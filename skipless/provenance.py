"""Where a result came from: git commit, tool versions, date, machine."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

# the code's own checkout (for its git commit), not where results go: that is the workspace
SOURCE_DIR = Path(__file__).resolve().parent.parent
TOOL_PACKAGES = ("tensorflow", "qkeras", "hls4ml", "numpy", "cocotb")


def git_commit(root: Path = SOURCE_DIR) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        # --no-optional-locks: `git status` otherwise takes .git/index.lock to refresh the index, and a
        # process killed in that moment (the crash tests kill -9 store writers) leaves it behind
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for pkg in TOOL_PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "absent"
    return versions


def machine() -> dict[str, str | int]:
    return {
        "host": platform.node(),
        "system": f"{platform.system()} {platform.release()}",
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count() or 0,
    }


def provenance() -> dict:
    return {
        "git_commit": git_commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "tools": tool_versions(),
        "machine": machine(),
    }
