"""Training-step speed: samples/s of a CPM preset under the speed settings against a plain fp32 eager loop.

One training step = forward (every stage), ``cpm_loss``, backward, AdamW step: exactly what
``handpose.training.trainer`` does per batch, without data loading (inputs are fixed random tensors, so the figure
is the model's). Variants, measured in the same process, interleaved round by round (A B C A B C ...) so that a
shared, noisy machine disturbs them alike; the figure is the median step time:

  fp32            NCHW, fp32, eager                        (the baseline: a plain training loop)
  channels_last   fp32, channels_last (oneDNN's NHWC kernels), fused AdamW (as handpose.training.trainer)
  bf16            bf16 autocast, NCHW
  bf16+cl         bf16 autocast + channels_last
  compile         channels_last + torch.compile (with --compile; slow to start)
(every variant but fp32 uses the fused AdamW kernel that handpose.training.trainer uses; fp32 uses AdamW's default)

and reports each variant's samples/s and its ratio to the baseline, then what ``handpose train`` picks by default
on this device (``--amp auto --channels-last auto``: handpose.autotune's cached or freshly measured choice, at
this preset, size and batch) beside the old rule (bf16 only on CUDA and AMX CPUs). On CUDA, fp32 means PyTorch's
default (cuDNN convolutions in TF32). On a CPU without AMX, bf16 is slower (emulated, or AVX512-BF16
alone), and a variant whose first step is over ``--give-up`` times the baseline's is dropped after that step.

Usage:
  python benchmarks/bench_train.py [--quick] [--preset openpose] [--size 368] [--batch N] [--rounds N]
                                   [--threads N] [--compile] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from run_record import record_run

from handpose.autotune.resolve import training_choice
from handpose.model.cpm import build_model, count_parameters, preset
from handpose.training.losses import cpm_loss
from handpose.training.speed import channels_last_default, native_bf16

VARIANTS: dict[str, dict[str, bool]] = {
    "fp32": {"cl": False, "bf16": False, "compile": False},
    "channels_last": {"cl": True, "bf16": False, "compile": False},
    "bf16": {"cl": False, "bf16": True, "compile": False},
    "bf16+cl": {"cl": True, "bf16": True, "compile": False},
    "compile": {"cl": True, "bf16": False, "compile": True},
}


def make_step(name: str, preset_name: str, size: int, batch: int, device: torch.device) -> Callable[[], None]:
    """A closure running one training step of a fresh model under variant ``name``."""
    opts = VARIANTS[name]
    if name == "compile" and device.type == "cuda":
        opts = {**opts, "bf16": True}
    torch.manual_seed(0)
    cfg = preset(preset_name)
    model = build_model(cfg).to(device).train()
    images = torch.randn(batch, 3, size, size, device=device) * 0.25  # (B, 3, S, S) like to_network_input
    out = -(-size // 8)
    targets = torch.rand(batch, cfg.num_maps, out, out, device=device)  # (B, 22, S/8, S/8)
    weights = torch.ones(batch, cfg.num_maps - 1, device=device)  # (B, 21)
    if opts["cl"]:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=name != "fp32")  # fp32: the default loop
    run_model = torch.compile(model) if opts["compile"] else model

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=opts["bf16"]):
            maps = run_model(images)  # stages x (B, 22, S/8, S/8)
        loss, _ = cpm_loss(maps, targets, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def timed(step: Callable[[], None]) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="batch 1 (CPU), 2 timed rounds")
    parser.add_argument("--preset", default="openpose", help="model preset (default openpose)")
    parser.add_argument("--size", type=int, default=368, help="input size (default 368)")
    parser.add_argument("--batch", type=int, default=None, help="batch (default 2 on CPU, 64 on CUDA; --quick: 1)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 4, --quick 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (minutes to compile)")
    parser.add_argument("--variants", default=None, help="comma-separated subset of " + ",".join(VARIANTS))
    parser.add_argument("--give-up", type=float, default=3.0, help="drop a variant whose first step is this many "
                        "times the baseline's (default 3)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    args = parser.parse_args()
    record_run()

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.type == "cuda"
    batch = args.batch or (64 if cuda else 1 if args.quick else 2)
    rounds = args.rounds or (2 if args.quick else 4)
    names = args.variants.split(",") if args.variants else [n for n in VARIANTS if n != "compile" or args.compile]
    if "fp32" not in names:
        names.insert(0, "fp32")
    if cuda:
        torch.backends.cudnn.benchmark = True
    n_params = count_parameters(build_model(args.preset))
    print(f"{args.preset} preset ({n_params:,} parameters) at {args.size} px, batch {batch}, {rounds} timed "
          f"rounds; device {device}"
          + ("" if cuda else f", {torch.get_num_threads()} threads") + f"; torch {torch.__version__}; native bf16: "
          f"{native_bf16(device)}", flush=True)

    steps = {}
    first: dict[str, float] = {}
    for name in names:  # build and warm up (the first step pays allocation, oneDNN primitive and compile costs)
        t0 = time.perf_counter()
        steps[name] = make_step(name, args.preset, args.size, batch, device)
        first[name] = timed(steps[name])
        print(f"  {name:14s} warm-up step {first[name]:8.2f} s (set-up {time.perf_counter() - t0:.1f} s)", flush=True)
        if name != "fp32" and not cuda and first[name] > args.give_up * first["fp32"] and name != "compile":
            print(f"  {name:14s} dropped: first step {first[name] / first['fp32']:.1f}x the baseline's", flush=True)
            del steps[name]
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(rounds):
        for name, step in steps.items():
            times[name].append(timed(step))
        print(f"  round {r + 1}: " + ", ".join(f"{n} {t[-1]:.2f} s" for n, t in times.items()), flush=True)

    base = batch / statistics.median(times["fp32"])
    print(f"\n{'variant':14s} {'samples/s':>10s} {'vs fp32':>8s}  median step")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:14s} {batch / med:10.3f} {batch / med / base:7.2f}x  {med:.3f} s")
    for name in names:
        if name not in times:
            print(f"{name:14s} {'-':>10s} {first[name] / first['fp32']:6.1f}x slower (first step; dropped)")
    amp, cl = native_bf16(device), channels_last_default(device, preset(args.preset))
    rule = {(True, True): "bf16+cl", (True, False): "bf16", (False, True): "channels_last"}.get((amp, cl), "fp32")
    t0 = time.perf_counter()
    choice = training_choice(preset(args.preset), args.size, batch, device)  # handpose train's: cached or measured
    tuned = {(True, True): "bf16+cl", (True, False): "bf16", (False, True): "channels_last"}.get(
        (choice.amp, choice.channels_last), "fp32")
    print(f"\nhandpose train's --amp/--channels-last auto here: {choice.name} -> variant {tuned} "
          f"(autotune took {time.perf_counter() - t0:.1f} s; the old rule would pick {rule})")
    for label, name in (("auto", tuned), ("old rule", rule)):
        if name in times:
            speed = batch / statistics.median(times[name])
            print(f"{label:9s} ({name}): {speed:.3f} samples/s = {speed / base:.2f}x the plain fp32 eager loop "
                  f"({base:.3f} samples/s)")
    best = max(times, key=lambda n: batch / statistics.median(times[n]))
    print(f"fastest variant: {best} ({batch / statistics.median(times[best]) / base:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
