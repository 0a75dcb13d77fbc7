"""InterHand2.6M: a tiny annotation set written here, whose 3D joints are known 2D points lifted through a known
camera, is read back to those 2D points in CMU order; invalid hands are skipped and counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_data_helpers import write_image

from handpose.data import skip_report as R
from handpose.data.formats import detect_format, load_splits

W, H = 160, 120
FOCAL, PRINCPT = np.array([300.0, 310.0]), np.array([81.0, 58.5])
ANGLE = np.deg2rad(25.0)
CAMROT = np.array([[np.cos(ANGLE), 0.0, -np.sin(ANGLE)], [0.0, 1.0, 0.0], [np.sin(ANGLE), 0.0, np.cos(ANGLE)]])
CAMPOS = np.array([100.0, -50.0, -800.0])  # mm


def lift(xy: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(N, 2) pixels at (N,) depths -> (N, 3) world points this camera sees there (the inverse of the projection)."""
    cam = np.concatenate([(xy - PRINCPT) / FOCAL * depth[:, None], depth[:, None]], axis=1)  # (N, 3)
    return cam @ CAMROT + CAMPOS  # camrot is a rotation: its inverse is its transpose


def hand_2d(cx: float, seed: int) -> np.ndarray:
    """(21, 2) pixels of one hand in InterHand order (tip first per finger, wrist last): the wrist lowest."""
    rng = np.random.default_rng(seed)
    xy = np.stack([cx + rng.uniform(-20, 20, 21), rng.uniform(30, 80, 21)], axis=1)
    xy[20] = (cx, 95.0)  # wrist
    return xy


def write_interhand(root: Path) -> dict[str, np.ndarray]:
    """annotations/all/InterHand2.6M_test_{data,camera,joint_3d}.json + images/test/Capture0/...: 3 images."""
    right, left = hand_2d(50, 1), hand_2d(110, 2)
    depth = np.linspace(700, 760, 42)
    world = lift(np.concatenate([right, left]), depth)  # (42, 3): right 0-20, left 21-41
    behind = world.copy()
    behind[21:] = 2 * CAMPOS - world[21:]  # the left hand mirrored through the camera centre: behind it
    joints = {"0": {"10": {"world_coord": world.tolist(), "joint_valid": [1] * 42, "hand_type": "interacting",
                           "hand_type_valid": True},
                    "20": world.tolist(),  # the first release: a bare 42 x 3 list
                    "30": {"world_coord": behind.tolist(), "joint_valid": [1] * 42}}}
    cameras = {"0": {"campos": {"400002": CAMPOS.tolist()}, "camrot": {"400002": CAMROT.tolist()},
                     "focal": {"400002": FOCAL.tolist()}, "princpt": {"400002": PRINCPT.tolist()}}}
    images, anns = [], []
    right_wrist_invalid = [1] * 20 + [0] + [1] * 21
    specs = [("10", "interacting", None), ("20", "interacting", right_wrist_invalid), ("30", "interacting", [1] * 42),
             ("10", "left", [1] * 42), ("10", "interacting", [1] * 42)]
    for i, (frame, hand_type, ann_valid) in enumerate(specs):
        name = f"Capture0/0000_neutral_relaxed/cam400002/image{i:05d}.jpg"
        if i < 4:
            write_image(root / "images" / "test" / name, None, W, H)
        images.append({"id": i, "file_name": name, "width": W, "height": H, "capture": 0, "subject": 0,
                       "seq_name": "0000_neutral_relaxed", "camera": "400002", "frame_idx": int(frame)})
        ann = {"id": i, "image_id": i, "bbox": [20.0, 20.0, 120.0, 90.0], "hand_type": hand_type,
               "hand_type_valid": 1}
        if ann_valid is not None:
            ann["joint_valid"] = ann_valid
        anns.append(ann)
    folder = root / "annotations" / "all"
    folder.mkdir(parents=True)
    (folder / "InterHand2.6M_test_data.json").write_text(json.dumps({"images": images, "annotations": anns}))
    (folder / "InterHand2.6M_test_camera.json").write_text(json.dumps(cameras))
    (folder / "InterHand2.6M_test_joint_3d.json").write_text(json.dumps(joints))
    (root / "annotations" / "human_annot").mkdir()  # another subset, not read when "all" is there
    return {"right": right, "left": left}


def cmu(interhand_xy: np.ndarray) -> np.ndarray:
    """InterHand order -> CMU order, written out by joint name rather than with the reader's table."""
    out = [interhand_xy[20]]  # wrist
    for finger in range(5):  # thumb .. pinky; InterHand stores tip (4j) .. base (4j + 3)
        out += [interhand_xy[4 * finger + 3 - k] for k in range(4)]  # base -> tip
    return np.array(out)


def test_interhand_projects_known_points(tmp_path: Path) -> None:
    truth = write_interhand(tmp_path / "InterHand2.6M")
    root = tmp_path / "InterHand2.6M"
    for path in (root, root / "annotations", root / "annotations" / "all",
                 root / "annotations" / "all" / "InterHand2.6M_test_data.json"):
        assert detect_format(path) == "interhand"
    splits = load_splits(root)
    assert splits.fmt == "interhand" and splits.train == []  # a test split: validation
    by_key = {s.key.split("/")[-1]: s for s in splits.val}
    assert sorted(by_key) == ["image00000.jpg#0.left", "image00000.jpg#0.right", "image00001.jpg#1.left",
                              "image00002.jpg#2.right", "image00003.jpg#3.left"]
    both_r, both_l = by_key["image00000.jpg#0.right"], by_key["image00000.jpg#0.left"]
    np.testing.assert_allclose(both_r.keypoints[:, :2], cmu(truth["right"]), atol=1e-3)
    np.testing.assert_allclose(both_l.keypoints[:, :2], cmu(truth["left"]), atol=1e-3)
    assert (both_r.keypoints[:, 2] == 1).all() and both_l.is_left and not both_r.is_left
    assert both_r.keypoints[0, 1] == np.float32(95.0)  # the wrist comes first
    np.testing.assert_allclose(both_r.box[:2], cmu(truth["right"]).min(axis=0), atol=1e-3)
    # image 1 (frame 20, joints as a bare list): the right wrist invalid -> the right hand is invalid; image 2: the
    # left hand is behind the camera; image 3: left only (frame 10); image 4: its image file is missing
    np.testing.assert_allclose(by_key["image00001.jpg#1.left"].keypoints[:, :2], cmu(truth["left"]), atol=1e-3)
    assert dict(splits.skipped.counts) == {R.INVALID_HAND: 2, R.MISSING_IMAGE: 1}
    assert "wrist not valid" in splits.skipped.summary()


def test_interhand_broken_files_are_counted(tmp_path: Path) -> None:
    write_interhand(tmp_path / "ih")
    folder = tmp_path / "ih" / "annotations" / "all"
    cams = json.loads((folder / "InterHand2.6M_test_camera.json").read_text())
    cams["0"]["focal"] = {}  # no focal length for the camera
    (folder / "InterHand2.6M_test_camera.json").write_text(json.dumps(cams))
    with pytest.raises(ValueError, match=r"no usable interhand sample(.|\n)*no camera '400002' of capture '0'"):
        load_splits(tmp_path / "ih")
    (folder / "InterHand2.6M_test_joint_3d.json").unlink()
    with pytest.raises(ValueError, match=r"missing json(.|\n)*3D joints InterHand2.6M_test_joint_3d.json"):
        load_splits(tmp_path / "ih")
