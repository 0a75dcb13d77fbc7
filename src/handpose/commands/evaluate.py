"""Evaluate a model on a labelled dataset: PCK@0.2, PCKh@0.7, AUC, EPE and per-keypoint PCK (MMPose's definitions).

Each hand is cropped around its ground-truth box (padding from the model's training config) and run through the
network; errors are measured in original-image pixels over visible keypoints. PCK@0.2 divides by max(w, h) of the
ground-truth box, PCKh@0.7 by the head size (datasets that have one, e.g. CMU hand_labels), AUC averages PCK over
the thresholds 0, 1.5, ..., 28.5 px, EPE is the mean distance in pixels.

Writes OUT/eval_report.json (metrics, per-keypoint PCK, PCK curves, per-sample predictions) and OUT/pck_curve.png.
A --data folder that holds several datasets (in any formats handpose reads) is evaluated set by set and on all
their hands together, one table (OUT/eval_sets.json). --task detect evaluates a hand detector instead: AP@0.5,
AP@0.5:0.95 and recall at 1 false positive per image, by hand size. --detector FILE evaluates the keypoints through
that hand detector instead of the ground-truth boxes (detect once per image, crop each found hand, keypoints): hands
found (IoU >= 0.5 with the hand's box), false positives per image, PCK@0.2 / AUC over every annotated hand (a hand
not found misses all its keypoints), EPE over the found ones, and PCK@0.2 in the ground-truth boxes alongside
(OUT/eval_detected.json, ending with one record an image: which detection found each hand, its keypoints, and
every detection kept). The detector's hands are first re-boxed and re-scored by the keypoint network
(--refine-passes, --hand-threshold; 0 passes: the detector's boxes as they are); --task detect scores that cascade
with --keypoints FILE. Both run the detector at --detector-scales (default 1,2, as handpose predict on images).

Examples:
  handpose eval --weights runs/train/best.safetensors --data hand_labels/manual_test --flip --out runs/eval
  handpose eval --weights runs/train/best.safetensors --data my_photo_sets/ --split all
  handpose eval --task detect --weights runs/detect/best.safetensors --data scenes/hands_coco.json
  handpose eval --task detect --weights pretrained:detector --keypoints pretrained:lite --data scenes/hands_coco.json
  handpose eval --weights kp.safetensors --detector det.safetensors --data my_photo_sets/ --split all
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from handpose.commands.detection_flags import (
    DETECTION_FLAGS,
    REFINE_FLAGS,
    add_detector_scales_flag,
    add_detector_threshold_flag,
    add_refine_flags,
    detector_scales_from_args,
    given_flags,
    refine_from_args,
)
from handpose.commands.model_files import require_model_file
from handpose.commands.threads_flag import add_threads_flag
from handpose.commands.train import add_speed_flags

if TYPE_CHECKING:
    from handpose.inference.refine import RefineConfig

LOG = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from handpose.data.formats import FORMATS, ORDERS
    from handpose.data.formats.load import SPLIT_NAMES

    parser.add_argument("--weights", required=True, help="model file: .safetensors, training checkpoint .pt, or .onnx "
                        "(with --task detect: a hand detector's)")
    parser.add_argument("--data", required=True, help="dataset path (any format handpose reads)")
    parser.add_argument("--format", default=None, metavar="FORMAT",
                        help=f"dataset format: {', '.join(sorted(FORMATS))}; --task detect reads coco and "
                        "coco_wholebody, each found by itself (default: detected from the path)")
    parser.add_argument("--keypoint-order", default=None, metavar="ORDER", help="keypoint order of a COCO json stored "
                        f"in another order than CMU's: {', '.join(sorted(ORDERS))}, or a name of CMU's order "
                        "(mediapipe, openpose, ...) (default: cmu, or rhd for a json named *rhd*)")
    parser.add_argument("--split", default="val", choices=SPLIT_NAMES, help="which split (default val: the dataset's "
                        "test part, or the --val-fraction share held out by hash; in a folder of datasets, each one's)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="held-out share of datasets without a test "
                        "split, divided by hash as train --val-fraction divides them: give the value the model "
                        "trained with, and the same to every model compared (default 0.1, train's; a model or "
                        "detector that records a smaller one is warned about)")
    parser.add_argument("--flip", action="store_true",
                        help="flip test: also run the mirrored crop and average (for models trained on both sides; "
                        "refused for a model trained with left hands mirrored, as the shipped ones)")
    parser.add_argument(
        "--scales", default="1.0", metavar="S[,S...]", help="comma-separated crop scales averaged at test time, "
        "e.g. 1.0,0.75,1.25 (default 1.0)"
    )
    parser.add_argument("--task", default="keypoints", choices=("keypoints", "detect"),
                        help="keypoints: PCK/AUC/EPE of a keypoint model in the ground-truth boxes; detect: AP@0.5, "
                        "AP@0.5:0.95 and recall at 1 false positive per image of a hand detector (default keypoints)")
    parser.add_argument("--detector", default=None, metavar="FILE",
                        help="a hand detector (.safetensors / .pt, its .onnx export, or pretrained:detector): "
                        "evaluate the keypoints in its boxes (detect -> crop -> keypoints), next to the ground-truth "
                        "boxes")
    parser.add_argument("--keypoints", default=None, metavar="FILE",
                        help="--task detect: a keypoint model; score the detector's hands after its keypoint "
                        "refinement (--refine-passes) instead of the detector alone")
    add_detector_threshold_flag(parser, "--detector: ")
    add_detector_scales_flag(parser)
    add_refine_flags(parser)
    parser.add_argument("--batch-size", type=int, default=16, help="crops (or images, --task detect) per network "
                        "run (default 16)")
    parser.add_argument("--workers", type=int, default=0, help="image-reading processes (default 0: in-process)")
    parser.add_argument("--device", default="auto", help="device: auto, cpu, cuda or cuda:N (PyTorch weight "
                        "files; ONNX files through onnxruntime's CUDA provider where installed) (default auto: "
                        "cuda where there is a GPU, else cpu, as train)")
    add_speed_flags(parser, "evaluation", amp_note="off: fp32, so the figures do not depend on a timing")
    add_threads_flag(parser)
    parser.add_argument("--out", default=None, help="folder for the report: eval_report.json and pck_curve.png "
                        "(a folder of datasets: eval_sets.json; --detector: eval_detected.json; --task detect: "
                        "detection_eval.json, or the .json path given) (default: none; nothing is written)")
    parser.add_argument("--overwrite", action="store_true", help="replace the files of an earlier evaluation in --out "
                        "(without it such a folder is refused)")


def parse_scales(text: str) -> tuple[float, ...]:
    """'1.0,0.75,1.25' -> (1.0, 0.75, 1.25); ValueError naming --scales and the bad entry, or the bound it breaks
    (``inference.prepare.check_scales``: at most 8 scales, each in (0, 4])."""
    from handpose.inference.prepare import check_scales

    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"--scales: {part!r} is not a number (expected e.g. 1.0,0.75,1.25)") from None
        if not math.isfinite(value):
            raise ValueError(f"--scales: {part!r} is not a finite number")
        if not value > 0:
            raise ValueError(f"--scales: {part!r} must be positive")
        out.append(value)
    try:
        return check_scales(out)
    except ValueError as exc:
        raise ValueError(f"--scales: {exc}") from None


def run(args: argparse.Namespace) -> int:
    """``handpose eval``; with --overwrite, the earlier report's files this run did not write go after it succeeded.
    One evaluation writes an --out folder at a time (two would leave one's report beside the other's curve)."""
    from contextlib import ExitStack

    from handpose.commands.threads_flag import command_threads
    from handpose.folder_lock import RunLock

    earlier = []
    with ExitStack() as held:
        if args.out is not None:  # checked before evaluating, not after
            from handpose.detection.evaluate import report_path
            from handpose.files import ensure_writable_file, ensure_writable_folder

            report_file = args.task == "detect" and report_path(args.out) == Path(args.out)  # the report's own path
            (ensure_writable_file if report_file else ensure_writable_folder)(args.out, "--out")
            if not report_file:  # one file is written whole (atomically) and needs no lock
                held.enter_context(RunLock(args.out, "evaluation", remove=True))
            earlier = refuse_earlier_reports(Path(args.out), args.overwrite)
        with command_threads(args.threads):  # every predictor and detector the evaluation makes
            code = _run(args)
        if code == 0:
            remove_left_over(earlier)
    return code


def _run(args: argparse.Namespace) -> int:
    import math

    from handpose.autotune.resolve import parse_flag
    from handpose.config_checks import cap_workers, check_device
    from handpose.evaluate import run_evaluation

    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not 0.0 <= args.val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be from 0 up to 1 (not 1), got {args.val_fraction:g}")
    args.workers = cap_workers(args.workers)
    args.device = check_device(args.device)  # auto -> cuda where there is a GPU, else cpu
    refine = refine_from_args(args)
    warn_unused_detection_flags(args)
    warn_unused_speed_flags(args)
    if args.task == "detect":
        if args.flip or parse_scales(args.scales) != (1.0,):
            raise ValueError("--flip and --scales are the keypoint model's test-time options; --task detect scores "
                             "the detector (its scales: --detector-scales)")
        if args.detector is not None:
            raise ValueError("--detector goes with --task keypoints (--task detect takes the detector as --weights)")
        keypoint_data = ([f"--format {args.format}"] if args.format not in (None, "coco", "coco_wholebody") else []) + (
            ["--keypoint-order"] if args.keypoint_order is not None else [])
        if keypoint_data:  # they were not used: the boxes were read as COCO whatever was given
            raise ValueError(f"{', '.join(keypoint_data)}: keypoint task only; --task detect reads COCO json of hand "
                             "boxes (plain COCO or COCO-WholeBody, found by itself)")
        if args.keypoints is not None and refine is None:
            raise ValueError("--keypoints scores the keypoint refinement: --refine-passes must be at least 1")
    elif args.keypoints is not None:
        raise ValueError("--keypoints goes with --task detect (--task keypoints takes the keypoint model as "
                         "--weights)")
    for flag, value in (("--weights", args.weights), ("--detector", args.detector), ("--keypoints", args.keypoints)):
        require_model_file(flag, value)  # after the flags' combination is checked
    if args.task == "detect":
        return _run_detect(args, refine)
    if args.detector is not None:
        return _run_through_detector(args, refine)
    from handpose.evaluate_sets import find_datasets

    found = find_datasets(args.data)
    if found and found != [Path(args.data)]:  # a folder of datasets: each one, then all together
        return _run_sets(args)
    report = run_evaluation(
        args.weights,
        args.data,
        fmt=args.format,
        keypoint_order=args.keypoint_order,
        split=args.split,
        flip_test=args.flip,
        scales=parse_scales(args.scales),
        batch_size=args.batch_size,
        out=args.out,
        workers=args.workers,
        device=args.device,
        amp=parse_flag(args.amp, "--amp"),
        channels_last=parse_flag(args.channels_last, "--channels-last"),
        val_fraction=args.val_fraction,
    )
    m = report["metrics"]
    unread = sum(report["skipped_annotations"].values())
    print(
        f"{report['data']} ({report['format']}, {report['split']} split"
        + (f" ({'all but ' if report['split'] == 'train' else ''}{report['val_fraction']:g} held out by hash)"
           if report.get("val_fraction") is not None else "")
        + f"; {report.get('precision', 'fp32')}"
        f"{test_time_words(args.flip, parse_scales(args.scales))}): {m['num_samples']} "
        f"hand{'s' if m['num_samples'] != 1 else ''}, {m['num_keypoints']} visible keypoints, {m['num_skipped']} "
        "skipped" + (f" (and {unread} annotations skipped when read, of every split)" if unread else "")
    )
    print(report["summary"])
    from handpose.evaluate_sets import side_note

    if side_note(m):
        print(side_note(m))
    print("per-keypoint PCK@0.2:")
    for name, value in report["per_keypoint_PCK@0.2"].items():
        print(f"  {name:12s} {'-' if value is None or math.isnan(value) else f'{value:.3f}'}")
    for f in report.get("files", []):
        print(f"wrote {f}")
    if args.out is None:
        print("no report written: add --out FOLDER for eval_report.json (every prediction) and pck_curve.png")
    return 0


def warn_unused_detection_flags(args: argparse.Namespace) -> None:
    """One warning naming the detection flags given where this evaluation does not use them (they were ignored
    without a word)."""
    if args.task == "detect":
        if args.keypoints is None:
            dests, why = ("detector_threshold", *REFINE_FLAGS), ("--task detect without --keypoints scores the "
                                                                 "detector alone, and AP ranks every detection")
        else:
            dests, why = ("detector_threshold", "hand_threshold"), "--task detect's AP ranks every refined hand"
    elif args.detector is None:
        dests, why = DETECTION_FLAGS, "they apply with --detector or --task detect"
    elif args.refine_passes == 0:
        dests, why = REFINE_FLAGS[1:], "--refine-passes 0 keeps the detector's boxes and scores as they are"
    else:
        return
    given = given_flags(args, dests)
    if given:
        LOG.warning("%s: not used (%s)", ", ".join(given), why)


def warn_unused_speed_flags(args: argparse.Namespace) -> None:
    """One warning naming --amp on, --channels-last on and --workers where the evaluation runs through a detector
    (``--task detect``, ``--detector``), which takes none of them: they apply to the keypoint evaluation in the
    ground-truth boxes (they were ignored without a word)."""
    if args.task != "detect" and args.detector is None:
        return
    given = [flag for flag, used in (("--amp on", args.amp == "on"), ("--channels-last on", args.channels_last == "on"),
                                     (f"--workers {args.workers}", args.workers > 0)) if used]
    if given:
        LOG.warning("%s: not used by %s (they apply to the keypoint evaluation in the ground-truth boxes)",
                    ", ".join(given), "--task detect" if args.task == "detect" else "--detector")


def test_time_words(flip: bool, scales: tuple[float, ...]) -> str:
    """", flip test, scales 1,0.75" as far as they are used ("" for neither)."""
    return (", flip test" if flip else "") + (", scales " + ",".join(f"{x:g}" for x in scales)
                                             if tuple(scales) != (1.0,) else "")


def report_files() -> tuple[str, ...]:
    """Every file an evaluation writes into --out (one or two of them per kind of run), by their writers' names."""
    from handpose import evaluate, evaluate_detected, evaluate_sets
    from handpose.detection import evaluate as detection_evaluate

    return (evaluate.REPORT_NAME, evaluate.CURVE_NAME, evaluate_sets.REPORT_NAME, evaluate_detected.REPORT_NAME,
            detection_evaluate.REPORT_NAME)


