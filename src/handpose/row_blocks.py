"""A column of numbers that grows a few rows at a time and is read back whole once: rows are copied into numpy blocks
of a fixed length, so growing never copies what is held (a doubling array would hold up to three times its rows for
a moment), and a piece appended costs no Python object of its own (a list of small arrays costs about 100 bytes a
piece beside its numbers).
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 1 << 16


class RowBlocks:
    """Rows of ``dtype``, each a scalar (``width`` None) or ``width`` values, in blocks of ``block_rows`` (default
    ``BLOCK_ROWS``)."""

    def __init__(self, dtype: type | np.dtype, width: int | None = None, block_rows: int | None = None) -> None:
        block_rows = BLOCK_ROWS if block_rows is None else block_rows
        if block_rows < 1:
            raise ValueError(f"RowBlocks: block_rows must be at least 1, got {block_rows}")
        self.dtype, self.row_shape, self.block_rows = np.dtype(dtype), (() if width is None else (width,)), block_rows
        self.blocks: list[np.ndarray] = []  # each (block_rows, *row_shape); the last filled up to ``filled``
        self.filled = 0
        self.rows = 0

    def __len__(self) -> int:
        return self.rows

    def append(self, rows: np.ndarray) -> None:
        """Add ``rows`` ((n,) or (n, width) as the column is made; cast to its dtype)."""
        rows = np.asarray(rows, self.dtype)  # (n, *row_shape)
        if rows.shape[1:] != self.row_shape or rows.ndim == 0:
            raise ValueError(f"RowBlocks: rows of shape {self.row_shape} expected, got an array of {rows.shape}")
        start = 0
        while start < len(rows):
            if not self.blocks or self.filled == self.block_rows:
                self.blocks.append(np.empty((self.block_rows, *self.row_shape), self.dtype))
                self.filled = 0
            n = min(len(rows) - start, self.block_rows - self.filled)
            self.blocks[-1][self.filled : self.filled + n] = rows[start : start + n]
            self.filled += n
            start += n
        self.rows += len(rows)

    def array(self) -> np.ndarray:
        """Every row so far, in order, as one new array (rows, *row_shape)."""
        if not self.blocks:
            return np.empty((0, *self.row_shape), self.dtype)
        return np.concatenate([*self.blocks[:-1], self.blocks[-1][: self.filled]])
