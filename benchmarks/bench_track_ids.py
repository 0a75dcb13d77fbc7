"""Track ids through occlusion: how many ids a hand takes when it is hidden for a few frames, and whether two hands
ever swap theirs, with and without the tracker's grace for lost hands (``TrackingConfig.lost_frames``).

Clips are made from ``handpose synth`` renders (one-hand images, their labelled keypoints): each render is a 200 px
tile moving over a 640 x 360 canvas of blurred noise at 25 frames/s, 48 frames; /P names the pair of renders used:
  hide-K/P           one hand moving right 3 px a frame, a grey block over it on K frames from frame 16
  hide2-K/P          two hands, the left one moving right 2 px a frame, the right one still and hidden on K frames
                     from frame 16
  cross/P            two hands moving towards each other 6 px a frame and past each other, the second tile drawn
  cross-swapped/P    over the first (cross-swapped: the pair's other render in front)
On each frame a labelled hand owns the reported hand nearest it (median keypoint distance, under 40 px); for each
clip and setting: ids reported (false hands' included), ids per labelled hand over the frames it owned one (1 is
ideal), swaps (an id owned by two labelled hands), hands reported, labelled hands found and in view, detector
runs. Models as ``handpose predict`` runs a video: the shipped int8 keypoint model and the shipped detector at
scale 1, refined; ``--confirm-frames`` as ``--track-confirm-frames`` (a new hand shown once followed that long).
``--seed`` 11 makes the clips BENCHMARKS.md reports (the test clips); other seeds (``--seed 12,13``: each seed's
renders and backdrops, clip names ending @SEED) make validation clips to choose a setting on before the test clips
measure it. ``--hand-thresholds T[,T...]`` tracks every clip at each refined hand threshold
(``RefineConfig.hand_threshold``, as ``--hand-threshold``; a column of its own) instead of the predictor's
(BENCHMARKS.md, "A hand threshold for video, chosen on validation clips: 0.45 kept"); ``--totals`` ends with each
setting's sums over the clips, "other" being hands reported less labelled hands found (false hand-frames).
Usage: python benchmarks/bench_track_ids.py [--seed 11[,S...]] [--threads 2] [--detect-every 10,1]
       [--lost-frames 0,8] [--confirm-frames 1] [--hand-thresholds T[,T...]] [--totals] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from run_record import record_run

if TYPE_CHECKING:
    from handpose.inference.predictor import Predictor

CANVAS = (640, 360)  # width, height
TILE = 200
FRAMES = 48
MATCH_PX = 40.0


def render_tiles(seed: int, count: int, folder: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` one-hand renders: (TILE, TILE, 3) BGR and their (21, 2) keypoints in the tile."""
    subprocess.run([sys.executable, "-m", "handpose", "synth", "--out", str(folder), "--count", str(count),
                    "--seed", str(seed), "--size", str(TILE), "-q"], check=True, stdout=subprocess.DEVNULL)
    tiles = []
    for image in sorted((folder / "synth1").glob("*.jpg")):
        label = json.loads(image.with_suffix(".json").read_text())
        tiles.append((cv2.imread(str(image)), np.asarray(label["hand_pts"], np.float64)[:, :2]))
    return tiles


