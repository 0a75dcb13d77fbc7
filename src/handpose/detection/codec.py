"""Hand boxes <-> the detector's target maps, and the detector's output maps -> boxes: one object, one convention.

Geometry (input pixels of the letterboxed square, side ``S``; maps of side ``h = S / stride``): a box
``[x, y, w, h]`` has its centre ``c = (x + w/2, y + h/2)``; in cell units ``u = c / stride``, its cell is
``floor(u)`` and its offset ``u - floor(u)`` in [0, 1); its size target is ``log(w / stride), log(h / stride)``.
Decoding inverts each step exactly: ``c = (cell + offset) * stride``, ``w = stride * exp(size)``.

Targets of one image (``encode``), K = ``max_hands`` slots (boxes beyond K keep their heatmap peak but no slot;
slots beyond the boxes are masked)::

    heatmap     (1, h, w)  float32  a Gaussian per hand centre, 1 at its cell, max where hands overlap
    index       (K,)       int64    flat cell index ``row * w + col`` of each hand
    size        (K, 2)     float32  log size, offset (K, 2) float32 sub-cell offset
    left        (K,)       float32  1 for a left hand
    mask        (K,)       float32  1 for a slot holding a hand; left_mask (K,) where its handedness is known

The Gaussian's sigma follows the box: a centre moved diagonally by ``r = 0.0925 * min(w, h)`` still gives IoU 0.7
with the box (``(1 - r/a)^2 = 1.4 / 1.7`` for a square of side ``a``), and ``sigma = (2 r + 1) / 6`` cells,
CenterNet's rule of a diameter of six sigmas.

Decoding (``decode``): sigmoid heatmap, a cell is a peak when it equals the 3x3 max-pool of the map (no NMS
library), the best ``max_hands`` peaks over ``threshold`` become boxes, mapped back to original pixels through the
inverse letterbox matrix and clipped to the image; boxes overlapping a better one by more than ``nms_iou`` are then
dropped (OpenCV's ``NMSBoxes``; 1 turns it off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from handpose.config import DetectorConfig
from handpose.data import transforms as T
from handpose.detection.letterbox import transform_boxes
from handpose.detection.loss import gather_at
from handpose.detection.metrics import smaller_cover

RADIUS_PER_SIDE = 0.0925  # centre shift (in cells, per cell of the shorter side) that keeps IoU 0.7
MAX_LOG_SIZE = 8.0  # exp(8) * stride: far beyond any input; clamps the size head before exp


@dataclass
class Boxes:
    """Decoded hands of one image: ``boxes`` (N, 4) xywh original px, ``scores`` (N,), ``left`` (N,) left-hand
    probability; sorted by score, best first."""

    boxes: np.ndarray
    scores: np.ndarray
    left: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True)
class BoxCodec:
    """Encode and decode at one input size, stride and number of slots (plain data: picklable for workers)."""

    input_size: int = 320
    stride: int = 4
    max_hands: int = 20
    nms_iou: float = 0.6

    @classmethod
    def from_config(cls, cfg: DetectorConfig) -> BoxCodec:
        return cls(int(cfg.input_size), int(cfg.stride), int(cfg.max_hands), float(cfg.nms_iou))

    @property
    def map_size(self) -> int:
        """Side of the output maps."""
        return self.input_size // self.stride

    # ------------------------------------------------------------------------------------------- encode

    def encode(self, boxes: np.ndarray, is_left: np.ndarray | None = None,
               left_known: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """(N, 4) xywh boxes in input px (+ (N,) handedness, (N,) whether it is known) -> the targets above.

        Boxes whose centre lies outside the input square are left out (augmentation moves hands off it). Every
        hand gets its peak on the heatmap; the size, offset and side of the first ``max_hands`` of them are
        trained (a hand beyond them would otherwise be trained as background)."""
        n_map, K = self.map_size, self.max_hands
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = boxes.shape[0]
        is_left = np.zeros(n, bool) if is_left is None else np.asarray(is_left, bool).reshape(n)
        left_known = np.ones(n, bool) if left_known is None else np.asarray(left_known, bool).reshape(n)
        heat = np.zeros((1, n_map, n_map), np.float32)
        out = {
            "heatmap": heat,
            "index": np.zeros(K, np.int64),
            "size": np.zeros((K, 2), np.float32),
            "offset": np.zeros((K, 2), np.float32),
            "left": np.zeros(K, np.float32),
            "mask": np.zeros(K, np.float32),
            "left_mask": np.zeros(K, np.float32),
        }
        k = 0
        for i in range(n):
            x, y, w, h = boxes[i]
            if not (w > 0 and h > 0):
                continue
            u = np.array([x + w / 2.0, y + h / 2.0]) / self.stride  # centre, cell units
            cell = np.floor(u).astype(np.int64)
            if not (0 <= cell[0] < n_map and 0 <= cell[1] < n_map):
                continue
            sigma = (2.0 * RADIUS_PER_SIDE * min(w, h) / self.stride + 1.0) / 6.0
            _draw_gaussian(heat[0], int(cell[0]), int(cell[1]), sigma)
            if k == K:  # no regression slot left: the peak alone
                continue
            out["index"][k] = cell[1] * n_map + cell[0]
            out["size"][k] = np.log(np.array([w, h]) / self.stride)
            out["offset"][k] = u - cell
            out["left"][k] = float(is_left[i])
            out["mask"][k] = 1.0
            out["left_mask"][k] = float(left_known[i])
            k += 1
        return out

    # ------------------------------------------------------------------------------------------- decode

    def decode(self, outputs: dict[str, torch.Tensor], matrices: np.ndarray, image_sizes: list[tuple[int, int]],
               threshold: float = 0.05) -> list[Boxes]:
        """Network outputs (each (N, C, h, w)) -> per image :class:`Boxes` in original px.

        ``matrices`` (N, 2, 3) original px -> input px (the letterbox of each image), ``image_sizes`` (width,
        height) per image for clipping, ``threshold`` the lowest hand probability kept."""
        heat = torch.sigmoid(outputs["heatmap"].detach().float())  # (N, 1, h, w)
        peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)  # (N, 1, h, w): non-peaks zeroed
        N, _, h, w = heat.shape
        k = min(self.max_hands, h * w)
        scores, index = peaks.reshape(N, -1).topk(k, dim=1)  # (N, k)
        size = gather_at(outputs["size"].detach(), index).clamp(-MAX_LOG_SIZE, MAX_LOG_SIZE)  # (N, k, 2)
        offset = gather_at(outputs["offset"].detach(), index)  # (N, k, 2)
        left = torch.sigmoid(gather_at(outputs["left"].detach(), index)[..., 0])  # (N, k)
        col, row = (index % w).float(), torch.div(index, w, rounding_mode="floor").float()  # (N, k)
        centre = (torch.stack([col, row], dim=-1) + offset) * self.stride  # (N, k, 2) input px
        wh = torch.exp(size) * self.stride  # (N, k, 2) input px
        xywh = torch.cat([centre - wh / 2.0, wh], dim=-1).cpu().numpy().astype(np.float64)  # (N, k, 4)
        scores_np, left_np = scores.cpu().numpy(), left.cpu().numpy()
        result = []
        for i in range(N):
            keep = scores_np[i] >= threshold
            boxes = transform_boxes(xywh[i][keep], T.invert_affine(matrices[i]))  # (n, 4) original px
            boxes = clip_boxes(boxes, *image_sizes[i])
            found = Boxes(boxes, scores_np[i][keep].astype(np.float64), left_np[i][keep].astype(np.float64))
            result.append(self.suppress(found))
        return result

    def suppress(self, found: Boxes) -> Boxes:
        """Drop boxes overlapping a better-scored one by IoU > ``nms_iou`` (nothing when ``nms_iou`` >= 1)."""
        if self.nms_iou >= 1.0 or len(found) < 2:
            return found
        keep = np.sort(suppress_overlaps(found.boxes, found.scores, self.nms_iou))
        return Boxes(found.boxes[keep], found.scores[keep], found.left[keep])


def suppress_overlaps(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression (OpenCV's ``NMSBoxes``): indices of the (N, 4) xywh ``boxes`` kept, best
    score first, each dropped box overlapping a better-scored kept one by IoU > ``iou``. Only overlap drops a box:
    scores of any sign rank (a threshold is the caller's)."""
    scores = np.asarray(scores, np.float64).reshape(-1)
    if len(scores) == 0:
        return np.zeros(0, np.int64)
    ranks = scores - scores.min() + 1.0  # (N,) all positive, same order: NMSBoxes drops scores <= its threshold
    keep = cv2.dnn.NMSBoxes(np.asarray(boxes, np.float64).tolist(), ranks.tolist(), 0.0, iou)
    keep = np.asarray(keep, dtype=np.int64).reshape(-1)
    return keep[np.argsort(-scores[keep], kind="stable")]


