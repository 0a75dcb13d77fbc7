"""One keypoint model on several datasets at once: a table of each one's metrics and the metrics of them all.

``handpose eval --data FOLDER`` where FOLDER is not a dataset itself but holds several (say, a folder of small real
photo sets in different formats) evaluates every dataset found in it (up to two folders down) on the samples of
its ``--split`` (for ``val`` each set's own test part, as for one dataset; ``all``: every sample), each in its
ground-truth boxes, and once more on all those samples together (``"all"``: PCK, AUC and EPE over every hand, as
MMPose computes them, not an average of the sets' figures). The demo and the model card use
it for their real-photo figures. With a hand detector (``handpose eval --detector``) each set, and all together,
is also evaluated through the detector (``evaluate_detected``: found hands, false positives per image, keypoints in
the detector's boxes); the "all" row pools the sets' hands (each image is matched within its own set).
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePath
from typing import Any

from handpose.data.formats.several import find_datasets
from handpose.data.sample import Sample

LOG = logging.getLogger(__name__)

REPORT_NAME = "eval_sets.json"  # what `handpose eval` of a folder of datasets writes into --out


def evaluate_sets(predictor: Any, roots: list[str | Path], batch_size: int = 16,
                  detector: Any | None = None, split: str = "all", val_fraction: float = 0.1,
                  weights: str | Path | None = None) -> dict[str, Any]:
    """Metrics of ``predictor`` (a Predictor) on every dataset under ``roots`` (the samples of each one's
    ``split``: ``"all"``, ``"val"`` or ``"train"``; a set with none of them is left out, with a note in the log) and
    on all of them together, with the predictor's own test-time options (flip test, scales). ``val_fraction``: the
    share held out by hash in a set without a split of its own. ``weights``: the keypoint model file ``predictor``
    was made from, warned about where it held out less than ``val_fraction`` (``eval_held_out``).

    Returns ``{"sets": {name: metrics}, "all": metrics, "hash_divided": bool}`` (whether the hash split divided
    some scored set, so that ``val_fraction`` chose hands); a set's name is its path below its root. With
    ``detector`` (a ``HandDetector`` or anything with ``detect(image_bgr)``) each metrics dict also holds the
    through-detector figures under ``"detector"`` (``evaluate_detected.detected_metrics``). ValueError when no
    dataset is found, or no hand of any could be evaluated (every image bad)."""
    from handpose.data.formats import load_splits
    from handpose.eval_held_out import warn_for_split
    from handpose.evaluate import evaluate

    def in_gt_boxes(samples: list[Sample]) -> dict[str, Any]:
        return evaluate(predictor, samples, batch_size=batch_size, flip_test=predictor.flip_test,
                        scales=predictor.spec.scales)

    per_set: dict[str, dict[str, Any]] = {}
    every: list[Sample] = []
    outcomes = []
    hashed = False
    for root in roots:
        for path in find_datasets(root):
            splits = load_splits(path, val_fraction=val_fraction)
            samples = splits.part(split)
            if not samples:
                LOG.info("%s: no %s samples (%d train, %d val); left out", path, split, len(splits.train),
                         len(splits.val))
                continue
            warn_for_split(weights, path, splits, split, val_fraction)
            hashed = hashed or splits.hashed
            name = set_name(path, Path(root))
            per_set[name] = in_gt_boxes(samples)
            every += samples
            if detector is not None:
                from handpose.evaluate_detected import detect_hands, detected_metrics

                outcomes.append(detect_hands(predictor, samples, detector, set_name=name))
                per_set[name]["detector"] = detected_metrics(outcomes[-1])
    if not per_set:
        where = ", ".join(str(r) for r in roots)
        raise ValueError(f"no dataset handpose can read in {where}" if split == "all" else
                         f"no dataset in {where} has a {split} split (--split all takes every sample)")
    together = in_gt_boxes(every)
    if together["num_samples"] == 0:
        where = ", ".join(str(r) for r in roots)
        raise ValueError(f"{where}: none of the {len(every)} {split} samples of its {len(per_set)} dataset(s) could "
                         f"be evaluated: {together['skipped']}; e.g. {'; '.join(together['skipped_examples'])}")
    if detector is not None:
        from handpose.evaluate_detected import HandOutcomes, detected_metrics

        pooled = HandOutcomes.concat(outcomes)
        together["detector"] = detected_metrics(pooled)
        together["detector_images"] = pooled.images  # each image's record (``evaluate_detected_images``)
    return {"sets": per_set, "all": together, "hash_divided": hashed}


def set_name(path: PurePath, root: PurePath) -> str:
    """A dataset's name in the report: its path below ``root`` with forward slashes on every system (a report made on
    Windows reads as one made elsewhere), or ``root``'s own name when it is the dataset."""
    return path.relative_to(root).as_posix() if path != root else root.name


def format_sets(result: dict[str, Any]) -> str:
    """The table: one line per set and one for all, with hands, PCK@0.2, AUC and EPE; a set none of whose hands
    could be evaluated (its images all bad) shows ``-`` and its skips, not the zeros of an empty sum (an EPE of 0
    reads as perfect)."""
    rows = [*result["sets"].items(), ("all", result["all"])]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'dataset':<{width}}  hands  PCK@0.2    AUC   EPE px"]
    for name, m in rows:
        if m["num_samples"]:
            figures = f"{m['PCK@0.2']:7.3f}  {m['AUC']:5.3f}  {m['EPE']:7.1f}"
        else:
            figures = f"{'-':>7}  {'-':>5}  {'-':>7}  (every hand skipped: {m.get('skipped', {})})"
        lines.append(f"{name:<{width}}  {m['num_samples']:>5}  {figures}")
    chosen = side_note(result["all"])
    return "\n".join(lines + ([chosen] if chosen else []))


def side_note(metrics: dict[str, Any]) -> str:
    """A line on the hands whose dataset gives no side ("" when every hand has one)."""
    n = int(metrics.get("side_chosen", 0))
    if not n:
        return ""
    return (f"{n} hand(s) without a side in their dataset: side chosen by the keypoint network "
            f"({int(metrics.get('side_chosen_left', 0))} taken for left)")
