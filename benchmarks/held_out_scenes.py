"""Held-out rendered scenes for the detection benchmarks: the flags they share (the scenes, the models, the threads)
and the COCO json they read, rendered into a temporary folder when ``--data`` is not given."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from handpose.commands.detection_flags import add_detector_scales_flag


def add_scene_flags(parser: argparse.ArgumentParser, count: int, seed: int, seed_help: str | None = None,
                    keypoints: bool = True) -> None:
    """``--data``, ``--count``, ``--seed``, ``--detector``, (with ``keypoints``) ``--keypoints`` and
    ``--detector-scales``, and ``--threads``, with this benchmark's default scene count and seed."""
    parser.add_argument("--data", default=None, help="a COCO json of hand boxes (default: render --count scenes)")
    parser.add_argument("--count", type=int, default=count, help=f"scenes rendered (default {count})")
    parser.add_argument("--seed", type=int, default=seed, help=seed_help or f"the scenes' seed (default {seed})")
    parser.add_argument("--detector", default="pretrained:detector")
    if keypoints:
        parser.add_argument("--keypoints", default="pretrained:lite")
        add_detector_scales_flag(parser)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")


def scenes_json(data: str | None, folder: str | Path, count: int, seed: int,
                size: tuple[int, int] = (640, 480)) -> str:
    """``data``, or the COCO json of ``count`` scenes of ``size`` (width, height) and ``seed`` rendered into
    ``folder`` (``handpose synth --scenes``), the time it took printed."""
    if data is not None:
        return data
    from handpose.synth.scenes import write_scenes

    t0 = time.perf_counter()
    written = write_scenes(Path(folder), count, seed, width=size[0], height=size[1], workers=1)
    print(f"rendered {count} scenes of {size[0]} x {size[1]} (seed {seed}) in {time.perf_counter() - t0:.0f} s",
          flush=True)
    return str(written / "hands_coco.json")
