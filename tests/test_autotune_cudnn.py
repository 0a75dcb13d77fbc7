"""cuDNN's autotuner for training on a GPU (``training.cudnn_autotuner``): on for a CUDA run and its speed trial,
left alone on the CPU and where the caller asked for deterministic algorithms, and the caller's value given back.
No GPU here: the CUDA device is a name, and the training run's CUDA-only parts are replaced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from handpose.training.cudnn_autotuner import autotuner_wanted, cudnn_autotuner

CUDA, CPU = torch.device("cuda", 0), torch.device("cpu")


@pytest.fixture(autouse=True)
def flags_as_they_were() -> Iterator[None]:
    """The autotuner, cuDNN-deterministic and deterministic-algorithms flags put back after each test."""
    benchmark, deterministic = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic
    algorithms = torch.are_deterministic_algorithms_enabled()
    yield
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = benchmark, deterministic
    torch.use_deterministic_algorithms(algorithms)


def test_the_autotuner_is_wanted_on_cuda_only_and_not_where_determinism_was_asked_for() -> None:
    torch.backends.cudnn.deterministic = False
    torch.use_deterministic_algorithms(False)
    assert autotuner_wanted(CUDA) and not autotuner_wanted(CPU)
    torch.use_deterministic_algorithms(True)
    assert not autotuner_wanted(CUDA)
    torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = True
    assert not autotuner_wanted(CUDA)


def test_the_block_gives_the_callers_setting_back_also_on_an_error() -> None:
    torch.backends.cudnn.benchmark = False
    with pytest.raises(RuntimeError, match="inside"), cudnn_autotuner(CUDA):
        assert torch.backends.cudnn.benchmark
        raise RuntimeError("inside")
    assert torch.backends.cudnn.benchmark is False
    torch.backends.cudnn.benchmark = True  # a caller's own True is kept on the CPU and given back
    with cudnn_autotuner(CPU):
        assert torch.backends.cudnn.benchmark
    assert torch.backends.cudnn.benchmark is True


def test_a_training_run_on_cuda_trains_with_the_autotuner_and_gives_the_flag_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handpose.config import TrainConfig
    from handpose.training import trainer

    seen: list[bool] = []

    class Fit:
        """The run's trainer, recording the flag while it trains (a CUDA model cannot be built here)."""

        def __init__(self, cfg: TrainConfig, info: Any, device: torch.device, lock: Any, speed: Any) -> None:
            assert device == CUDA and lock is None

        def fit(self) -> dict[str, Any]:
            seen.append(torch.backends.cudnn.benchmark)
            return {"step": 1}

    monkeypatch.setattr(trainer, "resolve_device", lambda requested, info: CUDA)
    monkeypatch.setattr(trainer, "_open_run", lambda cfg, info, device: None)
    monkeypatch.setattr(trainer, "Trainer", Fit)
    torch.backends.cudnn.benchmark = False
    assert trainer.train(TrainConfig(out=str(tmp_path / "run"), device="cuda")) == {"step": 1}
    assert seen == [True] and torch.backends.cudnn.benchmark is False
