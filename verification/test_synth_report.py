"""Vendor (Vitis/Vivado HLS) reports, as hls4ml 1.3 parses them, mapped into skipless's report schema.

The fixture (fixtures/synth/vendor_prj/) is a hand-written project folder in the files and formats
hls4ml's ``parse_vivado_report`` reads; its numbers are test data, consistent with each other: the
Vivado report's Util% columns are what the part table gives.
"""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from skipless.errors import SkiplessError
from skipless.synth import hls_report_to_schema, read_hls_reports, read_report, validate, vendor_flow, write_report
from skipless.synth.report import cached_report

pytestmark = pytest.mark.synth

FIXTURE = Path(__file__).parent / "fixtures" / "synth" / "vendor_prj"
CLOCK = 6.667


@pytest.fixture
def prj(tmp_path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "hls4ml_prj"))


def to_schema(raw, part="xc7z020clg400-1", flow="vitis"):
    return hls_report_to_schema(raw, design_id="r8-noskip-w8a8", flow=flow, part=part, clock_period_ns=CLOCK)


def test_vivado_synthesis_and_cosim_reports_map_into_the_schema(prj):
    report = validate(to_schema(read_hls_reports(prj)))
    # vivado_synth.rpt: Slice LUTs 26480, Slice Registers 19876, DSPs 75, Block RAM Tile 40.5 (33 RAMB36 + 15 RAMB18)
    assert report["resources"] == {"lut": 26480, "ff": 19876, "carry": None, "dsp": 75, "bram18": 2 * 33 + 15,
                                   "uram": None}
    # the report's own Util% column, recomputed from the part table
    assert report["utilization"] == {"lut": 49.77, "ff": 18.68, "dsp": 34.09, "bram18": 28.93, "uram": None}
    # cosim.rpt: Verilog, Pass, latency 11902 (min = max), interval 10242
    assert report["latency"] == {"cycles": 11902, "us": round(11902 * CLOCK / 1000, 4), "best": 11902, "worst": 11902,
                                 "source": "cosim"}
    assert report["interval"] == {"cycles": 10242, "min": 10242, "max": 10242}
    assert report["timing"] == {"target_ns": CLOCK, "estimated_ns": 4.861}
    assert report["flow"] == "vitis" and report["clock_period_ns"] == CLOCK
    assert "Vivado synthesis" in report["notes"][0]


def test_csynth_only_gives_hls_estimates_and_best_worst_latency(prj):
    (prj / "vivado_synth.rpt").unlink()
    shutil.rmtree(prj / "myproject_prj" / "solution1" / "sim")
    report = validate(to_schema(read_hls_reports(prj)))
    assert report["resources"] == {"lut": 30511, "ff": 21034, "carry": None, "dsp": 75, "bram18": 96, "uram": 0}
    assert report["latency"] == {"cycles": 12107, "us": round(12107 * CLOCK / 1000, 4), "best": 11843, "worst": 12107,
                                 "source": "csynth"}
    assert report["interval"] == {"cycles": 10243, "min": 10241, "max": 10243}
    assert report["utilization"]["bram18"] == round(100 * 96 / 280, 2)
    assert "C-synthesis estimate" in report["notes"][0]


def test_vivado_hls_layout_and_dsp48e_tag(prj):
    """Vivado HLS names the solution file vivado_hls.app and the DSP tag DSP48E; hls4ml renames it DSP."""
    (prj / "myproject_prj" / "hls.app").rename(prj / "myproject_prj" / "vivado_hls.app")
    tcl = prj / "project.tcl"
    tcl.write_text(tcl.read_text().replace('set backend "vitis"', 'set backend "vivado"'))
    xml = prj / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    xml.write_text(xml.read_text().replace("<DSP>", "<DSP48E>").replace("</DSP>", "</DSP48E>"))
    (prj / "vivado_synth.rpt").unlink()
    report = validate(to_schema(read_hls_reports(prj), flow="vivado"))
    assert report["resources"]["dsp"] == 75 and report["tool"]["name"] == "Vivado HLS"


def test_an_unknown_part_is_measured_against_the_csynth_totals(prj):
    (prj / "vivado_synth.rpt").unlink()
    report = to_schema(read_hls_reports(prj), part="xc7a200tsbg484-1")
    assert report["utilization"]["lut"] == round(100 * 30511 / 53200, 2)  # AvailableLUT in the csynth.xml
    assert any("not in skipless's part table" in n for n in report["notes"])


def test_broken_projects_and_values_are_clear_errors(prj, tmp_path):
    with pytest.raises(SkiplessError, match="not an hls4ml project.*skipless convert"):
        read_hls_reports(tmp_path / "empty")
    xml = prj / "myproject_prj" / "solution1" / "syn" / "report" / "myproject_csynth.xml"
    xml.write_text(xml.read_text().replace("<LUT>30511</LUT>", "<LUT>lots</LUT>"))
    (prj / "vivado_synth.rpt").unlink()
    with pytest.raises(SkiplessError, match="LUT is 'lots', not a number"):
        to_schema(read_hls_reports(prj))
    (prj / "myproject_prj" / "hls.app").unlink()  # no solution list: hls4ml indexes an empty list
    with pytest.raises(SkiplessError, match="could not read the vendor reports"):
        read_hls_reports(prj)
    with pytest.raises(SkiplessError, match="no vendor flow 'quartus'"):
        to_schema({"CSynthesisReport": {}}, flow="quartus")


