"""Flags shared by several commands read alike, and flags a run would not use are said, not dropped in silence."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from handpose.cli import build_parser, parse_command_line


def _parsed(*argv: str) -> argparse.Namespace:
    return parse_command_line(build_parser(), list(argv))


def _option(command: str, flag: str) -> argparse.Action:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]._option_string_actions[flag]


def test_detector_threshold_reads_alike_in_eval_and_predict() -> None:
    ev, pr = _option("eval", "--detector-threshold"), _option("predict", "--detector-threshold")
    assert ev.metavar == pr.metavar == "T" and ev.default is pr.default is None
    assert ev.help == "--detector: " + pr.help and "0.1" in pr.help


@pytest.mark.parametrize("argv, said", [
    (["--hand-threshold", "0.6", "--detector-scales", "1"], "--detector-scales, --hand-threshold: not used (they "
     "apply with --detector or --task detect)"),
    (["--task", "detect", "--detector-threshold", "0.5", "--merge-points", "1"], "--detector-threshold, "
     "--merge-points: not used (--task detect without --keypoints"),
    (["--task", "detect", "--keypoints", "kp", "--hand-threshold", "0.6", "--refine-passes", "2"],
     "--hand-threshold: not used (--task detect's AP ranks every refined hand)"),
    (["--detector", "det", "--refine-passes", "0", "--merge-points", "0.7", "--detector-threshold", "0.2"],
     "--merge-points: not used (--refine-passes 0 keeps the detector's boxes and scores as they are)"),
])
def test_eval_says_which_detection_flags_it_does_not_use(argv: list[str], said: str,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from handpose.commands.evaluate import warn_unused_detection_flags

    with caplog.at_level(logging.WARNING):
        warn_unused_detection_flags(_parsed("eval", "--weights", "w", "--data", "d", *argv))
    assert said in caplog.text


def test_eval_through_a_detector_uses_every_detection_flag(caplog: pytest.LogCaptureFixture) -> None:
    from handpose.commands.evaluate import warn_unused_detection_flags

    with caplog.at_level(logging.WARNING):
        warn_unused_detection_flags(_parsed("eval", "--weights", "w", "--data", "d", "--detector", "det",
                                            "--hand-threshold", "0.6", "--detector-threshold", "0.2"))
        warn_unused_detection_flags(_parsed("eval", "--weights", "w", "--data", "d"))  # nothing given
    assert caplog.text == ""


def test_predict_says_when_a_box_leaves_its_detector_flags_unused(caplog: pytest.LogCaptureFixture) -> None:
    from handpose.commands.predict import warn_unused_detection_flags

    with caplog.at_level(logging.WARNING):
        warn_unused_detection_flags(_parsed("predict", "a.jpg", "--box", "1,2,3,4", "--detector", "det.onnx",
                                            "--hand-threshold", "0.6"))
    assert "--detector, --hand-threshold: not used (--box runs no detector)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        warn_unused_detection_flags(_parsed("predict", "a.jpg", "--hand-threshold", "0.6"))  # the detector runs
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING):  # the detector runs, unrefined: the refinement's flags are not used
        warn_unused_detection_flags(_parsed("predict", "a.jpg", "--refine-passes", "0", "--merge-points", "0.7",
                                            "--max-proposals", "3", "--detector-threshold", "0.2"))
    assert "--merge-points, --max-proposals: not used (--refine-passes 0 keeps" in caplog.text


def test_predict_on_video_uses_merge_points_without_refinement(caplog: pytest.LogCaptureFixture) -> None:
    """With --refine-passes 0 a video's tracker still drops a new track that is a followed hand read twice, at
    --merge-points: the flag reaches its TrackingConfig and the warning names only the flags left unused (it named
    --merge-points, which the tracker applied at its default whatever was given)."""
    from handpose.commands.predict import warn_unused_detection_flags
    from handpose.commands.predict_video import tracking_config

    args = _parsed("predict", "a.mp4", "--refine-passes", "0", "--merge-points", "1", "--max-proposals", "3")
    assert tracking_config(args).merge_points == 1.0
    with caplog.at_level(logging.WARNING):
        warn_unused_detection_flags(args, video=True)
    assert "--max-proposals: not used (--refine-passes 0 keeps" in caplog.text and "--merge-points" not in caplog.text
    with pytest.raises(ValueError, match="--merge-points must lie in"):
        tracking_config(_parsed("predict", "a.mp4", "--merge-points", "1.5"))


@pytest.mark.parametrize("argv", [["train"], ["eval", "--weights", "w", "--data", "d"],
                                  ["export", "--weights", "w", "--out", "m.onnx"],
                                  ["synth", "--out", "o", "--count", "1"],
                                  ["convert", "--from", "a", "--out", "b.safetensors"]])
def test_overwrite_is_never_taken_from_an_abbreviation(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """argparse read `train --ov` as --overwrite, which deletes the earlier run's files; it must be typed in full."""
    for short in ("--ov", "--overwr"):
        with pytest.raises(SystemExit) as stop:
            _parsed(*argv, short)
        assert stop.value.code == 2
        assert f"{short}: write --overwrite in full" in capsys.readouterr().err
    assert _parsed(*argv, "--overwrite").overwrite is True


