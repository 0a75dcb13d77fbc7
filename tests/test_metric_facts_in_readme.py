"""What README.md says about the numbers a researcher recomputes from an evaluation holds: the report's predictions
are rounded as it says, and a hand without a ``bbox`` is normalised by the box it says (that of MMPose's COCO file)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from handpose.data.crop import sample_box
from handpose.data.formats import load_splits
from handpose.eval_predictions import Predictions

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_readme_gives_the_rounding_of_the_reports_predictions() -> None:
    found = re.search(r"every prediction: its sample's key and 21 x, y, score rounded to (\d+) decimals",
                      _flat(README))
    assert found, "README's Evaluate section no longer says how eval_report.json's predictions are rounded"
    places = int(found.group(1))
    raw = np.full((1, 21, 3), 123.4567891, np.float32)
    written = Predictions(["a"], raw)[0]["keypoints"]  # as write_report writes it
    assert np.array_equal(written, np.full((21, 3), round(123.4567891, places)))  # the decimals, as written
    assert np.abs(np.asarray(written) - raw[0]).max() > 1e-4  # rounded, not kept whole


def test_a_hand_without_a_bbox_is_normalised_by_the_box_readme_gives(realdata: Path) -> None:
    """README: the visible keypoints' box with w = max x - min x + 1, as MMPose's COCO file of the CMU hands holds;
    the same 4 hands read from CMU's per-hand files and from that file get the same PCK normaliser."""
    assert "the box of the visible keypoints with w = max x - min x + 1" in _flat(README)
    cmu = {s.key.split("/")[-1]: s for s in load_splits(realdata / "hand_labels").val}
    coco = {s.key.split(".jpg#")[0]: s for s in load_splits(realdata / "coco_panoptic").val}
    assert sorted(cmu) == sorted(coco) and len(cmu) == 4
    for name, hand in cmu.items():
        kp = np.asarray(hand.keypoints, np.float64)
        visible = kp[kp[:, 2] > 0, :2]
        extent = visible.max(axis=0) - visible.min(axis=0) + 1.0  # (2,) w, h by README's rule
        assert np.allclose(sample_box(hand)[2:], extent, atol=1e-3), name
        assert np.allclose(sample_box(hand), sample_box(coco[name]), atol=1e-3), name  # MMPose's bbox
