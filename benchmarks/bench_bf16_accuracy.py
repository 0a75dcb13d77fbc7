"""How far bf16 autocast moves a trained keypoint model's keypoints against fp32, on labelled hands.

The speed trial (``handpose.autotune``) rejects bf16 for inference when the mean shift reaches 0.5 px on its trial
crop; this measures the same on a dataset. Both passes run on the same crops, one after the other, one thread.

Usage: python benchmarks/bench_bf16_accuracy.py [--weights pretrained:lite] [--data DATA] [--count 300] [--quick]
(without --data, held-out hands are rendered into a temporary folder with the model card's test seed)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from run_record import record_run

from handpose import pretrained
from handpose.data.crop import sample_box
from handpose.data.formats import load_splits
from handpose.inference.predictor import Predictor
from handpose.model import artifact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default="pretrained:lite")
    parser.add_argument("--data", default=None, help="labelled hands (any format handpose reads; default: renders)")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="100 hands")
    args = parser.parse_args()
    record_run()
    torch.set_num_threads(1)
    count = 100 if args.quick else args.count
    with tempfile.TemporaryDirectory(prefix="handpose-bf16-") as tmp:
        if args.data is None:
            from handpose.synth import write_dataset

            args.data = str(write_dataset(Path(tmp), count=count, seed=1_000_003, size=256, workers=2))
        measure(args.weights, args.data, count)


def measure(weights: str, data: str, count: int) -> None:
    """Print the mean, median and 95th-percentile keypoint shift of bf16 against fp32 on ``count`` hands."""
    splits = load_splits(data)
    samples = (splits.train + splits.val)[:count]
    path = pretrained.resolve(weights)
    model = artifact.load_model(path)
    cfg = artifact.read_data_config(path, model.config)
    found = {}
    for bf16 in (False, True):
        predictor = Predictor.from_model(model, cfg, autocast_bf16=bf16)
        prepared = [predictor.spec.prepare_file(s.image_path, sample_box(s), s.is_left) for s in samples]
        found[bf16] = np.stack([r.keypoints for r in predictor.predict_prepared(prepared)])  # (N, 21, 2)
    shift = np.linalg.norm(found[True] - found[False], axis=-1)  # (N, 21) image px
    print(f"bf16 vs fp32, {weights} on {len(samples)} hands of {data}: mean shift {shift.mean():.3f} px, "
          f"median {np.median(shift):.3f}, 95th percentile {np.percentile(shift, 95):.2f} px (image pixels)")


if __name__ == "__main__":
    main()
