"""What a hand cut off by the image's edge costs the keypoint model (MODEL_CARD.md, "Known failure cases").

Renders ``--count`` hands (``handpose synth``, seed ``--seed``), then makes two labelled sets of the same hands:
- **cut**: each image cut straight across (a random side) so that 30-70% of the hand's visible keypoints fall off
  it; those keypoints are marked not visible, the image simply ends there;
- **whole**: the same images uncut, with the same keypoints marked not visible.
Both sets give each hand the same box (the tight box of the keypoints still visible) and score the same keypoints,
so the two differ only in what lies past the cut: the rest of the hand, or nothing (the crop's grey border). Both
are scored with ``evaluate`` in the ground-truth boxes (PCK@0.2 of the box, AUC, EPE; MMPose's definitions).
``--crop`` tries other crops than handpose's (``grey``: the square around the box, grey past the image's edge):
``inside`` slides the square inside the image where it fits (the cut then lies on the crop's edge, as a hand's
hidden keypoints past a training crop's edge do), ``replicate`` fills past the edge with the edge's pixels.
Usage: python benchmarks/bench_edge_cut.py [--keypoints pretrained:lite] [--count 300] [--crop grey|inside|replicate]
       [--threads 2] [--quick]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from run_record import record_run

CUT_SHARE = (0.3, 0.7)  # share of a hand's visible keypoints that a cut takes off the image
MIN_LEFT = 3  # visible keypoints a cut hand keeps, at least


def cut_hand(image: np.ndarray, points: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A hand cut by the image edge: (cut image, its keypoints (21, 3), the uncut image's keypoints (21, 3) with the
    same ones hidden); None when too few keypoints would be left. ``points`` (21, 3): x, y, visibility."""
    visible = points[:, 2] > 0
    side = int(rng.integers(4))  # 0: cut the left part off, 1: the right, 2: the top, 3: the bottom
    axis = 0 if side < 2 else 1
    share = rng.uniform(*CUT_SHARE)
    at = int(round(float(np.quantile(points[visible, axis], share if side in (0, 2) else 1.0 - share))))
    keep = points[:, axis] >= at if side in (0, 2) else points[:, axis] < at
    if side == 0:
        cut = image[:, at:]
    elif side == 1:
        cut = image[:, :at]
    elif side == 2:
        cut = image[at:, :]
    else:
        cut = image[:at, :]
    left = visible & keep
    if left.sum() < MIN_LEFT or min(cut.shape[:2]) < 16:
        return None
    whole = points.copy()
    whole[:, 2] = left
    moved = whole.copy()
    if side in (0, 2):
        moved[:, axis] -= at
    return cut, moved, whole


def write_sets(renders: Path, out: Path, seed: int) -> int:
    """The cut and whole sets of every render under ``renders`` (hand_labels_synth layout) into ``out/cut`` and
    ``out/whole``; the number of hands written."""
    rng = np.random.default_rng(seed)
    for name in ("cut", "whole"):
        (out / name).mkdir(parents=True)
    written = 0
    for label in sorted(renders.rglob("*.json")):
        record = json.loads(label.read_text(encoding="utf-8"))
        points = np.asarray(record["hand_pts"], np.float64)  # (21, 3)
        image = cv2.imread(str(label.with_suffix(".jpg")))
        if image is None or (points[:, 2] > 0).sum() < 2 * MIN_LEFT:
            continue
        made = cut_hand(image, points, rng)
        if made is None:
            continue
        cut, cut_points, whole_points = made
        for name, img, pts in (("cut", cut, cut_points), ("whole", image, whole_points)):
            cv2.imwrite(str(out / name / f"{label.stem}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            kept = dict(record, hand_pts=np.round(pts, 3).tolist())
            (out / name / f"{label.stem}.json").write_text(json.dumps(kept), encoding="utf-8")
        written += 1
    return written


def use_crop(variant: str) -> None:
    """Make handpose's crops the ``variant`` ones for this process (``grey``: unchanged)."""
    import handpose.data.resample as resample
    import handpose.inference.prepare as prepare
    from handpose.data.transforms import crop_matrix, square_box

    if variant == "inside":
        matrices = prepare.CropSpec.matrices

        def inside(spec: prepare.CropSpec, image_hw: tuple[int, int], box: object, is_left: bool,
                   strict: bool = True) -> tuple[list[np.ndarray], np.ndarray]:
            mats, box_arr = matrices(spec, image_hw, box, is_left, strict)
            if box is None:
                return mats, box_arr
            center, side = square_box(box_arr, spec.box_padding)
            for axis, length in ((0, image_hw[1]), (1, image_hw[0])):
                if side <= length:  # pixel centres at integers: the image spans -0.5 .. length - 0.5
                    center[axis] = min(max(center[axis], side / 2 - 0.5), length - 0.5 - side / 2)
            flip = bool(spec.mirror_left and is_left)
            return [crop_matrix(center, side, size, flip=flip) for size in spec.sizes()], box_arr

        prepare.CropSpec.matrices = inside
    elif variant == "replicate":
        def replicate(image: np.ndarray, M: np.ndarray, out_size: int) -> np.ndarray:
            return cv2.warpAffine(image, np.asarray(M, np.float64), (int(out_size), int(out_size)),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        resample.warp = replicate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keypoints", default="pretrained:lite")
    parser.add_argument("--count", type=int, default=300, help="hands rendered (default 300)")
    parser.add_argument("--seed", type=int, default=4711, help="render seed (default 4711; the shipped model's "
                        "training renders used seeds 0 and 5)")
    parser.add_argument("--crop", choices=("grey", "inside", "replicate"), default="grey",
                        help="how hands are cut out (default grey: handpose's own)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20 hands")
    args = parser.parse_args()
    record_run()
    torch.set_num_threads(args.threads)
    from handpose import pretrained
    from handpose.cli import main as handpose_main
    from handpose.data.formats import load_splits
    from handpose.evaluate import evaluate
    from handpose.inference.predictor import Predictor

    count = 20 if args.quick else args.count
    use_crop(args.crop)
    predictor = Predictor.from_file(pretrained.resolve(args.keypoints))
    with tempfile.TemporaryDirectory() as tmp:
        renders, sets = Path(tmp) / "renders", Path(tmp) / "sets"
        rc = handpose_main(["-q", "synth", "--out", str(renders), "--count", str(count), "--size", "256",
                            "--seed", str(args.seed), "--workers", "1"])
        if rc:
            return rc
        hands = write_sets(renders, sets, args.seed)
        print(f"{hands} of {count} rendered hands cut (seed {args.seed}); keypoints {args.keypoints}, crop {args.crop}")
        for name in ("whole", "cut"):
            samples = load_splits(sets / name).part("all")
            m = evaluate(predictor, samples)
            print(f"{name:>5}: PCK@0.2 {m['PCK@0.2']:.3f}  AUC {m['AUC']:.3f}  EPE {m['EPE']:.2f} px  "
                  f"({m['num_samples']} hands)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
