"""The eval report's per-sample predictions: kept as one array, written item by item, the same bytes as before.

``handpose eval`` kept every sample's keypoints as Python lists (about 4 kB a sample) and made the whole report's
text in memory before writing it (three times that again): about 2 GB for FreiHAND's 130,000 hands.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import handpose.evaluate as evaluation
from handpose.eval_predictions import Predictions, write_report
from handpose.evaluate import run_evaluation
from handpose.files import json_text
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def some_predictions(n: int, seed: int = 0) -> Predictions:
    rng = np.random.default_rng(seed)
    keypoints = rng.uniform(0, 500, (n, 21, 3)).astype(np.float32)  # (N, 21, 3)
    keypoints[0, 3] = np.nan  # a keypoint without a figure is written as null
    return Predictions([f"hand_{i}.jpg" for i in range(n)], keypoints)


def lists_in(value: Any) -> int:
    """The list objects that ``value`` holds, however deep, through dicts, lists, tuples and handpose's objects."""
    count, seen, todo = 0, set(), [value]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        count += type(item) is list
        if isinstance(item, (dict, list, tuple)) or type(item).__module__.startswith("handpose"):
            todo.extend(gc.get_referents(item))
    return count


@pytest.mark.parametrize("report", [
    {"weights": "w.safetensors", "metrics": {"PCK@0.2": float("nan"), "curve": [0.1, 0.2]}, "predictions": None},
    {"only": 1, "predictions": None},
    {"predictions": None},  # no head to write before them
    {"predictions": None, "after": "the predictions not last"},
], ids=["report", "one-key-before", "predictions-alone", "not-last"])
def test_the_streamed_report_has_the_bytes_of_the_whole_text(tmp_path: Path, report: dict[str, Any]) -> None:
    """The file written sample by sample holds exactly what the whole text (the lists made at once) holds."""
    report = {k: (some_predictions(4) if k == "predictions" else v) for k, v in report.items()}
    write_report(tmp_path / "r.json", report)
    expected = json_text(report, indent=1) + "\n"
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == expected
    read = json.loads(expected)
    assert read["predictions"][0]["keypoints"][3] == [None, None, None]
    assert read["predictions"][1] == json.loads(json.dumps(some_predictions(4)[1]))


class BrokenAt(Predictions):
    """Predictions whose item ``bad`` cannot be made (as a write cut by an error half-way through the file)."""

    def __init__(self, n: int, bad: int) -> None:
        super().__init__([f"k{i}" for i in range(n)], np.zeros((n, 21, 3)))
        self.bad = bad

    def __getitem__(self, i: int) -> dict[str, Any]:
        if i == self.bad:
            raise RuntimeError(f"item {i} cannot be made")
        return super().__getitem__(i)


def test_a_write_that_fails_half_way_leaves_the_earlier_report(tmp_path: Path) -> None:
    path = tmp_path / "eval_report.json"
    write_report(path, {"weights": "w", "predictions": some_predictions(2)})
    earlier = path.read_bytes()
    with pytest.raises(RuntimeError, match="item 50 cannot be made"):
        write_report(path, {"weights": "w", "predictions": BrokenAt(100, bad=50)})
    assert path.read_bytes() == earlier and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_predictions_are_the_rounded_lists_and_compare_by_content() -> None:
    keypoints = np.array([[[1.23456, 2.0, 0.98765]] * 21], np.float32)  # (1, 21, 3)
    p = Predictions(["a"], keypoints)
    assert p[0] == {"key": "a", "keypoints": [[1.235, 2.0, 0.988]] * 21}
    assert p == Predictions(["a"], keypoints.copy()) and p != Predictions(["b"], keypoints)
    assert p == [p[0]] and len(p) == 1
    with pytest.raises(ValueError, match="one key per"):
        Predictions(["a", "b"], keypoints)


@pytest.mark.slow
def test_eval_report_is_neither_held_as_lists_nor_made_whole(tmp_path: Path) -> None:
    """``run_evaluation`` on 250 renders: the returned report holds a handful of lists, not 22 a sample, and the report
    file is written with far less memory than its size (the whole text, made at once, took more than its size)."""
    from handpose.synth import write_dataset

    write_dataset(tmp_path / "data", count=250, seed=1, size=64)
    torch.manual_seed(0)
    save_weights(build_model("tiny"), tmp_path / "tiny.safetensors")
    peaks: list[int] = []
    real_write = evaluation.write_report

    def traced_write(*args: Any, **kwargs: Any) -> Path:
        tracemalloc.start()
        try:
            return real_write(*args, **kwargs)
        finally:
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()

    evaluation.write_report = traced_write  # type: ignore[assignment]
    try:
        report = run_evaluation(tmp_path / "tiny.safetensors", tmp_path / "data", split="all", out=tmp_path / "ev")
    finally:
        evaluation.write_report = real_write  # type: ignore[assignment]
    assert report["metrics"]["num_samples"] == 250 and len(report["predictions"]) == 250
    assert lists_in(report) < 250  # the lists of 21 keypoints were 22 a sample
    size = (tmp_path / "ev" / evaluation.REPORT_NAME).stat().st_size
    # the whole text made at once would take the file's size and more; written sample by sample the
    # peak stays far under it (115 kB for this 271 kB file)
    assert len(peaks) == 1 and peaks[0] < size / 2, (peaks, size)
    saved = json.loads((tmp_path / "ev" / evaluation.REPORT_NAME).read_text())
    assert saved["predictions"] == json.loads(json_text(report["predictions"]))


def test_the_report_writes_each_figure_with_3_decimals_not_a_float32s_expansion(tmp_path: Path) -> None:
    """A float32 rounded to 3 decimals, 51.327, is 51.32699966430664 as a Python float; the report's text holds
    51.327 (as README.md, "Evaluate", says)."""
    keypoints = np.full((2, 21, 3), 51.3271, np.float32)  # (2, 21, 3)
    write_report(tmp_path / "r.json", {"weights": "w", "predictions": Predictions(["a", "b"], keypoints)})
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert text.count("51.327") == 2 * 21 * 3 and "51.3269" not in text


def test_a_slice_of_predictions_is_the_list_of_those_samples() -> None:
    """``report["predictions"][:2]``, as a list's slice: the first two samples each as its own dict, not one dict of
    the two samples' keys and keypoints."""
    keypoints = np.arange(3 * 21 * 3, dtype=np.float32).reshape(3, 21, 3) / 7  # (3, 21, 3), no NaN: compared by ==
    p = Predictions(["a.jpg", "b.jpg", "c.jpg"], keypoints)
    assert p[:2] == [p[0], p[1]] and p[::-2] == [p[2], p[0]] and p[5:] == []
    assert p[-1] == p[2] and p[-1]["key"] == "c.jpg"
