"""detection_eval.json keeps the detections it scored: AP@0.5 recomputed from them and the ground-truth json alone
(a plain implementation of COCO's rule, written here) equals the report's, the records turn into COCO's results
list, and the file stays small."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handpose.cli import main
from handpose.detection.stored_detections import coco_results
from handpose.detection.toy_scenes import write_toy_scenes

CROWD = [100.0, 0.0, 60.0, 60.0]  # x, y, w, h: a crowd region over the top right of the first image
# COCOeval's recall points (its recThrs), float steps as it makes them: 0.7 is 0.7000000000000001 there, so a recall
# of exactly 7/10 does not reach it; r = i / 100 would take a later detection's precision at such points
RECALL_POINTS = [float(r) for r in np.linspace(0.0, 1.0, 101)]


def _iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _inside_share(det: list[float], region: list[float]) -> float:
    """The share of the detection's own area inside the region (COCO's IoU with a crowd)."""
    ix = max(0.0, min(det[0] + det[2], region[0] + region[2]) - max(det[0], region[0]))
    iy = max(0.0, min(det[1] + det[3], region[1] + region[3]) - max(det[1], region[1]))
    area = det[2] * det[3]
    return ix * iy / area if area > 0 else 0.0


def _ap50(records: list[dict[str, Any]], truth: dict[str, Any]) -> tuple[float, int]:
    """COCO AP at IoU 0.5 over all sizes: per image, detections best first each take the free hand they overlap
    most (IoU >= 0.5), else count for nothing when half or more of them lies on a crowd region, else are false
    positives; pooled over images (ties in image order), interpolated precision at COCO's 101 recall points (the
highest precision at any recall reaching each). Also returns how many
    detections the crowd rule left out."""
    hands: dict[Any, list[list[float]]] = {}
    crowds: dict[Any, list[list[float]]] = {}
    for ann in truth["annotations"]:
        (crowds if ann.get("iscrowd") else hands).setdefault(ann["image_id"], []).append(ann["bbox"])
    num_hands = sum(len(v) for v in hands.values())
    ranked: list[tuple[float, int]] = []  # (score, 1 true / 0 false positive)
    on_crowd = 0
    for record in records:
        gt = hands.get(record["image_id"], [])
        taken = [False] * len(gt)
        for box, score in zip(record["boxes"], record["scores"]):  # stored best first
            best, best_iou = -1, 0.5
            for g, hand in enumerate(gt):
                overlap = _iou(box, hand)
                if not taken[g] and overlap >= best_iou and (best < 0 or overlap > best_iou):
                    best, best_iou = g, overlap
            if best >= 0:
                taken[best] = True
                ranked.append((score, 1))
            elif any(_inside_share(box, c) >= 0.5 for c in crowds.get(record["image_id"], [])):
                on_crowd += 1
            else:
                ranked.append((score, 0))
    ranked.sort(key=lambda d: -d[0])  # stable: equal scores stay in image order
    recall, precision, hits = [], [], 0
    for n, (_, tp) in enumerate(ranked, 1):
        hits += tp
        recall.append(hits / num_hands)
        precision.append(hits / n)
    total = 0.0
    for point in RECALL_POINTS:
        reached = [p for r, p in zip(recall, precision) if r >= point]
        total += max(reached) if reached else 0.0
    return total / len(RECALL_POINTS), on_crowd


def test_the_stored_detections_give_the_reports_ap_again(tmp_path: Path) -> None:
    data = write_toy_scenes(tmp_path / "scenes", 8, seed=1, max_hands=2)
    truth = json.loads(data.read_text())
    first = truth["images"][0]["id"]
    truth["annotations"].append({"id": 10_000, "image_id": first, "category_id": 1, "bbox": CROWD, "iscrowd": 1,
                                 "area": CROWD[2] * CROWD[3]})
    data.write_text(json.dumps(truth))
    out = tmp_path / "out"
    assert main(["eval", "--task", "detect", "--weights", "pretrained:detector", "--data", str(data), "--split",
                 "all", "--out", str(out)]) == 0
    report_file = out / "detection_eval.json"
    report = json.loads(report_file.read_text())
    records = report["detections"]
    names = {im["id"]: im["file_name"] for im in truth["images"]}
    assert sorted(r["image_id"] for r in records) == sorted(names) and len(records) == report["num_images"] == 8
    assert all(r["file_name"] == names[r["image_id"]] for r in records)
    detections = 0
    for r in records:
        assert len(r["boxes"]) == len(r["scores"]) == len(r["left"])
        assert r["scores"] == sorted(r["scores"], reverse=True)
        assert all(len(b) == 4 and all(round(v, 2) == v for v in b) for b in r["boxes"])
        assert all(round(s, 4) == s and 0.0 < s <= 1.0 for s in r["scores"])
        assert all(p is not None and 0.0 <= p <= 1.0 for p in r["left"])
        detections += len(r["scores"])
    assert detections > 8 * 5  # the low-scored ones are kept: AP needs them

    ap, on_crowd = _ap50(records, truth)
    assert on_crowd > 0  # the crowd rule was exercised
    assert 0.1 < report["AP@0.5"] < 1.0  # not a degenerate AP that any ranking would give
    assert ap == pytest.approx(report["AP@0.5"], abs=1e-6)

    results = coco_results(records, category_id=1)
    assert len(results) == detections and set(results[0]) == {"image_id", "category_id", "bbox", "score"}
    assert results[0] == {"image_id": records[0]["image_id"], "category_id": 1, "bbox": records[0]["boxes"][0],
                          "score": records[0]["scores"][0]}

    without = json.dumps({k: v for k, v in report.items() if k != "detections"}, indent=1, sort_keys=True)
    per_image = (report_file.stat().st_size - len(without)) / len(records)
    assert per_image < 1000  # bytes, with up to 20 detections an image
