"""Bad images inside a dataset: an item whose image cannot be read is replaced by another item, drawn from the
random state of the item asked for, so runs stay reproducible and no epoch stops on a bad file."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from handpose.data.images import ImageError

Item = TypeVar("Item")
MAX_REPLACEMENTS = 50  # tries to find a loadable image before giving up


def first_loadable(
    index: int,
    size: int,
    rng_of: Callable[[int, int], np.random.Generator],
    bad: set[int],
    load: Callable[[int, np.random.Generator], Item],
    record_bad: Callable[[int, ImageError], None],
    tries: int = MAX_REPLACEMENTS,
) -> Item | None:
    """``load(index, rng)``, or, while images fail (``record_bad`` is told of each), ``load(j, rng)`` for
    replacements ``j`` drawn from ``rng_of(index, attempt)``; indexes in ``bad`` are never read again. None when
    ``tries`` replacements all failed."""
    j = index
    for attempt in range(tries + 1):
        rng = rng_of(index, attempt)
        if attempt:
            j = int(rng.integers(size))  # a replacement for a bad image
        if j in bad:
            continue
        try:
            return load(j, rng)
        except ImageError as err:
            record_bad(j, err)
    return None
