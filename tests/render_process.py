"""A `handpose synth --workers 2` render in a process of its own, under way: for tests that stop or break it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def render_under_way(out: Path, count: int) -> subprocess.Popen:
    """Start rendering ``count`` 64 px hands into ``out`` in two workers, in a session (process group) of its own;
    return once 5 images are written (or the process ended, or two minutes passed: the caller checks ``poll()``)."""
    proc = subprocess.Popen([sys.executable, "-m", "handpose", "synth", "--out", str(out), "--count", str(count),
                             "--size", "64", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and (
            len(list((out / "synth1").glob("*.jpg"))) if (out / "synth1").is_dir() else 0) < 5:
        time.sleep(0.1)
    return proc


def kill_render(proc: subprocess.Popen) -> None:
    """Where the render still runs (a test failed before it ended): kill it with its workers, its process group. A
    worker that outlives its killed parent keeps the parent's output pipes open, and reading them waited for ever."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.communicate(timeout=60)
