"""`handpose eval --task detect`: peak resident memory against the number of images, which should stay nearly level.

Writes a COCO box json of small noise images (128 x 96, one or two hand boxes each) and a tiny random detector
(input 128, up to 20 hands an image, every score kept: about 18 detections an image are left, about as many as
the shipped detector leaves at the evaluation's threshold of 0.01), then runs the public command in a child process
per row (``eval --task detect --detector-scales 1 --out DIR``) at two image counts, and reads each child's peak
resident memory (``ru_maxrss`` from ``os.wait4``). Rows:
  tallied    the command as it is: each scored image leaves only what the metrics need in compact arrays, and its
             ``detections`` line goes to a hidden line file copied into the report at the end
  kept       the baseline, in the same run: the same command with every image's result (``ImageResult``) and its
             report record also kept in lists until the end, as the evaluation kept them before it tallied
  read       the floor under both: the child only reads the json (``read_detection_images``), its images kept as
             ``DetectionImage``s, as the evaluation holds them while it scores
The slope is (peak at the larger count - peak at the smaller) / (images between them), in kB an image.
``--traced``: Python's allocations instead (``tracemalloc`` in each child, slower, so take smaller counts), apart
for the json's reading and what comes after it: ``read peak`` while ``read_detection_images`` reads the json,
``images held`` after it (the ``DetectionImage`` list every row keeps while scoring), ``scoring peak`` the highest
from then to the end (the images held included); the resident sizes of that run are tracemalloc's, not the rows'.
POSIX only (``os.wait4``). Usage: python benchmarks/bench_detect_eval_memory.py [--counts 500,4000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from run_record import record_run

KEEP_RESULTS = """
import sys
from handpose.detection import stored_detections
kept = []
real_add = stored_detections.DetectionLines.add
def add(self, item, result):
    kept.append((result, stored_detections.image_detections(item, result)))
    real_add(self, item, result)
stored_detections.DetectionLines.add = add
from handpose.cli import main
sys.exit(main(sys.argv[1:]))
"""
READ_ONLY = """
import sys
from handpose.cli import main  # what the other rows import
from handpose.detection.coco import read_detection_images
read_detection_images(sys.argv[sys.argv.index("--data") + 1])
"""
PLAIN = "import sys\nfrom handpose.cli import main\nsys.exit(main(sys.argv[1:]))\n"
TRACED = """
import atexit, json, os, tracemalloc
tracemalloc.start()
from handpose.detection import evaluate
traced, real_read = {}, evaluate.read_detection_images
def read(*args, **kwargs):
    items = real_read(*args, **kwargs)
    traced["held"], traced["read_peak"] = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    return items
evaluate.read_detection_images = read
def done():
    traced["scoring_peak"] = tracemalloc.get_traced_memory()[1]
    with open(os.environ["TRACED_TO"], "w") as f:
        json.dump(traced, f)
atexit.register(done)
"""


def write_images(folder: Path, count: int, seed: int = 0) -> Path:
    """``count`` distinct 128 x 96 noise images and their COCO box json (one or two hands each); returns the json."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i in range(count):
        name = f"{i:06d}.png"
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (96, 128, 3), dtype=np.uint8))
        images.append({"id": i + 1, "file_name": name, "width": 128, "height": 96})
        for _ in range(1 + i % 2):
            w, h = (float(v) for v in rng.uniform(8, 60, 2))
            x, y = float(rng.uniform(0, 128 - w)), float(rng.uniform(0, 96 - h))
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [x, y, w, h],
                         "area": w * h, "iscrowd": 0})
    path = folder / "hands.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "hand"}]}))
    return path


def write_detector(path: Path) -> Path:
    """A tiny random detector (every score kept, 20 hands an image) at ``path``."""
    import torch

    from handpose.config import DetectorConfig
    from handpose.detection.model import build_detector
    from handpose.model.artifact import save_weights

    torch.manual_seed(0)
    save_weights(build_detector(DetectorConfig(width=0.25, backbone_repeats=1, neck_channels=16, head_channels=16,
                                               input_size=128, max_hands=20, score_threshold=0.0)).eval(), path)
    return path


