"""An integer literal beyond float64's range (``1`` followed by 400 zeros) nested three lists deep: FreiHAND's whole
``_xyz.json`` is N x 21 x 3, so such a number in one joint ended the read with a raw OverflowError; InterHand's
``world_coord`` given one list too deep did the same. The annotation holding it is skipped and counted, the rest
read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_data_formats_freihand import write_part
from test_data_formats_interhand import write_interhand

from handpose.data import skip_report as R
from handpose.data.formats import load_splits
from handpose.data.formats.checks import to_float64

HUGE = "1" + "0" * 400  # a json integer no float holds


def test_a_huge_integer_in_one_freihand_joint_skips_that_annotation_alone(tmp_path: Path) -> None:
    write_part(tmp_path, "training", 4, 1)
    xyz_path = tmp_path / "training_xyz.json"
    text = json.dumps(json.loads(xyz_path.read_text()))
    first_number = text[3:].split(",")[0]  # annotation 0, joint 0, x
    xyz_path.write_text(text.replace(first_number, HUGE, 1))
    splits = load_splits(tmp_path, val_fraction=0.0)
    assert sorted(int(s.image_path.stem) for s in splits.train) == [1, 2, 3]
    assert dict(splits.skipped.counts) == {R.NON_FINITE: 1}
    assert f"{xyz_path}[0] (xyz of joint 0)" in splits.skipped.summary()


def test_a_huge_integer_in_interhand_joints_one_list_too_deep_is_a_malformed_annotation(tmp_path: Path) -> None:
    write_interhand(tmp_path)
    joints_path = tmp_path / "annotations" / "all" / "InterHand2.6M_test_joint_3d.json"
    joints = json.loads(joints_path.read_text())
    world = joints["0"]["10"]["world_coord"]
    joints["0"]["10"]["world_coord"] = [[[v] for v in joint] for joint in world]  # 42 x 3 x 1: one list too deep
    joints["0"]["10"]["world_coord"][0][0] = [-7]  # where the huge number goes
    joints_path.write_text(json.dumps(joints).replace("[-7]", f"[{HUGE}]", 1))
    splits = load_splits(tmp_path)
    assert splits.skipped.counts[R.BAD_ANNOTATION] == 3  # the three annotations of frame 10
    assert len(splits.val) == 2  # frame 30's right hand and frame 20's left hand
    assert "joints 'world_coord' is not numbers" in splits.skipped.summary()


def test_to_float64_refuses_a_deep_huge_integer_with_a_value_error() -> None:
    with pytest.raises(ValueError, match="beyond float64's range"):
        to_float64([[[int(HUGE)]]])
