"""Hand boxes as users have them for the detector: COCO-WholeBody hands, files with other categories, ids spelled
as text, one file listed twice, json sizes that do not match the file, sides in other spellings, boxes written as
[x0, y0, x1, y1], images with more hands than the codec's slots, and options of the keypoint task."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from handpose.cli import main
from handpose.config import DetectorConfig
from handpose.data import skip_report as R
from handpose.data.skip_report import SkipReport
from handpose.detection.coco import read_detection_images
from handpose.detection.codec import BoxCodec


def _photos(folder: Path, *names: str, size: tuple[int, int] = (80, 60)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):  # each its own picture: files of identical bytes are one image
        cv2.imwrite(str(folder / name), np.full((size[1], size[0], 3), 90 + 10 * k, np.uint8))


def _write(folder: Path, doc: dict[str, Any], name: str = "hands.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def test_wholebody_hands_are_boxes_with_their_side_and_the_person_is_not_a_hand(tmp_path: Path) -> None:
    _photos(tmp_path, "p.jpg")
    person = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 80, 60], "keypoints": [0] * 51,
              "lefthand_valid": True, "lefthand_box": [5, 5, 10, 12], "lefthand_kpts": [0] * 63,
              "righthand_valid": False, "righthand_box": [0, 0, 0, 0], "righthand_kpts": [0] * 63}
    doc = {"images": [{"id": 1, "file_name": "p.jpg", "width": 80, "height": 60}], "annotations": [person],
           "categories": [{"id": 1, "name": "person"}]}
    report = SkipReport()
    (item,) = read_detection_images(_write(tmp_path, doc), report)
    assert item.boxes.tolist() == [[5, 5, 10, 12]] and item.is_left.tolist() == [True]
    assert item.left_known.tolist() == [True] and report.counts[R.INVALID_HAND] == 1


def test_only_hand_categories_count_and_a_file_naming_no_hand_is_left_out(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    _photos(tmp_path, "a.jpg")
    anns = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 70, 50]}, {"image_id": 1, "category_id": "2",
                                                                        "bbox": [5, 5, 10, 10]},
            {"image_id": 1, "bbox": [30, 30, 8, 8]},  # no category: taken for a hand
            {"image_id": 1, "category_id": 3, "bbox": [50, 5, 8, 8]}]
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": anns,
           "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "Hand"}, {"id": 3, "name": "handbag"}]}
    report = SkipReport()
    (item,) = read_detection_images(_write(tmp_path, doc), report)
    assert item.boxes.tolist() == [[5, 5, 10, 10], [30, 30, 8, 8]] and report.counts[R.NOT_A_HAND] == 2
    # hands by side, as Roboflow exports them: the project's category, then left and right
    doc["categories"] = [{"id": 0, "name": "hand-detection"}, {"id": 1, "name": "left"}, {"id": 2, "name": "right"}]
    doc["annotations"] = [{"image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10]},
                          {"image_id": 1, "category_id": 2, "bbox": [30, 30, 8, 8]}]
    (item,) = read_detection_images(_write(tmp_path, doc))
    assert item.is_left.tolist() == [True, False] and item.left_known.all()
    doc["categories"] = [{"id": 1, "name": "person"}, {"id": 2, "name": "face"}]
    with caplog.at_level(logging.WARNING, logger="handpose"), pytest.raises(ValueError, match="no usable image"):
        read_detection_images(_write(tmp_path, doc))
    assert any("left out: its categories ('person', 'face') name no hand" in r.getMessage() for r in caplog.records)


def test_ids_spelled_as_text_and_a_file_listed_twice_make_one_image(tmp_path: Path) -> None:
    _photos(tmp_path, "a.jpg", "b.jpg")
    doc = {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "a.jpg"}, {"id": "3",
                                                                                         "file_name": "b.jpg"},
                      {"id": "3", "file_name": "b.jpg"}],  # an entry copied: one image still
           "annotations": [{"image_id": "1", "bbox": [1, 1, 9, 9]}, {"image_id": 2, "bbox": [20, 20, 9, 9]},
                           {"image_id": 2, "bbox": [1, 1, 9, 9]},  # the first entry's hand again
                           {"image_id": 3, "bbox": [5, 5, 9, 9]}]}
    items = {im.path.name: im for im in read_detection_images(_write(tmp_path, doc))}
    assert sorted(items) == ["a.jpg", "b.jpg"]
    assert items["a.jpg"].boxes.tolist() == [[1, 1, 9, 9], [20, 20, 9, 9]]  # both entries' hands, the copy once
    assert items["b.jpg"].boxes.tolist() == [[5, 5, 9, 9]]


def test_an_image_not_the_size_its_json_says_is_left_out(tmp_path: Path) -> None:
    _photos(tmp_path, "a.jpg", "b.jpg", "c.jpg")
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 160, "height": 120},  # drawn on a larger copy
                      {"id": 2, "file_name": "b.jpg", "width": 60, "height": 80},  # turned by its EXIF tag
                      {"id": 3, "file_name": "c.jpg", "width": 80, "height": 60}],
           "annotations": [{"image_id": i, "bbox": [1, 1, 9, 9]} for i in (1, 2, 3)]}
    report = SkipReport()
    items = read_detection_images(_write(tmp_path, doc), report)
    assert sorted(im.path.name for im in items) == ["b.jpg", "c.jpg"]
    assert report.counts[R.WRONG_SIZE] == 1
    assert "the json says 160 x 120, the file is 80 x 60" in report.summary("annotations")


def test_sides_in_other_spellings_and_unreadable_ones_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _photos(tmp_path, "a.jpg")
    sides = [{"handedness": "Left"}, {"handedness": " R "}, {"is_left": "true"}, {"is_left": 0},
             {"handedness": "maybe"}, {}]
    anns = [{"image_id": 1, "bbox": [1 + 10 * i, 1, 8, 8], **side} for i, side in enumerate(sides)]
    with caplog.at_level(logging.WARNING, logger="handpose"):
        (item,) = read_detection_images(_write(tmp_path, {"images": [{"id": 1, "file_name": "a.jpg"}],
                                                          "annotations": anns}))
    assert item.is_left.tolist() == [True, False, True, False, False, False]
    assert item.left_known.tolist() == [True, True, True, True, False, False]
    assert any("1 hand gives a side that cannot be read (e.g. 'maybe')" in r.getMessage() for r in caplog.records)


def test_boxes_past_the_edge_are_said_and_no_hand_at_all_is_refused(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    _photos(tmp_path, "a.jpg")
    xyxy = [[10, 10, 70, 55], [30, 20, 75, 58], [40, 5, 79, 40]]  # [x0, y0, x1, y1] read as [x, y, w, h]
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}],
           "annotations": [{"image_id": 1, "bbox": b} for b in xyxy]}
    with caplog.at_level(logging.WARNING, logger="handpose"):
        read_detection_images(_write(tmp_path, doc))
    assert any("3 of 3 hand boxes run past the image's right or bottom edge; are they [x0, y0, x1, y1]?"
               in r.getMessage() for r in caplog.records)
    doc["annotations"] = []
    with pytest.raises(ValueError, match="1 image but not one hand box"):
        read_detection_images(_write(tmp_path, doc))
    _write(tmp_path, [{"image_id": 1, "bbox": [1, 1, 2, 2], "score": 0.9}], "coco_results.json")
    with pytest.raises(ValueError, match="coco_results.json is a list of detections"):
        read_detection_images(tmp_path / "coco_results.json")


def test_every_hand_has_its_peak_beyond_the_codecs_slots() -> None:
    codec = BoxCodec.from_config(DetectorConfig(input_size=320, max_hands=20))
    boxes = np.array([[8 + 60 * (i % 5), 8 + 60 * (i // 5), 16, 16] for i in range(25)], np.float64)  # (25, 4)
    target = codec.encode(boxes)
    assert int((target["heatmap"] == 1.0).sum()) == 25 and target["mask"].sum() == 20


def test_keypoint_options_are_refused_for_the_detector(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["-q", "train", "--task", "detect", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main([*args, "--sigma", "3", "--rotation", "20", "--format", "hand_labels"]) != 0
    err = capsys.readouterr().err
    assert "--format hand_labels, --sigma, --rotation: keypoint training only" in err
    assert not (tmp_path / "run").exists()


def test_unreadable_held_out_images_are_said_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    from handpose.config import TrainConfig
    from handpose.detection.task import DetectTask
    from handpose.detection.toy_scenes import write_toy_scenes

    scenes = write_toy_scenes(tmp_path / "scenes", 3, seed=2, width=96, height=64, max_hands=2)
    items = read_detection_images(scenes)
    items[0].path.write_bytes(items[0].path.read_bytes()[:40])  # cut short
    det = DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16, input_size=64)
    cfg = dataclasses.replace(TrainConfig(task="detect"), detector=det, batch_size=2)
    task = DetectTask()
    model = task.build_model(cfg)
    with caplog.at_level(logging.WARNING, logger="handpose"):
        for _ in range(2):
            metrics = task.validate(model, items, cfg, "cpu")
    said = [r.getMessage() for r in caplog.records
            if "held-out images (left out of every validation)" in r.getMessage()]
    assert len(said) == 1 and items[0].path.name in said[0] and metrics["num_images"] == 2


def test_a_folder_of_dataset_folders_points_at_its_jsons(tmp_path: Path) -> None:
    (tmp_path / "mixed" / "mine").mkdir(parents=True)
    (tmp_path / "mixed" / "mine" / "hands.json").write_text("{}")
    with pytest.raises(ValueError, match=r"the folders below hold some \(mine/hands.json\), but a folder of several "
                                         r"datasets is for the keypoint task"):
        read_detection_images(tmp_path / "mixed")


def test_a_json_of_crowd_regions_only_says_so(tmp_path: Path) -> None:
    """A json whose hands are all ``iscrowd`` was refused as holding "not one hand box", the crowds unsaid; and the
    skip summary ran on from that sentence ("... a detector on skipped 1 annotations") once made one line."""
    from handpose.cli import _one_line

    _photos(tmp_path, "a.jpg")
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}],
           "annotations": [{"image_id": 1, "bbox": [10, 10, 20, 20], "iscrowd": 1}]}
    with pytest.raises(ValueError, match=r"1 image but not one hand box .* \(1 iscrowd regions, which are not hands"):
        read_detection_images(_write(tmp_path, doc))
    _photos(tmp_path, "b.jpg")  # a.jpg left out for its unusable box, b.jpg without hands
    doc["images"].append({"id": 2, "file_name": "b.jpg", "width": 80, "height": 60})
    doc["annotations"] = [{"image_id": 1, "bbox": [10, 10, 0, 0]}]
    with pytest.raises(ValueError) as refused:
        read_detection_images(_write(tmp_path, doc))
    assert "a detector on; skipped" in _one_line(refused.value)
