"""Writes that fail for real: a file-size limit (``ulimit -f``, ``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so the
write gets ``EFBIG``) set in a child process. The error names the file, the earlier file of that name stays whole,
and no temporary file is left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

resource = pytest.importorskip("resource")  # POSIX
LIMIT = 20_000  # bytes a child may write into one file


def _child(*args: str, limit: int = LIMIT) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in a child process that may write at most ``limit`` bytes into one file."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, preexec_fn=limited,
                          timeout=300)


def run_limited(code: str) -> dict:
    """Run ``code`` (which sets ``result``, a json-able dict) in a child process under the file-size limit."""
    done = _child("-c", f"import json, sys\nresult = {{}}\n{code}\nprint(json.dumps(result))\n")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _caught(call: str) -> str:
    return f"""
try:
    {call}
except OSError as exc:
    import errno
    result = {{"type": type(exc).__name__, "message": str(exc), "efbig": exc.errno == errno.EFBIG}}
"""


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name]


def test_a_file_over_the_size_limit_is_named_and_the_earlier_file_stays(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"earlier": true}\n')
    result = run_limited("from handpose.files import write_json\n"
                         + _caught(f"write_json({str(target)!r}, {{'values': list(range(20000))}})"))
    assert result.get("efbig"), result
    assert result["message"].startswith(f"{target}: could not be written (File too large)"), result
    assert "previous file, if any, is unchanged" in result["message"]
    assert json.loads(target.read_text()) == {"earlier": True}
    _no_temporaries(tmp_path)


def _earlier_picture_kept(tmp_path: Path, target: Path, code: str) -> None:
    """``code`` writing ``target`` over the size limit fails naming it, and the earlier file there stays whole."""
    earlier = b"an earlier run's picture"
    target.write_bytes(earlier)
    result = run_limited(code)
    assert result.get("efbig") and result["message"].startswith(f"{target}: could not be written"), result
    assert target.read_bytes() == earlier
    _no_temporaries(tmp_path)


def test_an_overlay_that_cannot_be_written_leaves_the_earlier_one_whole(tmp_path: Path) -> None:
    target = tmp_path / "photo_overlay.png"
    noise = "numpy.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=numpy.uint8)"
    _earlier_picture_kept(tmp_path, target, "import numpy\nfrom handpose.viz import save_bgr\n"
                          + _caught(f"save_bgr({str(target)!r}, {noise})"))


@pytest.mark.slow
def test_a_pck_plot_that_cannot_be_written_leaves_the_earlier_one_whole(tmp_path: Path) -> None:
    from handpose.evaluate import CURVE_NAME

    target = tmp_path / CURVE_NAME
    curves = {"box": {"thresholds": [0.0, 0.1, 0.2], "pck": [0.0, 0.5, 0.9]},
              "pixels": {"thresholds": [0.0, 5.0, 10.0], "pck": [0.0, 0.4, 0.8]}}
    title = "x" * 40
    _earlier_picture_kept(tmp_path, target, "from handpose.evaluate import plot_pck\n"
                          + _caught(f"plot_pck({curves!r}, {str(target)!r}, title={title!r})"))


@pytest.mark.slow
def test_tensorboard_events_over_the_limit_are_one_error_naming_the_file(tmp_path: Path) -> None:
    code = f"""
import numpy
from handpose.training.reporting import TrainWriter
writer = TrainWriter({str(tmp_path)!r})
noise = numpy.random.default_rng(0).integers(0, 255, (96, 96, 3), dtype=numpy.uint8)
try:
    for step in range(100):  # the writer's thread fails; a later call (or the flush at close) raises its error
        writer.validation(step, {{}}, [noise], ())
    writer.close()
except OSError as exc:
    result = {{"message": str(exc), "files": [p.name for p in writer.log_dir.iterdir()]}}
    writer.close(raise_errors=False)
"""
    done = _child("-c", f"import json\nresult = {{}}\n{code}\nprint(json.dumps(result))\n")
    assert done.returncode == 0 and "Exception in thread" not in done.stderr, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (events,) = result["files"]
    assert result["message"] == (f"{tmp_path / events}: could not be written (File too large); the TensorBoard "
                                 "events written before it are kept")


@pytest.mark.slow
def test_a_training_run_that_cannot_write_ends_in_one_line_naming_the_file(synth_data: Path, tmp_path: Path) -> None:
    """Both the weights and the TensorBoard events outgrow the limit; the first failure is reported, in one line,
    and closing the events file (whose thread failed too) neither hides it nor prints a traceback."""
    run = tmp_path / "run"
    done = _child("-m", "handpose", "-q", "train", "--data", str(synth_data), "--out", str(run), "--preset", "tiny",
                  "--input-size", "64", "--batch-size", "4", "--max-steps", "8", "--val-every", "4",
                  "--ckpt-every", "4", "--workers", "0", "--threads", "1", "--no-amp", "--no-channels-last")
    lines = [line for line in done.stderr.splitlines() if line.strip() and " WARNING " not in line]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert lines[0].startswith(f"handpose train: error: {run}{os.sep}"), lines
    assert "could not be written" in lines[0] or "the disk is full" in lines[0], lines


def test_a_looping_exception_chain_is_walked_once() -> None:
    """TensorBoard raises its thread's error again at every call, which can close an exception chain in a loop;
    disk_full looped over it for ever (run in a thread here, so a loop fails the test instead of hanging it)."""
    import errno
    import threading

    from handpose.files import disk_full

    thread_error, named = OSError(errno.EFBIG, "File too large"), OSError("events: could not be written")
    thread_error.__context__, named.__cause__ = named, thread_error
    full = OSError(errno.ENOSPC, "No space left on device")
    answers: list[bool] = []
    walker = threading.Thread(target=lambda: answers.extend([disk_full(named), disk_full(full)]), daemon=True)
    walker.start()
    walker.join(timeout=10)
    assert answers == [False, True]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".mp4", ".avi"])  # an mp4 cut short does not open; an avi does, and lacks frames
def test_a_video_that_cannot_be_written_leaves_the_earlier_one_and_keeps_the_hands(tmp_path: Path,
                                                                                    suffix: str) -> None:
    earlier = tmp_path / f"annotated{suffix}"
    earlier.write_bytes(b"an earlier predict's video")
    noise = np.random.default_rng(0)
    clip = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (320, 200))
    for _ in range(30):  # random pixels: the annotated video outgrows the limit
        clip.write(noise.integers(0, 255, (200, 320, 3), dtype=np.uint8))
    clip.release()
    code = f"""
