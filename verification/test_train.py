"""Training methods: KD losses, gated skip removal and its export, schedules, resume, bad configs."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from skipless import data, zoo
from skipless.errors import SkiplessError
from skipless.fold import fold_batchnorm
from skipless.resnet import ResNetArch, count_adds
from skipless.train import TrainConfig, TrainJob, run
from skipless.train import skips as skip_ops
from skipless.train.kd import hinton_loss, make_loss, tailor_loss

from .test_data import write_fashion

# ---------------------------------------------------------------- KD losses on a hand-computed case


def test_tailor_loss_by_hand():
    s, t, y = tf.constant([[1.0, 0.0]]), tf.constant([[0.0, 1.0]]), tf.constant([0])
    ce = math.log(1 + math.exp(-1))  # -log softmax([1, 0])[0]
    mse = (1 + 1) / 2
    assert float(tailor_loss(y, s, t)) == pytest.approx(0.35 * mse + 0.65 * ce, rel=1e-6)


def test_hinton_loss_by_hand():
    s, t, y = tf.constant([[1.0, 0.0]]), tf.constant([[0.0, 1.0]]), tf.constant([0])
    T, alpha = 2.0, 0.5
    p_t = [1 / (1 + math.exp(0.5)), math.exp(0.5) / (1 + math.exp(0.5))]  # softmax([0, 0.5])
    log_p_s = [0.5 - math.log(math.exp(0.5) + 1), -math.log(math.exp(0.5) + 1)]  # log_softmax([0.5, 0])
    kl = sum(p * (math.log(p) - q) for p, q in zip(p_t, log_p_s, strict=True))
    ce = math.log(1 + math.exp(-1))
    expected = alpha * T * T * kl + (1 - alpha) * ce
    assert float(hinton_loss(y, s, t, T, alpha)) == pytest.approx(expected, rel=1e-6)
    assert float(make_loss("hinton", T, alpha)(y, s, t)) == pytest.approx(expected, rel=1e-6)


def test_kd_loss_is_pure_ce_when_teacher_agrees_with_mse_part():
    s = tf.constant([[2.0, -1.0, 0.5]])
    y = tf.constant([0])
    ce = float(make_loss(None)(y, s, None))
    assert float(tailor_loss(y, s, s)) == pytest.approx(0.65 * ce, rel=1e-6)
    assert float(hinton_loss(y, s, s, 3.0, 0.7)) == pytest.approx(0.3 * ce, rel=1e-5)


# ---------------------------------------------------------------- gated model and its export


@pytest.mark.parametrize("quant", ["w8a8", "w4a4", "float"])
def test_exported_skipless_graph_equals_the_gated_model(quant):
    arch = ResNetArch(8, "keep", quant)
    tf.keras.utils.set_random_seed(0)
    gated = arch.build(gated=True)
    x = np.random.default_rng(0).normal(size=(16, 32, 32, 1)).astype(np.float32)
    gated.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(True))
    gated.fit(x, np.arange(16) % 10, epochs=1, verbose=0)
    for modes in (["remove"] * 3, ["remove", "keep", "shorten"], ["shorten"] * 3):
        for b, m in enumerate(modes):
            skip_ops.set_block_mode(gated, arch, b, m)
        exported, final = skip_ops.export(gated, arch)
        assert final.skip_modes == modes
        assert not any(hasattr(layer, "gates") for layer in exported.layers)
        assert count_adds(exported) == skip_ops.count_skips(modes)
        np.testing.assert_array_equal(exported.predict(x, verbose=0), gated.predict(x, verbose=0))
        if quant != "float":  # and the hardware graph on top of it
            np.testing.assert_array_equal(fold_batchnorm(exported, final).predict(x, verbose=0), gated.predict(x, verbose=0))


def test_schedule_head_first_every_k():
    arch = ResNetArch(20, "keep", "float")
    sched = skip_ops.SkipSchedule("remove", every=2, per_step=2)
    sched.validate(arch, epochs=10)
    assert sched.order == list(range(9))
    assert sched.blocks_after_epoch(1) == [] and sched.blocks_after_epoch(2) == [0, 1] and sched.blocks_after_epoch(10) == [8]
    assert sched.modes_after(arch.skip_modes, 4) == ["remove"] * 4 + ["keep"] * 5


@pytest.mark.parametrize(
    "schedule, message",
    [
        (skip_ops.SkipSchedule("remove", every=0), "k must be >= 1"),
        (skip_ops.SkipSchedule("remove", every=1, order=[0, 1, 2, 3]), "no long skip"),
        (skip_ops.SkipSchedule("remove", every=2), "need 6 epochs"),
        (skip_ops.SkipSchedule("remove", every=1, order=[1, 1]), "twice"),
        (skip_ops.SkipSchedule("drop", every=1), "unknown skip schedule"),
    ],
)
def test_bad_schedules(schedule, message):
    with pytest.raises(SkiplessError, match=message):
        schedule.validate(ResNetArch(8, "keep", "float"), epochs=4)


# ---------------------------------------------------------------- runs on a tiny real-format dataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fm")
    write_fashion(folder, n_train=160, n_test=40)
    return data.load("fashion_mnist", folder)


def tiny_config(epochs=3, seed=0):
    return TrainConfig(epochs=epochs, batch_size=32, val_size=32, seed=seed, lr=0.05)


def weights_of(model):
    return [w.numpy() for w in model.weights]


def test_iterative_removal_resume_gives_the_same_run(tiny, tmp_path):
    job = TrainJob("r8-noskip-float", "iterative", tiny_config(), every=1)
    full, card_full = run(job, tiny, checkpoint_dir=tmp_path / "a", log=lambda s: None)

    job = TrainJob("r8-noskip-float", "iterative", tiny_config(), every=1)
    _, card_stopped = run(job, tiny, checkpoint_dir=tmp_path / "b", stop_after=2, log=lambda s: None)
    assert card_stopped["epochs_done"] == 2 and not card_stopped["complete"]
    assert [row["skips"] for row in card_stopped["history"]] == [2, 1]  # a removal after each epoch

    job = TrainJob("r8-noskip-float", "iterative", tiny_config(), every=1)
    resumed, card_resumed = run(job, tiny, checkpoint_dir=tmp_path / "b", resume=True, log=lambda s: None)
    assert card_resumed["complete"] and card_resumed["epochs_done"] == card_full["epochs_done"] == 3
    assert [r["skips"] for r in card_resumed["history"]] == [r["skips"] for r in card_full["history"]] == [2, 1, 0]
    assert count_adds(resumed) == count_adds(full) == 0
    for a, b in zip(weights_of(resumed), weights_of(full), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_rebuild_per_step_loses_the_optimizer_state(tiny, tmp_path):
    kept = TrainJob("r8-noskip-float", "iterative", tiny_config(epochs=2), every=1, n_skips=1)
    rebuilt = TrainJob("r8-noskip-float", "iterative-rebuild", tiny_config(epochs=2), every=1, n_skips=1)
    m_kept, c_kept = run(kept, tiny, checkpoint_dir=tmp_path / "k", log=lambda s: None)
    m_rebuilt, c_rebuilt = run(rebuilt, tiny, checkpoint_dir=tmp_path / "r", log=lambda s: None)
    assert c_kept["id"].endswith(".iter-kept") and c_rebuilt["id"].endswith(".iter-rebuild")
    # identical until the first removal, and the same lr afterwards; different once momentum is dropped
    assert c_kept["history"][0]["loss"] == c_rebuilt["history"][0]["loss"]
    assert c_kept["history"][1]["lr"] == pytest.approx(c_rebuilt["history"][1]["lr"])
    assert c_kept["history"][1]["loss"] != c_rebuilt["history"][1]["loss"]
    assert c_kept["arch"]["skip_modes"] == ["remove", "keep", "keep"] == c_rebuilt["arch"]["skip_modes"]


def test_kd_student_initialised_from_teacher_and_qat(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPLESS_HOME", str(tmp_path))
    teacher, card = run(TrainJob("r8-skip-float", "normal", tiny_config(epochs=1)), tiny, checkpoint_dir=tmp_path / "t", log=lambda s: None)
    zoo.save_artifact(teacher, card)
    student, scard = run(
        TrainJob("r8-noskip-float", "kd", tiny_config(epochs=1), teacher="r8-skip-float.normal", kd_loss="hinton", init="r8-skip-float.normal"),
        tiny,
        checkpoint_dir=tmp_path / "s",
        log=lambda s: None,
    )
    assert scard["id"] == "r8-noskip-float.kd-hinton" and scard["training"]["teacher"] == "r8-skip-float.normal"
    assert count_adds(student) == 0
    # QAT: a w8a8 student starting from the float teacher's weights (BN folded in by QConv2DBatchnorm)
    job = TrainJob("r8-skip-w8a8", "qat", tiny_config(epochs=1), init="r8-skip-float.normal")
    qat, qcard = run(job, tiny, checkpoint_dir=tmp_path / "q", log=lambda s: None)
    assert qcard["id"] == "r8-skip-w8a8.qat" and type(qat.get_layer("stem_conv")).__name__ == "QConv2DBatchnorm"


def test_bad_configs_fail_before_training(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPLESS_HOME", str(tmp_path))
    never = lambda s: pytest.fail(f"training started: {s}")  # noqa: E731
    with pytest.raises(SkiplessError, match="no model artifact 'r8-skip-float.normal'"):
        run(TrainJob("r8-noskip-float", "kd", tiny_config(), teacher="r8-skip-float.normal"), tiny, log=never)
    with pytest.raises(SkiplessError, match="k must be >= 1"):
        run(TrainJob("r8-noskip-float", "iterative", tiny_config(), every=0), tiny, log=never)
    with pytest.raises(SkiplessError, match="cannot change 5 skips"):
        run(TrainJob("r8-noskip-float", "iterative", tiny_config(), every=1, n_skips=5), tiny, log=never)
    with pytest.raises(SkiplessError, match="needs --teacher"):
        run(TrainJob("r8-noskip-float", "kd", tiny_config()), tiny, log=never)
    with pytest.raises(SkiplessError, match="noskip variant"):
        run(TrainJob("r8-skip-float", "iterative", tiny_config(), every=1), tiny, log=never)
    # a teacher trained for 3-channel 32x32 images cannot teach a Fashion-MNIST student
    arch = ResNetArch(8, "keep", "float", (32, 32, 3))
    zoo.save_artifact(arch.build(), {"id": "r8-skip-float.normal", "arch": arch.to_dict(), "dataset": "fashion_mnist"})
    with pytest.raises(SkiplessError, match="cannot be distilled"):
        run(TrainJob("r8-noskip-float", "kd", tiny_config(), teacher="r8-skip-float.normal"), tiny, log=never)


def test_ablation_table_and_its_commands_come_from_the_runs(tmp_path):
    from skipless.train.ablation import render

    def run(depth, quant, row, seed, acc, epochs=6, images=5000):
        folder = tmp_path / "ablation" / "runs" / f"r{depth}-{quant}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{row.replace(' ', '_')}-s{seed}.json").write_text(json.dumps({
            "row": row, "depth": depth, "quant": quant, "seed": seed, "test_accuracy": acc, "epochs": epochs,
            "train_images": images, "skip_additions": 0, "schedule": None, "dataset": "fashion_mnist"}))

    for seed, acc in ((0, 0.80), (1, 0.82)):
        for quant in ("float", "w8a8"):
            run(8, quant, "noskip (normal)", seed, acc)
        run(20, "w8a8", "noskip (normal)", seed, acc - 0.1)
    run(32, "w4a4", "skip (normal)", 0, 0.5, epochs=2, images=None)
    json_path, md_path = render(tmp_path / "ablation")
    rows = json.loads(json_path.read_text())["rows"]
    assert [(r["depth"], r["quant"], r["mean"], r["std"], r["seeds"]) for r in rows] == [
        (8, "float", 81.0, 1.41, [0, 1]), (8, "w8a8", 81.0, 1.41, [0, 1]), (20, "w8a8", 71.0, 1.41, [0, 1]),
        (32, "w4a4", 50.0, 0.0, [0])]  # sample standard deviation over seeds
    md = md_path.read_text()
    assert "| r20 | w8a8 | noskip (normal) | 0 | 71.00 ± 1.41 | 2 | 6 | 5000 | - |" in md
    assert "    skipless ablation --depths 8 --quants float,w8a8 --seeds 0,1\n" in md
    assert "    skipless ablation --depths 20 --quants w8a8 --seeds 0,1\n" in md
    assert "    skipless ablation --depths 32 --quants w4a4 --seeds 0 --epochs 2 --limit 0\n" in md


# ---------------------------------------------------------------- crash-safe checkpoints, resume checks, NaN


def test_torn_newest_checkpoint_falls_back_to_the_previous_one(tiny, tmp_path):
    job = TrainJob("r8-skip-float", "normal", tiny_config(epochs=3))
    _, stopped = run(job, tiny, checkpoint_dir=tmp_path / "c", stop_after=2, log=lambda s: None)
    assert sorted(p.name for p in (tmp_path / "c").glob("epoch-*")) == ["epoch-0001", "epoch-0002"]
    # a kill during the write of epoch 2: its state file is cut short (0 bytes, as kill -9 left it)
    (tmp_path / "c" / "epoch-0002" / "state.index").write_bytes(b"")
    logs = []
    _, card = run(TrainJob("r8-skip-float", "normal", tiny_config(epochs=3)), tiny, checkpoint_dir=tmp_path / "c",
                  resume=True, log=logs.append)
    assert any("ignoring incomplete checkpoint(s) epoch-0002" in line for line in logs)
    assert any("resumed from" in line and "after epoch 1" in line for line in logs)
    assert card["complete"] and [r["epoch"] for r in card["history"]] == [1, 2, 3]


def test_a_killed_first_checkpoint_leaves_no_temp_folder_and_restarts_saying_so(tiny, tmp_path):
    folder = tmp_path / "c"
    (folder / ".epoch-0001.abc").mkdir(parents=True)  # what a kill during the first write leaves
    (folder / ".epoch-0001.abc" / "state.index").write_bytes(b"x")
    logs = []
    _, card = run(TrainJob("r8-skip-float", "normal", tiny_config(epochs=1)), tiny, checkpoint_dir=folder, resume=True,
                  log=logs.append)
    assert any("no complete checkpoint" in line for line in logs)
    assert not list(folder.glob(".epoch-*")) and card["complete"]


def test_resume_refuses_a_changed_configuration(tiny, tmp_path):
    run(TrainJob("r8-skip-float", "normal", tiny_config(epochs=3)), tiny, checkpoint_dir=tmp_path / "c", stop_after=1,
        log=lambda s: None)
    changed = TrainJob("r8-skip-float", "normal", tiny_config(epochs=3, seed=1))
    with pytest.raises(SkiplessError, match=r"another configuration \(seed 0 -> 1\).*--override-resume-config"):
        run(changed, tiny, checkpoint_dir=tmp_path / "c", resume=True, log=lambda s: None)
    _, card = run(changed, tiny, checkpoint_dir=tmp_path / "c", resume=True, override_resume_config=True, log=lambda s: None)
    assert card["complete"]


def test_a_diverging_run_stops_and_saves_nothing(tiny, tmp_path):
    config = TrainConfig(epochs=2, batch_size=32, val_size=32, lr=1e30)
    with pytest.raises(SkiplessError, match="training diverged: the loss is nan in epoch 1"):
        run(TrainJob("r8-skip-float", "normal", config), tiny, checkpoint_dir=tmp_path / "c", log=lambda s: None)
    assert not list((tmp_path / "c").glob("epoch-*"))
    with pytest.raises(SkiplessError, match="finite number > 0, got nan"):
        TrainConfig(lr=float("nan"))


# ---------------------------------------------------------------- the trained grid's sweep


def test_grid_plan_orders_runs_after_what_they_need():
    from skipless.train import grid

    runs = grid.plan()
    position = {r.artifact: i for i, r in enumerate(runs)}
    assert all(position[n] < position[r.artifact] for r in runs for n in r.needs)
    cells = {(r.depth, r.quant) for r in runs if r.role == "teacher"}
    assert cells == {(8, q) for q in ("w16a16", "w8a8", "w6a8", "w4a4")} | {(20, "w8a8"), (20, "w4a4")}
    assert [r.role for r in runs if (r.depth, r.quant) == (20, "w4a4")] == ["teacher", "noskip", "short", "control"]
    student = next(r for r in runs if r.artifact == "r20-noskip-w8a8.iter-kept")
    assert (student.job.teacher, student.job.init, student.job.kd_loss, student.job.method) == (
        "r20-skip-w8a8.qat", "r20-skip-w8a8.qat", "tailor", "iterative")
    assert runs[0].depth == 8 and runs[-1].depth == 20  # r8 first


def test_grid_sweep_resumes_after_a_kill_and_never_redoes_a_finished_run(tiny, tmp_path):
    from skipless.train import grid

    models, ckpts = tmp_path / "models", tmp_path / "ckpt"
    runs = grid.with_budget(grid.plan([8], ["w8a8"]), 2, batch_size=32, val_size=32)
    # asking for a student whose teacher is missing names the run to do first
    with pytest.raises(SkiplessError, match=r"needs r8-skip-w8a8.qat first: run 'skipless grid train --only r8-skip-w8a8.qat'"):
        grid.train(grid.select(runs, ["r8-noskip-w8a8.iter-kept"]), tiny, models, ckpts, log=lambda s: None)
    assert grid.train(runs, tiny, models, ckpts, stop_after_runs=1, log=lambda s: None) == ["r8-skip-float.normal"]
    # a run interrupted after its first epoch (as a kill would leave it): the sweep wants --resume
    nxt = runs[1]
    from skipless.train.methods import run as run_job

    run_job(nxt.job, tiny, checkpoint_dir=ckpts / nxt.artifact, stop_after=1, log=lambda s: None, models_dir=models)
    rows = {r["artifact"]: r for r in grid.status(runs, models, ckpts, tiny.name)}
    assert rows["r8-skip-float.normal"]["state"] == "done" and rows[nxt.artifact]["state"] == "partial"
    with pytest.raises(SkiplessError, match="continue with 'skipless grid train --resume'"):
        grid.train(runs, tiny, models, ckpts, log=lambda s: None)
    logs = []
    trained = grid.train(runs, tiny, models, ckpts, resume=True, log=logs.append)
    assert trained == [r.artifact for r in runs[1:]]  # the finished float net is not redone
    assert any(f"resumed from {ckpts / nxt.artifact} after epoch 1" in line for line in logs)
    states = {r["artifact"]: r["state"] for r in grid.status(runs, models, ckpts, tiny.name)}
    assert set(states.values()) == {"done"}
    card = zoo.read_card("r8-noskip-w8a8.iter-kept", models)
    assert card["grid"] == {"role": "noskip", "cell": "r8-w8a8"} and card["arch"]["skip_modes"] == ["remove"] * 3
    assert grid.train(runs, tiny, models, ckpts, log=lambda s: None) == []
    # a card trained with other settings is not taken for the grid's run
    card_path = zoo.artifact_paths("r8-skip-w8a8.qat", models)[1]
    edited = json.loads(card_path.read_text())
    edited["training"]["lr"] = 0.5
    edited["card_sha256"] = zoo.card_digest(edited)  # a card of a run made with other settings (consistent)
    card_path.write_text(json.dumps(edited))
    assert {r["artifact"]: r for r in grid.status(runs, models, ckpts, tiny.name)}["r8-skip-w8a8.qat"]["differs"] == ["lr"]
