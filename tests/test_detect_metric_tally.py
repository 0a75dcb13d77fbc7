"""The detection metrics tallied image by image (``DetectionTally``: compact bits a detection, the AP read in chunks)
give the figures of the definitions they replace to the last bit, on randomized images: ties in score within and
across images, hands and detections of every size, crowd regions, hands of unknown side, images without hands or
without detections. The reference below is the pooled computation the evaluation ran before it tallied (every
``ImageResult`` kept, each (size, IoU threshold) matched and pooled at the end)."""

from __future__ import annotations

import math
import weakref

import numpy as np
import pytest

import handpose.row_blocks as row_blocks
from handpose.detection.metrics import (
    BUCKETS,
    IOU_THRESHOLDS,
    RECALL_POINTS,
    DetectionTally,
    ImageResult,
    average_precision,
    detection_metrics,
    longer_side,
    match_image,
    ranked_average_precision,
    recall_by_size_at_fp,
)

# ---------------------------------------------------------------- the reference: the pooled definitions of before


def ref_average_precision(scores: np.ndarray, tp: np.ndarray, num_gt: int, interpolation: str = "coco101") -> float:
    if num_gt == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = np.asarray(tp, np.float64)[order]
    tp_cum, fp_cum = np.cumsum(hits), np.cumsum(1.0 - hits)
    recall = tp_cum / num_gt
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    if interpolation == "coco101":
        at = np.searchsorted(recall, RECALL_POINTS, side="left")
        return float(np.mean([envelope[i] if i < envelope.size else 0.0 for i in at]))
    r = np.concatenate([[0.0], recall])
    return float(np.sum((r[1:] - r[:-1]) * envelope))


def ref_pooled(results: list[ImageResult], iou_threshold: float, bucket: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray, list[bool], int]:
    scores, status, side_ok = [], [], []
    num_gt = 0
    for r in results:
        st, matched, order, n = match_image(r, iou_threshold, bucket)
        num_gt += n
        scores.append(np.asarray(r.scores, np.float64)[order])
        status.append(st)
        for rank, d in enumerate(order):
            g = matched[rank]
            if st[rank] == 1 and r.gt_left_known[g]:
                side_ok.append(bool(r.left[d] > 0.5) == bool(r.gt_left[g]))
    return np.concatenate(scores) if scores else np.zeros(0), np.concatenate(status) if status else np.zeros(
        0, np.int64), side_ok, num_gt


def ref_recall_by_size_at_fp(results: list[ImageResult], max_fp: float, buckets: dict[str, tuple[float, float]],
                             iou_threshold: float = 0.5) -> dict[str, float]:
    scores, found_side, gt_sides = [], [], []
    for r in results:
        status, matched, order, _ = match_image(r, iou_threshold, (0.0, np.inf))
        side = longer_side(r.gt_boxes)
        hit = np.full(len(order), np.nan)
        hit[status == 1] = side[matched[status == 1]]
        counted = status >= 0
        scores.append(np.asarray(r.scores, np.float64)[order][counted])
        found_side.append(hit[counted])
        gt_sides.append(side)
    score = np.concatenate(scores) if scores else np.zeros(0)
    hit = np.concatenate(found_side) if found_side else np.zeros(0)
    sides = np.concatenate(gt_sides) if gt_sides else np.zeros(0)
    ranked = np.argsort(-score, kind="stable")
    within = np.flatnonzero(np.cumsum(np.isnan(hit[ranked])) <= max_fp)
    kept = hit[ranked[: within[-1] + 1]] if within.size else np.zeros(0)
    out = {}
    for name, (lo, hi) in buckets.items():
        total = int(np.sum((sides >= lo) & (sides < hi)))
        found = int(np.sum((kept >= lo) & (kept < hi)))
        out[name] = found / total if total else float("nan")
    return out


def ref_detection_metrics(results: list[ImageResult], interpolation: str = "coco101") -> dict[str, float]:
    out: dict[str, float] = {"num_images": float(len(results)),
                             "num_hands": float(sum(len(r.gt_boxes) for r in results))}
    recall = ref_recall_by_size_at_fp(results, float(len(results)), BUCKETS)
    for name, bucket in BUCKETS.items():
        suffix = "" if name == "all" else f"/{name}"
        aps = []
        for t in IOU_THRESHOLDS:
            scores, status, side_ok, num_gt = ref_pooled(results, float(t), bucket)
            keep = status >= 0
            aps.append(ref_average_precision(scores[keep], status[keep], num_gt, interpolation))
            if t == 0.5:
                out[f"AP@0.5{suffix}"] = aps[-1]
                out[f"recall@1FP{suffix}"] = recall[name]
                out[f"handedness{suffix}"] = float(np.mean(side_ok)) if side_ok else float("nan")
        out[f"AP@0.5:0.95{suffix}"] = float(np.mean(aps))
    return out


# ---------------------------------------------------------------- randomized images


