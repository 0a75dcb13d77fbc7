"""scripts/onnx_keypoints.py, the exported model run with onnxruntime, numpy and OpenCV alone, reads the same
keypoints as handpose from the same box: the recipe the README gives for deployment is complete."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from repo_scripts import load_script

from handpose import pretrained
from handpose.inference.predictor import Predictor

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "onnx_keypoints.py"


@pytest.fixture(scope="module")
def lite_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pretrained:lite exported now, with the metadata this handpose writes (the shipped int8 file's is older)."""
    from handpose.export import export_onnx
    from handpose.model.artifact import load_model, read_data_config

    weights, path = pretrained.path("lite"), tmp_path_factory.mktemp("lite") / "lite.onnx"
    model = load_model(weights)
    export_onnx(model, path, read_data_config(weights, model.config))  # its padding and mirror_left, as export's
    return path




def test_the_standalone_recipe_reads_what_handpose_reads(checked_in_hands: list) -> None:
    standalone = load_script("onnx_keypoints")
    assert "handpose" not in standalone.__dict__ and "torch" not in standalone.__dict__
    model = pretrained.path("lite-int8")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    predictor = Predictor.from_file(model)
    checked = 0
    for sample, zoom in zip([s for s in checked_in_hands if s.is_left][:2] + [s for s in checked_in_hands
                                                                          if not s.is_left][:2], (1, 3, 1, 5)):
        image = cv2.imread(str(sample.image_path))
        image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)  # large hands: averaged
        box = np.asarray(sample.box, np.float64) * zoom
        xy, scores = standalone.keypoints(session, image, box, bool(sample.is_left))
        ours = predictor.predict(image, box=box, is_left=bool(sample.is_left))
        np.testing.assert_allclose(xy, ours.keypoints, atol=0.02)
        np.testing.assert_allclose(scores, ours.scores, atol=1e-5)
        checked += 1
    assert checked == 4


def test_the_script_refuses_a_bad_box_in_one_line(tmp_path: Path) -> None:
    import subprocess

    for box in ("10,10,50", "10,10,0,0", "a,b,c,d"):
        run = subprocess.run([sys.executable, str(SCRIPT), "m.onnx", "i.jpg", box], capture_output=True, text=True,
                             cwd=tmp_path)
        assert run.returncode == 2 and "Traceback" not in run.stderr and "give x,y,w,h" in run.stderr


def test_the_standalone_decoder_is_handposes_at_map_edges_and_below_zero() -> None:
    # where the parabola through an edge cell and its two inner neighbours has no maximum, the script read the
    # middle of those three cells, half a cell inward (14 px on a hand of 350 px); handpose keeps the argmax cell.
    # Maps dip below zero away from the peaks, where the log's floor (1e-6 there, 1e-10 in handpose) moved vertices.
    from handpose.data.codec import decode

    standalone = load_script("onnx_keypoints")
    rng = np.random.default_rng(0)
    maps = rng.uniform(-0.2, 0.3, (40, 22, 16, 16)).astype(np.float32)  # (N, 22, h, w)
    for i, m in enumerate(maps):
        k, y = i % 21, rng.integers(0, 16)
        m[k, y, -3:] = (0.3, 0.5, 0.9)  # a peak at the right edge whose log parabola curves upwards
        m[k, y - 1 if y else y + 1, -1] = 0.6
        m[(k + 1) % 21, rng.integers(0, 16), 0] = 0.95  # at the left edge
        m[(k + 1) % 21, :, 1] = rng.uniform(-0.1, 0.01, 16)  # its inner neighbours below zero or nearly
    for m in maps:
        xy, scores = standalone.decode(m, 8)
        ours, our_scores = decode(m[None], 8)
        np.testing.assert_allclose(xy, ours[0], atol=1e-4)
        np.testing.assert_allclose(scores, our_scores[0])


