"""A video's hands are streamed to its record, not kept: ``run_video(record=...)`` keeps no per-frame results, and
``VideoRecord`` writes the files a whole-run ``json.dumps`` wrote, cut at the frames the video holds, and leaves no
temporary file or open handle behind.

The keypoint network and the detector are the stubs of ``dot_hands``; video reading is real.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands

from handpose.commands.predict_files import coco_categories
from handpose.commands.video_record import VideoRecord
from handpose.files import DiskFullError
from handpose.inference.predictor import Prediction, Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.results import Hands
from handpose.inference.video import run_video

SIZE = (320, 200)  # frame width, height


def _video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, SIZE)
    for i in range(frames):
        writer.write(draw_dot_hands(SIZE, [dot_hand_keypoints((60 + 4 * i, 100))]))
    writer.release()
    return path


def _hand(i: int) -> Prediction:
    rng = np.random.default_rng(i)
    return Prediction(rng.uniform(0, 100, (21, 2)).astype(np.float32), rng.uniform(0, 1, 21).astype(np.float32),
                      np.array([i, 2, 30, 40], np.float32), score=0.7, track_id=0)


def test_run_video_with_a_record_keeps_no_frames(tmp_path: Path) -> None:
    video = _video(tmp_path / "clip.avi", 12)
    got: list[tuple[int, float, int]] = []
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
    result = run_video(predictor, video, record=lambda i, t, hands: got.append((i, t, len(hands))))
    assert result.error is None and result.count == 12 and result.hands == 12
    assert result.frames == [] and result.times == []  # nothing per frame held: flat memory on any length
    assert [i for i, _, _ in got] == list(range(12)) and all(n == 1 for _, _, n in got)
    assert np.allclose([t for _, t, _ in got], np.arange(12) / 25.0, atol=1e-3)


def test_video_record_writes_what_json_dumps_wrote_and_cleans_up(tmp_path: Path) -> None:
    frames = [Hands([_hand(i)] * (i % 3)) for i in range(7)]
    header = {"source": "clip.mp4", "fps": 25.0, "width": 64, "height": 48, "model": "m"}
    paths = [tmp_path / "coco_results.json", tmp_path / "coco_images.json"]
    fds_before = len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else None
    with VideoRecord(tmp_path, "clip") as record:
        for i, hands in enumerate(frames):
            record.add(i, i / 25.0, hands)
        record.finish(5, header, "stopped", tmp_path / "clip.json", paths, "clip.mp4", 64, 48)  # 2 frames cut
    expected = {**header, "frames": [{"frame": i, "time": round(i / 25.0, 4), "hands": [h.to_dict() for h in hs]}
                                     for i, hs in enumerate(frames[:5])], "error": "stopped"}
    text = (tmp_path / "clip.json").read_text()
    assert text == json.dumps(json.loads(json.dumps(expected))) + "\n"  # the old whole-run dump, byte for byte
    coco = json.loads(paths[0].read_text())
    assert coco == json.loads(json.dumps([c for i, hs in enumerate(frames[:5]) for c in hs.to_coco(i)]))
    images = json.loads(paths[1].read_text())
    assert [im["id"] for im in images["images"]] == list(range(5)) and images["categories"] == coco_categories()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json", "coco_images.json", "coco_results.json"]
    if fds_before is not None:
        assert len(os.listdir("/proc/self/fd")) == fds_before


def test_video_record_removes_its_temporaries_when_the_run_fails(tmp_path: Path) -> None:
    try:
        with VideoRecord(tmp_path, "clip") as record:
            record.add(0, 0.0, Hands([_hand(0)]))
            raise RuntimeError("tracker bug")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_video_record_removes_a_killed_runs_temporaries(tmp_path: Path) -> None:
    dead = _dead_pid()
    stale = [tmp_path / f".clip.frames.tmp-{dead}", tmp_path / f".clip.coco.tmp-{dead}"]
    kept = [tmp_path / f".clip.frames.tmp-{os.getppid()}", tmp_path / f".other.frames.tmp-{dead}"]  # alive; not ours
    for p in stale + kept:
        p.write_text("{}\n")
    with VideoRecord(tmp_path, "clip"):
        pass
    assert sorted(tmp_path.iterdir()) == sorted(kept)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_video_record_on_a_full_disk_leaves_no_temporaries(tmp_path: Path) -> None:
    record = VideoRecord(tmp_path, "clip")
    for p in record.spools.paths:  # every write to them fails as on a full disk
        p.symlink_to("/dev/full")
    paths = [tmp_path / "coco_results.json", tmp_path / "coco_images.json"]
    with pytest.raises(DiskFullError, match="clip.json: the disk is full"), record:
        for i in range(3):
            record.add(i, i / 25.0, Hands([_hand(i)]))
        record.finish(3, {"source": "clip.mp4"}, None, tmp_path / "clip.json", paths, "clip.mp4", 64, 48)
    assert list(tmp_path.iterdir()) == []


def test_video_record_that_cannot_open_its_second_temporary_leaves_none(tmp_path: Path) -> None:
    record = VideoRecord(tmp_path, "clip")
    record.spools.paths[1].mkdir()  # cannot be opened as a file
    with pytest.raises(IsADirectoryError), record:
        pass
    assert list(tmp_path.iterdir()) == [record.spools.paths[1]]