def random_results(seed: int, images: int = 60) -> list[ImageResult]:
    """Images of 0-4 hands of every size (some of unknown side), a crowd region now and then, and detections near the
    hands (shifted so that IoUs fall on both sides of the thresholds), duplicates and strays, scores on a coarse
    grid so that they tie within and across images."""
    rng = np.random.default_rng(seed)
    results = []
    for _ in range(images):
        m = int(rng.integers(0, 5))
        side = rng.choice([10.0, 25.0, 31.9, 32.0, 60.0, 95.9, 96.0, 200.0], m)  # (M,) about the bucket edges
        gt = np.column_stack([rng.uniform(0, 400, (m, 2)), side * rng.uniform(0.5, 1.0, m), side])  # (M, 4)
        gt[:, 2:] = np.where(rng.random((m, 1)) < 0.5, gt[:, 2:], gt[:, 2:][:, ::-1])  # the longer side either way
        dets = [g + np.r_[rng.normal(0, 0.15 * g[2:].mean(), 2), g[2:] * rng.normal(0, 0.1, 2)]
                for g in gt for _ in range(int(rng.integers(0, 3)))]  # 0-2 detections a hand
        dets += [np.r_[rng.uniform(0, 400, 2), rng.choice([8.0, 40.0, 120.0], 2)] for _ in range(int(rng.integers(
            0, 4)))]  # strays
        crowd = np.zeros((0, 4))
        if rng.random() < 0.2:
            crowd = np.array([[rng.uniform(0, 300), rng.uniform(0, 300), 120.0, 120.0]])
            dets += [crowd[0] + [10, 10, -80, -80], crowd[0] + [50, 40, -90, -70]]  # inside the region
        boxes = np.array(dets, np.float64).reshape(-1, 4)
        scores = np.round(rng.uniform(0, 1, len(boxes)), 1)  # ties
        left = np.where(rng.random(len(boxes)) < 0.1, 0.5, rng.uniform(0, 1, len(boxes)))  # 0.5 exactly: right
        results.append(ImageResult(boxes, scores, left, gt, rng.random(m) < 0.5, rng.random(m) < 0.8, crowd))
    return results


def same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal keys and values to the last bit (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("blocks", ["default", "small"])
def test_the_tallied_metrics_are_the_pooled_ones_to_the_last_bit(seed: int, blocks: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    if blocks == "small":  # the tally's rows 7 to a block
        monkeypatch.setattr(row_blocks, "BLOCK_ROWS", 7)
    results = random_results(seed)
    want = ref_detection_metrics(results)
    assert sum(len(r.scores) for r in results) > 100 and 0 < want["AP@0.5"] < 1  # not a degenerate case
    assert same(detection_metrics(results), want), (detection_metrics(results), want)
    tally = DetectionTally()
    for r in results:
        tally.add(r)
    assert same(tally.metrics(), want)
    assert same(tally.metrics(), want)  # reading the figures leaves the tally as it was
    assert same(detection_metrics(results, "all"), ref_detection_metrics(results, "all"))
    for max_fp in (0, 0.5, 1, 7, 1e9):
        assert same(recall_by_size_at_fp(results, max_fp, BUCKETS), ref_recall_by_size_at_fp(results, max_fp, BUCKETS))
    assert same(recall_by_size_at_fp(results, 3, BUCKETS, 0.7), ref_recall_by_size_at_fp(results, 3, BUCKETS, 0.7))


def test_metrics_of_no_image_and_of_images_without_detections() -> None:
    empty = ImageResult(np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.array([[0, 0, 50, 50.0]]), np.zeros(1, bool),
                        np.ones(1, bool))
    assert same(detection_metrics([empty, empty]), ref_detection_metrics([empty, empty]))
    assert same(detection_metrics([]), ref_detection_metrics([]))


@pytest.mark.parametrize("seed", [1, 3])
def test_the_ranked_ap_is_the_pooled_ap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for n in (0, 1, 2, 4, 12, 13, 50, 400):
        for share in (0.0, 0.3, 0.8, 1.0):
            tp = (rng.random(n) < share).astype(np.int64)
            scores = np.round(rng.random(n), 1)
            for num_gt in (1, max(1, int(tp.sum())), int(tp.sum()) + 5):
                for how in ("coco101", "all"):
                    assert average_precision(scores, tp, num_gt, how) == ref_average_precision(scores, tp, num_gt,
                                                                                               how)
            order = np.argsort(-scores, kind="stable")
            assert ranked_average_precision(tp[order].astype(np.uint8), 7) == ref_average_precision(scores, tp, 7)
    assert math.isnan(ranked_average_precision(np.ones(3), 0))
    with pytest.raises(ValueError, match="interpolation"):
        ranked_average_precision(np.ones(3), 3, "voc07")


def test_the_tally_holds_19_bytes_a_detection_and_no_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per detection its score (8 bytes), two sets of 40 bits (10) and a recall byte (1), in blocks of rows: 200
    images of 20 detections in blocks of 64 rows hold 19 bytes a detection and one block's spare rows; the results
    it was given (over 1 kB an image, boxes and all) are not kept."""
    monkeypatch.setattr(row_blocks, "BLOCK_ROWS", 64)
    rng = np.random.default_rng(0)
    tally = DetectionTally()
    for _ in range(200):
        r = ImageResult(rng.uniform(0, 300, (20, 4)), rng.random(20), rng.random(20), rng.uniform(0, 300, (2, 4)),
                        np.zeros(2, bool), np.ones(2, bool))
        tally.add(r)
    gone = weakref.ref(r)
    del r
    assert gone() is None  # the tally keeps nothing of the last image given
    columns = (tally.scores, tally.counted, tally.true, tally.recall)
    held = sum(block.nbytes for column in columns for block in column.blocks)
    assert len(tally.scores) == 4000 and held == 19 * 4000 + 19 * (64 - 4000 % 64), held
