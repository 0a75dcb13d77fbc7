"""How far a one-pixel shift of a hand's box moves the keypoints (MODEL_CARD.md, "Sensitive to the box").

For every labelled hand under ``--data`` (a dataset, or a folder of datasets such as the model card's PHOTOS), the
keypoint model (``--keypoints``, default the shipped ``pretrained:lite``, float32) reads the hand in its
ground-truth box (``data.crop.sample_box``) and in that box shifted one pixel left, right, up and down, as
``Predictor.predict(image, box=..., is_left=...)`` (``handpose predict --box``) runs it: the side given where the
dataset gives it, else chosen by the network. Printed: how far each keypoint moved from its reading in the
unshifted box, over the box's longer side (mean, median, the share and number of keypoints moved more than 0.1 of
it, the largest). Without ``--data``: the 32 rendered hands checked in for ``tests/test_pretrained.py``.
Usage: python benchmarks/bench_box_shift.py [--data PHOTOS] [--keypoints pretrained:lite] [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from run_record import record_run

SHIFTS = ((-1, 0), (1, 0), (0, -1), (0, 1))
CHECKED_IN = Path(__file__).resolve().parents[1] / "tests" / "data" / "pretrained_check" / "hands"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(CHECKED_IN), help="a labelled dataset or a folder of them (default: "
                        "the checked-in renders of tests/data/pretrained_check)")
    parser.add_argument("--keypoints", default="pretrained:lite")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the first 4 hands only (make bench --quick)")
    args = parser.parse_args()
    record_run()
    torch.set_num_threads(args.threads)
    from handpose import pretrained
    from handpose.data.crop import sample_box
    from handpose.data.formats import load_splits
    from handpose.evaluate_sets import find_datasets
    from handpose.inference.predictor import Predictor
    from handpose.inference.prepare import read_image

    predictor = Predictor.from_file(pretrained.resolve(args.keypoints))
    samples = [s for path in find_datasets(args.data) for s in load_splits(path).part("all")]
    if args.quick:
        samples = samples[:4]
    moved = []
    for s in samples:
        image, box = read_image(s.image_path), np.asarray(sample_box(s), np.float64)
        side = bool(s.is_left) if s.side_known else None
        base = predictor.predict(image, box=tuple(box), is_left=side).keypoints
        for dx, dy in SHIFTS:
            shifted = predictor.predict(image, box=tuple(box + (dx, dy, 0, 0)), is_left=side).keypoints
            moved.append(np.hypot(*(shifted - base).T) / max(box[2], box[3]))
    m = np.concatenate(moved)
    print(f"{len(samples)} hands of {args.data}; keypoints {args.keypoints}; {len(moved)} shifted boxes, "
          f"{m.size} keypoints")
    print(f"keypoint moved, over the box's longer side: mean {m.mean():.3f}, median {np.median(m):.3f}, "
          f"more than 0.1: {(m > 0.1).mean():.1%} ({int((m > 0.1).sum())}), largest {m.max():.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
