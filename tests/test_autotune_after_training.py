"""A training run with ``threads="auto"`` follows the free cores through a thread governor of its own
(``autotune.free_cores.govern_with_children``: its meter counts the run's data workers as the run's work); the run
takes it away as it returns or raises, so the caller's later "auto" networks get a governor of their own, and it
leaves no thread behind."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from handpose.autotune import free_cores
from handpose.config import TrainConfig
from handpose.training import trainer


def _auto_run(data: Path, out: Path, **kw: object) -> TrainConfig:
    from handpose.config import DataConfig
    from handpose.model.cpm import preset

    return TrainConfig(data=str(data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                       batch_size=4, max_steps=2, workers=0, log_every=1, val_every=0, ckpt_every=100, amp=False,
                       channels_last=False, warmup_steps=0, threads="auto", device="cpu", seed=5, **kw)


@pytest.fixture
def governors_in_the_run(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The governor each run made for itself (recorded as it was made)."""
    made: list[object] = []
    real = free_cores.govern_with_children

    def recording() -> None:
        real()
        made.append(free_cores._GOVERNOR)

    monkeypatch.setattr(trainer, "govern_with_children", recording)
    return made


@pytest.mark.parametrize("fails", [False, True])
def test_an_auto_thread_run_takes_its_governor_away_and_leaves_no_thread(
        fails: bool, synth_data: Path, tmp_path: Path, governors_in_the_run: list[object]) -> None:
    free_cores._GOVERNOR, free_cores._TORCH_CEILING = None, None
    threads_before = set(threading.enumerate())
    if fails:
        with pytest.raises(trainer.NonFiniteLossError):
            trainer.train(_auto_run(synth_data, tmp_path / "run", lr=1e30, schedule="constant"))
    else:
        assert trainer.train(_auto_run(synth_data, tmp_path / "run"))["step"] == 2
    assert len(governors_in_the_run) == 1 and governors_in_the_run[0] is not None  # the run had one
    assert free_cores._GOVERNOR is None and free_cores._TORCH_CEILING is None  # and took it away
    assert [t.name for t in threading.enumerate() if t not in threads_before] == []


def test_a_governor_the_caller_had_is_the_one_after_the_run(synth_data: Path, tmp_path: Path,
                                                            governors_in_the_run: list[object]) -> None:
    callers = free_cores.FreeCores(cores=2)  # e.g. a Predictor's with threads="auto"
    free_cores._GOVERNOR, free_cores._TORCH_CEILING = callers, 2
    assert trainer.train(_auto_run(synth_data, tmp_path / "run"))["step"] == 2
    assert governors_in_the_run == [callers]  # the run followed it (a governor made is kept)
    assert free_cores._GOVERNOR is callers and free_cores._TORCH_CEILING == 2
