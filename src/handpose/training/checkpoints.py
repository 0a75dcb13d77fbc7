"""Training checkpoints: atomic writes, the last K kept, the latest found again, random states saved and restored.

A checkpoint is a plain dict of tensors and Python data (its keys and its reader are in ``model.artifact``):
"model" (state dict), "model_config", "data_config", "optimizer", "scheduler", "step", "epoch", "rng",
"train_config" (see ``training.trainer``). Files are ``<run>/checkpoints/ckpt-<step:08d>.pt``, written atomically
(``files.atomic_write``), so a crash or a kill leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import logging
import random
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from handpose.files import atomic_torch_save
from handpose.regular_files import why_not_a_file

LOG = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^ckpt-(\d+)\.pt$")


def checkpoint_name(step: int) -> str:
    """``ckpt-00002000.pt`` for step 2000 (zero-padded so names sort by step)."""
    return f"ckpt-{int(step):08d}.pt"


def _step_of(path: Path) -> int:
    """The step in a ``ckpt-<step>.pt`` name (-1 for another name)."""
    found = _NAME.match(path.name)
    return int(found.group(1)) if found else -1


def list_checkpoints(directory: str | Path) -> list[Path]:
    """The ``ckpt-*.pt`` files of a folder, oldest step first (temporary files are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if _step_of(p) >= 0), key=_step_of)


def save_checkpoint(state: dict[str, Any], directory: str | Path, step: int, keep: int) -> Path:
    """Write ``state`` atomically as ``directory/ckpt-<step>.pt``, then delete all but the newest ``keep`` (the file
    just written is never among the deleted)."""
    directory = Path(directory)
    path = atomic_torch_save(state, directory / checkpoint_name(step))
    if keep > 0:
        for old in list_checkpoints(directory)[:-keep]:
            if old != path:
                old.unlink(missing_ok=True)
                LOG.debug("removed old checkpoint %s", old)
    return path


BEST_WEIGHTS, BEST_RECORD = "best.safetensors", "best.json"  # in the run folder, beside checkpoints/


def best_after(run_dir: str | Path, step: int) -> list[Path]:
    """The run's best-weights files when their record names a step after ``step``: weights of the branch a resume
    from an earlier checkpoint leaves (an unreadable record counts as later: it cannot be shown to be this
    branch's)."""
    run_dir = Path(run_dir)
    record = run_dir / BEST_RECORD
    files = [f for f in (record, run_dir / BEST_WEIGHTS) if f.is_file()]
    if not record.is_file():
        return files
    try:
        best_step = int(json.loads(record.read_text())["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return files
    return files if best_step > step else []


def set_aside_later(directory: str | Path, step: int, extra: Sequence[Path] = ()) -> Path | None:
    """Move the checkpoints of steps after ``step``, and the files ``extra`` (the best weights of those steps,
    :func:`best_after`), into a new folder ``directory/after-<step>[-n]/``: a run resumed from an earlier checkpoint
    leaves them behind, and they would otherwise be resumed from (and prune the new ones) as the newest, or stand as
    the best of a run that no longer has them. Nothing is deleted or replaced. Returns the folder they went to, or
    None when there were none."""
    directory = Path(directory)
    later = [p for p in list_checkpoints(directory) if _step_of(p) > step] + [Path(p) for p in extra]
    if not later:
        return None
    aside = directory / f"after-{int(step):08d}"
    n = 1
    while aside.exists():  # an earlier branch from the same step keeps its own folder
        n += 1
        aside = directory / f"after-{int(step):08d}-{n}"
    aside.mkdir(parents=True)
    for path in later:
        path.replace(aside / path.name)
    LOG.warning("resumed from step %d: the later checkpoint(s) and best weights of the run it left (%s) moved to %s",
                step, ", ".join(p.name for p in later), aside)
    return aside


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint to resume from: ``path`` itself when it is a file, else the newest intact ``ckpt-*.pt`` in
    ``path/checkpoints`` or ``path``. A newer checkpoint that is truncated or not a checkpoint file is passed over
    with a warning naming it (an explicitly named file is returned as it is; loading it then fails clearly).
    Raises FileNotFoundError naming where it looked."""
    path = Path(path)
    if path.is_file():
        return path
    why = why_not_a_file(path)
    if why not in ("is a folder", "does not exist"):  # a FIFO would block the read, a device never end it
        raise ValueError(f"--resume: {path} {why}, not a checkpoint or a run folder")
    if not path.exists():
        raise FileNotFoundError(f"--resume: {path} does not exist")
    for folder in (path / CHECKPOINT_DIR, path):
        found = list_checkpoints(folder)
        bad = []
        for candidate in reversed(found):
            problem = checkpoint_problem(candidate)
            if problem is None:
                if bad:
                    LOG.warning("--resume: skipped the newer checkpoint(s) %s (%s); resuming from %s instead",
                                ", ".join(str(b) for b, _ in bad), "; ".join(p for _, p in bad), candidate)
                return candidate
            bad.append((candidate, problem))
        if bad:
            raise ValueError(f"--resume: no intact checkpoint in {folder}: " +
                             "; ".join(f"{b}: {p}" for b, p in bad))
    raise FileNotFoundError(f"--resume: no checkpoint (ckpt-*.pt) in {path / CHECKPOINT_DIR} or {path}")


def checkpoint_problem(path: str | Path) -> str | None:
    """Why ``path`` is not a whole checkpoint file (truncated, empty, not torch's zip format), or None when its zip
    directory is intact. Cheap: reads the zip's table of contents, not the tensors."""
    why = why_not_a_file(path)
    if why:  # a FIFO named like a checkpoint would block zipfile's open
        return f"{why}, not a checkpoint file"
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f"truncated or not a checkpoint file ({exc})"
    if not any(n.endswith("data.pkl") for n in names):
        return "not a torch checkpoint (no data.pkl inside)"
    return None


# ----------------------------------------------------------------------------------------------- random states


def seed_all(seed: int) -> None:
    """Seed the random states a checkpoint keeps (Python's, numpy's global one, torch's): a run's saved states are
    then a function of its seed, so two runs of one seed write the same checkpoint bytes (Python's and numpy's were
    left as the interpreter started them, from the operating system's entropy)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the global state, as rng_state saves it)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch (CPU, and CUDA, MPS or XPU where in use) random states as tensors and plain lists
    (weights_only-safe)."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()  # noqa: NPY002 (the global state)
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
        "numpy": {"name": np_name, "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():  # an Apple GPU's generator, which random ops of a run on mps draw on
        state["mps"] = torch.mps.get_rng_state()
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available() and xpu.is_initialized():
        state["xpu"] = xpu.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (a GPU's states only where that GPU is here: a run saved on one
    resumes on a CPU)."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    npy = state["numpy"]
    keys = npy["keys"].numpy().astype(np.uint32)
    np.random.set_state((npy["name"], keys, npy["pos"], npy["has_gauss"], npy["gauss"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    xpu = getattr(torch, "xpu", None)
    if "xpu" in state and xpu is not None and xpu.is_available():
        xpu.set_rng_state_all(state["xpu"][: xpu.device_count()])
