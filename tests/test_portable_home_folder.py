"""Where no home folder can be found (Windows without ``%USERPROFILE%``, as under some service accounts; a container's
user id without a passwd entry and no ``$HOME``), ``Path.home()`` raises RuntimeError. ``handpose predict`` then
runs without the speed-trial cache (one warning) and exports the shipped detector into the temporary folder; a
command that needs the cache says to set ``$HANDPOSE_CACHE``. Simulated by removing the variables and the passwd
entry."""

from __future__ import annotations

import logging
import os
import pwd
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.autotune import choice
from handpose.cli import main
from handpose.training.data import NoCacheFolderError, cache_root


@pytest.fixture
def no_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No cache variable, no home folder to be found; the temporary folder is ``tmp_path/tmp`` (returned)."""
    for name in ("HANDPOSE_CACHE", "XDG_CACHE_HOME", "HOME", "USERPROFILE"):
        monkeypatch.delenv(name, raising=False)

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    choice._warn_no_cache.cache_clear()  # warned once per process: this test's run is counted alone
    with pytest.raises(RuntimeError):
        Path.home()  # the condition itself, as Python meets it
    return temp


def test_cache_root_says_what_to_set(no_home: Path) -> None:
    with pytest.raises(NoCacheFolderError, match="HANDPOSE_CACHE"):
        cache_root()


def test_a_cache_under_a_home_that_cannot_be_found_is_named(no_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HANDPOSE_CACHE=~/cache where no home folder can be found: expanduser's RuntimeError ended the command."""
    monkeypatch.setenv("HANDPOSE_CACHE", "~/cache")
    with pytest.raises(NoCacheFolderError, match="HANDPOSE_CACHE=~/cache: the home folder its ~ names"):
        cache_root()


def test_train_on_renders_asks_for_the_cache_before_its_speed_trial(no_home: Path, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.INFO):
        code = main(["train", "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu"])
    assert code == 2
    assert "set HANDPOSE_CACHE" in capsys.readouterr().err
    assert "autotune" not in caplog.text  # said before the trial, not after it


@pytest.mark.slow
def test_predict_runs_without_a_home_folder(no_home: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "hand.jpg"
    cv2.imwrite(str(image), np.full((96, 96, 3), 120, np.uint8))
    with caplog.at_level(logging.INFO):
        code = main(["predict", str(image), "--out", str(tmp_path / "out"), "--threads", "1", "--maps", "none"])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "hand.json").is_file()
    assert caplog.text.count("speed trials are not cached") == 1  # one warning for the run, not one per trial
    exported = list((no_home / f"handpose-{os.getuid()}").glob("hand_detector-*.onnx"))
    assert len(exported) == 1  # the shipped detector's export, in the temporary folder's private folder
    assert "running it in PyTorch" not in caplog.text


def test_detector_training_without_data_is_told_to_give_data_not_a_cache(no_home: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``train --task detect`` renders nothing into the cache: without ``--data`` it needs data, and setting
    ``$HANDPOSE_CACHE`` would not help it."""
    code = main(["train", "--task", "detect", "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--task detect needs --data" in err and "HANDPOSE_CACHE" not in err
