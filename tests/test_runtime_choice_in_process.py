"""The shipped detector's runtime choice within one process: a busy machine's verdict (kept out of the cache file)
serves the process's later detectors instead of being timed again by each, and threads choosing at once time once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from handpose.autotune.choice import TrialKey, cache_path, read_cache
from handpose.config import DetectorConfig
from handpose.detection import runtime_choice
from handpose.detection.detector import HandDetector
from handpose.detection.model import build_detector

TINY = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64)


def key(what: str) -> TrialKey:
    return TrialKey("cpu", "test cpu", "torch", 1, f"detector runtime: {what}", 0, 1, "runtime")


@pytest.fixture
def trials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_torch_thread: None) -> list[str]:
    """Real trials of two tiny detectors, each noted (and made to last 0.2 s, so threads asking at once overlap);
    the cache in ``tmp_path``, other processes busy through every trial (the meter reads 90%)."""
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path))
    monkeypatch.setattr(runtime_choice, "start_meter", lambda: (lambda: 0.9))
    timed: list[str] = []
    real = runtime_choice.fastest

    def noted(candidates: list[HandDetector], names: list[str]) -> tuple[HandDetector, list[float]]:
        timed.append(threading.current_thread().name)
        time.sleep(0.2)
        return real(candidates, names)

    monkeypatch.setattr(runtime_choice, "fastest", noted)
    return timed


def detectors() -> list[HandDetector]:
    return [HandDetector(build_detector(TINY)), HandDetector(build_detector(TINY))]


def test_a_busy_machines_verdict_serves_the_rest_of_the_process(trials: list[str]) -> None:
    first = detectors()
    chosen = runtime_choice.cached_fastest(first, ["a", "b"], key("busy"))
    assert len(trials) == 1 and read_cache(cache_path()) == {}  # timed, and kept out of the file
    second = detectors()
    again = runtime_choice.cached_fastest(second, ["a", "b"], key("busy"))
    assert len(trials) == 1  # each Predictor.from_pretrained (each one-line handpose.predict) timed it again
    assert again is second[first.index(chosen)]
    runtime_choice.cached_fastest(detectors(), ["a", "b"], key("other scales"))
    assert len(trials) == 2  # another key is a trial of its own


def test_threads_choosing_at_once_time_once(trials: list[str]) -> None:
    def choose(_: int) -> str:
        candidates = detectors()
        return "ab"[candidates.index(runtime_choice.cached_fastest(candidates, ["a", "b"], key("threads")))]

    with ThreadPoolExecutor(4) as pool:
        chosen = list(pool.map(choose, range(4)))
    assert len(trials) == 1, trials  # each thread timed, each slowing the others' timings down unseen
    assert len(set(chosen)) == 1  # one verdict for all
