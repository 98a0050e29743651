"""The open RTL generator: fixed-point semantics, the integer reference against hls4ml's C-simulation,
the library modules in real simulators, the planner (parallelism, skip FIFO depths) and lint."""

import numpy as np
import pytest

from skipless import cosim, hls, rtl, zoo
from skipless.errors import SkiplessError
from skipless.fixed import FixedType
from skipless.rtl import reference

from .rtl_networks import X_UNSIGNED, pooling_net, random_input, residual_block, single_conv


# ------------------------------------------------------------------ ap_fixed semantics, by hand
@pytest.mark.parametrize(
    "target, frac, mantissas, expected",
    [
        # 4 fractional bits -> 1: steps of 0.5; ties at .25 / .75 of the target step
        (FixedType(8, 1, True, "TRN"), 4, [5, -5, 7, -8], [0, -1, 0, -1]),  # floor
        (FixedType(8, 1, True, "RND"), 4, [4, -4, 12, -12], [1, 0, 2, -1]),  # ties up
        (FixedType(8, 1, True, "RND_CONV"), 4, [4, -4, 12, -12, 5], [0, 0, 2, -2, 1]),  # ties to even
        (FixedType(4, 0, True, "TRN", "SAT"), 0, [9, -9, 7, -8], [7, -8, 7, -8]),
        (FixedType(4, 0, True, "TRN", "SAT_SYM"), 0, [-9, -8], [-7, -7]),
        (FixedType(4, 0, True, "TRN", "WRAP"), 0, [9, -9, 8], [-7, 7, -8]),
        (FixedType(4, 0, False, "TRN", "SAT"), 0, [-3, 20, 15], [0, 15, 15]),
        (FixedType(6, 3, True, "TRN"), 1, [3], [12]),  # finer target: exact shift left
    ],
)
def test_cast_matches_ap_fixed_by_hand(target, frac, mantissas, expected):
    assert target.cast(np.array(mantissas), frac).tolist() == expected


def test_input_quantization_is_an_ap_fixed_cast():
    t = FixedType(8, 3, True, "RND_CONV", "SAT")
    assert t.to_mantissa([0.0625, 0.1875, -0.0625, 100.0, -100.0, 0.124]).tolist() == [0, 2, 0, 127, -128, 1]


def test_bad_types_are_rejected_with_the_supported_modes():
    with pytest.raises(SkiplessError, match="rounding mode RND_ZERO"):
        FixedType(8, 2, True, "RND_ZERO")
    with pytest.raises(SkiplessError, match="width 70"):
        FixedType(70, 2, True)


# ------------------------------------------------------------------ reference == C-sim == QKeras
REFERENCE_CASES = ["r8-skip-w8a8", "r8-noskip-w8a8", "r8-short-w8a8", "r8-skip-w4a4", "r8-short-w6a8",
                   pytest.param("r20-skip-w8a8", marks=pytest.mark.slow)]


@pytest.mark.csim
@pytest.mark.parametrize("variant", REFERENCE_CASES)
def test_integer_reference_equals_csim_and_qkeras(variant, dataset, n_images, hls_dir):
    from .test_csim import csim_inputs

    model, what = zoo.model_for_variant(variant, dataset)
    project = hls.convert(model, hls_dir / variant, source={"id": what}, log=lambda *a: None)
    net = rtl.network_of(hls.stock_model(model, project))
    x = csim_inputs(dataset, n_images)
    ref = reference.predict(net, net.input.type.to_mantissa(x))
    np.testing.assert_array_equal(ref, hls.csim(project, x))
    np.testing.assert_array_equal(ref, model.predict(x, verbose=0).astype(np.float64))


# ------------------------------------------------------------------ library modules in simulators
def _simulate(net, tmp_path, simulator, n=3, gap=0.3, stall=0.4, **settings):
    design = rtl.write_design(net, tmp_path / net.name, rtl.RTLSettings(**settings), top="unit", log=lambda *a: None)
    x = random_input(net, n)
    result = cosim.cosim(design, x, simulator=simulator, seed=3, gap_prob=gap, stall_prob=stall, log=lambda *a: None)
    want = reference.run(net, net.input.type.to_mantissa(x))[net.output_name]
    return result, want.reshape(result.mantissas.shape), design


