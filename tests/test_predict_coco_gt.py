"""`handpose predict --coco-gt GT.json`: coco_results.json takes each image's id from a COCO ground-truth json
(matched by the tail of its path), so pycocotools' ``COCO(GT).loadRes`` accepts it; without the flag ids are the
images' order."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.cli import main
from handpose.commands.coco_ids import ids_from_ground_truth
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model


def _ground_truth(path: Path, names: list[str], hand_id: int = 1) -> Path:
    images = [{"id": 500 + i, "file_name": name, "width": 80, "height": 60} for i, name in enumerate(names)]
    categories = [{"id": 1, "name": "person"}] * (hand_id != 1) + [{"id": hand_id, "name": "hand"}]
    path.write_text(json.dumps({"images": images, "annotations": [], "categories": categories}))
    return path


def test_ids_come_from_the_ground_truth_by_the_tail_of_the_path(tmp_path: Path) -> None:
    gt = _ground_truth(tmp_path / "gt.json", ["a/x.jpg", "b/x.jpg", "y.jpg"])
    assert ids_from_ground_truth(gt, [tmp_path / "data" / "b" / "x.jpg", tmp_path / "y.jpg",
                                      tmp_path / "a" / "x.jpg"]).ids == [501, 502, 500]
    with pytest.raises(ValueError, match=r"2 input image\(s\) match no single image there: .*x.jpg \(2 images of "
                                         r"that name\); .*z.jpg \(no image of that name\)"):
        ids_from_ground_truth(gt, [tmp_path / "c" / "x.jpg", tmp_path / "z.jpg"])
    with pytest.raises(ValueError, match=r"b/y.jpg \(the image .*y.jpg already took id 502\)"):
        ids_from_ground_truth(gt, [tmp_path / "a" / "y.jpg", tmp_path / "b" / "y.jpg"])  # both match y.jpg alone
    store = tmp_path / "store"
    store.mkdir()
    (store / "blob1").write_bytes(b"")
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "a" / "x.jpg").symlink_to(store / "blob1")  # a link is matched by its own name
    assert ids_from_ground_truth(gt, [tmp_path / "a" / "x.jpg"]).ids == [500]
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="not a COCO json with images"):
        ids_from_ground_truth(tmp_path / "bad.json", [tmp_path / "y.jpg"])


def test_ids_are_kept_as_the_file_has_them_and_the_results_take_its_hand_category(tmp_path: Path) -> None:
    doc = {"images": [{"id": "hands", "file_name": "a.jpg"}, {"id": 7.0, "file_name": "b.jpg"}], "annotations": [],
           "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "Hand"}]}
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    found = ids_from_ground_truth(tmp_path / "gt.json", [tmp_path / "a.jpg", tmp_path / "b.jpg"])
    assert found.ids == ["hands", 7] and found.category_id == 2
    doc["categories"] = [{"id": 1, "name": "person"}, {"id": 3, "name": "face"}]
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"its categories \('person', 'face'\) name no hand"):
        ids_from_ground_truth(tmp_path / "gt.json", [tmp_path / "a.jpg"])
    doc["categories"] = [{"id": 9, "name": "hands_and_more"}]
    doc["images"][0]["id"] = [1]
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="neither a number nor text"):
        ids_from_ground_truth(tmp_path / "gt.json", [tmp_path / "a.jpg"])


def test_predict_writes_the_ground_truths_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("p1.jpg", "p2.jpg"):
        cv2.imwrite(str(photos / name), np.full((60, 80, 3), 120, np.uint8))
    gt = _ground_truth(tmp_path / "gt.json", ["images/p2.jpg", "images/p1.jpg"], hand_id=2)  # person is 1
    out = tmp_path / "out"
    assert main(["predict", str(photos), "--model", str(weights), "--detector", "none", "--no-maps", "--out",
                 str(out), "--coco-gt", str(gt)]) == 0
    results = json.loads((out / "coco_results.json").read_text())
    images = json.loads((out / "coco_images.json").read_text())["images"]
    assert sorted(r["image_id"] for r in results) == [500, 501]
    assert {r["category_id"] for r in results} == {2}  # the ground truth's hand, not its person
    assert json.loads((out / "coco_images.json").read_text())["categories"][0]["id"] == 2
    assert {Path(im["file_name"]).name: im["id"] for im in images} == {"p1.jpg": 501, "p2.jpg": 500}
    (photos / "p3.jpg").write_bytes((photos / "p1.jpg").read_bytes())  # not in the ground truth: said at once
    assert main(["predict", str(photos), "--model", str(weights), "--out", str(tmp_path / "o2"), "--coco-gt",
                 str(gt)]) == 2
    assert "p3.jpg (no image of that name)" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_hands_by_side_take_the_category_of_their_side(tmp_path: Path) -> None:
    weights = tmp_path / "tiny.safetensors"
    save_weights(build_model("tiny"), weights)
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "p1.jpg"), np.full((60, 80, 3), 120, np.uint8))
    doc = {"images": [{"id": 500, "file_name": "p1.jpg"}], "annotations": [],
           "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "left_hand"}, {"id": 3, "name": "right_hand"}]}
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    found = ids_from_ground_truth(tmp_path / "gt.json", [photos / "p1.jpg"])
    assert found.by_side == {True: 2, False: 3} and (found.category_of(True), found.category_of(False)) == (2, 3)
    for side, category in (("--left", 2), ("--right", 3)):  # COCOeval matches within a category: a right hand
        out = tmp_path / side.strip("-")                     # under the left one would score as missed
        assert main(["predict", str(photos), "--model", str(weights), "--detector", "none", side, "--no-maps",
                     "--out", str(out), "--coco-gt", str(tmp_path / "gt.json")]) == 0
        assert [r["category_id"] for r in json.loads((out / "coco_results.json").read_text())] == [category]
        listed = json.loads((out / "coco_images.json").read_text())["categories"]
        assert [(c["id"], c["name"]) for c in listed] == [(2, "left hand"), (3, "right hand")]
    doc["categories"].append({"id": 4, "name": "hand"})  # a hand category of no side: every hand takes it
    (tmp_path / "gt.json").write_text(json.dumps(doc))
    found = ids_from_ground_truth(tmp_path / "gt.json", [photos / "p1.jpg"])
    assert found.by_side is None and found.category_of(True) == found.category_of(False) == 4