def refuse_earlier_reports(out: Path, overwrite: bool) -> list[tuple[Path, tuple[int, int]]]:
    """ValueError when ``out`` already holds an evaluation's files (or, given as a ``.json`` path, which ``--task
    detect`` writes its report to, is an existing file), unless ``overwrite``: an earlier report is not replaced
    unasked. Returns those files: with ``overwrite`` the ones this run does not write again go once it has written
    its own (:func:`remove_left_over`), so the folder holds this run's report alone, and a run that fails first
    leaves the earlier report as it was."""
    taken = [out] if out.suffix.lower() == ".json" and out.is_file() else [out / n for n in report_files()
                                                                           if (out / n).exists()]
    if taken and not overwrite:
        names = ", ".join(p.name for p in taken)
        raise ValueError(f"--out {out} already holds an evaluation ({names}); add --overwrite to replace it, or "
                         "choose another --out")
    return [(path, _identity(path)) for path in taken]


def _identity(path: Path) -> tuple[int, int]:
    """(inode, modification time in ns): a file written again (atomically: a new inode) no longer matches."""
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def remove_left_over(earlier: list[tuple[Path, tuple[int, int]]]) -> None:
    """After a run that wrote its report: delete the earlier evaluation's files it did not write again (the same
    file as before the run, by :func:`_identity`)."""
    for path, identity in earlier:
        if path.is_file() and _identity(path) == identity:
            path.unlink()


