"""The skipless command: model summaries, help for every command, clear errors."""

import subprocess
import sys

import pytest

from skipless.cli import build_parser, main


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
