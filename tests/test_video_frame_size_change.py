"""A video source whose frame size changes part way (a camera switching resolution, a capture handed to run_video)
still gives its annotated video: OpenCV's writer dropped every frame not of the first frame's size, and the closed
file, short of them, was thrown away with an error blaming a full disk. Such frames are now fitted into the video,
said once, and their hands stay in their own frame's pixels. The result's width and height are the first frame's
(the video's), not the last one's."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.video import run_video


class ResizingCapture:
    """A capture (as cv2.VideoCapture reads) of 12 frames: 6 at 320 x 200, then 6 at 160 x 240, one dot hand each."""

    def __init__(self) -> None:
        self.index = 0

    def read(self) -> tuple[bool, np.ndarray | None]:
        if self.index >= 12:
            return False, None
        size, centre = ((320, 200), (100, 100)) if self.index < 6 else ((160, 240), (80, 150))
        self.index += 1
        return True, draw_dot_hands(size, [dot_hand_keypoints(centre)])

    def get(self, prop: int) -> float:
        return {cv2.CAP_PROP_FPS: 25.0, cv2.CAP_PROP_FRAME_COUNT: 12.0}.get(prop, 0.0)

    def release(self) -> None:
        pass


def test_frames_of_a_new_size_are_fitted_into_the_saved_video(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    saved = tmp_path / "annotated.mp4"
    with caplog.at_level(logging.WARNING, logger="handpose.inference.video"):
        result = run_video(predictor, "camera.avi", save_video=saved, capture=ResizingCapture())  # type: ignore
    assert result.error is None and result.count == 12 and result.saved_video == saved
    cap = cv2.VideoCapture(str(saved))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (320, 200)
    cap.release()
    said = [r.getMessage() for r in caplog.records if "fitted" in r.getMessage()]
    assert len(said) == 1 and "frame 6 is 160 x 240, not the 320 x 200 of the first frame" in said[0], said
    (hand,) = result.frames[-1]  # in the last frame's own pixels, not the video's
    assert np.abs(hand.keypoints - dot_hand_keypoints((80, 150))).max() < 1.5


def test_the_result_gives_the_first_frames_size_the_saved_videos(tmp_path: Path) -> None:
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    result = run_video(predictor, "camera.avi", capture=ResizingCapture())  # type: ignore[arg-type]
    assert result.count == 12
    assert (result.width, result.height) == (320, 200)  # it was the last frame's, 160 x 240


def test_fit_frame_keeps_the_aspect_with_borders() -> None:
    from handpose.inference.video import fit_frame

    tall = np.full((240, 160, 3), 200, np.uint8)
    fitted = fit_frame(tall, (320, 200))
    assert fitted.shape == (200, 320, 3)
    assert (fitted[:, :93] == 0).all() and (fitted[:, 228:] == 0).all()  # 133 px wide in the middle
    assert (fitted[:, 95:225] == 200).all()
    assert fit_frame(fitted, (320, 200)) is fitted