def peak_mb(code: str, args: list[str], env: dict[str, str] | None = None) -> float:
    """Peak resident memory (MB) of one child ``python -c code args``; RuntimeError when it fails."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"handpose {' '.join(args)} failed: {err[-500:]}")
    return usage.ru_maxrss / 1024  # kB on Linux


def detections_per_image(report: Path) -> float:
    """The mean number of detections an image in a written report."""
    records = json.loads(report.read_text())["detections"]
    return sum(len(r["scores"]) for r in records) / max(1, len(records))


def command(weights: Path, data: Path, out: Path) -> list[str]:
    """The arguments of one row's ``handpose`` run."""
    return ["-q", "eval", "--task", "detect", "--weights", str(weights), "--data", str(data), "--split", "all",
            "--detector-scales", "1", "--out", str(out)]


def traced(names: list[str], rows: dict[str, str], weights: Path, data: dict[int, Path], tmp: Path,
           counts: tuple[int, int]) -> None:
    """The ``--traced`` table: each row's read and scoring figures (MB) at both counts, and their slopes."""
    keys = ("read_peak", "held", "scoring_peak")
    print(f"{'row':<8} {'images':>7} {'read peak':>10} {'images held':>12} {'scoring peak':>13}   MB, slopes kB/image")
    for name in (n for n in names if n != "read"):  # the read figures are every row's
        figures = []
        for count in counts:
            out, to = tmp / f"traced-{name}{count}", tmp / f"traced-{name}{count}.json"
            peak_mb(TRACED + rows[name], command(weights, data[count], out), {**os.environ, "TRACED_TO": str(to)})
            figures.append(json.loads(to.read_text()))
            print(f"{name:<8} {count:>7} " + " ".join(f"{figures[-1][k] / 2**20:>{w}.1f}" for k, w in zip(
                keys, (10, 12, 13))), flush=True)
        slopes = [(figures[1][k] - figures[0][k]) / 1024 / (counts[1] - counts[0]) for k in keys]
        print(f"{name:<8} {'slope':>7} " + " ".join(f"{v:>{w}.2f}" for v, w in zip(slopes, (10, 12, 13))), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="500,4000", help="two image counts (default 500,4000)")
    parser.add_argument("--rows", default="tallied,kept,read", help="rows to run, of tallied,kept,read (default all)")
    parser.add_argument("--traced", action="store_true", help="Python's allocations (tracemalloc), read and scoring")
    parser.add_argument("--quick", action="store_true", help="100 and 400 images (make bench --quick)")
    args = parser.parse_args()
    small, large = (100, 400) if args.quick else (int(v) for v in args.counts.split(","))
    if not 0 < small < large:
        parser.error(f"--counts: two counts, the first smaller, got {args.counts!r}")
    rows = {"tallied": PLAIN, "kept": KEEP_RESULTS, "read": READ_ONLY}
    names = [r for r in args.rows.split(",") if r]
    if not names or set(names) - set(rows):
        parser.error(f"--rows: names of {','.join(rows)}, got {args.rows!r}")
    record_run()
    with tempfile.TemporaryDirectory() as tmp:
        weights = write_detector(Path(tmp) / "det.safetensors")
        data = {count: write_images(Path(tmp) / f"images{count}", count) for count in (small, large)}
        if args.traced:
            traced(names, rows, weights, data, Path(tmp), (small, large))
            return 0
        print(f"{'row':<8} {'images':>7} {'peak MB':>8}   slope kB/image")
        for name in names:
            peaks = []
            for count in (small, large):
                out = Path(tmp) / f"{name}{count}"
                peaks.append(peak_mb(rows[name], command(weights, data[count], out)))
                print(f"{name:<8} {count:>7} {peaks[-1]:>8.1f}", flush=True)
            report = out / "detection_eval.json"
            found = f" ({detections_per_image(report):.1f} detections an image)" if report.exists() else ""
            print(f"{name:<8} slope: {(peaks[1] - peaks[0]) * 1024 / (large - small):.2f} kB an image{found}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
