"""An evaluation's per-sample predictions, kept as one array until the report is written, and the report's writer.

A hundred thousand samples' keypoints as Python lists (``[[x, y, score] x 21]`` each) took about 4 kB a sample, and
their report text, made whole before it was written, three times that again; as one float32 array they take 252
bytes a sample, and :func:`write_report` makes each sample's lists and text only as it writes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from handpose.files import json_text, write_json, write_json_list_last


class Predictions(Sequence):
    """Per sample: ``{"key": key, "keypoints": [[x, y, score] x 21]}`` (x and y in original-image pixels, each
    figure rounded to 3 decimals), made when asked for; compares equal to another with the same keys and figures."""

    def __init__(self, keys: Sequence[str], keypoints: np.ndarray) -> None:
        keypoints = np.asarray(keypoints, np.float32)
        if keypoints.ndim != 3 or keypoints.shape[2] != 3 or len(keys) != len(keypoints):
            raise ValueError(f"predictions: {len(keys)} keys and keypoints of shape {keypoints.shape}; "
                             "one key per (21, 3) row of x, y, score was expected")
        self.keys = list(keys)
        self.keypoints = keypoints.round(3)  # (N, 21, 3) float32, as the report writes them

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):  # as a list's slice: each sample its own dict
            return [self[j] for j in range(len(self))[i]]
        # float32 51.327 is 51.32699966430664 as a Python float: the 3 decimals are written from float64
        return {"key": self.keys[i], "keypoints": self.keypoints[i].astype(np.float64).round(3).tolist()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Predictions):
            return self.keys == other.keys and np.array_equal(self.keypoints, other.keypoints)
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content

    def __repr__(self) -> str:
        return f"Predictions({len(self)} samples)"


def write_report(path: str | Path, report: dict[str, Any]) -> Path:
    """``report`` as ``files.write_json`` writes it (one space an indent level), atomically, its ``predictions`` (the
    last key) written sample by sample: the same bytes, never all of them in memory at once."""
    predictions = report.get("predictions")
    if not predictions or len(report) < 2 or list(report)[-1] != "predictions":  # nothing to stream, or no head
        return write_json(path, report)
    return write_json_list_last(path, report, "predictions",
                                lambda p: json_text(p, indent=1).replace("\n", "\n  "))  # at the list's depth, 2
