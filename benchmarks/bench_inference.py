"""Per-image inference latency of each preset at its input size: PyTorch fp32, PyTorch bf16 autocast, onnxruntime
fp32, onnxruntime int8 (static, QOperator, per-channel) and OpenCV's DNN module running the same ONNX file.

All runtimes run in this one process on the same crop (batch 1, the network only: no decoding or image reading),
with the same thread count, one after another, so their ratios hold on a shared machine even when absolute times
drift. Aims (issue 7): the openpose preset at <= 0.25 s per 368 crop on 2 cores; the lite preset at >= 30 fps.
Weights are freshly initialised (speed does not depend on their values); int8 is calibrated on rendered crops.
PyTorch bf16 runs at full size only when a small-crop probe says it fits a 15 s budget (CPUs without native
bf16 run it far slower than fp32); otherwise the estimate from the probe is printed. The exported files are
cached in the temporary directory between runs, keyed by the model config (``--no-cache`` to re-export).

With ``--device cuda`` the PyTorch rows (and fp16 autocast rows) run on the GPU and onnxruntime uses its CUDA
provider where this onnxruntime has one (the row says CUDA or CPU); OpenCV DNN stays on the CPU.

Usage: python benchmarks/bench_inference.py [--quick] [--presets lite openpose] [--threads 2] [--repeats N]
                                             [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import torch
from run_record import record_run

from handpose.config import to_dict
from handpose.data.transforms import to_network_input
from handpose.export import export_onnx, sample_crops
from handpose.model.cpm import build_model, count_parameters
from handpose.quantize import quantize_int8

CACHE = Path(tempfile.gettempdir()) / "handpose-bench-inference"
AIMS = {"openpose": ("<= 0.25 s per crop", lambda s: s <= 0.25), "lite": (">= 30 fps", lambda s: 1.0 / s >= 30)}


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """(median, min) seconds of ``fn`` over ``repeats`` runs after ``warmup`` runs (CUDA work waited for)."""
    for _ in range(warmup):
        fn()
    _sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def onnx_files(preset: str, calib: int, use_cache: bool) -> tuple[Path, Path | None, str]:
    """fp32 and int8 files (dynamic axes; OpenCV 5 reads them too) of a freshly initialised preset; int8 is None,
    and the reason is in the note, where this onnxruntime's quantizer fails on the file (the other rows still run)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = build_model(preset).eval()
    key = hashlib.sha1(json.dumps(to_dict(model.config), sort_keys=True).encode()).hexdigest()[:10]
    fp32, int8 = (CACHE / f"{preset}-{key}{s}.onnx" for s in ("", "_int8"))
    if use_cache and fp32.is_file() and int8.is_file():
        return fp32, int8, "cached"
    t0 = time.perf_counter()
    export_onnx(model, fp32)
    t1 = time.perf_counter()
    size = model.config.input_size
    try:
        q = quantize_int8(fp32, int8, sample_crops(size, calib, seed=5))
    except Exception as exc:  # onnxruntime's quantizer raises its own and plain Python errors
        why = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120] if str(exc).strip() else ''}"
        note = f"exported in {t1 - t0:.0f} s; int8 quantization failed in onnxruntime {ort.__version__} ({why})"
        return fp32, None, note
    t2 = time.perf_counter()
    return (
        fp32,
        int8,
        f"exported in {t1 - t0:.0f} s, int8 ({q.fmt}, {q.calib_count} calibration crops, keypoint change "
        f"{q.keypoint_diff_px:.2f} px on {q.checked_on}) in {t2 - t1:.0f} s",
    )


