"""Opening a training run folder safely: one writer at a time, no silent mixing of two runs.

A run holds the folder's lock (:class:`handpose.folder_lock.RunLock` on ``<out>/.handpose.lock``, with its PID) for
the whole run, so a second ``handpose train`` or a ``--resume`` into a folder that is still being trained is refused
with the PID that holds it; the operating system drops the lock when the process ends, however it ends.

:func:`open_run_folder` takes that lock, then refuses a fresh run into a folder that already holds a run (its
``config.json``, checkpoints, weights, summary or TensorBoard events) unless ``overwrite`` is set, in which case
it deletes those files of the old run first (handpose's own run files only, nothing else in the folder). It also
removes the partial temporary files a killed writer left behind (``files.remove_stale_temporaries``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from handpose.files import ensure_writable_folder, remove_stale_temporaries
from handpose.folder_lock import LOCK_NAME, RunLock
from handpose.training.checkpoints import CHECKPOINT_DIR

LOG = logging.getLogger(__name__)

# the files a run writes into its folder (see training.trainer); nothing else is ever deleted by --overwrite
RUN_PATTERNS = ("config.json", "summary.json", "best.json", "best.safetensors", "model.safetensors",
                "events.out.tfevents.*")
# a json of these names is the run's only when it holds these keys (a user's own config.json is not a run); keys
# every version's run wrote: config.json had no "task" before the detector (2026-11-27)
_JSON_KEYS = {"config.json": ("model", "dataset", "out"), "summary.json": ("out", "step", "stopped")}
CHECKPOINT_PATTERN = "ckpt-*.pt"


class RunFolderMovedError(RuntimeError):
    """The folder a run writes was moved or removed while it ran."""


class RunExistsError(ValueError):
    """A fresh run was asked for in a folder that already holds a run."""


def run_files(folder: str | Path) -> list[Path]:
    """The files of an earlier run in ``folder`` (those :data:`RUN_PATTERNS` and checkpoints name), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = {p for pattern in RUN_PATTERNS for p in folder.glob(pattern) if p.is_file() and _written_by_a_run(p)}
    ckpts = folder / CHECKPOINT_DIR
    if ckpts.is_dir():
        found.update(p for p in ckpts.glob(CHECKPOINT_PATTERN) if p.is_file())
    return sorted(found)


def _written_by_a_run(path: Path) -> bool:
    """Whether a file of a run's name is a run's: a ``config.json`` / ``summary.json`` must hold that file's keys."""
    keys = _JSON_KEYS.get(path.name)
    if keys is None:
        return True
    import json

    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and all(k in doc for k in keys)


def run_folder_of(resume: str | Path) -> Path:
    """The run folder a ``--resume`` path (a run folder or a checkpoint file) belongs to, resolved."""
    source = Path(resume).resolve()
    if source.exists() and not source.is_dir():  # a checkpoint file (or what stands for one: find_checkpoint says)
        source = source.parent.parent if source.parent.name == CHECKPOINT_DIR else source.parent
    return source


def same_run(folder: str | Path, resume: str | Path | None) -> bool:
    """Whether ``resume`` (a run folder or a checkpoint file) belongs to the run in ``folder``."""
    if resume is None:
        return False
    return run_folder_of(resume) == Path(folder).resolve()


def check_resumable(resume: str | Path) -> None:
    """:class:`RunFolderBusyError` when another process is writing the run ``resume`` belongs to: said before its
    checkpoint is read, which that process may be replacing."""
    RunLock(run_folder_of(resume)).check_free()


