"""The speed trials' measurements (``autotune.trials``) on real tiny models on the CPU: one training candidate on the
device at a time, a candidate out of memory counted out rather than ending the run, cuDNN's autotuner and the
device's cache, and timings that wait for an asynchronous device. No GPU here: its parts are replaced."""

from __future__ import annotations

import gc
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from handpose.autotune import choice as choice_module
from handpose.autotune import trials
from handpose.autotune.choice import Choice, TrialKey, choose, judge, read_cache
from handpose.model.cpm import preset

QUEUED_S = 0.05  # how long a fake device takes to finish what a step queued on it
pytestmark = pytest.mark.usefixtures("one_torch_thread")  # two OpenMP threads stall each other on 2 shared cores
CHOICES = [Choice(), Choice("fp32", True), Choice("bf16")]
KEY = TrialKey("cpu", "Test CPU", "2.x", 1, "tiny", 64, 2, "train")


def _measure(budget_s: float = 1.0) -> trials.Measure:
    """The training trial of the tiny preset at 64 px, batch 2, on the CPU."""
    return trials.train_measure(preset("tiny"), 64, 2, "cpu", budget_s=budget_s)


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    """Python's cycle collector off for the test: what is freed is freed as its last reference goes, as it must be
    for device memory to come back before the next candidate is built."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _recording(monkeypatch: pytest.MonkeyPatch, models: list[weakref.ref],
               alive_at_build: list[int], wrap: Callable[[Choice, Callable[[], float]], Callable[[], float]]
               = lambda choice, step: step) -> None:
    """Build the trial's candidates through the real builder, recording a weakref to each model and how many
    earlier models were still alive when it was built; ``wrap`` may replace a candidate's step."""
    real = trials._train_step

    def build(choice: Choice, weights: torch.nn.Module, data: Any, device: torch.device) -> Any:
        alive_at_build.append(sum(ref() is not None for ref in models))
        model, step, grads_finite = real(choice, weights, data, device)
        models.append(weakref.ref(model))
        return model, wrap(choice, step), grads_finite

    monkeypatch.setattr(trials, "_train_step", build)


def test_each_training_candidate_is_freed_before_the_next_is_built(monkeypatch: pytest.MonkeyPatch,
                                                                   no_cycle_collector: None) -> None:
    models: list[weakref.ref] = []
    alive_at_build: list[int] = []
    _recording(monkeypatch, models, alive_at_build)
    measured = _measure()(CHOICES)
    assert len(models) > 2 + len(CHOICES)  # the CPU's batch probe, the first turns and timed turns
    assert alive_at_build == [0] * len(models)  # no earlier candidate's model was held while one was built
    assert all(ref() is None for ref in models)
    assert all(t.failed is None and t.finite and t.seconds > 0 for t in measured.values())


@pytest.mark.parametrize(("short", "failing_call"), [("bf16", 1), ("bf16", 2), ("fp32", 1)])
def test_a_candidate_out_of_memory_is_not_viable_and_the_trial_goes_on(
        short: str, failing_call: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, no_cycle_collector: None) -> None:
    """The ``short`` candidate runs out of memory at its ``failing_call``-th step (its first step, or a timed round
    after it); the others are measured and one of them chosen, and the failed one's model is freed too (the
    error's traceback held it)."""
    calls = {"n": 0}

    def out_of_memory(choice: Choice, step: Callable[[], float]) -> Callable[[], float]:
        if choice.name != short:
            return step

        def step_short_of_memory() -> float:
            calls["n"] += 1
            if calls["n"] >= failing_call:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
            return step()

        return step_short_of_memory

    monkeypatch.setattr(trials, "GIVE_UP", math.inf)  # every candidate reaches the timed rounds, however slow
    models: list[weakref.ref] = []
    alive_at_build: list[int] = []
    _recording(monkeypatch, models, alive_at_build, out_of_memory)
    monkeypatch.setattr(choice_module, "unsteady", lambda *args: False)  # cached whatever else runs beside
    with caplog.at_level(logging.INFO, logger="handpose.autotune"):
        chosen = choose(KEY, _measure(), path=tmp_path / "autotune.json")
    assert chosen is not None and chosen.name != short
    entry = read_cache(tmp_path / "autotune.json")[KEY.text()]
    everyone = {c.name for c in choice_module.candidates(KEY.device, KEY.mode)}
    # the others kept, the one out of memory measured again next time; where that one is the reference, fp32, the
    # others were judged without their numbers compared with its own: none is kept, all are measured again
    kept, _ = choice_module.cached_results(entry, "fp32", None)
    assert set(kept) == (set() if short == "fp32" else everyone - {short})
    assert caplog.text.count(f"{short} ran out of memory") == 1
    assert f"{short} 0.00x (rejected: out of memory)" in caplog.text  # the choice's summary line
    assert alive_at_build == [0] * len(models) and all(ref() is None for ref in models)

    calls["n"] = 0
    measured = _measure()(CHOICES)
    results = judge(measured, Choice())
    assert results[short] == {"samples_per_s": 0.0, "sound": False, "why": "out of memory"}
    assert all(results[c.name]["sound"] for c in CHOICES if c.name != short)


