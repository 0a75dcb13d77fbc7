"""``handpose eval --task detect`` keeps no image's result while it scores: each is tallied for the metrics and its
``detections`` record spooled beside the report as it comes, and the written report has the bytes, the returned
one the figures, that keeping every result until the end gave (``detect_images`` + ``detection_metrics`` +
``write_report`` of the whole list). Before, every result and record stayed in memory: about 7 kB an image."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from handpose.config import DetectorConfig
from handpose.detection.coco import read_detection_images
from handpose.detection.detector import HandDetector
from handpose.detection.evaluate import detect_images, run_detection_eval
from handpose.detection.metrics import ImageResult, detection_metrics
from handpose.detection.model import build_detector
from handpose.detection.stored_detections import KEY, DetectionLines, image_detections, write_report
from handpose.model.artifact import save_weights

IMAGES = 24


def _scenes(folder: Path, weights: Path) -> Path:
    """``IMAGES`` distinct noise images of 96 x 64, one unreadable file among them; each image's hands are the box
    the detector at ``weights`` scores highest there, nudged, and a box of its own (a hand it may miss)."""
    rng = np.random.default_rng(0)
    detector = HandDetector.from_file(weights, scales=(1.0,))
    images, anns = [], []
    for i in range(IMAGES):
        name = f"{i:03d}.png"
        picture = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)
        cv2.imwrite(str(folder / name), picture)
        (found,) = detector.find([detector.letterbox_scales(picture)], 0.0)
        best = found.boxes[int(np.argmax(found.scores))] + rng.normal(0, 2, 4)  # (4,) xywh
        best[2:] = np.clip(best[2:], 4, 40)
        best[:2] = np.clip(best[:2], 0, [96 - best[2], 64 - best[3]])  # inside the image
        w, h = (float(v) for v in rng.uniform(6, 50, 2))
        for box in (best, [rng.uniform(0, 96 - w), rng.uniform(0, 64 - h), w, h]):
            anns.append({"id": len(anns) + 1, "image_id": 100 + i, "category_id": 1, "iscrowd": 0,
                         "bbox": [float(v) for v in box]})
        images.append({"id": 100 + i, "file_name": name, "width": 96, "height": 64})
    (folder / "005.png").write_bytes(b"not a picture")
    path = folder / "hands.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "hand"}]}))
    return path


def _detector(path: Path) -> Path:
    """A tiny random detector that keeps every score, 8 hands an image."""
    torch.manual_seed(0)
    save_weights(build_detector(DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16,
                                               input_size=64, max_hands=8, score_threshold=0.0)).eval(), path)
    return path


def _live_results() -> int:
    return sum(type(o) is ImageResult for o in gc.get_objects())


def test_no_result_is_kept_and_the_report_is_what_the_kept_results_gave(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    weights = _detector(tmp_path / "det.safetensors")
    data = _scenes(tmp_path, weights)
    real_find, alive = HandDetector.find, []

    def find(self: HandDetector, prepared: list[np.ndarray], threshold: float) -> list:
        alive.append(_live_results())  # the results of the images scored before this batch still held
        return real_find(self, prepared, threshold)

    monkeypatch.setattr(HandDetector, "find", find)
    report = run_detection_eval(weights, data, out=tmp_path / "out", batch_size=3, scales=(1.0,))
    assert len(alive) == 8 and max(alive) <= 1, alive  # before: 3 more with each batch, 20 at the last
    monkeypatch.setattr(HandDetector, "find", real_find)

    scored: list = []  # the same images scored the way that kept every result
    detector = HandDetector.from_file(weights, scales=(1.0,))
    results = detect_images(detector, read_detection_images(data), 3, report["threshold"], scored=scored)
    kept = detection_metrics(results)
    assert len(results) == IMAGES - 1 and report["num_images"] == IMAGES - 1 and report["skipped_images"] == 1
    assert {k: report[k] for k in kept} == pytest.approx(kept, nan_ok=True, rel=0, abs=0)
    assert 0 < report["AP@0.5"] < 1 and sum(len(r.scores) for r in results) > 3 * IMAGES
    assert KEY not in report  # the records are in the file only

    whole = write_report(tmp_path / "whole.json", {**report, KEY: [image_detections(i, r) for i, r in
                                                                   zip(scored, results)]})
    written = tmp_path / "out" / "detection_eval.json"
    assert written.read_bytes() == whole.read_bytes()
    assert [p.name for p in written.parent.iterdir()] == ["detection_eval.json"]  # the spool is gone


def test_a_run_without_out_writes_nothing_nor_does_a_run_that_reads_no_image(tmp_path: Path) -> None:
    weights = _detector(tmp_path / "det.safetensors")
    data = _scenes(tmp_path, weights)
    before = sorted(p.name for p in tmp_path.iterdir())
    report = run_detection_eval(weights, data, scales=(1.0,))
    assert report["num_images"] == IMAGES - 1 and sorted(p.name for p in tmp_path.iterdir()) == before
    for i in range(IMAGES):  # no image can be read: the run fails after scoring, into a json path
        (tmp_path / f"{i:03d}.png").write_bytes(b"")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="could be read"):
        run_detection_eval(weights, data, out=out / "mine.json", scales=(1.0,))
    assert not out.exists()


@pytest.mark.parametrize("records", [0, 1, 3])
def test_spooled_records_give_the_bytes_of_the_whole_list(tmp_path: Path, records: int) -> None:
    item = SimpleNamespace(image_id=7, key="a b\n.png")  # a name that JSON escapes
    results = [ImageResult(np.array([[1.234567, 2, 3, 4], [5, 6, 7, 8.5]]) + k, np.array([0.3, 0.91234]),
                           np.array([float("nan"), 0.25]), np.zeros((0, 4)), np.zeros(0, bool), np.zeros(0, bool))
               for k in range(records)]
    report = {"AP@0.5": float("nan"), "split": "all", "num_images": float(records)}
    with DetectionLines(tmp_path / "out" / "r.json") as lines:
        for r in results:
            lines.add(item, r)  # type: ignore[arg-type]
        lines.write(report)
    whole = write_report(tmp_path / "whole.json", {**report, KEY: [image_detections(item, r) for r in results]})
    assert (tmp_path / "out" / "r.json").read_bytes() == whole.read_bytes()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["r.json"]


def test_a_run_cut_short_leaves_no_spool(tmp_path: Path) -> None:
    r = ImageResult(np.ones((1, 4)), np.ones(1), np.ones(1), np.zeros((0, 4)), np.zeros(0, bool), np.zeros(0, bool))
    with pytest.raises(KeyboardInterrupt), DetectionLines(tmp_path / "detection_eval.json") as lines:
        lines.add(SimpleNamespace(image_id=1, key="a.png"), r)  # type: ignore[arg-type]
        assert len(list(tmp_path.iterdir())) == 1  # the spool
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
