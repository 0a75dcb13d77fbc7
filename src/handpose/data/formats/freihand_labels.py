"""FreiHAND's labels: a part's ``_xyz.json`` and ``_K.json`` -> 2D keypoints in pixels, one status per annotation.

Each annotation's 21 joints (metres, camera coordinates, already in CMU order) are projected with its own
intrinsics: ``uvw = (K @ xyz^T)^T``, pixels ``(u / w, v / w)``. FreiHAND labels every joint, so all 21 are marked
visible, a joint projected outside the image included (labelled but outside, as the CMU readers keep such points:
training masks what falls outside its crop). An annotation that cannot be used (not 21 x 3 / 3 x 3 numbers, not
finite, a joint not in front of the camera, or one of :func:`checks.validate_batch`'s faults) gets a
``(reason, detail)`` status and is counted by the reader; two files whose counts differ, or a file that is not a
json list, are refused outright (ValueError naming the file).

Both files are parsed whole and converted in one numpy call (entry by entry only when that fails): the full training
pair (32,560 annotations, 49 MB of json) reads in 1.6 s on 2 cores (``benchmarks/bench_freihand.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.checks import BadAnnotationError, boxes_of, to_float32, to_float64, validate_batch
from handpose.data.formats.freihand_files import Part
from handpose.data.formats.json_io import load_json
from handpose.keypoints import NUM_KEYPOINTS

Status = tuple[str, str] | None  # None: usable; else (skip_report reason, detail)


@dataclass
class Labels:
    """A part's annotations: keypoints (N, 21, 3) float32 ``[x, y, 1]``, boxes (N, 4) float32 (tight box of the 21),
    and a status per annotation."""

    keypoints: np.ndarray
    boxes: np.ndarray
    status: list[Status]


def load_entries(path: Path, holds: str) -> list[Any]:
    """The list a FreiHAND json holds; ValueError naming the file when it cannot be read or is no list."""
    try:
        obj = load_json(path)
    except BadAnnotationError as bad:
        raise ValueError(f"{path}: {bad.reason}" + (f" ({bad.detail})" if bad.detail else "")
                         + f"; expected a json list of {holds}") from None
    if not isinstance(obj, list):
        raise ValueError(f"{path}: a json {type(obj).__name__}, expected a list of {holds}")
    return obj


def stack(entries: list[Any], shape: tuple[int, int], what: str) -> tuple[np.ndarray, list[Status]]:
    """((N, *shape) float64, status per entry) of N json entries of ``shape`` numbers each; a malformed entry is
    zeros with a status naming ``what``."""
    n = len(entries)
    try:
        arr = to_float64(entries)  # (N, *shape) in one call for well-formed files
        if arr.shape == (n, *shape):
            return arr, [None] * n
    except (TypeError, ValueError):
        pass
    arr = np.zeros((n, *shape), dtype=np.float64)
    status: list[Status] = [None] * n
    want = " x ".join(map(str, shape))
    for j, entry in enumerate(entries):
        try:
            one = to_float64(entry)
        except (TypeError, ValueError):
            status[j] = (R.BAD_ANNOTATION, f"{what} is not {want} numbers")
            continue
        if one.shape != shape:
            reason = R.WRONG_POINT_COUNT if what == "xyz" and one.ndim == 2 and one.shape[1] == 3 else R.BAD_ANNOTATION
            status[j] = (reason, f"{what} has shape {'x'.join(map(str, one.shape)) or 'scalar'}, expected {want}")
            continue
        arr[j] = one
    return arr, status


def project(k: np.ndarray, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 3) intrinsics and (N, 21, 3) camera-space joints -> ((N, 21, 2) pixels, (N, 21) depth w)."""
    uvw = np.einsum("nij,nkj->nki", k, xyz)  # (N, 21, 3): K @ xyz^T, transposed back
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return uvw[..., :2] / uvw[..., 2:3], uvw[..., 2]


def _geometry_status(xyz: np.ndarray, k: np.ndarray, depth: np.ndarray, j: int) -> Status:
    """Why annotation j's numbers give no projection (None when they do)."""
    bad_joint = ~np.isfinite(xyz[j]).all(axis=1)  # (21,)
    if bad_joint.any():
        return R.NON_FINITE, f"xyz of joint {int(np.flatnonzero(bad_joint)[0])}"
    if not np.isfinite(k[j]).all():
        return R.NON_FINITE, "K"
    behind = np.flatnonzero(~(depth[j] > 0))
    if len(behind):
        return R.BAD_ANNOTATION, f"joint {int(behind[0])} is not in front of the camera (depth {depth[j, behind[0]]:g})"
    return None


def read_labels(part: Part) -> Labels:
    """The projected keypoints of a part's ``_xyz.json`` with its ``_K.json``; ValueError (naming the file) when a
    file is unreadable or no list, or their counts differ."""
    xyz_raw = load_entries(part.xyz, "21 x 3 joint positions (metres, camera coordinates)")
    k_raw = load_entries(part.k, "3 x 3 camera intrinsics")
    if len(xyz_raw) != len(k_raw):
        raise ValueError(f"{part.k}: {len(k_raw)} intrinsics for the {len(xyz_raw)} annotations of {part.xyz.name}; "
                         "the two files must have one entry per annotation (both from one FreiHAND download)")
    xyz, status = stack(xyz_raw, (NUM_KEYPOINTS, 3), "xyz")  # (N, 21, 3)
    k, k_status = stack(k_raw, (3, 3), "K")  # (N, 3, 3)
    status = [a or b for a, b in zip(status, k_status)]
    xy, depth = project(k, xyz)  # (N, 21, 2), (N, 21)
    suspect = ~np.isfinite(xyz).all(axis=(1, 2)) | ~np.isfinite(k).all(axis=(1, 2)) | ~(depth > 0).all(axis=1)
    for j in np.flatnonzero(suspect):
        status[j] = status[j] or _geometry_status(xyz, k, depth, int(j))
    usable = np.array([s is None for s in status], dtype=bool)  # (N,)
    kps = np.ones((len(status), NUM_KEYPOINTS, 3), dtype=np.float64)  # (N, 21, 3): every joint labelled
    kps[..., :2] = np.where(usable[:, None, None], xy, 0.0)
    kps32 = to_float32(kps)  # validated as stored
    checked = validate_batch(kps32)
    status = [s or c for s, c in zip(status, checked)]
    return Labels(kps32, boxes_of(kps32), status)
