"""Tracking and smoothing over frames, video files in and out, and one-line errors for bad videos and webcams.

The keypoint network and the detector are the stubs of ``dot_hands`` (a fresh CPM's keypoints wander, so the
box could not follow them); everything else (crops, decode, tracks, filter, video reading and writing) is real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from dot_hands import OFFSETS, DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands, find_dots
from fixture_types import TinyCpm

from handpose.cli import main
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.refine import RefineConfig
from handpose.inference.smoothing import OneEuroFilter, SmoothingConfig
from handpose.inference.tracking import HandTracker, TrackingConfig
from handpose.inference.video import run_video

SIZE = (320, 200)  # frame width, height
NO_SMOOTH = SmoothingConfig(enabled=False)


def _predictor(detector: DotDetector | None = None) -> Predictor:
    return Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=detector or DotDetector())


def _moving(frames: int, step: float = 4.0) -> list[np.ndarray]:
    """(21, 2) keypoints per frame of a hand moving right ``step`` px a frame."""
    return [dot_hand_keypoints((60 + step * i, 100)) for i in range(frames)]


def test_tracking_keeps_one_track_and_detects_every_n_frames() -> None:
    detector = DotDetector()
    tracker = HandTracker(_predictor(detector), TrackingConfig(detect_every=10, smoothing=NO_SMOOTH))
    truth = _moving(30)
    for i, kp in enumerate(truth):
        hands = tracker.update(draw_dot_hands(SIZE, [kp]), i / 25)
        assert len(hands) == 1 and hands[0].track_id == 0, i
        assert np.linalg.norm(hands[0].keypoints - kp, axis=1).max() < 1.5, i
        assert hands[0].score == 0.9  # the last detection's score carried along the track
    assert detector.calls == tracker.detector_runs == 3  # frames 0, 10 and 20


def test_a_lost_hand_is_found_again_and_empty_frames_give_no_hands() -> None:
    detector = DotDetector()
    tracker = HandTracker(_predictor(detector), TrackingConfig(detect_every=0, smoothing=NO_SMOOTH))
    counts = []
    for i in range(12):
        hands_here = [] if 4 <= i < 7 else [dot_hand_keypoints((80 if i < 4 else 220, 100))]  # gone, then jumped
        counts.append(len(tracker.update(draw_dot_hands(SIZE, hands_here), i / 25)))
    assert counts == [1] * 4 + [0] * 3 + [1] * 5
    # detect_every=0: only when lost: frame 0, frame 4 (lost, looked again), 5 and 6 (nothing tracked), 7 (found)
    assert detector.calls == 5
    assert tracker.tracks[0].id == 1  # a new track for the hand that came back


def test_two_hands_keep_their_own_tracks() -> None:
    tracker = HandTracker(_predictor(), TrackingConfig(detect_every=5, smoothing=NO_SMOOTH))
    for i in range(12):
        left, right = dot_hand_keypoints((50 + 2 * i, 100)), dot_hand_keypoints((250 - 2 * i, 100))
        hands = tracker.update(draw_dot_hands(SIZE, [left, right]), i / 25)
        assert sorted(h.track_id for h in hands) == [0, 1]
        by_id = {h.track_id: h for h in hands}
        assert np.abs(by_id[0].keypoints - left).max() < 1.5 and np.abs(by_id[1].keypoints - right).max() < 1.5


def test_a_track_inside_a_better_tracks_box_is_dropped() -> None:
    from given_boxes import BoxesDetector

    from handpose.detection.detector import Detection

    kp = dot_hand_keypoints((160, 100), spread=1.6)  # a large hand: its box is about 80 x 72 px
    frame = draw_dot_hands(SIZE, [kp])
    lo, hi = kp.min(axis=0) - 3, kp.max(axis=0) + 3
    whole = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
    finger = np.array([hi[0] - 30, lo[1] - 2, 33, 55.0])  # its right-hand fingers, boxed as a hand of their own
    detector = BoxesDetector([Detection(whole, 0.9, False, 0.2), Detection(finger, 0.5, False, 0.2)])
    counts = {}
    for cover in (0.7, 1.0):  # 1.0: nothing is ever more than wholly inside, the rule is off
        tracker = HandTracker(_predictor(detector), TrackingConfig(detect_every=0, nested_cover=cover,
                                                                   smoothing=NO_SMOOTH))
        counts[cover] = [len(tracker.update(frame, i / 25)) for i in range(3)]
    assert counts[1.0][0] == 2  # without the rule the fingers are a second hand on the first frame
    assert counts[0.7] == [1, 1, 1]


def test_a_hand_boxed_with_its_forearm_gives_way_to_the_hand() -> None:
    # on the real clip a tall hand-and-forearm box (detector 0.53) displaced the hand (0.66) for ~10 frames at a
    # time: tracks were ranked by their keypoints alone, and only a box inside a better one was dropped
    from given_boxes import BoxesDetector

    from handpose.detection.detector import Detection

    kp = dot_hand_keypoints((160, 80), spread=1.2)
    frame = draw_dot_hands(SIZE, [kp])
    lo, hi = kp.min(axis=0) - 3, kp.max(axis=0) + 3
    hand = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
    with_forearm = np.array([lo[0] - 6, lo[1] - 4, hand[2] + 12, hand[3] + 90.0])  # reaching down the frame
    detector = BoxesDetector([Detection(with_forearm, 0.5, False, 0.2), Detection(hand, 0.9, False, 0.2)])
    tracker = HandTracker(_predictor(detector), TrackingConfig(detect_every=0, smoothing=NO_SMOOTH))
    for i in range(3):
        (found,) = tracker.update(frame, i / 25)
        assert found.box[3] < hand[3] + 40 and np.abs(found.keypoints - kp).max() < 1.5

def test_two_tracks_on_one_hand_merge_into_one() -> None:
    tracker = HandTracker(_predictor(), TrackingConfig(detect_every=0, smoothing=NO_SMOOTH))
    kp = dot_hand_keypoints((160, 100))
    frame = draw_dot_hands(SIZE, [kp])
    assert len(tracker.update(frame, 0.0)) == 1
    twin = tracker._new_track(tracker.tracks[0].box + [3.0, -2.0, 0.0, 0.0], False, 0.9, 0.1)
    tracker.tracks.append(twin)  # a second track following the same hand
    hands = tracker.update(frame, 0.04)
    assert len(hands) == 1 and len(tracker.tracks) == 1
    assert np.abs(hands[0].keypoints - kp).max() < 1.5


class SidedDotBackend(DotBackend):
    """The dot "network" with a side: its maps peak at 1 on a crop whose dots lie as ``dot_hand_keypoints`` draws
    them (keypoint 1 left of keypoint 3, a right hand) and at 0.6 on their mirror image (a left hand read as right)."""

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        maps = super().__call__(x, all_stages)  # (1, N, 22, s, s)
        crops = np.clip((x.transpose(0, 2, 3, 1) + 0.5) * 256.0, 0, 255)  # (N, S, S, 3) BGR
        for n, crop in enumerate(crops):
            dots = find_dots(crop)  # (21, 3)
            if dots[1, 0] > dots[3, 0]:
                maps[0, n, :21] *= 0.6
        return maps


class CoinDetector(DotDetector):
    """The stub detector whose left-hand probability is 0.5: the keypoint network decides each hand's side."""

    def detect(self, image_bgr: np.ndarray) -> list:
        return [replace(d, left_score=0.5) for d in super().detect(image_bgr)]


