"""autotune where it is used: `handpose train`'s config (fake timings), the bf16 accuracy guard on a real small
model, the backends under a choice, and ONNX on a CUDA device falling back to the CPU."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from handpose.autotune.choice import OUT_OF_MEMORY, Choice, Trial, judge
from handpose.autotune.trials import infer_measure
from handpose.cli import build_parser
from handpose.commands.train import config_from_args, with_speed
from handpose.config import TrainConfig, to_dict
from handpose.export import sample_crops
from handpose.inference.backends import TorchBackend
from handpose.model.cpm import build_model
from handpose.training.checkpoints import save_checkpoint


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from handpose.autotune import choice

    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))  # no measurement cached by another test
    # a quiet machine: the real meter over a stall of the busy test machine would keep the verdicts from the cache
    monkeypatch.setattr(choice, "start_meter", lambda: (lambda: 0.0))


def fake(seconds: dict[str, float]) -> tuple[list[list[str]], object]:
    calls: list[list[str]] = []

    def measure(choices: Sequence[Choice]) -> dict[Choice, Trial]:
        calls.append([c.name for c in choices])
        return {c: Trial(seconds[c.name], loss=1.0, batch=16) for c in choices}

    return calls, measure


def _args(*argv: str) -> object:
    return build_parser().parse_args(["train", *argv])


def test_train_auto_takes_the_measured_choice() -> None:
    calls, measure = fake({"fp32": 0.1, "fp32+cl": 0.07, "bf16": 0.06, "bf16+cl": 0.05})
    cfg = config_from_args(_args("--device", "cpu"), measure=measure)
    assert (cfg.amp, cfg.channels_last) == (True, True) and len(calls) == 1
    assert isinstance(cfg.amp, bool) and isinstance(cfg.channels_last, bool)  # the stored config stays plain
    cfg = config_from_args(_args("--device", "cpu", "--no-amp"), measure=measure)  # a flag given wins
    assert (cfg.amp, cfg.channels_last) == (False, True)
    cfg = config_from_args(_args("--device", "cpu", "--amp", "--no-channels-last"), measure=measure)
    assert (cfg.amp, cfg.channels_last) == (True, False) and len(calls) == 1  # cached, then no trial at all


def test_train_auto_bad_value_names_the_flag() -> None:
    from handpose.autotune.resolve import parse_flag

    with pytest.raises(SystemExit):
        _args("--amp", "maybe")
    with pytest.raises(ValueError, match="--channels-last"):
        parse_flag("maybe", "--channels-last")
    assert [parse_flag(v, "--amp") for v in (None, "auto", "on", "off")] == [None, None, True, False]


def test_resume_keeps_the_runs_choice_unless_auto_is_asked(tmp_path: Path) -> None:
    stored = TrainConfig(data="/d", max_steps=100, out=str(tmp_path), amp=False, channels_last=False, device="cpu")
    save_checkpoint({"model": {}, "model_config": {}, "optimizer": {}, "scheduler": {}, "step": 10,
                     "train_config": to_dict(stored)}, tmp_path / "checkpoints", 10, keep=2)
    calls, measure = fake({"tf32": 1, "fp32": 0.1, "fp32+cl": 0.07, "bf16": 0.06, "bf16+cl": 0.05})
    cfg = config_from_args(_args("--resume", str(tmp_path)), measure=measure)
    assert (cfg.amp, cfg.channels_last) == (False, False) and calls == []
    cfg = config_from_args(_args("--resume", str(tmp_path), "--channels-last", "auto"), measure=measure)
    assert (cfg.amp, cfg.channels_last) == (False, True) and calls == [["fp32", "fp32+cl"]]


def test_the_speed_choice_applies_to_settings_built_once(tmp_path: Path) -> None:
    """`handpose train` builds its settings once (checked before any trial), then resolves the speed flags on them:
    the same result as building and resolving in one call, fresh or resumed."""
    calls, measure = fake({"fp32": 0.1, "fp32+cl": 0.07, "bf16": 0.06, "bf16+cl": 0.05})
    for argv in (("--device", "cpu"), ("--device", "cpu", "--no-amp")):
        plain = config_from_args(_args(*argv), speed=False)
        assert with_speed(plain, _args(*argv), measure) == config_from_args(_args(*argv), measure=measure)
    stored = TrainConfig(data="/d", max_steps=100, out=str(tmp_path), amp=False, channels_last=False, device="cpu")
    save_checkpoint({"model": {}, "model_config": {}, "optimizer": {}, "scheduler": {}, "step": 10,
                     "train_config": to_dict(stored)}, tmp_path / "checkpoints", 10, keep=2)
    for argv in (("--resume", str(tmp_path)), ("--resume", str(tmp_path), "--amp", "auto")):
        plain = config_from_args(_args(*argv), speed=False)
        resolved = with_speed(plain, _args(*argv), measure)
        assert resolved == config_from_args(_args(*argv), measure=measure)
    assert (resolved.amp, resolved.channels_last) == (True, False)  # auto asked for amp only: measured


def test_bf16_inference_is_kept_only_when_keypoints_stay() -> None:
    """The accuracy guard on a real (lite, seeded) network: bf16 is sound exactly when it moves the decoded
    keypoints by under 0.5 px on the trial crops; random weights give flat maps, so it is usually rejected."""
    torch.manual_seed(0)
    model = build_model("lite").eval()
    crops = sample_crops(96, 2, seed=1)  # (2, 96, 96, 3)
    trials = infer_measure(model, crops, "cpu", budget_s=0.5)([Choice(), Choice("fp32", True), Choice("bf16")])
    shift = float(np.linalg.norm(trials[Choice("bf16")].keypoints - trials[Choice()].keypoints, axis=-1).mean())
    verdict = judge(trials, Choice())
    assert verdict["bf16"]["sound"] == (shift < 0.5)
    assert verdict["fp32+cl"]["sound"]  # the layout alone changes no keypoint
    batch = trials[Choice()].batch  # 2, or 1 where a crop's step is slow enough for the CPU trial to time one
    assert batch in (1, 2) and all(t.finite and t.seconds > 0 and t.batch == batch for t in trials.values())


_CROPS_RUN = [0]  # by every copy of a _SlowPerCrop (the trial runs deep copies of the model)


class _SlowPerCrop(torch.nn.Module):
    """``inner`` taking ``seconds`` a crop more, as a large network on a CPU does; counts the crops it ran."""

    def __init__(self, inner: torch.nn.Module, seconds: float) -> None:
        super().__init__()
        self.inner, self.seconds = inner, seconds

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        _CROPS_RUN[0] += len(x)
        time.sleep(self.seconds * len(x))
        return self.inner(x)


def test_on_a_cpu_a_slow_network_is_timed_on_as_few_crops_as_fit_the_budget(caplog: pytest.LogCaptureFixture) -> None:
    """An evaluation's batch of 32 openpose crops at 368 px took 7 minutes to time on 2 cores: every candidate ran
    the whole batch at least twice. The trial now runs on as many of the first crops as fit (here one), and says
    how long it will take when even that is over its budget."""
    torch.manual_seed(0)
    model = _SlowPerCrop(build_model("tiny"), 0.2).eval()
    crops = sample_crops(64, 8, seed=1)  # (8, 64, 64, 3)
    _CROPS_RUN[0] = 0
    with caplog.at_level(logging.WARNING, logger="handpose.autotune.trials"):
        trials = infer_measure(model, crops, "cpu", budget_s=0.3)([Choice(), Choice("fp32", True)])
    assert all(t.batch == 1 and t.failed is None and t.keypoints.shape == (1, 21, 2) for t in trials.values())
    assert _CROPS_RUN[0] <= 3 + 2 * 5  # the probe, then at most MAX_ROUNDS steps of one crop each (was 32 and more)
    said = [r.getMessage() for r in caplog.records if "timing inference on 1 crops instead of 8" in r.getMessage()]
    assert len(said) == 1 and "takes about" in said[0]


class _SlowPerStep(torch.nn.Module):
    """``inner`` taking ``seconds`` more a step whatever its crops, as a small network's threads wait on a busy CPU."""

    def __init__(self, inner: torch.nn.Module, seconds: float) -> None:
        super().__init__()
        self.inner, self.seconds = inner, seconds

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        time.sleep(self.seconds)
        return self.inner(x)


