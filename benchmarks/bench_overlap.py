"""Overlapping hands through the detect -> keypoint refinement cascade: where a hand that overlaps another is lost.

On rendered scenes (``--count`` scenes of ``--seed`` rendered here, 640 x 480, or ``--data``, a COCO json of hand
boxes such as ``handpose synth --scenes`` writes), the hands that overlap another labelled hand (box IoU >=
``--overlap-iou``; "inside": otherwise more than ``--overlap-cover`` of the smaller box inside the other) are
counted as found (IoU >= 0.5 with a hand, one hand per box, ``evaluate_detected.match_by_iou``) after each step of
``handpose predict``'s cascade on images, beside the other hands as a control:
  peaks          the detector's peaks from the proposal threshold, no overlap suppression (``nms_iou`` 1)
  detector       the detector as shipped (its overlap suppression), the best ``max_proposals``: what refinement sees
  refined        each proposal re-boxed and re-scored by the keypoint network, no merge rule
  + IoU merge    refined hands whose boxes overlap by more than ``merge_iou`` merged
  + point merge  ... and hands sharing keypoints merged (``merge_points``): the default refinement, any score
  at threshold   ... the hands scoring ``hand_threshold`` or more: what ``handpose predict`` reports
with how many overlapping hands each step lost (found by the step before it, not by it), the false positives per
image at the threshold, and AP of the refined hands over every image scored (the check that a change for overlapping
hands costs nothing elsewhere). ``--variant field=value[,field=value]`` (``RefineConfig`` fields, or the
detector's ``nms_iou``) adds a run of the whole cascade with those changes. ``--overlapping-only`` scores only the
images that hold an overlapping or inside pair (in a large render few scenes have one). The keypoints of a crop are
computed once and shared by every step and variant.
Usage: python benchmarks/bench_overlap.py [--count 6000 --seed 31 | --data SCENES/hands_coco.json]
       [--overlapping-only] [--variant merge_points=0.8 --variant nms_iou=0.8 ...] [--limit N] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from held_out_scenes import add_scene_flags, scenes_json
from run_record import record_run

from handpose.commands.detection_flags import detector_scales_from_args
from handpose.data import images
from handpose.detection.coco import DetectionImage, read_detection_images
from handpose.detection.metrics import ImageResult, box_iou, detection_metrics, smaller_cover
from handpose.evaluate_detected import match_by_iou
from handpose.inference.predictor import Predictor
from handpose.inference.refine import RefineConfig, refine_detections

STEPS = ("peaks", "detector", "refined", "+ IoU merge", "+ point merge", "at threshold")


class SharedKeypoints:
    """A predictor whose keypoints of each crop of the current image are computed once (refinement with one pass
    crops the same proposals whatever its merge rules)."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.cache: dict[tuple, Any] = {}
        self.found: dict[tuple[float, float], list[Any]] = {}  # (nms_iou, threshold) -> the detector's hands

    def new_image(self) -> None:
        self.cache.clear()
        self.found.clear()

    def detect(self, image_bgr: np.ndarray, nms_iou: float, threshold: float) -> list[Any]:
        """The detector's hands of the current image from ``threshold``, overlaps over ``nms_iou`` suppressed."""
        if (nms_iou, threshold) not in self.found:
            detector = self.predictor.detector
            shipped = detector.codec
            try:
                detector.codec = replace(shipped, nms_iou=nms_iou)
                self.found[nms_iou, threshold] = detector.detect(image_bgr, threshold)
            finally:
                detector.codec = shipped
        return self.found[nms_iou, threshold]

    @staticmethod
    def key(det: Any) -> tuple:
        crop = None if det.crop_box is None else tuple(np.round(np.asarray(det.crop_box, np.float64), 4))
        return (tuple(np.round(np.asarray(det.box, np.float64), 4)), crop, bool(det.is_left),
                round(float(det.left_score), 6), bool(det.side_settled))

    def predict_detections(self, image_bgr: np.ndarray, detections: Sequence[Any]) -> list[Any]:
        missing = [d for d in detections if self.key(d) not in self.cache]
        if missing:  # refine drops boxes off the image before asking: each one asked for gets its keypoints
            for det, pred in zip(missing, self.predictor.predict_detections(image_bgr, missing)):
                self.cache[self.key(det)] = pred
        return [self.cache[self.key(d)] for d in detections]