def _run_sets(args: argparse.Namespace) -> int:
    """``--data`` holds several datasets: the metrics of each and of all their hands together."""
    from handpose.evaluate_sets import REPORT_NAME, evaluate_sets, format_sets
    from handpose.files import write_json
    from handpose.inference.predictor import Predictor

    refused = [flag for flag, given in (("--format", args.format is not None),
                                        ("--keypoint-order", args.keypoint_order is not None),
                                        ("--amp", args.amp not in (None, "off"))) if given]
    if refused:
        raise ValueError(f"{', '.join(refused)}: --data {args.data} holds several datasets, each read as it is "
                         "and scored in fp32; give one dataset's folder or file to use "
                         f"{'it' if len(refused) == 1 else 'them'}")
    if args.workers:
        LOG.warning("--workers: a folder of datasets is read in this process; the flag is not used")
    scales = parse_scales(args.scales)
    predictor = Predictor.from_file(args.weights, device=args.device, flip_test=args.flip, scales=scales)
    result = evaluate_sets(predictor, [args.data], batch_size=args.batch_size, split=args.split,
                           val_fraction=args.val_fraction, weights=args.weights)
    print(f"{args.weights} on every dataset in {args.data} ({args.split} samples of each, ground-truth boxes; "
          f"fp32{test_time_words(args.flip, scales)}):")
    print(format_sets(result))
    if args.out is not None:
        from handpose.eval_held_out import recorded_fraction

        path = Path(args.out) / REPORT_NAME
        slim = {name: {k: v for k, v in m.items() if k != "per_keypoint_PCK@0.2"}
                for name, m in [*result["sets"].items(), ("all", result["all"])]}
        settings = {"weights": str(args.weights), "data": str(args.data), "split": args.split,
                    "val_fraction": recorded_fraction(args.split, result["hash_divided"], args.val_fraction),
                    "precision": "fp32",
                    "flip_test": bool(args.flip), "scales": list(scales)}
        write_json(path, {"settings": settings, **slim})
        print(f"wrote {path}")
    else:
        print(f"no report written: add --out FOLDER for {REPORT_NAME}")
    return 0


