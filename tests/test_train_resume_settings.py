"""What a resume may change and what it keeps: optimizer settings given with --resume take effect (and config.json
says what ran), an epoch-sized run resumed with another batch goes on along its learning-rate curve without a jump,
best weights of an abandoned branch are set aside, a finished run is not run again, conflicting flags are refused,
and the continue hint of a torchrun run names torchrun; the start line names the step a resume trains to."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from pathlib import Path

import pytest
import torch

from handpose.cli import main
from handpose.config import DataConfig, TrainConfig
from handpose.model.artifact import load_checkpoint
from handpose.model.cpm import preset
from handpose.training.checkpoints import best_after, list_checkpoints, set_aside_later
from handpose.training.schedule import Stretch, lr_factor, resumed_stretches, schedule_step
from handpose.training.trainer import resume_command, settings_changed, train


def _cfg(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = TrainConfig(data=str(data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                       batch_size=4, max_steps=8, workers=0, log_every=1, val_every=0, ckpt_every=100, amp=False,
                       warmup_steps=0, lr=1e-3, threads=1)
    return dataclasses.replace(base, **kw)


def _last_lr(run: Path) -> float:
    """The learning rate the newest checkpoint's optimizer will use for its next step."""
    state = load_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    return float(state["optimizer"]["param_groups"][0]["lr"])


def test_a_stretch_maps_the_remaining_steps_onto_the_earlier_curve() -> None:
    s = Stretch(start=10, before=40, after=70)  # 30 steps left became 60
    assert s.earlier_step(5) == 5 and s.earlier_step(10) == 10
    assert s.earlier_step(40) == pytest.approx(25.0) and s.earlier_step(70) == pytest.approx(40.0)
    both = [s, Stretch(start=40, before=70, after=55)]  # then, at step 40, 30 left became 15
    assert schedule_step(40, both) == pytest.approx(25.0)
    assert schedule_step(55, both) == pytest.approx(40.0)  # the end is the first schedule's end
    assert schedule_step(3, both) == 3.0
    state = {"step": 10, "total_steps": 40, "train_config": {"max_steps": None, "epochs": 2.0},
             "schedule_stretches": []}
    epochs = TrainConfig(max_steps=None, epochs=2.0)
    assert resumed_stretches(epochs, state, 70) == [s]
    assert resumed_stretches(epochs, state, 40) == []  # the same length: nothing to stretch
    assert resumed_stretches(dataclasses.replace(epochs, epochs=3.0), state, 70) == []  # a new length asked for
    assert resumed_stretches(TrainConfig(max_steps=80), state, 80) == []


def test_optimizer_flags_given_with_resume_take_effect_and_are_said(synth_data: Path, tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    train(_cfg(synth_data, tmp_path, schedule="constant", stop_at_step=2, weight_decay=5e-4))
    assert _last_lr(tmp_path) == pytest.approx(1e-3)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, tmp_path, schedule="constant", stop_at_step=4, lr=0.02, weight_decay=0.1,
                   resume=str(tmp_path)))
    state = load_checkpoint(list_checkpoints(tmp_path / "checkpoints")[-1])
    group = state["optimizer"]["param_groups"][0]
    assert group["lr"] == pytest.approx(0.02) and group["weight_decay"] == pytest.approx(0.1)
    assert state["scheduler"]["base_lrs"] == [pytest.approx(0.02)]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["lr"] == pytest.approx(0.02) and config["weight_decay"] == pytest.approx(0.1)  # what ran
    said = [r.getMessage() for r in caplog.records if "resuming with --lr" in r.getMessage()]
    assert said == ["resuming with --lr 0.02 instead of 0.001, --weight-decay 0.1 instead of 0.0005: the schedule "
                    "goes on from step 2 with it"]
    assert settings_changed({"lr": 0.001, "weight_decay": 0.1}, _cfg(synth_data, tmp_path, weight_decay=0.1,
                                                                      lr=0.001)) is None


def test_schedule_flags_given_with_resume_are_said(synth_data: Path, tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """--warmup-steps or --schedule given with --resume moved the learning rate from the resumed step on (a warmup
    of 50 steps laid over a run at step 2 lowered it) in silence, where --lr is said."""
    train(_cfg(synth_data, tmp_path, stop_at_step=2, schedule="cosine"))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, tmp_path, resume=str(tmp_path), stop_at_step=3, warmup_steps=50, schedule="step"))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("resuming with")]
    assert said == ["resuming with --schedule step instead of cosine, --warmup-steps 50 instead of 0: the schedule "
                    "goes on from step 2 with it"]
    saved = {"schedule": "cosine", "min_lr_ratio": 0.0, "lr_step_size": None, "lr_gamma": 0.1, "warmup_steps": 0}
    assert settings_changed(saved, _cfg(synth_data, tmp_path, schedule="cosine", min_lr_ratio=0.5)) == (
        "--min-lr-ratio 0.5 instead of 0")
    # a setting the schedule does not use is no change
    assert settings_changed(saved, _cfg(synth_data, tmp_path, schedule="cosine", lr_gamma=0.5)) is None
    assert settings_changed(saved, _cfg(synth_data, tmp_path, schedule="cosine", lr_step_size=7)) is None


