"""Variant ids, the variant grid, and model artifacts (``<id>.h5`` + ``<id>.json`` model card).

A variant id is ``r{depth}-{skip}-{quant}``: ``skip`` is ``skip`` (keep every skip), ``noskip``
(remove them) or ``short`` (Tailor's shortened skips); ``quant`` is a spec of :mod:`skipless.quant`.
A trained artifact adds its training method: ``r20-noskip-w8a8.kd``.

Artifacts are ``<id>.h5`` + ``<id>.json``: Keras 2.15's ``.keras`` loader never returns on these
graphs (it loops in ``reconstruct_from_config``; seen for float and QKeras builds alike), while HDF5
round-trips them exactly.

The artifact holds the *training* graph (with BatchNorm), so that it can be trained further or serve
as a teacher; :func:`load_hardware_model` folds it into the BN-free graph hls4ml converts.
Saving is atomic and the card records the SHA-256 of the model file, so a half-written or swapped
file is caught at load time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from skipless import workspace
from skipless.errors import SkiplessError
from skipless.provenance import provenance
from skipless.quant import NAMED_SPECS, get_spec
from skipless.resnet import DEPTHS, ResNetArch, block_skip_modes

SKIP_TOKENS = {"skip": "keep", "noskip": "remove", "short": "shorten"}
GRID_QUANTS = tuple(NAMED_SPECS)
CARD_VERSION = 2  # 2: the card carries card_sha256 (version 1 cards, without it, still load)

_ID = re.compile(r"^r(\d+)-([a-z]+)-([a-z0-9]+)(?:\.([a-z0-9_-]+))?$")


@dataclass(frozen=True)
class VariantId:
    depth: int
    skip: str  # token: skip / noskip / short
    quant: str
    method: str | None = None

    @property
    def base(self) -> str:
        return f"r{self.depth}-{self.skip}-{self.quant}"

    def __str__(self) -> str:
        return self.base + (f".{self.method}" if self.method else "")

    @property
    def skip_mode(self) -> str:
        return SKIP_TOKENS[self.skip]

    def arch(self, input_shape=(32, 32, 1), num_classes: int = 10) -> ResNetArch:
        return ResNetArch(self.depth, self.skip_mode, self.quant, tuple(input_shape), num_classes)


def parse_id(text: str) -> VariantId:
    m = _ID.match(text.strip())
    if not m:
        raise SkiplessError(
            f"not a variant id: {text!r}. Ids look like r20-skip-w8a8, r20-noskip-w8a8 or r56-short-w16a16, "
            "with an optional training method: r20-noskip-w8a8.kd"
        )
    depth, skip, quant, method = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if skip not in SKIP_TOKENS:
        raise SkiplessError(f"{text}: unknown skip setting {skip!r}; use one of {', '.join(SKIP_TOKENS)}")
    block_skip_modes(depth, "keep")  # validates the depth
    get_spec(quant)  # validates the quant spec
    return VariantId(depth, skip, quant, method)


def variant_grid(depths=DEPTHS, skips=tuple(SKIP_TOKENS), quants=GRID_QUANTS) -> list[VariantId]:
    return [VariantId(d, s, q) for d, s, q in itertools.product(depths, skips, quants)]


# ---------------------------------------------------------------- artifacts


def custom_objects() -> dict:
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    return objects


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def models_folder(models_dir: Path | str | None = None) -> Path:
    """``models_dir``, or the workspace's models/ (looked up at call time)."""
    return Path(models_dir) if models_dir is not None else workspace.current().models


def artifact_paths(artifact_id: str, models_dir: Path | None = None) -> tuple[Path, Path]:
    models_dir = models_folder(models_dir)
    return models_dir / f"{artifact_id}.h5", models_dir / f"{artifact_id}.json"


