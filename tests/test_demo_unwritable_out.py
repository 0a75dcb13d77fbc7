"""`handpose demo --out` in a place that cannot be written (a read-only file system) ends in the one line the other
commands give, naming the flag: it ended '[Errno 30] Read-only file system: ...' from a bare mkdir."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from handpose.cli import main


def test_a_read_only_out_is_named_with_its_flag_before_any_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    real_mkdir = os.mkdir

    def mkdir(path: str | os.PathLike[str], *args: object, **kw: object) -> None:  # tmp_path as a read-only mount
        if Path(path) == out:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        real_mkdir(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "mkdir", mkdir)
    assert main(["demo", "--out", str(out), "--device", "cpu"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines == [f"handpose demo: error: --out {out}: cannot write there (Read-only file system)"]
    assert not out.exists()
