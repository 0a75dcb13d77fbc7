"""Video runs that never lose a user's file or the frames done: --save-video never replaces a file predict did not
write (OpenCV empties a file it opens, so the video goes to a partial file first), its suffix is checked before the
models load, SIGINT and SIGTERM keep and write the frames done (a second Ctrl-C waits for that), the COCO names are
checked before any frame; and tracking that ends a hand the detector no longer finds, starts over on a new frame
size, keeps the container's timestamps, and names a start box off the frame.

The keypoint network and detector are the stubs of ``dot_hands`` where the video machinery is under test."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands
from stub_predict import stop_stub_predict

from handpose.cli import main
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.refine import RefineConfig
from handpose.inference.smoothing import SmoothingConfig
from handpose.inference.tracking import HandTracker, TrackingConfig
from handpose.inference.video import frame_time, partial_path, run_video

SIZE = (320, 200)
NO_SMOOTH = SmoothingConfig(enabled=False)


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def _clip(tmp_path: Path, n: int = 12) -> Path:
    return _write_video(tmp_path / "clip.avi",
                        [draw_dot_hands(SIZE, [dot_hand_keypoints((60 + 4 * i, 100))]) for i in range(n)])


class BlindAfterFirst(DotDetector):
    """The stub detector that finds the dots on its first run only."""

    def detect(self, image_bgr: np.ndarray) -> list:
        found = super().detect(image_bgr)
        return found if self.calls == 1 else []


def _predictor(detector: DotDetector | None = None) -> Predictor:
    return Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector or DotDetector())


def test_a_hand_the_detector_no_longer_finds_ends_unless_it_still_scores_as_a_hand() -> None:
    """Six of 21 dots left (a mean keypoint score near 0.29, above the tracking floor of 0.2, as a hand followed onto
    a black frame keeps): its hand score is under the image threshold, so the detector runs on the next frame, does
    not find it, and the track ends. A whole hand the detector misses keeps its track."""
    partial = dot_hand_keypoints((120, 100))
    partial[6:] = 10000.0  # off the frame: only 6 dots drawn

    def counts(predictor: Predictor, late: np.ndarray) -> list[int]:
        tracker = HandTracker(predictor, TrackingConfig(detect_every=5, smoothing=NO_SMOOTH))
        return [len(tracker.update(draw_dot_hands(SIZE, [dot_hand_keypoints((120, 100)) if i < 2 else late]),
                                   i / 25)) for i in range(12)]

    refined = replace(_predictor(BlindAfterFirst()), refine=RefineConfig())
    assert counts(refined, partial) == [1] * 3 + [0] * 9  # drawn on its six dots once, then the detector ends it
    refined = replace(_predictor(BlindAfterFirst()), refine=RefineConfig())
    assert counts(refined, dot_hand_keypoints((120, 100))) == [1] * 12  # a whole hand keeps its track
    # without refinement images have no hand threshold, so neither has tracking
    assert counts(_predictor(BlindAfterFirst()), partial) == [1] * 12


def test_a_hand_that_left_is_not_drawn_until_the_next_scheduled_detection() -> None:
    """At detect_every 10, a hand leaves two frames after a detection and six dots stay where it was (the mean
    keypoint score of the real network on the wall it leaves, above the tracking floor): its hand score falls under
    the image threshold, so the detector runs on the next frame, not seven frames later, and the stale hand is drawn
    on one frame only. A whole hand, which scores as a hand, costs no detector run past the scheduled ones."""
    partial = dot_hand_keypoints((120, 100))
    partial[6:] = 10000.0  # off the frame: only 6 dots drawn

    def run(late: np.ndarray) -> tuple[list[int], int]:
        detector = BlindAfterFirst()
        tracker = HandTracker(replace(_predictor(detector), refine=RefineConfig()),
                              TrackingConfig(detect_every=10, smoothing=NO_SMOOTH))
        counts = [len(tracker.update(draw_dot_hands(SIZE, [dot_hand_keypoints((120, 100)) if i < 2 else late]),
                                     i / 25)) for i in range(12)]
        return counts, detector.calls

    # frame 0; frame 3 (the hand scored under the threshold on frame 2); frames 4-11 (nothing followed)
    assert run(partial) == ([1] * 3 + [0] * 9, 1 + 1 + 8)
    assert run(dot_hand_keypoints((120, 100))) == ([1] * 12, 2)  # frames 0 and 10


def test_a_new_frame_size_starts_the_tracks_over_and_times_must_be_finite() -> None:
    detector = DotDetector()
    tracker = HandTracker(_predictor(detector), TrackingConfig(detect_every=0, smoothing=NO_SMOOTH))
    tracker.update(draw_dot_hands(SIZE, [dot_hand_keypoints((120, 100))]), 0.0)
    assert detector.calls == 1
    hands = tracker.update(draw_dot_hands((200, 320), [dot_hand_keypoints((100, 200))]), 0.04)
    assert detector.calls == 2 and len(hands) == 1  # detected afresh on the new size
    assert np.linalg.norm(hands[0].keypoints - dot_hand_keypoints((100, 200)), axis=1).max() < 1.5
    with pytest.raises(ValueError, match="frame time must be a finite number"):
        tracker.update(draw_dot_hands(SIZE, []), float("nan"))


def test_a_start_box_off_the_frame_is_named() -> None:
    tracker = HandTracker(Predictor(DotBackend(), CropSpec(input_size=64)), start_box=np.array([5000, 5000, 10, 10]))
    with pytest.raises(ValueError, match=r"the start box \[5000.0, 5000.0, 10.0, 10.0\] .* lies outside the "
                                         r"320 x 200 frame"):
        tracker.update(draw_dot_hands(SIZE, []), 0.0)


def test_frame_times_come_from_the_container(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "clip.avi", [draw_dot_hands(SIZE, []) for _ in range(5)], fps=10.0)
    result = run_video(_predictor(), video)
    assert result.times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4], abs=1e-3)

    class Stamps:  # a variable frame rate: stamps in ms as the container gives them, one that does not go forward
        def __init__(self, ms: list[float]) -> None:
            self.ms = iter(ms)

        def get(self, prop: int) -> float:
            return next(self.ms)

    cap, times = Stamps([0.0, 40.0, 40.0, 150.0, 0.0]), []
    for i in range(5):
        times.append(frame_time(cap, i, 25.0, times[-1] if times else None, False, 0.0))  # type: ignore[arg-type]
    assert times == pytest.approx([0.0, 0.04, 0.08, 0.15, 0.19])  # its own times; a stuck stamp: one frame on


def test_a_users_file_at_the_save_video_path_is_never_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture) -> None:
    from handpose.commands import predict as predict_command

    monkeypatch.setattr(predict_command, "load_predictor", lambda args, video=False: _predictor())
    video = _clip(tmp_path)
    mine = tmp_path / "precious.mp4"
    mine.write_bytes(b"my own video")
    base = ["predict", str(video), "--out", str(tmp_path / "out")]
    assert main([*base, "--save-video", str(mine)]) == 2
    assert "precious.mp4 exists and predict did not write it" in capsys.readouterr().err
    assert mine.read_bytes() == b"my own video" and not (tmp_path / "out").exists()
    gif = tmp_path / "keep.gif"
    gif.write_bytes(b"a gif")
    assert main([*base, "--save-video", str(gif)]) == 2
    assert "an annotated video is written as .mp4, .m4v, .mov, .avi, .mkv" in capsys.readouterr().err
    assert gif.read_bytes() == b"a gif"
    ours = tmp_path / "annotated.mp4"
    for _ in range(2):  # the second run replaces the video the first one wrote
        assert main([*base, "--save-video", str(ours)]) == 0
        cap = cv2.VideoCapture(str(ours))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
        cap.release()
        assert not partial_path(ours).exists()
    (tmp_path / "out2").mkdir()
    (tmp_path / "out2" / "coco_results.json").write_text("[]")  # a user's own, in --out
    assert main(["predict", str(video), "--out", str(tmp_path / "out2")]) == 2
    assert "coco_results.json would replace a file predict did not write" in capsys.readouterr().err
    assert not (tmp_path / "out2" / "clip.json").exists()  # refused before any frame


def test_a_video_an_earlier_predict_saved_is_kept_and_the_message_says_how_to_replace_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Before 2026-12-06 predict listed its record and COCO files in the folder's manifest, not the video it saved:
    run again as it was, the video is kept (it cannot be told from a user's), and the message no longer says
    predict never wrote it without naming the earlier version and the way to replace it."""
    from handpose.commands import predict as predict_command

    monkeypatch.setattr(predict_command, "load_predictor", lambda args, video=False: _predictor())
    video = _clip(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / ".handpose-predictions").write_text("clip.json\ncoco_results.json\ncoco_images.json\n")
    (out / "clip.json").write_text('{"source": "clip.mp4", "frames": []}')
    saved = out / "annotated.mp4"
    saved.write_bytes(b"the earlier run's video")
    argv = ["predict", str(video), "--out", str(out), "--save-video", str(saved)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "or wrote it before 2026-12-06" in err and "delete it first if an earlier predict saved it" in err
    assert saved.read_bytes() == b"the earlier run's video"
    saved.unlink()
    assert main(argv) == 0 and saved.stat().st_size > 0


def test_a_failure_to_open_the_writer_leaves_the_path_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Closed:
        def __init__(self, path: str, *args: object) -> None:
            Path(path).write_bytes(b"")  # as OpenCV empties the file it fails to write

        def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
            return False

    clip = _clip(tmp_path)
    monkeypatch.setattr(cv2, "VideoWriter", Closed)
    target = tmp_path / "out.mp4"
    with pytest.raises(ValueError, match="OpenCV cannot write an mp4v video there"):
        run_video(_predictor(), clip, save_video=target)
    assert not target.exists() and not partial_path(target).exists()


@pytest.mark.slow
@pytest.mark.parametrize("signals, code", [(["SIGINT"], 130), (["SIGTERM"], 143), (["SIGINT", "SIGINT"], 130)])
def test_a_signal_keeps_and_writes_the_frames_done(tmp_path: Path, signals: list[str], code: int) -> None:
    """A real `handpose predict` process on a long clip, stopped part way: the record, the COCO files and the
    annotated video hold the same frames (a second Ctrl-C right after the first waits for them)."""
    frames = [draw_dot_hands(SIZE, [dot_hand_keypoints((60 + (i % 50) * 4, 100))]) for i in range(3000)]
    video = _write_video(tmp_path / "long.avi", frames)
    out, saved = tmp_path / "out", tmp_path / "out" / "long_hands.mp4"
    code_seen, err = stop_stub_predict([str(video), "--out", str(out), "--save-video", str(saved)],
                                       partial_path(saved), signals, settle=1.0)
    assert code_seen == code, err
    assert f"stopped by {signals[0]} after" in err
    record = json.loads((out / "long.json").read_text())
    n = len(record["frames"])
    assert 0 < n < 3000 and record["error"].startswith(f"{video}: stopped by {signals[0]} after {n} frames")
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert len(images) == n
    cap = cv2.VideoCapture(str(saved))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    cap.release()
