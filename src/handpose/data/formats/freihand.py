"""``freihand``: FreiHAND (FreiHAND_pub_v2) in its own layout, the 3D joints projected to 2D with each sample's K.

One sample per image in ``{part}/rgb/``: image i shows annotation i mod N (N = the entries of ``{part}_xyz.json``),
so the 4 versions of a training sample (green-screen original, then 3 backgrounds) share one annotation. Every hand
is a right hand (``is_left`` False, the side known); all 21 joints are labelled (``freihand_labels``); the box is the
tight box of the keypoints, as for the CMU formats; no head size (no PCKh, as for CMU's synth and panopticdb data).

Split: with ``evaluation_xyz.json`` (its labels are the separate FreiHAND_pub_v2_eval download) training is
``training/`` and validation ``evaluation/``; without it, the training annotations are divided by the usual hash
split on the annotation, not the image (``Sample.key`` is ``training/{annotation:08d}#rgb/{image:08d}.jpg``, and
``split.hash_split`` hashes the part before the ``#``), so the 4 versions of a sample never straddle the split.

A malformed annotation is skipped and counted (once, however many images show it), and so is a hand whose box lies
wholly outside its images (of the size most of a spread sample of the part's image headers give) and an annotation
with no image; an unreadable json, one that is no list, a ``_xyz.json`` without its ``_K.json`` or ``rgb/``, or two
files whose counts differ are refused with one line naming the file. The parts found are logged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from handpose.data import skip_report as R
from handpose.data.crop import box_misses_image
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.freihand_files import Part, common_image_size, image_files, parts_at
from handpose.data.formats.freihand_labels import read_labels
from handpose.data.sample import Sample

LOG = logging.getLogger(__name__)

NAME = "freihand"
EXPECTED = ("FreiHAND's root: training_xyz.json + training_K.json with training/rgb/%08d.jpg, and/or "
            "evaluation_xyz.json + evaluation_K.json with evaluation/rgb/%08d.jpg")
VERSIONS = {"training": 4, "evaluation": 1}  # images per annotation in the full download


def _require(part: Part) -> None:
    """ValueError naming what a labelled part lacks: its ``_K.json`` or its ``rgb/`` folder."""
    if not part.k.is_file():
        raise ValueError(f"{part.k}: not found; {part.xyz.name} needs it (the camera intrinsics of each annotation)")
    if not part.rgb.is_dir():
        raise ValueError(f"{part.rgb}: no such folder; the images of {part.xyz.name} are expected there as %08d.jpg")


def _read_part(part: Part, tag: str | None, ctx: ReadContext) -> tuple[Tagged, str]:
    """(the samples of one part, a line saying what was found)."""
    _require(part)
    labels = read_labels(part)
    status, n = labels.status, len(labels.status)
    files = image_files(part.rgb)
    size = common_image_size(part.rgb, [name for _, name in files])  # FreiHAND's images are all one size
    if size is not None:
        w, h = size
        for j in np.flatnonzero([s is None for s in status]):
            if box_misses_image(labels.boxes[j], (h, w)):
                status[j] = (R.BAD_BOX, f"box {labels.boxes[j].tolist()} of all 21 joints lies outside the {w} x {h} "
                             "images")
    for j, st in enumerate(status):
        if st is not None:
            ctx.report.add(st[0], f"{part.xyz}[{j}]", st[1])
    out: Tagged = []
    rgb = part.rgb
    shown = np.zeros(n, dtype=bool)  # (N,): an image of the annotation exists
    for i, name in files if n else []:
        j = i % n
        shown[j] = True
        if status[j] is None:
            key = f"{part.name}/{j:08d}#rgb/{name}"
            out.append((Sample(rgb / name, labels.keypoints[j], False, labels.boxes[j], None, key), tag))
    for j in np.flatnonzero(~shown):
        if status[j] is None:
            ctx.report.add(R.MISSING_IMAGE, part.rgb / f"{j:08d}.jpg", f"no image of {part.xyz.name}[{j}]")
    versions = f": {VERSIONS[part.name]} versions each" if n and len(files) == VERSIONS[part.name] * n > n else ""
    return out, f"{part.name} ({n} annotations, {len(files)} images{versions})"


def read(path: Path, ctx: ReadContext) -> Tagged:
    """The samples of every labelled part at ``path`` (the root, or one of the four json files: its part)."""
    parts, notes = parts_at(path)
    for note in notes:
        LOG.info("%s: %s", path, note)
    if not parts:
        raise ValueError(f"{path}: no training_xyz.json or evaluation_xyz.json" + (f" ({notes[0]})" if notes else "")
                         + f"; expected {EXPECTED}")
    held_out = any(p.name == "evaluation" for p in parts)
    out: Tagged = []
    found = []
    for part in parts:
        samples, line = _read_part(part, part.tag if held_out else None, ctx)
        out += samples
        found.append(line)
    split = ("evaluation is the validation split" if held_out else
             "no evaluation labels: validation is a hash split of the training annotations, each with all its images")
    LOG.info("FreiHAND at %s: %s; %s", path, " and ".join(found), split)
    return out
