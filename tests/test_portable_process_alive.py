"""Stale temporary files are judged by whether their writer's process runs, asked without signalling it: on Windows
``os.kill(pid, 0)`` would send a Ctrl-C event (or terminate the process), so there the process is queried through
kernel32; simulated on Linux with a stand-in kernel32 and ``os.name`` "nt" while the module is imported."""

from __future__ import annotations

import ctypes
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from handpose import process_alive
from handpose.files import remove_stale_temporaries

RUNNING, GONE, OTHER_USERS = 4343, 4242, 77


class FakeKernel32:
    """OpenProcess / GetExitCodeProcess / CloseHandle as Windows answers them for three processes."""

    def __init__(self) -> None:
        self.last_error = 0
        self.open_handles: set[int] = set()

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> int:  # noqa: N802 - the API's name
        assert access == process_alive.PROCESS_QUERY_LIMITED_INFORMATION
        if pid in (RUNNING, GONE + 1):
            self.open_handles.add(pid)
            return pid
        self.last_error = process_alive.ERROR_ACCESS_DENIED if pid == OTHER_USERS else 87  # invalid parameter
        return 0

    def GetExitCodeProcess(self, handle: int, code: ctypes._Pointer) -> int:  # noqa: N802
        code.contents.value = process_alive.STILL_ACTIVE if handle == RUNNING else 0
        return 1

    def CloseHandle(self, handle: int) -> int:  # noqa: N802
        self.open_handles.remove(handle)
        return 1


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeKernel32]:
    """process_alive imported as on Windows, with the stand-in kernel32; os.kill fails the test if called."""
    kernel32 = FakeKernel32()
    monkeypatch.setattr(ctypes, "WinDLL", lambda name, use_last_error=False: kernel32, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel32.last_error, raising=False)

    def no_kill(pid: int, sig: int) -> None:
        raise AssertionError(f"os.kill({pid}, {sig}) on Windows signals the process")

    monkeypatch.setattr(os, "kill", no_kill)
    with monkeypatch.context() as nt:
        nt.setattr(os, "name", "nt")
        importlib.reload(process_alive)
    yield kernel32
    importlib.reload(process_alive)


def test_windows_queries_the_process_and_sends_nothing(windows: FakeKernel32, tmp_path: Path) -> None:
    assert process_alive.alive(RUNNING) and process_alive.alive(OTHER_USERS)
    assert not process_alive.alive(GONE) and not process_alive.alive(GONE + 1)  # no such process; one that ended
    names = [f".model.tmp-{pid}-0.safetensors" for pid in (RUNNING, GONE, OTHER_USERS)]
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == [tmp_path / names[1]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[0], names[2]])
    assert not windows.open_handles  # every handle closed


def test_posix_uses_the_null_signal() -> None:
    assert process_alive._IMPLEMENTATION is process_alive._posix_alive
    assert process_alive.alive(os.getpid())
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert not process_alive.alive(int(ended.stdout))  # reaped: no such process (unless its id was reused at once)