CONVS = {
    "3x3-s1-same": dict(),
    "3x3-s2-pad01": dict(shape=(8, 8, 2), stride=2, pads=(0, 0, 1, 1)),
    "1x1-s2": dict(shape=(8, 8, 4), k=1, stride=2, pads=(0, 0, 0, 0)),
    "dense": dict(shape=(1, 1, 6), cout=4, k=1, pads=(0, 0, 0, 0)),
    "unsigned-in-cast-out": dict(x_type=X_UNSIGNED, out_type=FixedType(7, 2, True, "RND_CONV", "SAT")),
}


# each case and each MAC count once in CI, with one to many steps per pixel; the whole cross is nightly
FAST_CONV_CASES = {("3x3-s1-same", 1), ("3x3-s2-pad01", 8), ("1x1-s2", 8), ("dense", 4), ("unsigned-in-cast-out", 4)}


@pytest.mark.cosim
@pytest.mark.parametrize("case, macs", [
    pytest.param(c, m, id=f"{c}-{m}mac", marks=() if (c, m) in FAST_CONV_CASES else pytest.mark.slow) for c in CONVS for m in (1, 4, 8)])
def test_conv_module_is_bit_exact_under_gaps_and_backpressure(case, macs, tmp_path, simulator):
    net = single_conv(**CONVS[case])
    conv = net.node("conv")
    cin, cout = conv.params["in_shape"][2], conv.shape[2]
    valid = {pi * po for pi in range(1, cin + 1) if cin % pi == 0 for po in range(1, cout + 1) if cout % po == 0}
    if macs not in valid:
        pytest.skip(f"{macs} MACs/cycle is not PI x PO for {cin} -> {cout} channels")
    result, want, _ = _simulate(net, tmp_path, simulator, macs_per_cycle={"conv": macs})
    np.testing.assert_array_equal(result.mantissas, want)


W8 = FixedType(8, 6, True)
MULTIPLIER_CASES = {
    **{case: CONVS[case] for case in ("3x3-s1-same", "3x3-s2-pad01", "dense", "unsigned-in-cast-out")},
    # w8a8, the widest a packed DSP48 takes (a 25-bit operand), at the extremes of both types
    "w8-extremes-signed": dict(shape=(6, 6, 4), weight_type=W8),
    "w8-extremes-unsigned": dict(shape=(6, 6, 4), weight_type=W8, x_type=X_UNSIGNED),
}


def _extremes(net, seed=5):
    """Weights and inputs drawn from each type's extremes (and 0, +-1): the products whose packed fields
    borrow or carry the most."""
    rng = np.random.default_rng(seed)
    conv = net.node("conv")
    wt, xt = conv.params["weight_type"], net.input.type
    conv.params["weight"] = rng.choice([wt.lo, wt.lo + 1, -1, 0, 1, wt.hi], conv.params["weight"].shape)
    m = rng.choice(sorted({xt.lo, xt.lo + 1, 0, 1, xt.hi - 1, xt.hi}), (3, *net.input.shape))
    return xt.to_float(m)


FAST_MULTIPLIER_CASES = {("w8-extremes-signed", "dsp2"), ("w8-extremes-unsigned", "lut")}  # the rest: nightly


@pytest.mark.cosim
@pytest.mark.parametrize("case, multiplier", [
    pytest.param(c, m, marks=() if (c, m) in FAST_MULTIPLIER_CASES else pytest.mark.slow) for c in MULTIPLIER_CASES for m in ("dsp2", "lut")])
def test_packed_and_lut_multipliers_are_bit_exact_under_gaps_and_backpressure(case, multiplier, tmp_path, simulator):
    """Two products per DSP48 (a shared input, two weights in one multiply) and shift-and-add LUT
    multipliers give the same outputs as the reference, at 4 MACs/cycle (two lane pairs)."""
    net = single_conv(**MULTIPLIER_CASES[case])
    x = _extremes(net) if case.startswith("w8-") else random_input(net, 3)
    design = rtl.write_design(net, tmp_path / net.name, rtl.RTLSettings(macs_per_cycle={"conv": 4}, multiplier=multiplier),
                              top="unit", log=lambda *a: None)
    assert [layer["multiplier"] for layer in design.info["layers"]] == [multiplier]
    assert design.info["multipliers"] == {"dsp2": 2, "lut": 0}[multiplier]
    result = cosim.cosim(design, x, simulator=simulator, seed=3, gap_prob=0.3, stall_prob=0.4, log=lambda *a: None)
    want = reference.run(net, net.input.type.to_mantissa(x))[net.output_name]
    np.testing.assert_array_equal(result.mantissas, want.reshape(result.mantissas.shape))


