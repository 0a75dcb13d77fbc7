"""onnxruntime's worker threads between runs, with the shipped ONNX files: left spinning (onnxruntime's default),
never spinning, or spinning within a run and stopped at its end (handpose's ``session_options``).

handpose runs two onnxruntime sessions in turn (the detector on a 320 x 320 letterbox, then the int8 keypoint
network on a batch of crops) with PyTorch and OpenCV work between them. onnxruntime's intra-op threads spin for a
while after each run by default. Each setting runs in the same process with the same inputs and threads, rounds
interleaved so that machine drift hits all three:
  detector alone         one session, back to back
  keypoints alone        one session, back to back (batch ``--crops``)
  detector + keypoints   the two sessions alternating, as every frame of a video detecting every frame
  ... + PyTorch op       the same with a small PyTorch op between them (the decoding's max-pool)
  detector + 3 keypoints three keypoint batches after each detector run (the refinement's passes and last read)
Usage: python benchmarks/bench_ort_threads.py [--threads 2] [--crops 4] [--repeats 40] [--rounds 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from run_record import record_run

MODES: dict[str, str] = {"spin": "spin (default)", "sleep": "never spin", "stop": "stop (handpose)"}


def make_session(path: str, threads: int, mode: str) -> Any:
    """An onnxruntime CPU session of ``path``: ``mode`` "spin" onnxruntime's default, "sleep" threads that never
    spin, "stop" handpose's ``session_options`` (spinning stopped at the end of each run)."""
    import onnxruntime as ort

    from handpose.inference.backends import session_options

    opts = session_options(threads, stop_spinning=mode == "stop")
    if mode == "sleep":
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def per_call_ms(fn: Callable[[], object], repeats: int) -> float:
    """Mean milliseconds of ``fn`` over ``repeats`` calls, after 3 warm-up calls."""
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000.0


def build_cases(threads: int, mode: str, x_det: np.ndarray, x_kp: np.ndarray,
                heat: torch.Tensor) -> dict[str, Callable[[], object]]:
    """The five timed cases (see the module docstring) on fresh sessions of the shipped files."""
    import torch.nn.functional as F

    from handpose import pretrained

    det = make_session(str(pretrained.path(pretrained.DETECTOR_ONNX)), threads, mode)
    kp = make_session(str(pretrained.path("lite-int8")), threads, mode)
    d_in, k_in = det.get_inputs()[0].name, kp.get_inputs()[0].name

    def run_det() -> object:
        return det.run(None, {d_in: x_det})

    def run_kp() -> object:
        return kp.run(None, {k_in: x_kp})

    return {
        "detector alone": run_det,
        "keypoints alone": run_kp,
        "detector + keypoints": lambda: (run_det(), run_kp()),
        "... + PyTorch op": lambda: (run_det(), F.max_pool2d(heat, 3, 1, 1), run_kp()),
        "detector + 3 keypoints": lambda: (run_det(), run_kp(), run_kp(), run_kp()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--crops", type=int, default=4, help="keypoint batch (crops per detector run)")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 calls, 1 round (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.repeats, args.rounds = 10, 1
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x_det = rng.random((1, 3, 320, 320), dtype=np.float32)  # (1, 3, 320, 320) letterbox
    x_kp = rng.random((args.crops, 3, 128, 128), dtype=np.float32)  # (crops, 3, 128, 128)
    heat = torch.from_numpy(rng.random((1, 1, 80, 80), dtype=np.float32))  # (1, 1, 80, 80) a detector heatmap
    rows: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.rounds):
        for mode in MODES:
            for case, fn in build_cases(args.threads, mode, x_det, x_kp, heat).items():
                rows.setdefault(case, {}).setdefault(mode, []).append(per_call_ms(fn, args.repeats))
    print(f"{args.threads} threads, keypoint batch {args.crops}, median of {args.rounds} rounds of {args.repeats} "
          "calls (ms per call)")
    print(f"{'case':<24}" + "".join(f"{label:>18}" for label in MODES.values()) + f"{'default / handpose':>20}")
    for case, by in rows.items():
        ms = {mode: statistics.median(by[mode]) for mode in MODES}
        print(f"{case:<24}" + "".join(f"{ms[mode]:>18.2f}" for mode in MODES) + f"{ms['spin'] / ms['stop']:>19.2f}x")


if __name__ == "__main__":
    main()
