"""The results store, the baseline comparison and the report (no TensorFlow needed)."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from skipless.bench import compare as cmp
from skipless.bench import store
from skipless.bench.store import History, check_record, latest, load_results, make_record, write_result
from skipless.cli import main
from skipless.errors import SkiplessError


def rec(case, kind, metrics, date="2026-01-01T00:00:00+00:00", run="run-1", **params):
    return {"case": case, "kind": kind, "metrics": metrics, "params": params,
            "provenance": {"date": date, "git_commit": "abc"}, "run_id": run}


# ---------------------------------------------------------------- store


def test_write_and_load_round_trip(tmp_path):
    record = make_record("r8-skip-w8a8", "accuracy", {"test_accuracy": 91.57}, {"method": "normal"}, seed=0)
    path = write_result(record, tmp_path)
    assert path.parent == tmp_path and "r8-skip-w8a8" in path.name
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    (back,) = load_results(tmp_path)
    assert back["metrics"] == {"test_accuracy": 91.57} and back["params"] == {"method": "normal"}
    assert back["provenance"]["seed"] == 0 and back["provenance"]["tools"]["python"]
    assert back["run_id"] == store.run_id()


def test_store_locations_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKIPLESS_RESULTS_DIR", str(tmp_path / "env-runs"))
    monkeypatch.setenv("SKIPLESS_HISTORY_DB", str(tmp_path / "env.sqlite"))
    path = store.save(rec("r8-noskip-w8a8", "csim", {"images_per_s": 3.0}))
    assert path.parent == tmp_path / "env-runs"
    assert len(load_results()) == 1
    with History() as hist:
        assert hist.path == tmp_path / "env.sqlite" and len(hist.rows()) == 1


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(store.os, "replace", refuse)
    with pytest.raises(OSError):
        write_result(rec("r8-skip-w8a8", "csim", {"images_per_s": 3.0}), tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", ["{not json", '{"case": "r8-skip-w8a8", "kind": "csim"}', "[1, 2]"])
def test_bad_result_file_is_named(tmp_path, content):
    write_result(rec("r8-skip-w8a8", "csim", {"images_per_s": 3.0}), tmp_path)
    (tmp_path / "zz-broken.json").write_text(content)
    with pytest.raises(SkiplessError, match="zz-broken.json"):
        load_results(tmp_path)


@pytest.mark.parametrize(
    "record, message",
    [
        (rec("r8-skip-w8a8", "speed", {"x": 1}), "kind 'speed' is not one of"),
        (rec("r8-skip-w8a8", "synth", {"LUT": "many"}), "metric 'LUT'"),
        (rec("r8-skip-w8a8", "synth", {"LUT": float("nan")}), "finite numbers"),
        (rec("r8-skip-w8a8", "synth", {"ok": True}), "metric 'ok'"),
        (rec("r8-skip-w8a8", "synth", {}), "non-empty"),
        (rec("", "synth", {"LUT": 1}), "'case' must be"),
        ({"kind": "synth", "metrics": {"LUT": 1}}, "lacks 'case'"),
    ],
)
def test_bad_records_are_refused(record, message):
    with pytest.raises(SkiplessError, match=message):
        check_record(record)


def test_latest_keeps_newest_per_case_kind_and_setting():
    old = rec("r8-skip-w8a8", "synth", {"LUT": 100}, date="2026-01-01T00:00:00+00:00", flow="yosys")
    new = rec("r8-skip-w8a8", "synth", {"LUT": 90}, date="2026-01-02T00:00:00+00:00", flow="yosys")
    vendor = rec("r8-skip-w8a8", "synth", {"LUT": 70}, flow="vitis")
    newest = latest([old, vendor, new])
    assert newest[("r8-skip-w8a8", "synth", "flow=yosys")]["metrics"] == {"LUT": 90}
    assert newest[("r8-skip-w8a8", "synth", "flow=vitis")]["metrics"] == {"LUT": 70}


def test_history_one_row_per_metric(tmp_path):
    with History(tmp_path / "h.sqlite") as hist:
        assert hist.add(rec("r8-skip-w8a8", "synth", {"LUT": 100, "FF": 50}, flow="yosys")) == 2
        rows = hist.rows()
    assert {(r["case"], r["kind"], r["setting"], r["metric"], r["value"]) for r in rows} == {
        ("r8-skip-w8a8", "synth", "flow=yosys", "LUT", 100.0),
        ("r8-skip-w8a8", "synth", "flow=yosys", "FF", 50.0),
    }


def test_history_record_is_all_or_nothing(tmp_path):
    db = tmp_path / "h.sqlite"
    with History(db) as hist:
        hist.add(rec("r8-skip-w8a8", "synth", {"LUT": 100}, run="night-1"))
        # a failure planted in the database itself: the second metric's insert aborts
        hist.conn.execute("CREATE TRIGGER planted BEFORE INSERT ON results WHEN NEW.metric = 'boom' "
                          "BEGIN SELECT RAISE(ABORT, 'planted failure'); END")
        with pytest.raises(SkiplessError, match="nothing of this record was written"):
            hist.add(rec("r8-noskip-w8a8", "synth", {"aaa_first": 1, "boom": 2, "zzz_last": 3}, run="night-2"))
        hist.add(rec("r8-short-w8a8", "synth", {"LUT": 90}, run="night-2"))  # the connection goes on and commits
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT run_id, case_id, metric FROM results ORDER BY case_id").fetchall()
    # aaa_first went in before the failure and was rolled back, not committed by the next record
    assert rows == [("night-2", "r8-short-w8a8", "LUT"), ("night-1", "r8-skip-w8a8", "LUT")]


def test_corrupt_history_is_named(tmp_path):
    db = tmp_path / "h.sqlite"
    db.write_bytes(b"this is not an sqlite file" * 100)
    with pytest.raises(SkiplessError, match="h.sqlite"):
        History(db)


def test_save_writes_json_and_history(tmp_path):
    path = store.save(rec("r8-skip-w8a8", "accuracy", {"test_accuracy": 91.0}), tmp_path / "runs", tmp_path / "h.sqlite")
    assert path.exists()
    with History(tmp_path / "h.sqlite") as hist:
        assert [r["value"] for r in hist.rows("test_accuracy")] == [91.0]


# ---------------------------------------------------------------- metric classes and comparison


@pytest.mark.parametrize(
    "name, cls",
    [
        ("latency_cycles", cmp.LATENCY), ("BestLatency", cmp.LATENCY), ("IntervalMax", cmp.LATENCY),
        ("LUT", cmp.RESOURCE), ("FF", cmp.RESOURCE), ("DSP48E", cmp.RESOURCE), ("BRAM_18K", cmp.RESOURCE),
        ("RAMB36E1", cmp.RESOURCE), ("ramb18", cmp.RESOURCE), ("URAM", cmp.RESOURCE), ("CARRY4", cmp.RESOURCE),
        ("fifo_bits", cmp.RESOURCE),
        ("test_accuracy", cmp.ACCURACY), ("acc_top1", cmp.ACCURACY),
        ("csim_match", cmp.AGREEMENT), ("cosim_match", cmp.AGREEMENT),
        ("images_per_s", cmp.TOOL_SPEED), ("cycles_per_s", cmp.TOOL_SPEED), ("speedup", cmp.TOOL_SPEED),
        ("diffusion", cmp.OTHER), ("parameters", cmp.OTHER),
    ],
)
def test_metric_class_by_name(name, cls):
    assert cmp.metric_class(name) is cls


BASE = [
    rec("r8-skip-w8a8", "synth", {"LUT": 1000, "BRAM_18K": 20, "latency_cycles": 5000, "DSP48E": 10}, flow="yosys"),
    rec("r8-skip-w8a8", "accuracy", {"test_accuracy": 91.5}, method="normal"),
    rec("r8-skip-w8a8", "csim", {"csim_match": 1.0, "images_per_s": 16.0}),
]


def status_of(comparison, metric):
    (row,) = [r for r in comparison.rows if r.metric == metric]
    return row.status


@pytest.mark.parametrize(
    "kind, metric, value, status",
    [
        ("synth", "LUT", 1101, "regression"),  # +10.1 % > 10 %
        ("synth", "LUT", 1090, "ok"),
        ("synth", "LUT", 800, "improvement"),
        ("synth", "latency_cycles", 5150, "regression"),  # +3 % > 2 %
        ("synth", "latency_cycles", 5050, "ok"),
        ("accuracy", "test_accuracy", 90.4, "regression"),  # -1.1 points
        ("accuracy", "test_accuracy", 90.6, "ok"),
        ("accuracy", "test_accuracy", 92.6, "improvement"),
        ("csim", "csim_match", 0.99, "regression"),  # agreement: no tolerance at all
        ("csim", "images_per_s", 4.0, "info"),  # tool speed never fails
    ],
)
def test_tolerances(kind, metric, value, status):
    current = [dict(r, metrics=dict(r["metrics"])) for r in BASE]
    (target,) = [r for r in current if r["kind"] == kind]
    target["metrics"][metric] = value
    comparison = cmp.compare(current, {"records": BASE})
    assert status_of(comparison, metric) == status
    assert comparison.failed == (status == "regression")
    others = [r.status for r in comparison.rows if r.metric != metric]
    assert set(others) <= {"ok", "info"}


def test_missing_and_new_metrics_are_reported_not_failed():
    current = [rec("r8-skip-w8a8", "synth", {"LUT": 1000, "BRAM_18K": 20, "latency_cycles": 5000, "FF": 3},
                   flow="yosys")]
    comparison = cmp.compare(current, {"records": BASE})
    assert status_of(comparison, "DSP48E") == "missing"
    assert status_of(comparison, "FF") == "new"
    assert status_of(comparison, "test_accuracy") == "missing"  # the whole accuracy record is absent
    assert not comparison.failed


def test_table_lists_regressions_then_improvements():
    current = [rec("r8-skip-w8a8", "synth", {"LUT": 500, "BRAM_18K": 30, "latency_cycles": 5000, "DSP48E": 10},
                   flow="yosys")]
    lines = cmp.compare(current, {"records": BASE}).table().splitlines()
    assert lines[1].startswith("REGRESSION") and "BRAM_18K" in lines[1] and "+50.00%" in lines[1]
    assert lines[2].startswith("improvement") and "LUT" in lines[2] and "-50.00%" in lines[2]
    assert "1 regression, 1 improvement" in lines[-1]


def write_records(folder, records):
    for r in records:
        write_result(r, folder)


def test_cli_compare_exit_codes_and_baseline_update(tmp_path, capsys):
    runs, baseline = tmp_path / "runs", tmp_path / "baseline.json"
    write_records(runs, BASE)
    assert main(["bench", "baseline", "--update", "--results", str(runs), "--baseline", str(baseline)]) == 0
    assert len(json.loads(baseline.read_text())["records"]) == 3
    assert main(["bench", "compare", "--results", str(runs), "--baseline", str(baseline)]) == 0

    worse = rec("r8-skip-w8a8", "synth", {"LUT": 1200, "BRAM_18K": 20, "latency_cycles": 5000, "DSP48E": 10},
                date="2026-02-01T00:00:00+00:00", flow="yosys")
    write_records(runs, [worse])
    capsys.readouterr()
    assert main(["bench", "compare", "--results", str(runs), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("REGRESSION") and "LUT" in out.splitlines()[1]

    # a deliberate update takes the newest result per case; records without a new result are kept
    only_synth = tmp_path / "only-synth"
    write_records(only_synth, [worse])
    assert main(["bench", "baseline", "--update", "--results", str(only_synth), "--baseline", str(baseline)]) == 0
    records = json.loads(baseline.read_text())["records"]
    assert len(records) == 3 and all(not k.startswith("_") for r in records for k in r)
    assert main(["bench", "compare", "--results", str(runs), "--baseline", str(baseline)]) == 0
    assert main(["bench", "baseline", "--update", "--prune", "--results", str(only_synth),
                 "--baseline", str(baseline)]) == 0
    assert len(json.loads(baseline.read_text())["records"]) == 1


def test_cli_bad_baseline_is_one_line(tmp_path):
    runs = tmp_path / "runs"
    write_records(runs, BASE)
    (tmp_path / "bad.json").write_text("{")
    for baseline, message in ((tmp_path / "absent.json", "bench baseline --update"), (tmp_path / "bad.json", "bad.json")):
        result = subprocess.run([sys.executable, "-m", "skipless.cli", "bench", "compare", "--results", str(runs),
                                 "--baseline", str(baseline)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_cli_compare_without_results_says_what_to_do(tmp_path, capsys):
    assert main(["bench", "compare", "--results", str(tmp_path / "none"), "--baseline", str(tmp_path / "b.json")]) == 2
    assert "pytest benchmarks" in capsys.readouterr().err


def synth_report(design="r8-noskip-w8a8", flow="yosys", lut=800):
    """A report in the schema of skipless.synth.report (synth_<flow>.json)."""
    return {
        "schema": 1, "id": design, "flow": flow, "tool": {"name": "yosys", "version": "0.23"}, "part": "xc7z020clg400-1",
        "clock_period_ns": 6.667, "resources": {"lut": lut, "ff": 900, "carry": 40, "dsp": 0, "bram18": 12, "uram": None},
        "utilization": {"lut": 1.5, "ff": 0.85, "dsp": 0.0, "bram18": 4.29, "uram": None}, "timing": {"target_ns": 6.667, "estimated_ns": None},
        "latency": {"cycles": 4000, "us": 26.668, "best": None, "worst": None, "source": "cosim"},
        "interval": {"cycles": None, "min": None, "max": None}, "fifo": {"depths": {}, "bits": 2048, "share_of_memory": 0.1},
        "notes": ["Yosys counts are estimates"], "cache": {"key": "k"}, "provenance": {"date": "2026-01-01T00:00:00+00:00"},
        "seconds": 12.0,
    }


def test_synth_report_becomes_a_record():
    from skipless.bench.adapters import synth_record

    record = synth_record(synth_report())
    assert record["case"] == "r8-noskip-w8a8" and record["kind"] == "synth"
    assert record["metrics"] == {"lut": 800, "ff": 900, "carry": 40, "dsp": 0, "bram18": 12, "latency_cycles": 4000,
                                 "latency_us": 26.668, "fifo_bits": 2048}  # nulls left out
    assert store.setting(record) == "flow=yosys,tool=yosys,part=xc7z020clg400-1,clock_period=6.667"
    assert {cmp.metric_class(m) for m in record["metrics"]} == {cmp.RESOURCE, cmp.LATENCY}
    # the fit planner's design is another result than the default plan's: both survive in the store
    fitted = synth_record({**synth_report(), "plan": "fit", "resources": {**synth_report()["resources"], "lut": 700}})
    assert store.setting(fitted) == "flow=yosys,tool=yosys,part=xc7z020clg400-1,clock_period=6.667,plan=fit"
    assert len(latest([record, fitted])) == 2


def test_cli_ingest_synth_reports(tmp_path, capsys):
    good, bad = tmp_path / "synth_yosys.json", tmp_path / "synth_vitis.json"
    good.write_text(json.dumps(synth_report()))
    bad.write_text(json.dumps({"flow": "vitis"}))
    args = ["bench", "ingest", "--results", str(tmp_path / "runs"), "--history", str(tmp_path / "h.sqlite")]
    assert main([*args, str(good), str(bad)]) == 2
    assert "synth_vitis.json" in capsys.readouterr().err and not (tmp_path / "runs").exists()  # all or nothing
    assert main([*args, str(good)]) == 0
    (record,) = load_results(tmp_path / "runs")
    assert record["metrics"]["lut"] == 800
    with History(tmp_path / "h.sqlite") as hist:
        assert len(hist.rows()) == 8


# ---------------------------------------------------------------- report


def test_pareto_front():
    from skipless.bench.plots import pareto_front

    #            0: cheap, poor  1: dominated by 0  2: best      3: costly, best acc  4: equal to 2
    points = [(100, 80.0), (120, 79.0), (150, 90.0), (300, 91.0), (150, 90.0)]
    assert pareto_front(points) == [0, 2, 4, 3]


def report_inputs(tmp_path):
    runs, db = tmp_path / "runs", tmp_path / "h.sqlite"
    records = []
    for skip, lut, bram, acc in (("skip", 1000, 20, 91.5), ("noskip", 800, 12, 91.4), ("short", 1100, 16, 90.9)):
        case = f"r8-{skip}-w8a8"
        records.append(rec(f"{case}.normal", "synth", {"LUT": lut, "BRAM_18K": bram, "latency_cycles": 4000},
                           flow="yosys"))
        records.append(rec(case, "accuracy", {"test_accuracy": acc}, method="normal"))
    # a random-weight design of the same variant: it has resources but no accuracy of its own
    records.append(rec("r8-skip-w8a8", "synth", {"LUT": 500, "BRAM_18K": 5, "latency_cycles": 4000}, flow="yosys"))
    write_records(runs, records)
    with History(db) as hist:
        for night, lut in (("n1", 1000), ("n2", 990)):
            hist.add(rec("r8-skip-w8a8", "synth", {"LUT": lut, "images_per_s": 3}, date=f"2026-01-0{night[1]}T00:00:00",
                         run=night, flow="yosys"))
    return runs, db


def test_report_sections_from_data(tmp_path):
    from skipless.bench.report import write_report

    runs, db = report_inputs(tmp_path)
    index = write_report(tmp_path / "report", runs, db, tmp_path / "absent-ablation.json", tmp_path / "no-baseline.json")
    md = (index.parent / "report.md").read_text()
    html = index.read_text()
    figures = sorted(p.name for p in index.parent.glob("fig-*.png"))
    assert len(figures) == 4, figures  # accuracy vs LUT and vs BRAM, one savings chart, LUT history
    assert all(f'src="{f}"' in html and f"]({f})" in md for f in figures)
    # noskip (800 LUT, 91.4 %) and skip (1000 LUT, 91.5 %) are on the LUT front; short (1100, 90.9 %) is not
    assert "| r8-noskip-w8a8.normal | 800 | 91.4 | yes |" in md
    assert "| r8-skip-w8a8.normal | 1000 | 91.5 | yes |" in md
    assert "| r8-short-w8a8.normal | 1100 | 90.9 |  |" in md
    # the random-weight r8-skip-w8a8 (500 LUT) does not borrow the trained artifact's accuracy
    assert "| 500 |" not in md.split("## Accuracy against resources")[1].split("\n## ")[0]
    assert "| LUT | 1000 | 800 | +20.0 | 1100 | -10.0 |" in md  # savings against the skip design
    assert "2 run(s)" in md and "images_per_s" not in md.split("## History")[1]  # tool speed is not a key metric
    assert md.count("No data yet") == 2  # only the baseline and the ablation


def test_report_without_data_says_so(tmp_path):
    from skipless.bench.report import write_report

    index = write_report(tmp_path / "report", tmp_path / "none", tmp_path / "none.sqlite", tmp_path / "none.json",
                         tmp_path / "no-baseline.json")
    md = (index.parent / "report.md").read_text()
    assert md.count("No data yet") == 7
    assert not (tmp_path / "none.sqlite").exists()  # reporting does not create a history
    assert "No data yet" in index.read_text()


def test_report_reads_the_ablation_table(tmp_path):
    from skipless.bench.report import ablation_json, write_report

    index = write_report(tmp_path / "report", tmp_path / "none", tmp_path / "none.sqlite", ablation_json(),
                         tmp_path / "no-baseline.json")
    md = (index.parent / "report.md").read_text()
    rows = json.loads(ablation_json().read_text())["rows"]
    first = rows[0]
    assert f"| r{first['depth']} | {first['quant']} | {first['method']} | {first['mean']:.2f} ± {first['std']:.2f} |" in md
    assert len(list(index.parent.glob("fig-ablation-*.png"))) == len({(r["depth"], r["quant"]) for r in rows})


def test_corrupt_ablation_is_named(tmp_path):
    from skipless.bench.report import write_report

    bad = tmp_path / "ablation.json"
    bad.write_text('{"rows": [{"depth": 8}]}')
    with pytest.raises(SkiplessError, match="ablation.json"):
        write_report(tmp_path / "report", tmp_path / "none", tmp_path / "none.sqlite", bad, tmp_path / "no-baseline.json")


def test_report_command(tmp_path, capsys):
    runs, db = report_inputs(tmp_path)
    out = tmp_path / "out"
    assert main(["report", "--results", str(runs), "--history", str(db), "--out", str(out)]) == 0
    assert (out / "index.html").exists() and (out / "report.md").exists()
    assert str(out / "index.html") in capsys.readouterr().out


CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no headless Chromium on PATH (apt-get install chromium) to render the report")
def test_report_renders_in_headless_chromium(tmp_path):
    import numpy as np
    from matplotlib.image import imread

    from skipless.bench.report import write_report

    runs, db = report_inputs(tmp_path)
    index = write_report(tmp_path / "report", runs, db, tmp_path / "absent.json", tmp_path / "no-baseline.json")
    shot = tmp_path / "shot.png"
    args = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1600",
            f"--screenshot={shot}", index.as_uri()]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to run its sandbox as root
    subprocess.run(args, capture_output=True, timeout=120, check=False)
    assert shot.exists() and shot.stat().st_size > 0, "Chromium wrote no screenshot"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(shot)[..., :3]
    assert (pixels < 0.5).mean() > 0.005  # text and plots drawn, not a blank page
    assert np.unique(pixels.reshape(-1, 3), axis=0).shape[0] > 50  # colours of the figures, not only text


# ---------------------------------------------------------------- the report's top: regressions, headline, verdict


def grid_records(lut_skip=21418, acc_skip=91.57, latency_skip=110936, date="2026-01-01T00:00:00+00:00", version="0.23"):
    """Records of one trained r8 w8a8 cell (accuracy, synthesis on the xc7z020, a test-set co-simulation)."""
    out = []
    for skip, method, lut, bram, dsp, acc, latency in (("skip", "qat", lut_skip, 72, 167, acc_skip, latency_skip),
                                                        ("noskip", "iter-kept", 16341, 67, 163, 91.46, 110930),
                                                        ("short", "shorten", 22967, 68, 167, 90.93, 110942)):
        design = f"r8-{skip}-w8a8.{method}"
        out.append(rec(design, "accuracy", {"test_accuracy": acc}, date=date, method=method, dataset="fashion_mnist"))
        out.append(rec(design, "synth", {"lut": lut, "ff": 20000, "dsp": dsp, "bram18": bram, "latency_cycles": latency,
                                         "latency_us": latency * 6.667 / 1000, "interval_cycles": 73728}, date=date,
                       flow="yosys", part="xc7z020clg400-1", tool="yosys", tool_version=version, clock_period=6.667))
        out.append(rec(design, "cosim", {"rtl_match": 1.0, "rtl_mismatches": 0}, date=date, simulator="verilator",
                       test_images=10000))
    return out


def test_a_planted_regression_is_at_the_top_of_the_report_and_in_the_job_summary(tmp_path, capsys):
    """LUT +20 %, accuracy -2 points, latency +5 % (cycles and µs) on r8-skip-w8a8: all are named before anything else."""
    from skipless.bench.report import summary_markdown, write_report

    runs, baseline = tmp_path / "runs", tmp_path / "baseline.json"
    write_records(tmp_path / "base", grid_records())
    cmp.update_baseline(load_results(tmp_path / "base"), baseline)
    write_records(runs, grid_records(lut_skip=21418 * 1.2, acc_skip=89.57, latency_skip=110936 * 1.05,
                                     date="2026-02-01T00:00:00+00:00"))
    index = write_report(tmp_path / "report", runs, tmp_path / "h.sqlite", tmp_path / "none.json", baseline)
    html = index.read_text()
    top = html[: html.index("<h2>Headline")]
    assert top.index("<h2>Against the baseline") < top.index("REGRESSIONS")
    for metric in ("<td>lut</td>", "<td>test_accuracy</td>", "<td>latency_cycles</td>", "<td>latency_us</td>"):
        assert metric in top, metric
    assert "4 regression," in top.replace("<strong>", "").replace("</strong>", "")
    summary = summary_markdown(index.with_name("report.md"))
    assert "REGRESSIONS" in summary and "| r8-skip-w8a8.qat | synth |" in summary and "Verdict" in summary
    assert "![" not in summary
    assert main(["bench", "compare", "--results", str(runs), "--baseline", str(baseline), "--markdown"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### Regressions beyond tolerance") and out.count("| r8-skip-w8a8.qat |") == 4


def test_the_headline_table_and_verdict(tmp_path):
    from skipless.bench import headline

    rows = headline.headline_rows(grid_records())
    assert [r.design for r in rows] == ["r8-skip-w8a8.qat", "r8-noskip-w8a8.iter-kept", "r8-short-w8a8.shorten"]
    header, cells = headline.table(rows)
    noskip = dict(zip(header, cells[1], strict=True))
    assert noskip["Δ acc (pt)"] == "-0.11" and noskip["LUT"] == "16 341 (-23.7 %)" and noskip["fits"] == "yes (74 % DSP)"
    assert noskip["RTL-verified images"] == "10000 (0 mismatches)"
    [verdict] = headline.verdicts(rows)
    assert verdict.startswith("r8: w8a8: noskip wins (noskip: accuracy -0.11 pt, LUT -23.7 %, BRAM -6.9 %")
    # a design beyond the part never wins, and the verdict says so
    big = headline.headline_rows(grid_records())
    big[1].utilization["dsp"] = 2.5
    assert headline.winner(big).skip == "skip" and "not every design fits" in headline.verdicts(big)[0]


def test_the_headline_fills_microseconds_names_older_rtl_runs_and_judges_no_lone_design():
    from skipless.bench import headline

    records = grid_records()
    for r in records:  # a synthesis report made before its co-simulation has cycles but no microseconds
        if r["kind"] == "synth":
            r["metrics"].pop("latency_us")
    rows = headline.headline_rows(records)
    assert rows[0].latency_us == pytest.approx(110936 * 6.667 / 1000)
    # the committed table of RTL verification runs: a larger run than the records is shown, with its RTL's commit
    verified = {"r8-skip-w8a8.qat": {"images": 20000, "mismatches": 0, "provenance": {"git_commit": "5b5fca4aaaa"}},
                "r8-noskip-w8a8.iter-kept": {"images": 5, "mismatches": 0, "provenance": {"git_commit": "1234567"}}}
    header, cells = headline.table(headline.headline_rows(records, rtl_verified=verified))
    col = header.index("RTL-verified images")
    assert cells[0][col] == "20000 (0 mismatches, RTL of 5b5fca4)" and cells[1][col] == "10000 (0 mismatches)"
    # a cell with one judged design has nothing to compare: no winner
    lone = headline.headline_rows([r for r in records if r["case"].startswith("r8-skip")])
    assert headline.winner(lone) is None and headline.verdicts(lone) == [
        "r8: w8a8: no verdict yet (needs accuracy and synthesis of at least two of skip, noskip and short)"]


def test_a_cell_beyond_the_part_is_compared_at_its_fitted_plan_and_never_mixes_plans():
    from skipless.bench import headline

    records = [r for r in grid_records() if r["kind"] != "cosim"]
    for r in records:  # the default plan needs 550 DSP48s: beyond the xc7z020's 220
        if r["kind"] == "synth":
            r["metrics"]["dsp"] = 550
    fitted = {"r8-skip-w8a8.qat": (15000, 180), "r8-noskip-w8a8.iter-kept": (12000, 178), "r8-short-w8a8.shorten": (16000, 180)}
    for design, (lut, dsp) in fitted.items():
        records.append(rec(design, "synth", {"lut": lut, "ff": 20000, "dsp": dsp, "bram18": 60, "interval_cycles": 73728},
                           flow="yosys", part="xc7z020clg400-1", clock_period=6.667, plan="fit"))
        records.append(rec(design, "cosim", {"rtl_match": 1.0, "rtl_mismatches": 0, "latency_cycles": 150000},
                           simulator="verilator", test_images=2, plan="fit"))
    rows = headline.headline_rows(records, rtl_verified={"r8-skip-w8a8.qat": {"images": 10000, "mismatches": 0},
                                                         "r8-skip-w8a8.qat@fit": {"images": 50, "mismatches": 0}})
    assert [(r.plan, r.resources["lut"], r.resources["dsp"], r.latency_cycles) for r in rows] == [
        ("fit", 15000, 180, 150000), ("fit", 12000, 178, 150000), ("fit", 16000, 180, 150000)]
    assert rows[0].fit_text() == "yes (82 % DSP, fitted plan)" and rows[0].rtl_images == 50
    assert headline.winner(rows).skip == "noskip"
    # one design without a fitted synthesis: the cell stays at the default plan, where none fits
    partial = [r for r in records if not (r["case"].startswith("r8-short") and r["params"].get("plan"))]
    rows = headline.headline_rows(partial)
    assert {r.plan for r in rows} == {"default"} and [r.resources["dsp"] for r in rows] == [550, 550, 550]
    assert all(r.fits is False for r in rows)
    # and none of them wins: the fewest LUTs of designs that cannot be built is no answer
    assert headline.winner(rows) is None
    assert headline.verdicts(rows)[0].startswith("r8: w8a8: no winner (no design fits the part at this plan)")
    # a design that fits but is 2 points less accurate than one that does not: it is the best that fits
    rows = headline.headline_rows(partial)
    rows[2].utilization["dsp"], rows[2].accuracy = 0.8, rows[0].accuracy - 2
    assert headline.winner(rows).skip == "short"


def test_a_new_tool_version_reads_as_tool_changed_not_as_a_regression():
    base = grid_records(version="Yosys 0.23")
    worse = grid_records(lut_skip=21418 * 1.3, date="2026-02-01T00:00:00+00:00", version="Yosys 0.70")
    comparison = cmp.compare(worse, base)
    lut = next(r for r in comparison.rows if r.case == "r8-skip-w8a8.qat" and r.metric == "lut")
    assert lut.status == "tool changed" and lut.tool_change == "yosys Yosys 0.23 -> Yosys 0.70"
    assert not comparison.failed
    same_tool = cmp.compare(grid_records(lut_skip=21418 * 1.3, date="2026-02-01T00:00:00+00:00", version="Yosys 0.23"), base)
    assert same_tool.failed  # the same change under the same tool is a regression


def test_on_a_fresh_clone_the_report_shows_the_baseline_and_keeps_tracked_files(tmp_path):
    from skipless.bench.report import write_report

    baseline = tmp_path / "baseline.json"
    write_records(tmp_path / "base", grid_records())
    cmp.update_baseline(load_results(tmp_path / "base"), baseline)
    out = tmp_path / "repo" / "report"
    out.mkdir(parents=True)
    (out / "fig-tracked-old.png").write_bytes(b"committed")
    (out / "fig-untracked-old.png").write_bytes(b"scratch")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path / "repo", check=True)
    subprocess.run([*git, "add", "report/fig-tracked-old.png"], cwd=tmp_path / "repo", check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path / "repo", check=True)
    index = write_report(out, tmp_path / "no-runs", tmp_path / "h.sqlite", tmp_path / "none.json", baseline)
    md = index.with_name("report.md").read_text()
    assert "of the committed baseline" in md and "| r8 | w8a8 | r8-noskip-w8a8.iter-kept | 91.46 | -0.11 |" in md
    assert (out / "fig-tracked-old.png").read_bytes() == b"committed"
    assert not (out / "fig-untracked-old.png").exists()


def test_a_run_that_never_ended_is_reported_as_cut_short(tmp_path):
    from skipless.bench.report import write_report

    runs = tmp_path / "runs"
    write_records(runs, grid_records())
    store.mark_run("start", runs, note="nightly")
    index = write_report(tmp_path / "r", runs, tmp_path / "h.sqlite", tmp_path / "none.json", tmp_path / "nb.json")
    assert "This run was cut short" in index.with_name("report.md").read_text()
    store.mark_run("end", runs)
    index = write_report(tmp_path / "r", runs, tmp_path / "h.sqlite", tmp_path / "none.json", tmp_path / "nb.json")
    assert "cut short" not in index.with_name("report.md").read_text()
    assert len(load_results(runs)) == len(grid_records())  # the status file is not a record


def test_merging_shards_adds_each_record_once_and_only_the_coordinator_writes_the_history(tmp_path):
    shards = []
    for i in range(2):
        folder = tmp_path / f"shard{i}"
        write_records(folder, grid_records(date=f"2026-02-0{i + 1}T00:00:00+00:00")[i::2])
        shards.append(folder)
    db = tmp_path / "h.sqlite"
    assert main(["bench", "merge", *map(str, shards), "--results", str(tmp_path / "runs"), "--history", str(db)]) == 0
    merged = load_results(tmp_path / "runs")
    assert len(merged) == len(grid_records()) and not any(p.name.endswith(".sqlite") for s in shards for p in s.iterdir())
    with History(db) as hist:
        first = len(hist.rows())
    assert store.merge(shards, tmp_path / "runs", db) == (0, len(grid_records()))  # a second merge adds nothing
    with History(db) as hist:
        assert len(hist.rows()) == first
    (shards[0] / "bad.json").write_text("{ torn")
    with pytest.raises(SkiplessError, match="bad.json: not valid JSON"):
        store.merge(shards, tmp_path / "runs2", tmp_path / "h2.sqlite")
    assert not (tmp_path / "runs2").exists()  # checked before anything is written


def test_figures_are_readable():
    """Bars from zero, a date axis with a few ticks (not one per run), wrapped titles inside the figure,
    legends beside the axes (never over the data)."""
    import datetime as dt

    from skipless.bench import plots

    fig = plots.ablation_bars(["skip", "noskip"], [91.0, 90.5], [0.3, 0.4], "r8 w8a8")
    assert fig.axes[0].get_xlim() == (0.0, 100.0)
    dates = [dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=i) for i in range(40)]
    series = {f"case {k} with a long name synth flow=yosys": [float(i + k) for i in range(40)] for k in range(4)}
    fig = plots.history_lines(dates, series, "a_metric_with_a_rather_long_name_latency_cycles")
    fig.canvas.draw()
    ax = fig.axes[0]
    assert len([t for t in ax.get_xticklabels() if t.get_text()]) <= 9
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    title = ax.title.get_window_extent(renderer)
    assert box.x0 <= title.x0 and title.x1 <= box.x1 and title.y1 <= box.y1  # not clipped
    [legend] = fig.legends
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
    fig = plots.accuracy_vs_resource(["a", "b", "c"], [1.0, 2.0, 3.0], [90.0, 91.0, 92.0], "LUT",
                                     "accuracy vs LUT over the whole trained grid, every quantization", ["w8a8", "w4a4", "w8a8"])
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["w8a8", "w4a4", "Pareto front"]  # one colour per quantization
    # the grid's crowded corner (its LUT and accuracy numbers): only the front's designs are named, and
    # their labels do not overlap
    grid = {"r8-noskip-w4a4.iter-kept": (9350, 88.54), "r8-skip-w4a4.qat": (12149, 89.89),
            "r8-noskip-w6a8.iter-kept": (12158, 92.99), "r8-noskip-w8a8.iter-kept": (12573, 93.61),
            "r8-skip-w8a8.qat": (17564, 93.72), "r8-skip-w6a8.qat": (17162, 93.27),
            "r8-noskip-w16a16.iter-kept": (19757, 93.68), "r8-skip-w16a16.qat": (27287, 93.79),
            "r20-noskip-w8a8.iter-kept": (33280, 94.18), "r20-skip-w8a8.qat": (42021, 94.07)}
    fig = plots.accuracy_vs_resource(list(grid), [v[0] for v in grid.values()], [v[1] for v in grid.values()], "LUT",
                                     "accuracy vs LUT", ["q"] * len(grid))
    fig.canvas.draw()
    named = {t.get_text(): t.get_window_extent(fig.canvas.get_renderer()) for t in fig.axes[0].texts}
    assert sorted(named) == sorted(["r8-noskip-w4a4.iter-kept", "r8-skip-w4a4.qat", "r8-noskip-w6a8.iter-kept",
                                    "r8-noskip-w8a8.iter-kept", "r8-skip-w8a8.qat", "r8-skip-w16a16.qat",
                                    "r20-noskip-w8a8.iter-kept"])
    boxes = list(named.values())
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


@pytest.mark.parametrize("cmd", [["bench"], ["bench", "compare"], ["bench", "baseline"], ["bench", "ingest"], ["bench", "run"], ["bench", "merge"], ["report"]])
def test_bench_commands_have_help(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main([*cmd, "--help"])
    assert e.value.code == 0 and "usage: skipless" in capsys.readouterr().out


def test_a_fitted_designs_rtl_run_does_not_replace_the_default_plans_test_set_row(tmp_path, monkeypatch):
    """rtl_verified.json keeps a design's largest run per plan: a 2-image run of the fit planner's RTL (another
    design, another hash) sits beside the default plan's test set instead of replacing it."""
    import argparse

    from skipless.cli.hw import _table_row

    monkeypatch.setenv("SKIPLESS_HOME", str(tmp_path))
    args = argparse.Namespace(rtl="open", n=10000, sim="verilator", gap=0.0, stall=0.0, seed=0)
    _table_row("r20-skip-w8a8.qat", {"images": 10000, "mismatches": 0, "design_hash": "aaa", "plan": "default"}, args)
    args.n = 2
    _table_row("r20-skip-w8a8.qat", {"images": 2, "mismatches": 0, "design_hash": "bbb", "plan": "fit"}, args)
    rows = store.rtl_verified_runs(tmp_path / "benchmarks" / "results" / store.RTL_VERIFIED)
    assert {k: v["images"] for k, v in rows.items()} == {"r20-skip-w8a8.qat": 10000, "r20-skip-w8a8.qat@fit": 2}
    assert rows["r20-skip-w8a8.qat@fit"]["command"].endswith(" --fit")
