"""hls4ml projects: bit-exact conversion, compilation for C-simulation, and a content-hash cache.

``convert(model, output_dir, ...)`` turns ANY QKeras model that passes :func:`check_model` into a
compiled hls4ml project with ``bit_exact=True`` (every fixed-point type derived from the QKeras
quantizers and weights). A project folder holds::

    skipless.yaml        the settings and the content hash (tracked in git under hls_projects/)
    hls4ml_prj/          the generated hls4ml project and its compiled C-simulation library (ignored)
    hls4ml_prj/skipless_build.json   what was built from which hash

A second ``convert`` of the same model (architecture + weights) with the same settings finds the
hash and does no work; any changed weight or setting rebuilds. The build record also holds the
SHA-256 of every generated file (sources, weights, the compiled library), and the cache is used only
if they all still match: a deleted or edited file rebuilds the project, and says which. One process
at a time converts into a folder (a lock; a second one waits, then finds the fresh build).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from skipless.errors import SkiplessError
from skipless.fileio import changed_files, exclusive, read_json, sha256_files, write_atomic, write_json
from skipless.hls.checks import check_model
from skipless.hls.reuse import valid_reuse_factors
from skipless.parts import DEFAULT_PART

BACKENDS = ("Vitis", "Vivado")
IO_TYPES = ("io_stream", "io_parallel")
STRATEGIES = ("Resource", "Latency")
SETTINGS_FILE = "skipless.yaml"
GENERATED_DIR = "hls4ml_prj"
BUILD_FILE = "skipless_build.json"


@dataclass
class HLSSettings:
    """hls4ml settings of one project. Defaults fit a Pynq-Z2 (xc7z020) at 150 MHz with streams."""

    backend: str = "Vitis"
    io_type: str = "io_stream"
    part: str = DEFAULT_PART
    clock_period: float = 6.667
    strategy: str = "Resource"
    reuse_factor: int = 16
    project_name: str = "myproject"
    # Extra hls4ml config merged over the generated one, e.g. {"LayerName": {"fc": {"ReuseFactor": 4}}}
    overrides: dict = field(default_factory=dict)

    def __post_init__(self):
        for value, allowed, what in (
            (self.backend, BACKENDS, "backend"),
            (self.io_type, IO_TYPES, "io_type"),
            (self.strategy, STRATEGIES, "strategy"),
        ):
            if value not in allowed:
                raise SkiplessError(f"unknown {what} {value!r}: use one of {', '.join(allowed)}")
        if self.reuse_factor < 1:
            raise SkiplessError(f"reuse_factor must be >= 1, got {self.reuse_factor}")
        if not math.isfinite(self.clock_period) or self.clock_period <= 0:
            raise SkiplessError(f"clock_period must be a finite number > 0 ns, got {self.clock_period}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class HLSProject:
    """A converted, compiled hls4ml project, ready for :func:`skipless.hls.csim`."""

    path: Path
    settings: HLSSettings
    content_hash: str
    lib_path: Path
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    precisions: dict  # layer name -> result type, e.g. {"fc": "fixed<19,8,TRN,WRAP,0>"}
    built: bool  # True when this call converted and compiled; False when the cache was used
    hls_model: object = None  # the hls4ml ModelGraph, when this process converted it

    @property
    def generated_dir(self) -> Path:
        return self.path / GENERATED_DIR

    @property
    def top_function(self) -> str:
        return f"{self.settings.project_name}_double"


def architecture(model) -> str:
    """The model's Keras JSON without the writer's ``keras_version`` and ``backend``: the same network is the
    same text under Keras 2.15.0 and tf_keras 2.15.1. Which of the two ``tf.keras`` is depends on the
    environment a process starts with: importing QKeras (tensorflow_model_optimization) sets
    ``TF_USE_LEGACY_KERAS=1`` too late for the importing process but early enough for its children, so a
    parent and the subprocess it starts differ by that version string alone (it made every cached hls
    project built by a subprocess look stale to its parent)."""
    spec = json.loads(model.to_json())
    for key in ("keras_version", "backend"):
        spec.pop(key, None)
    return json.dumps(spec, sort_keys=True)


def content_hash(model, settings: HLSSettings) -> str:
    """SHA-256 over the model's architecture, every weight's bytes, the settings and the hls4ml version."""
    import hls4ml

    h = hashlib.sha256()
    h.update(architecture(model).encode())
    for w in model.weights:
        h.update(w.name.encode())
        h.update(w.numpy().tobytes())
    h.update(json.dumps(settings.to_dict(), sort_keys=True).encode())
    h.update(hls4ml.__version__.encode())
    return h.hexdigest()


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _merge(out.get(k, {}), v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def hls_config(model, settings: HLSSettings, trace: bool = False, changes: list | None = None) -> dict:
    """hls4ml's per-layer config for ``model``, the overrides merged in, and every conv/dense layer given a
    reuse factor hls4ml can compile (the lines saying which changed are appended to ``changes``)."""
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(
        model, granularity="name", backend=settings.backend, default_reuse_factor=settings.reuse_factor
    )
    config["Model"]["Strategy"] = settings.strategy
    if trace:
        for layer_cfg in config.get("LayerName", {}).values():
            layer_cfg["Trace"] = True
    config = _merge(config, settings.overrides)
    lines = valid_reuse_factors(model, config)
    if changes is not None:
        changes.extend(lines)
    return config


def to_hls4ml(model, output_dir: Path, settings: HLSSettings, trace: bool = False, changes: list | None = None):
    """The hls4ml ModelGraph of ``model`` (bit-exact), written nowhere yet."""
    import hls4ml

    check_model(model, settings.io_type)
    return hls4ml.converters.convert_from_keras_model(
        model,
        output_dir=str(output_dir),
        project_name=settings.project_name,
        backend=settings.backend,
        io_type=settings.io_type,
        part=settings.part,
        clock_period=settings.clock_period,
        hls_config=hls_config(model, settings, trace, changes),
        bit_exact=True,
    )


def _read_build(path: Path) -> dict | None:
    build_file = path / GENERATED_DIR / BUILD_FILE
    if not build_file.exists():
        return None
    try:
        return read_json(build_file, "hls project build record")
    except SkiplessError:
        return None  # a torn or edited record: rebuild


def generated_files(generated: Path) -> list[Path]:
    """Every file of a generated project that its C-simulation depends on (the build record aside)."""
    return [p for p in generated.rglob("*") if p.is_file() and p.name != BUILD_FILE]


def stale_files(path: Path, build: dict) -> list[str]:
    """The generated files that are missing or no longer match the build record (empty: the cache is good).
    A project built in another folder is stale as a whole: hls4ml's compiled library reads its weight
    files from the absolute path it was built in (a workspace copied, moved, or restored from a CI cache
    elsewhere would load another folder's weights, or die on missing ones)."""
    if "files" not in build:
        return ["(a build record without file hashes)"]
    built_in = Path(build["lib_path"]).parent.parent
    if built_in != (path / GENERATED_DIR).resolve():
        return [f"(built in {built_in}, whose absolute paths its library holds)"]
    return changed_files(build["files"], path / GENERATED_DIR)


def _project_from_build(path: Path, settings: HLSSettings, build: dict, built: bool, hls_model=None) -> HLSProject:
    return HLSProject(
        path=path,
        settings=settings,
        content_hash=build["content_hash"],
        lib_path=Path(build["lib_path"]),
        input_shape=tuple(build["input_shape"]),
        output_shape=tuple(build["output_shape"]),
        precisions=build["precisions"],
        built=built,
        hls_model=hls_model,
    )


def convert(model, output_dir, source: dict | None = None, log=print, **settings) -> HLSProject:
    """Convert and compile ``model`` into ``output_dir`` (cached by content hash); returns the project.

    ``settings`` are :class:`HLSSettings` fields: backend, io_type, part, clock_period, strategy,
    reuse_factor, project_name, overrides. ``source`` (e.g. the artifact id) goes into skipless.yaml.
    """
    settings = HLSSettings(**settings)
    path = Path(output_dir)
    digest = content_hash(model, settings)
    check_model(model, settings.io_type)  # before anything is written
    created = not path.exists()
    try:
        with exclusive(path, "hls project", wait=True):
            build = _read_build(path)
            if build and build.get("content_hash") == digest:
                stale = stale_files(path, build)
                if not stale:
                    return _project_from_build(path, settings, build, built=False)
                log(f"{path}: generated files changed since the build ({', '.join(stale[:5])}); rebuilding the project")
            return _build(model, path, digest, settings, source, log)
    except BaseException:
        if created:  # nothing half-written stays behind
            shutil.rmtree(path, ignore_errors=True)
        raise


def _build(model, path: Path, digest: str, settings: HLSSettings, source: dict | None, log) -> HLSProject:
    start = time.time()
    generated = path / GENERATED_DIR
    if generated.exists():
        shutil.rmtree(generated)
    changes: list[str] = []
    try:
        hls_model = to_hls4ml(model, generated, settings, changes=changes)
        for line in changes:
            log(line)
        hls_model.compile()
    except SkiplessError:
        raise
    except Exception as e:  # hls4ml and g++ failures: keep the message, drop the deep traceback
        shutil.rmtree(generated, ignore_errors=True)
        raise SkiplessError(f"hls4ml could not convert/compile the model into {generated}: {type(e).__name__}: {e}") from e
    lib = Path(hls_model._top_function_lib._name)
    build = {
        "content_hash": digest,
        "lib_path": str(lib.resolve()),
        "input_shape": list(hls_model.get_input_variables()[0].shape),
        "output_shape": list(hls_model.get_output_variables()[0].shape),
        "precisions": {layer.name: str(layer.get_output_variable().type.precision) for layer in hls_model.get_layers()},
        "reuse_factor_changes": changes,
        "seconds": round(time.time() - start, 2),
        "files": sha256_files(generated_files(generated), generated),
    }
    write_json(generated / BUILD_FILE, build, indent=2)
    tracked = {"source": source or {"model": model.name}, "settings": settings.to_dict(), "content_hash": digest}
    write_atomic(path / SETTINGS_FILE, yaml.safe_dump(tracked, sort_keys=False))
    log(f"converted and compiled {model.name} into {generated} in {build['seconds']:.1f} s")
    return _project_from_build(path, settings, build, built=True, hls_model=hls_model)


def stock_model(model, project: HLSProject):
    """hls4ml's own ModelGraph for a built project with its compiled library loaded, so that hls4ml's
    ``predict`` runs as shipped (the baseline that :func:`skipless.hls.csim` is measured against)."""
    import ctypes

    if project.hls_model is not None:
        return project.hls_model
    graph = to_hls4ml(model, project.generated_dir, project.settings)
    graph._top_function_lib = ctypes.cdll.LoadLibrary(str(project.lib_path))
    project.hls_model = graph
    return graph
