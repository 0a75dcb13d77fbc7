"""Render a synthetic labelled hand dataset (no download) in CMU's hand_labels_synth format.

Writes OUT/FOLDER/NNNNNNNN.jpg + NNNNNNNN.json with "hand_pts" (21 x [x, y, v]) and "is_left", the layout that
`handpose train --data` reads. The files are byte-for-byte reproducible from --seed, whatever --workers is.

Example:
  handpose synth --out data/synth --count 2000 --seed 0 --workers 2
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset root; images go into OUT/FOLDER")
    parser.add_argument("--count", type=int, required=True, help="number of images (one hand each)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=368, help="image side in pixels (default 368)")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes (default 1)")
    parser.add_argument("--folder", default="synth1", help="sub-folder name (default synth1)")


def run(args: argparse.Namespace) -> int:
    from handpose.synth import write_dataset

    folder = write_dataset(args.out, args.count, args.seed, size=args.size, workers=args.workers, folder=args.folder)
    print(folder)
    return 0
