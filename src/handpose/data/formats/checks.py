"""Checks shared by every reader: keypoints parsed and validated as stored (float32), boxes, head sizes.

Keypoints are validated as the dataset stores them (float32): a coordinate beyond its range (``1e300``, a 400-digit
integer) counts as infinite. A reader raises :class:`BadAnnotationError` for an unusable annotation and counts it in
its ``SkipReport``; nothing here decodes images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.crop import box_dwarfs_image, box_misses_image
from handpose.keypoints import NUM_KEYPOINTS

FLOAT32_MAX = float(np.finfo(np.float32).max)


class BadAnnotationError(Exception):
    """An annotation that cannot be used (reason from skip_report, detail for the log)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _big_ints_to_inf(raw: Any, depth: int = 0) -> Any:
    """``raw`` with each integer too large for a float replaced by +-inf (in lists nested up to 2 deep, as keypoints
    are: deeper nesting is left for numpy to refuse)."""
    if isinstance(raw, list) and depth < 2:
        return [_big_ints_to_inf(v, depth + 1) for v in raw]
    if isinstance(raw, int):
        try:
            float(raw)
        except OverflowError:
            return math.inf if raw > 0 else -math.inf
    return raw


def to_float64(raw: Any) -> np.ndarray:
    """``np.asarray(raw, float64)``, where an integer literal beyond float64's range becomes infinite (json.loads
    keeps ``1e999`` as inf but ``10**400`` as an int, which numpy refuses with OverflowError). Such an integer
    nested deeper than keypoints are (a whole FreiHAND file: N x 21 x 3) is a ValueError, as other values numpy
    cannot convert are, never an OverflowError."""
    try:
        return np.asarray(raw, dtype=np.float64)
    except OverflowError:
        try:
            return np.asarray(_big_ints_to_inf(raw), dtype=np.float64)
        except OverflowError:
            raise ValueError("an integer beyond float64's range, nested more than 2 lists deep") from None


def to_float32(arr: np.ndarray) -> np.ndarray:
    """float32 copy, the stored dtype: a value beyond its range (|x| > 3.4e38) becomes infinite, without a warning."""
    with np.errstate(over="ignore"):
        return arr.astype(np.float32)


def keypoint_array(raw: Any, count: int = NUM_KEYPOINTS) -> np.ndarray:
    """(count, 3) float64 ``[x, y, v]`` from count x [x, y(, v)] or 3 * count flat numbers (pairs get v = 1);
    raises BadAnnotationError. Values are not validated here."""
    try:
        arr = to_float64(raw)
    except (TypeError, ValueError):
        if isinstance(raw, list) and all(isinstance(q, list) for q in raw) and len({len(q) for q in raw}) > 1:
            raise BadAnnotationError(R.WRONG_POINT_COUNT, "points of different lengths") from None
        raise BadAnnotationError(R.BAD_ANNOTATION, "points are not numbers") from None
    if arr.ndim == 1 and arr.size == count * 3:
        arr = arr.reshape(count, 3)
    if arr.ndim != 2 or arr.shape[0] != count or arr.shape[1] not in (2, 3):
        raise BadAnnotationError(R.WRONG_POINT_COUNT, f"shape {arr.shape}, expected {count} x [x, y, v]")
    if arr.shape[1] == 2:
        arr = np.concatenate([arr, np.ones((count, 1))], axis=1)
    return arr


def check_keypoints(kp: np.ndarray) -> np.ndarray:
    """(21, 3) float32 copy of (21, 3) keypoints, validated by :func:`validate_batch`; raises BadAnnotationError."""
    kp32 = to_float32(kp)  # (21, 3)
    status = validate_batch(kp32[None])[0]
    if status is not None:
        raise BadAnnotationError(*status)
    return kp32


