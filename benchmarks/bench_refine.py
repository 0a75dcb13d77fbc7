"""Keypoint refinement of detections: detection quality and time per image against the detector alone.

On held-out rendered scenes (``handpose synth --scenes``, 640 x 480, the release's test seed 1000003; or ``--data``,
any COCO json of hand boxes) with the shipped detector and keypoint model (or ``--detector`` / ``--keypoints``),
measures in one run:
  detector alone     AP@0.5, AP@0.5:0.95, recall at 1 false positive per image, by hand size
  refined, N passes  the same for the detect -> keypoint refinement cascade (``inference/refine``) with 1..N passes,
                     every refined hand kept (AP ranks them by their score, `RefineConfig.detector_weight`)
and, for the default number of passes (or ``--variant-passes``), recall (IoU >= 0.5) and false positives per image
at several score thresholds: the table that ``RefineConfig.hand_threshold`` is chosen from (the lowest threshold with
under one false positive per image). Milliseconds per image include reading it.
The detector runs at ``--detector-scales`` (default 1,2, as ``handpose predict`` on images).
Usage: python benchmarks/bench_refine.py [--count 300] [--passes 3] [--data hands_coco.json] [--detector-scales 1,2]
       [--merge-points 0.5] [--detector-weight 0.1,0.3] [--variant-passes 1]
       [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace

import torch
from held_out_scenes import add_scene_flags, scenes_json
from run_record import record_run

from handpose.commands.detection_flags import detector_scales_from_args
from handpose.detection.coco import read_detection_images
from handpose.detection.evaluate import detect_images, refine_images
from handpose.detection.metrics import ImageResult, detection_metrics
from handpose.evaluate_detected import match_by_iou
from handpose.inference.predictor import Predictor
from handpose.inference.refine import RefineConfig

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def recall_and_fp(results: list[ImageResult], threshold: float) -> tuple[float, float]:
    """(share of hands found, kept hands that found none per image) at ``threshold``, matched as ``handpose eval
    --detector`` matches (``evaluate_detected.match_by_iou``: one hand per box, IoU >= 0.5, greedy by IoU)."""
    found = fp = total = 0
    for r in results:
        boxes = r.boxes[r.scores >= threshold]
        matched = match_by_iou(boxes, r.gt_boxes)  # (hands,) index of the box that found each, or -1
        total += len(r.gt_boxes)
        found += int((matched >= 0).sum())
        fp += len(boxes) - int((matched >= 0).sum())
    return found / max(total, 1), fp / max(len(results), 1)


def line(name: str, m: dict[str, float], ms: float) -> str:
    return (f"{name:22s} AP@0.5 {m['AP@0.5']:.3f}  AP@0.5:0.95 {m['AP@0.5:0.95']:.3f}  recall@1FP "
            f"{m['recall@1FP']:.3f}  AP@0.5 <32/32-96/>96 px {m['AP@0.5/small']:.3f}/{m['AP@0.5/medium']:.3f}/"
            f"{m['AP@0.5/large']:.3f}  {ms:.1f} ms/image")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_flags(parser, count=300, seed=1000003, seed_help="the scenes' seed (default 1000003, the release's test "
                    "scenes)")
    parser.add_argument("--passes", type=int, default=3, help="refine with 1..N passes")
    parser.add_argument("--quick", action="store_true", help="20 scenes, 2 passes (make bench --quick)")
    parser.add_argument("--merge-cover", default="", help="comma list of RefineConfig.merge_cover values to try at "
                        "the default passes (hands sharing more than this of the smaller box are one hand)")
    parser.add_argument("--merge-points", default="", help="comma list of RefineConfig.merge_points values to try "
                        "at the default passes (hands with more than this share of keypoints on a better hand's "
                        "are one hand)")
    parser.add_argument("--detector-weight", default="", help="comma list of RefineConfig.detector_weight values to "
                        "try at the default passes (w in the hand's score k^(1-w) * d^w)")
    parser.add_argument("--prune", type=float, default=0.0, help="RefineConfig.prune_threshold of every refined run")
    parser.add_argument("--max-proposals", type=int, default=RefineConfig().max_proposals,
                        help="the detector's best proposals refined (RefineConfig.max_proposals)")
    parser.add_argument("--proposal-threshold", type=float, default=RefineConfig().proposal_threshold,
                        help="the detector's score a proposal needs (RefineConfig.proposal_threshold)")
    parser.add_argument("--box-score", type=float, default=RefineConfig().box_score,
                        help="keypoints scoring at least this make the next crop box (RefineConfig.box_score)")
    parser.add_argument("--merge-iou", type=float, default=RefineConfig().merge_iou,
                        help="refined hands whose boxes overlap more are one hand (RefineConfig.merge_iou)")
    parser.add_argument("--variant-passes", type=int, default=RefineConfig().passes,
                        help="the passes at which the variants and the threshold table run (default: the default "
                        "passes)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.count, args.passes = 20, 2
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        items = read_detection_images(scenes_json(args.data, tmp, args.count, args.seed))
        print(f"{len(items)} images, {sum(im.num_hands for im in items)} hands; detector {args.detector}, keypoints "
              f"{args.keypoints}, {torch.get_num_threads()} threads")
        scales = detector_scales_from_args(args)
        print(f"detector scales {','.join(f'{v:g}' for v in scales)}")
        base = Predictor.from_file(args.keypoints, detector=args.detector, refine=RefineConfig(
            hand_threshold=0.0, max_proposals=args.max_proposals, prune_threshold=args.prune,
            proposal_threshold=args.proposal_threshold, box_score=args.box_score, merge_iou=args.merge_iou),
            detector_scales=scales)
        print(f"refining the best {args.max_proposals} proposals scoring {args.proposal_threshold:g} or more")
        t0 = time.perf_counter()
        alone = detect_images(base.detector, items, batch_size=1, threshold=0.01)
        print(line("detector alone", detection_metrics(alone), 1000 * (time.perf_counter() - t0) / len(items)))
        default = args.variant_passes
        if not 1 <= default <= args.passes:
            parser.error(f"--variant-passes must lie in 1..--passes ({args.passes}), got {default}")
        table = None
        for passes in range(1, args.passes + 1):
            predictor = replace(base, refine=replace(base.refine, passes=passes))
            t0 = time.perf_counter()
            results = refine_images(predictor, items)
            ms = 1000 * (time.perf_counter() - t0) / len(items)
            print(line(f"refined, {passes} pass{'es' if passes > 1 else ''}", detection_metrics(results), ms))
            if passes == default:
                table = results
                variants = [("merge_cover", float(v)) for v in args.merge_cover.split(",") if v.strip()]
                variants += [("merge_points", float(v)) for v in args.merge_points.split(",") if v.strip()]
                variants += [("detector_weight", float(v)) for v in args.detector_weight.split(",") if v.strip()]
                for field, value in variants:
                    other = replace(predictor, refine=replace(predictor.refine, **{field: value}))
                    t0 = time.perf_counter()
                    covered = refine_images(other, items)
                    ms = 1000 * (time.perf_counter() - t0) / len(items)
                    print(line(f"  {field} {value:g}", detection_metrics(covered), ms))
                    for t in THRESHOLDS:
                        recall, fp = recall_and_fp(covered, t)
                        print(f"    at {t:.2f}: recall {recall:.3f}, false positives {fp:.2f} per image")
        if table is not None:
            named = " (the default)" if default == RefineConfig().passes else ""
            print(f"refined with {default} pass{'es' if default > 1 else ''}{named}, hands kept from a score of:")
            chosen = None
            for t in THRESHOLDS:
                recall, fp = recall_and_fp(table, t)
                print(f"  {t:.2f}: recall {recall:.3f}, false positives {fp:.2f} per image")
                chosen = t if chosen is None and fp < 1.0 else chosen
            print(f"the lowest threshold with under one false positive per image: {chosen} (default "
                  f"{RefineConfig().hand_threshold})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
