"""The Python API as a new user calls it: `Predictor.detect_hands` and `predict_batch` take images, boxes and sides
as `predict` does (a path, a BGR array, an RGB array with `color="rgb"` or a PIL image, all read as the same
picture), a hand in a given box draws and exports itself, and a GPU asked for on a machine without one is named."""

from __future__ import annotations

import json
from pathlib import Path

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
    with pytest.raises(ValueError, match="one side per image"):
        predictor.predict_batch(paths, boxes, is_left=True)
    with pytest.raises(ValueError, match="got one box"):
        predictor.predict_batch(paths[:2], boxes[0])


def test_a_hand_in_a_given_box_draws_saves_and_exports_itself(checked_in_hands: list, tmp_path: Path) -> None:
    # a Prediction (a box given) had none of the Hands result's plot, save and to_coco
    sample = checked_in_hands[0]
    predictor = Predictor.from_pretrained(detector=None)
    hand = predictor.predict(sample.image_path, box=tuple(float(v) for v in sample.box))
    image = cv2.imread(str(sample.image_path))
    drawn = hand.plot(sample.image_path)
    assert drawn.shape == image.shape and (drawn != image).any()
    assert cv2.imread(str(hand.save(tmp_path / "hand.png", image))).shape == image.shape
    assert json.loads(hand.save(tmp_path / "hand.json").read_text()) == hand.to_dict()  # the hand's own dict
    coco = hand.to_coco(7)
    assert coco["image_id"] == 7 and len(coco["keypoints"]) == 63 and coco["bbox"] == pytest.approx(
        [float(v) for v in hand.box], abs=0.01)


def test_inputs_and_options_a_user_gets_wrong_are_named_with_the_fix(checked_in_hands: list, tmp_path: Path) -> None:
    from PIL import Image

    sample = checked_in_hands[0]
    box = tuple(float(v) for v in sample.box)
    predictor = Predictor.from_pretrained(detector=None)
    bgr = cv2.imread(str(sample.image_path))
    with pytest.raises(ValueError, match="is_left must be True"):
        predictor.predict(bgr, box=box, is_left="right")  # a non-empty text used to read as a left hand
    assert predictor.predict(bgr, box=box, is_left=1).is_left is True
    with pytest.raises(ValueError, match=r"\(image \* 255\)"):
        predictor.predict(bgr.astype(np.float32) / 255, box=box)
    with pytest.raises(ValueError, match="channels first"):
        predictor.predict(np.ascontiguousarray(bgr.transpose(2, 0, 1)), box=box)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    as_grey = predictor.predict(grey, box=box).keypoints
    np.testing.assert_allclose(predictor.predict(grey[..., None], box=box).keypoints, as_grey)  # (H, W, 1)
    deep = (grey.astype(np.uint16) << 8) | 0x80  # 16 bits: the top byte is the 8-bit picture
    np.testing.assert_allclose(predictor.predict(deep, box=box).keypoints, as_grey)
    cv2.imwrite(str(tmp_path / "grey16.png"), deep)
    pil16 = Image.open(tmp_path / "grey16.png")  # mode I;16 or I: PIL's RGB conversion clips it white
    np.testing.assert_allclose(predictor.predict(pil16, box=box).keypoints, as_grey)
    with pytest.raises(ValueError, match="is a video"):
        predictor.predict(tmp_path / "clip.mp4")
    for bad, message in (({"box_padding": 0}, r"box_padding = 0.0: must be in \[0.5, 10\]"),
                         ({"detector_scales": (100,)}, r"numbers in \[1, 8\]"),
                         ({"detector_threshold": 2.0}, "threshold must lie in")):
        with pytest.raises(ValueError, match=message):
            Predictor.from_pretrained(**bad)


def test_a_pil_photo_is_turned_upright_as_its_path_is(checked_in_hands: list, tmp_path: Path) -> None:
    from PIL import Image

    sample = checked_in_hands[0]
    upright = Image.open(sample.image_path).convert("RGB")
    turned = upright.transpose(Image.Transpose.ROTATE_90)  # stored sideways, the tag says turn it back
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    turned.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    from handpose.inference.inputs import to_bgr

    from_path = to_bgr(tmp_path / "phone.jpg")  # OpenCV's decoder, turned upright
    from_pil = to_bgr(Image.open(tmp_path / "phone.jpg"))  # PIL's decoder (its own libjpeg), turned upright as well
    assert from_pil.shape == from_path.shape == np.asarray(upright).shape  # it was read sideways
    assert np.abs(from_pil.astype(np.int16) - from_path).mean() < 2.0  # the two libjpegs round a little apart


def test_results_compare_copy_and_pickle_as_python_objects(checked_in_hands: list, tmp_path: Path) -> None:
    import copy
    import pickle

    sample = checked_in_hands[0]
    predictor = Predictor.from_pretrained("lite-int8", detector="detector-onnx")  # onnxruntime sessions inside
    hands = predictor.predict(sample.image_path)
    assert hands and hands[0] in hands and hands.index(hands[0]) == 0  # used to raise: arrays compared with ==
    told = predictor.predict(sample.image_path, is_left=not hands[0].is_left)  # a side given: every hand's
    assert told and all(h.is_left == (not hands[0].is_left) for h in told)
    assert hands[0] != copy.deepcopy(hands[0])  # equal only to itself
    assert type(hands[:1]) is type(hands) and hands[:1].plot().shape == hands.image.shape  # a slice keeps the image
    assert (hands + hands[:1]).image is hands.image and hands.copy().image is hands.image
    again = pickle.loads(pickle.dumps(predictor))  # a copy opens its own sessions
    for a, b in zip(again.predict(sample.image_path), hands):
        np.testing.assert_allclose(a.keypoints, b.keypoints)
    with pytest.raises(ValueError, match="hand.save\\(path, image\\)"):
        hands[0].save(tmp_path / "hand.png")
    with pytest.raises(ValueError, match="ending in an image type"):
        hands.save(tmp_path / "overlay")


def test_the_module_lists_predictor_and_a_bare_shipped_name_points_to_pretrained() -> None:
    import handpose

    assert "Predictor" in dir(handpose)  # lazily imported, offered to tab completion
    with pytest.raises(FileNotFoundError, match="pretrained:lite"):
        handpose.predict("photo.jpg", model="lite")


def test_onnxruntime_threads_are_set_for_both_models() -> None:
    """`threads=` reaches the keypoint model's and the detector's onnxruntime sessions (a user pinning a process to
    one core could not set the detector's, which took every core)."""
    predictor = Predictor.from_pretrained("lite-int8", detector="detector-onnx", threads=1)
    assert predictor.backend.session.get_session_options().intra_op_num_threads == 1
    assert predictor.detector.model.session.get_session_options().intra_op_num_threads == 1
