"""A held folder lock whose folder was moved and replaced by something the lock cannot be taken on: a file where the
folder was, or a folder whose lock file name is taken by a folder. The lock's checks say "not the path's" and its
release lets the moved folder go, rather than raising and keeping it locked until the process ends; nor does it
delete the lock file of a folder made at the path since."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from handpose.folder_lock import LOCK_NAME, RunLock


def test_a_file_where_the_folder_was_is_not_the_locks_folder(tmp_path: Path) -> None:
    out, moved = tmp_path / "out", tmp_path / "moved"
    out.mkdir()
    lock = RunLock(out, remove=True).acquire()
    out.rename(moved)
    out.write_text("a file, not a folder")
    assert not lock.at_path()
    lock.release()
    assert not lock.held
    with RunLock(moved):  # the moved folder's lock was let go
        pass
    assert out.read_text() == "a file, not a folder"


def test_a_follow_that_cannot_lock_the_new_folder_keeps_the_old_lock(tmp_path: Path) -> None:
    out, moved = tmp_path / "out", tmp_path / "moved"
    out.mkdir()
    lock = RunLock(out, "prediction folder").acquire()
    out.rename(moved)
    (out / LOCK_NAME).mkdir(parents=True)  # the lock file's name taken: it cannot be opened
    with pytest.raises(IsADirectoryError):
        lock.follow()
    assert lock.held  # still the moved folder's, released as before
    lock.release()
    with RunLock(moved):
        pass


def test_a_removing_release_on_windows_leaves_the_lock_file_of_a_folder_made_since(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows deletes a removing lock's file after closing it: only where it was still this lock's file, not the
    one of a folder another run made at the path after this one was moved."""
    import os

    out, moved = tmp_path / "out", tmp_path / "moved"
    out.mkdir()
    lock = RunLock(out, "prediction folder", remove=True).acquire()
    out.rename(moved)
    out.mkdir()
    RunLock(out).acquire().release()  # a finished run's folder: its lock file stays
    monkeypatch.setattr(os, "name", "nt")
    lock.release()
    monkeypatch.undo()
    assert (out / LOCK_NAME).is_file()


def test_a_writer_starting_beside_a_probe_takes_the_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """check_free holds a shared lock for an instant; a writer whose exclusive lock landed in that instant was
    refused, naming 'PID unknown'. A holder that has written no PID is now waited for (up to a second)."""
    import os
    import threading

    from handpose import folder_lock
    from handpose.folder_lock import RunFolderBusyError

    fcntl = pytest.importorskip("fcntl")  # a shared lock held by hand, as check_free's probe holds it on POSIX
    monkeypatch.setattr(folder_lock, "_NAMELESS_WAIT_S", 60.0)  # longer than any stall of a busy machine

    (tmp_path / LOCK_NAME).write_text("")
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # a probe, caught mid-way
    threading.Timer(0.2, os.close, [fd]).start()  # and ended, as probes end
    with RunLock(tmp_path) as lock:
        assert lock.held
    with RunLock(tmp_path):  # a writer that named itself is refused at once, not after the (60 s) wait
        t0 = time.monotonic()
        with pytest.raises(RunFolderBusyError, match=f"PID {os.getpid()}"):
            RunLock(tmp_path).acquire()
        assert time.monotonic() - t0 < 30


def test_a_holder_that_never_names_itself_is_refused_after_the_wait(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The wait for a holder with no PID ends: one that keeps the lock unnamed is refused as before."""
    import os

    fcntl = pytest.importorskip("fcntl")  # a shared lock held by hand, as check_free's probe holds it on POSIX

    from handpose import folder_lock
    from handpose.folder_lock import RunFolderBusyError

    monkeypatch.setattr(folder_lock, "_NAMELESS_WAIT_S", 0.3)
    (tmp_path / LOCK_NAME).write_text("")
    fd = os.open(tmp_path / LOCK_NAME, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # held, and never named
    try:
        t0 = time.monotonic()
        with pytest.raises(RunFolderBusyError, match="PID unknown"):
            RunLock(tmp_path).acquire()
        assert 0.3 <= time.monotonic() - t0 < 30  # waited, then gave up
    finally:
        os.close(fd)