def test_reports_are_written_atomically_and_read_back(prj, tmp_path):
    report = to_schema(read_hls_reports(prj))
    report["cache"] = {"key": "abc"}
    path = write_report(report, tmp_path)
    assert path.name == "synth_vitis.json" and [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
    assert read_report(path) == json.loads(json.dumps(report))
    assert cached_report(tmp_path, "vitis", "abc") is not None and cached_report(tmp_path, "vitis", "other") is None
    path.write_text(path.read_text()[:100])  # a half-written file
    with pytest.raises(SkiplessError, match="not valid JSON.*run `skipless synth` again"):
        read_report(path)
    assert cached_report(tmp_path, "vitis", "abc") is None
    bad = dict(report, resources={"lut": 1})
    with pytest.raises(SkiplessError, match="resources lacks"):
        write_report(bad, tmp_path)


def converted_project(tmp_path, with_reports=True) -> Path:
    """A folder as `skipless convert` leaves it (skipless.yaml + hls4ml_prj/skipless_build.json)."""
    project = tmp_path / "r8-noskip-w8a8"
    generated = project / "hls4ml_prj"
    shutil.copytree(FIXTURE, generated)
    if not with_reports:
        shutil.rmtree(generated / "myproject_prj")
        (generated / "vivado_synth.rpt").unlink()
    (generated / "skipless_build.json").write_text(json.dumps({"content_hash": "c0ffee"}))
    settings = {"backend": "Vitis", "io_type": "io_stream", "part": "xc7z020clg400-1", "clock_period": CLOCK,
                "strategy": "Resource", "reuse_factor": 16, "project_name": "myproject", "overrides": {}}
    tracked = {"source": {"id": "r8-noskip-w8a8", "dataset": "fashion_mnist", "weights": "random", "seed": 0},
               "settings": settings, "content_hash": "c0ffee"}
    (project / "skipless.yaml").write_text(yaml.safe_dump(tracked))
    return project


def test_vendor_flow_reads_existing_reports_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no vendor tool: the reports on disk are enough
    project = converted_project(tmp_path)
    report = vendor_flow(project, log=lambda _: None)
    assert report["resources"]["lut"] == 26480 and report["tool"]["version"] == "2023.2"
    assert read_report(project / "hls4ml_prj" / "synth_vitis.json") == json.loads(json.dumps(report))
    messages = []
    assert vendor_flow(project, log=messages.append) == read_report(project / "hls4ml_prj" / "synth_vitis.json")
    assert messages == ["r8-noskip-w8a8: vitis report for xc7z020clg400-1 up to date"]
    with pytest.raises(SkiplessError, match="converted for xc7z020clg400-1.*--part xcu250"):
        vendor_flow(project, part="xcu250-figd2104-2L-e", log=lambda _: None)


def test_vendor_flow_without_reports_or_tool_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SkiplessError, match="vitis-run is not on PATH.*--flow yosys"):
        vendor_flow(converted_project(tmp_path, with_reports=False), log=lambda _: None)
    with pytest.raises(SkiplessError, match="run `skipless convert nothing` first"):
        vendor_flow(tmp_path / "nothing", log=lambda _: None)


def _table_report(design_id: str, lut: int) -> dict:
    return {"id": design_id, "flow": "yosys", "part": "xc7z020clg400-1", "timing": {},
            "resources": {"lut": lut, "ff": 10, "dsp": 1, "bram18": 1},
            "utilization": {"lut": 1.0, "ff": 1.0, "dsp": 1.0, "bram18": 1.0}, "latency": {"cycles": None, "us": None}}


def _savings(reports: list[dict]) -> dict[str, str]:
    from skipless.synth.table import render_table

    lines = render_table(reports).splitlines()
    return {lines[i - 1].split()[0]: line.split(":")[0].strip() + " " + line.split()[4]
            for i, line in enumerate(lines) if line.startswith("    saves vs")}


def test_the_table_compares_each_skipless_design_with_its_skip_design():
    """The trained grid's three modes carry three methods (.qat, .iter-kept, .shorten) and are still compared
    with their skip design; the untrained .normal designs compare with the .normal skip design."""
    grid = [_table_report("r8-noskip-w8a8.iter-kept", 750), _table_report("r8-skip-w8a8.qat", 1000),
            _table_report("r8-short-w8a8.shorten", 1100)]
    assert _savings(grid) == {"r8-noskip-w8a8.iter-kept": "saves vs r8-skip-w8a8.qat +25.0%",
                              "r8-short-w8a8.shorten": "saves vs r8-skip-w8a8.qat -10.0%"}
    normal = [_table_report("r8-skip-w8a8.normal", 2000), _table_report("r8-noskip-w8a8.normal", 1000)]
    # with two skip designs, a student compares with the one trained like it, and with none when none is
    # (no guess between the two)
    assert _savings(grid + normal) == {"r8-noskip-w8a8.normal": "saves vs r8-skip-w8a8.normal +50.0%"}


def test_a_fitted_design_is_compared_only_with_a_design_of_its_own_plan():
    """`skipless rtl --fit` makes another design of the same network: the table names it ``--fit`` and its
    savings are against the fitted skip design, never across plans (the default skip design here would
    give +50 % instead of +25 %)."""
    from skipless.synth.table import render_table

    fitted = [dict(_table_report("r20-skip-w8a8", 1000), plan="fit"), dict(_table_report("r20-noskip-w8a8", 750), plan="fit")]
    default = [dict(_table_report("r20-skip-w8a8", 1500), plan="default")]
    lines = render_table(default + fitted).splitlines()
    saves = [line.strip() for line in lines if line.startswith("    saves vs")]
    assert [line.split()[0] for line in lines if line.startswith("r20-")] == ["r20-skip-w8a8", "r20-skip-w8a8", "r20-noskip-w8a8"]
    assert any(line.startswith("r20-noskip-w8a8 --fit ") for line in lines)
    assert len(saves) == 1 and saves[0].startswith("saves vs r20-skip-w8a8 --fit: LUT +25.0%")
