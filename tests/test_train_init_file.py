"""Fine-tuning one of handpose's own models (`train --init FILE`): the run takes the file's preset and input
settings, and a file that cannot fill the model (a detector, another preset) is named as such, not as a list of
layer names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from handpose import pretrained
from handpose.cli import build_parser, main
from handpose.commands.train import config_from_args
from handpose.config import DataConfig, DetectorConfig
from handpose.detection.model import build_detector
from handpose.model.artifact import read_stored_configs, save_weights
from handpose.model.cpm import build_model


def _tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), path, data_cfg=DataConfig(input_size=64, sigma=1.5, box_padding=1.4,
                                                                mirror_left=True))
    return path


def _config(*argv: str) -> object:
    return config_from_args(build_parser().parse_args(["train", *argv]), speed=False)


def test_a_fine_tune_keeps_the_files_preset_and_input_settings(tmp_path: Path) -> None:
    weights = _tiny_file(tmp_path)
    cfg = _config("--init", str(weights))  # no --preset: without the file the lite recipe at 96 px would train
    assert (cfg.model.preset, cfg.model.input_size) == ("tiny", 64)
    assert (cfg.dataset.input_size, cfg.dataset.sigma, cfg.dataset.box_padding, cfg.dataset.mirror_left) == (
        64, 1.5, 1.4, True)
    given = _config("--init", str(weights), "--preset", "tiny", "--input-size", "96", "--sigma", "2")
    assert (given.model.input_size, given.dataset.input_size, given.dataset.sigma) == (96, 96, 2.0)  # flags win


def test_the_shipped_model_is_fine_tuned_at_its_own_input_size() -> None:
    stored = read_stored_configs(pretrained.resolve("pretrained:lite"))
    assert stored is not None
    cfg = _config("--init", "pretrained:lite")
    assert (cfg.model.preset, cfg.dataset.input_size) == ("lite", stored[2].input_size)
    assert cfg.dataset.input_size == 128  # the lite recipe alone trains at 96
    assert cfg.lr == pytest.approx(4e-4)  # a tenth of the lite recipe's 4e-3, which undid what the model knew
    assert _config("--init", "pretrained:lite", "--lr", "2e-3").lr == 2e-3  # a flag given wins
    assert _config("--preset", "lite").lr == 4e-3  # a run from scratch keeps the recipe's


def test_a_detector_fine_tune_keeps_the_files_input_size_and_settings(tmp_path: Path) -> None:
    detector = tmp_path / "det.safetensors"
    stored = DetectorConfig(input_size=256, score_threshold=0.4, nms_iou=0.5)
    save_weights(build_detector(stored), detector)
    cfg = _config("--task", "detect", "--data", "scenes.json", "--init", str(detector))
    assert cfg.detector == stored  # it trained at 320 px, the default, whatever the file was trained at
    assert _config("--task", "detect", "--data", "scenes.json", "--init", str(detector), "--input-size", "288"
                   ).detector == dataclasses.replace(stored, input_size=288)  # a flag given wins
    shipped = read_stored_configs(pretrained.resolve("pretrained:detector"))[1]
    assert _config("--task", "detect", "--data", "scenes.json", "--init", "pretrained:detector").detector == shipped
    keypoints = _config("--task", "detect", "--data", "scenes.json", "--init", "pretrained:lite")
    assert keypoints.detector == DetectorConfig()  # a keypoint model's front starts a detector of the defaults


def test_foreign_weights_leave_the_recipe_alone(tmp_path: Path) -> None:
    npy = tmp_path / "openpose_vgg16.npy"
    npy.write_bytes(b"\x93NUMPY")  # read later by the importer; the recipe does not open it
    assert read_stored_configs(npy) is None
    assert _config("--init", str(npy), "--preset", "lite").dataset.input_size == 96


def test_a_file_that_cannot_fill_the_model_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = _tiny_file(tmp_path)
    detector = tmp_path / "detector.safetensors"
    save_weights(build_detector(), detector)
    with pytest.raises(ValueError, match="holds the tiny preset, not lite: give --preset tiny"):
        _config("--init", str(weights), "--preset", "lite")
    with pytest.raises(ValueError, match="is a hand detector, not a keypoint model"):
        _config("--init", str(detector))
    # convert builds the openpose preset by default: the file's own preset is named, not 150 layer names
    assert main(["convert", "--from", str(weights), "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "holds the tiny preset's layers, not those of the openpose model being built: give --preset tiny" in err
    assert "missing keys" not in err
    assert main(["convert", "--from", str(detector), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "is a hand detector, not a keypoint model" in capsys.readouterr().err


def test_a_run_that_fails_before_writing_leaves_no_folder(tmp_path: Path, synth_data: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # a failed --init left --out holding the lock file alone
    junk = tmp_path / "openpose_vgg16.npy"
    junk.write_bytes(b"\x80\x04not really a pickle")
    out = tmp_path / "run"
    argv = ["train", "--data", str(synth_data), "--preset", "tiny", "--input-size", "64", "--max-steps", "1",
            "--workers", "0", "--no-amp", "--no-channels-last", "--out", str(out)]
    assert main([*argv, "--init", str(junk)]) == 2
    assert str(junk) in capsys.readouterr().err and not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # a folder the user made is kept, and what is in it
    assert main([*argv, "--init", str(junk)]) == 2
    assert (out / "notes.txt").read_text() == "mine"


def test_training_on_a_render_that_was_stopped_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import json
    import logging

    from handpose.synth import write_dataset
    from handpose.synth.output_folder import MANIFEST_NAME

    root = tmp_path / "renders"
    write_dataset(root, count=8, seed=4, size=96)
    (manifest,) = root.rglob(MANIFEST_NAME)
    stopped = {**json.loads(manifest.read_text()), "complete": False}  # as a killed handpose synth leaves it
    manifest.write_text(json.dumps(stopped))
    argv = ["train", "--data", str(root), "--preset", "tiny", "--input-size", "64", "--max-steps", "1", "--workers",
            "0", "--no-amp", "--no-channels-last", "--val-every", "0", "--out", str(tmp_path / "run")]
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(argv) == 0
    assert f"{manifest.parent}: its handpose synth render was stopped before the end" in caplog.text


def test_the_initial_weights_are_reported_once(tmp_path: Path, synth_data: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """The check of --init ahead of the run (a file that cannot fill the model is said before any speed trial) logged
    "initial weights from ..." too, so every fine-tune printed it twice."""
    import logging

    argv = ["train", "--data", str(synth_data), "--init", str(_tiny_file(tmp_path)), "--input-size", "64",
            "--max-steps", "1", "--val-every", "0", "--workers", "0", "--threads", "1", "--no-amp",
            "--no-channels-last", "--out", str(tmp_path / "run")]
    with caplog.at_level(logging.INFO, logger="handpose"):
        assert main(argv) == 0
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("initial weights from")]
    assert len(said) == 1, said


def test_a_foreign_files_warning_is_said_once(tmp_path: Path, synth_data: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    """A VGG-16 .npy in the VGG-19 front loads layers after one it leaves random; the check of --init ahead of the
    run warned of them too, so `train --init openpose_vgg16.npy` printed that warning twice."""
    import logging

    import numpy as np
    from test_model_importers import seed_npy_dict

    names = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1"]  # no conv3_4
    npy = tmp_path / "openpose_vgg16.npy"
    np.save(npy, seed_npy_dict(build_model("tiny"), names), allow_pickle=True)
    argv = ["train", "--data", str(synth_data), "--preset", "tiny", "--init", str(npy), "--input-size", "64",
            "--max-steps", "1", "--val-every", "0", "--workers", "0", "--threads", "1", "--no-amp",
            "--no-channels-last", "--out", str(tmp_path / "run")]
    with caplog.at_level(logging.WARNING, logger="handpose"):
        assert main(argv) == 0
    said = [r.getMessage() for r in caplog.records if "start pretrained only in name" in r.getMessage()]
    assert len(said) == 1 and "conv3_4 stays random but conv4_1" in said[0], said
