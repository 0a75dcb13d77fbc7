"""Hard negatives for keypoint training: the hand detector's proposals on labelled scenes that hold no hand.

    python scripts/hard_negatives.py --scenes scenes/scenes/hands_coco.json --out negatives/negatives.json

With keypoint refinement (the default of ``handpose predict``) the keypoint network reads the crop of every detector
proposal scoring at least ``RefineConfig.proposal_threshold`` and scores the hand by its mean keypoint peak. A
network trained on hands only has never been shown a crop without one, so a face, a leg or a striped object can peak
as high as a hand. This script runs the detector as prediction does (two scales, the best ``max_proposals``) over
the images of a COCO hand json (``handpose synth --scenes``, whose every hand is labelled) and keeps the proposals
whose keypoint crop (the proposal's box, padded and squared as ``data.crop`` does) shares less than
``--max-overlap`` of its own area and of every labelled hand box's area with that box (so neither much of a hand
lies in the crop, nor does part of a large hand, its fingers say, fill it): at most ``--per-image`` per image, the
detector's best first. Each is written as a box with a random side (``is_left``, so both mirrors are trained) into a
COCO json that ``handpose train --negatives`` reads (``data.formats.negatives``); image names are relative to that
json's folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from handpose.data import images
from handpose.data.transforms import square_box
from handpose.detection.coco import read_detection_images
from handpose.detection.metrics import box_intersection
from handpose.inference.pipeline import clip_box
from handpose.inference.predictor import Predictor
from handpose.inference.refine import RefineConfig, hand_score


def crop_square(box: np.ndarray, padding: float) -> np.ndarray:
    """(4,) xywh: the square region the keypoint network's crop of ``box`` covers (``padding`` times its longer
    side, about its centre)."""
    center, side = square_box(np.asarray(box, np.float64), padding)
    return np.array([center[0] - side / 2.0, center[1] - side / 2.0, side, side], np.float64)


def negatives_of_image(proposals: np.ndarray, scores: np.ndarray, hands: np.ndarray, padding: float,
                       max_overlap: float, per_image: int | None, min_size: float = 0.0) -> list[int]:
    """Indices of the proposals (N, 4) xywh, best ``scores`` first, whose longer side is at least ``min_size`` px
    and whose crop squares share less than ``max_overlap`` of their own area and of each hand box's area with every
    hand box (M, 4) xywh; at most ``per_image`` (None: all)."""
    keep: list[int] = []
    areas = np.prod(hands[:, 2:], axis=1) if len(hands) else np.zeros(0)  # (M,)
    for i in np.argsort(-scores, kind="stable"):
        if per_image is not None and len(keep) >= per_image:
            break
        if proposals[i, 2:].max() < min_size:
            continue
        sq = crop_square(proposals[i], padding)[None]  # (1, 4)
        inter = box_intersection(sq, hands)[0] if len(hands) else np.zeros(0)  # (M,)
        # neither much of a hand in the crop, nor a crop filled by part of a large hand (its fingers, say)
        if (inter < max_overlap * np.minimum(areas, sq[0, 2] * sq[0, 3])).all():
            keep.append(int(i))
    return keep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scenes", required=True, help="COCO hand json whose every hand is labelled (synth --scenes)")
    parser.add_argument("--out", required=True, help="the negatives json to write (must not exist)")
    parser.add_argument("--keypoints", default="pretrained:lite",
                        help="keypoint model: its crop padding, and the hand score of --min-hand-score")
    parser.add_argument("--detector", default="pretrained:detector", help="hand detector")
    parser.add_argument("--limit", type=int, default=None, help="the first N images only")
    parser.add_argument("--per-image", type=int, default=2, help="negatives kept per image, best-scored first")
    parser.add_argument("--max-overlap", type=float, default=0.2,
                        help="share of a labelled hand's box, and of its own area, that a negative's crop may "
                             "share with that box")
    parser.add_argument("--min-size", type=float, default=0.0, help="a negative's longer side in px, at least")
    parser.add_argument("--min-hand-score", type=float, default=0.0,
                        help="keep only proposals that the keypoint model scores at least this as a hand (the "
                             "refinement's score, RefineConfig.detector_weight mixing in the detector's): the "
                             "negatives it gets wrong")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random sides")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        parser.error(f"{out} exists; give a new --out (nothing is overwritten)")
    items = read_detection_images(args.scenes)[: args.limit]
    predictor = Predictor.from_file(args.keypoints, detector=args.detector, refine=RefineConfig())
    padding = float(predictor.spec.box_padding)
    max_props, weight = RefineConfig().max_proposals, RefineConfig().detector_weight
    rng = np.random.default_rng(args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.parent.resolve()
    image_entries, annotations = [], []
    t0 = time.perf_counter()
    for n, item in enumerate(items):
        try:
            image, _ = images.load_image(item.path, images.DEFAULT_MAX_PIXELS)
        except images.ImageError as err:
            print(f"skipped {err}", file=sys.stderr)
            continue
        dets = predictor.detector.detect(image)[:max_props]
        boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)  # (N, 4)
        scores = np.array([d.score for d in dets], np.float64)  # (N,)
        keep = negatives_of_image(boxes, scores, item.boxes.astype(np.float64), padding, args.max_overlap,
                                  None if args.min_hand_score > 0 else args.per_image, args.min_size)
        if args.min_hand_score > 0:
            keep = [i for i in keep if clip_box(boxes[i], image.shape[:2]) is not None]
            preds = predictor.predict_detections(image, [dets[i] for i in keep]) if keep else []
            hand = [hand_score(float(np.mean(p.scores)), float(scores[i]), weight) for i, p in zip(keep, preds)]
            keep = [i for i, h in zip(keep, hand) if h >= args.min_hand_score][: args.per_image]
        if not keep:
            continue
        h, w = image.shape[:2]
        image_id = len(image_entries)
        image_entries.append({"id": image_id, "file_name": os.path.relpath(item.path.resolve(), folder),
                              "width": int(w), "height": int(h)})
        for i in keep:
            annotations.append({"id": len(annotations), "image_id": image_id, "category_id": 0,
                                "bbox": [round(float(v), 2) for v in boxes[i]], "score": round(float(scores[i]), 4),
                                "is_left": int(rng.random() < 0.5)})
        if (n + 1) % 500 == 0:
            print(f"{n + 1} images, {len(annotations)} negatives, {time.perf_counter() - t0:.0f} s", flush=True)
    doc = {"info": {"description": "handpose hard negatives: detector proposals holding no hand",
                    "scenes": str(Path(args.scenes).resolve()), "keypoints": args.keypoints,
                    "detector": args.detector, "per_image": args.per_image, "max_overlap": args.max_overlap,
                    "min_size": args.min_size, "min_hand_score": args.min_hand_score},
           "images": image_entries, "annotations": annotations,
           "categories": [{"id": 0, "name": "not_hand"}]}
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, out)
    print(f"{len(annotations)} negatives in {len(image_entries)} of {len(items)} images -> {out} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
