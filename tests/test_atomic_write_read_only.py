"""A write into a folder on a read-only file system names the file it was for: the clean-up's unlink of the
temporary file, which such a file system refuses too (EROFS, though the file was never made), replaced the write's
error, so a checkpoint that could not be written ended '[Errno 30] Read-only file system: .../.ckpt-00000010.tmp-...'.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from handpose.files import atomic_write


def test_a_read_only_folder_is_reported_for_the_file_not_its_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "checkpoints" / "ckpt-00000010.pt"
    target.parent.mkdir()

    def read_only(path: str | os.PathLike[str], *args: object, **kw: object) -> None:  # as the kernel answers there
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def write(tmp: Path) -> None:
        read_only(tmp)  # open(tmp, "wb") on a read-only file system

    monkeypatch.setattr(os, "unlink", read_only)
    with pytest.raises(OSError) as caught:
        atomic_write(target, write)
    monkeypatch.undo()
    assert caught.value.errno == errno.EROFS
    assert str(caught.value).startswith(f"{target}: could not be written (Read-only file system)")
    assert ".tmp-" not in str(caught.value) and not list(target.parent.iterdir())
