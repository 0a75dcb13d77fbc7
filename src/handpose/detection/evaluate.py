"""Detection evaluation: a detector over a set of images with known hand boxes -> COCO-style AP, AP@0.5:0.95,
recall at 1 false positive per image and handedness accuracy, overall and per hand size (``detection/metrics``).

``run_detection_eval`` is the library side of ``handpose eval --task detect``; training's validation calls
:func:`detect_images` and :func:`detection_metrics` on the held-out images the same way. With a keypoint model
(``keypoints=``, ``--keypoints``) the hands are those of the detect -> keypoint refinement cascade
(``inference/refine``, :func:`refine_images`): its boxes and scores, every refined hand kept whatever its score (AP
needs the low-scored ones too), the handedness the settled side. Images that cannot be read are counted, named in
the report, and left out. The written report keeps every scored image's detections (``detections``, one record an
image: ``detection/stored_detections``), so they can be re-scored without running the model again.

Memory stays nearly level however many images are scored: each image's result is tallied as it comes
(``metrics.DetectionTally``: about 19 bytes a detection, not its boxes) and its record spooled to a hidden line file
beside the report (``stored_detections.DetectionLines``), copied in at the end; :func:`detect_images` and
:func:`refine_images` (training's validation, the benchmarks) still give every result in a list.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from handpose.data import images
from handpose.data.skip_report import SkipReport
from handpose.detection.coco import DetectionImage, read_detection_images, split_images
from handpose.detection.detector import IMAGE_SCALES, HandDetector
from handpose.detection.held_out_check import hash_divided, warn_if_trained_on
from handpose.detection.metrics import DetectionTally, ImageResult
from handpose.detection.stored_detections import DetectionLines
from handpose.eval_held_out import recorded_fraction, warn_if_scoring_training_part
from handpose.words import counted

if TYPE_CHECKING:
    from handpose.inference.predictor import Predictor
    from handpose.inference.refine import RefineConfig

LOG = logging.getLogger(__name__)

EVAL_THRESHOLD = 0.01  # AP needs the low-scored detections too
MAX_PIXELS = 100_000_000
REPORT_NAME = "detection_eval.json"  # the report in an --out folder


def detect_images(detector: HandDetector, items: list[DetectionImage], batch_size: int = 8,
                  threshold: float = EVAL_THRESHOLD, skipped: SkipReport | None = None,
                  max_pixels: int = MAX_PIXELS, scored: list[DetectionImage] | None = None) -> list[ImageResult]:
    """Detections against ground truth for each readable image of ``items`` (bad images counted in ``skipped``),
    at every one of the detector's ``scales``; each readable item is appended to ``scored``, in the results'
    order."""
    return _listed(each_detected(detector, items, batch_size, threshold, skipped, max_pixels), scored)


def each_detected(detector: HandDetector, items: list[DetectionImage], batch_size: int = 8,
                  threshold: float = EVAL_THRESHOLD, skipped: SkipReport | None = None,
                  max_pixels: int = MAX_PIXELS) -> Iterator[tuple[DetectionImage, ImageResult]]:
    """:func:`detect_images` one image at a time as each batch is done: (readable item, its result)."""
    skipped = skipped if skipped is not None else SkipReport()
    for start in range(0, len(items), max(1, batch_size)):
        chunk, prepared = [], []
        for item in items[start : start + batch_size]:
            try:  # letterboxed at once: only the network inputs of a batch are held, not its full images
                prepared.append(detector.letterbox_scales(images.load_image(item.path, max_pixels)[0]))
                chunk.append(item)
            except images.ImageError as err:
                skipped.add(err.reason, err.path, err.detail)
        if not chunk:
            continue
        for item, f in zip(chunk, detector.find(prepared, threshold)):
            yield item, ImageResult(f.boxes, f.scores, f.left, item.boxes.astype(np.float64), item.is_left,
                                    item.left_known, item.crowd.astype(np.float64))


def refine_images(predictor: Predictor, items: list[DetectionImage], skipped: SkipReport | None = None,
                  max_pixels: int = MAX_PIXELS, scored: list[DetectionImage] | None = None) -> list[ImageResult]:
    """The refined hands (``Predictor.detect_hands``) against ground truth for each readable image of ``items``;
    ``left`` is 1 for a hand settled as left, 0 for right. Each readable item is appended to ``scored``, in the
    results' order."""
    return _listed(each_refined(predictor, items, skipped, max_pixels), scored)


