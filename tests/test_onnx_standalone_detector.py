"""scripts/onnx_hands.py, the exported hand detector run with onnxruntime, numpy and OpenCV alone, finds the boxes
handpose's ``HandDetector`` finds from the same file: the recipe of the file's metadata and README is complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
from repo_scripts import load_script

from handpose import pretrained
from handpose.detection.coco import read_detection_images
from handpose.detection.detector import HandDetector
from handpose.detection.onnx_export import export_detector_onnx
from handpose.model.artifact import TASK_DETECT, load_model

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "onnx_hands.py"
SCENES = Path(__file__).resolve().parent / "data" / "pretrained_check" / "scenes" / "hands_coco.json"




def test_the_standalone_detector_finds_what_handpose_finds(tmp_path: Path) -> None:
    # README's recipe said the letterbox was block-averaged where it shrinks: it is INTER_AREA to the warp's own
    # scale below 0.75, and a decoder that averaged blocks moved boxes by up to 37 px or found other hands
    standalone = load_script("onnx_hands")
    assert "handpose" not in standalone.__dict__ and "torch" not in standalone.__dict__
    path = tmp_path / "det.onnx"
    export_detector_onnx(load_model(pretrained.path("detector"), task=TASK_DETECT), path)
    meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    assert meta["size_multiple"] == "32" and "INTER_AREA" in meta["letterbox"] and "nms_iou" in meta["decode"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = [cv2.imread(str(item.path)) for item in read_detection_images(SCENES)[:3]]
    images += [cv2.resize(images[0], None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC), images[1][:200, :333]]
    found = 0
    for side in (320, 416):
        detector = HandDetector.from_file(path, scales=(side / 320,))
        for image in images:
            ours, theirs = standalone.hands(session, image, side), detector.detect(image)
            assert len(ours) == len(theirs)
            for (box, score, left), hand in zip(ours, theirs):
                np.testing.assert_allclose(box, hand.box, atol=0.01)
                assert abs(score - hand.score) < 1e-5 and abs(left - hand.left_score) < 1e-5
            found += len(ours)
    assert found >= 10  # the comparison saw boxes
    with pytest.raises(ValueError, match="multiple of 32"):
        standalone.hands(session, images[0], 300)


def test_the_script_refuses_a_keypoint_model_in_one_line(tmp_path: Path) -> None:
    image = tmp_path / "i.png"
    cv2.imwrite(str(image), np.full((40, 60, 3), 90, np.uint8))
    run = subprocess.run([sys.executable, str(SCRIPT), str(pretrained.path("lite-int8")), str(image)],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "Traceback" not in run.stderr and "holds a keypoint model" in run.stderr


def test_the_detector_file_says_when_handpose_takes_its_side() -> None:
    # handpose reads the left head as the side only at least side_margin from 0.5 (else the keypoint model chooses);
    # the file gave sigmoid(left) as the left-hand probability alone, and a runtime reading > 0.5 as left took a coin
    # toss's side where handpose asks the keypoint model
    from handpose.detection.onnx_export import detector_onnx_metadata
    from handpose.inference.predictor import SIDE_MARGIN

    decode = detector_onnx_metadata(load_model(pretrained.path("detector"), task=TASK_DETECT))["decode"]
    assert f"only where it is at least {SIDE_MARGIN:g} from 0.5" in decode and "keypoint model's side" in decode


def test_the_detector_file_says_how_boxes_are_cut_and_which_predict_leaves_out() -> None:
    # "cut to the image" read as max(0, x0), min(W, x1) turns a box found in the letterbox's grey border into one
    # of negative size, and predict, which leaves such a box out, reported fewer hands than a runtime that kept it
    # (an early detector on rendered scenes: 19 hands where the runtime found 20)
    from handpose.detection.detector import Detection
    from handpose.detection.onnx_export import detector_onnx_metadata
    from handpose.inference.predictor import Predictor

    decode = detector_onnx_metadata(load_model(pretrained.path("detector"), task=TASK_DETECT))["decode"]
    assert "each corner clamped into [0, W] x [0, H]" in decode and "leaves out a box left with no area" in decode
    image = cv2.imread(str(sorted((SCENES.parent / "images").glob("*.jpg"))[0]))  # (H, W, 3)
    h, w = image.shape[:2]
    above = Detection(np.array([w / 2, 0.0, 20.0, 0.0]), 0.9, False, 0.9)  # cut to the top edge: no height left
    on_it = Detection(np.array([w / 4, h / 4, w / 3, h / 3]), 0.8, False, 0.9)
    predictor = Predictor.from_file(pretrained.path("lite"))
    found = predictor.predict_detections(image, [above, on_it])
    assert len(found) == 1 and np.allclose(found[0].box, on_it.box, atol=1e-3)
