"""``handpose predict`` checks a video file before it loads its models: a missing or undecodable video is named at
once, not after the seconds the models (and the detector's first-use export and timing) take."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.cli import main


@pytest.mark.parametrize("kind", ["missing", "junk"])
def test_a_bad_video_is_named_before_any_model_is_read(kind: str, tmp_path: Path,
                                                       capfd: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / f"{kind}.mp4"
    if kind == "junk":
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"not a video at all" * 10)
    absent_model = tmp_path / "no_such_model.safetensors"  # reading it would fail with its own error
    assert main(["predict", str(video), "--model", str(absent_model), "--out", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err
    assert ("video not found" if kind == "missing" else "cannot open video") in err, err
    assert "no_such_model" not in err
    assert not (tmp_path / "out").exists()  # and nothing is left behind