GROUPS = ("overlapping", "inside", "others")  # what :func:`overlapping` calls each labelled hand


def overlapping(gt_boxes: np.ndarray, min_iou: float, min_cover: float) -> tuple[np.ndarray, int, int]:
    """((M,) each labelled hand's group: 0 overlapping another by box IoU ``min_iou`` or more, 1 otherwise sharing
    more than ``min_cover`` of the smaller box with another (one inside the other's box), 2 neither; the numbers of
    pairs of the first kind and of either kind)."""
    n = len(gt_boxes)
    if n < 2:
        return np.full(n, 2), 0, 0
    iou = box_iou(gt_boxes, gt_boxes) >= min_iou  # (M, M)
    near = iou | (smaller_cover(gt_boxes, gt_boxes) > min_cover)  # (M, M)
    np.fill_diagonal(iou, False)
    np.fill_diagonal(near, False)
    group = np.where(iou.any(axis=1), 0, np.where(near.any(axis=1), 1, 2))
    return group, int(np.triu(iou).sum()), int(np.triu(near).sum())


@dataclass
class Steps:
    """One image's hands (boxes (N, 4), scores (N,)) after each step of :data:`STEPS`."""

    boxes: dict[str, np.ndarray]
    scores: dict[str, np.ndarray]


def as_arrays(dets: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (N, 4), scores (N,)) of detections, best first."""
    order = sorted(dets, key=lambda d: -float(d.score))
    return (np.array([np.asarray(d.box, np.float64) for d in order]).reshape(-1, 4),
            np.array([float(d.score) for d in order], np.float64))


def run_steps(shared: SharedKeypoints, image: np.ndarray, refine: RefineConfig,
              nms_iou: float) -> Steps:
    """The cascade's hands after each step on one image, with ``refine`` and the detector's ``nms_iou``."""
    peaks = shared.detect(image, 1.0, refine.proposal_threshold)
    found = shared.detect(image, nms_iou, refine.proposal_threshold)
    found = sorted(found, key=lambda d: -float(d.score))[: refine.max_proposals]
    off = replace(refine, hand_threshold=0.0, merge_iou=1.0, merge_cover=1.0, merge_points=1.0)
    steps = {"peaks": peaks, "detector": found,
             "refined": refine_detections(shared, image, found, off),
             "+ IoU merge": refine_detections(shared, image, found, replace(off, merge_iou=refine.merge_iou,
                                                                           merge_cover=refine.merge_cover)),
             "+ point merge": refine_detections(shared, image, found, replace(refine, hand_threshold=0.0))}
    steps["at threshold"] = [d for d in steps["+ point merge"] if float(d.score) >= refine.hand_threshold]
    arrays = {name: as_arrays(dets) for name, dets in steps.items()}
    return Steps({k: v[0] for k, v in arrays.items()}, {k: v[1] for k, v in arrays.items()})


def report(name: str, items: list[DetectionImage], runs: list[Steps], groups: list[np.ndarray]) -> None:
    """Found shares of each group of hands (:data:`GROUPS`) after each step, how many of the first two groups each
    step lost (found by the step before, not by this one), and AP of the full cascade over every image."""
    found = {s: [] for s in STEPS}
    for item, steps in zip(items, runs):
        for s in STEPS:
            found[s].append(match_by_iou(steps.boxes[s], item.boxes.astype(np.float64)) >= 0)
    group = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    print(f"{name}: " + ", ".join(f"{int((group == g).sum())} {label}" for g, label in enumerate(GROUPS)))
    lost_at = {s: [0, 0] for s in STEPS}
    for i, s in enumerate(STEPS):
        hit = np.concatenate(found[s])
        shares = [f"{label} {hit[group == g].mean() if (group == g).any() else float('nan'):.3f} "
                  f"({int(hit[group == g].sum())})" for g, label in enumerate(GROUPS)]
        print(f"  {s:14s} " + "   ".join(shares))
        before = np.concatenate(found[STEPS[i - 1]]) if i else np.ones_like(hit)
        lost_at[s] = [int(((group == g) & before & ~hit).sum()) for g in (0, 1)]
    print("  lost at each step (overlapping, inside): " + ", ".join(f"{s} {a}/{b}" for s, (a, b) in lost_at.items()))
    results = [ImageResult(st.boxes["+ point merge"], st.scores["+ point merge"], np.zeros(len(st.scores[
        "+ point merge"])), it.boxes.astype(np.float64), it.is_left, it.left_known, it.crowd.astype(np.float64))
        for it, st in zip(items, runs)]
    false = sum(len(st.boxes["at threshold"]) - int((match_by_iou(st.boxes["at threshold"], it.boxes.astype(
        np.float64)) >= 0).sum()) for it, st in zip(items, runs))
    m = detection_metrics(results)
    print(f"  at threshold: {false / max(len(items), 1):.2f} false positives per image")
    print(f"  refined, every image scored: AP@0.5 {m['AP@0.5']:.3f}  AP@0.5:0.95 {m['AP@0.5:0.95']:.3f}  recall@1FP "
          f"{m['recall@1FP']:.3f}", flush=True)


def parse_variant(text: str) -> dict[str, float]:
    """``FIELD=VALUE[,FIELD=VALUE...]`` of ``--variant`` as {field: value}."""
    out = {}
    for part in text.split(","):
        field, _, value = part.partition("=")
        if field != "nms_iou" and field not in RefineConfig.__dataclass_fields__:
            raise argparse.ArgumentTypeError(f"--variant {text!r}: {field!r} is neither nms_iou nor a RefineConfig "
                                             "field")
        try:
            out[field] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--variant {text!r}: the value after '{field}=' is not a "
                                             "number") from None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_flags(parser, count=300, seed=31, seed_help="the scenes' seed (default a validation seed, not the "
                    "release's test seed 1000003)")
    parser.add_argument("--overlap-iou", type=float, default=0.2, help="labelled hands overlapping another by this "
                        "box IoU or more are the overlapping ones")
    parser.add_argument("--overlap-cover", type=float, default=0.5, help="... or with more than this share of the "
                        "smaller box inside the other")
    parser.add_argument("--overlapping-only", action="store_true", help="score only images with an overlapping pair")
    parser.add_argument("--limit", type=int, default=None, help="the first N images scored")
    parser.add_argument("--quick", action="store_true", help="20 scenes (make bench --quick)")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[], metavar="FIELD=VALUE[,...]",
                        help="also run the cascade with these RefineConfig fields (or the detector's nms_iou) changed")
    args = parser.parse_args()
    record_run()
    torch.set_num_threads(args.threads)
    if args.quick:
        args.count = 20
    with tempfile.TemporaryDirectory() as tmp:
        return measure(args, scenes_json(args.data, tmp, args.count, args.seed))


def measure(args: argparse.Namespace, data: str) -> int:
    """Every setup's steps on the images of ``data`` (main's arguments), then their reports."""
    items = read_detection_images(data)
    flags = [overlapping(it.boxes.astype(np.float64), args.overlap_iou, args.overlap_cover) for it in items]
    print(f"{len(items)} images, {sum(it.num_hands for it in items)} hands; pairs of hands with box IoU >= "
          f"{args.overlap_iou:g}: {sum(f[1] for f in flags)}, with that or more than {args.overlap_cover:g} of the "
          f"smaller box inside the other: {sum(f[2] for f in flags)} (in {sum(f[2] > 0 for f in flags)} images)")
    chosen = [i for i, f in enumerate(flags) if f[2] > 0 or not args.overlapping_only][: args.limit]
    items, over = [items[i] for i in chosen], [flags[i][0] for i in chosen]
    predictor = Predictor.from_file(args.keypoints, detector=args.detector, detector_scales=detector_scales_from_args(
        args))
    shared = SharedKeypoints(predictor)
    base = predictor.refine or RefineConfig()
    nms = float(predictor.detector.codec.nms_iou)
    setups = [("as shipped", base, nms)]
    for change in args.variant:
        name = ", ".join(f"{field} {value:g}" for field, value in change.items())
        fields = {k: v for k, v in change.items() if k != "nms_iou"}
        setups.append((name, replace(base, **fields), change.get("nms_iou", nms)))
    runs: list[list[Steps]] = [[] for _ in setups]
    t0 = time.perf_counter()
    for item in items:
        image, _ = images.load_image(item.path)
        shared.new_image()
        for k, (_, refine, nms_iou) in enumerate(setups):
            runs[k].append(run_steps(shared, image, refine, nms_iou))
    print(f"scored {len(items)} images in {time.perf_counter() - t0:.0f} s")
    for (name, _, _), steps in zip(setups, runs):
        report(name, items, steps, over)
    return 0


if __name__ == "__main__":
    sys.exit(main())