def test_the_whole_image_crop_is_in_the_metadata_and_reads_what_handpose_reads(lite_onnx: Path) -> None:
    # with no box (predict --detector none) handpose centres the square on ((W - 1) / 2, (H - 1) / 2) with side
    # max(W, H) and no padding; neither the file nor the README said so, and the box (0, 0, W, H) at box_padding, the
    # natural guess, read keypoints hundreds of pixels away on real photos
    standalone = load_script("onnx_keypoints")
    path = lite_onnx
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    crop, size, stride = meta["crop"], int(meta["input_size"]), int(meta["stride"])
    assert "((W - 1) / 2, (H - 1) / 2) and side max(W, H)" in crop and "box -0.5, -0.5, W, H at padding 1" in crop
    predictor = Predictor.from_file(path)
    hands = Path(__file__).resolve().parent / "data" / "pretrained_check" / "hands" / "synth1"
    image = cv2.imread(str(sorted(hands.glob("*.jpg"))[0]))[20:, 40:]  # (H, W, 3), W != H
    for im in (image, cv2.resize(image, None, fx=3, fy=2, interpolation=cv2.INTER_CUBIC)):  # large: averaged blocks
        h, w = im.shape[:2]
        (ours,) = predictor.predict(im, is_left=False)  # no box, no detector: the whole image is the hand
        M = standalone.crop_matrix(np.array([-0.5, -0.5, w, h]), size, 1.0, False)  # the whole image's square
        cut = standalone.cut(im, M, size, 128.0)
        x = (cut.astype(np.float32) / 256 - 0.5).transpose(2, 0, 1)[None]  # (1, 3, S, S)
        xy, scores = standalone.decode(session.run(["out"], {"image": x})[0][0], stride)
        inv = cv2.invertAffineTransform(M)
        np.testing.assert_allclose(xy @ inv[:, :2].T + inv[:, 2], ours.keypoints, atol=0.02)
        np.testing.assert_allclose(scores, ours.scores, atol=1e-5)


def test_the_side_rule_is_in_the_metadata_and_picks_handposes_side(lite_onnx: Path, checked_in_hands: list) -> None:
    # with no side given handpose runs the crop both ways and keeps the higher mean score (right on a tie); the file
    # said nothing of it, so a runtime without handpose had no way to say which hand it saw
    standalone = load_script("onnx_keypoints")
    session = ort.InferenceSession(str(lite_onnx), providers=["CPUExecutionProvider"])
    rule = session.get_modelmeta().custom_metadata_map["side"]
    assert "mirrored (a left hand)" in rule and "mean score over the 21 keypoints" in rule and "right on a tie" in rule
    predictor = Predictor.from_file(lite_onnx)
    sides = []
    for sample, mirror in [(s, m) for s in checked_in_hands[:4] for m in (False, True)]:
        image = cv2.imread(str(sample.image_path))
        box = np.asarray(sample.box, np.float32).astype(np.float64)  # handpose holds a box as float32
        if mirror:  # the same hand as the other side's
            image, box[0] = np.ascontiguousarray(image[:, ::-1]), image.shape[1] - box[0] - box[2]
        right_xy, right = standalone.keypoints(session, image, box, False)
        left_xy, left = standalone.keypoints(session, image, box, True)
        is_left = float(left.mean()) > float(right.mean())
        ours = predictor.predict(image, box=box, is_left=None)
        assert ours.is_left == is_left
        np.testing.assert_allclose(left_xy if is_left else right_xy, ours.keypoints, atol=0.02)
        sides.append(is_left)
    assert len(set(sides)) == 2  # both sides were chosen


def test_the_standalone_recipe_reads_handposes_keypoints_from_fractional_boxes_on_photos(realdata: Path,
                                                                                         lite_onnx: Path) -> None:
    # handpose holds a box as float32; the script cut from the float64 box, and the shipped int8 file, whose maps
    # have near-equal peaks, moved keypoints by up to 32 px on a box moved 1e-5 px (5.9 px on tfjs hands.jpg)
    import json

    crop = ort.InferenceSession(str(lite_onnx)).get_modelmeta().custom_metadata_map["crop"]
    assert crop.startswith("box x, y, w, h (handpose rounds it to float32 first)")
    standalone = load_script("onnx_keypoints")
    model = pretrained.path("lite-int8")
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    predictor = Predictor.from_file(model)
    folder = realdata / "mediapipe_labelled" / "tfjs_models"
    coco = json.loads((folder / "annotations.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    checked = 0
    for ann in coco["annotations"][:4]:
        image = cv2.imread(str(folder / names[ann["image_id"]]))
        box = np.array([round(v, 1) for v in ann["bbox"]])  # (4,) float64, as a user's code holds it
        for left in (False, True):
            xy, scores = standalone.keypoints(session, image, box, left)
            ours = predictor.predict(image, box=box, is_left=left)
            np.testing.assert_allclose(xy, ours.keypoints, atol=0.02)
            np.testing.assert_allclose(scores, ours.scores, atol=1e-5)
            checked += 1
    assert checked == 8
