"""What a run records for comparing runs, read back as a researcher reads it: the settings in its TensorBoard events
(for the HParams dashboard and as text; they held scalars and pictures only, the settings were in config.json alone),
curves and summary.json that a stop and resume leave as the uninterrupted run's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from handpose.config import DataConfig, TrainConfig
from handpose.model.cpm import preset
from handpose.training.reporting import hparams
from handpose.training.trainer import train


def _cfg(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = TrainConfig(data=str(data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                       batch_size=4, max_steps=4, workers=0, log_every=2, val_every=0, ckpt_every=100, amp=False,
                       channels_last=False, warmup_steps=0, lr=1e-3, threads=1)
    return dataclasses.replace(base, **kw)


def _accumulator(run: Path):  # noqa: ANN202 - tensorboard's EventAccumulator, imported lazily
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    return EventAccumulator(str(run), size_guidance={"scalars": 0, "tensors": 0}).Reload()


def _session_hparams(run: Path) -> dict[str, object]:
    from tensorboard.plugins.hparams import metadata

    content = _accumulator(run).PluginTagToContent(metadata.PLUGIN_NAME)[metadata.SESSION_START_INFO_TAG]
    start = metadata.parse_session_start_info_plugin_data(content)
    return {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}


def test_hparams_flattens_nested_settings() -> None:
    flat = hparams({"lr": 1e-3, "amp": False, "init": None, "milestones": [1, 2],
                    "dataset": {"input_size": 64, "augment": {"enabled": True}}})
    assert flat == {"lr": 1e-3, "amp": False, "milestones": "[1, 2]", "dataset.input_size": 64,
                    "dataset.augment.enabled": True}  # None: HParams has no null


def test_a_run_records_its_settings_for_tensorboard(synth_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    summary = train(_cfg(synth_data, run))
    found = _session_hparams(run)
    assert found["lr"] == 1e-3 and found["batch_size"] == 4 and found["amp"] is False
    assert found["model.preset"] == "tiny" and found["dataset.input_size"] == 64 and found["task"] == "keypoints"
    assert found["total_steps"] == 4 and found["train_samples"] == summary["train_samples"]
    assert not any(k.startswith("detector.") for k in found)  # the other task's network is not this run's
    assert "out" not in found and "resume" not in found  # bookkeeping, not a setting to compare runs by

    acc = _accumulator(run)
    config = acc.Tensors("settings/config")
    assert [e.step for e in config] == [0]
    assert json.loads(config[0].tensor_proto.string_val[0].decode()) == json.loads((run / "config.json").read_text())
    notes = acc.Tensors("settings/metrics")[0].tensor_proto.string_val[0].decode()
    assert "`val/EPE`: mean distance in original-image pixels" in notes and "max(w, h)" in notes
    assert "validation and checkpoint time left out" in notes

    # a resumed run records its settings again at the step it resumed at (--lr given with --resume shows there)
    train(_cfg(synth_data, run, stop_at_step=None, max_steps=6, lr=5e-4, resume=str(run)))
    config = _accumulator(run).Tensors("settings/config")
    assert [e.step for e in config] == [0, 4]
    assert json.loads(config[1].tensor_proto.string_val[0].decode())["lr"] == 5e-4


def _curve(run: Path, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in _accumulator(run).Scalars(tag)]


def test_a_stopped_and_resumed_run_logs_the_uninterrupted_runs_losses(synth_data: Path, tmp_path: Path) -> None:
    # stopped at step 4, between log lines (3 and 6): the resumed run's line at step 6 averaged step 5 and 6 alone
    # (the losses of step 4 were lost), so its curve differed from the same run's uninterrupted one
    cfg = _cfg(synth_data, tmp_path / "whole", max_steps=8, log_every=3)
    train(cfg)
    split = dataclasses.replace(cfg, out=str(tmp_path / "split"))
    train(dataclasses.replace(split, stop_at_step=4))
    train(dataclasses.replace(split, resume=split.out))
    for tag in ("train/loss", "train/loss_ll_heat", "train/loss_stage1"):
        whole, resumed = _curve(tmp_path / "whole", tag), _curve(tmp_path / "split", tag)
        assert [s for s, _ in whole] == [s for s, _ in resumed] == [3, 6, 8]
        assert [v for _, v in resumed] == [v for _, v in whole], tag  # bit-identical runs: the same means


def test_summary_keeps_the_last_validation_across_a_resume(synth_data: Path, tmp_path: Path) -> None:
    # validated at step 3, stopped at 4, resumed to 5 without validating: summary.json's last_validation read null
    run = tmp_path / "run"
    cfg = _cfg(synth_data, run, max_steps=8, val_every=3, val_images=0)
    train(dataclasses.replace(cfg, stop_at_step=4))
    summary = train(dataclasses.replace(cfg, stop_at_step=5, resume=str(run)))
    last = summary["last_validation"]
    assert last is not None and last["step"] == 3 and last == summary["best"]
    assert json.loads((run / "summary.json").read_text())["last_validation"] == last
    assert _curve(run, "val/PCK@0.2") == [(3, pytest.approx(last["PCK@0.2"], rel=1e-6))]  # float32 in the events


def test_a_resumed_runs_events_file_sorts_after_the_earlier_ones(tmp_path: Path) -> None:
    # TensorBoard reads a folder's events files in name order; a run resumed in the same second and process as the
    # earlier one (train() called twice from Python) got a name that sorted first ('.10' before '.9'), so its
    # curve came back as [6, 8, 3] and the earlier file's later steps were not purged
    import os
    import socket
    import time

    from handpose.training.reporting import TrainWriter

    run = tmp_path / "run"
    run.mkdir()
    earlier = run / f"events.out.tfevents.{int(time.time()) + 1}.{socket.gethostname()}.{os.getpid()}.99999"
    earlier.write_bytes(b"")
    writer = TrainWriter(run, purge_step=4)
    try:
        newest = sorted(p.name for p in run.glob("events.out.tfevents.*"))[-1]
        assert newest == writer.events_file().name != earlier.name
    finally:
        writer.close()
