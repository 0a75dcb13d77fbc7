"""The run folder's lock where there is no ``fcntl`` (Windows): ``msvcrt.locking`` of a byte past the PID, the PID
read without ``os.pread``; simulated on Linux with the stand-ins of ``windows_stand_ins``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from windows_stand_ins import fake_msvcrt

SRC = Path(__file__).resolve().parents[1] / "src"
TESTS = Path(__file__).resolve().parent


def test_posix_keeps_flock() -> None:
    from handpose import file_locks

    assert file_locks.fcntl is not None  # Linux: the flock implementation, as before


@pytest.fixture
def windows_locks(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """handpose.file_locks taking its Windows branch in this process."""
    from handpose import file_locks

    monkeypatch.setattr(file_locks, "fcntl", None)
    monkeypatch.setitem(sys.modules, "msvcrt", fake_msvcrt())
    monkeypatch.delattr(os, "pread")
    monkeypatch.delattr(os, "pwrite")
    return file_locks


def test_windows_lock_leaves_the_pid_readable(windows_locks: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        windows_locks.lock_exclusive(fd)
        windows_locks.write_at(fd, b"123\n", 0)
        windows_locks.probe(fd)  # this process's own lock does not make it busy
        assert windows_locks.read_at(fd, 32, 0) == b"123\n"
        assert path.stat().st_size == 4  # nothing written at the locked byte
    finally:
        os.close(fd)


HOLDER = """
import sys
sys.path[:0] = [{src!r}, {tests!r}]
from windows_stand_ins import simulate_windows
simulate_windows()
from handpose.folder_lock import RunLock
lock = RunLock({folder!r}).acquire()
print("held", flush=True)
sys.stdin.read()
lock.release()
"""


@pytest.mark.slow
def test_run_lock_without_fcntl_refuses_a_second_writer(windows_locks: ModuleType, tmp_path: Path) -> None:
    """A process with no fcntl imports run_folder and holds the lock; another sees it busy, with the holder's PID."""
    from handpose.folder_lock import RunFolderBusyError, RunLock

    code = HOLDER.format(src=str(SRC), tests=str(TESTS), folder=str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held", holder.communicate()[1]
        with pytest.raises(RunFolderBusyError, match=f"PID {holder.pid}"):
            RunLock(tmp_path).acquire()
        with pytest.raises(RunFolderBusyError, match=f"PID {holder.pid}"):
            RunLock(tmp_path).check_free()
    finally:
        _, err = holder.communicate("", timeout=60)
    assert holder.returncode == 0, err
    with RunLock(tmp_path) as lock:  # free once the holder let go
        assert lock.held
        RunLock(tmp_path).check_free()  # this process's own lock
