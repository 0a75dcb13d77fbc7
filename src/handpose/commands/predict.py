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
Predict never replaces a file it did not write: an output name that is taken by an input image or any other file
(a label .json, say) skips that image with the reason. The files it writes are listed in --out's
.handpose-predictions, so a later run over that folder does not take them for inputs.

Example:
  handpose predict --model hand.onnx photos/ --box 120,80,200,220 --out predictions
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from handpose.commands.train import add_speed_flags
from handpose.data.images import IMAGE_SUFFIXES
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import check_image, read_image

MANIFEST = ".handpose-predictions"  # one file name per line: what predict wrote into the folder


class OutputFolder:
    """An output folder that remembers (in :data:`MANIFEST`) which files predict wrote, and refuses the rest."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"--out {self.path} is a file, not a folder")
        manifest = self.path / MANIFEST
        self.written: set[str] = set(manifest.read_text().split("\n")) - {""} if manifest.is_file() else set()

    def check(self, target: Path, source: Path) -> None:
        """ValueError when writing ``target`` would replace the input ``source`` or a file predict did not write."""
        if target.exists() and (target.resolve() == source.resolve() or target.name not in self.written):
            what = "the input image itself" if target.resolve() == source.resolve() else "a file predict did not write"
            raise ValueError(f"output {target} would replace {what}; choose another --out")

    def claim(self, targets: Sequence[Path]) -> None:
        """Record ``targets`` as predict's own before they are written."""
        new = [t.name for t in targets if t.name not in self.written]
        if new:
            with open(self.path / MANIFEST, "a") as f:
                f.write("".join(n + "\n" for n in new))
            self.written.update(new)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IMAGE_OR_DIR", help="an image file or a folder of images")
    parser.add_argument("--model", required=True, help="model file: .safetensors, training checkpoint .pt, or .onnx")
    parser.add_argument("--box", default=None, help="hand box x,y,w,h in image pixels (default: the whole image)")
    parser.add_argument("--left", action="store_true", help="the hand is a left hand")
    parser.add_argument("--out", default="predictions", help="output folder (default ./predictions)")
    parser.add_argument("--flip", action="store_true", help="flip test: also run the mirrored crop and average")
    parser.add_argument("--scales", default="1.0", help="comma-separated crop scales to average, e.g. 1.0,0.75,1.25")
    parser.add_argument("--device", default="cpu", help="device: cpu, cuda or cuda:N (PyTorch weight files; ONNX files "
                        "through onnxruntime's CUDA provider where installed) (default cpu)")
    add_speed_flags(parser, "prediction")
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
    from handpose.autotune.resolve import parse_flag
    from handpose.commands.evaluate import parse_scales
    from handpose.config_checks import check_device
    from handpose.files import ensure_writable_folder

    check_device(args.device)
    box = parse_box(args.box)
    images = list_images(args.input)
    ensure_writable_folder(args.out, "--out")  # before any work
    predictor = Predictor.from_file(
        args.model, device=args.device, flip_test=args.flip, scales=parse_scales(args.scales)
    )
    out = OutputFolder(args.out)
    if predictor.stages == 1 and not args.no_maps:
        print("note: the model file holds only the last stage's maps (ONNX), so NAME_maps.png shows that stage")
    speed = {"amp": parse_flag(args.amp, "--amp"), "channels_last": parse_flag(args.channels_last, "--channels-last")}
    failed: list[tuple[Path, str]] = []
    bar = tqdm(total=len(images), unit="image", desc="predict", disable=len(images) < 2 or not sys.stderr.isatty())
    for path, name, image in _read_ahead(images, output_names(images)):
        bar.update(1)
        try:
            if speed is not None and not isinstance(image, Exception):  # the first readable image: the trial input
                predictor, speed = _tuned(predictor, image, box, args.left, speed), None
            written = predict_to_files(
                predictor, path, out, box=box, is_left=args.left, maps=not args.no_maps, name=name, image=image
            )
        except (ValueError, FileNotFoundError, OSError) as exc:
            if len(images) == 1:
                raise
            failed.append((path, str(exc)))
            continue
        tqdm.write(f"{path}: " + ", ".join(str(p) for p in written))
    bar.close()
    if failed:
        print(f"skipped {len(failed)} of {len(images)} images:")
        for path, why in failed:
            print(f"  {path}: {why}")
        if len(failed) == len(images):
            raise ValueError(f"no image in {args.input} could be processed")
    return 0