from dot_hands import DotBackend, DotDetector
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.inference.video import run_video
predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5), detector=DotDetector())
video = run_video(predictor, {str(tmp_path / "clip.avi")!r}, save_video={str(earlier)!r})
result = {{"error": video.error, "count": video.count, "saved": video.saved_video is not None}}
"""
    result = run_limited(code)
    assert result["count"] == 30 and not result["saved"], result
    assert result["error"].startswith(f"--save-video {earlier}: could not be written"), result
    assert earlier.read_bytes() == b"an earlier predict's video"
    assert sorted(p.name for p in tmp_path.iterdir()) == [earlier.name, "clip.avi"]


@pytest.mark.parametrize(("limit", "first"), [(100, "handpose-synth.manifest"), (400, "00000000.jpg")])
def test_a_render_that_cannot_write_names_the_file_once_and_leaves_no_temporary(tmp_path: Path, limit: int,
                                                                                first: str) -> None:
    out = tmp_path / "renders"
    done = _child("-m", "handpose", "-q", "synth", "--out", str(out), "--count", "2", "--size", "96",
                  "--renderer", "fallback", limit=limit)
    folder = out / "synth1"
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"handpose synth: error: {folder / first}: could not be written (File too "
                                   "large); nothing was written there and the previous file, if any, is unchanged")
    assert not [p.name for p in folder.iterdir() if "tmp" in p.name]


@pytest.mark.slow
def test_a_video_record_over_the_limit_names_its_file(tmp_path: Path) -> None:
    """The frames of a video are streamed to a temporary file first: its failure (a write part way stops the run;
    the close that writes the last buffered lines fails again) names the record it was for, and no temporary is
    left."""
    code = f"""
import numpy
from pathlib import Path
from handpose.commands.video_record import VideoRecord
from handpose.inference.predictor import Prediction
from handpose.inference.results import Hands
folder = Path({str(tmp_path)!r})
rng = numpy.random.default_rng(0)
hand = Prediction(rng.uniform(0, 100, (21, 2)).astype(numpy.float32), rng.uniform(0, 1, 21).astype(numpy.float32),
                  numpy.array([1, 2, 30, 40], numpy.float32), score=0.7, track_id=0)
try:
    with VideoRecord(folder, "clip") as record:
        for i in range(200):
            try:
                record.add(i, i / 25.0, Hands([hand]))
            except OSError:  # as run_video does: the run stops, the frames done are the caller's to write
                break
        record.finish(i, {{"source": "clip.mp4"}}, None, folder / "clip.json",
                      [folder / "coco_results.json", folder / "coco_images.json"], "clip.mp4", 64, 48)
except OSError as exc:
    result = {{"message": str(exc)}}
"""
    result = run_limited(code)
    assert result["message"].startswith(f"{tmp_path / 'clip.json'}: could not be written (File too large)"), result
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_over_the_size_limit_is_named_as_too_large_not_a_full_disk(tmp_path: Path) -> None:
    """torch's zip writer turns the file's EFBIG into "unexpected pos ...", which it also says for a full disk; the
    error number under it decides, so the message says what happened and names the checkpoint."""
    target = tmp_path / "last.pt"
    target.write_bytes(b"earlier")
    result = run_limited("import torch\nfrom handpose.files import atomic_torch_save\n"
                         + _caught(f"atomic_torch_save({{'w': torch.zeros(50_000)}}, {str(target)!r})"))
    assert result["type"] == "OSError" and result["efbig"], result
    assert result["message"].startswith(f"{target}: could not be written (File too large)"), result
    assert target.read_bytes() == b"earlier"
    _no_temporaries(tmp_path)


def test_an_error_number_under_a_writers_message_decides_whether_the_disk_is_full() -> None:
    import errno

    from handpose.files import disk_full

    def torch_style(cause: OSError | None) -> RuntimeError:
        error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
        error.__context__ = cause
        return error

    assert disk_full(torch_style(OSError(errno.ENOSPC, "No space left on device")))
    assert not disk_full(torch_style(OSError(errno.EFBIG, "File too large")))
    assert disk_full(torch_style(None))  # no error number under it: the message is all there is
