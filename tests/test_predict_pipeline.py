"""Detect -> crop -> keypoints: every hand found, the detector's side drives the mirror, no hand is an empty list,
COCO results match the per-image records, a model file of the wrong task is named in one line.

The keypoint network and detector are the ``dot_hands`` stubs where a trained one is needed (none exists);
``test_predict_end_to_end.py`` runs a briefly trained real detector."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from dot_hands import DotBackend, DotDetector, dot_hand_keypoints, draw_dot_hands
from fixture_types import TinyCpm

from handpose.cli import main
from handpose.config import DataConfig, to_dict
from handpose.detection.model import build_detector
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.model.artifact import save_weights

SIZE = (320, 200)


def _predictor(mirror_left: bool = False, is_left: bool = False) -> Predictor:
    spec = CropSpec(input_size=64, box_padding=1.5, mirror_left=mirror_left)
    return Predictor(DotBackend(), spec, detector=DotDetector(is_left=is_left))


@pytest.mark.parametrize("mirror_left,is_left", [(False, False), (True, True), (True, False)])
def test_every_hand_is_found_with_its_side(mirror_left: bool, is_left: bool) -> None:
    truth = [dot_hand_keypoints((70, 100)), dot_hand_keypoints((240, 90))]
    p = _predictor(mirror_left, is_left)
    hands = p.predict(draw_dot_hands(SIZE, truth))
    assert len(hands) == 2 and p.backend.calls == 1  # both hands in one network run
    for hand, kp in zip(hands, truth):
        assert np.linalg.norm(hand.keypoints - kp, axis=1).max() < 1.0
        assert hand.score == 0.9 and hand.is_left == is_left and hand.left_score == (0.8 if is_left else 0.2)
        assert hand.crop is not None and hand.stage_maps is not None
        first_dot_x = np.nonzero(hand.crop[..., 1].max(axis=0) >= 250)[0]
        mirrored = mirror_left and is_left  # the crop of a left hand is mirrored: keypoint 0 (x - 18) on the right
        assert (hand.keypoints_in_crop()[0, 0] > 32) == mirrored and len(first_dot_x)


def test_no_hand_is_an_empty_list_and_the_picture_says_so() -> None:
    blank = draw_dot_hands(SIZE, [])
    hands = _predictor().predict(blank)
    assert len(hands) == 0 and hands.to_coco(3) == []
    drawn = hands.plot()
    assert drawn.shape == blank.shape and not np.array_equal(drawn, blank)  # "no hand found" written on it


def test_box_given_skips_detection() -> None:
    p = _predictor()
    kp = dot_hand_keypoints((70, 100))
    one = p.predict(draw_dot_hands(SIZE, [kp]), box=(40, 70, 60, 60), is_left=True)
    assert p.detector.calls == 0 and one.score is None and one.is_left
    assert np.linalg.norm(one.keypoints - kp, axis=1).max() < 1.0


def test_command_coco_results_match_the_records(
        tmp_path: Path, tiny_cpm: TinyCpm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The predict command with the stub detector in place of a detector file (none is trained)."""
    from handpose.detection.detector import HandDetector

    monkeypatch.setattr(HandDetector, "from_file", classmethod(lambda cls, *a, **k: DotDetector()))
    weights = tmp_path / "tiny.safetensors"
    save_weights(tiny_cpm(1), weights, metadata={"data_config": json.dumps(to_dict(DataConfig(input_size=64)))})
    folder = tmp_path / "images"
    folder.mkdir()
    scenes = {"two.png": [(70, 100), (240, 90)], "none.png": [], "one.jpg": [(160, 100)]}
    for name, centres in scenes.items():
        cv2.imwrite(str(folder / name), draw_dot_hands(SIZE, [dot_hand_keypoints(c) for c in centres]))
    out = tmp_path / "out"
    args = ["predict", "--model", str(weights), "--detector", "stub", str(folder / "*.*"), "--out", str(out),
            "--maps", "all", "--threshold", "0.0", "--no-amp", "--no-channels-last", "--refine-passes", "0"]
    assert main(args) == 0
    results = json.loads((out / "coco_results.json").read_text())
    images = {im["id"]: im for im in json.loads((out / "coco_images.json").read_text())["images"]}
    assert len(results) == 3 and len(images) == 3
    for image_id, im in images.items():
        stem = Path(im["file_name"]).stem
        record = json.loads((out / f"{stem}.json").read_text())
        assert record["image_id"] == image_id and len(record["hands"]) == len(scenes[Path(im["file_name"]).name])
        mine = [r for r in results if r["image_id"] == image_id]
        for hand, res in zip(record["hands"], mine):
            assert res["category_id"] == 1 and len(res["keypoints"]) == 63
            triples = np.array(res["keypoints"]).reshape(21, 3)
            xy = np.array([[k["x"], k["y"], k["score"]] for k in hand["keypoints"]])
            assert np.abs(triples - xy).max() < 1e-3
            assert np.allclose(res["bbox"], hand["box"], atol=0.01)
            assert res["score"] == pytest.approx(0.9 * xy[:, 2].mean(), abs=1e-4)
    assert (out / "two_allmaps.png").is_file() and not (out / "none_maps.png").exists()
    assert cv2.imread(str(out / "none_overlay.png")).shape == (SIZE[1], SIZE[0], 3)


def test_a_model_of_the_wrong_task_is_named_in_one_line(tmp_path: Path, tiny_cpm: TinyCpm,
                                                        capsys: pytest.CaptureFixture) -> None:
    keypoints = tmp_path / "hand.safetensors"
    save_weights(tiny_cpm(1), keypoints)
    detector = tmp_path / "detector.safetensors"
    save_weights(build_detector(), detector)
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), draw_dot_hands(SIZE, []))
    for args, message in [
        (["--model", str(detector)], "--model: " + str(detector) + " is a hand detector, not a keypoint model"),
        (["--model", str(keypoints), "--detector", str(keypoints)],
         "--detector: " + str(keypoints) + " is a keypoint model, not a hand detector"),
    ]:
        assert main(["predict", *args, str(image), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    with pytest.raises(ValueError, match="is a hand detector, not a keypoint model"):
        Predictor.from_file(detector)


def test_the_coco_score_counts_a_refined_hands_keypoints_once() -> None:
    # a refined hand's score already mixes its mean keypoint score in; the COCO score multiplied it in again, so the
    # COCO file ranked hands otherwise than the json and the overlays
    from handpose.inference.predictor import Prediction

    scores = np.full(21, 0.5, np.float32)
    refined = Prediction(np.zeros((21, 2)), scores, np.array([0, 0, 10, 10.0]), score=0.6, detector_score=0.9)
    found = Prediction(np.zeros((21, 2)), scores, np.array([0, 0, 10, 10.0]), score=0.9)  # the detector's alone
    given = Prediction(np.zeros((21, 2)), scores, np.array([0, 0, 10, 10.0]))  # a box the user gave
    assert (refined.confidence, found.confidence, given.confidence) == pytest.approx((0.6, 0.45, 0.5))