def _read_ahead(
    images: Sequence[Path], names: Sequence[str], threads: int = 2
) -> Iterator[tuple[Path, str, np.ndarray | Exception]]:
    """(path, output name, image or the error reading it) in order, decoded by ``threads`` threads a few images
    ahead of the network and the file writing."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    def read(path: Path) -> np.ndarray | Exception:
        try:
            return read_image(path)
        except (ValueError, FileNotFoundError, OSError) as exc:
            return exc

    todo = iter(zip(images, names))
    pending: deque[tuple[Path, str, Future[np.ndarray | Exception]]] = deque()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict-read") as pool:
        for path, name in todo:
            pending.append((path, name, pool.submit(read, path)))
            if len(pending) >= 2 * threads:
                break
        while pending:
            path, name, future = pending.popleft()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[0], nxt[1], pool.submit(read, nxt[0])))
            yield path, name, future.result()


def _tuned(predictor: Predictor, image: np.ndarray | Exception, box: Sequence[float] | None, is_left: bool,
           speed: dict[str, bool | None]) -> Predictor:
    """``predictor`` with the speed settings measured on ``image``'s crop (``handpose.autotune``); unchanged when
    ``image`` could not be read (the caller reports that)."""
    from handpose.autotune.resolve import trial_crops, tune_predictor

    if isinstance(image, Exception):
        return predictor
    prepared = predictor.spec.prepare(check_image(image), box, is_left)
    return tune_predictor(predictor, trial_crops(predictor, [prepared]), speed["amp"], speed["channels_last"])


def list_images(path: str | Path) -> list[Path]:
    """The image files of a folder (sorted), or the one path given; FileNotFoundError / ValueError when none.

    Files that an earlier ``handpose predict`` wrote into the folder (listed in its :data:`MANIFEST`) are not
    inputs and are left out."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image or folder not found: {path}")
    if path.is_file():
        return [path]
    ours = OutputFolder(path).written
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.name not in ours)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
    return files


def output_names(paths: Sequence[str | Path]) -> list[str]:
    """A unique output name per image, for NAME.json / NAME_overlay.png / NAME_maps.png in one folder.

    The name is the file's stem; images whose stems collide (``a.jpg`` and ``a.png``; stems differing only in
    case count as colliding, for case-insensitive file systems) keep their extension instead: ``a_jpg``,
    ``a_png``. A name still taken after that gets ``_2``, ``_3``, ... so no result overwrites another.
    """
    paths = [Path(p) for p in paths]
    stems = Counter(p.stem.lower() for p in paths)
    names = [p.stem if stems[p.stem.lower()] == 1 else f"{p.stem}_{p.suffix.lstrip('.')}" for p in paths]
    taken: set[str] = {n.lower() for n, p in zip(names, paths) if stems[p.stem.lower()] == 1}
    for i, p in enumerate(paths):
        if stems[p.stem.lower()] == 1:
            continue
        base, k = names[i], 2
        while names[i].lower() in taken:
            names[i], k = f"{base}_{k}", k + 1
        taken.add(names[i].lower())
    return names


def predict_to_files(
    predictor: Predictor,
    image_path: str | Path,
    out_dir: str | Path | OutputFolder,
    box: Sequence[float] | None = None,
    is_left: bool = False,
    maps: bool = True,
    name: str | None = None,
    image: np.ndarray | Exception | None = None,
) -> list[Path]:
    """Predict one image and write NAME.json, NAME_overlay.png and (with ``maps``) NAME_maps.png into ``out_dir``.

    NAME is ``name`` (see :func:`output_names` for a folder of images), default the image's stem. ``image`` is the
    image already read (or the error reading it raised), default: read from ``image_path``. Returns the
    written paths. FileNotFoundError / ValueError for an unreadable image, a box off the image, or an output that
    would replace a file predict did not write (an input image, an annotation); nothing is written then.
    """
    from handpose.viz import belief_map_figure, draw_skeleton, save_bgr, save_rgb

    image_path = Path(image_path)
    out = out_dir if isinstance(out_dir, OutputFolder) else OutputFolder(out_dir)
    stem = name or image_path.stem
    targets = [out.path / f"{stem}.json", out.path / f"{stem}_overlay.png"] + (
        [out.path / f"{stem}_maps.png"] if maps else [])
    for target in targets:
        out.check(target, image_path)
    if isinstance(image, Exception):
        raise image
    image = read_image(image_path) if image is None else image
    pred = predictor.predict(image, box=box, is_left=is_left, keep_maps=maps)
    out_dir = out.path
    out_dir.mkdir(parents=True, exist_ok=True)
    out.claim(targets)
    record = {
        "image": str(image_path),
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "model": predictor.name,
        "is_left": bool(is_left),
        "flip_test": predictor.flip_test,
        "scales": list(predictor.spec.scales),
        **pred.to_dict(),
    }
    written = [out_dir / f"{stem}.json"]
    written[0].write_text(json.dumps(record, indent=1) + "\n")
    overlay = draw_skeleton(image, pred.keypoints, pred.scores)
    if box is not None:
        x, y, w, h = (int(round(float(v))) for v in box)
        cv2.rectangle(overlay, (x, y), (x + w, y + h), (200, 200, 200), 1, cv2.LINE_AA)
    written.append(save_bgr(out_dir / f"{stem}_overlay.png", overlay))
    if maps and pred.stage_maps is not None and pred.crop is not None:
        names = [f"stage {s + 1}" for s in range(pred.stage_maps.shape[0])]
        if predictor.stages == 1:
            names = ["last stage (ONNX)"]
        figure = belief_map_figure(
            pred.crop,
            pred.stage_maps,
            pred.keypoints_in_crop(),
            stride=predictor.spec.stride,
            stage_names=names,
            scores=pred.scores,
        )
        written.append(save_rgb(out_dir / f"{stem}_maps.png", figure))
    return written
