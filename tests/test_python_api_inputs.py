"""The Python API as a new user calls it: `Predictor.detect_hands` and `predict_batch` take images, boxes and sides
as `predict` does (a path, a BGR array, an RGB array with `color="rgb"` or a PIL image, all read as the same
picture), a hand in a given box draws and exports itself, and a GPU asked for on a machine without one is named."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from handpose import Predictor


def test_detect_hands_reads_every_kind_of_image_alike(checked_in_hands: list) -> None:
    path = checked_in_hands[0].image_path
    bgr = cv2.imread(str(path))
    predictor = Predictor.from_pretrained()
    expected = predictor.detect_hands(bgr)
    assert expected, "the shipped detector finds the rendered hand"
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    for image, color in ((path, "bgr"), (str(path), "bgr"), (rgb, "rgb"), (Image.fromarray(rgb), "bgr")):
        found = predictor.detect_hands(image, color=color)
        assert len(found) == len(expected)
        for a, b in zip(found, expected):
            np.testing.assert_allclose(a.box, b.box, atol=1e-4)
            assert a.score == pytest.approx(b.score, abs=1e-5)
    swapped = predictor.detect_hands(rgb)  # an RGB array read as BGR is another picture: the option matters
    assert [d.score for d in swapped] != [d.score for d in expected]
    with pytest.raises(ValueError, match="color must be one of"):
        predictor.detect_hands(bgr, color="hsv")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_python_api_names_a_gpu_this_machine_lacks() -> None:
    # torch's own "AssertionError: Torch not compiled with CUDA enabled" reached the user before
    from handpose import pretrained
    from handpose.detection.detector import HandDetector

    with pytest.raises(ValueError, match=r"device='cuda': CUDA is not available on this machine; use cpu"):
        Predictor.from_file(pretrained.resolve("pretrained:lite"), device="cuda")
    with pytest.raises(ValueError, match=r"device='cuda:1': CUDA is not available"):
        HandDetector.from_file(pretrained.resolve("pretrained:detector"), device="cuda:1")


def test_predict_batch_is_predict_for_several_hands(checked_in_hands: list) -> None:
    # it read every hand as a right hand, truncated to the shorter of images and boxes, and took BGR arrays only
    predictor = Predictor.from_pretrained(detector=None)
    hands = [s for s in checked_in_hands if s.is_left][:2] + [s for s in checked_in_hands if not s.is_left][:1]
    paths = [s.image_path for s in hands]
    boxes = [tuple(float(v) for v in s.box) for s in hands]
    one_by_one = [predictor.predict(p, box=b) for p, b in zip(paths, boxes)]
    corners = [(x, y, x + w, y + h) for x, y, w, h in boxes]
    batch = predictor.predict_batch(paths, corners, box_format="xyxy")
    assert [h.is_left for h in batch] == [h.is_left for h in one_by_one]
    for a, b in zip(batch, one_by_one):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    told = predictor.predict_batch(paths, boxes, is_left=[True, True, False])  # sides given: taken as given
    assert [h.is_left for h in told] == [True, True, False]
    with pytest.raises(ValueError, match="2 boxes for 3 images"):
        predictor.predict_batch(paths, boxes[:2])


def test_a_hand_in_a_given_box_draws_saves_and_exports_itself(checked_in_hands: list, tmp_path) -> None:
    # a Prediction (a box given) had none of the Hands result's plot, save and to_coco
    sample = checked_in_hands[0]
    predictor = Predictor.from_pretrained(detector=None)
    hand = predictor.predict(sample.image_path, box=tuple(float(v) for v in sample.box))
    image = cv2.imread(str(sample.image_path))
    drawn = hand.plot(sample.image_path)
    assert drawn.shape == image.shape and (drawn != image).any()
    assert cv2.imread(str(hand.save(tmp_path / "hand.png", image))).shape == image.shape
    assert json.loads(hand.save(tmp_path / "hand.json").read_text())["hands"][0]["box"] == pytest.approx(
        [float(v) for v in hand.box])
    coco = hand.to_coco(7)
    assert coco["image_id"] == 7 and len(coco["keypoints"]) == 63 and coco["bbox"] == pytest.approx(
        [float(v) for v in hand.box], abs=0.01)
