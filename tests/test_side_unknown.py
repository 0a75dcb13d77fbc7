"""Hands whose side nobody gives (a COCO file without ``is_left``, a box without ``--left`` / ``--right``): the crop's
mirror is exact, the COCO reader marks the side unknown, and prediction and evaluation let the shipped keypoint
model (trained with left hands mirrored) choose it, checked on the checked-in renders."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data.crop import sample_box
from handpose.data.formats import load_splits
from handpose.evaluate import evaluate
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec


@pytest.fixture(scope="module")
def hands(checked_in_hands: list) -> list:
    return checked_in_hands


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_pretrained(detector=None)


@pytest.mark.parametrize("box", [(100.0, 50.0, 80.0, 120.0), None])
@pytest.mark.parametrize("scales", [(1.0,), (1.0, 0.75)])
def test_mirrored_crop_is_the_left_hand_crop(box: tuple | None, scales: tuple) -> None:
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur((rng.random((300, 400, 3)) * 255).astype(np.uint8), (0, 0), 3)
    spec = CropSpec(128, 8, 1.3, True, scales)
    right, left = spec.prepare(image, box, False), spec.prepare(image, box, True)
    mirrored = right.mirrored()
    for m, lf, r in zip(mirrored.matrices, left.matrices, right.matrices):
        np.testing.assert_allclose(m, lf, atol=1e-9)
        assert not np.allclose(m, r)  # a left hand's crop differs from a right one's, the whole image's too
    for m, lf in zip(mirrored.crops, left.crops):  # the same samples; bilinear weights may round 1 apart
        assert np.abs(m.astype(int) - lf).max() <= 1 and np.mean(m == lf) > 0.95


def _coco_of(samples: list, with_side: bool, folder: Path) -> Path:
    images, annotations = [], []
    for i, s in enumerate(samples):
        h, w = cv2.imread(str(s.image_path)).shape[:2]
        images.append({"id": i, "file_name": str(s.image_path), "width": w, "height": h})
        ann = {"id": i, "image_id": i, "category_id": 1, "bbox": [float(v) for v in sample_box(s)],
               "keypoints": np.asarray(s.keypoints, float).reshape(-1).tolist()}
        if with_side:
            ann["is_left"] = bool(s.is_left)
        annotations.append(ann)
    path = folder / ("sided.json" if with_side else "unsided.json")
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "hand"}]}))
    return path


def test_coco_without_is_left_is_evaluated_with_the_side_the_network_chooses(hands: list, predictor: Predictor,
                                                                              tmp_path: Path) -> None:
    assert sum(s.is_left for s in hands) >= 8 and sum(not s.is_left for s in hands) >= 8
    sided = load_splits(_coco_of(hands, True, tmp_path))
    unsided = load_splits(_coco_of(hands, False, tmp_path))
    sided, unsided = sided.train + sided.val, unsided.train + unsided.val
    assert len(unsided) == len(hands) and all(s.side_known for s in sided)
    assert not any(s.side_known or s.is_left for s in unsided)

    with_side = evaluate(predictor, sided, keep_predictions=True)
    chosen = evaluate(predictor, unsided, keep_predictions=True)
    as_right = evaluate(predictor, [replace(s, side_known=True) for s in unsided])  # what was done before
    assert with_side["side_chosen"] == 0 and chosen["side_chosen"] == len(hands)
    # the network takes most left hands for left: more than the 0 of reading every hand as right
    lefts = sum(s.is_left for s in hands)
    assert lefts / 2 < chosen["side_chosen_left"] < len(hands)
    assert chosen["PCK@0.2"] > as_right["PCK@0.2"] + 0.05
    assert chosen["PCK@0.2"] <= with_side["PCK@0.2"] + 0.02  # knowing the side is at least as good

    # each hand's keypoints are those of Predictor.predict with no side given, which reports the side it chose
    by_key = {p["key"]: np.asarray(p["keypoints"]) for p in chosen["predictions"]}
    for s in unsided[:6]:
        img = cv2.imread(str(s.image_path))
        hand = predictor.predict(img, box=sample_box(s))
        as_given = [predictor.predict(img, box=sample_box(s), is_left=side) for side in (False, True)]
        best = max(as_given, key=lambda p: float(p.scores.mean()))
        assert hand.is_left == (best is as_given[1])
        # the mirror is the flipped crop, not a second warp: bilinear rounding moves keypoints by a fraction of a px
        np.testing.assert_allclose(hand.keypoints, best.keypoints, atol=0.5)
        # evaluation reads the file as training does (a large JPEG decoded reduced), then chooses the same way
        read = predictor.predict_either_side([predictor.spec.prepare_file(s.image_path, sample_box(s), False)])[0]
        np.testing.assert_allclose(by_key[s.key][:, :2], read.keypoints, atol=2e-3)


def test_a_given_side_is_kept_and_the_whole_image_is_mirrored_for_a_left_hand(hands: list,
                                                                              predictor: Predictor) -> None:
    s = next(h for h in hands if h.is_left)
    img = cv2.imread(str(s.image_path))
    for side in (False, True):
        assert predictor.predict(img, box=sample_box(s), is_left=side).is_left is side
    whole_left = predictor.find_hands(img, is_left=True)[0]
    whole_mirrored = predictor.find_hands(cv2.flip(img, 1), is_left=False)[0]
    assert whole_left.is_left
    # the same network input (the image mirrored): the keypoints mirror back onto the original image
    mirrored_back = whole_mirrored.keypoints.copy()
    mirrored_back[:, 0] = img.shape[1] - 1 - mirrored_back[:, 0]
    np.testing.assert_allclose(whole_left.keypoints, mirrored_back, atol=0.05)


def test_predict_command_side_flags(hands: list, predictor: Predictor, tmp_path: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    from handpose.cli import main

    s = next(h for h in hands if h.is_left)
    box = ",".join(f"{v:g}" for v in sample_box(s))
    img = cv2.imread(str(s.image_path))
    chosen = predictor.predict(img, box=sample_box(s)).is_left
    for flags, want in (([], chosen), (["--right"], False), (["--left"], True)):
        out = tmp_path / f"out{len(flags)}{want}"
        args = ["predict", str(s.image_path), "--box", box, "--out", str(out), "--maps", "none", *flags]
        assert main(args) == 0
        (hand,) = json.loads((out / f"{s.image_path.stem}.json").read_text())["hands"]
        assert hand["is_left"] is want
    with pytest.raises(SystemExit):
        main(["predict", str(s.image_path), "--box", box, "--left", "--right"])
    assert "not allowed with argument" in capsys.readouterr().err