def test_on_a_cpu_a_network_whose_steps_cost_the_same_for_any_batch_is_timed_on_all_of_it() -> None:
    """A step of one crop that takes as long as a step of eight (a small network beside busy processes) does not
    shrink the trial: its whole batch fits the budget."""
    torch.manual_seed(0)
    torch.set_num_threads(1)  # two threads beside busy processes stall for 0.3 s a step here (restored by conftest)
    model = _SlowPerStep(build_model("tiny"), 0.02).eval()
    crops = sample_crops(64, 8, seed=1)  # (8, 64, 64, 3)
    trials = infer_measure(model, crops, "cpu", budget_s=1.0)([Choice(), Choice("fp32", True)])
    assert all(t.batch == 8 and t.failed is None for t in trials.values())


def test_torch_backend_runs_every_choice_and_leaves_the_model_alone() -> None:
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    x = np.random.default_rng(0).normal(0, 0.25, (2, 3, 64, 64)).astype(np.float32)  # (N, 3, S, S)
    ref = TorchBackend(model)(x)
    cl = TorchBackend(model, precision="fp32", channels_last=True)(x)
    bf16 = TorchBackend(model, precision="bf16")(x)
    assert np.allclose(cl, ref, atol=1e-4) and np.abs(bf16 - ref).max() < 0.1 and bf16.dtype == np.float32
    assert next(model.parameters()).is_contiguous()  # the caller's model keeps its layout


