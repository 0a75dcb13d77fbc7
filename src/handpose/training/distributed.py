"""Distributed training set-up for ``torchrun``: ranks from the environment, one process group, small collectives.

``torchrun --nproc_per_node=N -m handpose train ...`` (or ``--nnodes=M --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT``
for several nodes) starts one process per device and sets RANK, LOCAL_RANK and WORLD_SIZE; :func:`init_distributed`
reads them and joins the process group (NCCL on CUDA, gloo on the CPU). Without those variables everything here
is a no-op for a single process.
"""

from __future__ import annotations

import datetime
import gc
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: rank among world_size processes, local_rank on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs, validates and writes files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_info() -> DistInfo:
    """Rank, world size and local rank from torchrun's environment variables (a single process without them)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return DistInfo(rank, world, local)


def resolve_device(requested: str, info: DistInfo) -> torch.device:
    """``auto``: this process's GPU (cuda:local_rank) when CUDA is available, else the CPU; ValueError for a device
    this machine does not have (``config_checks.check_device``: ``xpu`` on a torch without it raised torch's
    AssertionError once the model moved there), and for one GPU named (``cuda:N``) to several torchrun processes
    of a node that see several: every one of them would take that GPU, which NCCL refuses ("Duplicate GPU
    detected") once the run has started."""
    from handpose.config_checks import check_device

    device = torch.device(check_device(requested))
    if device.type == "cuda":
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
        if device.index is None:
            device = torch.device("cuda", info.local_rank % torch.cuda.device_count())
        elif info.enabled and local_world > 1 and torch.cuda.device_count() > 1:
            raise ValueError(f"--device {requested}: under torchrun the {local_world} processes of this node would "
                             f"all train on that one GPU; give --device cuda (or auto): process N takes cuda:N")
        torch.cuda.set_device(device)
    return device


def init_distributed(device: torch.device, info: DistInfo | None = None, timeout_min: float = 30.0) -> DistInfo:
    """Join the process group when launched by torchrun with WORLD_SIZE > 1; returns this process's DistInfo."""
    info = info or env_info()
    if not info.enabled or dist.is_initialized():
        return info
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=timeout_min),
                            **({"device_id": device} if device.type == "cuda" else {}))
    LOG.info("joined process group: rank %d of %d (local rank %d, %s)", info.rank, info.world_size, info.local_rank,
             backend)
    return info


def shutdown(wait_for_peers: bool = False, timeout_s: float = 120.0) -> None:
    """Leave the process group (if one was joined).

    ``wait_for_peers`` (every rank finished normally): a barrier first, so that no rank closes its connections while
    another is still writing its files or in a collective; it gives up after ``timeout_s`` with a warning (a peer
    that failed must not keep this one waiting). Wrappers that still reference the group (DDP and its reducer sit
    in reference cycles) are collected before the group is destroyed, so that the backend's threads stop now and
    not during interpreter exit, where gloo can abort the process.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if wait_for_peers:
        try:
            work = dist.barrier(async_op=True)
            if work is not None:
                work.wait(timeout=datetime.timedelta(seconds=timeout_s))
        except RuntimeError as err:
            LOG.warning("leaving the process group without the other ranks (barrier failed: %s)", err)
    gc.collect()
    dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def any_true(flags: torch.Tensor) -> torch.Tensor:
    """Element-wise OR of a small flag tensor over all ranks (the tensor itself without a process group)."""
    if dist.is_available() and dist.is_initialized():
        flags = flags.clone()
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return flags


def gather_objects(obj: object) -> list[object]:
    """Every rank's ``obj``, in rank order (``[obj]`` for one process)."""
    if dist.is_available() and dist.is_initialized():
        out: list[object] = [None] * dist.get_world_size()
        dist.all_gather_object(out, obj)
        return out
    return [obj]
