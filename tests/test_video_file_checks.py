"""Video files predict cannot use are named, with the reason, before any model loads and before anything is
written: an MP4 cut short before its index says so (OpenCV alone reports only that it cannot open it), and a video
that opens but holds no frame is refused there (it used to be run, leaving an empty record and COCO files)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.cli import main
from handpose.inference.mp4_index import lacks_index
from handpose.inference.video import check_video_file


def _write(path: Path, frames: int, codec: str) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), 25, (64, 48))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))  # noise: the frames' data outweighs the index
    writer.release()
    return path


def test_an_mp4_cut_before_its_index_is_named_so(tmp_path: Path) -> None:
    whole = _write(tmp_path / "whole.mp4", 20, "mp4v")
    check_video_file(whole)
    assert not lacks_index(whole)
    data = whole.read_bytes()
    index_at = data.index(b"moov") - 4
    for name, keep in (("in_frames", len(data) // 2), ("in_index", index_at + 20)):
        cut = tmp_path / f"cut_{name}.mp4"
        cut.write_bytes(data[:keep])
        assert lacks_index(cut), name
        with pytest.raises(ValueError, match=rf"cannot open video .*cut_{name}\.mp4: it has no index of its frames"):
            check_video_file(cut)


def test_the_box_walk_reads_64_bit_and_open_ended_sizes(tmp_path: Path) -> None:
    ftyp = (16).to_bytes(4, "big") + b"ftypisom" + bytes(4)
    moov = (8).to_bytes(4, "big") + b"moov"
    big_mdat = (1).to_bytes(4, "big") + b"mdat" + (24).to_bytes(8, "big") + bytes(8)  # 64-bit size: 24 bytes
    cases = {"indexed": (ftyp + big_mdat + moov, False), "no_index": (ftyp + big_mdat, True),
             "open_ended": (ftyp + bytes(4) + b"mdat" + bytes(100), True), "not_mp4": (b"RIFF" + bytes(40), False),
             "broken": (ftyp + (3).to_bytes(4, "big") + b"mdat", False)}
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert lacks_index(tmp_path / name) is expected, name


def test_a_video_of_no_frames_is_refused_before_models_load(tmp_path: Path,
                                                            capfd: pytest.CaptureFixture[str]) -> None:
    empty = _write(tmp_path / "empty.avi", 0, "MJPG")
    with pytest.raises(ValueError, match="empty.avi: no frame could be read"):
        check_video_file(empty)
    absent_model = tmp_path / "no_such_model.safetensors"  # reading it would fail with its own error
    assert main(["predict", str(empty), "--model", str(absent_model), "--out", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err
    assert "no frame could be read" in err and "no_such_model" not in err, err
    assert not (tmp_path / "out").exists()  # no empty record or COCO files
