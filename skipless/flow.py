"""The typed build: one design from a model to its results, step by step.

    build = Build("r8-skip-w8a8.normal")            # an artifact id, a variant id, or any QKeras model
    build.convert()                                  # hls4ml project   -> hls_projects/<id>/
    build.verify(n=100)                              # C-sim vs QKeras (w16a16: vs the integer reference) -> csim.json
    build.rtl()                                      # open RTL         -> hls_projects/<id>/rtl/
    build.cosim(n=50)                                # RTL vs QKeras    -> hls_projects/<id>/rtl/cosim.json
    build.synth("yosys")                             # resources        -> hls_projects/<id>/rtl/synth_yosys.json

Each step does its work through the stage's own API (:mod:`skipless.hls`, :mod:`skipless.rtl`,
:mod:`skipless.cosim`, :mod:`skipless.synth`), writes its artifact and its record whoever calls it
(the CLI, the demo, a test or a benchmark), and is cached by that stage (content hashes). Results go
to the workspace's results store when ``record=True``. Settings are typed (:class:`BuildSettings`);
no argparse Namespace reaches below the CLI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from skipless import workspace as workspace_mod
from skipless.errors import SkiplessError
from skipless.fileio import write_json
from skipless.hls.project import HLSSettings
from skipless.rtl.schedule import RTLSettings

CSIM_RECORD = "csim.json"
QKERAS, INTEGER = "qkeras", "integer"  # the two references a design is checked against (names in records)
REFERENCE_LABEL = {QKERAS: "QKeras", INTEGER: "the integer reference"}  # ... and in verdicts
COSIM_RESUME = "cosim_resume"  # finished chunks of a co-simulation still running (or killed)
COSIM_RECORD = "cosim.json"


@dataclass
class CosimSettings:
    """How a co-simulation streams images: simulator, seeded random input gaps and output
    back-pressure (on by default, so that every run exercises the handshakes), stall watchdog."""

    simulator: str = "verilator"
    seed: int = 0
    gap_prob: float = 0.2
    stall_prob: float = 0.3
    watchdog_cycles: int | None = None

    def __post_init__(self):
        for name in ("gap_prob", "stall_prob"):
            value = getattr(self, name)
            if not (0.0 <= value < 1.0):  # also refuses NaN
                raise SkiplessError(f"{name} must be in [0, 1), got {value}")


@dataclass
class BuildSettings:
    hls: HLSSettings = field(default_factory=HLSSettings)
    rtl: RTLSettings | None = None  # None: defaults, at the hls project's clock
    cosim: CosimSettings = field(default_factory=CosimSettings)
    dataset: str = "fashion_mnist"
    data_dir: str | None = None
    weight_seed: int = 0  # variant ids (no trained artifact) get seeded random weights


class Build:
    """One design's build: ``model_or_id`` is a trained artifact id (``r8-skip-w8a8.normal``), a variant id
    (``r20-noskip-w8a8``: seeded random weights, BN calibrated on real images) or a QKeras model (then
    ``design_id`` names it; default: the model's name)."""

    def __init__(self, model_or_id, settings: BuildSettings | None = None, workspace: workspace_mod.Workspace | None = None,
                 folder: Path | str | None = None, design_id: str | None = None, dataset=None, log=print):
        self.settings = settings or BuildSettings()
        self.workspace = workspace or workspace_mod.current()
        self.log = log
        self._given_model = None
        if isinstance(model_or_id, str):
            from skipless import zoo

            self.vid = zoo.parse_id(model_or_id)
            self.design_id = design_id or model_or_id
        else:
            self.vid = None
            self._given_model = model_or_id
            self.design_id = design_id or model_or_id.name
        self.folder = Path(folder) if folder is not None else self.workspace.project(self.design_id)
        self._dataset = dataset
        self._project = None
        self._design = None

    # ---------------------------------------------------------------- inputs

    @property
    def dataset(self):
        if self._dataset is None:
            from skipless import data

            self._dataset = data.load(self.settings.dataset, self.settings.data_dir)
        return self._dataset

    @cached_property
    def model(self):
        """The BN-folded hardware model that hls4ml converts and everything is compared with."""
        if self._given_model is not None:
            return self._given_model
        from skipless import zoo

        return zoo.hardware_model(str(self.vid), self.dataset, seed=self.settings.weight_seed)

    @property
    def source(self) -> dict:
        """Where the weights come from (recorded with the project; the vendor flow rebuilds from it)."""
        if self.vid is None:
            return {"id": self.design_id, "weights": "given", "model": self.model.name}
        trained = self.vid.method is not None
        return {"id": self.design_id, "dataset": self.settings.dataset, "weights": "trained" if trained else "random",
                "seed": None if trained else self.settings.weight_seed}

    def test_images(self, n: int | str) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` test images (normalized) and labels; ``n="all"`` is the whole test set."""
        ds = self.dataset
        count = check_count(n, len(ds.x_test))
        return ds.normalize(ds.x_test[:count]), ds.y_test[:count]

    def reference(self, x: np.ndarray) -> np.ndarray:
        """QKeras outputs (float64: exact fixed-point values)."""
        return self.model.predict(x, verbose=0, batch_size=256).astype(np.float64)

    def exact_reference(self, x: np.ndarray) -> tuple[np.ndarray, str]:
        """(what the C-simulation and the RTL must equal, its name): QKeras where it computes the
        fixed-point values exactly (:attr:`QuantSpec.qkeras_exact`), else skipless's integer model of the
        same arithmetic (``skipless.rtl.reference``, built from the project's hls4ml graph), named so in
        every record."""
        from skipless.quant import get_spec

        if self.vid is None or get_spec(self.vid.quant).qkeras_exact:
            return self.reference(x), QKERAS
        from skipless.rtl import reference

        self.log(f"{self.design_id}: {self.vid.quant} products do not fit float32, so QKeras is not exact: "
                 f"the design is checked against the integer reference")
        net = self.network
        return reference.predict(net, net.input.type.to_mantissa(x)), INTEGER

    @cached_property
    def network(self):
        """The integer network of the project's hls4ml graph (what the open RTL and the integer reference
        are made from)."""
        from skipless.rtl import network_of

        return network_of(self.graph())

    # ---------------------------------------------------------------- steps

    def convert(self):
        """The bit-exact hls4ml project (cached by content hash, files verified)."""
        if self._project is None:
            from skipless import hls

            project = hls.convert(self.model, self.folder, source=self.source, log=self.log, **self.settings.hls.to_dict())
            if not project.built:
                self.log(f"{self.design_id}: up to date in {project.path} (content hash {project.content_hash[:12]})")
            self._project = project
        return self._project

    def verify(self, n: int | str = 100, x: np.ndarray | None = None, y: np.ndarray | None = None, workers: int | None = None,
               progress=None):
        """C-simulation against the exact reference (QKeras, or the integer reference where QKeras' float32
        is not exact) on ``n`` test images (or ``x``); writes ``csim.json``."""
        from skipless import hls

        if x is None:
            x, y = self.test_images(n)
        project = self.convert()
        reference, against = self.exact_reference(x)
        start = time.time()
        result = hls.verify(self.model, project, x, workers=workers, progress=progress, reference=reference,
                            against=REFERENCE_LABEL[against])
        seconds = time.time() - start
        record = {"id": self.design_id, "images": len(x), "bit_exact_images": result.n_equal, "bit_exact": result.bit_exact,
                  "max_abs_diff": result.max_abs_diff, "seconds": round(seconds, 2), "content_hash": project.content_hash,
                  "reference": against}
        if against != QKERAS:  # how far QKeras' float32 is from the exact values: why it is not the reference
            qkeras = self.reference(x).reshape(result.csim_outputs.shape)
            record["qkeras_max_abs_diff"] = float(np.abs(result.csim_outputs - qkeras).max()) if len(x) else 0.0
        if y is not None:
            predicted = result.csim_outputs.reshape(len(x), -1).argmax(axis=1)
            record["accuracy"] = float((predicted == np.asarray(y)[: len(x)]).mean())
        if result.divergence is not None:
            record["divergence"] = str(result.divergence)
        write_json(self.folder / CSIM_RECORD, record)
        result.record = record
        return result

    def graph(self):
        """hls4ml's ModelGraph of the project (what the open RTL is generated from)."""
        from skipless import hls

        return hls.stock_model(self.model, self.convert())

    def rtl_settings(self) -> RTLSettings:
        base = self.settings.rtl or RTLSettings()
        return replace(base, clock_period_ns=self.settings.hls.clock_period, part=self.settings.hls.part)

    def rtl(self):
        """The open RTL in ``<project>/rtl/`` (written only when its content changed)."""
        if self._design is None:
            from skipless import rtl

            self._design = rtl.generate(self.graph(), self.folder / "rtl", self.rtl_settings(), log=self.log, design_id=self.design_id)
        return self._design

    def vendor_rtl(self):
        """The vendor HLS tool's RTL of the project (needs Vitis/Vivado HLS)."""
        from skipless.cosim.vendor import vendor_design

        return vendor_design(self.model, self.convert(), log=self.log)

    def cosim(self, n: int | str = 10, x: np.ndarray | None = None, y: np.ndarray | None = None,
              settings: CosimSettings | None = None, design=None, max_mismatches: int | None = None, progress=None,
              record: bool = False, **kw):
        """Co-simulate the RTL (open by default) against QKeras on ``n`` test images (or ``x``), comparing
        as it streams; writes ``cosim.json`` beside the design and, with ``record``, a ``cosim`` record
        (images checked in RTL, mismatches, hardware top-1, latency, interval) to the results store.
        Nothing is written when the simulation fails. Finished chunks wait in ``<design>/cosim_resume/``
        until the run ends, so the same call after a kill continues where it stopped."""
        from skipless import cosim
        from skipless.rtl.cost import plan_kind

        settings = settings or self.settings.cosim
        if x is None:
            x, y = self.test_images(n)
        design = design or self.rtl()
        reference, against = self.exact_reference(x)
        result = cosim.cosim(design, x, simulator=settings.simulator, seed=settings.seed, gap_prob=settings.gap_prob,
                             stall_prob=settings.stall_prob, watchdog_cycles=settings.watchdog_cycles, log=self.log,
                             expected=reference, max_mismatches=max_mismatches, progress=progress,
                             **{"resume_dir": design.path / COSIM_RESUME, **kw})
        checked = len(result.outputs)
        info = {"id": self.design_id, **result.summary(design.info["clock_period_ns"]),
                "bit_exact_images": checked - len(result.mismatches), "design_hash": design.content_hash,
                "flow": design.info.get("flow", "open"), "reference": against, "plan": plan_kind(design.info)}
        if result.mismatches:
            info["first_mismatch"] = result.mismatches[0]
        if y is not None:
            predicted = result.outputs.reshape(checked, -1).argmax(axis=1)
            info["accuracy"] = float((predicted == np.asarray(y)[:checked]).mean())
        write_json(design.path / COSIM_RECORD, info, indent=2)
        if record:
            from skipless.bench.store import make_record, plan_param, save

            # rtl_match is the fraction of images equal to QKeras (an agreement metric: any drop regresses);
            # the image count is part of the setting, so a 50-image and a test-set run are two results
            metrics = {"rtl_match": info["bit_exact_images"] / checked, "rtl_mismatches": len(result.mismatches),
                       "latency_cycles": info["latency_cycles"], "cycles_per_s": info["cycles_per_s"],
                       "images_per_s": info["images_per_s"]}
            if info["timing_clean"] and info["interval_cycles"] is not None:
                metrics["interval_cycles"] = info["interval_cycles"]
            if "accuracy" in info:
                metrics["rtl_accuracy"] = 100 * info["accuracy"]
            save(make_record(self.design_id, "cosim", metrics,
                             params={"simulator": settings.simulator, "bench": result.bench, "gap_prob": settings.gap_prob,
                                     "stall_prob": settings.stall_prob, "seed": settings.seed, "flow": info["flow"],
                                     "test_images": checked, "plan": plan_param(info["plan"])}))
        result.record = info
        result.bit_exact = not result.mismatches and checked == len(x)
        return result

    def synth(self, flow: str = "yosys", part: str | None = None, force: bool = False, timeout: float | None = None,
              record: bool = True) -> dict:
        """Synthesize (cached); the report is written beside the design and added to the results store."""
        if flow == "yosys":
            from skipless.parts import DEFAULT_PART
            from skipless.synth.yosys import yosys_synth

            report = yosys_synth(self.rtl().path, part or DEFAULT_PART, force=force, timeout=timeout, log=self.log)
        elif flow == "vendor":
            from skipless.synth.vendor import vendor_flow

            self.convert()
            report = vendor_flow(self.folder, part=part, force=force, log=self.log)
        else:
            raise SkiplessError(f"unknown synthesis flow {flow!r}: use yosys or vendor")
        if record:
            from skipless.bench.adapters import synth_record
            from skipless.bench.store import save

            save(synth_record(report))
        return report


def check_count(n: int | str, available: int) -> int:
    """An image count: a positive integer (at most ``available``) or ``"all"``."""
    if isinstance(n, str):
        if n.strip().lower() == "all":
            return available
        try:
            n = int(n)
        except ValueError:
            raise SkiplessError(f"--n takes a positive number of images or 'all', got {n!r}") from None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SkiplessError(f"--n must be at least 1 (or 'all' for the {available} test images), got {n!r}")
    if n > available:
        raise SkiplessError(f"--n {n} is more than the {available} test images: use --n all for the whole test set")
    return int(n)
