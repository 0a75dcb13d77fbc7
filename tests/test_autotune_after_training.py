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


def test_a_run_beside_the_callers_governor_counts_its_workers_and_gives_the_callers_back(
        synth_data: Path, tmp_path: Path, governors_in_the_run: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller that ran an "auto" network first has a governor that counts this process alone: followed by the run,
    it would count the run's data workers as other processes and leave their cores to them."""
    from handpose.autotune import contention

    callers = free_cores.FreeCores(cores=2)  # e.g. a Predictor's with threads="auto"
    monkeypatch.setattr(free_cores, "_GOVERNOR", callers)
    monkeypatch.setattr(free_cores, "_TORCH_CEILING", 2)
    meters: list[dict[str, object]] = []
    real_meter = contention.start_meter

    def recorded_meter(**kwargs: object) -> object:
        meters.append(kwargs)
        return real_meter(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(contention, "start_meter", recorded_meter)
    assert trainer.train(_auto_run(synth_data, tmp_path / "run"))["step"] == 2
    assert len(governors_in_the_run) == 1 and governors_in_the_run[0] is not callers  # the run had its own
    assert any(m.get("with_children") and m.get("live_children") for m in meters)  # counting its workers
    assert free_cores._GOVERNOR is callers and free_cores._TORCH_CEILING == 2  # and gave the caller's back
