"""Video accuracy and speed together: the shipped models tracking hands through a labelled clip.

On the real ASL clip (620 x 1080, 325 frames, one hand in view) with MediaPipe Hands' keypoints for every frame
as pseudo-ground truth (MediaPipe's own output, not human labels: a figure here says how close handpose comes to
MediaPipe, within MediaPipe's own error), the shipped detector (scale 1, as video runs it) and the shipped int8
keypoint model run as ``handpose predict`` runs a video (``HandTracker``, refinement on), for each setting:
  fps             frames per second, frames decoded beforehand (decoding not timed), one process, same threads
  found           share of frames where a reported hand matches MediaPipe's (IoU of the two keypoint boxes >= 0.3)
  PCK@0.2         over the matched frames (distance over the longer side of MediaPipe's keypoint box), and over
                  all labelled frames with a missed hand counting 0
  extra/frame     reported hands matching no labelled hand, per frame
Settings: the detector every ``--detect-every`` frames (the video default, 10) and on every frame, each with the
refinement's most proposals (``RefineConfig.max_proposals``) at each of ``--proposals``.
Usage: python benchmarks/bench_video_accuracy.py [VIDEO LABELS] [--frames 325] [--threads 2] [--proposals 12,6,3]
       [--detector FILE] (another detector than the shipped one, to compare candidates on the clip)
       [--merge-points P] [--hand-threshold T] [--passes N] [--confirm-frames K]
(default clip and labels: ../shared/realdata/mediapipe_labelled/asl_video/; skipped with a message when absent.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from run_record import record_run

if TYPE_CHECKING:
    from handpose.inference.predictor import Predictor

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "realdata" / "mediapipe_labelled" / "asl_video"
MATCH_IOU = 0.3


def keypoint_box(points: np.ndarray) -> np.ndarray:
    """(4,) xywh tight box of (21, 2) points, all counted (``transforms.visible_box``)."""
    from handpose.data.transforms import visible_box

    return visible_box(np.column_stack([points, np.ones(len(points))])).astype(np.float64)


def frame_score(hands: list, label: np.ndarray | None) -> tuple[bool, float, int]:
    """(matched, PCK@0.2 of the match or 0, extra hands) of one frame's reported ``hands`` against ``label``
    ((21, 2) or None when MediaPipe saw no hand)."""
    from handpose.detection.metrics import box_iou
    from handpose.metrics import pck

    if label is None:
        return False, 0.0, len(hands)
    if not hands:
        return False, 0.0, 0
    gt = keypoint_box(label)
    boxes = np.stack([keypoint_box(np.asarray(h.keypoints, np.float64)) for h in hands])
    iou = box_iou(gt[None], boxes)[0]  # (hands,)
    best = int(iou.argmax())
    if iou[best] < MATCH_IOU:
        return False, 0.0, len(hands)
    pred = np.asarray(hands[best].keypoints, np.float64)[None]  # (1, 21, 2)
    truth = np.column_stack([label, np.ones(len(label))])[None]  # (1, 21, 3), every keypoint counted
    return True, pck(pred, truth, float(gt[2:].max()), 0.2), len(hands) - 1


def run_row(predictor: Predictor, frames: list[np.ndarray], labels: list, detect_every: int,
            confirm_frames: int = 1) -> dict[str, float]:
    """Track the hand through ``frames`` (detector every ``detect_every`` frames, a new hand shown once followed on
    ``confirm_frames``): frames/s, share of labelled frames with the hand found, PCK@0.2 over those and over all
    labelled frames, false hands per frame."""
    from handpose.inference.tracking import HandTracker, TrackingConfig

    tracker = HandTracker(predictor, TrackingConfig(detect_every=detect_every, confirm_frames=confirm_frames))
    t0 = time.perf_counter()
    outputs = [list(tracker.update(f, i / 25.0)) for i, f in enumerate(frames)]
    fps = len(frames) / (time.perf_counter() - t0)
    scored = [frame_score(h, lab) for h, lab in zip(outputs, labels)]
    labelled = sum(lab is not None for lab in labels)
    matched = [s for s in scored if s[0]]
    return {"fps": fps, "found": len(matched) / max(labelled, 1),
            "pck_matched": float(np.mean([s[1] for s in matched])) if matched else 0.0,
            "pck_all": sum(s[1] for s in matched) / max(labelled, 1),
            "extra": sum(s[2] for s in scored) / len(frames), "detector_runs": tracker.detector_runs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", nargs="?", default=str(CLIP / "asl_hand.25fps.mp4"))
    parser.add_argument("labels", nargs="?", default=str(CLIP / "asl_hand.full.json"))
    parser.add_argument("--frames", type=int, default=325)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--detect-every", type=int, default=10)
    parser.add_argument("--proposals", default="12", help="comma list of RefineConfig.max_proposals to try")
    parser.add_argument("--merge-cover", type=float, default=None, help="RefineConfig.merge_cover for every row "
                        "(default: RefineConfig's)")
    parser.add_argument("--merge-points", type=float, default=None, help="RefineConfig.merge_points for every row "
                        "(default: RefineConfig's)")
    parser.add_argument("--hand-threshold", type=float, default=None, help="RefineConfig.hand_threshold for every "
                        "row (default: RefineConfig's)")
    parser.add_argument("--prune", type=float, default=None, help="RefineConfig.prune_threshold for every row")
    parser.add_argument("--passes", type=int, default=None, help="RefineConfig.passes for every row (default: "
                        "RefineConfig's)")
    parser.add_argument("--confirm-frames", type=int, default=1, help="TrackingConfig.confirm_frames for every row "
                        "(as --track-confirm-frames; default 1: a new hand shown at once)")
    parser.add_argument("--quick", action="store_true", help="60 frames (make bench --quick)")
    parser.add_argument("--detector", default="pretrained:detector", help="hand detector to run (default: the "
                        "shipped one), e.g. a candidate's best.safetensors")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.frames = min(args.frames, 60)
    video, label_file = Path(args.video), Path(args.labels)
    if not (video.is_file() and label_file.is_file()):
        print(f"skipped: clip or labels not found ({video}, {label_file}); give their paths as the arguments")
        return 0
    import torch
    from bench_video import read_frames

    from handpose import pretrained
    from handpose.inference.predictor import Predictor

    torch.set_num_threads(args.threads)
    frames = read_frames(video, args.frames)
    raw = json.loads(label_file.read_text())[: len(frames)]
    labels = [np.asarray(p, np.float64)[:, :2] if p else None for p in raw]  # (21, 2) px or None
    shipped = Predictor.from_file(pretrained.path("lite-int8"), detector=args.detector, detector_scales=(1.0,))
    runtime = type(shipped.detector.model).__name__
    print(f"{video.name}: {len(frames)} frames, {sum(lab is not None for lab in labels)} labelled by MediaPipe; "
          f"shipped lite-int8 + detector {args.detector} ({runtime}) at scale 1, refined; "
          f"{torch.get_num_threads()} threads")
    print(f"{'setting':<34}{'fps':>7}{'found':>8}{'PCK@0.2 matched':>17}{'all':>7}{'extra/frame':>13}")
    for every in (args.detect_every, 1):
        for k in [int(v) for v in args.proposals.split(",") if v.strip()]:
            refine = replace(shipped.refine, max_proposals=k)
            if args.merge_cover is not None:
                refine = replace(refine, merge_cover=args.merge_cover)
            if args.hand_threshold is not None:
                refine = replace(refine, hand_threshold=args.hand_threshold)
            if args.merge_points is not None:
                refine = replace(refine, merge_points=args.merge_points)
            if args.prune is not None:
                refine = replace(refine, prune_threshold=args.prune)
            if args.passes is not None:
                refine = replace(refine, passes=args.passes)
            p = replace(shipped, refine=refine)
            r = run_row(p, frames, labels, every, args.confirm_frames)
            name = f"detect every {every}, {k} proposals"
            print(f"{name:<34}{r['fps']:>7.1f}{r['found']:>8.3f}{r['pck_matched']:>17.3f}{r['pck_all']:>7.3f}"
                  f"{r['extra']:>13.2f}   (detector ran {r['detector_runs']} times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
