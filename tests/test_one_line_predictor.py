"""``handpose.predict`` in a loop loads its models once: the last call's predictor is kept for calls with the same
models (it loaded them, the shipped detector in both runtimes, on every call: 0.6-3.5 s a call on 2 cores), read
again once a file is written again, loaded once by threads calling at once, and let go by ``forget``."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import handpose
from handpose.config import DataConfig, to_dict
from handpose.export import sample_crops
from handpose.inference import one_line
from handpose.inference.predictor import Predictor
from handpose.model.artifact import save_weights


@pytest.fixture(autouse=True)
def nothing_kept() -> Iterator[None]:
    one_line.forget()
    yield
    one_line.forget()


@pytest.fixture()
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The model files ``Predictor.from_file`` loaded, in order (it still loads them)."""
    seen: list[str] = []
    real = Predictor.from_file.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Predictor], model: Any, *args: Any, **kwargs: Any) -> Predictor:
        seen.append(str(model))
        return real(cls, model, *args, **kwargs)

    monkeypatch.setattr(Predictor, "from_file", classmethod(counted))
    return seen


def _save(tiny_cpm: Callable[[int], Any], path: Path, seed: int) -> Path:
    save_weights(tiny_cpm(seed), path, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    return path


def test_calls_with_the_same_model_load_it_once(tiny_cpm: Callable[[int], Any], tmp_path: Path,
                                                loads: list[str]) -> None:
    weights = _save(tiny_cpm, tmp_path / "tiny.safetensors", 1)
    image = sample_crops(96, 1, seed=4)[0]
    first = handpose.predict(image, model=weights, detector=None)
    again = handpose.predict(image, model=str(weights), detector=None)  # the same file, named as a string
    assert loads == [str(weights)]
    np.testing.assert_array_equal(first[0].keypoints, again[0].keypoints)


def test_a_file_written_again_is_read_again(tiny_cpm: Callable[[int], Any], tmp_path: Path,
                                            loads: list[str]) -> None:
    weights = _save(tiny_cpm, tmp_path / "tiny.safetensors", 1)
    image = sample_crops(96, 1, seed=4)[0]
    before = handpose.predict(image, model=weights, detector=None)[0]
    stat = weights.stat()
    _save(tiny_cpm, weights, 2)  # other weights, the same size
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a new time even on a coarse clock
    after = handpose.predict(image, model=weights, detector=None)[0]
    assert len(loads) == 2
    assert not np.array_equal(before.scores, after.scores)  # the new weights' keypoints


def test_threads_calling_at_once_load_once_and_forget_lets_it_go(tiny_cpm: Callable[[int], Any], tmp_path: Path,
                                                                  loads: list[str]) -> None:
    weights = _save(tiny_cpm, tmp_path / "tiny.safetensors", 1)
    image = sample_crops(96, 1, seed=4)[0]
    results: list[np.ndarray] = []
    start = threading.Barrier(4)

    def call() -> None:
        start.wait()
        results.append(handpose.predict(image, model=weights, detector=None)[0].keypoints)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len(loads) == 1
    assert all(np.array_equal(r, results[0]) for r in results)
    one_line.forget()
    handpose.predict(image, model=weights, detector=None)
    assert len(loads) == 2


def test_another_model_or_device_is_loaded_in_its_place(tiny_cpm: Callable[[int], Any], tmp_path: Path,
                                                        loads: list[str]) -> None:
    a, b = _save(tiny_cpm, tmp_path / "a.safetensors", 1), _save(tiny_cpm, tmp_path / "b.safetensors", 2)
    image = sample_crops(96, 1, seed=4)[0]
    for model in (a, b, a):
        handpose.predict(image, model=model, detector=None)
    assert loads == [str(a), str(b), str(a)]  # one predictor kept: the last one's
