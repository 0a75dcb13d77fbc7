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
(with a checkpoint) if the budget runs out. Running it again into the same --out reuses the renders and trains anew
(replacing its own earlier results; a training run in OUT/train, a model.onnx or an eval report that no demo
wrote is refused).

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

from handpose.commands.arg_types import at_least_one
from handpose.commands.threads_flag import parse_threads
from handpose.files import ensure_writable_folder, write_json
from handpose.words import counted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), help="output folder (default runs/demo)")
    parser.add_argument("--minutes", type=float, default=8.5, help="time budget of the whole demo (default 8.5, "
                        "so that make demo, creating its virtual environment first, stays under 10 on a slow 2-core "
                        "CPU)")
    # counts and sizes below 1 are refused by the parser, before anything renders (not by training, after it)
    parser.add_argument("--count", type=at_least_one, default=None,
                        help="training images to render (default 8000, "
                        "TrainConfig.synth_count)")
    parser.add_argument("--test-count", type=int, default=1000,
                        help="held-out test images to render (default 1000: a PCK steady to about 0.01)")
    parser.add_argument("--size", type=at_least_one, default=None,
                        help="rendered image side in pixels (default 256)")
    parser.add_argument("--steps", type=at_least_one, default=None,
                        help="training steps (default 3700, the lite recipe's)")
    parser.add_argument("--input-size", type=at_least_one, default=None,
                        help="network input side in pixels (default 96, the lite recipe's)")
    parser.add_argument("--batch-size", type=at_least_one, default=None,
                        help="training batch (default 16, the lite recipe's)")
    parser.add_argument("--workers", type=int, default=None, help="rendering / data-loading processes (default: 2, "
                        "or 1 on a one-core machine; training on the CPU loads its data with at most 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--pictures", type=int, default=6, help="test pictures to predict (default 6)")
    parser.add_argument("--device", default="auto", help="training device (default auto)")
    parser.add_argument("--threads", type=parse_threads, default=None, help="training's torch CPU threads: a number, "
                        "or auto (the cores other processes leave free, as handpose train --threads auto) "
                        "(default: torch's choice, every core)")
    parser.add_argument("--real-data", type=Path, default=None, metavar="DIR",
                        help="labelled real photos to evaluate the trained model on (a dataset or a folder of them)")


def _stage(name: str, timings: dict[str, float], t0: float) -> None:
    timings[name] = round(time.perf_counter() - t0, 1)
    print(f"[demo] {name} done in {timings[name]:.1f} s", flush=True)


def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    """Run the steps; returns what was produced (paths, metrics, timings)."""

    from handpose.config_checks import check_device

    start = time.perf_counter()
    out: Path = args.out
    args.device = check_device(args.device)  # before any rendering (CUDA without a GPU failed in training, after it)
    check_out_folder(out)  # before any rendering
    ensure_writable_folder(out, "--out")  # made, and a file written there, before any rendering
    timings: dict[str, float] = {}
    result: dict[str, Any] = {"out": str(out), "timings_s": timings, **demo_settings(args)}
    stages = [("synth", _synth), ("train", _train), ("eval", _evaluate), ("export", _export), ("predict", _predict)]
    if args.real_data is not None:
        stages.append(("real photos", _real_photos))
    for name, stage in stages:
        t0 = time.perf_counter()
        stage(args, out, result, start)
        _stage(name, timings, t0)
    timings["total"] = round(time.perf_counter() - start, 1)
    write_json(out / "demo_summary.json", result)
    return result


