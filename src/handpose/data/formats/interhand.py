"""``interhand`` (alias ``interhand2.6m``): InterHand2.6M's 2D hands, projected from its 3D joints.

Per split, ``InterHand2.6M_{split}_data.json`` (COCO-like ``images`` with ``capture``, ``camera``, ``frame_idx``,
``width``, ``height``; ``annotations`` with ``hand_type`` right / left / interacting, ``hand_type_valid``, ``bbox``
and, in most releases, ``joint_valid``), ``_camera.json`` (per capture and camera: ``campos``, ``camrot`` 3 x 3,
``focal``, ``princpt``) and ``_joint_3d.json`` (per capture and frame: ``world_coord`` 42 x 3 in mm, with
``joint_valid`` in later releases; a bare 42 x 3 list in the first). Joints 0-20 are the right hand, 21-41 the
left, each in InterHand order (tip first per finger, thumb first, wrist last), remapped to CMU order.

Projection, as the dataset's own code does it: ``cam = camrot @ (world - campos)``, ``x = cam_x / cam_z * fx + cx``,
``y = cam_y / cam_z * fy + cy`` (no lens distortion: the dataset gives none). One sample per hand that
``hand_type`` names; a joint is visible when valid (the annotation's ``joint_valid``, else the frame's), in front
of the camera and inside the image; a hand whose wrist is not valid is invalid as a whole (as in the dataset's
code), and an invalid hand is skipped and counted (INVALID_HAND). The box is the tight box of the visible joints
(the annotation's ``bbox`` covers both hands of an interacting pair). ``train`` is training, ``val`` and ``test``
validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handpose.data import skip_report as R
from handpose.data.formats.base import ReadContext, Tagged
from handpose.data.formats.checks import BadAnnotationError, box_of, check_keypoints, to_float64
from handpose.data.formats.coco_files import image_size_of, split_tag
from handpose.data.formats.interhand_files import companion, data_jsons, image_base, split_of
from handpose.data.formats.json_io import load_json
from handpose.data.formats.keypoint_orders import to_cmu
from handpose.data.sample import Sample

NAME = "interhand"
ALIAS = "interhand2.6m"
EXPECTED = ("InterHand2.6M annotations: InterHand2.6M_{split}_data.json with its _camera.json and _joint_3d.json "
            "(in annotations/all/ or as given), images under images/{split}/")
SIDES = {"right": 0, "left": 1}  # side -> hand index in the 42 joints
HAND_TYPES = {"right": ("right",), "left": ("left",), "interacting": ("right", "left")}


@dataclass
class Camera:
    """One camera of one capture: rotation (3, 3), position (3,), focal (2,), principal point (2,)."""

    rot: np.ndarray
    pos: np.ndarray
    focal: np.ndarray
    princpt: np.ndarray

    def project(self, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> ((N, 2) pixels, (N,) depth along the optical axis)."""
        cam = (world - self.pos) @ self.rot.T  # (N, 3): camrot @ (X - campos) per point
        with np.errstate(divide="ignore", invalid="ignore"):
            xy = cam[:, :2] / cam[:, 2:3] * self.focal + self.princpt  # (N, 2)
        return xy, cam[:, 2]


