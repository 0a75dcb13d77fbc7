"""Image files of identical bytes are one picture for the detector's data: CMU Panoptic's COCO json (MMPose's) gives
each hand of a frame its own copy of the frame (``*_l.jpg``, ``*_r.jpg``), one hand labelled on each. Read as two
images, each copy's other hand was background to training and a false positive to ``eval --task detect``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from handpose.detection.coco import read_detection_images
from handpose.detection.identical_files import HEAD, picture_keys


def test_copies_of_one_frame_are_one_image_with_both_hands(tmp_path: Path) -> None:
    frame = np.full((60, 80, 3), 90, np.uint8)
    cv2.imwrite(str(tmp_path / "f_l.jpg"), frame)
    shutil.copy(tmp_path / "f_l.jpg", tmp_path / "f_r.jpg")
    frame[:, :40] = 200  # another picture
    cv2.imwrite(str(tmp_path / "g.jpg"), frame)
    doc = {"images": [{"id": i, "file_name": n, "width": 80, "height": 60}
                      for i, n in enumerate(["f_l.jpg", "f_r.jpg", "g.jpg"])],
           "annotations": [{"image_id": 0, "bbox": [5, 5, 20, 20]}, {"image_id": 1, "bbox": [50, 30, 20, 20]},
                           {"image_id": 2, "bbox": [5, 5, 20, 20]}]}
    (tmp_path / "hands.json").write_text(json.dumps(doc))
    frame_image, other = read_detection_images(tmp_path / "hands.json")
    assert frame_image.path.name == "f_l.jpg" and frame_image.boxes.tolist() == [[5, 5, 20, 20], [50, 30, 20, 20]]
    assert other.path.name == "g.jpg" and other.num_hands == 1


def test_files_are_one_picture_only_when_every_byte_is_the_same(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "c.bin"
    a.write_bytes(b"12345")
    b.write_bytes(b"12345")
    c.write_bytes(b"12346")  # the same size, other bytes
    keys = picture_keys([a, b, c, tmp_path / "gone.bin", a])
    assert keys[0] == keys[1] == keys[4] and len(set(keys)) == 3
    head = bytes(range(256)) * (HEAD // 256)
    d, e = tmp_path / "d.bin", tmp_path / "e.bin"
    d.write_bytes(head + b"tail one")
    e.write_bytes(head + b"tail two")  # the same size and head: told apart by the whole file
    assert len(set(picture_keys([d, e]))) == 2


def test_mmposes_panoptic_json_reads_as_two_frames_of_two_hands(realdata: Path) -> None:
    items = read_detection_images(realdata / "coco_panoptic" / "test_panoptic.json")
    assert [im.num_hands for im in items] == [2, 2]
