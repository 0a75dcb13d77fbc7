"""A checkpoint written by a run on a GPU resumes, loads and predicts on a machine without one.

No GPU here, so the checkpoint is a CPU run's, saved again with every tensor's storage tagged ``cuda:0`` (what
``torch.save`` records for a CUDA tensor; torch refuses to load such a file without ``map_location`` where CUDA is
absent) and with the CUDA random states a GPU run keeps. Every reader of checkpoints must map them to the CPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.serialization

from handpose.config import DataConfig, TrainConfig
from handpose.files import atomic_torch_save
from handpose.model.artifact import load_model
from handpose.model.cpm import preset
from handpose.training.checkpoints import list_checkpoints
from handpose.training.trainer import train


def _as_if_saved_on_a_gpu(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewrite the checkpoint at ``path`` with its storages tagged cuda:0 and CUDA random states added."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    state["rng"]["cuda"] = [torch.get_rng_state().clone()]  # a list of ByteTensors, as get_rng_state_all gives
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        atomic_torch_save(state, path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the point is a machine without CUDA")
def test_a_gpu_runs_checkpoint_resumes_and_loads_on_the_cpu(synth_data: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from handpose.inference.predictor import Predictor

    out = tmp_path / "run"
    cfg = TrainConfig(data=str(synth_data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                      batch_size=2, max_steps=2, stop_at_step=1, workers=0, log_every=1, val_every=0, ckpt_every=1,
                      amp=False, channels_last=False, warmup_steps=0, threads=1, device="cpu")
    train(cfg)
    (ckpt,) = list_checkpoints(out / "checkpoints")
    _as_if_saved_on_a_gpu(ckpt, monkeypatch)
    with pytest.raises(RuntimeError, match="CUDA"):  # the file does claim CUDA storages
        torch.load(str(ckpt), weights_only=True)

    summary = train(dataclasses.replace(cfg, resume=str(out), stop_at_step=None))
    assert summary["stopped"] == "completed" and summary["step"] == 2
    assert not next(load_model(ckpt).parameters()).is_cuda
    assert Predictor.from_file(ckpt, device="cpu").stages == preset("tiny").stages
