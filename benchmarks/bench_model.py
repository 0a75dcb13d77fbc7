"""Forward latency of each CPM preset at batch 1 on this CPU, and the openpose preset against a plain rewrite.

The baseline is a straightforward PyTorch implementation of the same OpenPose hand layers (``nn.Sequential`` of
``nn.Conv2d`` / ``nn.ReLU`` / ``nn.MaxPool2d``, the stages in an ``nn.ModuleList``), loaded with the same weights
(outputs checked equal first) and timed interleaved with ours in the same process, so machine noise hits both.
Variants: channels_last memory format (both networks), and with ``--bf16`` bf16 autocast (on a CPU without native
bf16 instructions, e.g. AVX2-only, it is many times slower: opt-in only).

Usage:
  python benchmarks/bench_model.py --quick   # < 90 s: 3 openpose runs each (no channels_last pair), 15 lite/tiny
  python benchmarks/bench_model.py --threads 1 --repeat 30 --bf16
Figures are best / median milliseconds of N runs; on a shared machine, trust best-of-N and the ratios.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from handpose.model.cpm import build_model, count_parameters, preset

LOG = logging.getLogger(__name__)


class PlainOpenPoseHand(nn.Module):
    """OpenPose's hand network written the obvious way: the baseline our CPM must not be slower than."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, 512, 512, 128]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
                cin = int(v)
        self.front = nn.Sequential(*layers)
        self.stage1 = nn.Sequential(nn.Conv2d(128, 512, 1), nn.ReLU(inplace=True), nn.Conv2d(512, 22, 1))
        stages = []
        for _ in range(5):
            body: list[nn.Module] = []
            cin = 150
            for _ in range(5):
                body += [nn.Conv2d(cin, 128, 7, padding=3), nn.ReLU(inplace=True)]
                cin = 128
            body += [nn.Conv2d(128, 128, 1), nn.ReLU(inplace=True), nn.Conv2d(128, 22, 1)]
            stages.append(nn.Sequential(*body))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.front(x)  # (N, 128, H/8, W/8)
        out = self.stage1(feats)  # (N, 22, H/8, W/8)
        outs = [out]
        for stage in self.stages:
            out = stage(torch.cat([out, feats], 1))
            outs.append(out)
        return outs


def copy_weights(src: nn.Module, dst: nn.Module) -> None:
    """Copy parameters in registration order (both networks register the same layers in the same order)."""
    pairs = list(zip(src.parameters(), dst.parameters()))
    assert len(pairs) == len(list(dst.parameters())) == len(list(src.parameters()))
    with torch.no_grad():
        for a, b in pairs:
            b.copy_(a)


def time_runs(fns: dict[str, Callable[[], object]], repeat: int, warmup: int = 1) -> dict[str, list[float]]:
    """Run each function ``warmup`` times, then ``repeat`` rounds interleaved; seconds per call."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return times


def summary(name: str, ts: list[float]) -> str:
    best, med = min(ts) * 1e3, statistics.median(ts) * 1e3
    return f"{name:<34} best {best:9.1f} ms  median {med:9.1f} ms  ({1e3 / best:6.1f} fps at best)"


def runner(model: nn.Module, x: torch.Tensor, bf16: bool = False) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(x)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats (< 90 s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=None, help="runs per variant of lite/tiny (default 15/40)")
    parser.add_argument("--openpose-repeat", type=int, default=None, help="runs per openpose variant (3/6)")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast (slow without native bf16)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    small_n = args.repeat or (15 if args.quick else 40)
    big_n = args.openpose_repeat or (3 if args.quick else 6)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {args.threads}")

    for name in ("tiny", "lite"):
        cfg = preset(name)
        size = cfg.input_size
        model = build_model(cfg).eval()
        x = torch.randn(1, 3, size, size)
        cl_model = build_model(cfg).eval()
        cl_model.load_state_dict(model.state_dict())
        cl_model = cl_model.to(memory_format=torch.channels_last)
        x_cl = x.to(memory_format=torch.channels_last)
        fns = {f"{name} {size}px": runner(model, x), f"{name} {size}px channels_last": runner(cl_model, x_cl)}
        if args.bf16:
            fns[f"{name} {size}px bf16 autocast"] = runner(model, x, bf16=True)
        print(f"\n{name}: {count_parameters(model):,} parameters, input {size}, {small_n} runs")
        for k, ts in time_runs(fns, small_n, warmup=3).items():
            print("  " + summary(k, ts))

    size = 368
    ours = build_model("openpose").eval()
    plain = PlainOpenPoseHand().eval()
    copy_weights(ours, plain)
    x = torch.randn(1, 3, size, size)
    with torch.inference_mode():
        diff = max((a - b).abs().max().item() for a, b in zip(ours(x), plain(x)))
    assert diff < 1e-4, f"baseline disagrees with ours by {diff}"
    fns = {"openpose 368px (ours)": runner(ours, x), "openpose 368px (plain baseline)": runner(plain, x)}
    if not args.quick:
        x_cl = x.to(memory_format=torch.channels_last)
        ours_cl, plain_cl = build_model("openpose").eval(), PlainOpenPoseHand().eval()
        copy_weights(ours, ours_cl)
        copy_weights(ours, plain_cl)
        fns["openpose 368px channels_last (ours)"] = runner(ours_cl.to(memory_format=torch.channels_last), x_cl)
        fns["openpose 368px channels_last (plain)"] = runner(plain_cl.to(memory_format=torch.channels_last), x_cl)
    print(f"\nopenpose: {count_parameters(ours):,} parameters, input {size}, {big_n} runs, |ours - plain| {diff:.1e}")
    times = time_runs(fns, big_n)
    for k, ts in times.items():
        print("  " + summary(k, ts))
    for suffix in ("", " channels_last"):
        a, b = f"openpose 368px{suffix} (ours)", f"openpose 368px{suffix} (plain{'' if suffix else ' baseline'})"
        if a in times:
            ratio = min(times[a]) / min(times[b])
            verdict = "not slower" if ratio <= 1.03 else "SLOWER"
            print(f"  ours / plain{suffix} (best of {big_n}): {ratio:.3f}  ({verdict}; within 3% is noise here)")


if __name__ == "__main__":
    main()
