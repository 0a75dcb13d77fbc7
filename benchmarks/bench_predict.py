"""`handpose predict` on a folder: images per second with reading and writing, for lite and openpose.

Renders ``--count`` photo-sized scenes (``handpose synth --scenes``, 640 x 480 JPEGs with 0-4 hands) once into a
temporary folder, then times the public command in this process, ``handpose predict FOLDER --model M --out OUT``,
from the first image read to the last file written (JSON, overlay PNG, COCO results; ``--no-maps``, as a batch job
would run it). Rows:
  lite, whole image     the shipped keypoint model (``pretrained:lite``), each image as one crop
  lite + detector       the same with the shipped detector (``pretrained:detector``): detect, refine each hand
                        with the keypoint network (the defaults: one pass, keypoint merge), crop, keypoints
  lite + raw detector   the detector's own boxes and scores, no refinement (``--refine-passes 0``)
  openpose, whole image a freshly initialised openpose preset at 368 px (speed does not depend on the weights)
Each row runs once on 8 images first, so the measured run finds the speed settings (``--amp auto
--channels-last auto``) cached, as every run after a machine's first does, then on every image.
Usage: python benchmarks/bench_predict.py [--count 200] [--rows lite,detector,raw,openpose] [--threads 2]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from run_record import record_run

from handpose.cli import main as handpose
from handpose.model.artifact import save_weights
from handpose.model.cpm import build_model
from handpose.synth.scenes import write_scenes

ROWS: dict[str, tuple[str, list[str]]] = {
    "lite": ("lite, whole image", ["--model", "pretrained:lite", "--detector", "none"]),
    "detector": ("lite + detector", ["--model", "pretrained:lite", "--detector", "pretrained:detector"]),
    "raw": ("lite + raw detector", ["--model", "pretrained:lite", "--detector", "pretrained:detector",
                                    "--refine-passes", "0"]),
    "openpose": ("openpose, whole image", ["--model", "{openpose}", "--detector", "none"]),
}


def timed_predict(images: Path, out: Path, args: list[str]) -> float:
    """Seconds of one ``handpose predict`` over the folder ``images`` into ``out`` (deleted first)."""
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # one line per image: not part of this table
        code = handpose(["predict", str(images), "--out", str(out), "--no-maps", *args])
    seconds = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"handpose predict {' '.join(args)} failed with exit code {code}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="images in the folder (default 200)")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated subset of " + ",".join(ROWS))
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="16 images, the lite rows only (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.count = min(args.count, 16)
        args.rows = ",".join(r for r in ROWS if "openpose" not in r)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        root = Path(tmp)
        folder = write_scenes(root / "scenes", args.count, seed=11, width=640, height=480, workers=2)
        images = folder / "images"
        warm = root / "warm"
        warm.mkdir()
        for p in sorted(images.glob("*.jpg"))[:8]:
            shutil.copy(p, warm / p.name)
        torch.manual_seed(0)
        openpose = root / "openpose.safetensors"
        save_weights(build_model("openpose"), openpose)
        print(f"handpose predict on {args.count} rendered 640 x 480 JPEGs, --no-maps, torch {torch.__version__}, "
              f"{args.threads} threads")
        print(f"{'row':24s} {'seconds':>8s} {'images/s':>9s}")
        for row in rows:
            label, flags = ROWS[row]
            flags = [f.format(openpose=openpose) for f in flags]
            timed_predict(warm, root / "out_warm", flags)
            seconds = timed_predict(images, root / f"out_{row}", flags)
            written = len(list((root / f"out_{row}").glob("*.json")))
            print(f"{label:24s} {seconds:8.1f} {args.count / seconds:9.2f}   ({written} json files written)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
