"""The flags of the keypoint refinement of detections (``inference/refine``), shared by predict and eval."""

from __future__ import annotations

import argparse

from handpose.inference.refine import RefineConfig


def add_refine_flags(parser: argparse.ArgumentParser) -> None:
    """--refine-passes and --hand-threshold."""
    default = RefineConfig()
    parser.add_argument("--refine-passes", type=int, default=default.passes, metavar="N",
                        help="keypoint passes that re-box and re-score each detected hand (0: the detector's boxes "
                        f"and scores as they are) (default {default.passes})")
    parser.add_argument("--hand-threshold", type=float, default=default.hand_threshold, metavar="T",
                        help="mean keypoint score a refined hand needs to be kept (default "
                        f"{default.hand_threshold})")


def refine_from_args(args: argparse.Namespace) -> RefineConfig | None:
    """The flags' RefineConfig (None for 0 passes); ValueError naming a bad value's flag."""
    if args.refine_passes < 0:
        raise ValueError(f"--refine-passes must be >= 0, got {args.refine_passes}")
    if not 0.0 <= args.hand_threshold <= 1.0:
        raise ValueError(f"--hand-threshold must lie in [0, 1], got {args.hand_threshold}")
    if args.refine_passes == 0:
        return None
    return RefineConfig(passes=args.refine_passes, hand_threshold=args.hand_threshold)
