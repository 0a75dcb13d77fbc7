"""One VGG-19 convolution of the openpose preset in fp32 and bf16: why half precision does not speed up
training on a CPU without AMX.

Times forward and backward (input and weight gradients) of ``conv3_2`` (256 -> 256 channels, 3x3, 92 x 92 at a
368 px input, batch 2) in each precision and memory format, interleaved round by round, medians. With
``ONEDNN_VERBOSE=1`` oneDNN also prints the kernel each variant runs (``jit:avx512_core``, ``jit_bf16:...``).

    python benchmarks/bench_conv_precision.py [--rounds 7] [--batch 2] [--size 92] [--channels 256]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from run_record import record_run

VARIANTS: dict[str, tuple[torch.dtype, bool]] = {
    "fp32": (torch.float32, False),
    "fp32 channels_last": (torch.float32, True),
    "bf16": (torch.bfloat16, False),
    "bf16 channels_last": (torch.bfloat16, True),
}


def _layer(dtype: torch.dtype, cl: bool, batch: int, channels: int, size: int) -> tuple[torch.nn.Conv2d, torch.Tensor]:
    """A 3x3 conv and an input (batch, channels, size, size) that wants its gradient, in ``dtype``."""
    fmt = torch.channels_last if cl else torch.contiguous_format
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1).to(dtype=dtype, memory_format=fmt)
    x = torch.randn(batch, channels, size, size).to(dtype=dtype, memory_format=fmt).requires_grad_()
    return conv, x


def _step(conv: torch.nn.Conv2d, x: torch.Tensor) -> tuple[float, float]:
    """(forward seconds, backward seconds) of one pass."""
    t0 = time.perf_counter()
    y = conv(x)  # (N, C, H, W)
    t1 = time.perf_counter()
    y.backward(torch.ones_like(y))
    t2 = time.perf_counter()
    conv.zero_grad(set_to_none=True)
    x.grad = None
    return t1 - t0, t2 - t1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (default 7)")
    parser.add_argument("--batch", type=int, default=2, help="batch (default 2, as bench_train.py on a CPU)")
    parser.add_argument("--size", type=int, default=92, help="feature-map side (default 92: conv3_x at 368)")
    parser.add_argument("--channels", type=int, default=256, help="input = output channels (default 256)")
    parser.add_argument("--quick", action="store_true", help="3 rounds (make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.rounds = min(args.rounds, 3)
    torch.manual_seed(0)
    layers = {name: _layer(dt, cl, args.batch, args.channels, args.size) for name, (dt, cl) in VARIANTS.items()}
    for conv, x in layers.values():  # warm-up: oneDNN builds its primitives on the first pass
        _step(conv, x)
    fwd: dict[str, list[float]] = {n: [] for n in layers}
    bwd: dict[str, list[float]] = {n: [] for n in layers}
    for _ in range(args.rounds):
        for name, (conv, x) in layers.items():
            f, b = _step(conv, x)
            fwd[name].append(f)
            bwd[name].append(b)
    gmac = args.batch * args.channels * args.channels * 9 * args.size**2 / 1e9
    print(f"3x3 conv {args.channels}->{args.channels} at {args.size}x{args.size}, batch {args.batch} ({gmac:.2f} GMAC "
          f"forward), {torch.get_num_threads()} threads, torch {torch.__version__}, {args.rounds} rounds, medians")
    base = statistics.median(fwd["fp32"]) + statistics.median(bwd["fp32"])
    print(f"{'variant':20s} {'forward':>10s} {'backward':>10s} {'fwd+bwd vs fp32':>16s}")
    for name in layers:
        f, b = statistics.median(fwd[name]), statistics.median(bwd[name])
        print(f"{name:20s} {f * 1e3:8.1f} ms {b * 1e3:8.1f} ms {base / (f + b):15.2f}x")


if __name__ == "__main__":
    main()
