"""handpose used as a library leaves the caller's process as it found it: random streams, thread counts, the
environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from handpose.config import TrainConfig
from handpose.model.artifact import load_model


@pytest.mark.parametrize(("name", "task"), [("pretrained:lite", "keypoints"), ("pretrained:detector", "detect")])
def test_loading_a_model_leaves_the_callers_torch_random_stream_alone(name: str, task: str) -> None:
    # a researcher seeds, loads handpose beside their own model, then initialises theirs: the same numbers as
    # without the load (building the layers drew their random start from the global stream)
    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    load_model(name, task=task)
    assert torch.equal(torch.rand(4), expected)


def test_a_predictor_leaves_the_callers_torch_random_stream_alone() -> None:
    from handpose import Predictor

    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    Predictor.from_file("pretrained:lite", detector=None).predict(torch.zeros(64, 64, 3, dtype=torch.uint8).numpy())
    assert torch.equal(torch.rand(4), expected)


def _process_state() -> tuple:
    """What a training run sets for itself: the three global random states, the two thread counts and the thread
    exception hook (TensorBoard's writer thread's failed writes are the run's to report; it stayed installed)."""
    import random
    import threading

    import cv2
    import numpy as np

    np_state = np.random.get_state()  # noqa: NPY002 (the caller's global state is the point)
    return (random.getstate(), np_state[1].tobytes(), np_state[2:], torch.get_rng_state().numpy().tobytes(),
            torch.get_num_threads(), cv2.getNumThreads(), threading.excepthook)


@pytest.fixture
def callers_settings() -> Iterator[None]:
    """A caller's own seeds and thread counts (2 OpenCV threads, 2 PyTorch threads), put back after the test."""
    import random

    import cv2
    import numpy as np

    threads, cv2_threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    random.seed(11)
    np.random.seed(12)  # noqa: NPY002
    torch.manual_seed(13)
    yield
    torch.set_num_threads(threads)
    cv2.setNumThreads(cv2_threads)


def _tiny_run(data: Path, out: Path, **kw: object) -> TrainConfig:
    from handpose.config import DataConfig
    from handpose.model.cpm import preset

    return TrainConfig(data=str(data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                       batch_size=4, max_steps=2, workers=0, log_every=1, val_every=0, ckpt_every=100, amp=False,
                       channels_last=False, warmup_steps=0, threads=1, seed=5, **kw)


def test_training_gives_back_the_callers_random_states_and_threads(synth_data: Path, tmp_path: Path,
                                                                   callers_settings: None) -> None:
    from handpose.training import train

    before = _process_state()
    assert train(_tiny_run(synth_data, tmp_path / "run"))["step"] == 2
    assert _process_state() == before  # the run seeded all three streams and ran on 1 PyTorch and 1 OpenCV thread


def test_a_failed_training_run_gives_them_back_too(synth_data: Path, tmp_path: Path, callers_settings: None) -> None:
    from handpose.training import NonFiniteLossError, train

    before = _process_state()
    with pytest.raises(NonFiniteLossError):
        train(_tiny_run(synth_data, tmp_path / "run", lr=1e30, schedule="constant"))
    assert _process_state() == before


IMPORT_CHECK = """
import logging, os, random, signal, sys, warnings
import cv2, numpy as np, torch

def state():
    return (dict(os.environ), torch.get_num_threads(), torch.get_num_interop_threads(), cv2.getNumThreads(),
            torch.get_rng_state().numpy().tobytes(), np.random.get_state()[1].tobytes(), random.getstate(),
            list(logging.getLogger().handlers), logging.getLogger().level, list(warnings.filters),
            signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM), os.getcwd(), list(sys.path),
            torch.get_default_dtype(), torch.is_grad_enabled())

before = state()
import handpose, handpose.inference.video, handpose.inference.tracking, handpose.evaluate, handpose.export
import handpose.detection.detector, handpose.training.trainer
handpose.Predictor
after = state()
print([i for i, (a, b) in enumerate(zip(before, after)) if a != b],
      {k: v for k, v in after[0].items() if before[0].get(k) != v})
"""


def test_importing_the_library_changes_nothing_process_wide() -> None:
    # importing the video module set OPENCV_FFMPEG_LOGLEVEL in the caller's environment (their own captures, and
    # every process they start, lost FFmpeg's messages); now only the handpose command sets it
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, env=env, timeout=120,
                          check=True)
    assert done.stdout.strip() == "[] {}", done.stdout + done.stderr


def test_the_cache_follows_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the speed-trial verdicts, the detector's ONNX export and training's renders went to ~/.cache/handpose
    # whatever XDG_CACHE_HOME said; $HANDPOSE_CACHE still wins, and a relative XDG path is ignored (the XDG rule)
    from handpose.training.data import cache_root

    monkeypatch.delenv("HANDPOSE_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "handpose"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert cache_root() == tmp_path / "home" / ".cache" / "handpose"
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_evaluating_with_reading_workers_leaves_the_callers_torch_random_stream_alone(checked_in_hands: list) -> None:
    # a DataLoader draws its workers' base seed from the global torch stream unless given a generator of its own
    from handpose.evaluate import evaluate

    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    assert evaluate("pretrained:lite", checked_in_hands[:2], batch_size=2, workers=1)["num_samples"] == 2
    assert torch.equal(torch.rand(4), expected)


def test_the_pck_plot_leaves_the_callers_matplotlib_backend_alone(tmp_path: Path) -> None:
    # run_evaluation(out=...) in a notebook switched matplotlib to Agg for the whole process (matplotlib.use), so
    # the notebook's own plots stopped showing; the plot is now drawn on a Figure of its own
    import matplotlib
    import numpy as np

    from handpose.evaluate import pck_curves, plot_pck

    original = matplotlib.get_backend()
    matplotlib.use("svg")  # stands for a caller's own backend (an interactive one needs a display)
    try:
        pred = np.zeros((2, 21, 2), np.float32)
        gt = np.concatenate([pred + 1.0, np.ones((2, 21, 1), np.float32)], axis=2)
        boxes = np.array([[0, 0, 50, 50], [0, 0, 40, 40]], np.float32)
        out = plot_pck(pck_curves({"pred": pred, "gt": gt, "boxes": boxes, "head_sizes": np.full(2, np.nan)}),
                       tmp_path / "curve.png")
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(original)


def test_writing_a_file_never_opens_the_process_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # atomic_write (hands.save, every json and picture) read the umask by setting it to 0 and back: a file another
    # thread of a service created in between was writable by everyone. The real os.umask runs; its calls are noted.
    import sys

    from handpose.files import atomic_write

    if not sys.platform.startswith("linux"):
        pytest.skip("the umask is read without setting it where /proc/self/status shows it (Linux)")
    calls: list[int] = []
    real = os.umask

    def noted(mask: int) -> int:
        calls.append(mask)
        return real(mask)

    monkeypatch.setattr(os, "umask", noted)
    before = real(0o027)
    try:
        atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640  # as a plainly created file under 027
    finally:
        real(before)
    assert calls == []


def test_a_detector_around_the_callers_network_leaves_its_training_mode_alone() -> None:
    # HandDetector(model) put a caller's detector in eval mode for good: a fine-tuning that checked its detector
    # part way went on training with batch norm frozen. Now each call runs in eval mode and gives the modes back.
    import numpy as np

    from handpose.detection.detector import HandDetector
    from handpose.detection.model import build_detector

    torch.manual_seed(0)
    net = build_detector().train()
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    norms[0].eval()  # a layer the caller holds frozen
    running = [m.running_mean.clone() for m in norms]
    detector = HandDetector.from_model(net)
    detector.detect(np.full((120, 160, 3), 90, np.uint8))
    assert net.training and not norms[0].training and all(m.training for m in norms[1:])
    assert all(torch.equal(m.running_mean, r) for m, r in zip(norms, running))  # it ran in eval mode
