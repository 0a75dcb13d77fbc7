"""A Predictor used in a process forked from the one that made it (a ``multiprocessing`` "fork" pool, a pre-forking
web server): PyTorch's OpenMP threads do not survive the fork, so the child runs on one thread and gives the
parent's keypoints instead of waiting forever (``autotune.fork_guard``)."""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from handpose.autotune import fork_guard
from handpose.inference.predictor import Predictor

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="os.fork: Linux (macOS forks are unsafe with most native libraries anyway)")

HANG_GUARD_S = 60  # a child still waiting after this long is hung (it needs well under a second)


def run_in_fork(work: Callable[[], Any]) -> tuple[int, Any]:
    """(exit status, ``work()``'s result) of ``work`` run in a forked child, which SIGALRM ends if it hangs."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            os.close(read)
            signal.alarm(HANG_GUARD_S)
            data = pickle.dumps(work())
            with os.fdopen(write, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    return status, pickle.loads(data) if data else None


def test_a_forked_child_runs_pytorch_on_one_thread_instead_of_hanging(tiny_cpm: Callable[[int], Any]) -> None:
    if not fork_guard.torch_uses_openmp():
        pytest.skip("this PyTorch does not parallelise with OpenMP")
    torch.set_num_threads(2)  # the parent's OpenMP team exists after a parallel call (conftest restores the count)
    predictor = Predictor.from_model(tiny_cpm(0))
    image = np.random.default_rng(0).integers(0, 255, (200, 240, 3), dtype=np.uint8)
    box = (40.0, 30.0, 120.0, 110.0)
    expected = predictor.predict(image, box=box, is_left=False, keep_maps=False)

    def child() -> tuple[np.ndarray, int]:
        got = predictor.predict(image, box=box, is_left=False, keep_maps=False)
        return got.keypoints, torch.get_num_threads()

    status, result = run_in_fork(child)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"the forked child did not finish: status {status}"
    keypoints, child_threads = result
    np.testing.assert_allclose(keypoints, expected.keypoints, atol=0.1)  # another thread count sums in another order
    assert child_threads == 1
    assert torch.get_num_threads() == 2  # the parent keeps its threads


def test_only_a_forked_child_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fork_guard, "_FORKED", False)
    assert fork_guard.torch_thread_cap() is None
    monkeypatch.setattr(fork_guard, "_FORKED", True)
    monkeypatch.setattr(fork_guard, "_OPENMP", False)  # PyTorch's own thread pool is remade after a fork
    assert fork_guard.torch_thread_cap() is None
    monkeypatch.setattr(fork_guard, "_OPENMP", True)
    assert fork_guard.torch_thread_cap() == 1


def test_an_auto_predictor_in_a_forked_child_says_it_runs_on_one_thread(tiny_cpm: Callable[[int], Any]) -> None:
    """With threads="auto" the child was held to one thread in silence; the warning (README: "with one warning")
    came only for the other settings."""
    if not fork_guard.torch_uses_openmp():
        pytest.skip("this PyTorch does not parallelise with OpenMP")
    import logging

    from handpose.autotune import free_cores

    torch.set_num_threads(2)
    free_cores.set_process_default("auto")  # threads=None means "auto" (conftest puts the default back)
    predictor = Predictor.from_model(tiny_cpm(1))
    assert predictor.backend.threads == "auto"
    image = np.random.default_rng(1).integers(0, 255, (120, 140, 3), dtype=np.uint8)
    predictor.predict(image, box=(20.0, 20.0, 80.0, 80.0), is_left=False, keep_maps=False)

    def child() -> tuple[list[str], int]:
        said: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
        logging.getLogger(fork_guard.__name__).addHandler(handler)
        predictor.predict(image, box=(20.0, 20.0, 80.0, 80.0), is_left=False, keep_maps=False)
        return said, torch.get_num_threads()

    status, result = run_in_fork(child)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, f"the forked child did not finish: status {status}"
    said, child_threads = result
    assert child_threads == 1
    assert len(said) == 1 and "forked from one that had imported PyTorch" in said[0], said
