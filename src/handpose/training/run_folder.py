"""Opening a training run folder safely: one writer at a time, no silent mixing of two runs.

:class:`RunLock` holds an exclusive lock on ``<out>/.handpose.lock`` (non-blocking; the file holds the writer's PID;
``fcntl.flock`` on Linux and macOS, ``msvcrt.locking`` on Windows: :mod:`handpose.file_locks`) for the whole run, so
a second ``handpose train`` or a ``--resume`` into a folder that is still being trained is refused with the PID that
holds it. The operating system drops the lock when the process ends, however it ends, so a killed run never leaves
the folder locked (its DataLoader workers close their inherited copies of the lock first:
:func:`drop_inherited_locks`).

:func:`open_run_folder` takes that lock, then refuses a fresh run into a folder that already holds a run (its
``config.json``, checkpoints, weights, summary or TensorBoard events) unless ``overwrite`` is set, in which case
it deletes those files of the old run first (handpose's own run files only, nothing else in the folder). It also
removes the partial temporary files a killed writer left behind (``files.remove_stale_temporaries``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from types import TracebackType

from handpose.file_locks import lock_exclusive, probe, read_at, write_at
from handpose.files import ensure_writable_folder, remove_stale_temporaries
from handpose.training.checkpoints import CHECKPOINT_DIR

LOG = logging.getLogger(__name__)

LOCK_NAME = ".handpose.lock"
# the files a run writes into its folder (see training.trainer); nothing else is ever deleted by --overwrite
RUN_PATTERNS = ("config.json", "summary.json", "best.json", "best.safetensors", "model.safetensors",
                "events.out.tfevents.*")
# a json of these names is the run's only when it holds these keys (a user's own config.json is not a run); keys
# every version's run wrote: config.json had no "task" before the detector (2026-11-27)
_JSON_KEYS = {"config.json": ("model", "dataset", "out"), "summary.json": ("out", "step", "stopped")}
CHECKPOINT_PATTERN = "ckpt-*.pt"


class RunFolderBusyError(RuntimeError):
    """Another process holds the run folder's lock."""


class RunFolderMovedError(RuntimeError):
    """The folder a run writes was moved or removed while it ran."""


class RunExistsError(ValueError):
    """A fresh run was asked for in a folder that already holds a run."""


_HELD: set[int] = set()  # descriptors of the locks this process took (a forked child inherits them)


def drop_inherited_locks() -> None:
    """In a forked child (a DataLoader worker): close its copies of the parent's run-lock descriptors. The lock
    belongs to the open file, which a child's copy keeps locked: a worker outliving a killed trainer by the few
    seconds it takes to notice would hold the folder. The parent's own descriptors stay open and locked."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


class RunLock:
    """An exclusive, non-blocking lock on ``<folder>/.handpose.lock``; released by :meth:`release`, at the end
    of a ``with`` block, or by the operating system when the process dies."""

    def __init__(self, folder: str | Path, what: str = "run") -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.what = what  # what the holder writes there, for the busy message ("run", "prediction folder")
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock; :class:`RunFolderBusyError` naming the folder and the holder's PID when it is taken."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            lock_exclusive(fd)
        except BlockingIOError:
            error = self._busy(fd)
            os.close(fd)
            raise error from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        write_at(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _HELD.add(fd)
        return self

    def check_free(self) -> None:
        """:class:`RunFolderBusyError` when another process holds the lock; takes nothing and writes nothing (the
        folder may be read-only): a probe with a shared lock, which fails while a writer holds its exclusive one."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            return  # no lock file: no run has written here
        try:
            probe(fd)
        except BlockingIOError:
            raise self._busy(fd) from None
        finally:
            os.close(fd)  # closing drops the probe's lock too

    def _busy(self, fd: int) -> RunFolderBusyError:
        """The error naming the folder and the PID the holder wrote into the lock file ``fd``."""
        holder = read_at(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        return RunFolderBusyError(f"{self.folder} is in use: another handpose process (PID {holder}) is writing this "
                                  f"{self.what}; wait for it to end or choose another --out")

    def follow(self) -> None:
        """Keep the lock on the folder now at this lock's path: where that is no longer the folder whose lock file
        this process holds (it was moved or removed while held, and maybe made again by another run), make it if
        need be and take its lock, letting the old one go. :class:`RunFolderBusyError` when another process holds
        the lock of the folder now there; nothing when the lock is not held or is still the path's."""
        if self._fd is None or self.at_path():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        old, self._fd = self._fd, None
        try:
            self.acquire()
        except RunFolderBusyError as exc:
            self._fd = old  # still the moved folder's (released at the end as before)
            raise RunFolderBusyError(f"{self.folder} was moved or removed while this process wrote it, and another "
                                     f"process writes the folder there now: {exc}") from None
        _HELD.discard(old)
        try:
            os.ftruncate(old, 0)  # the moved folder's lock file: nobody writes there now
        except OSError:
            pass
        os.close(old)

    def at_path(self) -> bool:
        """Whether the lock is held and its file is still the one at its path (the folder not moved or removed)."""
        if self._fd is None:
            return False
        try:
            return os.path.samestat(os.fstat(self._fd), os.stat(self.path))
        except FileNotFoundError:
            return False  # removed, or moved with nothing made in its place

    def release(self) -> None:
        """Drop the lock (the lock file stays; an unlocked file means nobody is writing)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass
        os.close(self._fd)  # closing the descriptor releases the lock
        _HELD.discard(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


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
