"""Forward latency of each CPM preset at batch 1 on this CPU, and the openpose preset against a plain rewrite.

The baseline is a straightforward PyTorch implementation of the same OpenPose hand layers (``nn.Sequential`` of
``nn.Conv2d`` / ``nn.ReLU`` / ``nn.MaxPool2d``, the stages in an ``nn.ModuleList``), loaded with the same weights
(outputs checked equal first) and timed interleaved with ours in the same process, so machine noise hits both.
Variants: channels_last memory format (both networks), and with ``--bf16`` bf16 autocast (on a CPU without native
bf16 instructions, e.g. AVX2-only, it is many times slower: opt-in only).

Usage:
  python benchmarks/bench_model.py --quick   # < 90 s: openpose 2 runs at 368, 15 at 96 (no channels_last), 15 lite/tiny
  python benchmarks/bench_model.py --threads 1 --repeat 30 --bf16
Figures are best / median wall milliseconds of N runs and the best process-CPU time; on a shared machine trust
best-of-N and the ratios (ours / plain near 1.0 = same speed).
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time
from collections.abc import Callable

import torch
from run_record import record_run
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


def time_runs(
    fns: dict[str, Callable[[], object]], repeat: int, warmup: int = 1
) -> dict[str, list[tuple[float, float]]]:
    """Run each function ``warmup`` times, then ``repeat`` rounds interleaved, the order reversed every other round
    (A B B A ...: neither side is always first after the other); (wall, process CPU) seconds per call.

    CPU time does not count time spent descheduled by other processes: with 1 thread it is the robust measure of
    work on a shared machine (with 2, OpenMP threads spin while they wait, which it counts)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for r in range(repeat):
        order = list(fns.items()) if r % 2 == 0 else list(fns.items())[::-1]
        for name, fn in order:
            t, c = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - t, time.process_time() - c))
    return times


def summary(name: str, ts: list[tuple[float, float]]) -> str:
    wall = [w for w, _ in ts]
    best, med, cpu = min(wall) * 1e3, statistics.median(wall) * 1e3, min(c for _, c in ts) * 1e3
    return f"{name:<40} best {best:8.1f} ms  median {med:8.1f} ms  cpu {cpu:8.1f} ms  ({1e3 / best:5.1f} fps at best)"


def runner(model: nn.Module, x: torch.Tensor, bf16: bool = False) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return model(x)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repeats (< 90 s)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="runs per variant of lite/tiny and of openpose at 96 px (default 15/40)",
    )
    parser.add_argument("--openpose-repeat", type=int, default=None, help="runs per openpose variant at 368 (2/6)")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast (slow without native bf16)")
    parser.add_argument("--no-openpose", action="store_true", help="only the lite and tiny presets")
    args = parser.parse_args()
    record_run()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    small_n = args.repeat or (15 if args.quick else 40)
    big_n = args.openpose_repeat or (2 if args.quick else 6)
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

    if args.no_openpose:
        return
    ours = build_model("openpose").eval()
    plain = PlainOpenPoseHand().eval()
    copy_weights(ours, plain)
    print(f"\nopenpose: {count_parameters(ours):,} parameters")
    # 368: the preset's latency; 96: the same comparison at 1/15 of the cost with many runs (noise averages out)
    for size, n in ((368, big_n), (96, small_n)):
        x = torch.randn(1, 3, size, size)
        with torch.inference_mode():
            diff = max((a - b).abs().max().item() for a, b in zip(ours(x), plain(x)))
        assert diff < 1e-4, f"baseline disagrees with ours by {diff}"
        fns = {f"openpose {size}px (ours)": runner(ours, x), f"openpose {size}px (plain)": runner(plain, x)}
        if not args.quick:
            x_cl = x.to(memory_format=torch.channels_last)
            ours_cl, plain_cl = build_model("openpose").eval(), PlainOpenPoseHand().eval()
            copy_weights(ours, ours_cl)
            copy_weights(ours, plain_cl)
            fns[f"openpose {size}px channels_last (ours)"] = runner(ours_cl.to(memory_format=torch.channels_last), x_cl)
            fns[f"openpose {size}px channels_last (plain)"] = runner(
                plain_cl.to(memory_format=torch.channels_last), x_cl
            )
        print(f"  input {size}, {n} runs, |ours - plain| {diff:.1e}")
        times = time_runs(fns, n)
        for k, ts in times.items():
            print("    " + summary(k, ts))
        for fmt in ("", " channels_last"):
            a, b = f"openpose {size}px{fmt} (ours)", f"openpose {size}px{fmt} (plain)"
            if a in times:
                best = min(w for w, _ in times[a]) / min(w for w, _ in times[b])
                med = statistics.median(w for w, _ in times[a]) / statistics.median(w for w, _ in times[b])
                cpu = statistics.median(c for _, c in times[a]) / statistics.median(c for _, c in times[b])
                print(f"    ours / plain{fmt} at {size}: wall best {best:.3f}, median {med:.3f}, cpu median {cpu:.3f}")


if __name__ == "__main__":
    main()
