"""Whether the images a detector evaluation holds out were held out when the detector trained.

The detector splits its images as the keypoint task splits its hands (``coco.split_images``): a run trained with a
smaller ``--val-fraction`` than the evaluation's trained on the images between the two, and a run started before
2026-12-07 on a lone ``*_train.json`` (split rule 1) held none of it out and trained on all. A detector's weights
file records its data config (the fraction) and, since that change, its split rule (``eval_held_out.stored_split``
reads both); the evaluation counts the images it holds out by hash that such a run trained on, and warns, as
``eval_held_out`` does for keypoint models (it cannot know whether the run trained on this dataset at all). The
shipped detector trained on renders alone and is not warned about."""

from __future__ import annotations

import logging
from pathlib import Path

from handpose.data.split import is_val
from handpose.detection.coco import DetectionImage
from handpose.eval_held_out import stored_split

LOG = logging.getLogger(__name__)


def hash_divided(images: list[DetectionImage]) -> bool:
    """Whether the hash split chooses some of ``images``' sides (``coco.split_images``): the images of a json
    without a split word, or every one where no json is a held-out part."""
    return any(im.split is None for im in images) or not any(im.split == "val" for im in images)


def warn_if_trained_on(weights: str | Path, data: str | Path, images: list[DetectionImage],
                       held_out: list[DetectionImage], val_fraction: float) -> int:
    """Warn when the detector ``weights`` trained on some of ``held_out`` (the images this evaluation holds out of
    ``images`` with ``val_fraction``); returns how many (0 for the shipped detector). A val/test json's images are
    held out whatever the run's settings; the others the run split as its rule did: a json's split word (rule 1, or
    beside a val/test json), else the hash at its own fraction."""
    from handpose import pretrained

    if str(weights).startswith(pretrained.PREFIX):
        return 0
    trained, recorded = stored_split(weights)
    if trained is None and recorded is None:  # the file says nothing of its training (an ONNX export)
        return 0
    rule = 1 if recorded is None else recorded  # detector files written before the rule was recorded
    by_word = rule < 2 or any(im.split == "val" for im in images)  # the run's split read the split words
    by_name = [im for im in held_out if im.split == "train" and by_word]  # a *_train.json's images: all trained
    by_hash = [im for im in held_out if not (by_word and im.split is not None)]
    count = len(by_name) + sum(trained is not None and not is_val(im.key, trained) for im in by_hash)
    if not count:
        return 0
    if by_name:
        why = "was trained before 2026-12-07, when a lone *_train.json held none of its images out"
    else:
        why = (f"was trained holding out {trained:g} by hash (--val-fraction) and this evaluation holds out "
               f"{val_fraction:g}")
    LOG.warning("%s %s: if it trained on %s, %d of the %d images this evaluation holds out are ones it trained on, "
                "and its figures read too high; score it on images it did not train on", weights, why, data, count,
                len(held_out))
    return count
