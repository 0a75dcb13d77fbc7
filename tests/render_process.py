"""A `handpose synth --workers 2` render in a process of its own, under way: for tests that stop or break it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def render_under_way(out: Path, count: int) -> subprocess.Popen:
    """Start rendering ``count`` 64 px hands into ``out`` in two workers; return once 5 images are written (or the
    process ended, or two minutes passed: the caller checks ``poll()``)."""
    proc = subprocess.Popen([sys.executable, "-m", "handpose", "synth", "--out", str(out), "--count", str(count),
                             "--size", "64", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline and (
            len(list((out / "synth1").glob("*.jpg"))) if (out / "synth1").is_dir() else 0) < 5:
        time.sleep(0.1)
    return proc
