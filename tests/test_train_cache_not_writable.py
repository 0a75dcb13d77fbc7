"""``handpose train`` without ``--data`` where the cache folder cannot be written: one line naming the cache folder
and ``$HANDPOSE_CACHE``, said before anything is rendered (it named a temporary folder inside the cache as ``--out``,
train's flag for the run folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.cli import main


def test_a_cache_that_cannot_be_written_is_named_with_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")  # unwritable even as root, unlike chmod 555
    monkeypatch.setenv("HANDPOSE_CACHE", str(blocker))
    code = main(["train", "--out", str(tmp_path / "run"), "--max-steps", "1", "--device", "cpu",
                 "--synth-count", "2", "--synth-size", "64"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert f"the cache folder {blocker / 'synth'} cannot be written" in err[0]
    assert "set HANDPOSE_CACHE" in err[0] and "--out" not in err[0]
    assert not (tmp_path / "run").exists()