def test_packing_needs_narrow_operands_and_paired_lanes():
    wide = single_conv(weight_type=FixedType(16, 8, True))
    with pytest.raises(SkiplessError, match=r"layer conv: two products per DSP48 need operands of at most 25 x 18 bits, "
                                            r"this layer's are 41 x 9 .*use dsp or lut"):
        rtl.plan(wide, rtl.RTLSettings(multipliers={"conv": "dsp2"}))
    assert rtl.plan(wide, rtl.RTLSettings(multiplier="dsp2")).convs["conv"].multiplier == "dsp"  # the policy falls back
    odd = single_conv(cout=3)
    with pytest.raises(SkiplessError, match="pair output channels, and it has 3"):
        rtl.plan(odd, rtl.RTLSettings(multipliers={"conv": "dsp2"}))
    packed = rtl.plan(single_conv(shape=(8, 8, 4), cout=8), rtl.RTLSettings(macs_per_cycle={"conv": 8}, multiplier="dsp2")).convs["conv"]
    assert packed.po % 2 == 0 and packed.macs_per_cycle == 8 and packed.multipliers == 4
    with pytest.raises(SkiplessError, match=r"unknown multiplier 'dsp3': use one of dsp, dsp2, lut, auto"):
        rtl.RTLSettings(multiplier="dsp3")
    with pytest.raises(SkiplessError, match=r"multipliers names no convolution"):
        rtl.plan(odd, rtl.RTLSettings(multipliers={"nope": "lut"}))


@pytest.mark.cosim
@pytest.mark.parametrize("macs", [pytest.param(1, id="1mac", marks=pytest.mark.slow), pytest.param(16, id="16mac")])
def test_residual_block_with_pooling_and_dense_is_bit_exact(macs, tmp_path, simulator):
    """At 1 MAC per cycle the window delays dominate the skip FIFO; at 16 (PI = 4 per conv) the deepest
    adder trees, whose stages the FIFO is sized by, so a FIFO sized too tight would deadlock here (CI runs
    that one; the other skip-FIFO tests run at 1 MAC per cycle)."""
    result, want, design = _simulate(residual_block(), tmp_path, simulator, n=4, macs_per_cycle={"c1": macs, "c2": macs})
    np.testing.assert_array_equal(result.mantissas, want)
    assert [f["add"] for f in design.info["fifos"]] == ["add"]
    readers = {s["stream"]: s["consumers"] for s in design.info["streams"]}
    assert readers["relu0_cpy1"] == ["c1"] and readers["q2"] == ["add"] and readers["fc"] == []
    assert result.interval_cycles and result.latency_cycles > 0


@pytest.mark.cosim
@pytest.mark.parametrize("bench", ["hdl", "python"])
def test_too_small_skip_fifo_stalls_and_the_watchdog_names_the_fifo(tmp_path, simulator, bench):
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "tiny_fifo", rtl.RTLSettings(fifo_depths={"add": 1}), top="unit", log=lambda *a: None)
    with pytest.raises(SkiplessError, match=r"stalled: no output for 3000 cycles; skip FIFO add_skip_fifo is full "
                                            r"\(\d+ beats held, depth 1\) while add waits for its other input: the FIFO is too shallow"):
        cosim.cosim(design, random_input(net, 1), simulator=simulator, watchdog_cycles=3000, log=lambda *a: None, bench=bench)


@pytest.mark.cosim
def test_the_per_beat_bench_is_kept_and_agrees_with_the_hdl_bench(tmp_path, simulator):
    """bench="python" (the original testbench, one Python wake-up per beat) stays for internal-stream
    probes and as the speed baseline: both benches give the same outputs and the same timing."""
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "both", top="unit", log=lambda *a: None)
    x = random_input(net, 3)
    fast = cosim.cosim(design, x, simulator=simulator, gap_prob=0, stall_prob=0, log=lambda *a: None)
    slow = cosim.cosim(design, x, simulator=simulator, gap_prob=0, stall_prob=0, bench="python", probes=("r1",), log=lambda *a: None)
    np.testing.assert_array_equal(fast.mantissas, slow.mantissas)
    assert abs(fast.latency_cycles - slow.latency_cycles) <= 1  # the benches number edges one apart
    assert fast.interval_cycles == slow.interval_cycles and fast.bench == "hdl" and slow.bench == "python"
    want = reference.run(net, net.input.type.to_mantissa(x))["r1"]
    assert len(slow.probes["r1"]) == want.shape[0] * want.shape[1] * want.shape[2]  # every beat of the stream