def each_refined(predictor: Predictor, items: list[DetectionImage], skipped: SkipReport | None = None,
                 max_pixels: int = MAX_PIXELS) -> Iterator[tuple[DetectionImage, ImageResult]]:
    """:func:`refine_images` one image at a time: (readable item, its result)."""
    skipped = skipped if skipped is not None else SkipReport()
    for item in items:
        try:
            image, _ = images.load_image(item.path, max_pixels)
        except images.ImageError as err:
            skipped.add(err.reason, err.path, err.detail)
            continue
        hands = predictor.detect_hands(image)
        boxes = np.array([np.asarray(d.box, np.float64) for d in hands]).reshape(-1, 4)
        scores = np.array([float(d.score) for d in hands], np.float64)
        left = np.array([1.0 if d.is_left else 0.0 for d in hands], np.float64)
        yield item, ImageResult(boxes, scores, left, item.boxes.astype(np.float64), item.is_left, item.left_known,
                                item.crowd.astype(np.float64))


def _listed(pairs: Iterator[tuple[DetectionImage, ImageResult]],
            scored: list[DetectionImage] | None) -> list[ImageResult]:
    """The results of ``pairs`` in a list, their items appended to ``scored`` (where given) in the same order."""
    results = []
    for item, result in pairs:
        results.append(result)
        if scored is not None:
            scored.append(item)
    return results


