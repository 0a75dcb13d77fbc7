"""FreiHAND reading time: a full-size synthetic ``training_xyz.json`` + ``training_K.json`` (32,560 annotations)
with 130,240 image files, written into a temporary folder with numpy (no real FreiHAND data is needed).

Measures, best of ``--repeats`` runs each (warm page cache):
1. the two json files -> projected keypoints (``freihand_labels.read_labels``: parse, one numpy conversion, project,
   validate);
2. the whole ``load_splits`` (also the rgb/ listing, one header read and 130,240 samples with the hash split).
The image files are empty but the first (a real 224 x 224 JPEG, whose header gives the size): reading never decodes
images. Usage: ``python benchmarks/bench_freihand.py [--quick] [--annotations N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from run_record import record_run

from handpose.data.formats import load_splits
from handpose.data.formats.freihand_files import Part
from handpose.data.formats.freihand_labels import read_labels

FULL = 32_560  # FreiHAND_pub_v2's training annotations
VERSIONS = 4  # images per training annotation


def write_root(root: Path, n: int, seed: int = 0) -> None:
    """training_{xyz,K}.json of n annotations (joints about 0.6 m in front of the camera, numbers at full float
    precision as the dataset writes them) and training/rgb/ with n * 4 image files."""
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0.0, 0.04, (n, 21, 3))  # (n, 21, 3) metres
    xyz[..., 2] += 0.6
    k = np.tile(np.array([[480.0, 0.0, 112.0], [0.0, 480.0, 112.0], [0.0, 0.0, 1.0]]), (n, 1, 1))  # (n, 3, 3)
    k[:, :2, :] += rng.normal(0.0, 2.0, (n, 2, 3)) * np.array([1.0, 0.0, 1.0])  # focal and centre vary per sample
    (root / "training_xyz.json").write_text(json.dumps(xyz.tolist()))
    (root / "training_K.json").write_text(json.dumps(k.tolist()))
    rgb = root / "training" / "rgb"
    rgb.mkdir(parents=True)
    assert cv2.imwrite(str(rgb / "00000000.jpg"), np.zeros((224, 224, 3), np.uint8))
    for i in range(1, n * VERSIONS):
        (rgb / f"{i:08d}.jpg").touch()


def best_of(repeats: int, fn: object) -> float:
    """The shortest of ``repeats`` timed calls of ``fn``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the annotations: a few seconds")
    parser.add_argument("--annotations", type=int, default=None, help=f"annotations ({FULL}; quick {FULL // 10})")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each figure (the best is shown)")
    args = parser.parse_args()
    record_run()
    n = args.annotations or (FULL // 10 if args.quick else FULL)
    with tempfile.TemporaryDirectory(prefix="bench_freihand_") as tmp:
        root = Path(tmp)
        write_root(root, n)
        mb = sum((root / f"training_{k}.json").stat().st_size for k in ("xyz", "K")) / 1e6
        print(f"bench_freihand: {n} annotations ({mb:.1f} MB of json), {n * VERSIONS} image files; best of "
              f"{args.repeats}")
        labels = best_of(args.repeats, lambda: read_labels(Part("training", root)))
        print(f"  json pair -> projected keypoints (read_labels)   : {labels:6.2f} s")
        whole = best_of(args.repeats, lambda: load_splits(root, "freihand"))
        splits = load_splits(root, "freihand")
        print(f"  load_splits (listing, samples, hash split)        : {whole:6.2f} s = "
              f"{len(splits.train)} train + {len(splits.val)} val samples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
