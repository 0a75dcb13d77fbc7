"""Training in real processes: SIGTERM saves a checkpoint and the run resumes; torchrun with 2 gloo processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from handpose.checkpoint import list_checkpoints, load_checkpoint

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "0",
        "--device", "cpu", "--threads", "1", "--no-amp"]


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from handpose.synth import write_dataset

    root = tmp_path_factory.mktemp("rendered")
    write_dataset(root, count=40, seed=4, size=96)
    return root


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "handpose", "train", "--data", str(synth_data), "--out", str(out), *TINY,
           "--max-steps", "100000", "--log-every", "1", "--ckpt-every", "100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    seen: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:  # wait until it has trained a few steps
        seen.append(line)
        if " step=3," in line or time.monotonic() > deadline:
            break
    assert any(" step=3," in line for line in seen), "".join(seen)
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=120)
    output = "".join(seen) + rest
    assert proc.returncode == 0, output
    assert "SIGTERM received" in output and f"continue with: handpose train --resume {out}" in output
    ckpts = list_checkpoints(out / "checkpoints")
    assert len(ckpts) == 1
    stopped_at = load_checkpoint(ckpts[0])["step"]
    assert stopped_at >= 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"] == "SIGTERM" and summary["step"] == stopped_at

    resumed = subprocess.run([sys.executable, "-m", "handpose", "train", "--resume", str(out), "--stop-at-step",
                              str(stopped_at + 2), "--log-every", "1", "--threads", "1"],
                             capture_output=True, text=True, env=_env(), timeout=120)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from {ckpts[0]} (step {stopped_at})" in resumed.stderr
    assert f" step={stopped_at + 1}," in resumed.stderr and f" step={stopped_at + 2}," in resumed.stderr
    assert f" step={stopped_at}," not in resumed.stderr  # no step is trained twice
    assert load_checkpoint(list_checkpoints(out / "checkpoints")[-1])["step"] == stopped_at + 2


@pytest.mark.slow
def test_torchrun_two_gloo_processes_keep_identical_weights(synth_data: Path, tmp_path: Path) -> None:
    """2 ranks x batch 4 under DDP: both ranks end with the same weights, and those equal (up to float summation
    order) a single process trained on the same 8 samples per step, so the ranks really split each batch."""
    from safetensors.torch import load_file

    common = ["--data", str(synth_data), *TINY, "--max-steps", "4", "--log-every", "2", "--optimizer", "sgd",
              "--lr", "0.01", "--warmup-steps", "0"]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "handpose", "train", *common, "--out", str(tmp_path / "ddp")],
                         capture_output=True, text=True, env=_env(), timeout=180)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 4
    digests = summary["rank_weight_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert "batch 4 x 2 process(es)" in ddp.stderr
    assert len(list((tmp_path / "ddp").glob("events.out.tfevents.*"))) == 1  # rank 0 alone writes

    single = [a if a != "4" or common[i - 1] != "--batch-size" else "8" for i, a in enumerate(common)]
    one = subprocess.run([sys.executable, "-m", "handpose", "train", *single, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=_env(), timeout=120)
    assert one.returncode == 0, one.stdout + one.stderr
    a = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    b = load_file(str(tmp_path / "one" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-6, msg=f"{key}: DDP differs from one process")
