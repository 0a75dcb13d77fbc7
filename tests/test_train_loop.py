"""The training loop on a tiny rendered dataset: exact resume, non-finite stop, TensorBoard, best weights."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
from pathlib import Path

import pytest
import torch

from handpose.config import DataConfig, TrainConfig, to_dict
from handpose.model.artifact import load_checkpoint
from handpose.model.cpm import preset
from handpose.model.vgg_import import CAFFE_VGG, convert_first_conv
from handpose.training.checkpoints import list_checkpoints
from handpose.training.trainer import NonFiniteLossError, train

LOG_LINE = re.compile(r"^epoch=\d+\.\d\d step=\d+, \d+\.\d{4} examples/sec lr=\d+\.\d{6,}, loss=\S+, loss_ll_heat=\S+$")


def _cfg(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = TrainConfig(data=str(data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                       batch_size=4, max_steps=8, workers=0, log_every=2, val_every=0, ckpt_every=100, amp=False,
                       warmup_steps=2, lr=1e-3, threads=1)
    return dataclasses.replace(base, **kw)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.slow
def test_resume_continues_exactly(synth_data: Path, tmp_path: Path) -> None:
    whole = train(_cfg(synth_data, tmp_path / "whole"))
    first = train(_cfg(synth_data, tmp_path / "split", stop_at_step=4))
    assert first["stopped"] == "stop_at_step" and first["step"] == 4
    ckpt = load_checkpoint(list_checkpoints(tmp_path / "split" / "checkpoints")[-1])
    assert ckpt["step"] == 4 and ckpt["samples_seen"] == 16
    assert ckpt["epoch"] == pytest.approx(16 / first["train_samples"])  # the true epoch: samples seen / size
    second = train(_cfg(synth_data, tmp_path / "split", resume=str(tmp_path / "split")))
    assert second["stopped"] == "completed" and second["step"] == 8 == whole["step"]
    a, b = _weights(tmp_path / "whole" / "model.safetensors"), _weights(tmp_path / "split" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=f"{key} differs after resume")
    assert whole["rank_weight_sha256"] == second["rank_weight_sha256"]
    # and the run really trained: the weights moved away from their initialisation
    untrained = train(_cfg(synth_data, tmp_path / "none", max_steps=1, lr=1e-12))
    assert untrained["rank_weight_sha256"] != whole["rank_weight_sha256"]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(synth_data: Path, tmp_path: Path) -> None:
    # an absurd learning rate: the first update makes the weights ~1e30, the next forward pass overflows
    cfg = _cfg(synth_data, tmp_path, lr=1e30, warmup_steps=0, schedule="constant", ckpt_every=1, keep_checkpoints=10,
               max_steps=20)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step (\d+)") as err:
        train(cfg)
    failed = int(re.search(r"at step (\d+)", str(err.value)).group(1))
    ckpts = list_checkpoints(tmp_path / "checkpoints")
    assert [int(p.stem.split("-")[1]) for p in ckpts] == list(range(1, failed))  # nothing written at or after it
    assert str(ckpts[-1]) in str(err.value)  # the message names the last good checkpoint
    last = load_checkpoint(ckpts[-1])
    assert last["step"] == failed - 1 and all(torch.isfinite(t).all() for t in last["model"].values())
    assert not (tmp_path / "model.safetensors").exists() and not (tmp_path / "summary.json").exists()
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if "tmp" in p.name]
    assert "or give --grad-clip (e.g. 1.0)." in str(err.value) and "--no-amp" not in str(err.value)  # amp is off


def test_non_finite_loss_before_any_checkpoint_says_none_was_written(synth_data: Path, tmp_path: Path) -> None:
    """It said 'the last good checkpoint is (none written yet)', and offered --no-amp and --grad-clip to a run with
    amp off and clipping on; it names only the remedies the run has not taken."""
    cfg = _cfg(synth_data, tmp_path, lr=1e30, warmup_steps=0, schedule="constant", ckpt_every=100, max_steps=20,
               grad_clip=5.0)
    with pytest.raises(NonFiniteLossError) as err:
        train(cfg)
    message = str(err.value)
    assert "without updating the weights and no checkpoint was written yet. Lower --lr (now 1e+30)" in message
    assert message.endswith("Lower --lr (now 1e+30) or check the data.")  # amp off, clipping on: neither offered


def test_init_weights_are_where_training_starts(synth_data: Path, tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    """--init from handpose safetensors (every layer) and from the TensorFlow VGG-16 .npy layout of
    hand_detector_train (the front layers): at lr 1e-12 two steps leave the weights where they started, so the run
    ends on the file's weights."""
    import numpy as np

    from handpose.model.artifact import save_weights
    from handpose.model.cpm import build_model

    torch.manual_seed(123)  # not the run's seed, so the file's weights differ from the run's random ones
    source = build_model(preset("tiny"))
    want = {k: v.detach().clone() for k, v in source.state_dict().items()}
    save_weights(source, tmp_path / "init.safetensors")
    front = ["conv1_1", "conv1_2", "conv2_1"]
    seed_npy = {name.encode(): {b"weights": want[f"{name}.weight"].numpy().transpose(2, 3, 1, 0),  # (kh, kw, in, out)
                                b"biases": want[f"{name}.bias"].numpy()} for name in front}
    np.save(tmp_path / "init.npy", seed_npy, allow_pickle=True)

    plain = train(_cfg(synth_data, tmp_path / "plain", max_steps=2, lr=1e-12))
    random_start = _weights(tmp_path / "plain" / "model.safetensors")
    with caplog.at_level(logging.INFO, logger="handpose"):
        from_st = train(_cfg(synth_data, tmp_path / "st", max_steps=2, lr=1e-12,
                             init=str(tmp_path / "init.safetensors")))
        from_npy = train(_cfg(synth_data, tmp_path / "npy", max_steps=2, lr=1e-12, init=str(tmp_path / "init.npy")))
    assert plain["step"] == from_st["step"] == from_npy["step"] == 2
    convs = sum(1 for k in want if k.endswith(".weight"))  # the tiny preset: convolutions only
    assert f"initial weights from {tmp_path / 'init.safetensors'}: {convs} layers loaded, 0 left random" in caplog.text
    assert f"initial weights from {tmp_path / 'init.npy'}: 3 layers loaded, {convs - 3} left random" in caplog.text

    st, npy = _weights(tmp_path / "st" / "model.safetensors"), _weights(tmp_path / "npy" / "model.safetensors")
    # the .npy holds Caffe-convention VGG weights: its conv1_1 is converted to handpose's input on import
    w, b = convert_first_conv(want["conv1_1.weight"].numpy(), want["conv1_1.bias"].numpy(), CAFFE_VGG)
    want_npy = {**want, "conv1_1.weight": torch.from_numpy(w), "conv1_1.bias": torch.from_numpy(b)}
    for key, value in want.items():
        if key.endswith(".weight"):  # (biases start at zero either way)
            assert not torch.allclose(random_start[key], value, atol=1e-4), key  # the file is not the run's random init
        torch.testing.assert_close(st[key], value, rtol=0, atol=1e-8, msg=f"{key} did not start from the file")
        expected = want_npy[key] if key.split(".")[0] in front else random_start[key]
        torch.testing.assert_close(npy[key], expected, rtol=0, atol=1e-8, msg=f"{key}: .npy init")


