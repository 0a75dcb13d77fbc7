"""Render a synthetic labelled hand dataset (no download) in CMU's hand_labels_synth format, or detection scenes.

Default: OUT/FOLDER/NNNNNNNN.jpg + NNNNNNNN.json with "hand_pts" (21 x [x, y, v]) and "is_left", one hand per
image, the layout that `handpose train --data` reads. With --scenes: OUT/FOLDER/images/NNNNNNNN.jpg (--scene-size,
0-4 hands of 12 px to most of the frame) and OUT/FOLDER/hands_coco.json (COCO keypoints with bbox and is_left).
Hands are skinned meshes drawn with OpenGL (Mesa's EGL / llvmpipe on the CPU); where no GL context can be made,
--renderer auto falls back to the capsule renderer with one warning. The files are byte-for-byte reproducible from
--seed and --renderer with the same Mesa, numpy and OpenCV versions, whatever --workers is. A folder holding files
but not synth's (no handpose-synth.manifest) is refused unless --overwrite; no render replaces a file synth did not
write; a folder another render is writing is refused, naming its PID.

Example:
  handpose synth --out data/synth --count 2000 --seed 0 --workers 2
  handpose synth --out data/det --count 500 --scenes --scene-size 640x480
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path


def _scene_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    return w, h


DEFAULT_SIZE = 368
DEFAULT_SCENE_SIZE = (640, 480)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="dataset root; images go into OUT/FOLDER")
    parser.add_argument("--count", type=int, required=True, help="number of images")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", type=int, default=None, help="image side in pixels of one-hand images (default "
                        f"{DEFAULT_SIZE})")
    parser.add_argument("--workers", type=int, default=1, help="rendering processes, at most the CPU count (default 1)")
    parser.add_argument("--folder", default=None, help="sub-folder name (default synth1, or scenes with --scenes)")
    parser.add_argument("--renderer", default="auto", choices=("auto", "gl", "fallback"),
                        help="auto (GL where possible, default), gl (fail without GL) or fallback (capsules)")
    parser.add_argument("--ablate", default="", metavar="PARTS",
                        help="take parts of the GL renderer's realism away, to measure what each adds: a comma list "
                        "of lighting, backgrounds, pose-prior (one-hand images only; default none)")
    parser.add_argument("--scenes", action="store_true", help="full detection scenes with a COCO json")
    parser.add_argument("--scene-size", type=_scene_size, default=None, metavar="WxH",
                        help="with --scenes: scene image size (default 640x480)")
    parser.add_argument("--skin-distractors", type=float, default=0.0, metavar="P",
                        help="with --scenes: the share of scenes that also hold skin-coloured heads and bare limbs, "
                        "labelled nothing (hard negatives for a detector) (default 0)")
    parser.add_argument("--hands-beside-heads", type=float, default=0.0, metavar="P",
                        help="with --skin-distractors: the chance that each hand of a scene with heads is held beside "
                        "one of them, at its person's scale, as hands are in photographs of people (default 0)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a folder that holds files handpose did not write (none of them is deleted "
                        "or replaced: a file of a name the render writes is refused)")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an interrupt so that a render ends as Ctrl-C ends it; the exit code is 143."""

    exit_code = 143


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a render as Ctrl-C does (an interrupt in the main process: the worker pool is terminated on the
    way out, so no worker writes on after its parent; the manifest says the render is incomplete)."""
    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    from handpose.synth.ablation import parse_ablate

    ablate = parse_ablate(args.ablate)
    if args.scenes and ablate:
        raise ValueError("--ablate applies to one-hand images; leave it out with --scenes")
    if (args.skin_distractors or args.hands_beside_heads) and not args.scenes:
        raise ValueError("--skin-distractors and --hands-beside-heads apply to --scenes")
    if args.scene_size is not None and not args.scenes:
        raise ValueError("--scene-size applies to --scenes; one-hand images take --size")
    if args.size is not None and args.scenes:
        raise ValueError("--size applies to one-hand images; scenes take --scene-size WxH")
    if args.scenes:
        from handpose.synth.scenes import write_scenes

        w, h = args.scene_size or DEFAULT_SCENE_SIZE
        name = "scenes" if args.folder is None else args.folder
        with sigterm_as_interrupt():
            folder = write_scenes(args.out, args.count, args.seed, width=w, height=h, workers=args.workers,
                                  folder=name, renderer=args.renderer, overwrite=args.overwrite,
                                  distractors=args.skin_distractors, beside_heads=args.hands_beside_heads)
    else:
        from handpose.synth import write_dataset

        name = "synth1" if args.folder is None else args.folder
        with sigterm_as_interrupt():
            folder = write_dataset(args.out, args.count, args.seed, size=args.size or DEFAULT_SIZE,
                                   workers=args.workers, folder=name, renderer=args.renderer,
                                   overwrite=args.overwrite, ablate=ablate)
    print(folder)
    return 0
