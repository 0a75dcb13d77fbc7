"""Keypoint orders: a COCO json in RHD's tip-first order is remapped to CMU order, by name or by its file name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import write_coco

from handpose.data.formats import ORDERS, canonical_order, load_splits
from handpose.data.formats.keypoint_orders import INTERHAND_TO_CMU, to_cmu
from handpose.keypoints import NUM_KEYPOINTS, RHD_TO_CMU

# RHD: wrist, then per finger tip -> base (thumb tip at 1, thumb base at 4); CMU: per finger base -> tip
RHD_NAMES = ["wrist"] + [f"{f}{j}" for f in ("thumb", "index", "middle", "ring", "pinky") for j in (4, 3, 2, 1)]
CMU_NAMES = ["wrist"] + [f"{f}{j}" for f in ("thumb", "index", "middle", "ring", "pinky") for j in (1, 2, 3, 4)]
INTERHAND_NAMES = [f"{f}{j}" for f in ("thumb", "index", "middle", "ring", "pinky") for j in (4, 3, 2, 1)] + ["wrist"]


def test_orders_put_each_named_point_in_its_cmu_place() -> None:
    for order, names in (("rhd", RHD_NAMES), ("interhand", INTERHAND_NAMES), ("cmu", CMU_NAMES)):
        assert [names[i] for i in ORDERS[order]] == CMU_NAMES, order
    assert ORDERS["rhd"] == RHD_TO_CMU and sorted(INTERHAND_TO_CMU) == list(range(NUM_KEYPOINTS))
    assert canonical_order("OpenPose") == "cmu"
    with pytest.raises(ValueError, match="unknown keypoint order 'voc'; known orders: cmu, rhd, interhand"):
        canonical_order("voc")


def _rhd_copy(src: Path, dst: Path) -> None:
    """The same annotations with their keypoints stored in RHD order."""
    obj = json.loads(src.read_text())
    for ann in obj["annotations"]:
        cmu = np.asarray(ann["keypoints"]).reshape(NUM_KEYPOINTS, 3)
        rhd = np.empty_like(cmu)
        rhd[list(RHD_TO_CMU)] = cmu  # cmu[i] = rhd[RHD_TO_CMU[i]]
        ann["keypoints"] = rhd.reshape(-1).tolist()
    dst.write_text(json.dumps(obj))


def test_rhd_order_by_parameter_and_by_file_name(tmp_path: Path) -> None:
    cmu_json = write_coco(tmp_path / "a" / "hands_train.json", tmp_path / "a", 3)
    expected = {s.key: s.keypoints for s in load_splits(cmu_json, val_fraction=0.0).train}
    _rhd_copy(cmu_json, tmp_path / "a" / "tipfirst_train.json")
    _rhd_copy(cmu_json, tmp_path / "a" / "rhd_train.json")
    for jname, order in (("tipfirst_train.json", "rhd"), ("rhd_train.json", None)):
        got = load_splits(tmp_path / "a" / jname, val_fraction=0.0, keypoint_order=order).train
        assert len(got) == 3
        for s in got:
            np.testing.assert_array_equal(s.keypoints, expected[s.key])
    as_stored = load_splits(tmp_path / "a" / "rhd_train.json", val_fraction=0.0, keypoint_order="cmu").train
    assert not np.array_equal(as_stored[0].keypoints, expected[as_stored[0].key])  # naming cmu reads it as stored
    kp = np.arange(NUM_KEYPOINTS * 3, dtype=np.float32).reshape(NUM_KEYPOINTS, 3)
    assert to_cmu(kp, "cmu") is kp and to_cmu(kp, "rhd")[1, 0] == kp[4, 0]


def test_train_and_eval_take_the_same_order_names() -> None:
    # eval took CMU's aliases (mediapipe, openpose, ...), train refused them as an invalid choice
    from handpose.cli import build_parser
    from handpose.data.formats.keypoint_orders import ALIASES, ORDERS

    parser = build_parser()
    for name in [*ORDERS, *ALIASES]:
        assert parser.parse_args(["train", "--keypoint-order", name]).keypoint_order == name
        evaluated = parser.parse_args(["eval", "--weights", "w", "--data", "d", "--keypoint-order", name])
        assert evaluated.keypoint_order == name