def demo_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What ``demo_summary.json`` records to repeat the demo beside its outputs: the seeds and sizes of the renders,
    the versions, CPU and thread count (``run_environment``); the training's speed choices are added by its stage
    (``train_speed``), and its whole settings are in ``OUT/train/config.json``."""
    from handpose.config import TrainConfig
    from handpose.run_environment import run_environment

    return {
        "seed": args.seed, "test_seed": _test_seed(args.seed), "count": args.count or TrainConfig.synth_count,
        "test_count": args.test_count, "size": args.size or TrainConfig.synth_size, "minutes": args.minutes,
        "environment": run_environment(),
    }


def _test_seed(seed: int) -> int:
    """The held-out renders' seed: another stream than the training renders'."""
    return seed + 1_000_003


def check_out_folder(out: Path) -> None:
    """ValueError when ``out`` holds results that the demo would replace and that are not an earlier demo's: a
    training run in OUT/train that did not train on OUT/data, or OUT/model.onnx or an evaluation in OUT/eval in a
    folder with no demo's run or demo_summary.json. The demo replaces its own results only (``demo --out runs``
    deleted the checkpoints and weights of ``handpose train``'s default run folder, runs/train, with a warning that
    named an --overwrite never given, and replaced the report of the README's ``eval --out runs/eval``)."""
    import json

    from handpose.evaluate import CURVE_NAME, REPORT_NAME
    from handpose.training.run_folder import run_files

    folder = out / "train"
    own_run = False
    if run_files(folder):
        try:
            config = json.loads((folder / "config.json").read_text())
            data, run_out = config.get("data"), config.get("out")
        except (OSError, ValueError, AttributeError):
            data = run_out = None
        own_run = isinstance(data, str) and (
            Path(data).resolve() == (out / "data").resolve()
            # an older demo recorded OUT/data as given, relative to where it ran, beside its OUT/train
            or (not Path(data).is_absolute() and isinstance(run_out, str)
                and Path(data) == Path(run_out).parent / "data"))
        if not own_run:
            raise ValueError(f"--out {out}: {folder} holds a training run that is not a demo's (it trained on "
                             f"{data if isinstance(data, str) else 'data not recorded'}), and the demo trains anew "
                             "there, deleting it: choose another --out")
    taken = [p for p in (out / "model.onnx", out / "eval" / REPORT_NAME, out / "eval" / CURVE_NAME) if p.exists()]
    if taken and not own_run and not (out / "demo_summary.json").is_file():
        raise ValueError(f"--out {out} holds {', '.join(str(p) for p in taken)}, which no demo wrote, and the demo "
                         "would replace them: choose another --out")


def _workers(args: argparse.Namespace) -> int:
    import os

    return args.workers if args.workers is not None else max(1, min(2, os.cpu_count() or 1))


def _synth(args: argparse.Namespace, out: Path, result: dict[str, Any], start: float) -> None:
    """1. renders: OUT/data for training, OUT/test (another seed) held out; kept when already complete."""
    from handpose.config import TrainConfig
    from handpose.synth import write_dataset

    count = args.count or TrainConfig.synth_count
    size = args.size or TrainConfig.synth_size
    for folder, n, seed in ((out / "data", count, args.seed), (out / "test", args.test_count, _test_seed(args.seed))):
        if not (folder / "synth1").is_dir() or len(list((folder / "synth1").glob("*.json"))) != n:
            write_dataset(folder, count=n, seed=seed, size=size, workers=_workers(args))


def _train(args: argparse.Namespace, out: Path, result: dict[str, Any], start: float) -> None:
    """2. the lite recipe on OUT/data within the budget left (minus a reserve for the steps after it)."""
    import dataclasses

    import torch

    from handpose.autotune.resolve import training_choice
    from handpose.config import TrainConfig
    from handpose.training.recipes import recipe_config
    from handpose.training.trainer import train

    cfg = recipe_config(TrainConfig(), "lite")
    data_cfg = cfg.dataset
    if args.input_size:
        data_cfg = dataclasses.replace(data_cfg, input_size=args.input_size)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, input_size=args.input_size))
    reserve = min(1.0, 0.12 * args.minutes)  # eval, export and predict: about a minute at the default budget
    left_min = args.minutes - (time.perf_counter() - start) / 60 - reserve
    device = torch.device(args.device)  # checked, auto resolved, by run_demo
    workers = _workers(args)
    cfg = dataclasses.replace(
        cfg, data=str((out / "data").resolve()), data_format="hand_labels_synth", out=str(out / "train"),
        dataset=data_cfg,
        seed=args.seed, workers=min(workers, 1) if device.type == "cpu" else workers,
        max_steps=args.steps or cfg.max_steps, batch_size=args.batch_size or cfg.batch_size,
        time_limit=max(0.2, left_min), device=str(device),
        val_every=min(cfg.val_every, args.steps or cfg.val_every), val_limit=100,
        overwrite=True,  # the demo's own earlier run alone (check_out_folder)
        threads=args.threads,
    )
    speed = training_choice(cfg.model, cfg.dataset.input_size, cfg.batch_size, device)  # measured, then cached
    summary = train(dataclasses.replace(cfg, amp=speed.amp, channels_last=speed.channels_last))
    weights = Path(summary["best_weights"] or summary["final_weights"])
    result.update(train=summary["out"], weights=str(weights), train_stopped=summary["stopped"],
                  train_steps=summary["step"], train_speed={"amp": speed.amp, "channels_last": speed.channels_last},
                  train_others_cpu_share=summary["others_cpu_share"])  # training warned above a fifth