def _planted(design, tmp_path, name, old, new, count=1):
    text = (design.path / "unit.v").read_text() if (design.path / "unit.v").exists() else None
    target = "unit.v" if text is not None and old in text else "skipless_lib.v"
    text = (design.path / target).read_text()
    assert text.count(old) >= count, f"{old!r} not in {target}"
    return rtl.derive(design, tmp_path / name, {target: text.replace(old, new, count)}, why=name)


@pytest.mark.cosim
def test_planted_faults_fail_loudly_through_the_fast_path(tmp_path, simulator):
    """A flipped weight bit (a mismatch naming the image and output), a too-shallow skip FIFO (the
    watchdog names it), a stuck valid and an output that ignores back-pressure (protocol checks)."""
    net = residual_block()
    design = rtl.write_design(net, tmp_path / "good", top="unit", log=lambda *a: None)
    x = random_input(net, 4)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    good = cosim.cosim(design, x, simulator=simulator, expected=want, log=lambda *a: None)
    assert good.mismatches == []
    # one weight word of the first conv's ROM with its lowest bit flipped
    rom = (design.path / "unit.v").read_text()
    line = next(ln for ln in rom.splitlines() if ln.strip().startswith("rom[0] = ") and "_c1_w" in rom[: rom.index(ln)].rsplit("module", 1)[1])
    value = int(line.split("'h")[1].rstrip(";"), 16)
    flipped = line.split("'h")[0] + f"'h{value ^ 1:x};"
    bad = rtl.derive(design, tmp_path / "weight_bit", {"unit.v": rom.replace(line, flipped, 1)}, why="weight LSB flip")
    result = cosim.cosim(bad, x, simulator=simulator, expected=want, log=lambda *a: None)
    assert result.mismatches and {"image", "output", "got", "want"} <= set(result.mismatches[0])
    stopped = cosim.cosim(bad, x, simulator=simulator, expected=want, max_mismatches=0, chunk=1, log=lambda *a: None)
    assert stopped.stopped_early and len(stopped.outputs) < len(x)
    # the Add's output register loads over a waiting beat: ignores back-pressure
    dropping = _planted(design, tmp_path, "ignores_backpressure", "    assign room = !out_valid || out_ready;",
                        "    assign room = 1'b1;")
    with pytest.raises(SkiplessError, match="assertion failed|protocol"):
        cosim.cosim(dropping, x, simulator=simulator, log=lambda *a: None)
    # a stuck-low valid on the network's output: nothing ever comes out
    stuck = _planted(design, tmp_path, "stuck_valid", "    assign out_TVALID = ", "    assign out_TVALID = 1'b0 && ")
    with pytest.raises(SkiplessError, match="stalled: no output for 3000 cycles"):
        cosim.cosim(stuck, x, simulator=simulator, watchdog_cycles=3000, log=lambda *a: None)


def test_designs_without_stream_ports_and_images_of_the_wrong_shape_are_refused(tmp_path):
    from skipless.cosim.hdl_bench import bench_verilog

    net = residual_block()
    design = rtl.write_design(net, tmp_path / "good", top="unit", log=lambda *a: None)
    renamed = rtl.derive(design, tmp_path / "renamed", {"unit.v": (design.path / "unit.v").read_text().replace("image_TVALID", "image_VALID")},
                         why="ports renamed")
    with pytest.raises(SkiplessError, match=r"lacks the port\(s\) image_TVALID .*Vitis-style io_stream tops"):
        bench_verilog(renamed)
    with pytest.raises(SkiplessError, match=r"cosim input has shape \(2, 5, 5, 4\); the design takes images of 36 beats of 4 channels"):
        cosim.cosim(design, np.zeros((2, 5, 5, 4)), log=lambda *a: None)


