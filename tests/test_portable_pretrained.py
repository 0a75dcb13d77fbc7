"""The shipped detector's ONNX export where there are no user ids (``os.getuid`` is absent on Windows): the cache is
used as before, and the fallback in the temporary folder is the user's own or none. Simulated by deleting
``os.getuid``; nothing is exported (a placeholder file stands for an earlier export)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest

from handpose import pretrained


def _export_name() -> str:
    """The file name detector_onnx gives the export of the shipped detector."""
    digest = hashlib.sha256(pretrained.path("detector").read_bytes()).hexdigest()[:16]
    return f"{Path(pretrained.MODELS[pretrained.DETECTOR_ONNX][0]).stem}-{digest}.onnx"


@pytest.fixture
def no_user_ids(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ``os.getuid``; the home folder is ``tmp_path/home``; returns it."""
    monkeypatch.delattr(os, "getuid")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: home))
    return home


def test_posix_fallback_is_the_users_private_folder() -> None:
    assert pretrained._temporary_folder() == [Path(tempfile.gettempdir()) / f"handpose-{os.getuid()}"]


def test_without_user_ids_the_cache_is_used(no_user_ids: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = no_user_ids / "cache" / "pretrained" / _export_name()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"an earlier export")
    monkeypatch.setenv("HANDPOSE_CACHE", str(no_user_ids / "cache"))
    assert pretrained.path("pretrained:detector-onnx") == cached


def test_without_user_ids_a_temporary_folder_in_the_home_is_the_fallback(no_user_ids: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "file" / "cache"))  # a cache that cannot be made
    temp = no_user_ids / "AppData" / "Local" / "Temp"  # as Windows' %TEMP%
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    placed = temp / "handpose" / _export_name()
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"an earlier export")
    assert pretrained.path("detector-onnx") == placed


def test_without_user_ids_a_machine_wide_temporary_folder_is_not_used(no_user_ids: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "file" / "cache"))
    shared = tmp_path / "Windows" / "Temp"
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    (shared / "handpose").mkdir(parents=True)
    (shared / "handpose" / _export_name()).write_bytes(b"placed by someone")
    assert pretrained._temporary_folder() == []
    with pytest.raises(OSError, match="cannot write the ONNX export"):
        pretrained.path("detector-onnx")
