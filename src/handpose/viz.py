"""Pictures: skeleton overlays and belief-map figures (one row per CPM stage).

Everything here draws with OpenCV into numpy arrays, so the figures are cheap enough for TensorBoard validation
images; matplotlib is not needed (the evaluation report's PCK plot imports it locally). Colours come from
``handpose.keypoints`` (one per finger).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handpose.keypoints import BACKGROUND, NAMES, NUM_KEYPOINTS, SKELETON, TIPS, bone_color_bgr, keypoint_color_bgr

_PANEL_LABELS_EXTRA = ("background",) + tuple(NAMES[t] for t in TIPS)


def _drawable(keypoints: np.ndarray, scores: np.ndarray | None, threshold: float) -> np.ndarray:
    """(21,) bool: finite keypoints within drawing range whose score (if any) reaches the threshold."""
    ok = np.isfinite(keypoints).all(axis=1) & (np.abs(np.nan_to_num(keypoints)) < 1e6).all(axis=1)
    if scores is not None:
        ok &= np.asarray(scores, dtype=np.float64).reshape(-1) >= threshold
    return ok


def draw_skeleton(
    image_bgr: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    threshold: float = 0.1,
) -> np.ndarray:
    """A copy of ``image_bgr`` with the hand's bones and joints drawn in the finger colours.

    Args:
        image_bgr: (H, W, 3) uint8.
        keypoints: (21, 2) (or (21, 3)) pixel coordinates in this image.
        scores: (21,) confidences; joints below ``threshold`` (and their bones) are left out. None draws all.
    """
    out = np.array(image_bgr, order="C")  # a copy, one even of a strided view
    _draw_skeleton_on(out, keypoints, scores, threshold)
    return out


def _draw_skeleton_on(out: np.ndarray, keypoints: np.ndarray, scores: np.ndarray | None, threshold: float) -> None:
    """:func:`draw_skeleton` into ``out`` (H, W, 3) uint8 itself, not a copy: drawing many hands on a large photo
    copies it once, not once a hand."""
    kp = np.asarray(keypoints, dtype=np.float64)[:, :2]
    if kp.shape != (NUM_KEYPOINTS, 2):
        raise ValueError(f"draw_skeleton: expected keypoints (21, 2), got {kp.shape}")
    ok = _drawable(kp, scores, threshold)
    size = max(out.shape[0], out.shape[1])
    thick = max(1, int(round(size / 200)))
    radius = max(2, int(round(size / 130)))
    shift = 4  # sub-pixel drawing: coordinates * 16
    pts = np.round(np.nan_to_num(kp) * (1 << shift)).astype(np.int64)
    for parent, child in SKELETON:
        if ok[parent] and ok[child]:
            p, c = tuple(int(v) for v in pts[parent]), tuple(int(v) for v in pts[child])
            cv2.line(out, p, c, bone_color_bgr(child), thick, cv2.LINE_AA, shift)
    for k in range(NUM_KEYPOINTS):
        if ok[k]:
            centre = tuple(int(v) for v in pts[k])
            cv2.circle(out, centre, radius << shift, keypoint_color_bgr(k), -1, cv2.LINE_AA, shift)
            cv2.circle(out, centre, radius << shift, (0, 0, 0), 1, cv2.LINE_AA, shift)


def draw_hands(image_bgr: np.ndarray, hands: Sequence[Any], threshold: float = 0.1,
               note_empty: bool = True) -> np.ndarray:
    """A copy of ``image_bgr`` with every hand: its box, skeleton (keypoints scoring >= ``threshold``) and a
    label ``L 0.93`` / ``R 0.88`` (side and detection score; the mean keypoint score when no detector ran, and
    ``#id`` in a video). ``hands`` are :class:`~handpose.inference.predictor.Prediction` s (anything with
    ``keypoints``, ``scores``, ``box``, ``score``, ``is_left``). With none, or none with a keypoint scoring
    ``threshold``, the picture says so (``note_empty``), so an overlay of boxes alone never looks like a drawing
    error."""
    out = np.array(image_bgr, order="C")  # a copy, one even of a strided view
    thick = max(1, int(round(max(out.shape[:2]) / 400)))
    for hand in hands:
        _draw_skeleton_on(out, hand.keypoints, hand.scores, threshold)
        x, y, w, h = (int(round(float(v))) for v in hand.box)
        left = bool(getattr(hand, "is_left", False))
        colour = (255, 160, 60) if left else (60, 160, 255)  # BGR: blue-ish left, orange right
        cv2.rectangle(out, (x, y), (x + w, y + h), colour, thick, cv2.LINE_AA)
        score = getattr(hand, "score", None)
        value = float(np.mean(hand.scores)) if score is None else float(score)
        track = getattr(hand, "track_id", None)
        text = f"{'L' if left else 'R'} {value:.2f}" + ("" if track is None else f" #{track}")
        _tag(out, text, (max(0, x), max(0, y)), colour)
    if not note_empty:
        return out
    scores = [np.asarray(hand.scores, dtype=np.float64).ravel() for hand in hands]  # (21,) each
    if not hands:
        _label(out, "no hand found")
    elif not any((s >= threshold).any() for s in scores):
        best = max((float(s.max()) for s in scores if s.size), default=0.0)
        _label(out, f"no keypoint >= {threshold:g} (best {best:.2f})")  # short: it fits any width
    return out


def _tag(image: np.ndarray, text: str, corner: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Write ``text`` just above ``corner`` (inside the image), black on a ``colour`` box, in place."""
    scale = max(0.4, max(image.shape[:2]) / 1400)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = min(corner[0], max(0, image.shape[1] - tw - 4))
    y = corner[1] - th - base - 4 if corner[1] >= th + base + 4 else corner[1]
    cv2.rectangle(image, (x, y), (x + tw + 4, y + th + base + 4), colour, -1)
    cv2.putText(image, text, (x + 2, y + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def all_maps_figure(image_bgr: np.ndarray, maps: np.ndarray, stride: int = 8, panel_size: int = 128) -> np.ndarray:
    """Every keypoint's belief map over the crop (a 4 x 6 grid: 21 keypoints, the background, a colour scale);
    RGB uint8. ``maps`` (22, h, w) of one stage; each panel is labelled with the keypoint's name and peak."""
    crop = np.ascontiguousarray(image_bgr)
    big = maps_to_crop(np.asarray(maps, dtype=np.float32), crop.shape[0], stride)  # (22, N, N)
    names = list(NAMES) + ["background"]
    panels = []
    for k in range(min(big.shape[0], len(names))):
        p = cv2.resize(heat_overlay(crop, big[k]), (panel_size, panel_size), interpolation=cv2.INTER_AREA)
        _label(p, f"{names[k]} {float(big[k].max()):.2f}")
        panels.append(p)
    panels.append(_colour_scale(panel_size))
    while len(panels) % 6:
        panels.append(np.zeros_like(panels[0]))
    rows = [np.concatenate(panels[i : i + 6], axis=1) for i in range(0, len(panels), 6)]
    return cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_BGR2RGB)


def _colour_scale(size: int) -> np.ndarray:
    """A (size, size, 3) BGR panel: the belief-map colour ramp from 0 (bottom) to 1 (top), with its ticks."""
    ramp = np.linspace(1.0, 0.0, size, dtype=np.float32)[:, None].repeat(size // 4, axis=1)  # (size, size/4)
    bar = cv2.applyColorMap((ramp * 255).astype(np.uint8), cv2.COLORMAP_JET)
    panel = np.zeros((size, size, 3), np.uint8)
    panel[:, : bar.shape[1]] = bar
    scale = max(0.35, size / 300)
    for value in (1.0, 0.5, 0.0):
        y = int(round((1.0 - value) * (size - 1)))
        y_text = min(max(y + 4, 12), size - 3)
        cv2.putText(panel, f"{value:.1f}", (bar.shape[1] + 4, y_text), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def maps_to_crop(maps: np.ndarray, crop_size: int, stride: int = 8) -> np.ndarray:
    """Upsample (C, h, w) maps to the (C, crop_size, crop_size) crop they were computed from.

    Cell ``u`` sits at crop pixel ``(u + 0.5) * stride - 0.5``, which is exactly the half-pixel convention of
    ``cv2.resize`` to ``h * stride``; the part beyond the crop (when the crop is not a multiple of the stride)
    is cut off.
    """
    c, h, w = maps.shape
    hwc = np.ascontiguousarray(np.asarray(maps, dtype=np.float32).transpose(1, 2, 0))  # (h, w, C)
    big = cv2.resize(hwc, (w * stride, h * stride), interpolation=cv2.INTER_LINEAR)
    big = big.reshape(h * stride, w * stride, c)  # cv2 drops the channel axis when C == 1
    return big[:crop_size, :crop_size].transpose(2, 0, 1)


def heat_overlay(image_bgr: np.ndarray, heat: np.ndarray, alpha: float = 0.75) -> np.ndarray:
    """``image_bgr`` with a JET-coloured ``heat`` (same height and width, clipped to [0, 1]) blended in.

    The blend weight grows with the heat (``alpha * sqrt(heat)``), so the photograph stays visible where the
    maps are cold and the peaks stand out.
    """
    h = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)
    colour = cv2.applyColorMap((h * 255).astype(np.uint8), cv2.COLORMAP_JET).astype(np.float32)
    w = (alpha * np.sqrt(h))[..., None]  # (H, W, 1)
    out = image_bgr.astype(np.float32) * (1.0 - w) + colour * w
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _label(panel: np.ndarray, text: str) -> None:
    """Write ``text`` in the top-left corner of ``panel`` (in place), white on a dark box."""
    scale = max(0.35, panel.shape[1] / 500)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(panel, (0, 0), (tw + 6, th + base + 6), (0, 0, 0), -1)
    cv2.putText(panel, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def belief_map_figure(
    image_bgr: np.ndarray,
    stage_maps: np.ndarray,
    keypoints: np.ndarray | None = None,
    stride: int = 8,
    panel_size: int = 256,
    stage_names: list[str] | None = None,
    scores: np.ndarray | None = None,
) -> np.ndarray:
    """A grid of the belief maps over the crop, one row per stage; returns RGB uint8.

    Each row: the crop with the stage's keypoint maps overlaid (their maximum over keypoints) and the skeleton
    decoded from that stage, then the background map, then the five fingertip maps. ``keypoints`` (21, 2) in crop
    pixels, when given, replace the skeleton of the last row (e.g. the flip/multi-scale averaged result), with
    ``scores`` (21,) or else the last stage's peaks deciding which joints are drawn (>= 0.05).

    Args:
        image_bgr: (N, N, 3) uint8 crop the maps were computed on.
        stage_maps: (S, 22, h, w) maps of every stage (or (22, h, w) for one).
    """
    from handpose.data.codec import decode  # the one codec; imported here to keep viz importable alone

    maps = np.asarray(stage_maps, dtype=np.float32)
    if maps.ndim == 3:
        maps = maps[None]
    if maps.ndim != 4 or maps.shape[1] < NUM_KEYPOINTS:
        raise ValueError(f"belief_map_figure: expected stage maps (S, 22, h, w), got {maps.shape}")
    crop = np.ascontiguousarray(image_bgr)
    size = crop.shape[0]
    scale = panel_size / max(crop.shape[0], crop.shape[1])
    xy_all, scores_all = decode(maps, stride=stride)  # (S, 21, 2), (S, 21)
    rows = []
    for s in range(maps.shape[0]):
        big = maps_to_crop(maps[s], size, stride)  # (22, N, N)
        strongest = big[:NUM_KEYPOINTS].max(axis=0)  # (N, N): a sum would saturate where maps are diffuse
        first = heat_overlay(crop, strongest)
        xy = xy_all[s]
        sc: np.ndarray | None = scores_all[s]
        if keypoints is not None and s == maps.shape[0] - 1:
            xy = np.asarray(keypoints, dtype=np.float64)[:, :2]
            sc = sc if scores is None else np.asarray(scores, dtype=np.float64)
        first = draw_skeleton(first, xy, sc, threshold=0.05)
        panels = [first]
        extra = [big[BACKGROUND]] if big.shape[0] > BACKGROUND else [np.zeros_like(strongest)]
        extra += [big[t] for t in TIPS]
        for m in extra:
            panels.append(heat_overlay(crop, m))
        resized = []
        for i, p in enumerate(panels):
            p = cv2.resize(p, (panel_size, panel_size), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
            name = stage_names[s] if stage_names else f"stage {s + 1}"
            _label(p, name if i == 0 else _PANEL_LABELS_EXTRA[i - 1])
            resized.append(p)
        rows.append(np.concatenate(resized, axis=1))
    grid = np.concatenate(rows, axis=0)
    return cv2.cvtColor(grid, cv2.COLOR_BGR2RGB)


def with_ground_truth(figure_rgb: np.ndarray, crop_bgr: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """A :func:`belief_map_figure` with one more panel in front of its last row: the crop with the ground-truth
    skeleton (``keypoints`` (21, 3) ``[x, y, v]`` in crop pixels; joints with v <= 0 left out). RGB uint8."""
    rows_px = figure_rgb.shape[0]
    panel = int(figure_rgb.shape[1] // 7)  # belief_map_figure rows hold 7 square panels
    kp = np.asarray(keypoints, dtype=np.float64)
    gt = draw_skeleton(np.ascontiguousarray(crop_bgr), kp[:, :2], (kp[:, 2] > 0).astype(np.float64), threshold=0.5)
    gt = cv2.resize(gt, (panel, panel), interpolation=cv2.INTER_AREA)
    _label(gt, "ground truth")
    column = np.zeros((rows_px, panel, 3), np.uint8)
    column[rows_px - panel :] = cv2.cvtColor(gt, cv2.COLOR_BGR2RGB)
    return np.concatenate([column, figure_rgb], axis=1)


def save_bgr(path: str | Path, image_bgr: np.ndarray) -> Path:
    """Write a BGR image (format from the suffix); ValueError for a suffix OpenCV has no writer for, OSError naming
    the file when it cannot be written.

    Encoded in memory, then written atomically (``files.atomic_write``): a full disk or a kill leaves the earlier
    image of that name whole (``cv2.imwrite`` wrote into the name itself, so a failed write, a second predict into
    the same folder say, lost the earlier one)."""
    from handpose.files import atomic_write

    path = Path(path)
    if not path.suffix or not cv2.haveImageWriter(str(path)):
        raise ValueError(f"{path}: give a file name ending in an image type OpenCV writes (.png, .jpg, .bmp, .webp, "
                         f"...), or .json for the numbers")
    ok, encoded = cv2.imencode(path.suffix, image_bgr)
    if not ok:
        raise ValueError(f"{path}: OpenCV could not encode an image of shape {image_bgr.shape} as {path.suffix}")
    data = encoded.tobytes()
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def save_rgb(path: str | Path, image_rgb: np.ndarray) -> Path:
    """Write an RGB image such as :func:`belief_map_figure`'s."""
    return save_bgr(path, cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2BGR))
