"""`handpose predict` on a folder: resident memory (VmRSS) as the images go by, which must stay level.

Renders ``--count`` one-hand images (96 px, ``handpose.synth``) once into a temporary folder, then runs the public
command in this process, ``handpose predict FOLDER --detector none --right --no-maps --threads 1`` (the keypoint
network alone, so the images go by fast), and reads /proc/self/status's VmRSS after every ``--every`` images. Rows:
  streamed   the command as it is: each image's COCO results go to disk as it is done
  kept       the baseline, in the same process: the same run, each image's COCO results also kept in a list, as
             predict kept them until its end before they were streamed
The slope is (last reading - first reading) / images between them, in kB an image. Linux only (/proc).
Usage: python benchmarks/bench_predict_memory.py [--count 1500] [--every 250]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from run_record import record_run

from handpose.cli import main as handpose
from handpose.commands import predict_files


def rss_mb() -> float:
    """This process's resident memory in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (this benchmark reads Linux's /proc)")


def measured_run(images: Path, out: Path, every: int, keep: bool) -> list[tuple[int, float]]:
    """(images done, VmRSS MB) after every ``every`` images of one ``handpose predict`` run; ``keep`` also keeps
    each image's COCO results in a list (the baseline)."""
    readings: list[tuple[int, float]] = []
    kept: list[dict[str, Any]] = []
    real = predict_files.predict_to_files

    calls = [0]

    def measured(*args: Any, **kwargs: Any) -> list[Path]:
        written = real(*args, **kwargs)
        if keep:
            kept.extend(kwargs.get("coco") or [])
        calls[0] += 1
        if calls[0] % every == 0:
            readings.append((calls[0], rss_mb()))
        return written

    predict_files.predict_to_files = measured
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # one line per image: not part of this table
            code = handpose(["predict", str(images), "--out", str(out), "--model", "pretrained:lite", "--detector",
                             "none", "--right", "--no-maps", "--threads", "1"])
    finally:
        predict_files.predict_to_files = real
    if code != 0:
        raise RuntimeError(f"handpose predict failed with exit code {code}")
    return readings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1500, help="images in the folder (default 1500)")
    parser.add_argument("--every", type=int, default=250, help="images between readings (default 250)")
    parser.add_argument("--quick", action="store_true", help="200 images, a reading every 50 (make bench --quick)")
    args = parser.parse_args()
    if args.quick:
        args.count, args.every = min(args.count, 200), 50
    if not 0 < args.every <= args.count:
        parser.error(f"--every must lie in 1..--count ({args.count}), got {args.every}")
    record_run()
    logging.basicConfig(level=logging.WARNING)
    from handpose.synth import write_dataset

    with tempfile.TemporaryDirectory(prefix="bench-predict-memory-") as tmp:
        root = Path(tmp)
        write_dataset(root / "renders", count=args.count, seed=7, size=96)
        images, warm = root / "images", root / "warm_images"
        images.mkdir()
        warm.mkdir()
        for i, path in enumerate(sorted((root / "renders").rglob("*.jpg"))):
            path.rename(images / path.name)  # the images alone: their label files would be refused as outputs
            if i < 8:
                (warm / path.name).write_bytes((images / path.name).read_bytes())
        measured_run(warm, root / "warm", args.every, keep=False)  # the models and the speed trial, loaded once
        print(f"handpose predict on {args.count} rendered 96 px JPEGs, --detector none --no-maps, one thread; "
              f"VmRSS MB after every {args.every} images")
        for row, keep in (("streamed", False), ("kept", True)):
            readings = measured_run(images, root / f"out_{row}", args.every, keep)
            (first_n, first), (last_n, last) = readings[0], readings[-1]
            slope = (last - first) * 1024 / max(1, last_n - first_n)
            print(f"{row:9s} " + " ".join(f"{mb:.1f}" for _, mb in readings) + f"   slope {slope:.2f} kB/image",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