def test_resume_with_another_batch_size_warns_what_changes(synth_data: Path, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    first = train(_cfg(synth_data, tmp_path, max_steps=None, epochs=1.0, stop_at_step=2))  # 2 steps of 4 samples
    n = first["train_samples"]
    assert first["total_steps"] == math.ceil(n / 4)
    resume = dict(max_steps=None, epochs=1.0, batch_size=2, resume=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        second = train(_cfg(synth_data, tmp_path, stop_at_step=3, **resume))
    # the epoch is kept: the 2 steps done, then the samples still to go in steps of the new batch (re-counting the
    # whole run at the new batch, as before, ended a larger batch's run early and a smaller one's late)
    total = 2 + math.ceil((n - 8) / 2)
    assert second["total_steps"] == total
    warned = [r.getMessage() for r in caplog.records if "resuming with" in r.getMessage()]
    assert len(warned) == 1 and warned[0].startswith(
        "resuming with batch size 2 instead of 4: each step now takes 2 samples instead of 4")
    epochs, old_epochs = (8 + (total - 2) * 2) / n, 4 * math.ceil(n / 4) / n
    assert epochs == pytest.approx(1.0, abs=2 / n)
    assert (f"the run now lasts {total} steps instead of {math.ceil(n / 4)}, the learning-rate schedule "
            f"is spread over them, and it will end after {epochs:.2f} epochs instead of {old_epochs:.2f}"
            in warned[0])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):
        third = train(_cfg(synth_data, tmp_path, stop_at_step=4, **resume))  # the batch it was saved with
    assert not [r for r in caplog.records if "resuming with" in r.getMessage()]  # nothing to say
    assert third["total_steps"] == total  # and its length stays (it was re-counted at the new batch: ceil(n / 2))


@pytest.mark.slow
def test_end_to_end_tensorboard_best_weights_and_log_lines(synth_data: Path, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from handpose.data.formats import load_splits
    from handpose.inference.predictor import Predictor

    cfg = _cfg(synth_data, tmp_path, max_steps=12, log_every=3, val_every=6, val_images=2, ckpt_every=5,
               keep_checkpoints=2, workers=1, amp=True)
    with caplog.at_level(logging.INFO, logger="handpose"):
        summary = train(cfg)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch=")]
    assert len(lines) == 4 and all(LOG_LINE.match(line) for line in lines), lines
    splits = load_splits(synth_data)
    assert summary["train_samples"] == len(splits.train) and summary["val_samples"] == len(splits.val) > 0
    assert lines[-1].startswith(f"epoch={12 * 4 / len(splits.train):.2f} step=12,")  # samples seen / train size
    assert summary["stopped"] == "completed" and summary["best"]["step"] in (6, 12)
    assert summary["examples_per_sec_run"] > 0 and summary["examples_per_sec"] > 0

    acc = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "scalars": 0}).Reload()
    scalars = set(acc.Tags()["scalars"])
    expected = {"train/loss", "train/loss_ll_heat", "train/loss_stage1", "train/loss_stage2", "train/lr",
                "train/examples_per_sec", "train/epoch", "val/PCK@0.2", "val/AUC", "val/EPE"}
    assert expected <= scalars, scalars
    assert [e.step for e in acc.Scalars("train/loss")] == [3, 6, 9, 12]
    assert [e.step for e in acc.Scalars("val/PCK@0.2")] == [6, 12]
    assert {"val/sample0", "val/sample1"} <= set(acc.Tags()["images"])
    img = acc.Images("val/sample0")[-1]
    assert img.width >= 3 * 160 and img.height == 2 * 160  # a row per stage: image+skeleton, background, tips

    # weights every other command reads, with the training crop settings stored
    best = Predictor.from_file(tmp_path / "best.safetensors")
    assert best.spec.input_size == 64 and best.stages == 2
    assert (tmp_path / "model.safetensors").is_file()
    assert json.loads((tmp_path / "config.json").read_text()) == to_dict(
        dataclasses.replace(cfg, data=str(synth_data), data_format="hand_labels_synth"))
    names = [p.name for p in list_checkpoints(tmp_path / "checkpoints")]
    assert names == ["ckpt-00000010.pt", "ckpt-00000012.pt"]
    ckpt = torch.load(tmp_path / "checkpoints" / names[-1], weights_only=True)
    assert {"model", "model_config", "optimizer", "scheduler", "step", "epoch", "rng", "train_config"} <= set(ckpt)
    assert ckpt["model_config"] == to_dict(preset("tiny")) and ckpt["step"] == 12


