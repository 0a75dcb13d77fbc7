"""Left or right: how often the keypoint model's two-way crop picks a hand's true side, and what the side costs.

The shipped keypoint model was trained with left hands mirrored to right hands, so a crop must be mirrored when the
hand is a left one. The shipped detector cannot tell the side (its left/right head is a coin toss, MODEL_CARD.md),
so the pipeline runs each unsure crop both ways and keeps the way whose keypoints score higher
(``Predictor.side_unsure``, ``predictor.second_is_more_confident``). On held-out renders (``handpose synth``, 256 x
256, the release's test seed 1000003; or ``--data``, any dataset handpose reads whose samples carry their side), in
the ground-truth boxes (``data.crop.sample_box``), with the shipped keypoint model (or ``--keypoints``), for each way
of choosing the side:
  side right   the share of hands whose chosen side is their true one
  PCK@0.2      of the keypoints read with that side (``metrics.keypoint_metrics``, MMPose's definition)
Rows: every crop as a right hand (no mirror), the two-way choice (the default), and the true side (the labels).
Usage: python benchmarks/bench_side.py [--data FOLDER | --count 1000] [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from run_record import record_run

if TYPE_CHECKING:
    from handpose.inference.predictor import Predictor


def read_both_ways(predictor: Predictor, samples: list, batch: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 21, 2) keypoints read as a right hand, (N, 21, 2) mirrored (as a left hand), (N,) the two-way choice
    (True: left), for every sample in its ground-truth box."""
    from handpose.data.crop import sample_box
    from handpose.inference.predictor import second_is_more_confident
    from handpose.inference.prepare import read_image

    right, left, choice = [], [], []
    for start in range(0, len(samples), batch):
        prepared = []
        for s in samples[start : start + batch]:
            image, box = read_image(s.image_path), sample_box(s)
            prepared += [predictor.spec.prepare(image, box, False), predictor.spec.prepare(image, box, True)]
        preds = predictor.predict_prepared(prepared)
        for r, lf in zip(preds[0::2], preds[1::2]):
            right.append(r.keypoints)
            left.append(lf.keypoints)
            choice.append(second_is_more_confident(r, lf))
    return np.stack(right), np.stack(left), np.array(choice, bool)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="a labelled dataset (default: render --count hands)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1000003)
    parser.add_argument("--keypoints", default="pretrained:lite")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="100 renders (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.count = 100
    torch.set_num_threads(args.threads)
    from handpose import pretrained
    from handpose.data.crop import sample_box
    from handpose.data.formats.load import read_samples
    from handpose.inference.predictor import Predictor
    from handpose.metrics import keypoint_metrics

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from handpose.synth.writer import write_dataset

            data = str(write_dataset(Path(tmp) / "test", args.count, args.seed, size=256, workers=1))
        tagged, fmt, _ = read_samples(data)
        samples = [s for s, _ in tagged if np.asarray(s.keypoints)[:, 2].sum() > 0]
        predictor = Predictor.from_file(pretrained.resolve(args.keypoints))
        if not predictor.spec.mirror_left:
            print(f"{args.keypoints} was not trained with left hands mirrored: its crops are never mirrored")
            return 0
        t0 = time.perf_counter()
        right, left, choice = read_both_ways(predictor, samples)
        seconds = time.perf_counter() - t0
    truth = np.array([bool(s.is_left) for s in samples])
    gt = np.stack([np.asarray(s.keypoints, np.float64) for s in samples])  # (N, 21, 3)
    boxes = np.stack([sample_box(s) for s in samples]).astype(np.float64)  # (N, 4)
    print(f"{len(samples)} hands of {data} ({fmt}), {truth.mean():.0%} left; keypoints {args.keypoints}; "
          f"{torch.get_num_threads()} threads; both ways read in {seconds:.1f} s")
    print(f"{'side chosen':<44}{'side right':>11}{'PCK@0.2':>9}")
    rows = (("every crop as a right hand (no mirror)", np.zeros_like(truth)),
            ("both ways, higher mean keypoint peak (default)", choice),
            ("the true side (labels)", truth))
    for name, is_left in rows:
        pred = np.where(is_left[:, None, None], left, right)  # (N, 21, 2)
        pck = float(keypoint_metrics(pred, gt, boxes)["PCK@0.2"])
        print(f"{name:<44}{np.mean(is_left == truth):>11.3f}{pck:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