@pytest.mark.parametrize("refine", [None, RefineConfig()], ids=["unrefined", "refined"])
def test_one_doubtful_frame_does_not_flip_a_tracked_hands_side(refine: RefineConfig | None) -> None:
    """A right hand followed at detect_every 1 with a detector that cannot tell sides: the keypoint network calls
    it right on five frames, left on one (its dots drawn mirrored there: a hand turned edge-on), right again. Each
    detection deciding afresh flipped the label on that frame; the majority of the recent calls keeps it right. A
    hand the network calls left throughout is a left hand from its first frame."""
    predictor = Predictor(SidedDotBackend(), CropSpec(input_size=64, box_padding=1.5, mirror_left=True),
                          detector=CoinDetector(), refine=refine)
    mirrored = OFFSETS * [-1.0, 1.0]  # (21, 2)

    def sides(drawn_mirrored: list[bool]) -> list[bool]:
        tracker = HandTracker(predictor, TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
        out = []
        for i, flip in enumerate(drawn_mirrored):
            kp = np.array([150.0 + 2 * i, 100.0]) + (mirrored if flip else OFFSETS)
            hands = tracker.update(draw_dot_hands(SIZE, [kp]), i / 25)
            assert len(hands) == 1 and hands[0].track_id == 0, i
            out.append(bool(hands[0].is_left))
        return out

    assert sides([False] * 5 + [True] + [False] * 5) == [False] * 11
    assert sides([True] * 6) == [True] * 6


class SometimesSureDetector(DotDetector):
    """The stub detector that cannot tell sides (0.5) except on the frames in ``sure``, where it says left (0.95)."""

    def __init__(self, sure: set[int]) -> None:
        self.sure, self.frame = sure, -1

    def detect(self, image_bgr: np.ndarray) -> list:
        self.frame += 1
        sure = self.frame in self.sure
        return [replace(d, is_left=sure, left_score=0.95 if sure else 0.5) for d in super().detect(image_bgr)]


@pytest.mark.parametrize("refine", [None, RefineConfig()], ids=["unrefined", "refined"])
def test_a_side_the_detector_tells_is_not_undone_by_older_keypoint_calls(refine: RefineConfig | None) -> None:
    """Frames 0-3: the detector cannot tell, the keypoint network calls the hand right four times. Frame 4: the
    detector tells it is left. Frames 5-6: the hand drawn as a left one, the network calls it left. The hand stays
    left: the right calls from before the detector's own call must not outvote it (the tally they left turned the
    network's first left call into a right label)."""
    detector = SometimesSureDetector(sure={4})
    predictor = Predictor(SidedDotBackend(), CropSpec(input_size=64, box_padding=1.5, mirror_left=True),
                          detector=detector, refine=refine)
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
    mirrored = OFFSETS * [-1.0, 1.0]  # (21, 2)
    out = []
    for i in range(7):
        kp = np.array([150.0 + 2 * i, 100.0]) + (mirrored if i >= 4 else OFFSETS)
        hands = tracker.update(draw_dot_hands(SIZE, [kp]), i / 25)
        assert len(hands) == 1 and hands[0].track_id == 0, i
        out.append(bool(hands[0].is_left))
    assert out == [False] * 4 + [True] * 3


def test_smoothing_lowers_jitter_on_a_still_hand() -> None:
    rng = np.random.default_rng(0)
    still = dot_hand_keypoints((150, 100))
    frames = [draw_dot_hands(SIZE, [still + rng.integers(-2, 3, size=still.shape)]) for _ in range(40)]
    jitter = {}
    for on in (False, True):
        tracker = HandTracker(_predictor(), TrackingConfig(smoothing=SmoothingConfig(on, min_cutoff=0.5, beta=0.0)))
        out = np.stack([tracker.update(f, i / 25)[0].keypoints for i, f in enumerate(frames)])  # (T, 21, 2)
        jitter[on] = float(np.abs(np.diff(out[10:], axis=0)).mean())  # frame-to-frame motion after settling
    assert jitter[True] < 0.3 * jitter[False], jitter


def test_one_euro_follows_motion_and_calms_noise() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(200) / 30.0
    noisy = 5.0 + rng.normal(0, 1.0, size=t.shape)
    f = OneEuroFilter(SmoothingConfig(min_cutoff=1.0, beta=0.0))
    calm = np.array([f(np.array(v), s) for v, s in zip(noisy, t)])
    assert calm[50:].std() < 0.4 * noisy[50:].std()
    ramp = 300.0 * t  # 300 px/s
    fast = OneEuroFilter(SmoothingConfig(min_cutoff=1.0, beta=0.5))
    slow = OneEuroFilter(SmoothingConfig(min_cutoff=1.0, beta=0.0))
    lag_fast = ramp[-1] - [fast(np.array(v), s) for v, s in zip(ramp, t)][-1]
    lag_slow = ramp[-1] - [slow(np.array(v), s) for v, s in zip(ramp, t)][-1]
    assert 0 <= lag_fast < 0.2 * lag_slow  # beta: less lag when moving
    with pytest.raises(ValueError, match="min_cutoff > 0"):
        SmoothingConfig(min_cutoff=0.0)


def test_one_euro_lag_at_a_steady_speed_stays_under_the_documented_bound() -> None:
    """README: a hand moving steadily is drawn less than 1 / (2 pi beta) px behind whatever its speed (3.2 px at the
    defaults): the cut-off rises with speed as fast as the lag would."""
    cfg = SmoothingConfig()  # the defaults of --smooth-min-cutoff and --smooth-beta
    bound = 1 / (2 * np.pi * cfg.beta)
    t = np.arange(75) / 25.0  # 3 s at 25 frames/s
    lags = []
    for speed in (100.0, 600.0, 3000.0, 30000.0):  # px/s
        f = OneEuroFilter(cfg)
        lags.append(float([speed * s - f(np.array(speed * s), s) for s in t][-1]))
    assert bound == pytest.approx(3.18, abs=0.01)
    assert 0 < lags[0] < lags[1] < lags[2] < lags[3] < bound and lags[3] > 0.95 * bound, lags


def _write_video(path: Path, frames: list[np.ndarray], fourcc: str = "MJPG", fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def test_video_file_in_annotated_video_out(tmp_path: Path) -> None:
    video = _write_video(tmp_path / "clip.avi", [draw_dot_hands(SIZE, [kp]) for kp in _moving(20)])
    out = tmp_path / "annotated.mp4"
    result = run_video(_predictor(), video, TrackingConfig(detect_every=10), save_video=out)
    assert result.error is None and len(result.frames) == 20 and result.measured_fps > 0
    assert all(len(h) == 1 and h[0].track_id == 0 for h in result.frames)
    assert result.detector_runs == 2
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == SIZE[0]
    cap.release()


def test_predict_command_on_a_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_cpm: TinyCpm,
                                    capsys: pytest.CaptureFixture) -> None:
    """The command end to end on a video file; the detector file is replaced by the stub (no trained detector), the
    keypoint model is a fresh tiny CPM (its keypoints wander, so how often tracking is lost is not asserted)."""
    from handpose.config import DataConfig, to_dict
    from handpose.detection.detector import HandDetector
    from handpose.model.artifact import save_weights

    weights = tmp_path / "tiny.safetensors"
    save_weights(tiny_cpm(1), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    monkeypatch.setattr(HandDetector, "from_file", classmethod(lambda cls, *a, **k: DotDetector()))
    video = _write_video(tmp_path / "clip.avi", [draw_dot_hands(SIZE, [kp]) for kp in _moving(8)])
    args = ["predict", "--model", str(weights), "--detector", "stub", str(video), "--out", str(tmp_path / "out"),
            "--save-video", str(tmp_path / "out" / "clip_hands.mp4"), "--detect-every", "4", "--refine-passes", "0"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "8 frames" in text and "detector runs" in text and "frames/s measured" in text
    record = json.loads((tmp_path / "out" / "clip.json").read_text())
    assert len(record["frames"]) == 8 and record["error"] is None and record["width"] == SIZE[0]
    assert len(record["frames"][0]["hands"]) == 1  # the detector ran on frame 0 and found the hand
    coco = json.loads((tmp_path / "out" / "coco_results.json").read_text())
    assert [c["image_id"] for c in coco] == [f["frame"] for f in record["frames"] for _ in f["hands"]]
    assert (tmp_path / "out" / "clip_hands.mp4").stat().st_size > 0


def test_bad_videos_and_webcams_fail_in_one_line(
        tmp_path: Path, tiny_cpm: TinyCpm, capfd: pytest.CaptureFixture) -> None:
    # capfd: OpenCV's and FFmpeg's own warnings are written by C code straight to the process's stderr
    from handpose.config import DataConfig, to_dict
    from handpose.model.artifact import save_weights

    weights = tmp_path / "tiny.safetensors"
    save_weights(tiny_cpm(1), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video at all" * 10)  # an MP4 without its moov atom
    cases = {str(tmp_path / "missing.mp4"): "video not found", str(junk): "junk.mp4",
             "57": "webcam 57 cannot be opened"}
    for source, message in cases.items():
        assert main(["predict", "--model", str(weights), "--source", source, "--out", str(tmp_path / "o")]) == 2
        err = capfd.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err


def test_a_broken_frame_keeps_the_frames_before_it(tmp_path: Path) -> None:
    frames = [draw_dot_hands(SIZE, [kp]) for kp in _moving(12)]
    good = _write_video(tmp_path / "good.avi", frames)
    data = good.read_bytes()
    cap = cv2.VideoCapture(str(good))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    cap.release()
    broken = tmp_path / "broken.avi"
    broken.write_bytes(data[: len(data) // 2])  # the header still promises 12 frames
    result = run_video(_predictor(), broken, save_video=tmp_path / "partial.mp4")
    assert 0 < len(result.frames) < 12
    assert result.error is not None and "cannot be decoded" in result.error and "\n" not in result.error
    cap = cv2.VideoCapture(str(tmp_path / "partial.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(result.frames)
    cap.release()


def test_a_failure_part_way_keeps_the_frames_done(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any error after the first frame (here the caller's per-frame callback) ends the run with its message and the
    frames done, as a broken frame does; before any frame is done it is raised."""
    video = _write_video(tmp_path / "clip.avi", [draw_dot_hands(SIZE, [kp]) for kp in _moving(10)])

    def fail_at(n: int) -> Callable[[int, object], None]:
        def on_frame(i: int, hands: object) -> None:
            if i == n:
                raise OSError("disk gone")
        return on_frame

    result = run_video(_predictor(), video, save_video=tmp_path / "partial.mp4", on_frame=fail_at(5))
    assert len(result.frames) == 5 and result.error is not None  # frames 0-4, each in the record and the video
    assert "stopped at frame 5 (counted from 0) by OSError: disk gone" in result.error and "\n" not in result.error
    cap = cv2.VideoCapture(str(tmp_path / "partial.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    cap.release()
    with pytest.raises(OSError, match="disk gone"):
        run_video(_predictor(), video, on_frame=fail_at(0))  # nothing done: raised
    from handpose.inference.tracking import HandTracker

    def broken(*args: object) -> None:
        raise RuntimeError("tracker bug")

    monkeypatch.setattr(HandTracker, "update", broken)
    with pytest.raises(RuntimeError, match="tracker bug"):
        run_video(_predictor(), video)


def test_the_tracker_takes_the_images_predict_takes() -> None:
    """Frames as RGB arrays (color="rgb") track as their BGR copies do; a float frame is refused with its fix (it was
    taken without complaint, and a path failed with an AttributeError)."""
    frames = [draw_dot_hands(SIZE, [kp]) for kp in _moving(4)]
    bgr, rgb = HandTracker(_predictor()), HandTracker(_predictor())
    for i, frame in enumerate(frames):
        a = bgr.update(frame, i / 25)
        b = rgb.update(np.ascontiguousarray(frame[..., ::-1]), i / 25, color="rgb")
        assert len(a) == len(b) == 1
        np.testing.assert_allclose(a[0].keypoints, b[0].keypoints)
    with pytest.raises(ValueError, match="uint8"):
        HandTracker(_predictor()).update(frames[0].astype(np.float32) / 255, 0.0)


class ScaleDotBackend(DotBackend):
    """The dot "network", surer of a hand seen small in its crop: its maps peak at 0.5 where the dots span under half
    the crop's side and at 0.3 where they span more (a real network's score, too, moves with the crop)."""

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        maps = super().__call__(x, all_stages)  # (1, N, 22, s, s)
        crops = np.clip((x.transpose(0, 2, 3, 1) + 0.5) * 256.0, 0, 255)  # (N, S, S, 3) BGR
        for n, crop in enumerate(crops):
            dots = find_dots(crop)  # (21, 3)
            found = dots[dots[:, 2] > 0, :2]  # (K, 2)
            span = float((found.max(axis=0) - found.min(axis=0)).max()) if len(found) else 0.0
            maps[0, n, :21] *= 0.5 if span < 0.5 * crop.shape[0] else 0.3
        return maps


def test_a_video_frame_reports_the_hands_and_scores_of_its_still_image() -> None:
    """At detect_every 1 each frame's hands are those the image prediction of that frame reports, with its scores:
    a refined detection scores 0.53 on the crop of the detector's loose box and is reported by images; the tracker
    scored it again on the crop of its keypoints' box (0.35) and reported it under the 0.45 hand threshold that
    images keep (the rendered clips: false hands at the picture's edge at 0.37-0.44)."""
    from given_boxes import BoxesDetector

    from handpose.detection.detector import Detection

    kp = dot_hand_keypoints((160, 100))
    frame = draw_dot_hands(SIZE, [kp])
    lo, hi = kp.min(axis=0), kp.max(axis=0)
    centre, side = (lo + hi) / 2, float((hi - lo).max())
    loose = np.concatenate([centre - side, [2 * side, 2 * side]])  # twice the hand's side
    predictor = Predictor(ScaleDotBackend(), CropSpec(input_size=64, box_padding=1.5),
                          detector=BoxesDetector([Detection(loose, 0.9, False, 0.2)]), refine=RefineConfig())
    (still,) = predictor.predict(frame)
    assert 0.5 < still.score < 0.5 ** 0.8 * 0.9 ** 0.2 + 1e-6  # about 0.53: the refinement's crop
    tracker = HandTracker(predictor, TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
    for i in range(3):
        (hand,) = tracker.update(frame, i / 25)
        assert hand.score == pytest.approx(still.score) and hand.score >= RefineConfig().hand_threshold, i
        np.testing.assert_allclose(hand.keypoints, still.keypoints, atol=1e-4)


class FingerDotDetector(DotDetector):
    """The dot detector that also boxes each hand's right-hand fingers as a hand of their own (a weaker one), as the
    shipped detector boxes fingers on rendered clips."""

    def detect(self, image_bgr: np.ndarray) -> list:
        from handpose.detection.detector import Detection

        hands = super().detect(image_bgr)
        fingers = [Detection(np.array([d.box[0] + d.box[2] - 30, d.box[1] - 2, 33, 55.0]), 0.5, False, 0.2)
                   for d in hands]
        return hands + fingers


def test_track_ids_count_the_hands_shown_not_the_candidates() -> None:
    """A finger boxed as a hand at every detection starts a track that is dropped on that frame (inside the hand's
    box): it is never shown and takes no id, so the hand that comes in later is hand 1, not hand 5."""
    tracker = HandTracker(_predictor(FingerDotDetector()), TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
    first, second = dot_hand_keypoints((80, 100), spread=1.6), dot_hand_keypoints((240, 100), spread=1.6)
    shown = []
    for i in range(6):
        hands = tracker.update(draw_dot_hands(SIZE, [first] if i < 3 else [first, second]), i / 25)
        assert len(hands) == (1 if i < 3 else 2), i
        shown.append([h.track_id for h in hands])
    assert shown == [[0]] * 3 + [[0, 1]] * 3


class EdgeDotDetector(DotDetector):
    """The dot detector that, where a hand reaches the frame's edge, boxes only the lower third of it (the real
    detector boxes a part of a hand leaving the picture: its box overlaps the track's by IoU under 0.3)."""

    def detect(self, image_bgr: np.ndarray) -> list:
        from handpose.detection.detector import Detection

        found = []
        for d in super().detect(image_bgr):
            x, y, w, h = d.box
            if x + w >= image_bgr.shape[1] - 1:
                d = Detection(np.array([x, y + 2 * h / 3, w, h / 3]), d.score, d.is_left, d.left_score)
            found.append(d)
        return found


def test_a_hand_leaving_the_frame_keeps_its_one_id() -> None:
    """Its detected box, a part of it at the edge, lies mostly inside the track's box with an IoU under match_iou:
    matched all the same (both at the right edge), it goes on as hand 0, where each detection started a hand of its
    own; the track's crop keeps the whole hand, not the part boxed, so the hand is not lost."""
    tracker = HandTracker(_predictor(EdgeDotDetector()), TrackingConfig(detect_every=1, smoothing=NO_SMOOTH))
    for i in range(19):
        kp = dot_hand_keypoints((270 + 3 * i, 100))  # moving out on the right: 21 dots in view, then 17, 13, 9
        hands = tracker.update(draw_dot_hands(SIZE, [kp]), i / 25)
        assert [h.track_id for h in hands] == [0], i
        seen = kp[:, 0] < SIZE[0] - 2
        assert np.abs(hands[0].keypoints[seen] - kp[seen]).max() < 1.5, i



def test_detect_every_0_still_asks_the_detector_about_a_hand_in_doubt() -> None:
    """--detect-every 0 has no schedule, but a followed hand scoring under the hand threshold calls the detector on
    the next frame as at any N (frame 2: keypoints at 0.4, hand score 0.44; frame 3 detects); the flag's help and
    TrackingConfig said 0 ran it only when tracking was lost."""
    import argparse

    from handpose.commands import predict as predict_command

    class Fading(DotBackend):
        factor = 1.0

        def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
            return super().__call__(x, all_stages) * self.factor

    backend = Fading()
    predictor = Predictor(backend, CropSpec(input_size=64, box_padding=1.5), detector=DotDetector(),
                          refine=RefineConfig())
    tracker = HandTracker(predictor, TrackingConfig(detect_every=0, smoothing=NO_SMOOTH))
    frame = draw_dot_hands(SIZE, [dot_hand_keypoints((150, 100))])
    runs = []
    for i in range(4):
        backend.factor = 1.0 if i < 2 else 0.4
        tracker.update(frame, i / 25)
        runs.append(tracker.detector_runs)
    assert runs == [1, 1, 1, 2]
    parser = argparse.ArgumentParser()
    predict_command.add_arguments(parser)
    (flag,) = [a for a in parser._actions if "--detect-every" in a.option_strings]
    assert "--hand-threshold" in flag.help and "only when tracking is lost)" not in flag.help
