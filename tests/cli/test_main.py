"""The command line: ``cnnkit --version``, ``cnnkit version`` and ``python -m cnnkit``."""

import subprocess
import sys

import pytest

import cnnkit
from cnnkit.cli import main


def test_version_constant():
    assert cnnkit.__version__ == "0.1.0"


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == "cnnkit 0.1.0"


def test_version_subcommand(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == "cnnkit 0.1.0"


def test_no_arguments_prints_version(capsys):
    assert main([]) == 0
    assert "0.1.0" in capsys.readouterr().out


def test_unknown_command_exits_with_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: cnnkit" in out and "--version" in out


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_python_dash_m(args):
    done = subprocess.run([sys.executable, "-m", "cnnkit", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "cnnkit 0.1.0"


def test_no_arguments_also_lists_the_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cnnkit 0.1.0\nusage: cnnkit") and "train" in out and "predict" in out


def test_every_option_has_help_text():
    from cnnkit.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, subparser in sub.choices.items():
        if name == "bench":
            continue  # owned by the benchmark helper
        for action in subparser._actions:
            assert action.help, f"cnnkit {name} {'/'.join(action.option_strings) or action.dest} has no help"
