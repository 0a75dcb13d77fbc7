"""What a run's record says for it to be repeated from its folder alone: seed, speed choices, versions, CPU and the
thread count, in training's summary and checkpoints, eval's report and the demo's summary; a resume on another
thread count is warned about."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
import torch

from handpose.cli import build_parser
from handpose.commands.demo import demo_settings
from handpose.config import DataConfig, TrainConfig
from handpose.model.artifact import load_checkpoint, save_weights
from handpose.model.cpm import build_model
from handpose.run_environment import environment_changes, ignored_on_resume, run_environment
from handpose.training.checkpoints import list_checkpoints
from handpose.training.trainer import train


def _cfg(data: Path, out: Path, **kw: object) -> TrainConfig:
    base = TrainConfig(data=str(data), out=str(out), model=build_model("tiny").config,
                       dataset=DataConfig(input_size=64), batch_size=4, max_steps=4, workers=0, log_every=100,
                       val_every=0, ckpt_every=100, amp=False, channels_last=False, threads=1, seed=5)
    return dataclasses.replace(base, **kw)


def test_environment_names_versions_cpu_and_threads() -> None:
    env = run_environment("cpu")
    assert env["torch"] == torch.__version__ and env["torch_threads"] == torch.get_num_threads()
    assert {"handpose", "numpy", "opencv", "python", "cpu"} <= set(env)


def test_environment_changes_name_what_moved() -> None:
    saved = {"torch_threads": 1, "torch": "2.13.0", "cpu": "X"}
    assert environment_changes(saved, dict(saved)) is None
    assert environment_changes({}, {"torch_threads": 2}) is None  # a checkpoint from before the record
    assert environment_changes(saved, {**saved, "torch_threads": 2}) == "torch_threads 2 instead of 1"
    # a --threads auto run: its thread count follows the free cores, so a resume on another count is no change
    assert environment_changes(saved, {**saved, "torch_threads": 2}, ignore=("torch_threads",)) is None
    assert environment_changes(saved, {**saved, "cpu": "Y"}, ignore=("torch_threads",)) == "cpu Y instead of X"


def test_a_gpu_run_is_not_warned_about_the_cpu_or_its_threads() -> None:
    """A GPU run resumed on another CPU or thread count was warned that its weights would differ "because" of them;
    the network's steps run on the GPU. Versions and the GPU itself are still compared."""
    saved = {"torch_threads": 16, "torch": "2.13.0", "cpu": "X", "gpu": "A"}
    moved = {**saved, "torch_threads": 2, "cpu": "Y"}
    assert environment_changes(saved, moved, ignore=ignored_on_resume("cuda", auto_threads=False)) is None
    assert environment_changes(saved, {**moved, "gpu": "B"}, ignore=ignored_on_resume("cuda", False)) == \
        "gpu B instead of A"
    assert environment_changes(saved, moved, ignore=ignored_on_resume("cpu", auto_threads=False)) == \
        "torch_threads 2 instead of 16, cpu Y instead of X"
    assert ignored_on_resume("cpu", auto_threads=True) == ("torch_threads",)


@pytest.mark.slow
def test_training_records_seed_speed_and_environment(synth_data: Path, tmp_path: Path) -> None:
    summary = train(_cfg(synth_data, tmp_path / "run", max_steps=2))
    assert summary["seed"] == 5
    assert summary["speed"] == {"amp": False, "channels_last": False, "compile": False}
    assert summary["environment"]["torch_threads"] == 1 and summary["environment"]["torch"] == torch.__version__
    ckpt = load_checkpoint(list_checkpoints(tmp_path / "run" / "checkpoints")[-1])
    assert ckpt["environment"]["torch_threads"] == 1


@pytest.mark.slow
def test_resume_on_another_thread_count_is_warned_about(synth_data: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    train(_cfg(synth_data, tmp_path / "run", stop_at_step=2))
    with caplog.at_level(logging.WARNING, logger="handpose"):
        train(_cfg(synth_data, tmp_path / "run", resume=str(tmp_path / "run"), threads=2))
    assert "torch_threads 2 instead of 1" in caplog.text and "--threads 1" in caplog.text


def test_eval_report_records_layout_threads_and_environment(tmp_path: Path) -> None:
    from handpose.evaluate import run_evaluation
    from handpose.synth import write_dataset

    write_dataset(tmp_path / "data", count=4, seed=1, size=64)
    torch.manual_seed(0)
    save_weights(build_model("tiny"), tmp_path / "tiny.safetensors")
    report = run_evaluation(tmp_path / "tiny.safetensors", tmp_path / "data", split="all", channels_last=True)
    assert report["precision"] == "fp32" and report["channels_last"] is True
    assert "threads" in report and report["environment"]["torch"] == torch.__version__


def test_demo_summary_records_seeds_sizes_and_environment() -> None:
    args = build_parser().parse_args(["demo", "--seed", "4", "--count", "40", "--size", "96"])
    record = demo_settings(args)
    assert record["seed"] == 4 and record["test_seed"] != 4 and record["count"] == 40 and record["size"] == 96
    assert record["environment"]["torch"] == torch.__version__