def backdrop(rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) uint8: blurred colour noise."""
    w, h = CANVAS
    noise = rng.integers(40, 200, size=(h // 8, w // 8, 3)).astype(np.uint8)
    return cv2.GaussianBlur(cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 3)


def make_clip(kind: str, k: int, tiles: list, rng: np.random.Generator) -> tuple[list[np.ndarray], list[list]]:
    """Frames (H, W, 3) and per frame the labelled hands in view: (21, 2) keypoints each, tagged by hand index."""
    base = backdrop(rng)
    frames, labels = [], []
    for i in range(FRAMES):
        img = base.copy()
        if kind == "hide":
            places = [(0, 100 + 3 * i, 80)]
        elif kind == "hide2":
            places = [(0, 40 + 2 * i, 80), (1, 400, 100)]
        else:  # cross: hand 1 (drawn last, in front) moves left, hand 0 right
            places = [(0, 20 + 6 * i, 80), (1, 420 - 6 * i, 90)]
        seen = []
        for hand, x, y in places:
            tile, kp = tiles[hand]
            img[y : y + TILE, x : x + TILE] = tile
            hidden = kind.startswith("hide") and hand == (0 if kind == "hide" else 1) and 16 <= i < 16 + k
            if hidden:
                img[y - 10 : y + TILE + 10, x - 10 : x + TILE + 10] = (128, 128, 128)  # the occluder
            seen = [(h, p) for h, p in seen if not _covered(p, x, y)]  # an earlier hand under this tile
            if not hidden:
                seen.append((hand, kp + [x, y]))
        frames.append(img)
        labels.append(seen)
    return frames, labels


def _covered(points: np.ndarray, x: int, y: int) -> bool:
    """Whether most of a hand's keypoints lie under a tile placed at (x, y)."""
    inside = (points[:, 0] >= x) & (points[:, 0] < x + TILE) & (points[:, 1] >= y) & (points[:, 1] < y + TILE)
    return bool(inside.mean() > 0.5)


def score_clip(predictor: Predictor, frames: list, labels: list, detect_every: int, lost_frames: int,
               confirm_frames: int = 1) -> dict:
    """Track the clip; ids reported, ids per labelled hand, swaps, hands reported, labelled hands found."""
    from handpose.inference.tracking import HandTracker, TrackingConfig

    tracker = HandTracker(predictor, TrackingConfig(detect_every=detect_every, lost_frames=lost_frames,
                                                    confirm_frames=confirm_frames))
    owners: dict[int, set[int]] = {}  # track id -> labelled hands it was given to
    ids_of: dict[int, set[int]] = {}  # labelled hand -> its ids
    every_id: set[int] = set()
    reported = found = 0
    for i, (frame, seen) in enumerate(zip(frames, labels)):
        hands = tracker.update(frame, i / 25.0)
        reported += len(hands)
        every_id.update(h.track_id for h in hands)
        for hand, kp in seen:  # each labelled hand's nearest reported hand is its own this frame
            dist = [(float(np.median(np.linalg.norm(h.keypoints - kp, axis=1))), h.track_id) for h in hands]
            if dist and min(dist)[0] < MATCH_PX:
                track_id = min(dist)[1]
                owners.setdefault(track_id, set()).add(hand)
                ids_of.setdefault(hand, set()).add(track_id)
                found += 1
    return {"ids": len(every_id), "per_hand": {h: len(v) for h, v in sorted(ids_of.items())},
            "swaps": sum(len(v) > 1 for v in owners.values()), "reported": reported, "found": found,
            "in_view": sum(len(s) for s in labels), "runs": tracker.detector_runs}


