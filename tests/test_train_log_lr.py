"""The learning rate a log line and TensorBoard's ``train/lr`` show is the one the logged step trained at: the
warmup's first rate is shown, and a cosine run's last line does not read lr=0.000000 (they showed the next step's
rate, a step ahead: at step 1 of a 2-step warmup the full --lr, at the end 0, a rate no step took)."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from handpose.config import DataConfig, TrainConfig
from handpose.model.cpm import preset
from handpose.training.schedule import lr_factor
from handpose.training.trainer import train


def _lr_events(run: Path) -> list[tuple[int, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0}).Reload()
    return [(e.step, e.value) for e in acc.Scalars("train/lr")]


def test_the_logged_rate_is_the_logged_steps(synth_data: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    lr, steps, warmup = 1e-3, 6, 2
    cfg = TrainConfig(data=str(synth_data), out=str(tmp_path / "whole"), model=preset("tiny"),
                      dataset=DataConfig(input_size=64), batch_size=4, max_steps=steps, workers=0, log_every=1,
                      val_every=0, ckpt_every=100, amp=False, channels_last=False, warmup_steps=warmup, lr=lr,
                      threads=1)
    with caplog.at_level(logging.INFO, logger="handpose"):
        train(cfg)
    expected = [(s, lr * lr_factor(s - 1, steps, "cosine", warmup)) for s in range(1, steps + 1)]
    got = _lr_events(tmp_path / "whole")
    assert [s for s, _ in got] == [s for s, _ in expected]
    assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert got[0][1] == pytest.approx(lr / warmup) and got[-1][1] > 0  # the first rate; the last is not 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch=")]
    assert " step=1, " in lines[0] and "lr=0.000500," in lines[0], lines[0]

    # a run stopped and resumed logs every step once, at the rates of the uninterrupted run
    split = dataclasses.replace(cfg, out=str(tmp_path / "split"))
    train(dataclasses.replace(split, stop_at_step=3))
    train(dataclasses.replace(split, resume=split.out))
    resumed = _lr_events(tmp_path / "split")
    assert [s for s, _ in resumed] == list(range(1, steps + 1))
    assert [v for _, v in resumed] == pytest.approx([v for _, v in got], rel=1e-6)
