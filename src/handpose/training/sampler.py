"""The training data order: an endless, seeded stream of (epoch, index) pairs, sharded by rank and resumable.

Epoch ``e`` visits the dataset in the order ``permutation(seed, e)``; the epochs are concatenated into one stream
and every optimizer step consumes the next ``batch_size * world_size`` entries: rank ``r`` takes the ``r``-th
block of ``batch_size`` of them (a DistributedSampler's sharding without padding or dropped samples). The order
depends on nothing but (seed, dataset size, batch size, world size), so a resumed run starts the stream at
the number of samples already consumed and sees exactly the batches an uninterrupted run would have seen, and the true
epoch is simply samples seen / dataset size.

The sampler yields ``(epoch, index)`` pairs; :class:`EpochIndexed` wraps a dataset so that each item is built with
its own epoch's augmentation (``dataset.set_epoch(epoch)`` then ``dataset[index]``), inside DataLoader workers too
(persistent workers never see a ``set_epoch`` called in the main process, and a batch may straddle two epochs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def epoch_permutation(seed: int, epoch: int, size: int) -> np.ndarray:
    """The visiting order of epoch ``epoch``: a permutation of ``range(size)`` that depends only on (seed, epoch)."""
    return np.random.default_rng((int(seed), int(epoch), 0x5EED)).permutation(size)


class StreamSampler(torch.utils.data.Sampler):
    """Endless (epoch, index) pairs for one rank, starting at stream position ``start_sample`` (samples consumed).

    Use with ``DataLoader(EpochIndexed(dataset), batch_size=batch_size, sampler=...)``: each DataLoader batch is
    this rank's share of one optimizer step.
    """

    def __init__(self, size: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 start_sample: int = 0) -> None:
        if size < 1:
            raise ValueError("StreamSampler: the dataset is empty")
        if not 0 <= rank < world_size:
            raise ValueError(f"StreamSampler: rank {rank} outside world size {world_size}")
        self.size = int(size)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.start_sample = int(start_sample)

    @property
    def samples_per_step(self) -> int:
        """Samples consumed by one optimizer step over all ranks."""
        return self.batch_size * self.world_size

    def positions(self, step: int) -> range:
        """Stream positions of this rank's batch at the ``step``-th optimizer step after ``start_sample``."""
        start = self.start_sample + step * self.samples_per_step + self.rank * self.batch_size
        return range(start, start + self.batch_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        step = 0
        epoch, perm = -1, np.empty(0, dtype=np.int64)
        while True:
            for pos in self.positions(step):
                e, i = divmod(pos, self.size)
                if e != epoch:
                    epoch, perm = e, epoch_permutation(self.seed, e, self.size)
                yield (epoch, int(perm[i]))
            step += 1

    def __len__(self) -> int:  # DataLoader asks for it in some code paths; the stream is endless
        return 2**62


class EpochIndexed(torch.utils.data.Dataset):
    """``dataset`` indexed by (epoch, index) pairs: sets the item's epoch, then returns ``dataset[index]``."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        if getattr(self.dataset, "epoch", None) != epoch:
            self.dataset.set_epoch(epoch)
        return self.dataset[index]