def check_run_folder(folder: str | Path, resume: str | Path | None = None, overwrite: bool = False) -> None:
    """Raise what :func:`open_run_folder` would raise (busy, holds another run, unwritable), changing nothing; the
    command calls it before work that precedes training (rendering data, measuring speed settings)."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ValueError(f"--out {folder} is a file, not a folder")
    RunLock(folder).check_free()  # a probe: no lock file is made (open_run_folder takes the lock itself)
    ensure_writable_folder(folder, "--out")  # its probe file is removed at once
    refuse_foreign_files(folder)
    old = run_files(folder)
    if not (overwrite and resume is None) and not same_run(folder, resume) and old:
        raise RunExistsError(_holds_a_run(folder, old))


def open_run_folder(folder: str | Path, resume: str | Path | None = None, overwrite: bool = False) -> RunLock:
    """Lock ``folder`` for this run and make it ready; returns the held lock (release it when the run ends).

    A fresh run (``resume`` None, or a checkpoint of another folder) into a folder that holds a run raises
    :class:`RunExistsError` pointing to ``--resume`` and ``--overwrite``; with ``overwrite`` (ignored when resuming)
    that run's files are deleted first. Raises ValueError when ``folder`` is a file, OSError naming it when it
    cannot be written.
    """
    folder = Path(folder)
    overwrite = overwrite and resume is None  # a resumed run is never deleted (its stored settings may say overwrite)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is a file, not a folder")
    ensure_writable_folder(folder, "--out")
    lock = RunLock(folder).acquire()
    try:
        refuse_foreign_files(folder)
        old = [] if same_run(folder, resume) else run_files(folder)
        if old and not overwrite:
            raise RunExistsError(_holds_a_run(folder, old))
        for path in old:
            path.unlink(missing_ok=True)
        if old:
            LOG.warning("--overwrite: deleted %d files of the earlier run in %s", len(old), folder)
        for where in (folder, folder / CHECKPOINT_DIR):
            for stale in remove_stale_temporaries(where):
                LOG.warning("removed %s, a partial file left by a writer that was stopped", stale)
    except BaseException:
        lock.release()
        raise
    return lock


def refuse_foreign_files(folder: Path) -> None:
    """RunExistsError when ``folder`` holds a ``config.json`` or ``summary.json`` that no run wrote (a user's own): a
    run writes files of those names, and neither ``--overwrite`` nor a resumed run may replace it."""
    foreign = [name for name in _JSON_KEYS if (folder / name).is_file() and not _written_by_a_run(folder / name)]
    if foreign:
        raise RunExistsError(f"--out {folder} holds {' and '.join(foreign)} that handpose did not write, and a run "
                             "writes files of that name: choose another --out (nothing there was changed)")


def _holds_a_run(folder: Path, old: list[Path]) -> str:
    """The refusal of a fresh run into ``folder``, whose run wrote ``old``: --resume offered only where there is a
    checkpoint to resume from."""
    names = ", ".join(sorted({_label(p.relative_to(folder).parts[0]) for p in old}))
    if not any(p.parent.name == CHECKPOINT_DIR for p in old):
        return (f"--out {folder} already holds a training run that wrote no checkpoint ({names}), so it cannot be "
                "resumed; start a new one there with --overwrite (deletes that run's files), or choose another --out")
    return (f"--out {folder} already holds a training run ({names}); continue it with --resume {folder}, or start a "
            "new one there with --overwrite (deletes that run's files), or choose another --out")


def _label(name: str) -> str:
    """A run file's name for messages (TensorBoard event files have long, machine-made names)."""
    return "TensorBoard events" if name.startswith("events.out.tfevents.") else name


def remove_if_untouched(folder: str | Path) -> bool:
    """Remove ``folder``, made by a run that failed before writing anything (it holds the lock file alone, or an
    empty checkpoints folder beside it), so a mistyped setting leaves no half-made run folder; True when removed.
    Anything else in it keeps it."""
    folder = Path(folder)
    try:
        names = set(os.listdir(folder))
        ckpts = CHECKPOINT_DIR in names
        if not names <= {LOCK_NAME, CHECKPOINT_DIR} or (ckpts and os.listdir(folder / CHECKPOINT_DIR)):
            return False
        if CHECKPOINT_DIR in names:
            (folder / CHECKPOINT_DIR).rmdir()
        (folder / LOCK_NAME).unlink(missing_ok=True)
        folder.rmdir()
    except OSError:
        return False
    return True