def test_the_trial_runs_under_cudnns_autotuner_and_gives_the_devices_cache_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """As the run will (training.cudnn_autotuner, wanted here as on CUDA), and the cache is given back also when
    the trial fails."""
    from handpose.training import cudnn_autotuner

    monkeypatch.setattr(cudnn_autotuner, "autotuner_wanted", lambda device: True)
    released: list[torch.device] = []
    monkeypatch.setattr(trials, "_release", released.append)
    flags: list[bool] = []
    _recording(monkeypatch, [], [], lambda choice, step: lambda: flags.append(torch.backends.cudnn.benchmark) or step())
    before = torch.backends.cudnn.benchmark
    _measure(budget_s=0.2)(CHOICES[:2])
    assert flags and all(flags) and torch.backends.cudnn.benchmark == before
    assert released == [torch.device("cpu")]

    def broken(choice: Choice, step: Callable[[], float]) -> Callable[[], float]:
        def fail() -> float:
            raise RuntimeError("a step that fails")
        return fail

    _recording(monkeypatch, [], [], broken)
    with pytest.raises(RuntimeError, match="a step that fails"):
        _measure(budget_s=0.2)(CHOICES[:2])
    assert len(released) == 2 and torch.backends.cudnn.benchmark == before


def test_the_device_cache_is_emptied_on_the_gpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    emptied: list[str] = []
    for kind in ("cuda", "xpu", "mps"):
        monkeypatch.setattr(getattr(torch, kind), "empty_cache", lambda kind=kind: emptied.append(kind))
    for kind in ("cpu", "cuda", "xpu", "mps"):
        trials._release(torch.device(kind))
    assert emptied == ["cuda", "xpu", "mps"]


@pytest.mark.parametrize("kind", ["mps", "xpu"])
def test_a_timed_step_waits_for_the_devices_queue(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On MPS and XPU a step returns once its work is queued; the trial waits for the device through the backend's
    own synchronize, so a step whose work takes 50 ms is timed at 50 ms or more, not at the queueing's microseconds."""
    waited: list[object] = []

    def synchronize(*device: object) -> None:
        waited.append(device)
        time.sleep(QUEUED_S)

    monkeypatch.setattr(getattr(torch, kind), "synchronize", synchronize)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a: pytest.fail("CUDA synchronised for another device"))
    seconds, _ = trials._timed(lambda: None, torch.device(kind))
    assert seconds >= QUEUED_S and waited


def _failing(name: str, error: BaseException) -> Callable[[Choice, Callable[[], float]], Callable[[], float]]:
    def wrap(choice: Choice, step: Callable[[], float]) -> Callable[[], float]:
        if choice.name != name:
            return step

        def cannot() -> float:
            raise error

        return cannot

    return wrap


def test_a_candidate_the_device_cannot_run_is_counted_out_and_the_reference_still_fails_loudly(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """bf16 on an MPS device of a macOS before 14 raises at its first step: that candidate is not viable (one log
    line with the device's words) and another is chosen; the reference failing is the run's own error."""
    unsupported = TypeError("MPS BFloat16 is only supported on MacOS 14 or newer")
    _recording(monkeypatch, [], [], _failing("bf16", unsupported))
    monkeypatch.setattr(choice_module, "unsteady", lambda *args: False)
    with caplog.at_level(logging.WARNING, logger="handpose.autotune"):
        chosen = choose(KEY, _measure(), path=tmp_path / "autotune.json")
    assert chosen is not None and chosen.name != "bf16"
    assert caplog.text.count("bf16 cannot run on cpu (TypeError: MPS BFloat16 is only supported") == 1
    cached = read_cache(tmp_path / "autotune.json")[KEY.text()]["results"]
    assert cached["bf16"]["sound"] is False and cached["bf16"]["why"].startswith("cannot run: MPS BFloat16")

    _recording(monkeypatch, [], [], _failing("fp32", RuntimeError("a bug in the model")))
    with pytest.raises(RuntimeError, match="a bug in the model"):
        _measure()([Choice(), Choice("bf16")])


def test_a_candidate_out_of_memory_on_mps_is_measured_again_not_counted_out_for_good(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """MPS says it ran out of memory in a plain RuntimeError, not torch.OutOfMemoryError: bf16 failing so at its first
    step is out of memory, this moment's verdict (another program may hold the memory), dropped from the cache to be
    measured again, not a candidate the device cannot run, which holds for good."""
    mps_full = RuntimeError("MPS backend out of memory (MPS allocated: 5.56 GB, other allocations: 1.10 GB, max "
                            "allowed: 6.80 GB). Tried to allocate 768.00 MB on private pool.")
    _recording(monkeypatch, [], [], _failing("bf16", mps_full))
    monkeypatch.setattr(choice_module, "unsteady", lambda *args: False)
    with caplog.at_level(logging.WARNING, logger="handpose.autotune"):
        chosen = choose(KEY, _measure(), path=tmp_path / "autotune.json")
    assert chosen is not None and chosen.name != "bf16"
    assert "bf16 ran out of memory on cpu" in caplog.text and "cannot run" not in caplog.text
    kept, _ = choice_module.cached_results(read_cache(tmp_path / "autotune.json")[KEY.text()], "fp32", None)
    assert "bf16" not in kept and "fp32" in kept


def test_a_trial_that_cannot_keep_to_its_budget_says_how_long_it_takes(caplog: pytest.LogCaptureFixture) -> None:
    """A budget even one sample's steps cannot fit (here 0 s): the batch falls to 1 and the log line says the trial
    goes past the budget and about how long it takes, where it said 'to stay within 0 s' and took longer; every
    candidate is still timed."""
    with caplog.at_level(logging.INFO, logger="handpose.autotune"):
        measured = _measure(budget_s=0.0)(CHOICES)
    said = [r for r in caplog.records if "timing training at batch" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert said[0].getMessage().startswith("autotune: timing training at batch 1 instead of 2, and still over the 0 s "
                                           "budget: a step of one sample takes ")
    assert "each of the 3 settings takes at least two, so the trial takes about " in said[0].getMessage()
    assert "stay within" not in caplog.text
    assert set(measured) == set(CHOICES) and all(t.batch == 1 and t.failed is None for t in measured.values())
