"""A training run that ends by an error (here a full disk at a checkpoint) while its data workers run exits: the
workers ignore SIGTERM, and the process used to print its one-line error and then wait for them for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# torch.save fails at the second checkpoint as a full disk fails it; the run has one data worker
_FULL_AT_STEP_2 = """
import errno, sys, torch
from handpose.cli import main
real = torch.save
def save(obj, f, *args, **kw):
    if "ckpt-00000002" in str(f.name):
        raise OSError(errno.ENOSPC, "No space left on device")
    real(obj, f, *args, **kw)
torch.save = save
sys.exit(main(["-q", "train", "--data", sys.argv[1], "--out", sys.argv[2], "--preset", "tiny", "--input-size", "64",
               "--batch-size", "4", "--val-every", "0", "--workers", "1", "--device", "cpu", "--threads", "1",
               "--no-amp", "--max-steps", "3", "--ckpt-every", "1"]))
"""


@pytest.mark.slow
def test_a_run_ended_by_a_full_disk_exits_with_its_data_workers_running(tmp_path: Path) -> None:
    from handpose.synth import write_dataset

    data = write_dataset(tmp_path / "rendered", count=12, seed=5, size=96)
    run = tmp_path / "run"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _FULL_AT_STEP_2, str(data), str(run)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)  # about 5 s; without the workers shut down, never
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process and its workers (they outlive a SIGTERM)
        proc.communicate()
        pytest.fail("the run printed its error and then waited for ever for its data workers")
    assert proc.returncode == 2, err
    assert f"{run / 'checkpoints' / 'ckpt-00000002.pt'}: the disk is full" in err
    assert (run / "checkpoints" / "ckpt-00000001.pt").is_file()


def test_a_loader_whose_workers_were_stopped_can_be_iterated_again() -> None:
    """stop_workers closes the persistent workers' queues; the loader kept that iterator, so a second pass over it
    raised 'Queue ... is closed'. It starts new workers now."""
    import torch

    from handpose.training.data import stop_workers

    loader = torch.utils.data.DataLoader(list(range(6)), batch_size=2, num_workers=1, persistent_workers=True)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]
    stop_workers(loader)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]
    stop_workers(loader)
