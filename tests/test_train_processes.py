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

from handpose.model.artifact import load_checkpoint
from handpose.training.checkpoints import list_checkpoints

TINY = ["--preset", "tiny", "--input-size", "64", "--batch-size", "4", "--val-every", "0", "--workers", "0",
        "--device", "cpu", "--threads", "1", "--no-amp"]
# a run that takes longer has hung: each takes under a minute on a 2-core machine, and a busy one is many times slower
RUN_LIMIT_S = 600


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _start_training(data: Path, out: Path, step: int, *extra: str, new_group: bool = False,
                    ) -> tuple[subprocess.Popen, list[str]]:
    """An endless training run, returned once it has logged ``step`` (with the output so far)."""
    cmd = [sys.executable, "-m", "handpose", "train", "--data", str(data), "--out", str(out), *TINY,
           "--max-steps", "100000", "--log-every", "1", "--ckpt-every", "100000", *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
                            start_new_session=new_group)
    seen: list[str] = []
    deadline = time.monotonic() + RUN_LIMIT_S
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if f" step={step}," in line or time.monotonic() > deadline:
            break
    if not any(f" step={step}," in line for line in seen):
        proc.kill()
        pytest.fail("".join(seen) + (proc.communicate()[0] or ""))
    return proc, seen


def _live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (from /proc; orphaned zombies may wait long for a reaper)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _wait_group_ended(pgid: int, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := _live_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_the_run_resumes(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc, seen = _start_training(synth_data, out, 3)  # wait until it has trained a few steps
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=RUN_LIMIT_S)
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
                             capture_output=True, text=True, env=_env(), timeout=RUN_LIMIT_S)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming from {ckpts[0]} (step {stopped_at})" in resumed.stderr
    assert f" step={stopped_at + 1}," in resumed.stderr and f" step={stopped_at + 2}," in resumed.stderr
    assert f" step={stopped_at}," not in resumed.stderr  # no step is trained twice
    assert load_checkpoint(list_checkpoints(out / "checkpoints")[-1])["step"] == stopped_at + 2


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process groups from /proc")
def test_sigterm_to_the_process_group_stops_cleanly_with_workers(synth_data: Path, tmp_path: Path) -> None:
    """torchrun, SLURM's scancel and ``kill -- -PGID`` signal the whole process group, DataLoader workers
    included: the workers ignore it, the main process saves a checkpoint, then ends its workers."""
    out = tmp_path / "run"
    proc, seen = _start_training(synth_data, out, 2, "--workers", "1", new_group=True)
    assert len(_live_members(proc.pid)) >= 2  # the main process and its worker
    os.killpg(proc.pid, signal.SIGTERM)
    rest, _ = proc.communicate(timeout=RUN_LIMIT_S)
    output = "".join(seen) + rest
    assert proc.returncode == 0, output
    assert "SIGTERM received" in output and "exited unexpectedly" not in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped"] == "SIGTERM" and len(list_checkpoints(out / "checkpoints")) == 1
    assert not _wait_group_ended(proc.pid, 10)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads process groups from /proc")
def test_workers_end_when_the_main_process_dies(synth_data: Path, tmp_path: Path) -> None:
    """Workers ignore SIGTERM, so a killed main process must not leave them behind: they watch their parent."""
    proc, _ = _start_training(synth_data, tmp_path / "run", 2, "--workers", "1", new_group=True)
    assert len(_live_members(proc.pid)) >= 2
    proc.kill()  # SIGKILL to the main process alone: no clean-up runs in it
    proc.communicate(timeout=30)
    assert not _wait_group_ended(proc.pid, 30)  # DataLoader workers check their parent every 5 s


@pytest.mark.slow
def test_torchrun_two_gloo_processes_keep_identical_weights(synth_data: Path, tmp_path: Path) -> None:
    """2 ranks x batch 4 under DDP: both ranks end with the same weights, and those equal (up to float summation
    order) a single process trained on the same 8 samples per step, so the ranks really split each batch."""
    from safetensors.torch import load_file

    common = ["--data", str(synth_data), *TINY, "--no-channels-last", "--max-steps", "4", "--log-every", "2",
              "--optimizer", "sgd",
              "--lr", "0.01", "--warmup-steps", "0"]
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "handpose", "train", *common, "--out", str(tmp_path / "ddp")],
                         capture_output=True, text=True, env=_env(), timeout=RUN_LIMIT_S)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["step"] == 4
    digests = summary["rank_weight_sha256"]
    assert len(digests) == 2 and digests[0] == digests[1]
    assert "batch 4 x 2 process(es)" in ddp.stderr
    assert len(list((tmp_path / "ddp").glob("events.out.tfevents.*"))) == 1  # rank 0 alone writes

    single = [a if a != "4" or common[i - 1] != "--batch-size" else "8" for i, a in enumerate(common)]
    one = subprocess.run([sys.executable, "-m", "handpose", "train", *single, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=_env(), timeout=RUN_LIMIT_S)
    assert one.returncode == 0, one.stdout + one.stderr
    a = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    b = load_file(str(tmp_path / "one" / "model.safetensors"))
    assert a.keys() == b.keys()
    # float32 sums over a batch in another order differ by up to ~1e-4 after 4 steps; a batch not split between
    # the ranks (each training on the same 4 samples) differs by ~1e-2
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=2e-4, msg=f"{key}: DDP differs from one process")


@pytest.mark.slow
def test_torchrun_ranks_stop_together_when_the_weights_become_non_finite(synth_data: Path, tmp_path: Path) -> None:
    """SGD at lr 1e38: step 1's loss is finite, the weights it leaves are not. Every rank must see that at the
    checkpoint and stop with the same error (rank 0 alone stopping left rank 1 in the next all-reduce)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "--tee", "3",
           "--monitor-interval", "2",  # time for rank 1 to report before torchrun ends the ranks left
           "-m", "handpose", "train", "--data", str(synth_data), *TINY, "--max-steps", "3", "--optimizer", "sgd",
           "--lr", "1e38", "--warmup-steps", "0", "--schedule", "constant", "--ckpt-every", "1", "--out",
           str(tmp_path)]
    ddp = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=RUN_LIMIT_S)
    output = ddp.stdout + ddp.stderr
    assert ddp.returncode != 0, output
    for rank in (0, 1):
        assert f"[default{rank}]:handpose train: error: weights became non-finite at step 1;" in output, output
    assert not list_checkpoints(tmp_path / "checkpoints")