def _run_detect(args: argparse.Namespace, refine: RefineConfig | None) -> int:
    """``--task detect``: the detector's AP report (of the refinement cascade with --keypoints)."""
    from handpose.detection.evaluate import format_detection_report, run_detection_eval

    report = run_detection_eval(args.weights, args.data, out=args.out, batch_size=args.batch_size,
                                device=args.device, split=args.split, keypoints=args.keypoints, refine=refine,
                                scales=detector_scales_from_args(args), val_fraction=args.val_fraction)
    print(format_detection_report(report))
    if args.out is None:
        print("no report written: add --out FOLDER for detection_eval.json")
    else:
        from handpose.detection.evaluate import report_path

        print(f"wrote {report_path(args.out)}")
    return 0


def _run_through_detector(args: argparse.Namespace, refine: RefineConfig | None) -> int:
    """``--detector``: the keypoints through the detector's boxes, next to the ground-truth boxes."""
    from handpose.evaluate_detected import REPORT_NAME, format_detected, run_detected_evaluation

    report = run_detected_evaluation(args.weights, args.detector, args.data, split=args.split, fmt=args.format,
                                     keypoint_order=args.keypoint_order, flip_test=args.flip,
                                     scales=parse_scales(args.scales), batch_size=args.batch_size, device=args.device,
                                     detector_threshold=args.detector_threshold, out=args.out, refine=refine,
                                     detector_scales=detector_scales_from_args(args), val_fraction=args.val_fraction)
    print(f"{args.weights} through {args.detector} on {args.data} ({report['split']}):")
    print(format_detected(report))
    for f in report.get("files", []):
        print(f"wrote {f}")
    if args.out is None:
        print(f"no report written: add --out FOLDER for {REPORT_NAME}")
    return 0