def run_detection_eval(weights: str | Path, data: str | Path, out: str | Path | None = None, batch_size: int = 8,
                       device: str = "cpu", split: str = "all", val_fraction: float = 0.1,
                       keypoints: str | Path | None = None, refine: RefineConfig | None = None,
                       scales: Sequence[float] = IMAGE_SCALES) -> dict[str, Any]:
    """Evaluate detector ``weights`` on the COCO box json(s) at ``data``; returns (and writes to ``out``, a json
    file or a folder for ``detection_eval.json``) the report: metrics, counts, skipped images, settings, and, in
    the written file only, last the scored images' detections (``detections``: ``detection/stored_detections``,
    spooled to disk as the images are scored, never all in memory).

    ``split``: "all" images, or "val" / "train" (the side ``split_images`` puts them on with ``val_fraction``).
    ``keypoints``: a keypoint model's weights: score the detect -> keypoint refinement cascade (``refine``, default
    ``RefineConfig()``, its ``hand_threshold`` ignored) instead of the detector alone (at ``EVAL_THRESHOLD``).
    ``scales``: the detector's letterbox scales (``detection.detector``; default those of still images)."""
    from handpose.inference.refine import RefineConfig

    t0 = time.perf_counter()
    predictor = None
    if keypoints is not None:
        from handpose.inference.predictor import Predictor

        refine = replace(refine or RefineConfig(), hand_threshold=0.0)
        if refine.passes < 1:
            raise ValueError("--keypoints scores the keypoint refinement: it needs at least one pass")
        predictor = Predictor.from_file(keypoints, device=device, detector=weights, refine=refine,
                                        detector_scales=scales)
        detector = predictor.detector
        threshold = refine.proposal_threshold
    else:
        detector = HandDetector.from_file(weights, device=device, scales=scales)
        threshold = EVAL_THRESHOLD
    read_report = SkipReport()
    items = read_detection_images(data, read_report)
    all_items = items
    if split not in ("all", "train", "val"):
        raise ValueError(f"split must be 'all', 'train' or 'val', got {split!r}")
    train, val = split_images(items, val_fraction)
    if split == "val":
        warn_if_trained_on(weights, data, items, val, val_fraction)
    else:  # its training images among those scored, where it records having trained on this json
        warn_if_scoring_training_part(weights, data, split, len(train), "images")
    if split != "all":
        items = val if split == "val" else train
    if not items:
        raise ValueError(f"{data}: no images in the {split!r} split to evaluate on (a json named val or test is all "
                         "held out, and beside one a json named for training all training); --split all scores every "
                         "image")
    if not sum(im.num_hands for im in items):  # every AP and recall would be NaN
        raise ValueError(f"{data}: the {split!r} split holds {counted(len(items), 'image')} but no hand box, so there "
                         "is no AP or recall to measure; --split all scores every image (with a hash split, a larger "
                         "--val-fraction holds out more)")
    skipped = SkipReport()
    tally = DetectionTally()  # what the metrics need of each image, as it is scored: no image's boxes are kept
    with DetectionLines(report_path(out)) if out is not None else nullcontext() as lines:
        if predictor is not None:
            pairs = each_refined(predictor, items, skipped)
        else:
            pairs = each_detected(detector, items, batch_size, threshold, skipped)
        for item, result in pairs:
            tally.add(result)
            if lines is not None:
                lines.add(item, result)
        if not tally.images:
            raise ValueError(f"{data}: none of the {len(items)} {split} images could be read "
                             f"({skipped.summary('images')})")
        report: dict[str, Any] = {
            "task": "detect", "weights": str(weights), "data": str(data), "split": split,
            "val_fraction": recorded_fraction(split, hash_divided(all_items), val_fraction),
            "input_size": detector.input_size, "scales": list(detector.scales), "threshold": threshold,
            "ap_interpolation": "coco101",
            "keypoints": None if keypoints is None else str(keypoints),
            "refine": None if predictor is None else asdict(predictor.refine),
            **tally.metrics(),
            "skipped_images": _count(skipped), "skipped_annotations": _count(read_report),
            "seconds": round(time.perf_counter() - t0, 2),
        }
        if _count(skipped):
            skipped.log("images", LOG)
            report["skipped_summary"] = skipped.summary("images")
        if lines is not None:
            lines.write(report)
    return report


def report_path(out: str | Path) -> Path:
    """Where the report goes: ``out`` itself when it names a ``.json`` file, else ``out/REPORT_NAME``."""
    path = Path(out)
    return path if path.suffix.lower() == ".json" else path / REPORT_NAME


def format_detection_report(report: dict[str, Any]) -> str:
    """A few lines for the terminal: the split and settings, the headline metrics, then each per size; the side's
    accuracy (``side correct``: the share of found hands of labelled side whose side is right), where there are
    any."""
    what = "the detector refined by " + str(report["keypoints"]) if report.get("keypoints") else "the detector alone"
    lines = [f"{report.get('split', 'all')} split: {int(report['num_images'])} images, {int(report['num_hands'])} "
             f"hands; {what} at scales {', '.join(f'{s:g}' for s in report.get('scales', []))}, proposals from "
             f"{report.get('threshold', 0):g}; sizes by the box's longer side"]
    for suffix, label in (("", "all"), ("/small", "< 32 px"), ("/medium", "32-96 px"), ("/large", ">= 96 px")):
        line = (f"{label:>9}: AP@0.5 {report[f'AP@0.5{suffix}']:.3f}  AP@0.5:0.95 "
                f"{report[f'AP@0.5:0.95{suffix}']:.3f}  recall@1FP/img {report[f'recall@1FP{suffix}']:.3f}")
        side = report.get(f"handedness{suffix}")
        if isinstance(side, float) and side == side:  # NaN: no found hand of known side
            line += f"  side correct {side:.3f}"
        lines.append(line)
    return "\n".join(lines)


def _count(report: SkipReport) -> int:
    """Skipped items in a report (``SkipReport.total`` is a method on some branches, a property on others)."""
    return int(sum(report.counts.values()))
