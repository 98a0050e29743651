"""The fit-to-part planner (skipless.rtl.fit) and its resource model (skipless.rtl.cost): the model is
calibrated on committed Yosys reports only, counts DSPs exactly, and the planner picks the smallest
interval that fits, refuses what cannot, and its choices stay bit-exact in a real simulator."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from skipless import cosim, rtl
from skipless.errors import SkiplessError
from skipless.rtl import cost, fit, reference
from skipless.rtl.schedule import RTLSettings, plan

from .rtl_networks import random_input, residual_block

ROOT = Path(__file__).resolve().parents[1]


def committed_yosys_reports() -> dict[str, list[dict]]:
    """Every Yosys report in the committed benchmarks/results/*.json, by the hash of the RTL it synthesized."""
    by_hash: dict[str, list[dict]] = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("flow") == "yosys" and "resources" in node and (node.get("cache") or {}).get("rtl_hash"):
                by_hash.setdefault(node["cache"]["rtl_hash"], []).append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((ROOT / "benchmarks/results").glob("*.json")):
        walk(json.loads(path.read_text()))
    return by_hash


def test_the_calibration_is_the_committed_yosys_reports():
    """Every calibration row's Yosys counts and version are those of a committed report of the same RTL (by
    its hash), and the rows cover plans with one and with two products per DSP48."""
    reports = committed_yosys_reports()
    rows, _ = cost.calibration()
    assert len(rows) >= 8 and {row["plan"] for row in rows} == {"default", "fit"}
    for row in rows:
        assert row["rtl_hash"] in reports, f"{cost.row_name(row)}: no committed Yosys report of its RTL"
        assert any(row["yosys"] == {r: report["resources"][r] for r in cost.RESOURCES}
                   and row["yosys_version"] == report["tool"]["version"] and report["id"] == row["id"]
                   for report in reports[row["rtl_hash"]]), cost.row_name(row)


def test_the_model_counts_dsps_exactly_and_fits_the_rest_within_a_stated_error():
    errors = cost.calibration_error()
    for design_id, by_resource in errors.items():
        assert by_resource["dsp"]["error_pct"] == 0.0, design_id  # one DSP48 per multiplier lane, as Yosys maps them
        for resource in ("lut", "ff", "bram18"):
            assert abs(by_resource[resource]["error_pct"]) < 15, (design_id, resource, by_resource[resource])


def test_memory_geometry_follows_the_7_series_bram18_aspect_ratios():
    assert cost.Memory("w", 512, 36, True).bram18 == 1
    assert cost.Memory("w", 513, 36, True).bram18 == 2  # 1K x 18
    assert cost.Memory("w", 1152, 224, True).bram18 == 25  # 2K x 9
    assert cost.Memory("w", 100, 8, True).bram18 == 0  # under BLOCK_ROM_BITS: logic
    assert cost.Memory("fifo", 64, 576, False).bram18 == 0  # distributed RAM
    assert cost.Memory("fifo", 80, 128, False).bram18 == 4
    assert cost.dsp_per_lane(8, 8) == 1 and cost.dsp_per_lane(25, 18) == 1 and cost.dsp_per_lane(26, 18) == 2
    assert cost.dsp_per_lane(25, 18, in_signed=False) == 2  # the zero above an unsigned input stays
    # Yosys leaves products under 9 bits in LUTs: the signed 4-bit stem of w4a4 (4 x 4), not its unsigned
    # 4-bit ReLU outputs (5 x 4)
    assert cost.dsp_per_lane(4, 4) == 0 and cost.dsp_per_lane(4, 4, in_signed=False) == 1 and cost.dsp_per_lane(5, 4) == 1


def test_stream_bits_are_the_stream_beats_the_top_declares(tmp_path):
    """The model's width feature is every stream's beat as the emitted top declares it (`s_<stream>_data`),
    the skip FIFO's output among them."""
    import re

    design = rtl.write_design(residual_block(), tmp_path / "d", top="unit", log=lambda *a: None)
    declared = re.findall(r"wire \[(\d+):0\] s_(\w+)_data;", (design.path / "unit.v").read_text())
    assert "add_skip_fifo" in {name for _, name in declared}
    assert design.info["fit"]["features"]["stream_bits"] == sum(int(msb) + 1 for msb, _ in declared)


def test_the_planner_picks_the_smallest_interval_that_fits():
    net = residual_block(shape=(8, 8, 8))
    tight = RTLSettings(fit=True, max_util=0.2)  # 44 of the xc7z020's 220 DSPs
    chosen = fit.fit(net, tight)
    assert chosen.fits and chosen.predicted["dsp"] <= 0.2 * 220
    smaller = [t for t in fit._targets(net) if t < chosen.cycles_per_layer]
    assert smaller, "the budget must bind for this test to mean anything"
    assert not fit._evaluate(net, tight, smaller[-1], chosen_part()).fits  # one step faster does not fit
    roomy = fit.fit(net, replace(tight, max_util=0.85))
    assert roomy.plan.interval_cycles < chosen.plan.interval_cycles  # more room, a faster pipeline


def chosen_part():
    from skipless.parts import get_part

    return get_part(RTLSettings().part)


def test_impossible_targets_and_parts_are_refused_with_the_numbers(tmp_path):
    net = residual_block(shape=(8, 8, 8))
    limit = fit.evaluate(net, RTLSettings(multiplier="auto")).device_limit_interval  # the policy --target-interval uses
    with pytest.raises(SkiplessError, match=f"below the device limit.*{limit:,} cycles"):
        fit.fit(net, RTLSettings(target_interval=max(1, limit - 1)))
    # at 5% of each resource: even one MAC per cycle per layer leaves more LUTs than 5% of an xc7z020
    with pytest.raises(SkiplessError, match="does not fit xc7z020.*LUT.*smallest known part it fits is xczu9eg.*--allow-overfit"):
        rtl.write_design(net, tmp_path / "over", RTLSettings(fit=True, max_util=0.05), log=lambda *a: None)
    assert not (tmp_path / "over").exists()  # refused before anything is written
    with pytest.raises(SkiplessError, match="no known part fits it"):
        fit.fit(net, RTLSettings(fit=True, max_util=0.001))
    design = rtl.write_design(net, tmp_path / "anyway", RTLSettings(fit=True, max_util=0.001, allow_overfit=True),
                              log=lambda *a: None)
    assert design.info["fit"]["fits"] is False
    with pytest.raises(SkiplessError, match="unknown FPGA part"):
        fit.fit(net, RTLSettings(fit=True, part="xc7z999"))
    # a part hls4ml takes but skipless has no table for: the design is written, without a prediction
    other = rtl.write_design(net, tmp_path / "other_part", RTLSettings(part="xcvu9p-flga2104-2-e"), log=lambda *a: None)
    assert other.info["fit"] is None


def test_the_design_records_its_plan_and_prediction(tmp_path):
    net = residual_block(shape=(8, 8, 8))
    design = rtl.write_design(net, tmp_path / "d", RTLSettings(fit=True, max_util=0.2), log=lambda *a: None)
    recorded = design.info["fit"]
    assert recorded["part"] == "xc7z020clg400-1" and recorded["fits"]
    assert recorded["predicted"]["dsp"] == design.info["multipliers"] == sum(layer["multipliers"] for layer in design.info["layers"])
    assert recorded["multipliers"] == {layer["name"]: layer["multiplier"] for layer in design.info["layers"]}
    assert recorded["interval_cycles"] == design.info["estimated_interval_cycles"]
    assert recorded["features"] == cost.features(net, plan(net, RTLSettings(cycles_per_layer=recorded["cycles_per_layer"],
                                                                            multipliers=recorded["multipliers"])))


def test_fitting_packs_two_products_per_dsp_where_the_widths_allow():
    net = residual_block(shape=(8, 8, 8))
    one = fit.fit(net, RTLSettings(fit=True, max_util=0.5, multiplier="dsp"))
    two = fit.fit(net, RTLSettings(fit=True, max_util=0.5))  # "auto", the default when fitting
    assert set(one.multipliers.values()) == {"dsp"}
    assert two.multipliers == {"c1": "dsp2", "c2": "dsp2", "fc": "dsp"}  # the dense has 3 outputs: no pairs
    assert two.plan.interval_cycles < one.plan.interval_cycles and two.predicted["dsp"] <= 0.5 * 220
    # under a budget that only one product per DSP48 meets (a packed layer cannot go slower than PO = 2, so
    # its slowest plan has twice the lanes and a larger MAC pipeline): the planner falls back to one product
    slowest = fit._targets(net)[-1]
    alone = max(fit._evaluate(net, RTLSettings(fit=True, multiplier="dsp"), slowest, chosen_part()).utilization.values())
    packed = max(fit._evaluate(net, RTLSettings(fit=True), slowest, chosen_part()).utilization.values())
    assert alone < packed
    assert set(fit.fit(net, RTLSettings(fit=True, max_util=(alone + packed) / 2)).multipliers.values()) == {"dsp"}
    # the limit: the convs' MACs at two per DSP48, the dense's at one
    macs = {c.name: c.macs for c in two.plan.convs.values()}
    assert two.device_limit_interval == -(-(macs["c1"] / 2 + macs["c2"] / 2 + macs["fc"]) // 220)
    assert one.device_limit_interval == -(-sum(macs.values()) // 220)


def test_fitting_moves_narrow_weights_to_lut_multipliers_when_dsps_run_out():
    from skipless.fixed import FixedType

    net = residual_block(shape=(8, 8, 8), weight_type=FixedType(4, 2, True))
    chosen = fit.fit(net, RTLSettings(fit=True, max_util=0.5))
    assert "lut" not in chosen.multipliers.values()  # room enough: no LUT multipliers
    fc_dsps = chosen.plan.convs["fc"].multipliers  # the dense keeps 6-bit weights: never moved
    tight = RTLSettings(fit=True, max_util=(fc_dsps + 1) / 220)  # DSP48s for the dense alone
    squeezed = fit._evaluate(net, tight, chosen.cycles_per_layer, chosen_part())
    assert squeezed.multipliers == {"c1": "lut", "c2": "lut", "fc": chosen.multipliers["fc"]}
    assert squeezed.predicted["dsp"] == fc_dsps and squeezed.features["lut_multiplier_bits"] > 0
    assert squeezed.predicted["lut"] > chosen.predicted["lut"]
    # 6-bit weights are not moved: the DSPs stay over budget and the plan does not fit
    wide = fit._evaluate(residual_block(shape=(8, 8, 8)), tight, chosen.cycles_per_layer, chosen_part())
    assert "lut" not in wide.multipliers.values() and not wide.fits


@pytest.mark.parametrize(  # PI x PO 8x1, 8x4, 8x8 (and the dense 8x3)
    "max_util", [pytest.param(0.16, marks=pytest.mark.slow), 0.3, pytest.param(0.85, marks=pytest.mark.slow)])
def test_every_planner_choice_is_bit_exact_under_gaps_and_backpressure(max_util, tmp_path, simulator):
    reason = cosim.available(simulator)
    if reason:
        pytest.skip(reason)
    net = residual_block(shape=(8, 8, 8))
    design = rtl.write_design(net, tmp_path / "d", RTLSettings(fit=True, max_util=max_util), log=lambda *a: None)
    x = random_input(net, 4)
    want = reference.predict(net, net.input.type.to_mantissa(x))
    result = cosim.cosim(design, x, simulator=simulator, seed=2, gap_prob=0.3, stall_prob=0.3, expected=want, log=lambda *a: None)
    assert result.mismatches == []
    np.testing.assert_array_equal(result.outputs.reshape(len(x), -1), np.asarray(want).reshape(len(x), -1))


def test_a_refit_reads_the_designs_features_and_recovers_an_exact_linear_law(tmp_path, monkeypatch):
    """`skipless synth --calibrate-cost`: rows from each report and its design.json; a planted law (counts an exact
    linear function of the features) is recovered, so every prediction equals its count; other flows are refused."""
    pairs = []
    for i, util in enumerate((0.16, 0.18, 0.3, 0.5, 0.85)):
        for seed in (0, 1):
            net = residual_block(shape=(8, 8, 8 if seed == 0 else 4), seed=seed)
            design = rtl.write_design(net, tmp_path / f"d{i}_{seed}", RTLSettings(fit=True, max_util=util, allow_overfit=True),
                                      log=lambda *a: None)
            f = design.info["fit"]["features"]
            # the MAC pipeline is counted, not fitted: the law holds for what Yosys adds beyond it
            law = {"lut": 2 * f["layers"] + 3 * f["stream_bits"] + 5 * f["bram18_geometry"] + 100 + f["tree_adder_bits"],
                   "ff": f["lut_memory_bits"] + 4 * f["layers"] - 2 * f["dsp"] + f["bram18_geometry"] + 7 + f["pipeline_ff"],
                   "dsp": f["dsp"], "bram18": 2 * f["bram18_geometry"] + f["stream_bits"] + f["lane_bits"] + 1}
            report = {"id": f"d{i}_{seed}", "flow": "yosys", "resources": law, "tool": {"version": "Yosys test"},
                      "provenance": {"git_commit": "test"}}
            pairs.append((report, design.info))
    fixed = rtl.write_design(net, tmp_path / "fixed", log=lambda *a: None)  # a plan the model does not choose
    monkeypatch.setenv("SKIPLESS_HOME", str(tmp_path / "ws"))
    shipped = cost.calibration_label()
    assert shipped.startswith("shipped ")
    path = cost.write_calibration(pairs)
    assert path == tmp_path / "ws" / "benchmarks" / "results" / "cost_calibration.json"
    for design_id, by_resource in cost.calibration_error().items():
        assert all(v["predicted"] == v["yosys"] for v in by_resource.values()), (design_id, by_resource)
    assert cost.calibration_label().startswith("workspace refit ") and cost.calibration_label() != shipped
    # the refit changes what design.json predicts, not the hardware's identity (synthesis and co-simulation
    # results are keyed by it)
    again = rtl.write_design(net, tmp_path / "fixed", log=lambda *a: None)
    assert again.content_hash == fixed.content_hash
    assert again.info["fit"]["calibration"] == cost.calibration_label() != fixed.info["fit"]["calibration"]
    assert again.info["fit"]["predicted"] != fixed.info["fit"]["predicted"]
    assert rtl.RTLDesign.load(again.path).info["fit"]["calibration"] == cost.calibration_label()
    assert set(cost.calibration_error()) == {f"d{i}_{seed} --fit" for i in range(5) for seed in (0, 1)}
    # the law holds on every row left out of the fit, and on the reports themselves (`synth --check-cost`);
    # a report 10 % over the law's LUTs is found 9.1 % under by the model
    for by_resource in [*cost.leave_one_out().values(), *cost.against_reports(pairs).values()]:
        assert all(v["predicted"] == v["yosys"] for v in by_resource.values()), by_resource
    report, design_info = pairs[0]
    off = {**report, "resources": {**report["resources"], "lut": round(report["resources"]["lut"] * 1.1)}}
    assert cost.against_reports([(off, design_info)])["d0_0 --fit"]["lut"]["error_pct"] == -9.1
    assert "d0_0 --fit" in cost.error_table("t", cost.against_reports([(off, design_info)])) and "LUT 9.1%" in \
        cost.error_table("t", cost.against_reports([(off, design_info)]))
    # one network at the default plan and fitted: two reports, two names (not one overwriting the other)
    default_plan = {**design_info, "settings": {**design_info["settings"], "fit": False}}
    assert set(cost.against_reports([(off, design_info), (off, default_plan)])) == {"d0_0 --fit", "d0_0"}
    with pytest.raises(SkiplessError, match="only Yosys reports"):
        cost.write_calibration([({**pairs[0][0], "flow": "vendor"}, pairs[0][1])] + pairs[1:])
    with pytest.raises(SkiplessError, match=r"two reports of d0_0 --fit: give each design \(and plan\) once"):
        cost.write_calibration(pairs + pairs[:1])
    path.write_text("{not json")
    with pytest.raises(SkiplessError, match=r"not a calibration file .*calibrate-cost`, or delete it"):
        cost.calibration()
    path.unlink()
    assert cost.calibration_label() == shipped


@pytest.mark.parametrize("n", [2, 3, 17, 33])
def test_the_counted_adder_tree_is_the_one_yosys_elaborates(n, tmp_path):
    """cost.adder_tree (registers and adders the resource model counts) against skl_addtree as Yosys reads it."""
    import subprocess

    from skipless.rtl.design import library_text
    from skipless.tools import find_yosys

    try:
        cmd = find_yosys()
    except SkiplessError as e:
        pytest.skip(str(e))
    (tmp_path / "lib.v").write_text(library_text())
    script = f"read_verilog lib.v\nhierarchy -top skl_addtree -chparam N {n} -chparam W 20\nproc\nflatten\nopt_clean\ntee -o stat.json stat -json\n"
    (tmp_path / "t.ys").write_text(script)
    proc = subprocess.run([*cmd, "-q", "-s", "t.ys"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    stats = json.loads((tmp_path / "stat.json").read_text())
    top = stats.get("design") or next(iter(stats["modules"].values()))
    cells = top["num_cells_by_type"]
    levels, registers, adders = cost.adder_tree(n)
    assert cells.get("$add", 0) == adders
    assert sum(v for k, v in cells.items() if k.startswith("$dff") or k.startswith("$sdff")) == registers
    assert levels == (n - 1).bit_length()