def test_other_abbreviations_still_read_as_before() -> None:
    assert _parsed("train", "--batch", "4", "--no-over").batch_size == 4  # --no-overwrite deletes nothing
    assert _parsed("predict", "a.jpg", "--out", "x", "--", "--ov").input == ["a.jpg", "--ov"]  # a file after --


def test_every_help_states_its_default() -> None:
    """A flag with a default says it in its help, in words where the value alone would mislead ("default: None" was
    shown for --epochs, whose default is the recipe's length, and contradicted --keypoint-order's own words)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = []
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if not action.option_strings or action.help in (None, argparse.SUPPRESS) or action.required:
                continue
            text = " ".join(action.help.split())
            assert "(default: None)" not in text, (name, action.option_strings)
            silent_default = action.default in (None, False, argparse.SUPPRESS) or action.nargs == 0
            if not silent_default and "default" not in text:
                missing.append(f"{name} {action.option_strings[-1]}")
    assert not missing, missing


def test_predict_takes_the_model_file_as_eval_and_export_name_it() -> None:
    """`eval --weights X` then `predict --weights X photo.jpg` was refused as an unrecognized argument."""
    assert _parsed("predict", "a.jpg", "--weights", "kp.onnx").model == "kp.onnx"
    assert _parsed("predict", "a.jpg", "--model", "kp.onnx").model == "kp.onnx"


def test_dataset_flags_read_alike_in_train_and_eval() -> None:
    """eval's --format and --keypoint-order named no value (KEYPOINT_ORDER, "e.g. rhd"); train's list them."""
    for flag, value in (("--format", "coco_wholebody"), ("--keypoint-order", "interhand")):
        train, ev = _option("train", flag), _option("eval", flag)
        assert train.metavar == ev.metavar and value in train.help and value in ev.help


def test_predict_refuses_a_keypoint_model_named_twice(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_command_line(build_parser(), ["predict", "x.jpg", "--weights", "a.onnx", "--model", "b.onnx"])
    assert exit_info.value.code == 2
    assert "--model: the keypoint model is given twice" in capsys.readouterr().err


def test_predict_on_video_takes_track_confirm_frames_to_its_tracking_config() -> None:
    from handpose.commands.predict_video import tracking_config

    assert tracking_config(_parsed("predict", "a.mp4")).confirm_frames == 1
    assert tracking_config(_parsed("predict", "a.mp4", "--track-confirm-frames", "2")).confirm_frames == 2
    with pytest.raises(ValueError, match="--track-confirm-frames must be 1"):
        tracking_config(_parsed("predict", "a.mp4", "--track-confirm-frames", "0"))


@pytest.mark.parametrize("extra, warned", [([], True), (["--box", "1,2,30,40"], False),
                                           (["--detector", "none"], False)])
def test_predict_says_a_side_flag_is_not_used_on_a_video_with_the_detector(
        extra: list[str], warned: bool, caplog: pytest.LogCaptureFixture) -> None:
    from handpose.commands.predict import warn_unused_side

    with caplog.at_level(logging.WARNING):
        warn_unused_side(_parsed("predict", "clip.mp4", "--left", *extra), video=True)
        warn_unused_side(_parsed("predict", "a.jpg", "--right", *extra), video=False)  # images: every hand found
    said = [r.getMessage() for r in caplog.records]
    assert said == (["--left: not used on a video with the detector (each hand found has its side called as it is "
                     "followed); it gives the side of --box's hand, or of the whole frame with --detector none"]
                    if warned else []), said


def test_predict_warns_of_an_unused_side_flag_before_the_models_load(realdata: Path, tmp_path: Path,
                                                                    capfd: pytest.CaptureFixture[str],
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    from handpose.cli import main

    video = realdata / "mediapipe_labelled" / "asl_video" / "asl_hand.25fps.mp4"
    if not video.is_file():
        pytest.skip("the real video is absent")
    absent_model = tmp_path / "no_such_model.safetensors"  # the run stops at its loading, after the checks
    assert main(["predict", str(video), "--right", "--model", str(absent_model), "--out", str(tmp_path / "o")]) != 0
    assert "no_such_model" in capfd.readouterr().err
    assert any(r.getMessage().startswith("--right: not used on a video with the detector") for r in caplog.records)


def test_predict_threshold_is_a_score_from_0_to_1(capsys: pytest.CaptureFixture[str]) -> None:
    from handpose.cli import main

    for bad in ("nan", "1.5", "-0.1", "abc"):
        with pytest.raises(SystemExit) as stopped:
            main(["predict", "photo.jpg", "--threshold", bad])
        assert stopped.value.code == 2
        assert "argument --threshold: expected a number from 0 to 1" in capsys.readouterr().err
