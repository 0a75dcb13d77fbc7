"""A dataset path -> samples: the format (named or detected), its reader, and the training / validation split.

The dataset's own test split (manual_test, a COCO json named ``*_test`` / ``*_val``, FreiHAND's evaluation set) is
validation; a dataset without one is divided by ``split.hash_split`` on ``Sample.key`` (stable when files are added).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from handpose.data.formats import (
    coco,
    coco_wholebody,
    freihand,
    hand_labels,
    hand_labels_synth,
    interhand,
    panopticdb,
)
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.detect import EXPECTED, detect, require_dataset_path
from handpose.data.formats.json_io import default_workers
from handpose.data.formats.keypoint_orders import canonical_order
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport
from handpose.data.split import hash_split

LOG = logging.getLogger(__name__)

READERS: dict[str, Callable[[Path, ReadContext], Tagged]] = {
    hand_labels_synth.NAME: hand_labels_synth.read,
    hand_labels.NAME: hand_labels.read,
    panopticdb.NAME: panopticdb.read,
    coco.NAME: coco.read,
    coco_wholebody.NAME: coco_wholebody.read,
    interhand.NAME: interhand.read,
    freihand.NAME: freihand.read,
}
FORMATS: tuple[str, ...] = tuple(READERS)
ALIASES: dict[str, str] = {panopticdb.ALIAS: panopticdb.NAME, interhand.ALIAS: interhand.NAME}  # datasets' names


SPLIT_NAMES = ("val", "train", "all")


def check_split(split: str) -> str:
    """``split`` when it names a split (``SPLIT_NAMES``); ValueError naming ``--split`` otherwise."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"--split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")
    return split


@dataclass
class Splits:
    """A dataset read from disk: training and validation samples, the format, the root and what was skipped."""

    train: list[Sample]
    val: list[Sample]
    fmt: str
    root: Path
    skipped: SkipReport = field(default_factory=SkipReport)
    hashed: bool = False  # the hash split divided some samples (untagged ones, or all where no val/test part)
    hash_val: list[Sample] = field(default_factory=list)  # the validation samples the hash split held out

    def part(self, split: str) -> list[Sample]:
        """The samples of ``split``: ``"val"``, ``"train"`` or ``"all"`` (both); ValueError for another name."""
        check_split(split)
        return {"val": self.val, "train": self.train, "all": self.train + self.val}[split]


def canonical_format(fmt: str) -> str:
    """The name in ``FORMATS`` of a format or its alias; ValueError listing every accepted name otherwise."""
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in READERS:
        aliases = {v: k for k, v in ALIASES.items()}
        known = ", ".join(f + (f" (or {aliases[f]})" if f in aliases else "") for f in FORMATS)
        raise ValueError(f"unknown dataset format {fmt!r}; known formats: {known}")
    return fmt


def read_samples(
    path: Path | str, fmt: str | None = None, workers: int | None = None, keypoint_order: str | None = None
) -> tuple[Tagged, str, SkipReport]:
    """All usable samples with their split tag, the format and the skip report (not logged here).

    ``keypoint_order`` (a name in ``keypoint_orders.ORDERS``, e.g. ``"rhd"``) is the order a ``coco`` json stores
    its keypoints in; None means CMU order, or ``rhd`` for a json whose file name has the word rhd. The other
    formats have a fixed order, and naming one for them is a ValueError.
    """
    path = require_dataset_path(path)
    if fmt:
        fmt, parsed = canonical_format(fmt), None
    else:
        fmt, parsed = detect(path)
    if keypoint_order is not None:
        keypoint_order = canonical_order(keypoint_order)
        if fmt != coco.NAME:
            raise ValueError(f"{path}: a keypoint order ({keypoint_order!r}) can be named for coco json only; "
                             f"{fmt} has its own")
    ctx = ReadContext(workers=default_workers() if workers is None else workers, parsed=parsed,
                      keypoint_order=keypoint_order)
    return READERS[fmt](path, ctx), fmt, ctx.report


def load_splits(path: Path | str, fmt: str | None = None, val_fraction: float = 0.1,
                workers: int | None = None, keypoint_order: str | None = None, by_image: bool = True) -> Splits:
    """Read a dataset and divide it into training and validation samples.

    The dataset's own test split (manual_test, a COCO json named ``*_test`` / ``*_val``, FreiHAND's evaluation set) is
    validation; where there is none, the training samples are divided by a hash of ``Sample.key`` (stable when files
    are added). Pointing at a test split alone puts everything in val. Skipped annotations are logged once as a
    summary.
    Raises ValueError (naming the path and what was expected) when no usable sample is found.
    ``keypoint_order``: see :func:`read_samples`. ``by_image`` False: the hash split of before 2026-12-06, hand by
    hand (``split.hash_split``), for a run started then.
    """
    path = Path(path)
    tagged, fmt, report = read_samples(path, fmt, workers, keypoint_order)
    if not tagged:  # the skips go into the one error, not also into a warning before it
        msg = f"{path}: no usable {fmt} sample; expected {EXPECTED[fmt]}"
        guess = _detected_otherwise(path, fmt)
        if guess:
            msg += f"; it reads as {guess}: leave --format out or give --format {guess}"
        if report:
            msg += "\n" + report.summary("annotations")
        raise ValueError(msg)
    report.log(f"annotations in {path} ({fmt})", LOG)
    train = [s for s, tag in tagged if tag == "train"]
    val = [s for s, tag in tagged if tag == "val"]
    untagged = [s for s, tag in tagged if tag is None]
    hashed = bool(untagged) or not val
    hash_val: list[Sample] = []
    if hashed:
        rest = untagged if val else untagged + train
        if not val:
            train = []
        t, hash_val = hash_split(rest, val_fraction, by_image)
        train += t
        val += hash_val
    LOG.info("%s (%s): %d training and %d validation samples", path, fmt, len(train), len(val))
    return Splits(train, val, fmt, path, report, hashed, hash_val)


def _detected_otherwise(path: Path, named: str) -> str | None:
    """The format detection finds at ``path`` where the user named ``named`` and it read nothing, or None."""
    try:
        found = detect(path)[0]
    except (OSError, ValueError):
        return None
    return found if found != named else None