def _evaluate(args: argparse.Namespace, out: Path, result: dict[str, Any], start: float) -> None:
    """3. PCK, AUC and EPE on the held-out test renders."""
    from handpose.evaluate import run_evaluation

    report = run_evaluation(result["weights"], out / "test", fmt="hand_labels_synth", split="all",
                            out=out / "eval", batch_size=32)
    metrics = report["metrics"]
    result["test_metrics"] = {k: metrics.get(k) for k in ("PCK@0.2", "AUC", "EPE", "num_samples")}
    result["eval"] = str(out / "eval" / "eval_report.json")


def _export(args: argparse.Namespace, out: Path, result: dict[str, Any], start: float) -> None:
    """4. ONNX, its parity with PyTorch checked by export_onnx."""
    from handpose.export import export_onnx
    from handpose.model.artifact import load_model, read_data_config

    weights = result["weights"]
    model = load_model(weights)
    exported = export_onnx(model, out / "model.onnx", read_data_config(weights, model.config))
    result["onnx"] = str(out / "model.onnx")
    result["onnx_max_abs_diff"] = exported.max_abs_diff


def _predict(args: argparse.Namespace, out: Path, result: dict[str, Any], start: float) -> None:
    """5. the ONNX model on a few held-out pictures (boxes from their labels): overlays and belief maps."""
    from handpose.commands.predict_files import predict_to_files
    from handpose.data.crop import sample_box
    from handpose.data.formats import load_splits
    from handpose.inference.predictor import Predictor

    predictor = Predictor.from_file(result["onnx"])
    splits = load_splits(out / "test", "hand_labels_synth")
    samples = sorted(splits.train + splits.val, key=lambda s: s.key)[: max(0, args.pictures)]
    pictures: list[str] = []
    for s in samples:
        written = predict_to_files(predictor, s.image_path, out / "predictions", box=sample_box(s).tolist(),
                                   is_left=bool(s.is_left))
        pictures += [str(p) for p in written if p.suffix == ".png"]
    result.update(predictions=str(out / "predictions"), pictures=pictures, predicted_hands=len(samples))


def _real_photos(args: argparse.Namespace, out: Path, result: dict[str, Any], start: float) -> None:
    """6. the trained model on every labelled photo in --real-data, in their ground-truth boxes."""
    from handpose.evaluate_sets import evaluate_sets, format_sets
    from handpose.inference.predictor import Predictor

    real = evaluate_sets(Predictor.from_file(result["weights"]), [args.real_data])
    result["real_photos"] = {name: {k: m.get(k) for k in ("PCK@0.2", "AUC", "EPE", "num_samples")}
                             for name, m in [*real["sets"].items(), ("all", real["all"])]}
    result["real_photos_table"] = format_sets(real)


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
        f"  ONNX model:      {result['onnx']}"
        + (f"  (parity checked: max |ONNX - PyTorch| = {diff:.2e})" if diff is not None else ""),
        f"  pictures:        {result['predictions']}  ({counted(result['predicted_hands'], 'hand')}: overlays and "
        "belief maps)",
        f"  summary:         {out}/demo_summary.json",
    ]
    from handpose.training.busy_machine import busy  # here: the package loads torch, and --help must not

    share = result.get("train_others_cpu_share")
    if busy(share):
        lines.append(f"  note:            other processes used {100 * share:.0f}% of the CPUs while it trained: "
                     "rerun on a quiet machine for the figures of README.md")
    if "real_photos_table" in result:
        lines.append(f"  real photos in {args.real_data} (ground-truth boxes):")
        lines += ["    " + line for line in result["real_photos_table"].splitlines()]
    print("\n" + "\n".join(lines))
    return 0
