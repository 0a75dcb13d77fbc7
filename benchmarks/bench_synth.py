"""Synthetic hand generator speed: images per second per core, the GL renderer against the fallback, same run.

Measures the full per-image path (render + JPEG encode + write) in this process for ``--renderer gl`` and
``--renderer fallback`` at the same size (default 256 x 256), as wall-clock and as CPU time of the whole process
(images per CPU-second is the per-core figure: it counts Mesa's llvmpipe threads too and is less disturbed by
other load on a shared machine). llvmpipe runs single-threaded here (``LP_NUM_THREADS=1``), as in each writer
worker. Then a per-stage breakdown of the GL path and, unless ``--quick``, ``write_dataset`` with 2 workers (what
``handpose synth --workers 2`` runs): wall-clock and images per CPU-second of the worker processes.
Usage: ``python benchmarks/bench_synth.py [--quick] [--size 256] [--count 300]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("LP_NUM_THREADS", "1")  # before any GL context: one core, as a writer worker

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from run_record import record_run

from handpose.synth import write_dataset  # noqa: E402
from handpose.synth.generate import render_sample  # noqa: E402
from handpose.synth.gl_context import gl_context  # noqa: E402
from handpose.synth.writer import encode_sample  # noqa: E402


def _timed(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process) of ``fn(i)`` for i in range(n)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return time.perf_counter() - w0, time.process_time() - c0


def _stages(size: int, n: int) -> None:
    """CPU ms per image of the GL path's stages."""
    from handpose.synth import gl_scene
    from handpose.synth.gl_render import get_renderer
    from handpose.synth.gl_sample import _attempt
    from handpose.synth.looks import sample_lighting
    from handpose.synth.photos import sample_background
    from handpose.synth.pose_prior import sample_view
    from handpose.synth.scene import camera_effects
    from handpose.synth.view import View

    rng = np.random.default_rng(0)
    views, canvases = [], []
    for _ in range(n):
        hand = gl_scene.sample_hand(rng)
        H, camera = gl_scene.hand_to_camera(hand, sample_view(rng)[0], size, rng, 0.5)
        inst = gl_scene.instance(hand, H, False, rng)
        canvas = np.full((size, size, 3), 100, np.uint8)
        views.append(View(camera, (size, size), [inst], [], sample_lighting(rng, canvas)))
        canvases.append(canvas)
    renderer = get_renderer()
    out = [renderer.render(v) for v in views[:2]]
    stages = {
        "hand: pose prior + skinning matrices": lambda i: gl_scene.instance(gl_scene.sample_hand(rng), np.eye(4),
                                                                            False, rng),
        "background": lambda i: sample_background(np.random.default_rng(i), size, size, np.array([90, 120, 170.0])),
        "GL render + read back": lambda i: out.__setitem__(0, renderer.render(views[i])),
        "composite": lambda i: gl_scene.composite(canvases[i], out[0][0]),
        "camera effects": lambda i: camera_effects(np.random.default_rng(i), canvases[i]),
        "JPEG encode": lambda i: cv2.imencode(".jpg", canvases[i], [cv2.IMWRITE_JPEG_QUALITY, 80]),
        "whole sample (render_gl_sample internals)": lambda i: _attempt(9, i, size, False, 0),
    }
    for name, fn in stages.items():
        _, c = _timed(fn, n)
        print(f"  {name:42s} {1000 * c / n:6.2f} ms CPU per image")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer images (under a minute)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--count", type=int, default=None, help="images per renderer (default 300, quick 100)")
    args = parser.parse_args()
    record_run()
    n = args.count or (100 if args.quick else 300)
    size = args.size
    cv2.setNumThreads(1)
    has_gl = gl_context() is not None
    renderers = ["gl", "fallback"] if has_gl else ["fallback"]
    for r in renderers:
        render_sample(0, 0, size, renderer=r)  # warm-up: mesh, context, noise banks, imports
    print(f"{size}x{size}, {n} images per renderer, LP_NUM_THREADS={os.environ.get('LP_NUM_THREADS')}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for r in renderers:
            def full(i: int, renderer: str = r) -> None:
                s = render_sample(1, i, size, renderer=renderer)
                jpg, text = encode_sample(s, 1, i, renderer)
                (folder / f"{i:08d}.jpg").write_bytes(jpg)
                (folder / f"{i:08d}.json").write_text(text)

            wall, cpu = _timed(full, n)
            results[r] = n / cpu
            print(f"{r:8s}: {n / cpu:6.1f} images per CPU-second (per core), {n / wall:6.1f} images/s wall, "
                  f"{1000 * cpu / n:5.1f} ms CPU per image")
    if has_gl:
        print(f"GL / fallback speed: {results['gl'] / results['fallback']:.2f}x")
        print("GL path stages:")
        _stages(size, min(n, 100))
    if not args.quick:
        with tempfile.TemporaryDirectory() as tmp:
            count = max(2 * n, 2000)
            t0 = time.perf_counter()
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            write_dataset(Path(tmp), count, seed=2, size=size, workers=2)
            dt = time.perf_counter() - t0
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers, counted once the pool has ended
            cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
            print(f"2 workers (write_dataset, `handpose synth --workers 2`, spawn start-up included), {count} images: "
                  f"{count / dt:.0f} images/s wall, {count / cpu:.1f} images per worker CPU-second (per core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
