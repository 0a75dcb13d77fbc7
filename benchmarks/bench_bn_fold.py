"""Batch norm folded into its conv (``handpose.model.fold_batch_norm``) against the network as trained: forward time.

The shipped lite keypoint model at its input size (batch 1 and 8) and the shipped hand detector at its input size
(batch 1), each as loaded (batch norms as separate ops) and folded, timed interleaved in one process with the same
threads: every round times a block of forwards of each, the order alternating, so machine noise hits both. Before
timing, the folded maps are checked against the unfolded ones (largest absolute difference printed). Figures are the
median and best over the rounds of the mean milliseconds per forward, and folded / unfolded of the medians.
Usage: python benchmarks/bench_bn_fold.py [--threads 2] [--rounds 15] [--device cpu|cuda] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from run_record import record_run
from torch import nn

from handpose import pretrained
from handpose.model.artifact import load_model, read_data_config
from handpose.model.fold_batch_norm import folded


def outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The network's maps as a list: the keypoint model's stages, the detector's heads in key order."""
    out = model(x)
    return [out[k] for k in sorted(out)] if isinstance(out, dict) else list(out)


def ms_per_forward(step: Callable[[], object], repeat: int, device: torch.device) -> float:
    """Mean wall milliseconds of ``repeat`` calls of ``step`` (the GPU synchronised around them)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeat):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - t0) / repeat


def compare(name: str, model: nn.Module, x: torch.Tensor, rounds: int, repeat: int) -> None:
    """Check the folded maps against the unfolded ones, then time both interleaved; one printed line."""
    fold = folded(model)
    with torch.inference_mode():
        diff = max(float((a - b).abs().max()) for a, b in zip(outputs(model, x), outputs(fold, x)))
        nets = {"unfolded": model, "folded": fold}
        for net in nets.values():  # warm-up
            net(x)
        times: dict[str, list[float]] = {k: [] for k in nets}
        for r in range(rounds):
            order = list(nets) if r % 2 == 0 else list(reversed(nets))
            for k in order:
                times[k].append(ms_per_forward(lambda net=nets[k]: net(x), repeat, x.device))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{name:<30}{med['unfolded']:>10.2f}{min(times['unfolded']):>8.2f}{med['folded']:>10.2f}"
          f"{min(times['folded']):>8.2f}{med['folded'] / med['unfolded']:>8.3f}{diff:>12.2e}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (CPU)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (each times both networks)")
    parser.add_argument("--repeat", type=int, default=5, help="forwards per network per round")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="5 rounds of 3 forwards")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.repeat = 5, 3
    record_run()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    path = pretrained.path("lite")
    lite = load_model(path, map_location=device).eval()
    side = int(read_data_config(path, lite.config).input_size)
    detector = load_model(pretrained.path(pretrained.DEFAULT_DETECTOR), task="detect").to(device).eval()
    det_side = int(detector.config.input_size)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}; median of {args.rounds} "
          f"interleaved rounds of {args.repeat} forwards")
    print(f"{'network':<30}{'unfolded ms':>10}{'best':>8}{'folded ms':>10}{'best':>8}{'ratio':>8}{'max |diff|':>12}")
    for batch in (1, 8):
        x = torch.rand(batch, 3, side, side, device=device) - 0.5  # (N, 3, S, S) in the network's input range
        compare(f"lite keypoints {side} px batch {batch}", lite, x, args.rounds, args.repeat)
    x = torch.rand(1, 3, det_side, det_side, device=device) - 0.5  # (1, 3, S, S)
    compare(f"detector {det_side} px batch 1", detector, x, args.rounds, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
