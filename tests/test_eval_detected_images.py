"""eval_detected.json's per-image records (``evaluate_detected_images``): which hands the detector found, with
which detection and keypoints, and which detections were false, so a run can be inspected and re-scored without
the models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from dot_hands import DotBackend
from fixture_types import TinyCpm
from test_eval_detected import (
    HANDS,
    NARROW,
    WIDE,
    BoxesByWidth,
    all_samples,
    det,
    gt_box,
    tiny_models,
    write_dot_coco,
)

from handpose.cli import main
from handpose.evaluate_detected import detect_hands, detected_metrics
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec


def test_each_image_names_its_found_hands_detections_and_false_ones(tmp_path: Path) -> None:
    samples = all_samples(write_dot_coco(tmp_path / "d"))
    (h0, h1), (h2,) = HANDS[WIDE], HANDS[NARROW]
    far = np.add(gt_box(h1), [30, 0, 0, 0]).tolist()  # IoU 0.23 with h1: missed, and a false positive
    detector = BoxesByWidth({WIDE[0]: [det(far, 0.95), det(gt_box(h0), 0.9)],
                             NARROW[0]: [det([10, 10, 30, 30], 0.5, is_left=True), det(gt_box(h2), 0.4)]})
    predictor = Predictor(DotBackend(), CropSpec(input_size=64, box_padding=1.5))  # type: ignore[arg-type]
    o = detect_hands(predictor, samples, detector, set_name="dots")
    wide, narrow = o.images
    assert wide["set"] == narrow["set"] == "dots" and wide["image"].endswith("scene0.png")
    assert wide["boxes"] == [far, gt_box(h0)] and wide["scores"] == [0.95, 0.9] and wide["left"] == [0.2, 0.2]
    by_key = {h["key"]: h for h in wide["hands"]}
    first, second = sorted(by_key, key=lambda k: next(s.box[0] for s in samples if s.key == k))  # h0 lies left
    assert by_key[first]["detection"] == 1 and by_key[first]["iou"] == 1.0
    assert by_key[second] == {"key": second, "detection": None, "iou": 0, "keypoints": None}
    assert narrow["hands"][0]["detection"] == 1 and narrow["left"] == [0.8, 0.2]
    for record in o.images:  # the keypoints stored are the ones scored, rounded to 3 decimals
        for hand in record["hands"]:
            i = next(i for i, s in enumerate(samples) if s.key == hand["key"])
            if hand["keypoints"] is None:
                assert not o.found[i]
            else:
                np.testing.assert_allclose(np.array(hand["keypoints"])[:, :2], o.pred[i], atol=5e-4)
    named = sum(h["detection"] is not None for r in o.images for h in r["hands"])
    m = detected_metrics(o)
    assert named == m["num_found"] == 2
    assert sum(len(r["boxes"]) for r in o.images) - named == m["false_positives"] == 2


def test_the_report_ends_with_one_line_an_image_that_recomputes_its_counts(tmp_path: Path, tiny_cpm: TinyCpm,
                                                                          one_torch_thread: None) -> None:
    data = write_dot_coco(tmp_path / "dots")
    kp, dt = tiny_models(tmp_path, tiny_cpm)
    out = tmp_path / "out"
    assert main(["-q", "eval", "--weights", str(kp), "--detector", str(dt), "--data", str(data), "--split", "all",
                 "--refine-passes", "0", "--out", str(out)]) == 0
    text = (out / "eval_detected.json").read_text()
    report = json.loads(text)
    assert list(report)[-1] == "images" and len(report["images"]) == report["all"]["num_images"] == 2
    lines = text.split('\n "images": [\n', 1)[1].splitlines()[:-2]  # the records, then " ]" and "}"
    assert [json.loads(line.rstrip(",")) for line in lines] == report["images"]
    hands = [h for r in report["images"] for h in r["hands"]]
    assert len(hands) == report["all"]["num_hands"] == 3 and {r["set"] for r in report["images"]} == set(report["sets"])
    named = sum(h["detection"] is not None for h in hands)
    assert sum(h["keypoints"] is not None for h in hands) == report["all"]["num_found"]
    assert sum(len(r["boxes"]) for r in report["images"]) == report["all"]["num_detections"]
    assert report["all"]["false_positives"] == report["all"]["num_detections"] - named