def test_a_warmup_as_long_as_the_run_is_warned_about(synth_data: Path, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    # the lite recipe's 50 warmup steps in a 20-step fine-tune: the run ended at a fraction of --lr, unsaid
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, tmp_path / "short", max_steps=2, warmup_steps=2))
    assert "--warmup-steps 2 is not shorter than the run's 2 steps" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, tmp_path / "fine", max_steps=3, warmup_steps=2))
    assert "warmup" not in caplog.text


def test_a_run_resumed_after_a_kill_logs_each_step_once(synth_data: Path, tmp_path: Path) -> None:
    # a killed run's events past its last checkpoint are logged again on --resume: TensorBoard must keep one value
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(_cfg(synth_data, tmp_path, max_steps=6, log_every=1, ckpt_every=2, keep_checkpoints=10))
    for ckpt in list_checkpoints(tmp_path / "checkpoints")[1:]:  # as if killed after step 6's events, before its
        ckpt.unlink()                                              # checkpoint and step 4's: step 2's is the last
    train(_cfg(synth_data, tmp_path, max_steps=6, log_every=1, ckpt_every=2, resume=str(tmp_path)))
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0}).Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3, 4, 5, 6]


def test_validation_asked_for_without_held_out_samples_is_warned_about(synth_data: Path, tmp_path: Path,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    cfg = _cfg(synth_data, tmp_path / "run", max_steps=2, val_every=1, dataset=DataConfig(input_size=64,
                                                                                          val_fraction=0.0))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(cfg)
    assert any("no sample is held out for validation" in r.getMessage() and "--val-fraction" in r.getMessage()
               for r in caplog.records)
    assert not (tmp_path / "run" / "best.safetensors").exists()
