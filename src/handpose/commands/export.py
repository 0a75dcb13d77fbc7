"""Export a model to ONNX (inference graph, parity-checked in onnxruntime), optionally also static int8.

The ONNX file takes `image` (N x 3 x H x W float32 = BGR / 256 - 0.5; batch, height and width dynamic unless
--static-shape; handpose feeds it squares of the file's `input_size`) and returns `out`, the last stage's belief
maps (N x 22 x ceil(H/s) x ceil(W/s), s the file's `stride`: 8, or 4 for a model trained with --output-stride 4).
Its metadata records the model config, the crop settings, the preprocessing and the keypoint names, and in words
the crop, the decoding and the choice of side (README.md, "Export"). The file is run in
onnxruntime and compared with PyTorch on a realistic crop and on a second input size; the largest absolute
difference is printed, and the command fails (exit code 2) when it exceeds --tolerance.

--int8 also writes OUT with suffix _int8.onnx: static quantization (QOperator, per-channel int8 weights, uint8
activations) calibrated on real crops of --calib-data (its validation split first, then its training split; or
on rendered synthetic hands with --calib-data synthetic), and reports how far its keypoints move against fp32
(mean px in the crop) on a few more crops from the same source that calibration did not see (up to 8 beyond
--calib-count; a source with fewer crops than asked for is said, and a fifth of what it has is held out).

A hand detector's weights (`handpose train --task detect`, or pretrained:detector) export the same way: `image`
is the letterboxed scene (N x 3 x S x S, S a multiple of 32) and the outputs are the four maps `heatmap`, `size`,
`offset` and `left`; `handpose predict --detector` and `handpose eval --task detect --weights` take the file. Its
--int8 calibrates on letterboxed scenes (rendered with --calib-data synthetic, or the images of a COCO json of hand
boxes) and reports how many of the fp32 file's boxes the int8 file finds again on held-out images.

An existing OUT (or, with --int8, its _int8.onnx) is not replaced unless --overwrite is given; the files are
written atomically, so a failed export leaves the earlier ones whole.

Example:
  handpose export --weights runs/train/best.safetensors --out hand.onnx --int8 --calib-data hand_labels/manual_test
  handpose export --weights pretrained:detector --out detector.onnx
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from handpose.words import counted

LOG = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, help="model file: .safetensors or training checkpoint .pt of a "
                        "keypoint model or a hand detector, or pretrained:lite / pretrained:detector (the shipped "
                        "ones)")
    parser.add_argument("--out", required=True, help="output .onnx path")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 13 to 20 (default 17)")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest allowed |onnx - torch| of the maps, >= 0 (default 1e-3)")
    parser.add_argument(
        "--check-image",
        default=None,
        help="image for the parity check (default: two calibration crops with --int8, else a rendered hand crop)",
    )
    parser.add_argument(
        "--static-shape",
        action="store_true",
        help="fixed 1 x 3 x S x S input instead of dynamic (handpose runs batches and --flip through it one crop at "
        "a time; other sizes, e.g. predict/eval --scales, need the dynamic export)",
    )
    parser.add_argument("--int8", action="store_true", help="also write a static int8 model (OUT stem + _int8.onnx)")
    parser.add_argument("--calib-data", default="synthetic", help="dataset path for calibration, or 'synthetic' "
                        "(rendered hands; rendered scenes for a detector, else a COCO json of hand boxes) (default "
                        "synthetic)")
    parser.add_argument("--calib-count", type=int, default=64, help="calibration crops (default 64)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing OUT (and OUT stem + _int8.onnx with --int8); without it export "
                        "refuses to write over them")
    parser.add_argument("--int8-format", default="qoperator", choices=("qdq", "qoperator"),
                        help="int8 graph format (default qoperator, the faster on the CPUs measured)")


def run(args: argparse.Namespace) -> int:
    from handpose import pretrained
    from handpose.commands.model_files import require_model_file
    from handpose.eval_held_out import stored_split
    from handpose.export import check_opset, export_onnx
    from handpose.files import ensure_writable_file
    from handpose.inference.prepare import read_image, spec_from_config
    from handpose.model.artifact import TASK_DETECT, WEIGHT_SUFFIXES, load_model, read_data_config, read_task

    require_model_file("--weights", args.weights)
    weights = pretrained.resolve(args.weights)  # pretrained:NAME is a shipped model
    if weights.suffix.lower() not in WEIGHT_SUFFIXES:  # load_model's own message offers .onnx, which export is not for
        what = "already an ONNX file" if weights.suffix.lower() == ".onnx" else "not a weights file"
        raise ValueError(f"{weights} is {what}; export needs PyTorch weights ({', '.join(WEIGHT_SUFFIXES)}): a "
                         "run's best.safetensors or model.safetensors, or a training checkpoint")
    out = Path(args.out)
    if out.suffix.lower() != ".onnx":
        raise ValueError(f"--out must end in .onnx, got {out}")
    check_opset(args.opset)
    if not args.tolerance >= 0.0:  # NaN too: no difference is above it, so nothing would be checked
        raise ValueError(f"--tolerance {args.tolerance:g}: give a number >= 0, the largest allowed |onnx - torch| "
                         "of the maps")
    ensure_writable_file(out, "--out")  # before loading, calibrating and exporting
    targets = [out, out.with_name(out.stem + "_int8.onnx")] if args.int8 else [out]
    taken = [str(t) for t in targets if t.exists()]
    if taken and not args.overwrite:
        raise ValueError(f"{' and '.join(taken)} already exist{'s' if len(taken) == 1 else ''}; "
                         "add --overwrite to replace, or choose another --out")
    if read_task(weights) == TASK_DETECT:
        return export_detector(args, weights, out)
    model = load_model(weights)
    data_cfg = read_data_config(weights, model.config)
    crops = None
    calib = held_out = None
    if args.int8:  # calibration crops first: the parity check then runs on two of them (real crops)
        from handpose.quantize import calibration_crops, held_out_count, split_held_out

        if args.calib_count < 1:
            raise ValueError(f"--calib-count must be at least 1, got {args.calib_count}")
        # a few more crops than calibration uses: the int8 check runs on those it did not see
        asked = args.calib_count + held_out_count(args.calib_count)
        more = calibration_crops(args.calib_data, asked, data_cfg)
        calib, held_out = split_held_out(more, args.calib_count if len(more) >= asked else None)
        crops = calib[:2]
    if args.check_image:
        crops = spec_from_config(data_cfg).prepare(read_image(args.check_image)).crops[0][None]
    report = export_onnx(
        model,
        out,
        data_cfg,
        opset=args.opset,
        tolerance=args.tolerance,
        check_crops=crops,
        dynamic=not args.static_shape,
        # the fraction its training held out, for eval's warning: none of converted weights (they trained
        # elsewhere) or of a shipped model (renders alone, never a user's data)
        split_known=not args.weights.startswith(pretrained.PREFIX) and stored_split(weights)[0] is not None,
    )
    print(f"wrote {report.path} ({report.path.stat().st_size / 1e6:.1f} MB, opset {args.opset}, {report.exporter})")
    print(
        f"parity onnxruntime vs PyTorch on inputs {report.shapes_checked}: largest absolute difference "
        f"{report.max_abs_diff:.3g} (tolerance {args.tolerance:g}); keypoints differ by "
        f"{report.keypoint_diff_px:.4f} px on average"
    )
    if calib is not None:
        from handpose.quantize import HELD_OUT_MAX, quantize_int8

        q_out = out.with_name(out.stem + "_int8.onnx")
        q = quantize_int8(out, q_out, calib, fmt=args.int8_format, check_crops=held_out)
        print(
            f"wrote {q.path} ({q.path.stat().st_size / 1e6:.1f} MB, static int8 {q.fmt}, calibrated on "
            f"{counted(q.calib_count, 'crop')} from {args.calib_data}, {q.seconds:.0f} s)"
        )
        print(
            f"int8 vs fp32 keypoints on {q.checked_on}: mean {q.keypoint_diff_px:.2f} px, "
            f"max {q.keypoint_diff_max_px:.1f} px (crop of {data_cfg.input_size} px)"
        )
        if len(held_out) < HELD_OUT_MAX:
            # none held out (one crop in all): the change was measured on the calibration crops themselves
            where = (f"{counted(len(held_out), 'crop')} only" if len(held_out) else
                     f"the {counted(q.calib_count, 'calibration crop')} only, none being left to hold out")
            LOG.warning("int8: its keypoint change was measured on %s (it takes %d beside --calib-count): a figure "
                        "on so few says little; --calib-data with more hands measures it better", where, HELD_OUT_MAX)
    return 0



def export_detector(args: argparse.Namespace, weights: Path, out: Path) -> int:
    """The detector's export (``detection/onnx_export``) and, with --int8, its int8 file checked on held-out
    images (``detection/quantize``)."""
    from handpose.detection.onnx_export import export_detector_onnx
    from handpose.detection.quantize import detector_calibration_images, quantize_detector_int8
    from handpose.inference.prepare import read_image
    from handpose.model.artifact import TASK_DETECT, load_model

    model = load_model(weights, task=TASK_DETECT)
    side = int(model.config.input_size)
    calib = check = None
    if args.int8:
        if args.calib_count < 1:
            raise ValueError(f"--calib-count must be at least 1, got {args.calib_count}")
        held = max(2, min(16, args.calib_count // 4))
        images = detector_calibration_images(args.calib_data, args.calib_count + held, side)
        if len(images) < 2:
            raise ValueError(f"--calib-data {args.calib_data}: {len(images)} usable image; int8 needs at least 2 "
                             "(calibration and a held-out check)")
        keep = min(args.calib_count, len(images) - 1)
        calib, check = images[:keep], images[keep:]
        if len(images) < args.calib_count + held:
            LOG.warning("calibration: %s gave %d images of the %d asked for: calibrating on %d, checking on %d",
                        args.calib_data, len(images), args.calib_count + held, len(calib), len(check))
    check_images = None
    if args.check_image:
        from handpose.detection.letterbox import letterbox

        check_images = letterbox(read_image(args.check_image), side)[0][None]
    elif check is not None:
        check_images = check[:2]
    report = export_detector_onnx(model, out, opset=args.opset, tolerance=args.tolerance,
                                  check_images=check_images, dynamic=not args.static_shape)
    print(f"wrote {report.path} ({report.path.stat().st_size / 1e6:.1f} MB, opset {args.opset}, hand detector)")
    print(f"parity onnxruntime vs PyTorch on inputs {report.shapes_checked}: largest absolute difference of the "
          f"maps {report.max_abs_diff:.3g} (tolerance {args.tolerance:g})")
    if calib is not None and check is not None:
        q_out = out.with_name(out.stem + "_int8.onnx")
        q = quantize_detector_int8(out, q_out, calib, check, fmt=args.int8_format)
        print(f"wrote {q.path} ({q.path.stat().st_size / 1e6:.1f} MB, static int8 {args.int8_format}, calibrated on "
              f"{counted(q.calib_count, 'letterboxed image')} from {args.calib_data}, {q.seconds:.0f} s)")
        boxes = (f"{q.boxes_matched} of {q.boxes_fp32} boxes found again at IoU >= 0.7" if q.boxes_fp32 else
                 "no box to compare (the fp32 detector found none in them: give more --calib-data)")
        print(f"int8 vs fp32 on {counted(q.check_count, 'held-out image')}: {boxes}; hand-centre probability "
              f"differs by up to {q.heatmap_diff_max:.3f}; measure its accuracy with handpose eval --task detect "
              "--weights on the int8 file")
    return 0
