"""Checkpoint files are byte-stable: two runs of one seed, with the speed choices and threads fixed, write the same
``ckpt-*.pt`` bytes (they used to differ though their weights were identical: torch named the zip's root folder after
the temporary file, which holds the process id, and Python's and numpy's random states, saved for --resume, were
never seeded)."""

from __future__ import annotations

import dataclasses
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from handpose.config import DataConfig, TrainConfig
from handpose.files import atomic_torch_save
from handpose.model.cpm import preset
from handpose.training.checkpoints import checkpoint_problem, list_checkpoints, rng_state, seed_all
from handpose.training.trainer import train


def test_the_same_state_saved_under_two_names_has_the_same_bytes(tmp_path: Path) -> None:
    state = {"weights": torch.arange(12.0).reshape(3, 4), "step": 7}  # (3, 4)
    a = atomic_torch_save(state, tmp_path / "one" / "ckpt-00000007.pt")
    b = atomic_torch_save(state, tmp_path / "two" / "ckpt-00000007.pt")
    assert a.read_bytes() == b.read_bytes()
    names = zipfile.ZipFile(a).namelist()
    assert not any(".tmp-" in n for n in names), names  # no temporary file's name inside the archive
    assert checkpoint_problem(a) is None
    assert torch.equal(torch.load(a, weights_only=True)["weights"], state["weights"])


def test_seed_all_fixes_every_saved_random_state() -> None:
    seed_all(11)
    first = rng_state()
    seed_all(11)
    second = rng_state()
    assert first["python"] == second["python"]
    assert torch.equal(first["numpy"]["keys"], second["numpy"]["keys"])
    assert first["numpy"]["pos"] == second["numpy"]["pos"]
    assert torch.equal(first["torch"], second["torch"])


def _fresh_interpreter_states(n: int) -> None:
    """Python's and numpy's global random states as a new interpreter would hold them (unseeded)."""
    random.seed(f"interpreter {n}")
    np.random.seed(1000 + n)  # noqa: NPY002 (the global state)


def test_two_runs_of_one_seed_write_the_same_checkpoint_bytes(synth_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"  # the same folder both times: its path is recorded in the checkpoint's settings
    cfg = TrainConfig(data=str(synth_data), out=str(out), model=preset("tiny"), dataset=DataConfig(input_size=64),
                      batch_size=4, max_steps=2, workers=0, log_every=1, val_every=0, ckpt_every=1, amp=False,
                      channels_last=False, warmup_steps=0, lr=1e-3, threads=1, seed=4)
    _fresh_interpreter_states(1)
    train(cfg)
    first = {p.name: p.read_bytes() for p in list_checkpoints(out / "checkpoints")}
    out.rename(tmp_path / "first")
    _fresh_interpreter_states(2)  # another process starts with other states, drawn from the OS's entropy
    train(dataclasses.replace(cfg))
    second = {p.name: p.read_bytes() for p in list_checkpoints(out / "checkpoints")}
    assert list(first) == ["ckpt-00000001.pt", "ckpt-00000002.pt"] and list(second) == list(first)
    for name in first:
        assert first[name] == second[name], f"{name}: the bytes differ between two runs of one seed"
