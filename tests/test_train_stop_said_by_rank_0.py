"""Under torchrun every process gets the terminal's Ctrl-C (and SLURM's SIGTERM): each stops the same way, but only
rank 0 says so ("SIGINT received: ..."), as it alone says everything else; the other ranks said it once each."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from handpose.config import DataConfig, TrainConfig
from handpose.model.cpm import preset
from handpose.training.distributed import DistInfo
from handpose.training.trainer import Trainer

SAID = "SIGINT received"


def _stopped_by_a_signal(data: Path, out: Path, rank: int) -> dict[str, Any]:
    """Rank ``rank`` of a two-process run, in this process, that gets SIGINT during its first step: the summary it
    returns. No process group: the flags, losses and digests it would share are its own (see the test)."""
    cfg = TrainConfig(data=str(data), model=preset("tiny"), dataset=DataConfig(input_size=64), batch_size=4,
                      max_steps=6, workers=0, val_every=0, amp=False, channels_last=False, threads=1, out=str(out))
    trainer = Trainer(cfg, DistInfo(rank=rank, world_size=2), torch.device("cpu"))
    step = trainer.step

    def signalled_step(batch: dict[str, torch.Tensor], reason: str | None) -> str | None:
        if trainer.global_step == 0:
            signal.raise_signal(signal.SIGINT)  # the handler the run installed notes it; the next step stops
        return step(batch, reason)

    trainer.step = signalled_step  # type: ignore[method-assign]
    return trainer.fit()


@pytest.mark.parametrize("rank", [0, 1])
def test_only_rank_0_says_a_signal_arrived(synth_data: Path, tmp_path: Path, rank: int,
                                           caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
                                           interactive_sigint: None) -> None:
    # its half of the data, as under torchrun, but no DDP nor all_reduce: the other rank is not there
    monkeypatch.setattr(DistInfo, "enabled", property(lambda self: False))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        summary = _stopped_by_a_signal(synth_data, tmp_path / "run", rank)
    assert summary["stopped"] == "SIGINT"  # every rank stops the same way
    assert summary["step"] == 2
    said = [r.getMessage() for r in caplog.records if SAID in r.getMessage()]
    assert len(said) == (1 if rank == 0 else 0), said
