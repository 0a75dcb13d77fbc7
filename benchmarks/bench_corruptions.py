"""How the keypoint model degrades on corrupted photos and on hands turned in the image plane (MODEL_CARD.md, "Known
failure cases").

Renders ``--count`` held-out hands (``handpose synth --size 256``, seed ``--seed``), reads them as ``handpose eval``
does (``data.formats.load_splits``), and scores the keypoint model (``--keypoints``, default the shipped
``pretrained:lite``) in the ground-truth boxes with ``evaluate`` (PCK@0.2 of the box, AUC, EPE; MMPose's
definitions), on the clean images and on every image corrupted whole before the crop (``corruptions.py``: Gaussian
blur, motion blur, Gaussian noise, JPEG, dark with sensor noise, over-exposed, low contrast, low resolution; three
severities each, fixed parameters, noise seeded per image), then with each hand turned 0, 45, 90, 135 and 180 degrees
counter-clockwise about its box's centre (the box then the tight box of the turned visible keypoints, as the readers
make it; the canvas grown so nothing is cut off). Corrupted and turned images are written as PNG (no second JPEG).
With ``--photos DIR`` (default ``../shared/realdata`` beside the repository, skipped with a message when absent), the
same on the labelled real hands of its ``coco_panoptic/test_panoptic.json``, ``coco_onehand10k/test_onehand10k.json``
and ``hand_labels/manual_test``. Printed: one Markdown table per set, each row with its drop from the clean row (for
turned hands, from the 0-degree row: a file's own box is not turned, so there the box is the keypoints' from 0 on).
``--severities 1,2`` scores only those severities and ``--no-turn`` skips the turned hands (a shorter run, as the
A/B of ``--photo-aug-prob`` in BENCHMARKS.md); ``--keypoints`` takes a trained run's ``model.safetensors`` too.
Usage: python benchmarks/bench_corruptions.py [--keypoints pretrained:lite|WEIGHTS] [--count 300] [--seed 2718]
       [--photos DIR|none] [--threads 2] [--quick] [--severities 1,2,3] [--no-turn]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from corruptions import CORRUPTIONS, SEVERITIES, corrupt, rotate_hand
from run_record import record_run

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "realdata"
PHOTO_SETS = ("coco_panoptic/test_panoptic.json", "coco_onehand10k/test_onehand10k.json", "hand_labels/manual_test")
ANGLES = (0, 45, 90, 135, 180)


def corrupted_samples(samples: Sequence[Any], name: str, severity: int, out: Path, seed: int) -> list[Any]:
    """``samples`` whose images are corrupted copies written under ``out`` (one per image file, its noise drawn from
    ``seed``, the corruption, the severity and the place of the image's first hand in ``samples``)."""
    from handpose.inference.prepare import read_image

    out.mkdir(parents=True, exist_ok=True)
    written: dict[Path, Path] = {}
    kept = []
    for i, s in enumerate(samples):
        if s.image_path not in written:
            rng = np.random.default_rng([seed, list(CORRUPTIONS).index(name), severity, i])
            path = out / f"{len(written):05d}.png"
            cv2.imwrite(str(path), corrupt(read_image(s.image_path), name, severity, rng))
            written[s.image_path] = path
        kept.append(dataclasses.replace(s, image_path=written[s.image_path]))
    return kept


def turned_samples(samples: Sequence[Any], angle: float, out: Path) -> list[Any]:
    """``samples`` each turned ``angle`` degrees about its box's centre (one image written under ``out`` a hand),
    boxed by its turned visible keypoints."""
    from handpose.data.crop import sample_box
    from handpose.data.formats.checks import box_of
    from handpose.inference.prepare import read_image

    out.mkdir(parents=True, exist_ok=True)
    kept = []
    for i, s in enumerate(samples):
        x, y, w, h = (float(v) for v in sample_box(s))
        image, keypoints, _ = rotate_hand(read_image(s.image_path), s.keypoints, (x + w / 2, y + h / 2), angle)
        path = out / f"{i:05d}.png"
        cv2.imwrite(str(path), image)
        kept.append(dataclasses.replace(s, image_path=path, keypoints=keypoints, box=box_of(keypoints)))
    return kept


def score(predictor: Any, samples: Sequence[Any], threads: int) -> dict[str, float]:
    """PCK@0.2, AUC, EPE and hands scored of ``predictor`` on ``samples`` in their boxes (``evaluate``)."""
    from handpose.evaluate import evaluate

    m = evaluate(predictor, samples, threads=threads)
    return {"PCK@0.2": m["PCK@0.2"], "AUC": m["AUC"], "EPE": m["EPE"], "hands": m["num_samples"]}


def table(rows: list[tuple[str, str, dict[str, float], dict[str, float]]]) -> str:
    """A Markdown table of (corruption, severity, metrics, the metrics it is compared with) rows."""
    lines = ["| corruption | severity | PCK@0.2 | AUC | EPE px | PCK drop | AUC drop | EPE rise px |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, severity, m, base in rows:
        lines.append(f"| {name} | {severity} | {m['PCK@0.2']:.3f} | {m['AUC']:.3f} | {m['EPE']:.1f} | "
                     f"{base['PCK@0.2'] - m['PCK@0.2']:+.3f} | {base['AUC'] - m['AUC']:+.3f} | "
                     f"{m['EPE'] - base['EPE']:+.1f} |")
    return "\n".join(lines)


def run_set(title: str, samples: Sequence[Any], predictor: Any, work: Path, seed: int, threads: int,
            severities: Sequence[int] = (1, 2, 3), turn: bool = True) -> None:
    """Score one labelled set clean, corrupted at ``severities`` and (with ``turn``) turned; print its table and the
    mean PCK@0.2 of its corrupted rows."""
    from handpose.data.crop import sample_box

    sides = np.array([max(sample_box(s)[2:]) for s in samples])
    print(f"\n{title}: {len(samples)} hands, box's longer side median {np.median(sides):.0f} px "
          f"(10-90%: {np.percentile(sides, 10):.0f}-{np.percentile(sides, 90):.0f})", flush=True)
    clean = score(predictor, samples, threads)
    rows = [("clean", "-", clean, clean)]
    for name, (what, params) in SEVERITIES.items():
        for severity, param in enumerate(params, start=1):
            if severity not in severities:
                continue
            made = corrupted_samples(samples, name, severity, work / f"{name}{severity}", seed)
            rows.append((name, f"{severity}: {what.format(param)}", score(predictor, made, threads), clean))
            print(f"  {name} {severity}: PCK@0.2 {rows[-1][2]['PCK@0.2']:.3f}", flush=True)
    corrupted = [m["PCK@0.2"] for _, _, m, _ in rows[1:]]
    upright: dict[str, float] = {}
    for angle in ANGLES if turn else ():
        turned = turned_samples(samples, angle, work / f"turn{angle}")
        m = score(predictor, turned, threads)
        upright = upright or m  # ANGLES begin with 0
        grown = np.median([max(t.box[2:]) / max(sample_box(s)[2:]) for t, s in zip(turned, samples)])
        rows.append(("turned", f"{angle} deg (box x{grown:.2f})", m, upright))
        print(f"  turned {angle}: PCK@0.2 {m['PCK@0.2']:.3f}", flush=True)
    print(f"\n{title}\n{table(rows)}", flush=True)
    if corrupted:
        print(f"mean PCK@0.2 of the {len(corrupted)} corrupted rows (severities "
              f"{','.join(str(s) for s in severities)}): {np.mean(corrupted):.3f}; clean {clean['PCK@0.2']:.3f}",
              flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keypoints", default="pretrained:lite")
    parser.add_argument("--count", type=int, default=300, help="hands rendered (default 300)")
    parser.add_argument("--seed", type=int, default=2718, help="render and noise seed (default 2718; the release's "
                        "test renders are of seed 1000003, the shipped model's training renders of 0 and 5)")
    parser.add_argument("--photos", default=str(PHOTOS), help="a folder holding the labelled real sets named above, "
                        "or 'none' (default: ../shared/realdata beside the repository, skipped when absent)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="12 renders, no photos")
    parser.add_argument("--severities", default="1,2,3", help="comma list of the severities scored (default 1,2,3)")
    parser.add_argument("--no-turn", action="store_true", help="no turned hands")
    args = parser.parse_args()
    severities = [int(v) for v in args.severities.split(",")]
    if not severities or not set(severities) <= {1, 2, 3}:
        parser.error(f"--severities takes a comma list of 1, 2 and 3, got {args.severities!r}")
    record_run()
    torch.set_num_threads(args.threads)
    from handpose import pretrained
    from handpose.cli import main as handpose_main
    from handpose.data.formats import load_splits
    from handpose.inference.predictor import Predictor

    count = 12 if args.quick else args.count
    predictor = Predictor.from_file(pretrained.resolve(args.keypoints))
    print(f"keypoints {args.keypoints}; {count} renders of seed {args.seed}")
    with tempfile.TemporaryDirectory() as tmp:
        renders = Path(tmp) / "renders"
        rc = handpose_main(["-q", "synth", "--out", str(renders), "--count", str(count), "--size", "256",
                            "--seed", str(args.seed), "--workers", "1"])
        if rc:
            return rc
        run_set(f"renders (seed {args.seed})", load_splits(renders).part("all"), predictor, Path(tmp) / "r",
                args.seed, args.threads, severities, not args.no_turn)
        photos = Path(args.photos)
        if args.quick or args.photos == "none":
            return 0
        if not all((photos / name).exists() for name in PHOTO_SETS):
            print(f"\nno real photos: {photos} does not hold {', '.join(PHOTO_SETS)}; skipped")
            return 0
        samples = [s for name in PHOTO_SETS for s in load_splits(photos / name).part("all")]
        run_set(f"real photos ({', '.join(PHOTO_SETS)})", samples, predictor, Path(tmp) / "p", args.seed,
                args.threads, severities, not args.no_turn)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
