"""Synthetic hand generator speed: images per second per core at 368 x 368, 1 worker and 2 workers.

Measures, in one run: the full per-image path (render + JPEG encode + write) in this process, as wall-clock and as
CPU time (images per CPU-second is the per-core figure and is less disturbed by other load on a shared machine);
a per-stage breakdown; the same path with the hand rendered at full resolution (factor 1, the baseline the
default reduced-resolution rendering, 1/2 or 1/3 of the image resolution, is compared with); and
``write_dataset`` with 2 spawned workers.
Usage: ``python benchmarks/bench_synth.py [--quick]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from handpose.synth import write_dataset
from handpose.synth.generate import build_scene, render_sample, render_scene, streams
from handpose.synth.scene import background, camera_effects
from handpose.synth.writer import encode_sample


def _timed(fn, n: int) -> tuple[float, float]:  # noqa: ANN001
    """(wall seconds, CPU seconds) of ``fn(i)`` for i in range(n)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return time.perf_counter() - w0, time.process_time() - c0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer images (under a minute)")
    parser.add_argument("--size", type=int, default=368)
    args = parser.parse_args()
    n = 150 if args.quick else 1000
    size = args.size
    cv2.setNumThreads(1)
    render_sample(0, 0, size)  # warm-up (noise bank, imports)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)

        def full(i: int, factor: int = 2) -> None:
            s = render_sample(1, i, size, factor=factor)
            jpg, text = encode_sample(s, 1, i)
            (folder / f"{i:08d}.jpg").write_bytes(jpg)
            (folder / f"{i:08d}.json").write_text(text)

        wall, cpu = _timed(full, n)
        print(f"1 worker, {size}x{size}, {n} images: {n / wall:.0f} images/s wall, {n / cpu:.0f} images per CPU-second"
              f" ({1000 * cpu / n:.1f} ms CPU per image)")
        wall1, cpu1 = _timed(lambda i: full(i, factor=1), n // 3)
        print(f"baseline, hand rendered at full resolution (factor 1): {(n // 3) / cpu1:.0f} images per CPU-second"
              f" -> the default reduced-resolution rendering is {cpu1 / (n // 3) / (cpu / n):.2f}x faster")

        # per-stage breakdown (CPU ms per image)
        rngs = [streams(1, i) for i in range(n)]
        scenes = [build_scene(r[0], r[1], size) for r in rngs]
        stages = {
            "pose + camera": lambda i: build_scene(*streams(1, i)[:2], size),
            "background": lambda i: background(rngs[i][2], size, scenes[i].colors[0]),
            "hand render + composite (1/2)": lambda i: render_scene(scenes[i], np.zeros((size, size, 3), np.uint8)),
            "camera effects": lambda i: camera_effects(np.random.default_rng(i), np.zeros((size, size, 3), np.uint8)),
            "JPEG encode": lambda i: cv2.imencode(".jpg", np.full((size, size, 3), i % 255, np.uint8),
                                                  [cv2.IMWRITE_JPEG_QUALITY, 80]),
        }
        for name, fn in stages.items():
            _, c = _timed(fn, n)
            print(f"  {name:30s} {1000 * c / n:6.2f} ms CPU per image")

    with tempfile.TemporaryDirectory() as tmp:
        count = 2 * n
        t0 = time.perf_counter()
        write_dataset(Path(tmp), count, seed=2, size=size, workers=2)
        dt = time.perf_counter() - t0
        print(f"2 workers (write_dataset, spawn start-up included), {count} images: {count / dt:.0f} images/s wall")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
