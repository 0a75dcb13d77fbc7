"""A terminal that closes under a running command (its window closed, the SSH session gone): the system sends
SIGHUP, whose default action killed the command (train lost the steps since its last checkpoint, predict its COCO
files and video), and fails every later write to the terminal with EIO. Real processes on a real pseudo-terminal,
hung up part way, stop as SIGTERM stops them, with what they had done written."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from pathlib import Path

import cv2
import pytest
from dot_hands import dot_hand_keypoints, draw_dot_hands
from hung_up_terminal import run_and_hang_up
from stub_predict import SCRIPT

from handpose.closed_output import QuietWhenClosed
from handpose.inference.video import partial_path
from handpose.model.artifact import load_checkpoint
from handpose.training.checkpoints import list_checkpoints
from handpose.training.signals import StopRequest

posix_only = pytest.mark.skipif(not hasattr(signal, "SIGHUP") or sys.platform == "win32",
                                reason="SIGHUP and pseudo-terminals are POSIX")
SIZE = (160, 120)


def _env() -> dict[str, str]:
    tests = str(Path(__file__).parent)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": tests + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.mark.slow
@posix_only
def test_a_training_run_whose_terminal_closes_saves_a_checkpoint(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, shown = run_and_hang_up(
        [sys.executable, "-m", "handpose", "train", "--data", str(synth_data), "--out", str(out), "--preset", "tiny",
         "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "1", "--device", "cpu",
         "--threads", "1", "--no-amp", "--max-steps", "100000", "--log-every", "1", "--ckpt-every", "100000"],
        lambda text: " step=3," in text, _env())
    assert code == 0, shown  # the stop's own lines, written to the hung-up terminal, did not end it
    checkpoints = list_checkpoints(out / "checkpoints")
    assert len(checkpoints) == 1, shown
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"] == "SIGHUP" and summary["step"] == load_checkpoint(checkpoints[0])["step"] >= 3


@pytest.mark.slow
@posix_only
def test_predict_on_a_folder_whose_terminal_closes_writes_the_coco_files(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(200):
        cv2.imwrite(str(images / f"{i:03d}.png"), draw_dot_hands(SIZE, [dot_hand_keypoints((80, 60))]))
    out = tmp_path / "out"
    code, shown = run_and_hang_up([sys.executable, "-c", SCRIPT, "predict", str(images), "--out", str(out),
                                   "--maps", "none"], lambda text: "_overlay" in text, _env())
    assert code == 128 + signal.SIGHUP, shown
    done = json.loads((out / "coco_images.json").read_text())["images"]
    assert 0 < len(done) < 200
    assert len(json.loads((out / "coco_results.json").read_text())) == len(done)


@pytest.mark.slow
@posix_only
def test_predict_on_a_video_whose_terminal_closes_writes_the_frames_done(tmp_path: Path) -> None:
    video = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, SIZE)
    for i in range(1500):
        writer.write(draw_dot_hands(SIZE, [dot_hand_keypoints((40 + (i % 20) * 4, 60))]))
    writer.release()
    out, saved = tmp_path / "out", tmp_path / "out" / "long_hands.mp4"
    code, shown = run_and_hang_up([sys.executable, "-c", SCRIPT, "predict", str(video), "--out", str(out),
                                   "--save-video", str(saved)], lambda _: partial_path(saved).exists(), _env())
    assert code == 128 + signal.SIGHUP, shown
    record = json.loads((out / "long.json").read_text())
    n = len(record["frames"])
    assert 0 < n < 1500 and record["error"].startswith(f"{video}: stopped by SIGHUP after {n} frames")
    assert len(json.loads((out / "coco_images.json").read_text())["images"]) == n
    cap = cv2.VideoCapture(str(saved))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    cap.release()


@posix_only
@pytest.mark.parametrize("name", ["SIGHUP", "SIGINT"])
def test_a_signal_ignored_at_start_stays_ignored(name: str) -> None:
    """A run started under nohup (SIGHUP ignored) or as a shell script's background job, `handpose train ... &`
    (SIGINT ignored, so that a Ctrl-C at the terminal stops only the foreground), keeps ignoring it: the run took a
    Ctrl-C meant for the foreground as a stop request."""
    sig = signal.Signals[name]
    before = signal.signal(sig, signal.SIG_IGN)  # what nohup, or a non-interactive shell, leaves the command
    try:
        with StopRequest() as stop:
            os.kill(os.getpid(), sig)
            time.sleep(0.05)
            assert stop.reason is None
        assert signal.getsignal(sig) == signal.SIG_IGN
    finally:
        signal.signal(sig, before)


@posix_only
def test_a_hung_up_terminal_is_a_gone_reader() -> None:
    master, slave = os.openpty()
    with open(slave, "w", buffering=1) as terminal:
        quiet = QuietWhenClosed(terminal)
        os.close(master)  # the hang-up: writes fail with EIO from now on
        assert quiet.write("stopped by SIGHUP\n") == 18 and quiet.reader_gone
        quiet.flush()


class _Disk(io.StringIO):
    """A regular file (not a terminal) whose every write fails with EIO, as a failing disk's do."""

    def write(self, text: str) -> int:
        raise OSError(5, "Input/output error")


def test_eio_on_a_file_is_still_an_error() -> None:
    with pytest.raises(OSError, match="Input/output error"):
        QuietWhenClosed(_Disk()).write("a line\n")
