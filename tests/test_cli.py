"""The command-line entry point: --help, --version and every subcommand's --help."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

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


def test_train_names_a_missing_dataset_before_any_speed_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              caplog: pytest.LogCaptureFixture) -> None:
    # a mistyped --data used to wait for the speed trial (about 37 s for the openpose preset on 2 cores) first
    missing = tmp_path / "hand_lables"
    with caplog.at_level(logging.INFO, logger="handpose.autotune"):
        assert main(["train", "--data", str(missing), "--out", str(tmp_path / "run"), "--max-steps", "1"]) == 2
    assert f"dataset path does not exist: {missing}" in capsys.readouterr().err
    assert "autotune" not in caplog.text and not (tmp_path / "run").exists()



@pytest.mark.parametrize("flags, said", [(["--input-size", "5000"], "ModelConfig.input_size = 5000: must be in [32"),
                                         (["--input-size", "8"], "ModelConfig.input_size = 8: must be in [32"),
                                         (["--lr", "0"], "lr must be positive")])
def test_train_names_a_bad_setting_before_any_speed_trial(flags: list[str], said: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    # --input-size 5000 ran the speed trial for minutes first; 8 crashed inside it with a raw batch-norm error
    with caplog.at_level(logging.INFO, logger="handpose.autotune"):
        assert main(["train", "--preset", "lite", *flags, "--out", str(tmp_path / "run"), "--max-steps", "1"]) == 2
    assert said in capsys.readouterr().err
    assert "autotune" not in caplog.text and not (tmp_path / "run").exists()

def test_a_commands_positionals_may_follow_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    """`handpose -v predict a.jpg --out x b.jpg`: the sources on both sides of an option, the top-level flags kept,
    -v and -q also after the command; an unknown option or a stray word of a command that takes none is still
    refused."""
    from handpose.cli import build_parser, parse_command_line

    parser = build_parser()
    args = parse_command_line(parser, ["-v", "predict", "a.jpg", "--out", "x", "b.jpg", "--flip"])
    assert (args.command, args.input, args.out, args.flip, args.verbose) == ("predict", ["a.jpg", "b.jpg"], "x",
                                                                            True, 1)
    assert parse_command_line(parser, ["predict", "a.jpg", "b.jpg"]).input == ["a.jpg", "b.jpg"]
    # -v / -q after the command as well as before it
    for argv, verbose, quiet in ((["predict", "a.jpg", "-v"], 1, False), (["predict", "a.jpg"], 0, False),
                                 (["-q", "train"], 0, True), (["train", "-q", "-vv"], 2, True),
                                 (["predict", "-q", "a.jpg", "--out", "x", "b.jpg", "-vv"], 2, True),
                                 (["-v", "predict", "a.jpg", "-v"], 2, False)):  # before and after add up
        args = parse_command_line(parser, argv)
        assert (args.verbose, args.quiet) == (verbose, quiet), argv
    for argv, word in ((["predict", "a.jpg", "--bogus", "b.jpg"], "--bogus"), (["train", "--max-steps", "3", "junk"],
                                                                               "junk")):
        with pytest.raises(SystemExit) as stop:
            parse_command_line(parser, argv)
        assert stop.value.code == 2
        assert f"unrecognized arguments: {word}" in capsys.readouterr().err


def test_words_after_double_dash_are_sources(capsys: pytest.CaptureFixture[str]) -> None:
    """`handpose predict --out x -- -a.jpg`, the usual way to name a file that starts with a dash, was refused as
    unrecognized arguments (an intermixed parse drops what follows ``--``). The words after it are sources, options
    among them included; a command without sources still refuses them."""
    from handpose.cli import build_parser, parse_command_line

    parser = build_parser()
    args = parse_command_line(parser, ["predict", "--out", "x", "b.jpg", "--", "-a.jpg", "--flip"])
    assert (args.input, args.out, args.flip) == (["b.jpg", "-a.jpg", "--flip"], "x", False)
    assert parse_command_line(parser, ["predict", "--", "-a.jpg"]).input == ["-a.jpg"]
    assert parse_command_line(parser, ["predict", "a.jpg", "--"]).input == ["a.jpg"]
    assert parse_command_line(parser, ["predict", "--", "--fli"]).input == ["--fli"]  # not an abbreviation there
    with pytest.raises(SystemExit) as stop:
        parse_command_line(parser, ["train", "--max-steps", "3", "--", "junk"])
    assert stop.value.code == 2
    assert "unrecognized arguments: junk" in capsys.readouterr().err


def test_a_value_starting_with_a_minus_sign_is_the_option_s_value() -> None:
    """`handpose predict a.jpg --box -5,10,200,220` (a box reaching past the image's left edge) was refused: argparse
    read the value as an option ("expected one argument") since the whole word is not one number. A word that
    starts like a negative number is the value of the option before it; after ``--`` words are left alone."""
    from handpose.cli import build_parser, parse_command_line

    parser = build_parser()
    args = parse_command_line(parser, ["-v", "predict", "a.jpg", "--box", "-5,10,200,220", "--detector-threshold",
                                       "-.5"])  # a value refused later, by the detector's own check
    assert (args.input, args.box, args.detector_threshold) == (["a.jpg"], "-5,10,200,220", -0.5)
    assert parse_command_line(parser, ["predict", "--box", "-5,-1,20,20", "--", "--box", "-7.jpg"]).input == [
        "--box", "-7.jpg"]
    assert parse_command_line(parser, ["train", "--lr", "-1e-3"]).lr == -1e-3  # refused later, by the config check


@pytest.mark.parametrize("words", [["--help"], *([name, "--help"] for name in sorted(COMMANDS))])
def test_help_loads_no_network_library(words: list[str]) -> None:
    """``handpose --help`` imported every command's module, and with them torch and OpenCV: 2 s on 2 cores to
    print a list. The summaries are read from the modules' sources and only the named command is imported. A
    command's own help loads neither either (``train --help`` and ``predict --help`` took 3 s: their flags listed
    the network presets and the task names from modules that import torch)."""
    code = ("import sys\nfrom handpose.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('loaded', 'torch' in sys.modules, 'cv2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *words], capture_output=True, text=True, check=True).stdout
    torch_loaded, cv2_loaded = out.strip().splitlines()[-1].split()[1:]
    assert "usage: handpose" in out and torch_loaded == "False"
    # the dataset formats' registry (train's and eval's --format) reads OpenCV's headers: 20 ms, left as it is
    assert cv2_loaded == "False" or words[0] in ("train", "eval")


def test_the_summaries_read_from_source_are_the_modules_own() -> None:
    from handpose.cli import command_summary

    for name, module in command_modules().items():
        assert command_summary(COMMANDS[name]) == module.__doc__.strip().splitlines()[0]  # type: ignore[union-attr]


@pytest.mark.parametrize("first", ["", "import handpose.autotune.precision, handpose.inference.predictor\n"])
def test_the_lazy_packages_give_their_names_not_their_submodules(first: str) -> None:
    """autotune and inference load their exports on first use (for a fast --help); a name that is also a submodule's
    (``autotune.precision``) came back as the submodule, the import having bound it on the package."""
    code = (first + "import types\nimport handpose.autotune as a, handpose.inference as i\n"
            "for pkg in (a, i):\n    for name in pkg.__all__:\n"
            "        for _ in range(2):\n"
            "            assert not isinstance(getattr(pkg, name), types.ModuleType), (pkg.__name__, name)\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("device", ["xpu", "xpu:0", "meta", "mps"])
def test_a_device_torch_cannot_run_on_here_is_one_line_naming_it(device: str, capsys: pytest.CaptureFixture[str]
                                                                 ) -> None:
    """--device xpu on a torch without XPU ended in torch's AssertionError traceback, meta and mps in an autocast or
    link error after the model was loaded: check_device refuses them up front, as it does CUDA without a GPU."""
    import torch

    from handpose.config_checks import check_device

    backend = getattr(torch, device.split(":")[0], None)
    if getattr(backend, "is_available", lambda: False)():
        pytest.skip(f"this machine has {device}")
    with pytest.raises(ValueError, match=f"device={device!r}: no {device.split(':')[0]} device to run on here"):
        check_device(device, "device")
    assert main(["-q", "predict", "--device", device, "--detector", "none", "x.jpg"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"handpose predict: error: --device {device}: no {device.split(':')[0]} device to run on here; "
                     "use cpu or cuda"], lines
    assert check_device("cpu:0") == "cpu:0"
