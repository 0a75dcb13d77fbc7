"""The flags of detection shared by predict and eval: the detector's score threshold and letterbox scales
(``detection/detector``), the keypoint refinement of its hands (``inference/refine``), and which of them a run was
given (to say when it does not use them)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from handpose.detection.scales import IMAGE_SCALES, check_scales
from handpose.inference.refine import RefineConfig


def add_detector_threshold_flag(parser: argparse.ArgumentParser, scope: str = "") -> None:
    """--detector-threshold (default None: the refinement's proposal threshold, or the detector's own); ``scope``
    starts its help (eval's "--detector: ")."""
    parser.add_argument("--detector-threshold", type=float, default=None, metavar="T",
                        help=f"{scope}the detector's score a hand (with refinement: a proposal) needs (default: the "
                        f"refinement's proposal threshold, {RefineConfig().proposal_threshold:g}, or with "
                        "--refine-passes 0 the detector file's own)")


def add_detector_scales_flag(parser: argparse.ArgumentParser, video_note: bool = False) -> None:
    """--detector-scales (default: those of still images; with ``video_note``, video's too)."""
    plain = ",".join(f"{s:g}" for s in IMAGE_SCALES)
    where = (f"(default {plain} for images: the letterbox of the network's size and one of twice its side, for "
             "small hands; 1 for video and webcams, for speed)" if video_note else f"(default {plain}, as "
             "handpose predict on images)")
    parser.add_argument("--detector-scales", default=None, metavar="S[,S...]", help="comma-separated letterbox "
                        "scales the detector runs at, its hands pooled; 1 is the network's own input size; a scale "
                        "S above 2 runs only on images whose longer side is at least S times that size (it would "
                        "upsample past the photo's own pixels) " + where)


def detector_scales_from_args(args: argparse.Namespace, video: bool = False) -> Sequence[float]:
    """--detector-scales as numbers, default ``IMAGE_SCALES`` (1 for ``video``); ValueError naming the flag."""
    if args.detector_scales is None:
        return (1.0,) if video else IMAGE_SCALES
    try:
        return check_scales([float(p) for p in str(args.detector_scales).split(",") if p.strip()])
    except ValueError as exc:
        raise ValueError(f"--detector-scales {args.detector_scales!r}: {exc}") from None


def add_refine_flags(parser: argparse.ArgumentParser) -> None:
    """--refine-passes, --hand-threshold, --merge-cover, --merge-points and --max-proposals."""
    default = RefineConfig()
    parser.add_argument("--refine-passes", type=int, default=default.passes, metavar="N",
                        help="keypoint passes that re-box and re-score each detected hand (0: the detector's boxes "
                        f"and scores as they are) (default {default.passes})")
    parser.add_argument("--hand-threshold", type=float, default=default.hand_threshold, metavar="T",
                        help="score a refined hand needs to be kept: its mean keypoint peak k and the "
                        "detector's probability d as k^(1-w) * d^w, w = RefineConfig.detector_weight "
                        f"({default.detector_weight}) (default {default.hand_threshold})")
    parser.add_argument("--merge-cover", type=float, default=default.merge_cover, metavar="C",
                        help="refined hands whose boxes share more than C of the smaller box's area are one hand, "
                        "the better scored kept (a box of hand and forearm around a hand, a finger inside it); "
                        "1: overlap by IoU alone (BENCHMARKS.md, 'Merging boxes inside boxes') (default "
                        f"{default.merge_cover:g})")
    parser.add_argument("--merge-points", type=float, default=default.merge_points, metavar="P",
                        help="a refined hand with more than P of its keypoints on a better-scored hand's keypoints "
                        "is that hand (a finger read as a hand, one hand read once each side; in video, a new track "
                        "on a hand followed and found on that frame too, with --refine-passes 0 as well); 1: off "
                        f"(default {default.merge_points:g})")
    parser.add_argument("--max-proposals", type=int, default=default.max_proposals, metavar="K",
                        help="the detector's best K hands refined per detection; fewer is faster and finds fewer "
                        "hands in crowded pictures (BENCHMARKS.md, 'Video accuracy') (default "
                        f"{default.max_proposals})")


# the dests of the flags above, in the order --help shows them
DETECTION_FLAGS = ("detector_threshold", "detector_scales", "refine_passes", "hand_threshold", "merge_cover",
                   "merge_points", "max_proposals")
REFINE_FLAGS = DETECTION_FLAGS[2:]


def given_flags(args: argparse.Namespace, dests: Sequence[str]) -> list[str]:
    """The flags among ``dests`` set to other than their default (as typed: ``--hand-threshold``)."""
    parser = argparse.ArgumentParser()
    add_detector_threshold_flag(parser)
    add_detector_scales_flag(parser)
    add_refine_flags(parser)
    defaults = vars(parser.parse_args([]))
    return [f"--{d.replace('_', '-')}" for d in dests if getattr(args, d, defaults[d]) != defaults[d]]


def refine_from_args(args: argparse.Namespace) -> RefineConfig | None:
    """The flags' RefineConfig (None for 0 passes); ValueError naming a bad value's flag."""
    if args.refine_passes < 0:
        raise ValueError(f"--refine-passes must be >= 0, got {args.refine_passes}")
    if not 0.0 <= args.hand_threshold <= 1.0:
        raise ValueError(f"--hand-threshold must lie in [0, 1], got {args.hand_threshold}")
    if not 0.0 <= args.merge_cover <= 1.0:
        raise ValueError(f"--merge-cover must lie in [0, 1], got {args.merge_cover}")
    if not 0.0 <= args.merge_points <= 1.0:
        raise ValueError(f"--merge-points must lie in [0, 1], got {args.merge_points}")
    if args.max_proposals < 1:
        raise ValueError(f"--max-proposals must be at least 1, got {args.max_proposals}")
    if args.refine_passes == 0:
        return None
    return RefineConfig(passes=args.refine_passes, max_proposals=args.max_proposals, merge_cover=args.merge_cover,
                        merge_points=args.merge_points).at_hand_threshold(args.hand_threshold)
