"""The disk-space check of a render counts the files it will replace as room: a render stopped by a full disk and run
again after some space was freed was refused ('needs about 2.8 MiB on disk and 1.9 MiB is free') though most of that
need was its own earlier files, each replaced as its new one is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from handpose.synth import output_folder
from handpose.synth.output_folder import check_request


def test_the_files_a_render_writes_again_count_as_free_space(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "images").mkdir()
    for i in range(10):  # a stopped render's files: half as crops, half as scene images, 6 kB each
        place = tmp_path if i % 2 else tmp_path / "images"
        (place / f"{i:08d}.jpg").write_bytes(b"\xff\xd8" + bytes(6000))
    (tmp_path / "00000099.jpg").write_bytes(bytes(10**6))  # past the count: not replaced, no room
    (tmp_path / "notes.txt").write_bytes(bytes(10**6))  # not a sample file
    usage = shutil.disk_usage(tmp_path)
    # 10 images of 64x64 need about 10 * (64 * 64 / 4 + 2048) = 30,720 bytes; 20,000 are free beside the 60,020 held
    monkeypatch.setattr(output_folder.shutil, "disk_usage", lambda path: usage._replace(free=20_000))
    assert check_request(10, (64, 64), 1, 0, tmp_path) == 1
    with pytest.raises(ValueError, match=r"--count 14 at --size 128 needs about 0.1 MiB on disk and 0.0 MiB is free "
                                         r"under .* \(and 0.1 MiB in the files it replaces\)"):
        check_request(14, (128, 128), 1, 0, tmp_path)  # 14 * (128 * 128 / 4 + 2048) = 86,016 > 20,000 + 60,020
