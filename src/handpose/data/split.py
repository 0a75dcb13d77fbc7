"""Deterministic train/validation split by a hash of each sample's key.

A sample's side depends on its image's key alone (SHA-1 of ``Sample.key`` up to its ``#``: the hands of one
image share it, and so do the 4 image versions of one FreiHAND annotation, keyed by the annotation), never on the
other samples or their order, so the split is the same on every machine, adding files never moves an existing sample
to the other side, and no image has hands on both sides (nor a FreiHAND sample's versions).

Until 2026-12-06 the hash was of the whole key, one hand at a time (``by_image=False``): a run started then resumes
on that split (``TrainConfig.split_rule`` 0), so it validates on none of the hands it trained on.
"""

from __future__ import annotations

import hashlib

from handpose.data.sample import Sample


def key_fraction(key: str) -> float:
    """A uniform number in [0, 1) from a key (first 8 bytes of its SHA-1)."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def is_val(key: str, val_fraction: float) -> bool:
    """Whether the sample with this key belongs to the validation side."""
    return key_fraction(key) < val_fraction


def image_key(key: str) -> str:
    """The image part of a sample key: ``photo.jpg`` of ``photo.jpg#12`` (readers key a hand as image#annotation)."""
    return key.split("#", 1)[0]


def hash_split(samples: list[Sample], val_fraction: float,
               by_image: bool = True) -> tuple[list[Sample], list[Sample]]:
    """(train, val) by the hash of each sample's image key (``by_image`` False: of its whole key, the split of before
    2026-12-06); order within each side is kept."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    train: list[Sample] = []
    val: list[Sample] = []
    for s in samples:
        (val if is_val(image_key(s.key) if by_image else s.key, val_fraction) else train).append(s)
    return train, val
