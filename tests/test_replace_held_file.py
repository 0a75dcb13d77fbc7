"""Replacing a file another program holds open: Windows refuses the rename with PermissionError (an image viewer
showing an overlay, a player showing the last video), where POSIX replaces it. There the rename is tried again for
a moment, and a refusal that lasts names the file and says why. Windows' refusal is played here by ``os.replace``
raising what it raises there; the retries are Windows' setting (``files.REPLACE_TRIES``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from handpose import files


def _held(times: int) -> tuple[list[int], object]:
    """A stand-in for ``os.replace`` that refuses ``times`` times as Windows does for a held file, then renames."""
    calls = [0]
    real = os.replace

    def replace(source: str | Path, target: str | Path) -> None:
        calls[0] += 1
        if calls[0] <= times:
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        real(source, target)

    return calls, replace


def test_a_briefly_held_file_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "overlay.json"
    target.write_text("old")
    calls, replace = _held(3)
    monkeypatch.setattr(files, "REPLACE_TRIES", 8)
    monkeypatch.setattr(files, "REPLACE_FIRST_WAIT", 0.001)
    monkeypatch.setattr(files.os, "replace", replace)
    files.atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and calls[0] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.json"]  # no temporary file left


def test_a_file_held_for_good_is_named_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "overlay.json"
    target.write_text("old")
    calls, replace = _held(100)
    monkeypatch.setattr(files, "REPLACE_TRIES", 5)
    monkeypatch.setattr(files, "REPLACE_FIRST_WAIT", 0.001)
    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(PermissionError, match="overlay.json: cannot be replaced .*another program may hold it open"):
        files.atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert calls[0] == 5 and target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.json"]


def test_posix_tries_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a refusal means a real permission problem (POSIX: ``REPLACE_TRIES`` 1), it is raised at once."""
    calls, replace = _held(1)
    monkeypatch.setattr(files, "REPLACE_TRIES", 1)
    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(PermissionError):
        files.replace_file(tmp_path / "a", tmp_path / "b")
    assert calls[0] == 1
