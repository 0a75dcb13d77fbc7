"""Training data: the embedded synthetic dataset (rendered once into a cache) and the training DataLoader.

``handpose train`` without ``--data`` trains on hands rendered by ``handpose.synth.write_dataset`` into
``$HANDPOSE_CACHE/synth/<seed>-<count>-<size>-<renderer>-v<version>`` (default cache: ``$XDG_CACHE_HOME/handpose``
or ``~/.cache/handpose``).
The folder is rendered under a temporary name and renamed when complete, so an interrupted render is never mistaken
for a dataset.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
from pathlib import Path

import torch

from handpose.config import TrainConfig
from handpose.folder_lock import drop_inherited_locks
from handpose.process_alive import alive
from handpose.training.distributed import DistInfo
from handpose.training.sampler import EpochIndexed, StreamSampler
from handpose.training.signals import ignore_stop_signals_in_worker
from handpose.worker_logging import LogSetup
from handpose.worker_logging import current as current_logging
from handpose.worker_logging import restore as restore_logging

LOG = logging.getLogger(__name__)

CACHE_ENV = "HANDPOSE_CACHE"


class NoCacheFolderError(OSError):
    """No cache folder can be named: no ``$HANDPOSE_CACHE``, no absolute ``$XDG_CACHE_HOME`` and no home folder."""


def cache_root() -> Path:
    """``$HANDPOSE_CACHE``, else ``$XDG_CACHE_HOME/handpose`` where that is an absolute path (the XDG base directory
    rule: a relative one is ignored), else ``~/.cache/handpose``. NoCacheFolderError where there is no home folder
    to be found (Windows without ``%USERPROFILE%``, as under some service accounts; a POSIX user id without a
    passwd entry and no ``$HOME``, as in containers), where ``Path.home()`` raises RuntimeError."""
    env = os.environ.get(CACHE_ENV)
    if env:
        try:
            return Path(env).expanduser()
        except RuntimeError as exc:  # "~/..." with no home folder to be found
            raise NoCacheFolderError(f"{CACHE_ENV}={env}: the home folder its ~ names cannot be found ({exc}); give "
                                     "a folder without ~") from exc
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "handpose"
    try:
        home = Path.home()
    except RuntimeError as exc:
        raise NoCacheFolderError(f"no cache folder: the home folder cannot be found ({exc}); set {CACHE_ENV} to a "
                                 "folder handpose may write in") from exc
    return home / ".cache" / "handpose"


def embedded_dataset(seed: int, count: int, size: int, workers: int = 1, root: Path | None = None) -> Path:
    """The synthetic dataset of (seed, count, size), rendered on first use; returns its folder.

    The folder's name also holds the renderer (GL or the fallback, which draw other pixels from one seed) and its
    version, so renders of an older renderer are never reused."""
    from handpose.synth import RENDERER_VERSION, resolve_renderer, write_dataset

    renderer = resolve_renderer("auto")
    target = (root or cache_root()) / "synth" / f"{seed}-{count}-{size}-{renderer}-v{RENDERER_VERSION}"
    if target.is_dir():
        return target
    _check_writable(target.parent)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    for stale in target.parent.glob(f".{target.name}.tmp-*"):  # an earlier render's, killed part way
        pid = stale.name.rsplit("-", 1)[1]
        if stale == tmp or (pid.isdigit() and not alive(int(pid)) and not _render_running(stale)):
            shutil.rmtree(stale, ignore_errors=True)
    LOG.info("rendering the embedded synthetic dataset (%d images of %d px, seed %d) into %s", count, size, seed,
             target)
    try:
        write_dataset(tmp, count=count, seed=seed, size=size, workers=max(1, workers), renderer=renderer,
                      flags=("--synth-count", "--synth-size"))
    except BaseException:  # a full disk, Ctrl-C: the part rendered is never used, and holds the space a next run needs
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.replace(tmp, target)
    except OSError:  # another process finished the same dataset first
        if not target.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _render_running(folder: Path) -> bool:
    """Whether a render holds the lock of ``folder``'s dataset: on a cache shared between machines, the PID in a
    temporary folder's name may be another machine's live render, which this machine's process table does not
    show."""
    from handpose.folder_lock import RunFolderBusyError, RunLock

    try:
        places = [folder, *(p for p in folder.iterdir() if p.is_dir())]
    except OSError:
        return False
    for place in places:
        try:
            RunLock(place).check_free()
        except RunFolderBusyError:
            return True
        except OSError:
            continue
    return False


def _check_writable(folder: Path) -> None:
    """ValueError naming the cache folder and what to set where ``folder`` (the cache's ``synth``) cannot be made or
    written: a read-only cache failed deep in the render, naming a temporary folder as ``--out``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
        why = "not writable"
    except OSError as exc:
        writable, why = False, exc.strerror or str(exc)
    if not writable:
        raise ValueError(f"the cache folder {folder} cannot be written ({why}): train without --data renders its "
                         f"training hands there; set {CACHE_ENV} to a folder handpose may write in, or give --data")


def init_worker(worker_id: int, logs: LogSetup | None = None) -> None:
    """DataLoader ``worker_init_fn``: stop signals left to the main process, the run lock's inherited copy closed,
    the command's logging in a spawned worker (``logs``: :func:`handpose.worker_logging.current` of the parent)."""
    ignore_stop_signals_in_worker(worker_id)
    drop_inherited_locks()
    restore_logging(logs)


def train_loader(dataset: torch.utils.data.Dataset, cfg: TrainConfig, info: DistInfo, start_sample: int,
                 device: torch.device) -> torch.utils.data.DataLoader:
    """An endless loader of this rank's batches, starting at stream position ``start_sample`` (see training.sampler)."""
    sampler = StreamSampler(len(dataset), cfg.batch_size, cfg.seed, info.rank, info.world_size, start_sample)
    workers = max(0, int(cfg.workers))
    return torch.utils.data.DataLoader(
        EpochIndexed(dataset),
        batch_size=cfg.batch_size,
        sampler=sampler,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=functools.partial(init_worker, logs=current_logging()) if workers > 0 else None,
    )


def stop_workers(loader: torch.utils.data.DataLoader) -> None:
    """Shut down ``loader``'s persistent worker processes now (a no-op without workers).

    Workers ignore SIGTERM (:func:`~handpose.training.signals.ignore_stop_signals_in_worker`), so the exit of a
    process that still holds their loader waits for them for ever: multiprocessing's exit handler ends its child
    processes by SIGTERM and then joins them. A run that ends by an error keeps its trainer, and so the loader, alive
    in the error's traceback until the interpreter exits, so the workers are shut down by hand instead of when the
    last reference goes."""
    iterator = getattr(loader, "_iterator", None)  # the persistent workers' iterator (torch's DataLoader keeps it)
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
        loader._iterator = None  # a later pass over the loader starts new workers (the old one's queues are closed)