def parse_keypoints(raw: Any) -> np.ndarray:
    """(21, 3) float32 ``[x, y, v]`` from 21 x [x, y(, v)] or 63 flat numbers; raises BadAnnotationError.

    The rules of :func:`validate_batch`, checked on the float32 values (so 1e300 counts as infinite): a visible
    point (v > 0) must have finite coordinates; an invisible point's coordinates are set to 0 when they are not
    finite. At least one point must be visible.
    """
    return check_keypoints(keypoint_array(raw))


def validate_batch(kps: np.ndarray) -> list[tuple[str, str] | None]:
    """Per hand of (K, 21, 3) keypoints in their stored dtype (float32, so that a value beyond its range is already
    infinite): None when usable, else (reason, detail). A visible point needs finite coordinates and at least one
    point must be visible; the box of the visible points must be finite too (its extent can overflow float32), and
    two or more visible points must not all lie on one pixel (a box of no size: BAD_BOX). Non-finite coordinates
    of invisible points are set to 0 in place."""
    vis = kps[..., 2]  # (K, 21)
    finite_v = np.isfinite(vis).all(axis=1)
    finite_xy = np.isfinite(kps[..., :2]).all(axis=2)  # (K, 21)
    visible = np.nan_to_num(vis) > 0
    bad_xy = (visible & ~finite_xy).any(axis=1)
    any_vis = visible.any(axis=1)
    kps[..., :2][~finite_xy] = 0.0
    boxes = boxes_of(kps)  # (K, 4)
    finite_box = np.isfinite(boxes).all(axis=1)  # (K,)
    one_point = (visible.sum(axis=1) >= 2) & (boxes[:, 2] <= 1.0) & (boxes[:, 3] <= 1.0)  # extent 0: w = h = 1
    out: list[tuple[str, str] | None] = []
    for k in range(kps.shape[0]):
        if not finite_v[k]:
            out.append((R.NON_FINITE, "visibility"))
        elif bad_xy[k]:
            out.append((R.NON_FINITE, f"keypoint {int(np.flatnonzero(visible[k] & ~finite_xy[k])[0])}"))
        elif not any_vis[k]:
            out.append((R.NO_VISIBLE, ""))
        elif not finite_box[k]:
            out.append((R.NON_FINITE, "box extent beyond float32"))
        elif one_point[k]:
            out.append((R.BAD_BOX, f"all {int(visible[k].sum())} visible keypoints on one pixel"))
        else:
            out.append(None)
    return out


def boxes_of(kps: np.ndarray) -> np.ndarray:
    """(K, 4) float32 tight boxes of the visible keypoints of (K, 21, 3) hands, inclusive extent (w = max - min + 1);
    infinite where a hand has no visible point or its extent overflows float32."""
    vis = (kps[..., 2] > 0)[..., None]  # (K, 21, 1)
    lo = np.where(vis, kps[..., :2], np.inf).min(axis=1)  # (K, 2)
    hi = np.where(vis, kps[..., :2], -np.inf).max(axis=1)
    with np.errstate(over="ignore", invalid="ignore"):
        return to_float32(np.concatenate([lo, hi - lo + 1.0], axis=1))


def box_of(kp: np.ndarray) -> np.ndarray:
    """(4,) float32 tight box of the visible points of validated (21, 3) keypoints (finite: the checks saw to it)."""
    return boxes_of(kp[None])[0]


def head_size(value: Any) -> float | None:
    """A positive head size that fits float32 (the dataset stores it so), else None."""
    try:
        h = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return h if 0 < h <= FLOAT32_MAX else None