def drop_covering(boxes: np.ndarray, scores: np.ndarray, cover: float) -> np.ndarray:
    """Indices of the (N, 4) xywh ``boxes`` kept, best score first, each dropped box sharing more than ``cover`` of
    the smaller box's area with a better-scored kept one, whichever of the two is the smaller (a hand boxed with its
    forearm around a better hand box, or a finger boxed inside it; IoU misses both). ``cover`` >= 1 keeps all."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if cover >= 1.0:
        return np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable").astype(np.int64)
    return drop_greedily(smaller_cover(boxes, boxes), scores, cover)  # (N, N) shares


def drop_greedily(overlap: np.ndarray, scores: np.ndarray, cover: float) -> np.ndarray:
    """Indices kept, best score first: each box in score order is dropped when its row of ``overlap`` (N, N) exceeds
    ``cover`` at a box already kept."""
    kept: list[int] = []
    for i in np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable"):
        if not any(overlap[i, j] > cover for j in kept):
            kept.append(int(i))
    return np.asarray(kept, np.int64)


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4) xywh boxes clipped to the image ``[0, width] x [0, height]``."""
    lo = np.clip(boxes[:, :2], 0.0, [width, height])
    hi = np.clip(boxes[:, :2] + boxes[:, 2:], 0.0, [width, height])
    return np.concatenate([lo, hi - lo], axis=1)


def _draw_gaussian(heat: np.ndarray, cx: int, cy: int, sigma: float) -> None:
    """Max a Gaussian (peak 1 at cell (cx, cy)) into ``heat`` (h, w) in place, out to three sigmas."""
    r = max(1, int(math.ceil(3.0 * sigma)))
    h, w = heat.shape
    x0, x1, y0, y1 = max(0, cx - r), min(w, cx + r + 1), max(0, cy - r), min(h, cy + r + 1)
    xs = np.arange(x0, x1) - cx
    ys = np.arange(y0, y1) - cy
    g = np.exp(-(xs[None, :] ** 2 + ys[:, None] ** 2) / (2.0 * sigma * sigma)).astype(np.float32)  # (y, x)
    np.maximum(heat[y0:y1, x0:x1], g, out=heat[y0:y1, x0:x1])
