"""A rendering worker process killed part way (the system's out-of-memory killer sends SIGKILL) ends `handpose synth`
with one line saying so, its other workers gone: with ``multiprocessing.Pool`` the render waited for the dead
worker's task for ever, and SIGTERM did not end the wait either. Linux: the workers are found in /proc."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from render_process import kill_render, render_under_way

from handpose.synth.output_folder import MANIFEST_NAME

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir() or not hasattr(signal, "SIGKILL"),
                                reason="finds the workers in Linux's /proc and kills one with SIGKILL")


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux: its threads' ``children`` files)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _workers(pid: int) -> list[int]:
    """The spawned worker processes of ``pid`` (their command line runs multiprocessing's ``spawn_main``)."""
    out = []
    for child in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                out.append(child)
        except OSError:
            continue
    return out


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie waiting to be reaped)."""
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


@pytest.mark.slow
def test_a_killed_render_worker_ends_the_render_with_one_line(tmp_path: Path) -> None:
    out = tmp_path / "r"
    proc = render_under_way(out, 20000)
    try:
        workers = _workers(proc.pid)
        assert proc.poll() is None and len(workers) == 2, "the render ended before a worker could be killed"
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=60)  # it hung here for ever before
    finally:
        kill_render(proc)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip() and " INFO " not in line and " WARNING " not in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "a rendering worker process died after" in lines[0] and "run the same command again" in lines[0]
    assert _gone(workers[1])  # the other worker does not render on after its parent
    assert json.loads((out / "synth1" / MANIFEST_NAME).read_text())["complete"] is False
