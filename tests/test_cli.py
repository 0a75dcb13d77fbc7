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


def test_demo_help_shows_the_defaults_it_uses(capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.config import TrainConfig
    from handpose.training.recipes import RECIPES

    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    lite = RECIPES["lite"]
    for shown in (f"default {TrainConfig.synth_count}", f"default {TrainConfig.synth_size}",
                  f"default {lite['train']['max_steps']}", f"default {lite['input_size']}",
                  f"default {lite['train']['batch_size']}"):
        assert shown in text, shown


def test_every_command_picks_its_device_by_one_rule() -> None:
    """train, eval and predict all default to auto: the GPU where there is one, else the CPU."""
    import torch

    from handpose.cli import build_parser
    from handpose.config_checks import check_device

    parser = build_parser()
    assert parser.parse_args(["eval", "--weights", "w", "--data", "d"]).device == "auto"
    assert parser.parse_args(["predict", "x.jpg"]).device == "auto"
    assert parser.parse_args(["train"]).device is None  # TrainConfig.device, "auto", applies
    assert check_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