def test_onnx_on_cuda_falls_back_to_the_cpu_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from handpose.export import export_onnx
    from handpose.inference.predictor import Predictor

    torch.manual_seed(0)
    path = tmp_path / "t.onnx"
    export_onnx(build_model("tiny").eval(), path)
    with caplog.at_level(logging.WARNING):
        predictor = Predictor.from_file(path, device="cuda")
    cuda = [r for r in caplog.records if "cuda" in r.getMessage().lower()]
    if torch.cuda.is_available() and predictor.backend.device != "cpu":
        pytest.skip("this machine runs ONNX on CUDA")
    assert len(cuda) == 1 and "CPU" in cuda[0].getMessage()
    image = sample_crops(64, 1)[0]
    assert predictor.predict(image)[0].keypoints.shape == (21, 2)  # no box: a list of hands


class _Refusing(torch.nn.Module):
    """A network that raises ``error`` when run under bf16 autocast (``in_bf16``) or without it: a device without
    bf16 kernels, or one whose memory the plain fp32 run finds full (as MPS says it, a RuntimeError)."""

    def __init__(self, inner: torch.nn.Module, error: Exception, in_bf16: bool) -> None:
        super().__init__()
        self.inner, self.error, self.in_bf16 = inner, error, in_bf16

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if torch.is_autocast_enabled("cpu") == self.in_bf16:
            raise self.error
        return self.inner(x)


def test_an_inference_candidate_the_device_cannot_run_is_counted_out() -> None:
    torch.manual_seed(0)
    model = _Refusing(build_model("tiny"), NotImplementedError("no bf16 kernel for this device"), in_bf16=True).eval()
    crops = sample_crops(64, 2, seed=1)  # (2, 64, 64, 3)
    measured = infer_measure(model, crops, "cpu", budget_s=0.3)([Choice(), Choice("bf16")])
    assert measured[Choice("bf16")].failed == "cannot run: no bf16 kernel for this device"
    assert measured[Choice()].failed is None and measured[Choice()].finite
    with pytest.raises(NotImplementedError):  # the reference is what the run would do: its failure is the run's
        infer_measure(model, crops, "cpu", budget_s=0.3)([Choice("bf16"), Choice()])


def test_the_reference_out_of_memory_on_mps_is_out_of_memory_not_the_runs_error() -> None:
    torch.manual_seed(0)
    full = RuntimeError("MPS backend out of memory (MPS allocated: 5.56 GB). Tried to allocate 768.00 MB")
    model = _Refusing(build_model("tiny"), full, in_bf16=False).eval()
    crops = sample_crops(64, 2, seed=1)  # (2, 64, 64, 3)
    measured = infer_measure(model, crops, "cpu", budget_s=0.3)([Choice(), Choice("bf16")])
    assert measured[Choice()].failed == OUT_OF_MEMORY
    assert measured[Choice("bf16")].failed is None
