"""One ``handpose synth`` writes a folder at a time: a second render into a folder another is rendering is refused
with the holder's PID (the two would leave one's pictures beside the other's labels), and a render leaves no lock
file behind, nor adds one to a folder it refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handpose import folder_lock
from handpose.cli import main
from handpose.folder_lock import LOCK_NAME, RunFolderBusyError, RunLock
from handpose.synth.output_folder import MANIFEST_NAME


@pytest.mark.parametrize("kind", ["crops", "scenes"])
def test_a_second_render_into_a_folder_being_rendered_is_refused(kind: str, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    size = ["--scenes", "--scene-size", "96x64"] if kind == "scenes" else ["--size", "64"]
    folder = out / ("scenes" if kind == "scenes" else "synth1")  # each kind's default --folder
    started = folder / ("images/00000001.jpg" if kind == "scenes" else "00000001.json")
    first = subprocess.Popen([sys.executable, "-m", "handpose", "synth", "--out", str(out), "--count", "100000",
                              "--seed", "1", "--workers", "1", *size], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[1]
        code = main(["synth", "--out", str(out), "--count", "10", "--seed", "2", *size])
        err = capsys.readouterr().err
        assert code == 2, err
        assert f"another handpose process (PID {first.pid}) is writing this render" in err
    finally:
        first.send_signal(signal.SIGTERM)  # a render stopped by SIGTERM ends its last sample and exits
        first.communicate(timeout=120)
    assert not (folder / LOCK_NAME).exists()  # the first render's lock went with it
    assert main(["synth", "--out", str(out), "--count", "4", "--seed", "2", *size]) == 0  # free again
    assert not (folder / LOCK_NAME).exists()


def test_a_refused_folder_gets_no_lock_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "data" / "synth1"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    assert main(["synth", "--out", str(tmp_path / "data"), "--count", "4", "--size", "64"]) == 2
    assert "holds files handpose synth did not write (notes.txt)" in capsys.readouterr().err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_a_render_into_a_folder_with_a_killed_renders_lock_file_goes_ahead(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "synth1"
    folder.mkdir(parents=True)
    (folder / LOCK_NAME).write_text("12345\n")  # a killed render's: the lock is not held
    assert main(["synth", "--out", str(tmp_path / "data"), "--count", "4", "--size", "64"]) == 0
    assert sorted(p.name for p in folder.iterdir())[-1] == MANIFEST_NAME and not (folder / LOCK_NAME).exists()


def test_a_removed_lock_file_opened_before_its_removal_is_not_taken(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The race a removing holder opens: another process opened the file, the holder deleted it and let go, and
    the other's lock then lands on a file no longer at the path; it must open the path again."""
    path = tmp_path / LOCK_NAME
    path.write_text("")
    stale = os.open(path, os.O_RDWR)
    path.unlink()  # deleted by its holder after the open above
    real_open, opened = os.open, []

    def open_first_the_stale(*args: object) -> int:
        if args[0] != path:  # the folder itself, opened to delete the file from at the end
            return real_open(*args)  # type: ignore[arg-type]
        opened.append(args[0])
        return stale if len(opened) == 1 else real_open(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(folder_lock.os, "open", open_first_the_stale)
    lock = RunLock(tmp_path, remove=True).acquire()
    assert len(opened) == 2 and lock.at_path()
    with pytest.raises(RunFolderBusyError):
        RunLock(tmp_path).acquire()
    lock.release()
    assert not path.exists()
    with pytest.raises(OSError):
        os.fstat(stale)  # the stale descriptor was closed