# ------------------------------------------------------------------ planner
@pytest.mark.parametrize("damage", ["edited", "truncated", "deleted"])
def test_an_edited_generated_design_is_regenerated_and_never_simulated(tmp_path, damage):
    """The cache of `skipless rtl` checks every file's hash, not the hash recorded in design.json or an
    mtime: a hand-edited, truncated or deleted file is rewritten, and until then refused."""
    import os

    net = residual_block()
    design = rtl.write_design(net, tmp_path / "d", top="unit", log=lambda *a: None)
    path = design.path / "unit.v"
    good = path.read_text()
    stamp = path.stat().st_mtime_ns
    if damage == "edited":
        path.write_text(good.replace("_ready", "_readx", 1))
    elif damage == "truncated":
        path.write_text(good[: len(good) // 2])
    else:
        path.unlink()
    if path.exists():
        os.utime(path, ns=(stamp, stamp))  # the old mtime: an mtime-based cache would trust it
    refusal = "lists unit.v, which is missing" if damage == "deleted" else r"changed since it was generated \(unit.v \(edited\)\)"
    with pytest.raises(SkiplessError, match=refusal):
        rtl.RTLDesign.load(design.path)
    if not cosim.available("verilator") and damage == "edited":
        with pytest.raises(SkiplessError, match="changed since it was generated"):
            cosim.cosim(rtl.RTLDesign.load(design.path, verify=False), random_input(net, 1), log=lambda *a: None)
    again = rtl.write_design(net, tmp_path / "d", top="unit", log=lambda *a: None)
    assert path.read_text() == good and again.stale_files() == []


def test_skip_fifo_depth_follows_the_main_branch_and_noskip_has_none():
    net = residual_block(shape=(6, 6, 4))
    fifo = rtl.plan(net).fifos["add"]
    # two 3x3 'same' convs: each needs one row and one pixel ahead -> the skip leads by 2 * (W + 1) beats
    assert fifo.stream == "relu0_cpy2" and fifo.lead == 2 * (6 + 1)
    assert fifo.depth > fifo.lead and fifo.bits == fifo.depth * 4 * 8
    assert rtl.plan(single_conv()).fifos == {}
    # the margin follows the planned MAC pipelines, not the deepest one a conv could have: PI = 4 instead
    # of 1 adds two adder-tree levels to each main-branch conv, two beats of FIFO per stage
    fast = rtl.plan(net, rtl.RTLSettings(macs_per_cycle={"c1": 16, "c2": 16}))
    assert [fast.convs[c].pi for c in ("c1", "c2")] == [4, 4] and rtl.plan(net).convs["c1"].pi == 1
    assert fast.fifos["add"].depth == fifo.depth + 2 * 2 * 2


def test_parallelism_meets_the_cycle_budget_or_is_refused():
    net = single_conv(shape=(8, 8, 4), cout=8)
    for budget in (64 * 9 * 32, 64 * 9 * 4, 64 * 9):
        conv = rtl.plan(net, rtl.RTLSettings(cycles_per_layer=budget)).convs["conv"]
        assert conv.cycles <= budget and conv.cycles == 64 * 9 * (4 // conv.pi) * (8 // conv.po)
    with pytest.raises(SkiplessError, match=r"5 MACs/cycle is not PI x PO.*use one of \[1, 2, 4, 8, 16, 32\]"):
        rtl.plan(net, rtl.RTLSettings(macs_per_cycle={"conv": 5}))
    with pytest.raises(SkiplessError, match="names no convolution"):
        rtl.plan(net, rtl.RTLSettings(macs_per_cycle={"nope": 4}))


# ------------------------------------------------------------------ graph import, lint
def test_unsupported_layer_is_named_with_what_is_supported(tmp_path, monkeypatch):
    """A layer without an importer (here Pooling2D, taken out of the registry) is named with the supported list."""
    from skipless.hls.project import HLSSettings, to_hls4ml
    from skipless.rtl import ops

    from .test_hls_api import handwritten_qkeras_model

    graph = to_hls4ml(handwritten_qkeras_model(), tmp_path / "hw", HLSSettings())
    rtl.network_of(graph)  # supported as it stands
    monkeypatch.delitem(ops.IMPORTERS, "Pooling2D")
    with pytest.raises(SkiplessError, match=r"layer pool \(Pooling2D\) is not supported by the open RTL generator; it supports"):
        rtl.network_of(graph)


@pytest.mark.cosim
@pytest.mark.parametrize("side", [6, 7])
def test_global_pooling_over_a_pixel_count_not_a_power_of_two_is_lint_clean(side, tmp_path):
    """D3: the divide by 36 or 49 pixels was 32 bits wide against a 21-bit sum (WIDTHEXPAND under -Wall)."""
    if cosim.available("verilator"):
        pytest.skip(cosim.available("verilator"))
    design = rtl.write_design(residual_block(shape=(side, side, 4)), tmp_path / "rb", top="unit", log=lambda *a: None)
    rtl.lint(design)  # raises on any warning


def test_cached_project_without_graph_says_what_to_pass(tmp_path):
    with pytest.raises(SkiplessError, match="stock_model"):
        rtl.network_of(hls.HLSProject(tmp_path, hls.HLSSettings(), "h", tmp_path, (1,), (1,), {}, built=False))


@pytest.mark.cosim
def test_generated_resnet_rtl_is_lint_clean(dataset, hls_dir, tmp_path):
    if cosim.available("verilator"):
        pytest.skip(cosim.available("verilator"))
    model, what = zoo.model_for_variant("r8-skip-w8a8", dataset)
    project = hls.convert(model, hls_dir / "r8-skip-w8a8", source={"id": what}, log=lambda *a: None)
    design = rtl.generate(hls.stock_model(model, project), tmp_path / "rtl", log=lambda *a: None)
    assert "%Warning" not in rtl.lint(design)  # lint raises on any warning; clean means no output of that kind
    assert len(design.info["fifos"]) == 3 and design.info["estimated_interval_cycles"] < 114_000
    # the check can fail: a width mismatch planted in a copy of the design is reported
    from skipless.rtl.design import write_files

    text = (design.path / "myproject.v").read_text()
    end = text.rindex("endmodule")
    bad_top = text[:end] + "    wire [3:0] planted_narrow = {8{ap_clk}};  // 8 bits into 4\n" + text[end:]
    planted = write_files(tmp_path / "planted", {"skipless_lib.v": rtl.design.library_text(), "myproject.v": bad_top}, design.info)
    with pytest.raises(SkiplessError, match="WIDTH"):
        rtl.lint(planted)


def test_an_io_parallel_project_is_refused_naming_io_stream(tmp_path):
    """io_parallel graphs pad inside the conv and fork without Clone layers; the streaming RTL refuses them."""
    from skipless.hls.project import HLSSettings, to_hls4ml

    from .peer_models import pointwise_chain

    graph = to_hls4ml(pointwise_chain(), tmp_path / "par", HLSSettings(io_type="io_parallel"))
    with pytest.raises(SkiplessError, match=r"reads hls4ml's io_stream graphs, not io_parallel: convert with io_type='io_stream'"):
        rtl.network_of(graph)


@pytest.mark.cosim
@pytest.mark.parametrize("max_pool", [True, False], ids=["max", "average"])
def test_pooling_hard_tanh_and_concat_modules_are_bit_exact_and_planted_faults_are_caught(max_pool, tmp_path, simulator):
    """skl_pool (over a map whose last row and column fall outside every window), skl_hard and skl_concat
    equal the integer reference under gaps and back-pressure; a flipped max comparison, a floor instead of
    truncation toward zero in the average's divider, and a hard tanh clipped at 0 instead of 1 are each caught."""
    net = pooling_net(max_pool)
    design = rtl.write_design(net, tmp_path / "good", top="unit", log=lambda *a: None)
    rtl.lint(design)
    x = random_input(net, 3)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    assert len(np.unique(want)) > 8
    good = cosim.cosim(design, x, simulator=simulator, seed=3, gap_prob=0.3, stall_prob=0.4, expected=want, log=lambda *a: None)
    assert good.mismatches == [] and len(design.info["fifos"]) == 1
    faults = {"hard-clip": ("(v > ONE) ? ONE :", "(v > ONE) ? {VW{1'b0}} :")}
    if max_pool:
        faults["max-compare"] = ("(first || x_ext > a_ext) ? xa : a", "(first || x_ext < a_ext) ? xa : a")
    else:
        faults["divide-floor"] = ("wire signed [DW-1:0] bias = din[DW-1] ?", "wire signed [DW-1:0] bias = 1'b0 ?")
    for name, (old, new) in faults.items():
        bad = _planted(design, tmp_path, name, old, new)
        result = cosim.cosim(bad, x, simulator=simulator, seed=3, expected=want, log=lambda *a: None)
        assert result.mismatches, f"planted fault {name} was not caught"