def _array(raw: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        arr = to_float64(raw)
    except (TypeError, ValueError):
        raise BadAnnotationError(R.BAD_ANNOTATION, f"{what} is not numbers") from None
    if arr.size != int(np.prod(shape)):
        raise BadAnnotationError(R.WRONG_POINT_COUNT if what.startswith("joint") else R.BAD_ANNOTATION,
                                 f"{what} has {arr.size} numbers, expected {'x'.join(map(str, shape))}")
    return arr.reshape(shape)


def _camera(cameras: Any, capture: str, cam: str) -> Camera:
    try:
        c = cameras[capture]
        parts = c["camrot"][cam], c["campos"][cam], c["focal"][cam], c["princpt"][cam]
    except (KeyError, TypeError, IndexError):
        raise BadAnnotationError(R.BAD_ANNOTATION, f"no camera {cam!r} of capture {capture!r}") from None
    return Camera(_array(parts[0], (3, 3), "camrot"), _array(parts[1], (3,), "campos"),
                  _array(parts[2], (2,), "focal"), _array(parts[3], (2,), "princpt"))


def _joints(joints: Any, capture: str, frame: str) -> tuple[np.ndarray, Any]:
    """((42, 3) world joints, the frame's raw joint_valid or None)."""
    try:
        entry = joints[capture][frame]
    except (KeyError, TypeError, IndexError):
        raise BadAnnotationError(R.BAD_ANNOTATION, f"no 3D joints of capture {capture!r} frame {frame!r}") from None
    if isinstance(entry, dict):
        return _array(entry.get("world_coord"), (42, 3), "joints 'world_coord'"), entry.get("joint_valid")
    return _array(entry, (42, 3), "joints"), None


class _Split:
    """One data json with its cameras, joints and images, read into samples annotation by annotation."""

    def __init__(self, data_json: Path, data: dict[str, Any], cameras: Any, joints: Any) -> None:
        self.path = data_json
        self.cameras, self.joints = cameras, joints
        self.tag = split_tag(split_of(data_json))  # train -> "train", val and test -> "val"
        self.images = {im.get("id"): im for im in data["images"] if isinstance(im, dict)
                       and isinstance(im.get("id"), int | str)}
        self.base = image_base(data_json, [im.get("file_name") for im in self.images.values()
                                           if isinstance(im.get("file_name"), str)])
        self._cams: dict[tuple[str, str], Camera] = {}

    def camera(self, capture: str, cam: str) -> Camera:
        if (capture, cam) not in self._cams:
            self._cams[(capture, cam)] = _camera(self.cameras, capture, cam)
        return self._cams[(capture, cam)]

    def read(self, i: int, ann: Any, ctx: ReadContext) -> Tagged:
        """The hands of one annotation; per-hand problems are counted, whole-annotation ones raised."""
        if not isinstance(ann, dict) or not isinstance(ann.get("hand_type"), str) or ann["hand_type"] not in HAND_TYPES:
            raise BadAnnotationError(R.BAD_ANNOTATION, "'hand_type' is not right, left or interacting")
        im = self.images.get(ann.get("image_id")) if isinstance(ann.get("image_id"), int | str) else None
        if im is None or not isinstance(im.get("file_name"), str):
            raise BadAnnotationError(R.BAD_ANNOTATION, f"image_id {ann.get('image_id')!r} not in 'images'")
        capture, cam, frame = str(im.get("capture")), str(im.get("camera")), str(im.get("frame_idx"))
        world, frame_valid = _joints(self.joints, capture, frame)
        raw_valid = ann.get("joint_valid", frame_valid)
        if raw_valid is None:
            raise BadAnnotationError(R.BAD_ANNOTATION, "no 'joint_valid' in the annotation or the 3D joints")
        marked = np.nan_to_num(_array(raw_valid, (42,), "joint_valid")) > 0  # (42,) valid in the dataset
        xy, depth = self.camera(capture, cam).project(world)  # (42, 2), (42,)
        valid = marked & (depth > 0) & np.isfinite(xy).all(axis=1)
        size = image_size_of(im)
        if size is not None:
            w, h = size
            valid &= (xy[:, 0] >= -0.5) & (xy[:, 0] < w - 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] < h - 0.5)
        img = self.base / im["file_name"]
        if not img.is_file():
            raise BadAnnotationError(R.MISSING_IMAGE, str(img))
        out: Tagged = []
        for side in HAND_TYPES[ann["hand_type"]]:
            where = f"{self.path}#annotations[{i}].{side}"
            hand = slice(21 * SIDES[side], 21 * SIDES[side] + 21)
            vis = valid[hand] & valid[hand][20]  # the wrist (InterHand index 20) decides the whole hand
            if not vis.any():
                ctx.report.add(R.INVALID_HAND, where, "no valid joint" if valid[hand][20] else
                               _why_not_valid(21 * SIDES[side] + 20, "wrist", marked, xy, depth, size))
                continue
            kp = np.concatenate([np.where(vis[:, None], xy[hand], 0.0), vis[:, None]], axis=1)  # (21, 3)
            try:
                kp = check_keypoints(to_cmu(kp, "interhand"))
            except BadAnnotationError as bad:
                ctx.report.add(bad.reason, where, bad.detail)
                continue
            key = f"{im['file_name']}#{ann.get('id', i)}.{side}"
            out.append((Sample(img, kp, side == "left", box_of(kp), None, key), self.tag))
        return out


def _why_not_valid(j: int, name: str, marked: np.ndarray, xy: np.ndarray, depth: np.ndarray,
                   size: tuple[int, int] | None) -> str:
    """Why joint ``j`` of (42,) ``marked`` (valid in the dataset), (42, 2) pixels ``xy`` and (42,) ``depth`` is not
    valid, for the skip report: marked invalid, behind the camera, projected nowhere, or outside the image."""
    if not marked[j]:
        return f"{name} not valid in joint_valid"
    if not depth[j] > 0:
        return f"{name} not in front of the camera: depth {depth[j]:g} mm"
    if not np.isfinite(xy[j]).all():
        return f"{name} projects to no finite pixel"
    where = f"({xy[j, 0]:.0f}, {xy[j, 1]:.0f})"
    return f"{name} at {where}, outside the {size[0]} x {size[1]} image" if size else f"{name} at {where}"


def _load(path: Path, what: str) -> Any:
    try:
        return load_json(path)
    except BadAnnotationError as bad:
        raise BadAnnotationError(bad.reason, f"{what} {path.name}: {bad.detail or bad.reason}") from None


def read(path: Path, ctx: ReadContext) -> Tagged:
    """Two hands at most per annotation of every data json at ``path`` (one subset: see interhand_files)."""
    jsons = data_jsons(path)
    if not jsons:
        raise ValueError(f"{path}: no InterHand2.6M_*_data.json here; expected {EXPECTED}")
    out: Tagged = []
    for data_json in jsons:
        try:
            data = _load(data_json, "data")
            if not isinstance(data, dict) or not isinstance(data.get("images"), list) or not isinstance(
                    data.get("annotations"), list):
                raise BadAnnotationError(R.BAD_ANNOTATION, "no 'images' / 'annotations' lists")
            split = _Split(data_json, data, _load(companion(data_json, "camera"), "cameras"),
                           _load(companion(data_json, "joint_3d"), "3D joints"))
        except BadAnnotationError as bad:
            ctx.report.add(bad.reason, data_json, bad.detail)
            continue
        for i, ann in enumerate(data["annotations"]):
            try:
                out += split.read(i, ann, ctx)
            except BadAnnotationError as bad:
                ctx.report.add(bad.reason, f"{data_json}#annotations[{i}]", bad.detail)
    return out