def test_a_resumed_run_says_the_step_it_trains_to_not_a_count_from_there(
    synth_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    train(_cfg(synth_data, tmp_path, max_steps=3))
    with caplog.at_level(logging.INFO, logger="handpose"):
        train(_cfg(synth_data, tmp_path, max_steps=5, resume=str(tmp_path)))
    (said,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("training tiny")]
    assert said.startswith("training tiny (64px) from step 3 to step 5: ")  # 2 steps to go, not "for 5 steps"


def test_an_epoch_run_resumed_with_another_batch_goes_on_along_its_curve(synth_data: Path, tmp_path: Path) -> None:
    kw = dict(max_steps=None, epochs=2.0)
    first = train(_cfg(synth_data, tmp_path / "run", stop_at_step=3, **kw))
    n, total = first["train_samples"], first["total_steps"]
    assert total == math.ceil(2 * n / 4)
    before = _last_lr(tmp_path / "run")
    assert before == pytest.approx(1e-3 * lr_factor(3, total))
    second = train(_cfg(synth_data, tmp_path / "run", batch_size=2, stop_at_step=4, resume=str(tmp_path / "run"),
                        **kw))
    new_total = second["total_steps"]
    assert new_total == 3 + math.ceil((2 * n - 12) / 2)
    state = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert state["schedule_stretches"] == [{"start": 3, "before": total, "after": new_total}]
    # one step after the resume: the old curve one step's worth further on, not the curve re-counted at 2 samples
    step4 = 3 + (4 - 3) * (total - 3) / (new_total - 3)
    assert _last_lr(tmp_path / "run") == pytest.approx(1e-3 * lr_factor(step4, total))
    assert abs(_last_lr(tmp_path / "run") - before) < 0.1 * before
    last = train(_cfg(synth_data, tmp_path / "run", batch_size=2, resume=str(tmp_path / "run"), **kw))
    assert last["step"] == new_total and _last_lr(tmp_path / "run") == pytest.approx(0.0, abs=1e-12)


def test_best_weights_of_an_abandoned_branch_are_set_aside(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "best.json").write_text(json.dumps({"step": 100, "PCK@0.2": 0.2}))
    (run / "best.safetensors").write_bytes(b"weights of step 100")
    assert best_after(run, 100) == [] and best_after(run, 120) == []
    later = best_after(run, 75)
    assert [p.name for p in later] == ["best.json", "best.safetensors"]
    aside = set_aside_later(run / "checkpoints", 75, later)
    assert aside == run / "checkpoints" / "after-00000075"
    assert (aside / "best.safetensors").read_bytes() == b"weights of step 100"  # moved, not lost
    assert not (run / "best.json").exists() and not (run / "best.safetensors").exists()


@pytest.mark.slow
def test_a_resume_before_the_best_step_keeps_the_summary_and_files_in_step(synth_data: Path, tmp_path: Path) -> None:
    """The best weights of step 4 (a branch left when resuming from step 2) go aside with that branch's checkpoints;
    the step-2 record the checkpoint holds named weights they replaced, so the resumed run has no best until it
    validates again."""
    run = tmp_path / "run"
    kw = dict(max_steps=6, val_every=2, ckpt_every=2, keep_checkpoints=0, val_limit=4)
    train(_cfg(synth_data, run, stop_at_step=4, **kw))
    assert load_checkpoint(run / "checkpoints" / "ckpt-00000002.pt")["best"]["step"] == 2
    (run / "best.json").write_text(json.dumps({"step": 4, "PCK@0.2": 0.9}))  # as if step 4 had beaten step 2
    step4 = (run / "best.safetensors").read_bytes()
    summary = train(_cfg(synth_data, run, stop_at_step=3, resume=str(run / "checkpoints" / "ckpt-00000002.pt"), **kw))
    aside = run / "checkpoints" / "after-00000002"
    assert json.loads((aside / "best.json").read_text())["step"] == 4
    assert (aside / "best.safetensors").read_bytes() == step4
    assert summary["best"] is None and summary["best_weights"] is None
    assert not (run / "best.safetensors").exists() and not (run / "best.json").exists()
    again = train(_cfg(synth_data, run, resume=str(run), **kw))  # validates at steps 4 and 6 of this branch
    assert again["best"]["step"] in (4, 6) and json.loads((run / "best.json").read_text()) == again["best"]


def test_a_finished_run_is_not_run_again(synth_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    train(_cfg(synth_data, tmp_path, max_steps=2))
    before = (tmp_path / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match=r"the run is finished \(step 2 of 2\); to train it further give a longer "
                                         r"--max-steps or --epochs with --resume"):
        train(_cfg(synth_data, tmp_path, max_steps=2, resume=str(tmp_path)))
    assert (tmp_path / "model.safetensors").read_bytes() == before
    longer = train(_cfg(synth_data, tmp_path, max_steps=3, resume=str(tmp_path)))
    assert longer["step"] == 3 and longer["stopped"] == "completed"


def test_init_overwrite_another_optimizer_task_or_seed_are_refused_with_resume(synth_data: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    train(_cfg(synth_data, tmp_path, stop_at_step=1))
    for flag, words in ((["--init", "pretrained:lite"], "--init starts a new run from other weights"),
                        (["--overwrite"], "--overwrite starts a new run there"),
                        (["--optimizer", "sgd"], "adam optimizer state; --optimizer sgd cannot take it over"),
                        (["--task", "detect"], "continues a keypoints run; --task detect trains another network"),
                        (["--seed", "3"], "(seed 0); --seed 3 would change the data order")):
        assert main(["-q", "train", "--resume", str(tmp_path), *flag]) != 0
        assert words in capsys.readouterr().err
    for stop, same in ((2, ["--task", "keypoints"]), (3, ["--seed", "0"])):  # the run's own values change nothing
        assert main(["-q", "train", "--resume", str(tmp_path), *same, "--stop-at-step", str(stop)]) == 0


def test_the_continue_hint_names_torchrun_for_a_run_of_several_processes(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    assert resume_command("runs/a", 1) == "handpose train --resume runs/a"
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert resume_command("runs/a", 2) == "torchrun --nproc_per_node 2 -m handpose train --resume runs/a"
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")  # two nodes of two processes
    assert resume_command("runs/a", 4) == "torchrun --nnodes 2 --nproc_per_node 2 -m handpose train --resume runs/a"
    from handpose.commands.train import lost_peer_hint

    (tmp_path / "checkpoints").mkdir()
    torch.save({}, tmp_path / "checkpoints" / "ckpt-00000050.pt")
    error = torch.distributed.DistBackendError("[gloo/transport/tcp/pair.cc:537] Read error: Connection reset by peer")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert lost_peer_hint(error, str(tmp_path)) is None  # one process: its own error says it all
    monkeypatch.setenv("WORLD_SIZE", "2")
    hint = lost_peer_hint(error, str(tmp_path))
    assert hint is not None and f"the last checkpoint is {tmp_path / 'checkpoints' / 'ckpt-00000050.pt'}" in hint
    assert hint.endswith(f"continue with: torchrun --nproc_per_node 2 -m handpose train --resume {tmp_path}")
    assert lost_peer_hint(RuntimeError("CUDA out of memory"), str(tmp_path)) is None


def test_augmentation_and_data_given_with_resume_are_said(synth_data: Path, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    run = tmp_path / "run"
    train(_cfg(synth_data, run, stop_at_step=2))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, run, resume=str(run), stop_at_step=4))  # the same data and augmentation
    said = [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "augmentation changes" in m or "not the data the run trained on" in m], said
    caplog.clear()
    aug = dataclasses.replace(DataConfig(input_size=64).augment, rotation_deg=10.0, blur_prob=0.0)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, run, resume=str(run), stop_at_step=6,
                   dataset=DataConfig(input_size=64, augment=aug)))
    said = [r.getMessage() for r in caplog.records]
    assert any("--rotation 10.0 instead of 40.0, --blur-prob 0.0 instead of 0.2" in m
               and "the augmentation changes from step 4 on" in m for m in said), said
    caplog.clear()
    other = tmp_path / "other"
    shutil.copytree(synth_data, other)  # the same hands elsewhere: another dataset to the run
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(other, run, resume=str(run), dataset=DataConfig(input_size=64, augment=aug)))
    assert any(f"resuming on --data {other}, not the data the run trained on so far" in r.getMessage()
               for r in caplog.records), [r.getMessage() for r in caplog.records]
