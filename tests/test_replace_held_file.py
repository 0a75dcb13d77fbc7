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


@pytest.mark.parametrize(("held", "tries", "replaced"), [(3, 8, True), (100, 5, False)])
def test_a_held_file_is_replaced_once_free_or_named_and_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            held: int, tries: int, replaced: bool) -> None:
    """Held for 3 refusals of 8 tries: replaced on the 4th; held for good: after 5 tries the error names the file
    and the old one stays. No temporary file is left either way."""
    target = tmp_path / "overlay.json"
    target.write_text("old")
    calls, replace = _held(held)
    monkeypatch.setattr(files, "REPLACE_TRIES", tries)
    monkeypatch.setattr(files, "REPLACE_FIRST_WAIT", 0.001)
    monkeypatch.setattr(files.os, "replace", replace)
    if replaced:
        files.atomic_write(target, lambda tmp: tmp.write_text("new"))
    else:
        with pytest.raises(PermissionError, match="overlay.json: cannot be replaced .*another program may hold it"):
            files.atomic_write(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == ("new" if replaced else "old") and calls[0] == min(held + 1, tries)
    assert [p.name for p in tmp_path.iterdir()] == ["overlay.json"]


def test_posix_tries_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a refusal means a real permission problem (POSIX: ``REPLACE_TRIES`` 1), it is raised at once."""
    calls, replace = _held(1)
    monkeypatch.setattr(files, "REPLACE_TRIES", 1)
    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(PermissionError):
        files.replace_file(tmp_path / "a", tmp_path / "b")
    assert calls[0] == 1
