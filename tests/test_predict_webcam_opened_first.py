"""``handpose predict --source N`` opens webcam N once, before its models load: a missing camera is named at once, not
after the seconds the models take, and the video run reads the capture it was handed instead of opening the camera a
second time (slow, and refused by some cameras); the run releases that capture as it ends."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.cli import main
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.video import run_video

SIZE = (160, 120)  # frame width, height


def test_a_missing_webcam_is_named_before_any_model_is_read(tmp_path: Path,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    absent_model = tmp_path / "no_such_model.safetensors"  # reading it would fail with its own error
    assert main(["predict", "--source", "57", "--model", str(absent_model), "--out", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err
    assert "webcam 57 cannot be opened" in err, err
    assert "no_such_model" not in err
    assert not (tmp_path / "out").exists()  # and nothing is left behind


def test_the_run_reads_the_capture_it_is_handed_and_releases_it(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, SIZE)
    assert writer.isOpened()
    for i in range(8):
        writer.write(draw_dot_hands(SIZE, [dot_hand_keypoints((50 + 2 * i, 60))]))
    writer.release()
    capture = cv2.VideoCapture(str(path))
    assert capture.isOpened()
    path.unlink()  # the open capture still reads it; a run that opened the file again would find none
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    result = run_video(predictor, path, capture=capture)
    assert result.error is None and result.count == 8, (result.error, result.count)
    assert result.source == str(path)
    assert not capture.isOpened()  # released by the run
    assert (result.width, result.height) == SIZE