def check_keypoints_in_box(kp: np.ndarray, box: np.ndarray) -> None:
    """BadAnnotationError(BAD_ANNOTATION) when a visible keypoint of ``kp`` (21, 3) lies farther outside the
    annotation's ``box`` ``[x, y, w, h]`` than the box's longer side: the two disagree (a shifted or mixed-up
    annotation), and a hand scored against such keypoints would count a wrong label as a model error."""
    vis = kp[kp[:, 2] > 0, :2]  # (V, 2)
    if len(vis) == 0:
        return
    x, y, w, h = (float(v) for v in box)
    reach = max(w, h)
    lo, hi = vis.min(axis=0), vis.max(axis=0)
    if lo[0] < x - reach or lo[1] < y - reach or hi[0] > x + w + reach or hi[1] > y + h + reach:
        raise BadAnnotationError(R.BAD_ANNOTATION, f"keypoints reach ({lo[0]:.0f}, {lo[1]:.0f})-({hi[0]:.0f}, "
                                 f"{hi[1]:.0f}), far outside the bbox [{x:g}, {y:g}, {w:g}, {h:g}]")


def parse_is_left(value: Any) -> bool | None:
    """A side flag as files write it: a bool, 0 or 1 (as numbers or text), "true" or "false" (any case); None for
    anything else."""
    text = str(value).strip().lower()
    if isinstance(value, (bool, int, float, str)) and text in ("1", "1.0", "true", "0", "0.0", "false"):
        return text in ("1", "1.0", "true")
    return None


def parse_handedness(value: Any) -> bool | None:
    """A side as text, as labelling tools write ``handedness``: "left" / "l" (True) or "right" / "r" (False), any
    case; None for anything else."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return text in ("left", "l") if text in ("left", "l", "right", "r") else None


SIDE_FIELDS = (("is_left", parse_is_left, "0/1 or true/false"), ("handedness", parse_handedness, "left/right or l/r"))


def annotated_side(ann: dict[str, Any]) -> tuple[str, Any, bool | None] | None:
    """The side an annotation gives, as ``(field, value as written, is_left or None where it cannot be read)``;
    None where it gives none. ``is_left`` comes before ``handedness``, and both before the same fields under
    ``attributes`` (where CVAT's COCO export, through Datumaro, puts a label's own attributes). A null value is as
    absent."""
    nested = ann.get("attributes")
    places = [ann] + ([nested] if isinstance(nested, dict) else [])
    for place in places:
        for key, parse, _ in SIDE_FIELDS:
            if place.get(key) is not None:
                name = key if place is ann else f"attributes.{key}"
                return name, place[key], parse(place[key])
    return None


def side_values(field: str) -> str:
    """What a side field may hold, for messages: ``side_values("attributes.handedness")`` -> "left/right or l/r"."""
    return next(values for key, _, values in SIDE_FIELDS if field.endswith(key))


def annotated_box(raw: Any, image_wh: tuple[int, int] | None) -> np.ndarray:
    """(4,) float32 ``[x, y, w, h]`` of an annotation's box; raises BadAnnotationError(BAD_BOX) when it is not 4
    finite numbers, its size is not positive, it does not overlap the image, or a side is more than
    ``MAX_BOX_TO_IMAGE`` times the image's longer side (such a box would make the crop, and every pixel error
    measured against it, meaningless). Without the image size only the numbers and the size are checked."""
    try:
        b = to_float32(to_float64(raw).reshape(-1))  # (4,)
    except (TypeError, ValueError):
        raise BadAnnotationError(R.BAD_BOX, "not 4 numbers") from None
    if b.size != 4 or not np.isfinite(b).all():
        raise BadAnnotationError(R.BAD_BOX, f"{raw!r:.80} is not 4 finite numbers")
    x, y, w, h = (float(v) for v in b)
    if w <= 0 or h <= 0:
        raise BadAnnotationError(R.BAD_BOX, f"size {w:g} x {h:g}")
    if image_wh is not None:
        W, H = image_wh
        if box_misses_image(b, (H, W)):
            raise BadAnnotationError(R.BAD_BOX, f"[{x:g}, {y:g}, {w:g}, {h:g}] outside the {W} x {H} image")
        if box_dwarfs_image(b, (H, W)):
            raise BadAnnotationError(R.BAD_BOX, f"{w:g} x {h:g} for a {W} x {H} image")
    return b
