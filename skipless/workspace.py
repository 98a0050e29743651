"""Where skipless keeps its files: one :class:`Workspace` object for every path.

A workspace is a folder laid out like this repository::

    models/                     trained artifacts (<id>.h5 + <id>.json)
    hls_projects/<id>/          hls4ml projects and their open RTL
    runs/                       training checkpoints, the grid's checkpoints, the demo's output
    build/                      scratch builds (the tests' hls projects)
    benchmarks/results/         result records (runs/), the SQLite history, tables
    benchmarks/baselines/       committed baselines
    benchmarks/reports/latest/  the rendered report

Which folder is the workspace, first match wins:

1. an explicit one: ``skipless --workspace DIR`` or :func:`use`;
2. ``$SKIPLESS_HOME``;
3. the skipless project the current directory is in (a folder up the tree holding a
   ``pyproject.toml`` of the project ``skipless``, or a ``.skipless`` marker file);
4. the current directory itself.

It is looked up when asked for, never at import time, so an installed skipless (``pip install
skipless``, not editable) works from any folder and never writes into site-packages.
``$SKIPLESS_RESULTS_DIR`` and ``$SKIPLESS_HISTORY_DB`` still move the result store alone (the tests
give each run a private one).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

MARKER = ".skipless"
_explicit: Path | None = None


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def hls_projects(self) -> Path:
        return self.root / "hls_projects"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def results(self) -> Path:
        return self.root / "benchmarks" / "results"

    @property
    def result_records(self) -> Path:
        env = os.environ.get("SKIPLESS_RESULTS_DIR")
        return Path(env) if env else self.results / "runs"

    @property
    def history_db(self) -> Path:
        env = os.environ.get("SKIPLESS_HISTORY_DB")
        return Path(env) if env else self.results / "history.sqlite"

    @property
    def baselines(self) -> Path:
        return self.root / "benchmarks" / "baselines"

    @property
    def reports(self) -> Path:
        return self.root / "benchmarks" / "reports" / "latest"

    def project(self, design_id: str) -> Path:
        """The folder of one design's hls4ml project (and its ``rtl/``)."""
        return self.hls_projects / design_id

    def fitted_project(self, design_id: str) -> Path:
        """The folder of one design planned by the fit planner (``rtl --fit``), apart from its default plan's."""
        return self.hls_projects / "fit" / design_id


def _is_project(folder: Path) -> bool:
    if (folder / MARKER).exists():
        return True
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        text = pyproject.read_text()
    except OSError:
        return False
    return re.search(r'^name\s*=\s*"skipless"\s*$', text, re.MULTILINE) is not None


def find_root(start: Path | None = None) -> Path:
    """The workspace folder for ``start`` (default: the current directory), per the rules above."""
    if _explicit is not None:
        return _explicit
    env = os.environ.get("SKIPLESS_HOME")
    if env:
        return Path(env).expanduser().resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_project(folder):
            return folder
    return here


def current() -> Workspace:
    return Workspace(find_root())


def use(root: Path | str | None) -> None:
    """Make ``root`` the workspace of this process (None: back to the lookup rules)."""
    global _explicit
    _explicit = Path(root).expanduser().resolve() if root is not None else None