def card_digest(card: dict) -> str:
    """SHA-256 of a card's content, its own ``card_sha256`` field left out."""
    body = {k: v for k, v in card.items() if k != "card_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _remove_stale_temps(models_dir: Path, artifact_id: str) -> None:
    """Temporary folders of earlier saves of this artifact whose process died (kill -9 mid-save)."""
    for tmp in models_dir.glob(f".{artifact_id}.*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_artifact(model, card: dict, models_dir: Path | None = None) -> Path:
    """Write ``<id>.h5`` and its card atomically; the card gains the model hash, provenance and its own hash."""
    from skipless.fileio import writable_dir

    artifact_id = card["id"]
    parse_id(artifact_id)
    models_dir = writable_dir(models_folder(models_dir), "models")
    _remove_stale_temps(models_dir, artifact_id)
    model_path, card_path = artifact_paths(artifact_id, models_dir)
    tmp = models_dir / f".{artifact_id}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        tmp_model = tmp / model_path.name
        model.save(tmp_model, include_optimizer=False)
        card = {**card, "card_version": CARD_VERSION, "model_file": model_path.name, "model_sha256": _sha256(tmp_model)}
        card.setdefault("provenance", provenance())
        card["card_sha256"] = card_digest(card)
        tmp_card = tmp / card_path.name
        tmp_card.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        os.replace(tmp_model, model_path)
        os.replace(tmp_card, card_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model_path


def read_card(artifact_id: str, models_dir: Path | None = None) -> dict:
    _, card_path = artifact_paths(artifact_id, models_dir)
    if not card_path.exists():
        raise SkiplessError(
            f"no model artifact {artifact_id!r} in {models_folder(models_dir)} (looked for {card_path.name}); "
            "train it with 'skipless train' or list what exists with 'skipless models list --trained'"
        )
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise SkiplessError(f"{card_path}: the model card is not valid JSON ({e}); re-save the artifact") from e
    for key in ("id", "arch", "model_sha256"):
        if key not in card:
            raise SkiplessError(f"{card_path}: the model card lacks {key!r}; re-save the artifact")
    if "card_sha256" in card and card["card_sha256"] != card_digest(card):
        raise SkiplessError(
            f"{card_path} was edited after the artifact was saved (its card_sha256 no longer matches): restore it "
            "(git checkout models/) or retrain the artifact"
        )
    return card


def load_artifact(artifact_id: str, models_dir: Path | None = None):
    """Load ``(training model, card)``, checking the file hash and that the model matches its card."""
    import tensorflow as tf

    models_dir = models_folder(models_dir)
    card = read_card(artifact_id, models_dir)
    model_path, card_path = artifact_paths(artifact_id, models_dir)
    if not model_path.exists():
        raise SkiplessError(f"{card_path} has no model file next to it ({model_path.name}); re-save the artifact")
    if _sha256(model_path) != card["model_sha256"]:
        raise SkiplessError(
            f"{model_path} does not match its model card (SHA-256 differs): the file is corrupt or was replaced. "
            "Restore it (git checkout models/) or retrain the artifact."
        )
    try:
        model = tf.keras.models.load_model(model_path, custom_objects=custom_objects(), compile=False)
    except Exception as e:  # Keras raises many types for a bad archive
        raise SkiplessError(f"{model_path}: Keras cannot load the model ({type(e).__name__}: {e})") from e
    check_matches_card(model, card)
    return model, card


def card_arch(card: dict) -> ResNetArch:
    try:
        return ResNetArch.from_dict(card["arch"])
    except (TypeError, KeyError) as e:
        raise SkiplessError(f"model card {card.get('id')}: bad 'arch' entry ({e})") from e


def _quantizers(layer) -> str:
    """The layer's quantizer settings (kernel, bias, activation), as a stable string."""
    config = layer.get_config()
    return json.dumps({k: v for k, v in config.items() if "quantizer" in k or k == "activation"}, sort_keys=True, default=str)


def check_matches_card(model, card: dict) -> None:
    """The model's layers, weight shapes and quantizers must be exactly those of the architecture the card
    names (a card that says w4a4 beside a model trained at w8a8 is refused)."""
    def signature(m):
        return [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in m.layers]

    expected = card_arch(card).build()
    if signature(expected) != signature(model):
        raise SkiplessError(
            f"model {card['id']}: its layers do not match the architecture in its card "
            f"(depth {card['arch'].get('depth')}, skips {card['arch'].get('skip_modes')}, quant {card['arch'].get('quant')}); "
            "the card and model file belong to different models"
        )
    for want, got in zip(expected.layers, model.layers, strict=True):
        if _quantizers(want) != _quantizers(got):
            raise SkiplessError(
                f"model {card['id']}: layer {got.name} is quantized as {_quantizers(got)}, but its card's quant spec "
                f"{card['arch'].get('quant')!r} gives {_quantizers(want)}: the card does not belong to this model file"
            )


def load_hardware_model(artifact_id: str, models_dir: Path | None = None):
    """The BN-folded model of a trained artifact: what hls4ml converts and what verification compares to."""
    from skipless.fold import fold_batchnorm

    model, card = load_artifact(artifact_id, models_dir)
    return fold_batchnorm(model, card_arch(card)), card


def trained_artifacts(models_dir: Path | None = None) -> list[str]:
    return sorted(p.stem for p in models_folder(models_dir).glob("*.json"))


def random_hardware_model(variant: VariantId, ds, seed: int = 0, calibration_images: int = 256):
    """A variant with seeded random weights, its BN statistics calibrated on real training images, folded.

    Calibration (forward passes in training mode, no weight update) puts the activations in the range
    that trained models have, so the fixed-point types are exercised rather than all-zero.
    """
    import tensorflow as tf

    from skipless.fold import fold_batchnorm

    tf.keras.utils.set_random_seed(seed)
    arch = variant.arch(ds.input_shape, len(ds.classes))
    model = arch.build(name=variant.base.replace("-", "_"))
    x = ds.normalize(ds.x_train[:calibration_images])
    for _ in range(20):  # momentum 0.9: 20 passes bring the moving statistics within 12 % of the batch's
        model(x, training=True)
    return fold_batchnorm(model, arch)


def hardware_model(model_id: str, ds, seed: int = 0):
    """The hardware model of a trained artifact (``r8-skip-w8a8.normal``) or of a variant id with random weights."""
    vid = parse_id(model_id)
    if vid.method:
        model, card = load_hardware_model(model_id)
        if card.get("dataset") not in (None, ds.name):
            raise SkiplessError(f"{model_id} was trained on {card['dataset']}; pass --dataset {card['dataset']}")
        return model
    return random_hardware_model(vid, ds, seed)


def model_for_variant(variant: str, ds):
    """(hardware model, description) for a variant: its trained artifact in models/ if there is one for
    this dataset, else seeded random weights (what verification and benchmarks use)."""
    for artifact in trained_artifacts():
        if artifact.startswith(variant + ".") and read_card(artifact).get("dataset") == ds.name:
            return load_hardware_model(artifact)[0], artifact
    return random_hardware_model(parse_id(variant), ds), f"{variant} (random weights)"
