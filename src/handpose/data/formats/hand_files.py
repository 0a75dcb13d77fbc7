"""Folders of CMU per-hand files (``<name>.jpg`` + ``<name>.json`` with ``hand_pts``, ``is_left``, optional
``head_size``), the layout of hand_labels_synth and hand_labels; large folders are read on a process pool."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import (
    BadAnnotationError,
    boxes_of,
    head_size,
    parse_keypoints,
    to_float32,
    validate_batch,
)
from handpose.data.formats.json_io import load_json, map_chunks
from handpose.data.images import IMAGE_SUFFIXES
from handpose.data.sample import Sample
from handpose.data.skip_report import SkipReport
from handpose.keypoints import NUM_KEYPOINTS

HandChunk = tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, str] | None]]


def _read_hand_file(json_path: str) -> tuple[Any, bool, float | None]:
    """(raw hand_pts, is_left, head_size) of one CMU per-hand json; raises BadAnnotationError."""
    obj = load_json(json_path)
    if not isinstance(obj, dict) or "hand_pts" not in obj:
        raise BadAnnotationError(R.BAD_ANNOTATION, "no 'hand_pts'")
    try:
        is_left = bool(int(obj.get("is_left", 0) or 0))
    except (TypeError, ValueError, OverflowError):
        raise BadAnnotationError(R.BAD_ANNOTATION, "'is_left' is not 0/1") from None
    return obj["hand_pts"], is_left, head_size(obj.get("head_size"))


def read_hand_chunk(json_paths: list[str]) -> HandChunk:
    """Read and validate per-hand json files: (keypoints (K, 21, 3) float32, is_left (K,), head_size (K,) with nan,
    status per file: None = usable, else (reason, detail)). Runs in a pool process for large datasets."""
    K = len(json_paths)
    kps = np.zeros((K, NUM_KEYPOINTS, 3), dtype=np.float64)
    is_left = np.zeros(K, dtype=bool)
    heads = np.full(K, np.nan, dtype=np.float64)
    status: list[tuple[str, str] | None] = [None] * K
    plain_rows: list[int] = []
    plain_pts: list[Any] = []
    for k, jp in enumerate(json_paths):
        try:
            pts, is_left[k], head = _read_hand_file(jp)
            if head is not None:
                heads[k] = head
            if type(pts) is list and len(pts) == NUM_KEYPOINTS:  # the common case, converted in one call below
                plain_rows.append(k)
                plain_pts.append(pts)
            else:
                kps[k] = parse_keypoints(pts)
        except BadAnnotationError as bad:
            status[k] = (bad.reason, bad.detail)
    if plain_rows:
        try:
            arr = np.array(plain_pts, dtype=np.float64)  # (P, 21, 3): one conversion for the common case
            if arr.shape != (len(plain_rows), NUM_KEYPOINTS, 3):
                raise ValueError("not 21 x [x, y, v]")
            kps[plain_rows] = arr
        except (TypeError, ValueError, OverflowError):  # ragged, pairs, a non-number or huge int: one by one
            for k, pts in zip(plain_rows, plain_pts):
                try:
                    kps[k] = parse_keypoints(pts)
                except BadAnnotationError as bad:
                    status[k] = (bad.reason, bad.detail)
    kps32 = to_float32(kps)  # (K, 21, 3), validated as stored
    checked = validate_batch(kps32)
    status = [st if st is not None else chk for st, chk in zip(status, checked)]
    return kps32, is_left, heads, status


def scan_hand_folder(folder: Path, report: SkipReport) -> list[tuple[str, str, str]]:
    """(stem, json path, image path) for each image+json pair; lone images count as missing json, lone json as
    missing image. Plain strings: a Path per file costs more than reading the json."""
    jsons: dict[str, str] = {}
    images: dict[str, str] = {}
    with os.scandir(folder) as it:
        for entry in it:
            stem, ext = os.path.splitext(entry.name)
            ext = ext.lower()
            if ext == ".json":
                jsons[stem] = entry.path
            elif ext in IMAGE_SUFFIXES:
                images.setdefault(stem, entry.path)
    pairs = [(stem, jsons[stem], images[stem]) for stem in sorted(jsons) if stem in images]
    for stem in sorted(set(jsons) - set(images)):
        report.add(R.MISSING_IMAGE, jsons[stem])
    for stem in sorted(set(images) - set(jsons)):
        report.add(R.MISSING_JSON, images[stem])
    return pairs


def read_hand_folders(folders: list[tuple[Path, str | None]], keep_head_size: bool, ctx: ReadContext) -> Tagged:
    """Samples of per-hand json folders; each folder comes with its split tag ("train", "val" or None)."""
    jobs: list[tuple[str, str, str, str | None]] = []
    for folder, tag in folders:
        prefix = folder.name + "/"
        jobs += [(prefix + stem, jp, ip, tag) for stem, jp, ip in scan_hand_folder(folder, ctx.report)]
    chunks = map_chunks(read_hand_chunk, [jp for _, jp, _, _ in jobs], ctx.workers)
    out: Tagged = []
    pos = 0
    for kps, is_left, heads, status in chunks:
        boxes = boxes_of(kps)  # (K, 4)
        for k, st in enumerate(status):
            key, jp, ip, tag = jobs[pos + k]
            if st is not None:
                ctx.report.add(st[0], jp, st[1])
                continue
            head = float(heads[k]) if keep_head_size and heads[k] == heads[k] else None
            out.append((Sample(Path(ip), kps[k], bool(is_left[k]), boxes[k], head, key), tag))
        pos += len(status)
    return out
