"""The vendor (Vitis/Vivado HLS) flow: tested up to the tool call here, run for real where the tool exists."""

import os
import stat

import pytest

from skipless import hls, zoo
from skipless.errors import SkiplessError
from skipless.hls.vendor import vendor_synth
from skipless.synth import hls_report_to_schema, validate
from skipless.tools import find_vendor_tool

pytestmark = pytest.mark.synth


@pytest.fixture(scope="module")
def r8_project(dataset, hls_dir):
    model, _ = zoo.model_for_variant("r8-noskip-w8a8", dataset)
    return model, hls.convert(model, hls_dir / "r8-noskip-w8a8")


def test_missing_tool_is_a_clear_error(r8_project, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    model, project = r8_project
    with pytest.raises(SkiplessError, match="vitis-run is not on PATH.*settings64.sh"):
        vendor_synth(model, project)


def test_the_tool_is_called_on_the_project_and_an_empty_run_is_reported(r8_project, tmp_path, monkeypatch):
    """A stand-in `vitis-run` records how hls4ml calls it; it writes no report, which must be said."""
    log = tmp_path / "calls.txt"
    fake = tmp_path / "bin" / "vitis-run"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$PWD $@" >> {log}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    model, project = r8_project
    with pytest.raises(SkiplessError, match="left no synthesis report"):
        vendor_synth(model, project)
    cwd, *args = log.read_text().split()
    assert cwd == str(project.generated_dir) and args == ["--tcl", "build_prj.tcl", "--mode", "hls"]
    assert "synth      1" in (project.generated_dir / "build_opt.tcl").read_text()


@pytest.mark.vendor
def test_vendor_csynth_reports_resources(r8_project):
    if find_vendor_tool("Vitis") is None:
        pytest.skip("Vitis HLS (vitis-run) is not on PATH: the vendor flow runs only where it is installed")
    model, project = r8_project
    report = vendor_synth(model, project)
    assert "CSynthesisReport" in report
    mapped = validate(hls_report_to_schema(report, design_id="r8-noskip-w8a8", flow="vitis",
                                           part=project.settings.part, clock_period_ns=project.settings.clock_period))
    assert mapped["resources"]["lut"] > 0 and mapped["latency"]["worst"] is not None
