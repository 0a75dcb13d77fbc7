"""The command-line entry point: --help, --version and every subcommand's --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from handpose import __version__
from handpose.cli import COMMANDS, command_modules, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in command_modules():
        assert name in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage: handpose " + name in capsys.readouterr().out


def test_every_command_is_available() -> None:
    assert sorted(command_modules()) == sorted(COMMANDS)


@pytest.mark.slow
def test_console_script_module_entry() -> None:
    out = subprocess.run([sys.executable, "-m", "handpose", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"handpose {__version__}"
