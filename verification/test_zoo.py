"""Variant ids, the grid, and model artifacts: round trips, corrupt and mismatched files, atomic saves."""

import json

import numpy as np
import pytest

from skipless import zoo
from skipless.errors import SkiplessError


def test_variant_ids_parse_and_print():
    v = zoo.parse_id("r20-noskip-w8a8.kd")
    assert (v.depth, v.skip, v.quant, v.method) == (20, "noskip", "w8a8", "kd")
    assert v.skip_mode == "remove" and v.base == "r20-noskip-w8a8" and str(v) == "r20-noskip-w8a8.kd"
    assert zoo.parse_id("r56-short-q16i4").arch().skip_modes == ["shorten"] * 27


@pytest.mark.parametrize("bad", ["r21-skip-w8a8", "r20-half-w8a8", "r20-skip-w3a3", "resnet20", "r20-skip"])
def test_bad_ids_are_clear_errors(bad):
    with pytest.raises(SkiplessError):
        zoo.parse_id(bad)


def test_grid_covers_depths_skips_and_quants():
    grid = zoo.variant_grid()
    assert len(grid) == 6 * 3 * len(zoo.GRID_QUANTS)
    assert zoo.VariantId(110, "noskip", "w4a4") in grid


def _card(vid, arch):
    return {"id": vid, "arch": arch.to_dict(), "dataset": "fashion_mnist", "training": {"method": "normal"}}


@pytest.fixture
def artifact(tmp_path):
    vid = "r8-short-w4a4.normal"
    arch = zoo.parse_id(vid).arch()
    model = arch.build()
    zoo.save_artifact(model, _card(vid, arch), tmp_path)
    return vid, model, tmp_path


def test_artifact_roundtrip(artifact):
    vid, model, folder = artifact
    loaded, card = zoo.load_artifact(vid, folder)
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 1)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert card["id"] == vid and card["provenance"]["tools"]["qkeras"] == "0.9.0"
    assert len(card["model_sha256"]) == 64
    hw, _ = zoo.load_hardware_model(vid, folder)
    np.testing.assert_array_equal(hw.predict(x, verbose=0), model.predict(x, verbose=0))
    assert sorted(p.name for p in folder.iterdir()) == [f"{vid}.h5", f"{vid}.json"]


def test_corrupt_model_file_is_caught(artifact):
    vid, _, folder = artifact
    path = folder / f"{vid}.h5"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SkiplessError, match="does not match its model card"):
        zoo.load_artifact(vid, folder)


def test_unreadable_model_with_matching_hash_is_caught(artifact):
    vid, _, folder = artifact
    (folder / f"{vid}.h5").write_bytes(b"not an HDF5 file")
    card = json.loads((folder / f"{vid}.json").read_text())
    card["model_sha256"] = zoo._sha256(folder / f"{vid}.h5")
    card["card_sha256"] = zoo.card_digest(card)  # a consistent (re-signed) card
    (folder / f"{vid}.json").write_text(json.dumps(card))
    with pytest.raises(SkiplessError, match="Keras cannot load"):
        zoo.load_artifact(vid, folder)


def test_card_naming_another_architecture_is_caught(artifact):
    vid, _, folder = artifact
    card = json.loads((folder / f"{vid}.json").read_text())
    card["arch"]["skip_modes"] = ["remove"] * 3
    (folder / f"{vid}.json").write_text(json.dumps(card))
    with pytest.raises(SkiplessError, match="was edited after the artifact was saved"):
        zoo.load_artifact(vid, folder)
    card["card_sha256"] = zoo.card_digest(card)
    (folder / f"{vid}.json").write_text(json.dumps(card))
    with pytest.raises(SkiplessError, match="do not match the architecture"):
        zoo.load_artifact(vid, folder)


def test_card_naming_other_quantizers_is_caught(artifact):
    """A w4a4-trained model with a (re-signed) card that says w8a8: same layers, other quantizers."""
    vid, _, folder = artifact
    card = json.loads((folder / f"{vid}.json").read_text())
    card["arch"]["quant"] = "w8a8"
    card["card_sha256"] = zoo.card_digest(card)
    (folder / f"{vid}.json").write_text(json.dumps(card))
    with pytest.raises(SkiplessError, match="its card's quant spec 'w8a8' gives .*does not belong to this model file"):
        zoo.load_artifact(vid, folder)


def test_corrupt_card_and_missing_artifact(artifact):
    vid, _, folder = artifact
    (folder / f"{vid}.json").write_text("{ truncated")
    with pytest.raises(SkiplessError, match="not valid JSON"):
        zoo.load_artifact(vid, folder)
    with pytest.raises(SkiplessError, match="skipless train"):
        zoo.load_artifact("r8-skip-w8a8.kd", folder)


def test_crash_while_saving_leaves_no_artifact(tmp_path):
    vid = "r8-skip-w8a8.normal"
    arch = zoo.parse_id(vid).arch()
    model = arch.build()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    model.save = crash
    with pytest.raises(OSError):
        zoo.save_artifact(model, _card(vid, arch), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_save_killed_midway_leaves_a_temp_folder_the_next_save_removes(tmp_path):
    vid = "r8-skip-w8a8.normal"
    arch = zoo.parse_id(vid).arch()
    dead = tmp_path / f".{vid}.999999999.tmp"  # what kill -9 of PID 999999999 inside save_artifact leaves
    dead.mkdir()
    (dead / f"{vid}.h5").write_bytes(b"half")
    zoo.save_artifact(arch.build(), _card(vid, arch), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{vid}.h5", f"{vid}.json"]
