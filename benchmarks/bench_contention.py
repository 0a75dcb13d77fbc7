"""Inference beside other busy processes: how each network's time per call moves with its thread count when some
cores are taken.

A parallel operator ends when its slowest thread ends, so a thread whose core another process holds makes the whole
call wait for the scheduler. This script times the shipped networks at 1 thread, at every core's count and at
``threads="auto"`` (``autotune.free_cores``: the cores other processes leave free, measured every second; each auto
block first runs for ``SETTLE_S`` so that its governor has measured the load), on a quiet machine and with ``--busy``
processes spinning (``--load python``: pure Python loops, one core each; ``--load torch``: PyTorch matrix products on
every core, as another training or inference run), in interleaved rounds; each call is timed alone, so the tail
shows. Cases:
  PyTorch keypoints    ``Predictor.predict`` of one boxed hand with the shipped ``lite`` (crop, network, decoding)
  onnxruntime int8     one 128 x 128 crop through ``lite-int8`` (handpose's session options)
  onnxruntime detector one 320 x 320 letterbox through the detector's export (handpose's session options)
Prints the median and the 90th percentile of milliseconds per call for each case, thread count and load.
Usage: python benchmarks/bench_contention.py [--busy 1] [--load python|torch] [--calls 30] [--rounds 4] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from run_record import record_run


def spin(stop: Any, kind: str = "python") -> None:
    """Keep the CPUs busy until ``stop`` is set: "python" one core with a pure Python loop, "torch" a PyTorch matrix
    product on every core (as another training or inference run would)."""
    if kind == "torch":
        a = torch.randn(384, 384)  # (384, 384)
        while not stop.is_set():
            a = torch.tanh(a @ a)
        return
    x = 0
    while not stop.is_set():
        for _ in range(10000):
            x += 1


@contextlib.contextmanager
def spinning(count: int, kind: str) -> Iterator[None]:
    """``count`` spawned processes running :func:`spin` of ``kind`` while the block runs (none for 0)."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    spinners = [ctx.Process(target=spin, args=(stop, kind), daemon=True) for _ in range(count)]
    for p in spinners:
        p.start()
    time.sleep(0.3 if spinners else 0.0)
    try:
        yield
    finally:
        stop.set()
        for p in spinners:
            p.join()


SETTLE_S = 1.5  # an auto block's warm-up: longer than the governor's interval (free_cores.INTERVAL_S)


def call_times_ms(fn: Callable[[], object], calls: int, settle_s: float = 0.0) -> list[float]:
    """Milliseconds of each of ``calls`` calls of ``fn``, after 2 warm-up calls (and more for ``settle_s``)."""
    t0 = time.perf_counter()
    for _ in range(2):
        fn()
    while time.perf_counter() - t0 < settle_s:
        fn()
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def build_cases(threads: int | str) -> dict[str, Callable[[], object]]:
    """The three timed cases at ``threads`` threads, or "auto" (PyTorch's are set before each of its calls)."""
    from handpose import pretrained
    from handpose.detection.onnx_network import OnnxDetectorNetwork
    from handpose.inference.backends import OnnxBackend
    from handpose.inference.predictor import Predictor

    rng = np.random.default_rng(0)
    image = (rng.random((480, 640, 3)) * 255).astype(np.uint8)  # (480, 640, 3) BGR
    x_kp = rng.random((1, 3, 128, 128), dtype=np.float32)  # (1, 3, 128, 128) one crop
    x_det = rng.random((1, 3, 320, 320), dtype=np.float32)  # (1, 3, 320, 320) letterbox
    predictor = Predictor.from_file("pretrained:lite", detector=None, threads=threads)
    kp = OnnxBackend(pretrained.path("lite-int8"), threads=threads, stop_spinning=True)
    det = OnnxDetectorNetwork(pretrained.detector_onnx(), threads=threads)
    x_det_t = torch.from_numpy(x_det)

    def torch_keypoints() -> object:
        if threads != "auto":
            torch.set_num_threads(int(threads))
        return predictor.predict(image, box=(200, 120, 220, 220))

    return {
        "PyTorch keypoints": torch_keypoints,
        "onnxruntime int8": lambda: kp(x_kp),
        "onnxruntime detector": lambda: det(x_det_t),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=1, help="processes spinning in the loaded rows")
    parser.add_argument("--load", choices=("python", "torch"), default="python", help="what they run (docstring)")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="10 calls, 1 round (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.calls, args.rounds = 10, 1
    cores = os.cpu_count() or 1
    counts: list[int | str] = [*sorted({1, cores}), "auto"]
    cases = {t: build_cases(t) for t in counts}
    times: dict[tuple[str, str, int | str], list[float]] = {}
    for _ in range(args.rounds):
        for load in ("quiet", f"{args.busy} busy"):
            with spinning(args.busy if load != "quiet" else 0, args.load):
                for t in counts:
                    for case, fn in cases[t].items():
                        settle = SETTLE_S if t == "auto" else 0.0
                        times.setdefault((case, load, t), []).extend(call_times_ms(fn, args.calls, settle))
    torch.set_num_threads(cores)
    print(f"{cores} cores; ms per call, median / 90th percentile of {args.rounds} rounds x {args.calls} calls; "
          f"loaded: {args.busy} process(es) spinning ({args.load})")
    loads = ("quiet", f"{args.busy} busy")
    header = "".join(f"{f'{load}, {t}':>22}" for load in loads for t in counts)
    print(f"{'case':<22}{header}")
    for case in cases[counts[0]]:
        cells = []
        for load in loads:
            for t in counts:
                v = sorted(times[(case, load, t)])
                cells.append(f"{statistics.median(v):>10.1f} / {v[int(0.9 * (len(v) - 1))]:>7.1f}  ")
        print(f"{case:<22}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
