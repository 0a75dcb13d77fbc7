"""A real ``handpose predict`` process whose models are the dot-hand stand-ins (``dot_hands``), stopped by signals
once it has started writing: for the tests of what a stopped predict keeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from terminal_signals import preexec

SCRIPT = ("import sys; from dot_hands import DotBackend, DotDetector; from handpose.cli import main; "
          "from handpose.commands import predict as p; from handpose.inference.predictor import Predictor; "
          "from handpose.inference.prepare import CropSpec; "
          "p.load_predictor = lambda args, video=False: Predictor(DotBackend(), CropSpec(input_size=64, "
          "box_padding=1.5), detector=DotDetector()); sys.exit(main(sys.argv[1:]))")


def start_stub_predict(args: list[str]) -> subprocess.Popen[str]:
    """A ``handpose predict ARGS`` process with the stand-in models (stdout and stderr piped, as text)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, "predict", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec())


def wait_for(proc: subprocess.Popen[str], started: Path | Callable[[], bool]) -> None:
    """Wait (up to 2 minutes) until the file ``started`` exists, or the condition ``started()`` holds;
    AssertionError when ``proc`` has ended by then or it never did."""
    ready = started if callable(started) else started.exists
    deadline = time.monotonic() + 120
    while proc.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "predict ended before it could be stopped"
    assert ready(), f"predict ran 2 minutes without reaching {started}"


def stop_stub_predict(args: list[str], started: Path, signals: list[str], settle: float = 0.0) -> tuple[int, str]:
    """Run ``handpose predict ARGS`` with the stand-in models, send ``signals`` (names, 20 ms apart) once the file
    ``started`` exists (and ``settle`` seconds more), and return its exit code and standard error."""
    proc = start_stub_predict(args)
    try:
        wait_for(proc, started)
        time.sleep(settle)
        assert proc.poll() is None, "predict ended before it could be stopped"
        for name in signals:
            proc.send_signal(getattr(signal, name))
            time.sleep(0.02)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, err
