"""Predict hand keypoints in images with a model file (.safetensors / .pt weights, or an exported .onnx).

For each image writes, into --out: NAME.json (the 21 keypoints with names, x, y in image pixels, and scores),
NAME_overlay.png (the skeleton over the image) and NAME_maps.png (the belief maps of every stage over the crop;
an ONNX model holds only the last stage). Without --box the whole image is the crop (made square with grey
borders), so the hand should fill most of it; with --box x,y,w,h the crop is a padded square around that hand box.
--left marks a left hand (mirrored to a right hand first when the model was trained that way).
A folder is processed image by image; unreadable files (and boxes outside an image) are skipped and listed.
Images that share a name stem (a.jpg and a.png, or A.png and a.jpg) keep their extension in the output names
instead, so no result overwrites another: a_jpg.json, a_jpg_overlay.png, a_png.json, ... (each JSON file also
records its image's path).

Example:
  handpose predict --model hand.onnx photos/ --box 120,80,200,220 --out predictions
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IMAGE_OR_DIR", help="an image file or a folder of images")
    parser.add_argument("--model", required=True, help="model file: .safetensors, training checkpoint .pt, or .onnx")
    parser.add_argument("--box", default=None, help="hand box x,y,w,h in image pixels (default: the whole image)")
    parser.add_argument("--left", action="store_true", help="the hand is a left hand")
    parser.add_argument("--out", default="predictions", help="output folder (default ./predictions)")
    parser.add_argument("--flip", action="store_true", help="flip test: also run the mirrored crop and average")
    parser.add_argument("--scales", default="1.0", help="comma-separated crop scales to average, e.g. 1.0,0.75,1.25")
    parser.add_argument("--device", default="cpu", help="PyTorch device for weight files (default cpu)")
    parser.add_argument("--no-maps", action="store_true", help="skip the belief-map figure")


def parse_box(text: str | None) -> tuple[float, float, float, float] | None:
    """'x,y,w,h' -> 4 floats; ValueError saying what is wrong."""
    if text is None:
        return None
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--box must be four numbers x,y,w,h; got {text!r}") from None
    if len(values) != 4:
        raise ValueError(f"--box must be four numbers x,y,w,h; got {len(values)} in {text!r}")
    return values  # type: ignore[return-value]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from handpose.commands.evaluate import parse_scales
    from handpose.predict import Predictor, list_images, output_names, predict_to_files

    box = parse_box(args.box)
    images = list_images(args.input)
    predictor = Predictor.from_file(
        args.model, device=args.device, flip_test=args.flip, scales=parse_scales(args.scales)
    )
    out = Path(args.out)
    if predictor.stages == 1 and not args.no_maps:
        print("note: the model file holds only the last stage's maps (ONNX), so NAME_maps.png shows that stage")
    failed: list[tuple[Path, str]] = []
    for path, name in zip(images, output_names(images)):
        try:
            written = predict_to_files(
                predictor, path, out, box=box, is_left=args.left, maps=not args.no_maps, name=name
            )
        except (ValueError, FileNotFoundError, OSError) as exc:
            if len(images) == 1:
                raise
            failed.append((path, str(exc)))
            continue
        print(f"{path}: " + ", ".join(str(p) for p in written))
    if failed:
        print(f"skipped {len(failed)} of {len(images)} images:")
        for path, why in failed:
            print(f"  {path}: {why}")
        if len(failed) == len(images):
            raise ValueError(f"no image in {args.input} could be processed")
    return 0
