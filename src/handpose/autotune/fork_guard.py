"""PyTorch in a process forked from one that had imported it: one thread, since more can wait forever.

PyTorch's Linux CPU wheels parallelise with GNU OpenMP, whose worker threads belong to the process that made them and
are not copied by ``fork``; the child's OpenMP still counts them, so its first parallel operator on more than one
thread waits for them forever. That is what a ``multiprocessing`` pool with the "fork" start method (Linux's default
before Python 3.14), or a pre-forking web server loading the model before it forks, meets: the shipped keypoint model
made in the parent (whether or not it had run there), then called in a forked child, hung on its first convolution;
on one thread the child ran and gave the parent's keypoints. onnxruntime's sessions (the int8 keypoint model, the
detector's export) ran in a forked child as they are.

So where this process was forked from one that had imported this module (with ``handpose.Predictor``, the
detector or the thread settings, all of which bring PyTorch), PyTorch's networks run on one thread
(:func:`torch_thread_cap`, applied by ``free_cores.sync_torch`` before every call; one warning says so). A worker
started with "spawn" or "forkserver" is a fresh process with every thread (unless the fork server itself was made to
import handpose, ``multiprocessing.set_forkserver_preload``), and several single-thread workers on as many cores are
what a worker pool wants anyway.
"""

from __future__ import annotations

import logging
import os

LOG = logging.getLogger(__name__)

_FORKED = False  # this process is a fork of one that had imported this module
_OPENMP: bool | None = None  # PyTorch parallelises with OpenMP (read once, when first needed)
_WARNED = False


def _after_fork_in_child() -> None:
    global _FORKED, _WARNED
    _FORKED, _WARNED = True, False


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def torch_uses_openmp() -> bool:
    """Whether PyTorch's intra-op threads are OpenMP's (``torch.__config__.parallel_info()``), whose threads do not
    survive a fork; PyTorch's own thread pool is remade in a forked child."""
    global _OPENMP
    if _OPENMP is None:
        import torch

        _OPENMP = "parallel backend: OpenMP" in torch.__config__.parallel_info()
    return _OPENMP


def torch_thread_cap() -> int | None:
    """The most threads PyTorch may run on in this process: 1 in a forked child where its threads are OpenMP's
    (module docstring), else None (no cap)."""
    if not _FORKED or not torch_uses_openmp():
        return None
    return 1


def cap_torch_threads() -> None:
    """Before a PyTorch call: in a forked child (:func:`torch_thread_cap`) set PyTorch's thread count to 1 where it
    is more, with one warning; elsewhere nothing."""
    global _WARNED
    cap = torch_thread_cap()
    if cap is None:
        return
    import torch

    if torch.get_num_threads() <= cap:
        return
    if not _WARNED:
        _WARNED = True
        LOG.warning("handpose: this process was forked from one that had imported PyTorch, whose OpenMP threads do not "
                    "survive a fork (a call on more than one thread would wait forever), so PyTorch runs on %d "
                    "thread here; start workers with the 'spawn' or 'forkserver' method of multiprocessing for "
                    "more", cap)
    torch.set_num_threads(cap)