def bench_preset(
    preset: str, threads: int, repeats: int, calib: int, use_cache: bool, bf16_budget_s: float = 15.0,
    device: str = "cpu",
) -> list[tuple[str, float]]:
    from handpose.inference.backends import onnx_providers

    torch.manual_seed(0)
    model = build_model(preset).eval()
    size = model.config.input_size
    crop = sample_crops(size, 1, seed=3)
    x_np = to_network_input(crop)  # (1, 3, S, S)
    dev = torch.device(device)
    x = torch.from_numpy(x_np).to(dev)
    model = model.to(dev)
    fp32, int8, how = onnx_files(preset, calib, use_cache)
    print(f"\n{preset}: {count_parameters(model) / 1e6:.2f} M parameters, input {size} x {size}; onnx {how}")
    rows: list[tuple[str, float]] = []

    def report(name: str, med: float, best: float) -> None:
        rows.append((name, med))
        print(f"  {name:28s} median {med * 1000:8.1f} ms  min {best * 1000:8.1f} ms  {1 / med:7.1f} fps", flush=True)

    with torch.inference_mode():
        report("pytorch fp32", *timed(lambda: model(x), repeats, warmup=2))
        model_cl = model.to(memory_format=torch.channels_last)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        report("pytorch fp32 channels_last", *timed(lambda: model_cl(x_cl), repeats, warmup=2))
        model = model.to(memory_format=torch.contiguous_format)
        if dev.type == "cuda":
            with torch.autocast("cuda", dtype=torch.float16):
                report("pytorch fp16 autocast", *timed(lambda: model(x), repeats, warmup=2))
            model.to(memory_format=torch.channels_last)  # Module.to changes the module itself: model_cl is model
            with torch.autocast("cuda", dtype=torch.float16):
                report("pytorch fp16 channels_last", *timed(lambda: model(x_cl), repeats, warmup=2))
            model.to(memory_format=torch.contiguous_format)
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            # CPUs without native bf16 (AVX2 only) run bf16 convolutions far slower than fp32: probe a small crop
            # first and only measure the full size when the probe says it fits the budget
            side = max(16, min(size // 2, 48))
            small = torch.from_numpy(to_network_input(sample_crops(side, 1, seed=3))).to(dev)
            probe = timed(lambda: model(small), 1)[0]
            ratio = (size / side) ** 2
            bf16_repeats = max(2, repeats // 2)
            if probe * ratio * (bf16_repeats + 1) < bf16_budget_s:
                report("pytorch bf16 autocast", *timed(lambda: model(x), bf16_repeats))
            else:
                est = probe * ratio
                rows.append(("pytorch bf16 autocast (estimate)", est))
                print(
                    f"  {'pytorch bf16 autocast':28s} skipped: {probe:.2f} s at {side} px, so roughly {est:.0f} s "
                    f"at {size} px by pixel count (no native bf16 on this CPU)",
                    flush=True,
                )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    providers = onnx_providers(device)
    for name, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
        if path is None:
            print(f"  {name + ':':28s} skipped (see the onnx note above)", flush=True)
            continue
        sess = ort.InferenceSession(str(path), opts, providers=providers)
        where = "CUDA" if "CUDAExecutionProvider" in sess.get_providers() else "CPU"
        report(f"{name} ({where})", *timed(lambda s=sess: s.run(["out"], {"image": x_np}), repeats))
    try:
        net = cv2.dnn.readNetFromONNX(str(fp32))

        def run_cv() -> object:
            net.setInput(x_np)
            return net.forward()

        out = run_cv()
        ref = ort.InferenceSession(str(fp32), opts, providers=["CPUExecutionProvider"]).run(["out"], {"image": x_np})[0]
        diff = float(np.abs(np.asarray(out).reshape(ref.shape) - ref).max())
        report(f"opencv dnn (|diff| {diff:.1e})", *timed(run_cv, repeats))
    except cv2.error as exc:
        print(f"  opencv dnn: cannot run this file ({str(exc).strip().splitlines()[-1][:100]})")
    if preset in AIMS:
        label, ok = AIMS[preset]
        best_name, best = min((r for r in rows if "estimate" not in r[0]), key=lambda r: r[1])
        print(f"  aim {label}: fastest is {best_name} at {best * 1000:.1f} ms -> {'met' if ok(best) else 'NOT met'}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and calibration crops (< 120 s)")
    parser.add_argument("--presets", nargs="*", default=["tiny", "lite", "openpose"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu or cuda: PyTorch rows and onnxruntime (its CUDA "
                        "provider where installed); OpenCV DNN runs on the CPU (default cpu)")
    args = parser.parse_args()
    record_run()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    repeats = args.repeats or (3 if args.quick else 10)
    calib = 2 if args.quick else 16
    print(
        f"torch {torch.__version__}, onnxruntime {ort.__version__}, opencv {cv2.__version__}, "
        f"{args.threads} threads, {repeats} repeats (median of per-image latency, batch 1)"
    )
    t0 = time.perf_counter()
    for preset in args.presets:
        bench_preset(preset, args.threads, repeats, calib, not args.no_cache, device=args.device)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