def make_clips(seed: int, picks: list[int], suffix: str) -> list[tuple[str, tuple[list, list]]]:
    """The 9 clips of each pair of renders ``picks`` of ``seed``'s, named with ``suffix`` after the pair."""
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_tiles(seed, max(picks) + 1, Path(tmp))
    tiles = [rendered[p] for p in picks]
    rng = np.random.default_rng(seed)
    clips = []
    for pair in range(len(tiles) // 2):
        two, tag = tiles[2 * pair : 2 * pair + 2], f"{pair}{suffix}"
        clips += [(f"hide-{k}/{tag}", make_clip("hide", k, two, rng)) for k in (2, 4, 6, 12)]
        clips += [(f"hide2-{k}/{tag}", make_clip("hide2", k, two, rng)) for k in (2, 4, 6)]
        clips += [(f"cross/{tag}", make_clip("cross", 0, two, rng)),
                  (f"cross-swapped/{tag}", make_clip("cross", 0, two[::-1], rng))]
    return clips


def print_totals(rows: list[tuple[tuple, dict]], sweep: bool) -> None:
    """Each setting's sums over the clips: ids, ids per labelled hand and labelled hands with an id, swaps, hands
    reported, found, in view, other (reported less found), detector runs."""
    print(f"\ntotals over {len({name for (name, *_), _ in rows})} clips")
    print(f"{'every':>6}{'lost':>5}{'thresh' if sweep else '':>7}{'ids':>6}{'ids/hand':>9}{'labelled':>9}"
          f"{'swaps':>6}{'hands':>7}{'found':>7}{'in view':>8}{'other':>7}{'det runs':>9}")
    settings = list(dict.fromkeys(key[1:] for key, _ in rows))
    for every, lost, thresh in settings:
        mine = [r for key, r in rows if key[1:] == (every, lost, thresh)]
        total = {k: sum(r[k] for r in mine) for k in ("ids", "swaps", "reported", "found", "in_view", "runs")}
        per_hand = sum(sum(r["per_hand"].values()) for r in mine)
        hands = sum(len(r["per_hand"]) for r in mine)
        shown = f"{thresh:g}" if sweep else ""
        print(f"{every:>6}{lost:>5}{shown:>7}{total['ids']:>6}{per_hand:>9}{hands:>9}{total['swaps']:>6}"
              f"{total['reported']:>7}{total['found']:>7}{total['in_view']:>8}"
              f"{total['reported'] - total['found']:>7}{total['runs']:>9}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", default="11", help="the renders' and backdrops' seed, or several, comma-separated "
                        "(default 11: the test clips)")
    parser.add_argument("--tiles", default="0,3,5,7", help="which renders make the hands (in clip pairs 0+1, 2+3)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--detect-every", default="10,1")
    parser.add_argument("--lost-frames", default="0,8")
    parser.add_argument("--confirm-frames", type=int, default=1, help="TrackingConfig.confirm_frames: a new hand "
                        "shown once followed on this many frames (default 1: at once)")
    parser.add_argument("--hand-thresholds", default=None, metavar="T[,T...]", help="RefineConfig.hand_threshold "
                        "values to track every clip at (default: the predictor's alone)")
    parser.add_argument("--totals", action="store_true", help="end with each setting's sums over the clips")
    parser.add_argument("--quick", action="store_true", help="the first pair's clips at --detect-every 10 alone "
                        "(make bench --quick)")
    args = parser.parse_args()
    record_run()
    if args.quick:
        args.tiles, args.detect_every = ",".join(args.tiles.split(",")[:2]), "10"
    import torch

    from handpose import pretrained
    from handpose.inference.predictor import Predictor

    torch.set_num_threads(args.threads)
    picks = [int(v) for v in args.tiles.split(",")]
    seeds = [int(v) for v in str(args.seed).split(",")]
    clips = [clip for seed in seeds for clip in make_clips(seed, picks, f"@{seed}" if len(seeds) > 1 else "")]
    shipped = Predictor.from_file(pretrained.path("lite-int8"), detector="pretrained:detector",
                                  detector_scales=(1.0,))
    assert shipped.refine is not None
    sweep = args.hand_thresholds is not None
    thresholds = ([float(v) for v in args.hand_thresholds.split(",")] if sweep
                  else [shipped.refine.hand_threshold])
    column = f"{'thresh':>7}" if sweep else ""  # the sweep's own column; none without it, as before it
    print(f"{'clip':<18}{'every':>6}{'lost':>5}{column}{'ids':>5}  {'ids per hand':<13}{'swaps':>6}{'hands':>7}"
          f"{'found':>7}{'in view':>8}{'det runs':>9}")
    rows = []
    for every in [int(v) for v in args.detect_every.split(",")]:
        for thresh in thresholds:
            predictor = replace(shipped, refine=shipped.refine.at_hand_threshold(thresh))  # as --hand-threshold
            for name, (frames, labels) in clips:
                for lost in [int(v) for v in args.lost_frames.split(",")]:
                    r = score_clip(predictor, frames, labels, every, lost, args.confirm_frames)
                    rows.append(((name, every, lost, thresh), r))
                    per = ",".join(str(v) for v in r["per_hand"].values())
                    shown = f"{thresh:>7g}" if sweep else ""
                    print(f"{name:<18}{every:>6}{lost:>5}{shown}{r['ids']:>5}  {per:<13}{r['swaps']:>6}"
                          f"{r['reported']:>7}{r['found']:>7}{r['in_view']:>8}{r['runs']:>9}", flush=True)
    if args.totals:
        print_totals(rows, sweep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
