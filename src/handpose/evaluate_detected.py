"""Keypoints through the hand detector: the detect -> crop -> keypoints pipeline scored against labelled hands.

``handpose eval --weights KP --detector DET --data D`` answers "how good are the keypoints when the boxes come from
the detector rather than the labels?", next to the same model in the ground-truth boxes. Definitions:

- **Images.** The samples are grouped by image; two files with identical bytes are one image (CMU ``hand_labels``
  and the COCO Panoptic test file store each two-hand frame twice, ``_l`` and ``_r``: grouping by path would make
  the other hand of each copy a false positive and run the detector twice on one picture). The detector runs once
  on each whole image (decoded as the dataset decodes it, EXIF orientation ignored), and its hands are refined by
  the keypoint network as ``handpose predict`` refines them (``inference/refine``: re-boxed, re-scored, kept from
  ``hand_threshold``; with refinement off, the detector's hands from its own score threshold).
- **Matching** (per image): every (detection, annotated hand) pair with IoU >= 0.5 between the detection's box and
  the hand's ground-truth box (``data.crop.sample_box``), taken greedily by IoU, highest first (ties: the better
  scored detection, then the earlier hand); each detection and each hand is used at most once. A matched hand is
  **found**; a detection left unmatched is a **false positive** (an unannotated hand in the picture counts as one
  too). Unlike COCO's AP matching (``detection/metrics``: detections in score order) the pairing does not depend
  on the scores, since every kept detection is used.
- **Keypoints** of a found hand come from ``Predictor.predict_detections`` on the matched detection (its box, its
  left/right call): the pipeline's own code, one batch per image.
- **Metrics** (``metrics.keypoint_metrics``, MMPose's definitions, PCK normalised by the ground-truth box) are over
  **all annotated hands**: a hand that no detection found counts as infinitely far off, so each of its visible
  keypoints is a miss at every PCK@0.2 / PCKh / AUC threshold. **EPE** is over the found hands only
  (``num_found`` of them; NaN when none was found); ``found_only`` holds all metrics over the found hands.
- Hands the ground-truth evaluation cannot use either (unreadable image, no box and no visible keypoint) are left
  out and counted in ``skipped``; the image's other hands still count.
- The ground-truth column is one call of ``evaluate.evaluate`` on the same samples with the same predictor options.
  The two paths differ only in the box (the detector's, clipped to the image, and its side) and in how the image is
  decoded (``evaluate`` may decode a large JPEG at a reduced size when the crop is much smaller than the box); with
  the ground-truth boxes as detections inside the image and images decoded in full, the figures are the same.
- The report ends with one record an image (``evaluate_detected_images``): which hands were found by which
  detection, their keypoints, and every detection kept.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data.crop import sample_box
from handpose.data.sample import Sample
from handpose.detection.detector import IMAGE_SCALES
from handpose.detection.identical_files import picture_keys
from handpose.detection.metrics import box_iou
from handpose.evaluate_detected_images import KEY as IMAGES_KEY
from handpose.evaluate_detected_images import write_report
from handpose.inference.pipeline import Detector
from handpose.inference.predictor import DEFAULT_REFINE, Predictor
from handpose.inference.prepare import read_image
from handpose.inference.refine import RefineConfig
from handpose.keypoints import NAMES, NUM_KEYPOINTS
from handpose.metrics import keypoint_metrics

LOG = logging.getLogger(__name__)

IOU_FOUND = 0.5  # a hand is found by a detection whose box overlaps its ground-truth box by at least this IoU
REPORT_NAME = "eval_detected.json"


def match_by_iou(det_boxes: np.ndarray, gt_boxes: np.ndarray, threshold: float = IOU_FOUND) -> np.ndarray:
    """(M,) the detection matched to each ground-truth box, -1 for none: greedy by IoU, highest first.

    ``det_boxes`` (N, 4) xywh best-scored first, ``gt_boxes`` (M, 4) xywh; pairs below ``threshold`` never match.
    Ties go to the earlier detection, then the earlier hand."""
    iou = box_iou(det_boxes, gt_boxes)  # (N, M)
    matched = np.full(iou.shape[1], -1, np.int64)
    used = np.zeros(iou.shape[0], bool)
    d_idx, g_idx = np.nonzero(iou >= threshold)
    order = np.lexsort((g_idx, d_idx, -iou[d_idx, g_idx]))  # by IoU descending, then detection, then hand
    for d, g in zip(d_idx[order], g_idx[order]):
        if not used[d] and matched[g] < 0:
            used[d], matched[g] = True, d
    return matched


@dataclass
class HandOutcomes:
    """Per annotated hand (N): where it ended up through the detector; plus per-image counts.

    ``pred`` (N, 21, 2) keypoints in original px, +inf for a missed hand; ``gt`` (N, 21, 3); ``boxes`` (N, 4)
    ground-truth xywh; ``heads`` (N,) head sizes (NaN where none); ``found`` (N,) bool; ``iou`` (N,) IoU with the
    matched detection (0 when missed)."""

    pred: np.ndarray
    gt: np.ndarray
    boxes: np.ndarray
    heads: np.ndarray
    found: np.ndarray
    iou: np.ndarray
    num_images: int = 0
    num_detections: int = 0
    false_positives: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    images: list[dict[str, Any]] = field(default_factory=list)  # per image, ``evaluate_detected_images``' records

    @classmethod
    def concat(cls, parts: Sequence[HandOutcomes]) -> HandOutcomes:
        """The hands and counts of several sets as one (the "all" row: pooled hands, not averaged sets)."""
        def cat(name: str, shape: tuple[int, ...]) -> np.ndarray:
            arrays = [getattr(p, name) for p in parts]
            return np.concatenate(arrays) if arrays else np.zeros((0, *shape))

        return cls(cat("pred", (NUM_KEYPOINTS, 2)), cat("gt", (NUM_KEYPOINTS, 3)), cat("boxes", (4,)),
                   cat("heads", ()), cat("found", ()).astype(bool), cat("iou", ()),
                   sum(p.num_images for p in parts), sum(p.num_detections for p in parts),
                   sum(p.false_positives for p in parts), sum((p.skipped for p in parts), Counter()),
                   [record for p in parts for record in p.images])


def group_by_image(samples: Sequence[Sample]) -> list[list[int]]:
    """Sample indices grouped by image, in order of first appearance; files with identical bytes are one image
    (``detection.identical_files``, as the detector's data reads them; an unreadable file is its own group)."""
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(picture_keys([Path(s.image_path) for s in samples])):
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def detect_hands(predictor: Predictor, samples: Sequence[Sample], detector: Detector | None = None,
                 iou_threshold: float = IOU_FOUND, set_name: str = "") -> HandOutcomes:
    """Run ``detector`` (default ``predictor.detector``) once per image of ``samples``, match its detections to
    the annotated hands and predict the keypoints of the found ones (module docstring: the definitions); each
    image's record (``evaluate_detected_images``) names ``set_name``."""
    from handpose.evaluate import _reason
    from handpose.evaluate_detected_images import image_record

    detector = detector if detector is not None else predictor.detector
    if detector is None:
        raise ValueError("keypoints through the detector need a detector (Predictor.from_file(..., detector=FILE))")
    rows: list[tuple[Sample, np.ndarray, np.ndarray | None, float]] = []  # sample, gt box, keypoints, IoU
    out = HandOutcomes(*(np.zeros(0),) * 6)
    for group in group_by_image(samples):
        hands: list[tuple[Sample, np.ndarray]] = []
        for i in group:
            try:
                hands.append((samples[i], sample_box(samples[i])))
            except ValueError as exc:
                out.skipped[_reason(str(exc))] += 1
        if not hands:
            continue
        try:
            image = read_image(hands[0][0].image_path)
        except (FileNotFoundError, ValueError) as exc:
            out.skipped[_reason(str(exc))] += len(hands)
            LOG.debug("through the detector: skipping %s: %s", hands[0][0].image_path, exc)
            continue
        detections = list(predictor.detect_hands(image) if detector is predictor.detector else detector.detect(image))
        det_boxes = np.array([np.asarray(d.box, np.float64) for d in detections]).reshape(-1, 4)
        gt_boxes = np.stack([b for _, b in hands]).astype(np.float64)
        matched = match_by_iou(det_boxes, gt_boxes, iou_threshold)
        iou = box_iou(det_boxes, gt_boxes)  # (N, M)
        found = [g for g in range(len(hands)) if matched[g] >= 0]
        # a detection whose crop lies off the image is left out: each prediction keeps the detection it came from
        settled = predictor.settle_detections(image, [detections[matched[g]] for g in found])
        by_detection = {id(det): (pred.keypoints, pred.scores) for det, pred in settled}
        keypoints = {g: by_detection[id(detections[matched[g]])] for g in found
                     if id(detections[matched[g]]) in by_detection}  # hand -> ((21, 2) px, (21,) scores)
        for g, (sample, box) in enumerate(hands):
            kp = keypoints[g][0] if g in keypoints else None
            rows.append((sample, box, kp, float(iou[matched[g], g]) if kp is not None else 0.0))
        out.images.append({"set": set_name, **image_record(hands[0][0].image_path,
                                                           [s.key or str(s.image_path) for s, _ in hands],
                                                           matched, iou, keypoints, detections)})
        out.num_images += 1
        out.num_detections += len(detections)
        out.false_positives += int(len(detections) - (matched >= 0).sum())
    n = len(rows)
    out.pred = np.full((n, NUM_KEYPOINTS, 2), np.inf)
    for i, (_, _, kp, _) in enumerate(rows):
        if kp is not None:
            out.pred[i] = kp
    out.gt = np.stack([np.asarray(s.keypoints, np.float64) for s, *_ in rows]) if n else np.zeros((0, NUM_KEYPOINTS, 3))
    out.boxes = np.stack([b for _, b, _, _ in rows]).astype(np.float64) if n else np.zeros((0, 4))
    out.heads = np.array([math.nan if s.head_size is None else float(s.head_size) for s, *_ in rows], np.float64)
    out.found = np.array([kp is not None for _, _, kp, _ in rows], bool)
    out.iou = np.array([v for *_, v in rows], np.float64)
    return out


def detected_metrics(o: HandOutcomes) -> dict[str, Any]:
    """The through-detector figures of :func:`detect_hands`' outcomes (see the module docstring)."""
    everyone = keypoint_metrics(o.pred, o.gt, o.boxes, o.heads)  # missed hands: +inf, a miss at every threshold
    f = o.found
    found_only = keypoint_metrics(o.pred[f], o.gt[f], o.boxes[f], o.heads[f]) if f.any() else {}
    result: dict[str, Any] = {k: v for k, v in everyone.items() if k != "EPE"}
    result.update(
        EPE=float(found_only["EPE"]) if f.any() else math.nan,
        num_hands=int(len(f)),
        num_found=int(f.sum()),
        num_images=o.num_images,
        num_detections=o.num_detections,
        false_positives=o.false_positives,
        FP_per_image=o.false_positives / o.num_images if o.num_images else math.nan,
        mean_matched_IoU=float(o.iou[f].mean()) if f.any() else math.nan,
        found_only={k: v for k, v in found_only.items() if k != "per_keypoint_PCK@0.2"},
        num_skipped=int(sum(o.skipped.values())),
        skipped=dict(o.skipped),
    )
    return result


def _gt_box_metrics(predictor: Predictor, samples: Sequence[Sample], batch_size: int) -> dict[str, Any]:
    """The ground-truth-box column: ``evaluate.evaluate`` with the predictor's own test-time options."""
    from handpose.evaluate import evaluate

    return evaluate(predictor, samples, batch_size=batch_size, flip_test=predictor.flip_test,
                    scales=predictor.spec.scales)


def evaluate_detected(predictor: Predictor, samples: Sequence[Sample], detector: Detector | None = None,
                      batch_size: int = 16, set_name: str = "") -> dict[str, Any]:
    """Both columns for one list of samples: ``evaluate``'s metrics in the ground-truth boxes, with the
    through-detector figures under ``"detector"`` (:func:`detected_metrics`) and each image's record under
    ``"detector_images"`` (``evaluate_detected_images``)."""
    result = _gt_box_metrics(predictor, samples, batch_size)
    outcomes = detect_hands(predictor, samples, detector, set_name=set_name)
    result["detector"] = detected_metrics(outcomes)
    result["detector_images"] = outcomes.images
    return result


def run_detected_evaluation(weights: str | Path, detector: str | Path, data: str | Path, split: str = "val",
                            fmt: str | None = None, keypoint_order: str | None = None, flip_test: bool = False,
                            scales: Sequence[float] = (1.0,), batch_size: int = 16, device: str = "cpu",
                            detector_threshold: float | None = None, out: str | Path | None = None,
                            refine: RefineConfig | None = DEFAULT_REFINE,
                            detector_scales: Sequence[float] = IMAGE_SCALES,
                            val_fraction: float = 0.1) -> dict[str, Any]:
    """The ``handpose eval --detector`` run on one dataset (its ``split``) or a folder of datasets (each one's
    ``split``, then all their hands together); returns the report and writes it to ``out``/eval_detected.json.
    ``val_fraction``: the share held out by hash where a dataset has no split of its own.
    ``refine``: the keypoint refinement of the detector's hands (None: the detector's boxes as they are);
    ``detector_scales``: the detector's letterbox scales (``detection.detector``)."""
    from handpose.data.formats import load_splits
    from handpose.eval_held_out import recorded_fraction, warn_for_split
    from handpose.evaluate_sets import evaluate_sets, find_datasets

    t0 = time.perf_counter()
    predictor = Predictor.from_file(weights, device=device, flip_test=flip_test, scales=scales, detector=detector,
                                    detector_threshold=detector_threshold, refine=refine,
                                    detector_scales=detector_scales)
    found = find_datasets(data)
    if found and found != [Path(data)]:
        result = evaluate_sets(predictor, [data], batch_size=batch_size, detector=predictor.detector, split=split,
                               val_fraction=val_fraction, weights=weights)
        hashed = result.pop("hash_divided")
    else:
        splits = load_splits(data, fmt=fmt, keypoint_order=keypoint_order, val_fraction=val_fraction)
        samples = splits.part(split)
        if not samples:
            raise ValueError(f"{data}: the {split} split is empty ({len(splits.train)} train, {len(splits.val)} val); "
                             "--split all scores every sample")
        warn_for_split(weights, data, splits, split, val_fraction)
        one = evaluate_detected(predictor, samples, batch_size=batch_size, set_name=Path(data).name)
        hashed = splits.hashed
        result = {"sets": {Path(data).name: one}, "all": one}
    report: dict[str, Any] = {
        "weights": str(weights),
        "detector": str(detector),
        "detector_threshold": getattr(predictor.detector, "threshold", None),
        "detector_scales": list(getattr(predictor.detector, "scales", ())),
        "refine": None if predictor.refine is None else dataclasses.asdict(predictor.refine),
        "data": str(data),
        "split": split,
        "val_fraction": recorded_fraction(split, hashed, val_fraction),
        "matching": f"greedy by IoU, highest first, IoU >= {IOU_FOUND}; identical image files are one image",
        "miss_rule": "a hand no detection found: every visible keypoint a miss in PCK, PCKh and AUC; EPE over found "
                     "hands only",
        "flip_test": bool(flip_test),
        "scales": [float(s) for s in predictor.spec.scales],
        **_images_last(result),
    }
    report["seconds"] = round(time.perf_counter() - t0, 2)
    report[IMAGES_KEY] = report.pop(IMAGES_KEY)  # the records last, one image a line
    if out is not None:
        path = write_report(Path(out) / REPORT_NAME, report)
        report["files"] = [str(path)]
    return report


def _images_last(result: dict[str, Any]) -> dict[str, Any]:
    """The report's rows (``sets``, ``all``) and the per-image records (``images``) of a run's result."""
    images = result["all"].pop("detector_images", [])
    for m in result["sets"].values():
        m.pop("detector_images", None)
    return {"sets": {name: _slim(m) for name, m in result["sets"].items()}, "all": _slim(result["all"]),
            IMAGES_KEY: images}


def _slim(m: dict[str, Any]) -> dict[str, Any]:
    """A row of the report: the ground-truth-box metrics under ``gt_boxes``, the detector's at the top; per-keypoint
    PCK by name."""
    det = dict(m["detector"])
    det["per_keypoint_PCK@0.2"] = dict(zip(NAMES, det["per_keypoint_PCK@0.2"]))
    det["gt_boxes"] = {k: v for k, v in m.items() if k not in ("detector", "per_keypoint_PCK@0.2")}
    return det


def format_detected(report: dict[str, Any]) -> str:
    """The table: per set (and all, when there are several) hands, found, false positives per image, PCK@0.2 / AUC
    / EPE through the detector, and PCK@0.2 in the ground-truth boxes."""
    rows = list(report["sets"].items())
    if len(rows) > 1:
        rows.append(("all", report["all"]))
    width = max(4, *(len(name) for name, _ in rows))

    def num(value: float | None, spec: str) -> str:
        width = int(spec.split(".")[0])
        return f"{'-':>{width}}" if value is None or not math.isfinite(value) else format(value, spec)

    lines = [f"{'':<{width}}  {'':>5}  {'':>5}  {'':>6}  {'through the detector':^24}  {'gt boxes':>8}",
             f"{'set':<{width}}  hands  found  FP/img  PCK@0.2    AUC   EPE px   PCK@0.2"]
    for name, m in rows:
        lines.append(f"{name:<{width}}  {m['num_hands']:>5}  {m['num_found']:>5}  {num(m['FP_per_image'], '6.2f')}  "
                     f"{num(m['PCK@0.2'], '7.3f')}  {num(m['AUC'], '5.3f')}  {num(m['EPE'], '7.1f')}   "
                     f"{num(m['gt_boxes']['PCK@0.2'], '7.3f')}")
    lines.append(f"found: IoU >= {IOU_FOUND} with the hand's box (greedy by IoU); a hand not found misses all its "
                 "keypoints in PCK and AUC; EPE over found hands only")
    return "\n".join(lines)
