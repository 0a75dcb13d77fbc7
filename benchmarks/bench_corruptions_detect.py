"""How the shipped hand detector, refined by the keypoint model as ``handpose predict`` refines it on images, degrades
on corrupted photos and on whole scenes turned a quarter or a half (MODEL_CARD.md, "Known failure cases"; the keypoint
model's side is ``bench_corruptions.py``).

Renders ``--count`` held-out scenes (``handpose synth --scenes``, 640 x 480, seed ``--seed``; or ``--data``, a COCO
json of hand boxes), reads them as ``handpose eval --task detect`` does (``detection.coco.read_detection_images``) and
scores them as ``handpose eval --task detect --weights pretrained:detector --keypoints pretrained:lite`` does: the
detect -> keypoint refinement cascade (``RefineConfig()``, every refined hand kept for AP; the detector at
``--detector-scales``, default 1,2 as on images) through ``detection.evaluate.refine_images`` and
``detection.metrics.detection_metrics`` (AP@0.5, AP@0.5:0.95, recall at one false positive per image), plus the share
of hands found and the false positives per image among the hands kept at the default hand threshold
(``RefineConfig.hand_threshold``, matched as ``bench_refine.recall_and_fp``: IoU >= 0.5). Clean, then with every
image corrupted whole (``corruptions.py``: the same corruptions and three severities as the keypoint benchmark, noise
seeded per image, written as PNG), then with every scene turned 90 and 180 degrees counter-clockwise, its boxes turned
with it (``corruptions.turn_quarters``). Printed: one Markdown table, each row with its drop from the clean row.
Usage: python benchmarks/bench_corruptions_detect.py [--count 120] [--seed 1618] [--data hands_coco.json]
       [--detector pretrained:detector] [--keypoints pretrained:lite] [--detector-scales 1,2] [--threads 2]
       [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from bench_refine import recall_and_fp
from corruptions import CORRUPTIONS, SEVERITIES, corrupt, turn_quarters
from held_out_scenes import add_scene_flags, scenes_json
from run_record import record_run

from handpose.commands.detection_flags import detector_scales_from_args

TURNS = (90, 180)  # degrees counter-clockwise, whole quarters


def corrupted_items(items: Sequence[Any], name: str, severity: int, out: Path, seed: int) -> list[Any]:
    """``items`` (``DetectionImage``) whose images are corrupted copies written under ``out`` as PNG, the noise of
    image ``i`` drawn from (``seed``, the corruption, the severity, ``i``)."""
    from handpose.data.images import load_image

    out.mkdir(parents=True, exist_ok=True)
    kept = []
    for i, item in enumerate(items):
        rng = np.random.default_rng([seed, list(CORRUPTIONS).index(name), severity, i])
        path = out / f"{i:05d}.png"
        cv2.imwrite(str(path), corrupt(load_image(item.path)[0], name, severity, rng))
        kept.append(dataclasses.replace(item, path=path))
    return kept


def turned_items(items: Sequence[Any], degrees: int, out: Path) -> list[Any]:
    """``items`` (``DetectionImage``) each turned whole ``degrees`` (a multiple of 90) counter-clockwise, written under
    ``out`` as PNG, with their hand boxes and crowd regions turned alike."""
    from handpose.data.images import load_image

    if degrees % 90:
        raise ValueError(f"scenes turn by whole quarters (90, 180, 270 degrees), got {degrees}")
    out.mkdir(parents=True, exist_ok=True)
    kept = []
    for i, item in enumerate(items):
        image = load_image(item.path)[0]
        turned, boxes = turn_quarters(image, item.boxes, degrees // 90)
        crowd = turn_quarters(image, item.crowd, degrees // 90)[1]
        path = out / f"{i:05d}.png"
        cv2.imwrite(str(path), turned)
        kept.append(dataclasses.replace(item, path=path, boxes=boxes.astype(np.float32),
                                        crowd=crowd.astype(np.float32), size=(turned.shape[1], turned.shape[0])))
    return kept


def score(predictor: Any, items: Sequence[Any]) -> dict[str, float]:
    """AP@0.5, AP@0.5:0.95, recall@1FP (``detection_metrics``) of the refined hands on ``items``, and the share found
    and false positives per image at the predictor's default hand threshold."""
    from handpose.detection.evaluate import refine_images
    from handpose.detection.metrics import detection_metrics
    from handpose.inference.refine import RefineConfig

    results = refine_images(predictor, list(items))
    if len(results) != len(items):
        raise RuntimeError(f"{len(items) - len(results)} of {len(items)} images could not be read")
    m = detection_metrics(results)
    found, fp = recall_and_fp(results, RefineConfig().hand_threshold)
    return {"AP@0.5": m["AP@0.5"], "AP@0.5:0.95": m["AP@0.5:0.95"], "recall@1FP": m["recall@1FP"], "found": found,
            "FP/img": fp}


