"""The skipless command: model summaries, help for every command, clear errors."""

import json
import subprocess
import sys

import pytest

from skipless.cli import build_parser, main
from skipless.errors import SkiplessError


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "skipless.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("vid, adds", [("r20-skip-w8a8", 9), ("r110-skip-w8a8", 54), ("r20-noskip-w8a8", 0), ("r8-short-w4a4", 6)])
def test_models_show_reports_skip_additions(vid, adds, capsys):
    assert main(["models", "show", vid]) == 0
    out = capsys.readouterr().out
    assert f"skip additions: {adds}\n" in out
    assert "MACs/image" in out and "parameters" in out


def test_noskip_variants_have_no_add_layer(capsys):
    for depth in (8, 20, 32, 44, 56, 110):
        main(["models", "show", f"r{depth}-noskip-w4a4"])
        out = capsys.readouterr().out
        assert "skip additions: 0\n" in out and "Add " not in out


def test_models_list_prints_the_grid(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "r110-short-w16a16" in out and "r8-noskip-w4a4" in out


def _commands(parser, prefix=()):
    """Every command path of the parser tree, e.g. ("grid", "train")."""
    import argparse

    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*prefix, name))


def test_every_command_has_help_showing_defaults(capsys):
    commands = list(_commands(build_parser()))
    assert len(commands) >= 20  # all of them, not a sample
    for cmd in commands:
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args([*cmd, "--help"])
        assert e.value.code == 0, cmd
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cosim", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 0.2)" in text and "(default: verilator)" in text and "(default: Vitis)" in text


def test_errors_are_one_line_without_traceback():
    result = run_cli("models", "show", "r21-skip-w8a8")
    assert result.returncode == 2
    assert "skipless: error: " in result.stderr and "6n+2" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_info_names_the_source(dataset, capsys):
    assert main(["data", "info", dataset.name]) == 0
    assert dataset.source in capsys.readouterr().out


# ---------------------------------------------------------------- bad input: one line, exit 2, before any work

BAD_INPUTS = [
    (["csim", "r8-skip-w8a8", "--n", "0"], "--n: must be >= 1"),
    (["csim", "r8-skip-w8a8", "--n", "-1"], "--n: must be >= 1"),
    (["cosim", "r8-skip-w8a8", "--n", "-1"], "--n: must be >= 1"),
    (["csim", "r8-skip-w8a8", "--workers", "0"], "--workers: must be >= 1"),
    (["convert", "r8-skip-w8a8", "--clock-period", "nan"], "--clock-period: must be a finite number > 0"),
    (["convert", "r8-skip-w8a8", "--clock-period", "-3"], "--clock-period: must be a finite number > 0"),
    (["cosim", "r8-skip-w8a8", "--gap", "1.5"], "--gap: must be in [0, 1)"),
    (["cosim", "r8-skip-w8a8", "--stall", "nan"], "--stall: must be in [0, 1)"),
    (["train", "r8-noskip-w8a8", "--order", "x", "--method", "iterative"], "--order takes comma-separated integers"),
    (["train", "r8-skip-w8a8", "--lr", "nan"], "learning rate must be a finite number > 0"),
    (["models", "show", "r600002-skip-w8a8"], "above 1202"),
    (["grid", "train", "--only", "r8-skip-w9a9.qat"], "not a run of the grid"),
    (["faults", "r8-skip-w8a8", "--only", "cosmic-ray"], "unknown fault(s) cosmic-ray: the catalogue has weight-lsb"),
    (["faults", "r8-skip-w8a8", "--gap", "0", "--stall", "0"], "mutation testing needs random gaps or back-pressure"),
    (["cosim", "r8-skip-w8a8", "--n", "0"], "--n: must be >= 1"),
    (["grid", "verify", "--cluster", "kubernetes", "--csim", "10"], "unknown cluster 'kubernetes'"),
    (["rtl", "r8-skip-w8a8", "--multipliers", "stem_conv=dsp3"], "--multipliers wants layer=KIND pairs with KIND one of dsp, dsp2, lut"),
    (["rtl", "r8-skip-w8a8", "--multiplier", "dsp3"], "invalid choice: 'dsp3'"),
]


@pytest.mark.parametrize("argv, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(argv, message):
    result = run_cli(*argv)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_csim_n_beyond_the_test_set_is_refused_not_run(dataset):
    from skipless.flow import check_count

    with pytest.raises(SkiplessError, match="more than the 10000 test images: use --n all"):
        check_count(1_000_000_000, 10000)
    assert check_count("all", 10000) == 10000


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody can write into, root included (chattr +i; chmod for other users)."""
    import os
    import shutil

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(locked)]).returncode:
            pytest.skip("root cannot make a read-only folder here (no chattr)")
        yield locked
        subprocess.run(["chattr", "-i", str(locked)])
    else:
        locked.chmod(0o500)
        yield locked
        locked.chmod(0o700)


@pytest.mark.parametrize("argv", [["report", "--out", "{d}/report"], ["bench", "ingest", "x.json", "--results", "{d}/runs"],
                                  ["convert", "r8-skip-w8a8", "--projects-dir", "{d}"]])
def test_read_only_outputs_are_named(read_only_dir, tmp_path, argv):
    argv = [a.replace("{d}", str(read_only_dir)) for a in argv]
    if argv[:2] == ["bench", "ingest"]:
        from .test_bench import synth_report

        (tmp_path / "x.json").write_text(json.dumps(synth_report()))
        argv[2] = str(tmp_path / "x.json")
    result = run_cli("--workspace", str(tmp_path), *argv)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert str(read_only_dir) in result.stderr
    assert any(w in result.stderr for w in ("read-only", "permission denied", "cannot create")), result.stderr


def test_closed_pipe_is_not_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m skipless.cli models list | head -1", shell=True, capture_output=True, text=True,
                          timeout=300)
    assert proc.stdout.startswith("90 variants") and "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


@pytest.mark.parametrize("command", ["csim", "cosim"])
def test_json_output_is_the_document_alone(command, capsys):
    """With --json the steps' messages (converted, built, up to date) go to stderr, so stdout parses."""
    from skipless.cli.common import make_build

    args = build_parser().parse_args([command, "r8-skip-w8a8", "--json"])
    make_build("r8-skip-w8a8", args).log("r8-skip-w8a8: up to date")
    out = capsys.readouterr()
    assert out.out == "" and "up to date" in out.err
    args = build_parser().parse_args([command, "r8-skip-w8a8"])
    make_build("r8-skip-w8a8", args).log("r8-skip-w8a8: up to date")
    assert "up to date" in capsys.readouterr().out
