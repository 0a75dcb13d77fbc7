"""The whole pipeline in minutes on a CPU: synth -> train -> eval -> export -> predict.

1. synth:   renders labelled hands into OUT/data (training) and, with another seed, OUT/test (hands the model never
            sees in training);
2. train:   the lite preset on OUT/data (the embedded settings of `handpose train`), run folder OUT/train;
3. eval:    PCK@0.2, AUC and EPE of the trained weights on OUT/test, report in OUT/eval;
4. export:  OUT/model.onnx, its parity with PyTorch checked in onnxruntime;
5. predict: the ONNX model on a few test pictures (hand boxes from their labels), skeleton overlays and belief
            maps in OUT/predictions;
6. real photos (with --real-data DIR): the trained model on every labelled real photo in DIR (any formats
            handpose reads, one dataset or a folder of them), in their ground-truth boxes, beside the test renders.
Prints where everything is. The training length fits the --minutes budget on a 2-core CPU; training stops early
(with a checkpoint) if the budget runs out. Running it again into the same --out reuses the renders and trains anew.

Examples:
  handpose demo --out runs/demo
  handpose demo --real-data my_labelled_photos/
  tensorboard --logdir runs/demo/train
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget of the whole demo (default 10)")
    parser.add_argument("--count", type=int, default=None, help="training images to render (default: embedded)")
    parser.add_argument("--test-count", type=int, default=1000,
                        help="held-out test images to render (default 1000: a PCK steady to about 0.01)")
    parser.add_argument("--size", type=int, default=None, help="rendered image side (default: embedded)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: embedded)")
    parser.add_argument("--input-size", type=int, default=None, help="network input size (default: embedded)")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch (default: embedded)")
    parser.add_argument("--workers", type=int, default=None, help="rendering / data-loading processes")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--pictures", type=int, default=6, help="test pictures to predict (default 6)")
    parser.add_argument("--device", default="auto", help="training device (default auto)")
    parser.add_argument("--real-data", type=Path, default=None, metavar="DIR",
                        help="labelled real photos to evaluate the trained model on (a dataset or a folder of them)")


def _stage(name: str, timings: dict[str, float], t0: float) -> None:
    timings[name] = round(time.perf_counter() - t0, 1)
    print(f"[demo] {name} done in {timings[name]:.1f} s", flush=True)


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Run the five steps; returns what was produced (paths, metrics, timings)."""
    import dataclasses
    import json
    import os

    import torch

    from handpose.autotune.resolve import training_choice
    from handpose.config import TrainConfig
    from handpose.training.recipes import recipe_config
    from handpose.training.trainer import train

    start = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    workers = args.workers if args.workers is not None else max(1, min(2, os.cpu_count() or 1))
    count = args.count or TrainConfig.synth_count
    size = args.size or TrainConfig.synth_size
    timings: dict[str, float] = {}
    result: dict[str, Any] = {"out": str(out), "timings_s": timings, "skipped": []}

    # 1. synth
    from handpose.synth import write_dataset

    t0 = time.perf_counter()
    data, test = out / "data", out / "test"
    if not (data / "synth1").is_dir() or len(list((data / "synth1").glob("*.json"))) != count:
        write_dataset(data, count=count, seed=args.seed, size=size, workers=workers)
    if not (test / "synth1").is_dir() or len(list((test / "synth1").glob("*.json"))) != args.test_count:
        write_dataset(test, count=args.test_count, seed=args.seed + 1_000_003, size=size, workers=workers)
    _stage("synth", timings, t0)

    # 2. train (the embedded settings; the budget left minus a reserve for the last three steps)
    t0 = time.perf_counter()
    cfg = recipe_config(TrainConfig(), "lite")
    data_cfg = cfg.dataset
    if args.input_size:
        data_cfg = dataclasses.replace(data_cfg, input_size=args.input_size)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, input_size=args.input_size))
    reserve_min = 1.0
    left_min = args.minutes - (time.perf_counter() - start) / 60 - reserve_min
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    cfg = dataclasses.replace(
        cfg, data=str(data), data_format="hand_labels_synth", out=str(out / "train"), dataset=data_cfg,
        seed=args.seed, workers=min(workers, 1) if device.type == "cpu" else workers,
        max_steps=args.steps or cfg.max_steps, batch_size=args.batch_size or cfg.batch_size,
        time_limit=max(0.2, left_min), device=str(device),
        val_every=min(cfg.val_every, args.steps or cfg.val_every), val_limit=100, overwrite=True,
    )
    speed = training_choice(cfg.model, cfg.dataset.input_size, cfg.batch_size, device)  # measured, then cached
    cfg = dataclasses.replace(cfg, amp=speed.amp, channels_last=speed.channels_last)
    summary = train(cfg)
    weights = Path(summary["best_weights"] or summary["final_weights"])
    result.update(train=summary["out"], weights=str(weights), train_stopped=summary["stopped"],
                  train_steps=summary["step"])
    _stage("train", timings, t0)

    # 3. eval on the held-out test renders
    from handpose.evaluate import run_evaluation

    t0 = time.perf_counter()
    report = run_evaluation(weights, test, fmt="hand_labels_synth", split="all", out=out / "eval",
                            batch_size=32)
    metrics = report["metrics"]
    result["test_metrics"] = {k: metrics.get(k) for k in ("PCK@0.2", "AUC", "EPE", "num_samples")}
    result["eval"] = str(out / "eval" / "eval_report.json")
    _stage("eval", timings, t0)

    # 4. export to ONNX (parity with PyTorch checked by export_onnx)
    t0 = time.perf_counter()
    onnx_path = out / "model.onnx"
    try:
        from handpose.export import export_onnx
        from handpose.model.artifact import load_model, read_data_config

        model = load_model(weights)
        exported = export_onnx(model, onnx_path, read_data_config(weights, model.config))
        result["onnx"] = str(onnx_path)
        result["onnx_max_abs_diff"] = exported.max_abs_diff
    except ImportError as exc:  # a missing optional piece: say so and go on
        result["skipped"].append(f"export ({exc})")
        onnx_path = weights
    _stage("export", timings, t0)

    # 5. predict pictures of held-out hands
    from handpose.commands.predict import predict_to_files
    from handpose.data.crop import sample_box
    from handpose.data.formats import load_splits
    from handpose.inference.predictor import Predictor

    t0 = time.perf_counter()
    predictor = Predictor.from_file(onnx_path)
    splits = load_splits(test, "hand_labels_synth")
    samples = sorted(splits.train + splits.val, key=lambda s: s.key)[: max(0, args.pictures)]
    pictures: list[str] = []
    for s in samples:
        written = predict_to_files(predictor, s.image_path, out / "predictions", box=sample_box(s).tolist(),
                                   is_left=bool(s.is_left))
        pictures += [str(p) for p in written if p.suffix == ".png"]
    result["predictions"] = str(out / "predictions")
    result["pictures"] = pictures
    result["predicted_hands"] = len(samples)
    _stage("predict", timings, t0)

    # 6. real photographs, when the user has some
    if args.real_data is not None:
        from handpose.evaluate_sets import evaluate_sets, format_sets

        t0 = time.perf_counter()
        real = evaluate_sets(Predictor.from_file(weights), [args.real_data])
        result["real_photos"] = {name: {k: m.get(k) for k in ("PCK@0.2", "AUC", "EPE", "num_samples")}
                                 for name, m in [*real["sets"].items(), ("all", real["all"])]}
        result["real_photos_table"] = format_sets(real)
        _stage("real photos", timings, t0)

    timings["total"] = round(time.perf_counter() - start, 1)
    (out / "demo_summary.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def run(args: argparse.Namespace) -> int:
    result = run_demo(args)
    m, t, out = result["test_metrics"], result["timings_s"], result["out"]
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in t.items() if k != "total")
    diff = result.get("onnx_max_abs_diff")
    lines = [
        f"handpose demo finished in {t['total'] / 60:.1f} min ({steps})",
        f"  training data:   {out}/data    held-out test data: {out}/test",
        f"  training run:    {result['train']}  ({result['train_stopped']} after {result['train_steps']} steps; "
        f"tensorboard --logdir {result['train']})",
        f"  weights:         {result['weights']}",
        f"  held-out test:   PCK@0.2={m['PCK@0.2']:.3f}  AUC={m['AUC']:.3f}  EPE={m['EPE']:.2f} px on "
        f"{m['num_samples']} unseen synthetic hands  ({result['eval']})",
        f"  ONNX model:      {result.get('onnx', '(skipped)')}"
        + (f"  (parity checked: max |ONNX - PyTorch| = {diff:.2e})" if diff is not None else ""),
        f"  pictures:        {result['predictions']}  ({result['predicted_hands']} hands: overlays and belief maps)",
        f"  summary:         {out}/demo_summary.json",
    ]
    if "real_photos_table" in result:
        lines.append(f"  real photos in {args.real_data} (ground-truth boxes):")
        lines += ["    " + line for line in result["real_photos_table"].splitlines()]
    lines += [f"  skipped: {s}" for s in result["skipped"]]
    print("\n" + "\n".join(lines))
    return 0