def table(rows: list[tuple[str, str, dict[str, float], dict[str, float]]], threshold: float) -> str:
    """A Markdown table of (condition, severity, metrics, the clean metrics) rows."""
    lines = [f"| condition | severity | AP@0.5 | AP@0.5:0.95 | recall@1FP | found at {threshold:g} | FP/image at "
             f"{threshold:g} | from clean: AP@0.5 / recall@1FP / found drop |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, severity, m, base in rows:
        lines.append(f"| {name} | {severity} | {m['AP@0.5']:.3f} | {m['AP@0.5:0.95']:.3f} | {m['recall@1FP']:.3f} | "
                     f"{m['found']:.3f} | {m['FP/img']:.2f} | {base['AP@0.5'] - m['AP@0.5']:+.3f} / "
                     f"{base['recall@1FP'] - m['recall@1FP']:+.3f} / {base['found'] - m['found']:+.3f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_scene_flags(parser, count=120, seed=1618, seed_help="render and noise seed (default 1618; the release's "
                    "test scenes are of seed 1000003)")
    parser.add_argument("--quick", action="store_true", help="2 scenes of 320 x 240, the harshest severity "
                        "only")
    args = parser.parse_args()
    record_run()
    torch.set_num_threads(args.threads)
    from handpose.detection.coco import read_detection_images
    from handpose.inference.predictor import Predictor
    from handpose.inference.refine import RefineConfig

    scales = detector_scales_from_args(args)
    # as run_detection_eval builds it for --keypoints: every refined hand kept, AP ranks them by score
    predictor = Predictor.from_file(args.keypoints, detector=args.detector,
                                    refine=dataclasses.replace(RefineConfig(), hand_threshold=0.0),
                                    detector_scales=scales)
    threshold = RefineConfig().hand_threshold
    severities = (3,) if args.quick else (1, 2, 3)
    with tempfile.TemporaryDirectory() as tmp:
        count, size = (2, (320, 240)) if args.quick else (args.count, (640, 480))
        items = read_detection_images(scenes_json(args.data, tmp, count, args.seed, size))
        sides = np.concatenate([im.boxes[:, 2:].max(axis=1) for im in items])
        print(f"{len(items)} images, {len(sides)} hands (box's longer side median {np.median(sides):.0f} px, 10-90%: "
              f"{np.percentile(sides, 10):.0f}-{np.percentile(sides, 90):.0f}); detector {args.detector} at scales "
              f"{','.join(f'{s:g}' for s in scales)}, keypoints {args.keypoints}, hand threshold {threshold:g}, "
              f"{torch.get_num_threads()} threads", flush=True)
        t0 = time.perf_counter()
        clean = score(predictor, items)
        print(f"  clean: AP@0.5 {clean['AP@0.5']:.3f} ({1000 * (time.perf_counter() - t0) / len(items):.0f} ms/image)",
              flush=True)
        rows = [("clean", "-", clean, clean)]
        work = Path(tmp) / "work"
        for name, (what, params) in SEVERITIES.items():
            for severity in severities:
                made = corrupted_items(items, name, severity, work / f"{name}{severity}", args.seed)
                rows.append((name, f"{severity}: {what.format(params[severity - 1])}", score(predictor, made), clean))
                print(f"  {name} {severity}: AP@0.5 {rows[-1][2]['AP@0.5']:.3f}", flush=True)
        for degrees in TURNS:
            m = score(predictor, turned_items(items, degrees, work / f"turn{degrees}"))
            rows.append(("turned", f"{degrees} deg", m, clean))
            print(f"  turned {degrees}: AP@0.5 {m['AP@0.5']:.3f}", flush=True)
    print(f"\n{table(rows, threshold)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
