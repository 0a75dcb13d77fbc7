"""Detection metrics, COCO's definitions written out here: AP at IoU 0.5, mean AP over IoU 0.5:0.05:0.95, recall at
one false positive per image, handedness accuracy, each also per hand size.

- Matching, per image and IoU threshold: detections in descending score order each take the unmatched ground-truth
  box they overlap most (IoU >= threshold); a detection that takes none is a false positive.
- AP interpolation: COCO's **101-point** rule by default, the mean over recall r = 0, 0.01, ..., 1 of the highest
  precision at any recall >= r (0 where recall never reaches r); the points are ``np.linspace(0, 1, 101)`` as
  pycocotools' are, whose float steps put ten of them a hair above their decimal (0.7000000000000001: a recall of
  exactly 7/10 does not reach it), so figures equal pycocotools' to the last digit; ``interpolation="all"`` gives
  the all-point (VOC 2010+) area under the precision envelope instead.
- Size buckets by the ground-truth box's longer side in original pixels: ``small`` < 32, ``medium`` 32-96,
  ``large`` >= 96. As COCO does with areas, a bucket ignores the ground truth outside it (a detection matching such
  a box counts neither way, and is matched only when no in-bucket box is left for it) and ignores unmatched
  detections whose own longer side lies outside it.
- Crowd regions (``gt_crowd``, COCO's ``iscrowd`` 1) are no hands to find: as in COCO, a detection that matches no
  unmatched hand and covers a region by at least the IoU threshold (their intersection over the detection's own
  area) counts neither way, however many detections land on one region.
- recall@1FP: the recall at the lowest score threshold that leaves at most one false positive per image (IoU 0.5),
  over all sizes; each size's is the share of its hands found at that same threshold (``recall_by_size_at_fp``),
  not at a threshold of its own with only its own size's false positives counted.
- handedness: the share of true positives at IoU 0.5 whose left-probability is on the right side of 0.5 (hands of
  unknown side left out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handpose.row_blocks import RowBlocks

IOU_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)  # 0.5, 0.55, ..., 0.95
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
BUCKETS: dict[str, tuple[float, float]] = {"all": (0.0, np.inf), "small": (0.0, 32.0), "medium": (32.0, 96.0),
                                           "large": (96.0, np.inf)}


@dataclass
class ImageResult:
    """Detections and ground truth of one image: ``boxes`` (N, 4) xywh, ``scores`` (N,), ``left`` (N,) left
    probability; ``gt_boxes`` (M, 4), ``gt_left`` (M,) bool, ``gt_left_known`` (M,) bool; ``gt_crowd`` (K, 4) xywh
    crowd regions."""

    boxes: np.ndarray
    scores: np.ndarray
    left: np.ndarray
    gt_boxes: np.ndarray
    gt_left: np.ndarray
    gt_left_known: np.ndarray
    gt_crowd: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) intersection areas of xywh boxes a (N, 4) and b (M, 4)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    hi = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    return np.prod(np.clip(hi - lo, 0.0, None), axis=-1)  # (N, M)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of xywh boxes a (N, 4) and b (M, 4)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    inter = box_intersection(a, b)  # (N, M)
    union = np.prod(a[:, 2:], axis=1)[:, None] + np.prod(b[:, 2:], axis=1)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def smaller_cover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) share of the smaller box's area of each pair of xywh boxes a (N, 4) and b (M, 4) that lies inside the
    other (0 where it has no area): a finger boxed inside its hand, or a hand inside its box with the forearm, which
    IoU reads as apart."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    smaller = np.minimum(np.prod(a[:, 2:], axis=1)[:, None], np.prod(b[:, 2:], axis=1)[None, :])  # (N, M)
    return box_intersection(a, b) / np.maximum(smaller, 1e-9)


def longer_side(boxes: np.ndarray) -> np.ndarray:
    """(N,) max(w, h) of xywh boxes."""
    return np.asarray(boxes, np.float64).reshape(-1, 4)[:, 2:].max(axis=1, initial=0.0)


def match_image(r: ImageResult, iou_threshold: float, bucket: tuple[float, float]) -> tuple[np.ndarray, np.ndarray,
                                                                                            np.ndarray, int]:
    """Greedy matching of one image: (status (N,) 1 true positive / 0 false positive / -1 ignored, matched ground
    truth index (N,) or -1 (a crowd region too), detection order (N,) by descending score, number of in-bucket
    ground-truth boxes)."""
    order = np.argsort(-np.asarray(r.scores), kind="stable")
    lo, hi = bucket
    gt_side = longer_side(r.gt_boxes)
    gt_ignored = (gt_side < lo) | (gt_side >= hi)  # (M,)
    det_outside = (longer_side(r.boxes) < lo) | (longer_side(r.boxes) >= hi)  # (N,)
    iou = box_iou(r.boxes, r.gt_boxes)  # (N, M)
    cover = crowd_cover(r.boxes, r.gt_crowd)  # (N, K)
    taken = np.zeros(len(gt_side), bool)
    status = np.zeros(len(order), np.int64)
    matched = np.full(len(order), -1, np.int64)
    for rank, d in enumerate(order):
        cand = np.flatnonzero(~taken & ~gt_ignored & (iou[d] >= iou_threshold))  # an in-bucket box first
        if cand.size:
            best = int(cand[np.argmax(iou[d, cand])])
            taken[best], matched[rank], status[rank] = True, best, 1
            continue
        cand = np.flatnonzero(~taken & gt_ignored & (iou[d] >= iou_threshold))  # then an ignored box or a crowd
        best_ignored = float(iou[d, cand].max()) if cand.size else -1.0
        if cover.shape[1] and cover[d].max() >= iou_threshold and cover[d].max() > best_ignored:
            status[rank] = -1  # on a crowd region: counts neither way, and the region stays for others
        elif cand.size:
            best = int(cand[np.argmax(iou[d, cand])])
            taken[best], matched[rank], status[rank] = True, best, -1
        else:
            status[rank] = -1 if det_outside[d] else 0
    return status, matched, order, int((~gt_ignored).sum())


def crowd_cover(boxes: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """(N, K) COCO's IoU of xywh detections (N, 4) with crowd regions (K, 4): the intersection over the detection's
    own area."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    area = np.prod(boxes[:, 2:], axis=1)[:, None]  # (N, 1)
    inter = box_intersection(boxes, crowd)  # (N, K)
    return np.where(area > 0, inter / np.where(area > 0, area, 1.0), 0.0)


def average_precision(scores: np.ndarray, tp: np.ndarray, num_gt: int, interpolation: str = "coco101") -> float:
    """AP of detections (``scores`` (N,), ``tp`` (N,) 1 true / 0 false positive) against ``num_gt`` boxes; NaN
    when there is no ground truth. ``interpolation``: "coco101" or "all" (see the module docstring)."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    return ranked_average_precision(np.asarray(tp)[order], num_gt, interpolation)


def ranked_average_precision(hits: np.ndarray, num_gt: int, interpolation: str = "coco101") -> float:
    """AP of detections already ranked best first (``hits`` (N,) 1 true / 0 false positive) against ``num_gt``
    boxes; NaN when there is no ground truth (its arrays are 8 bytes a detection: 14 MB for 100,000 images of 18
    detections each, short beside what the images' boxes would take)."""
    if num_gt == 0:
        return float("nan")
    h = np.asarray(hits, np.float64)  # (N,)
    tp_cum, fp_cum = np.cumsum(h), np.cumsum(1.0 - h)
    recall = tp_cum / num_gt
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision  # best at recall >= r
    if interpolation == "coco101":
        at = np.searchsorted(recall, RECALL_POINTS, side="left")  # first detection reaching each recall point
        return float(np.mean([envelope[i] if i < envelope.size else 0.0 for i in at]))
    if interpolation == "all":
        r = np.concatenate([[0.0], recall])
        return float(np.sum((r[1:] - r[:-1]) * envelope))
    raise ValueError(f"unknown AP interpolation {interpolation!r}; use 'coco101' or 'all'")


class DetectionTally:
    """What :func:`detection_metrics` needs of each image, taken as the images are scored (:meth:`add`), so that no
    image's boxes are kept: per detection its score, and as bits its status at each (size bucket, IoU threshold),
    counted (not ignored) and true positive, and for recall at a false positive budget (matched at ``recall_iou``
    over all sizes) whether it counts, whether it is a false positive and the buckets of the hand it found; per
    bucket the in-bucket ground truth, the hands by their size and the handedness of matches at IoU 0.5. About 19
    bytes a detection for the default 4 buckets and 10 thresholds. :meth:`metrics` gives
    :func:`detection_metrics`' figures to the last bit."""

    def __init__(self, buckets: dict[str, tuple[float, float]] = BUCKETS,
                 iou_thresholds: np.ndarray | tuple[float, ...] = IOU_THRESHOLDS, recall_iou: float = 0.5) -> None:
        if len(buckets) > 6:  # a recall byte: 2 flags and one bit a bucket
            raise ValueError(f"DetectionTally: at most 6 size buckets, got {len(buckets)}")
        self.buckets, self.thresholds = dict(buckets), [float(t) for t in iou_thresholds]
        self.recall_iou = float(recall_iou)
        self.images, self.hands = 0, 0
        cells = len(self.buckets) * len(self.thresholds)  # bucket-major: cell b * thresholds + t
        self.scores = RowBlocks(np.float64)  # (N,) each image's detections best first, images in order
        self.counted = RowBlocks(np.uint8, (cells + 7) // 8)  # (N, bytes) packed: status >= 0 at each cell
        self.true = RowBlocks(np.uint8, (cells + 7) // 8)  # (N, bytes) packed: status == 1 at each cell
        self.recall = RowBlocks(np.uint8)  # (N,) bit 0 counts, bit 1 false positive, bit 2 + b found a bucket-b hand
        self.num_gt = np.zeros(len(self.buckets), np.int64)  # in-bucket ground truth (AP)
        self.sized = np.zeros(len(self.buckets), np.int64)  # hands whose longer side is in the bucket (recall)
        self.side_right = np.zeros(len(self.buckets), np.int64)  # true positives at IoU 0.5 of known side: right
        self.side_known = np.zeros(len(self.buckets), np.int64)  # ... of them all

    def add(self, r: ImageResult) -> None:
        """Tally one image's detections against its ground truth (``match_image`` at every cell)."""
        n = len(np.asarray(r.scores).reshape(-1))
        cells = len(self.buckets) * len(self.thresholds)
        counted = np.zeros((n, len(self.buckets), len(self.thresholds)), bool)  # (N, B, T)
        true = np.zeros_like(counted)
        order = np.argsort(-np.asarray(r.scores), kind="stable")  # (N,) as match_image ranks them
        for b, bucket in enumerate(self.buckets.values()):
            for t, threshold in enumerate(self.thresholds):
                status, matched, _, num_gt = match_image(r, threshold, bucket)
                counted[:, b, t], true[:, b, t] = status >= 0, status == 1
                if t == 0:
                    self.num_gt[b] += num_gt
                if threshold == 0.5:
                    g = matched[status == 1]  # (tp,) the hand each true positive took
                    known = np.asarray(r.gt_left_known)[g].astype(bool)
                    left = np.asarray(r.left)[order[status == 1][known]] > 0.5
                    self.side_right[b] += int(np.sum(left == np.asarray(r.gt_left)[g[known]].astype(bool)))
                    self.side_known[b] += int(known.sum())
        self.scores.append(np.asarray(r.scores, np.float64)[order])
        self.counted.append(np.packbits(counted.reshape(n, cells), axis=1, bitorder="little"))
        self.true.append(np.packbits(true.reshape(n, cells), axis=1, bitorder="little"))
        status, matched, _, _ = match_image(r, self.recall_iou, (0.0, np.inf))
        side = longer_side(r.gt_boxes)  # (M,)
        hit = np.full(n, np.nan)  # (N,) the longer side of the hand each detection found, NaN for none
        hit[status == 1] = side[matched[status == 1]]
        bits = (status >= 0).astype(np.uint8) | (np.isnan(hit).astype(np.uint8) << 1)  # (N,)
        for b, (lo, hi) in enumerate(self.buckets.values()):
            bits |= ((hit >= lo) & (hit < hi)).astype(np.uint8) << (2 + b)  # NaN (a false positive) is in none
            self.sized[b] += int(np.sum((side >= lo) & (side < hi)))
        self.recall.append(bits)
        self.images += 1
        self.hands += len(r.gt_boxes)

    def ranked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The packed cell bits (N, bytes) twice (counted, true) and the recall bytes (N,), detections of all images
        ranked best first (ties in the order they came, as a stable sort of the pooled scores leaves them)."""
        negated = self.scores.array()
        np.negative(negated, out=negated)
        order = np.argsort(negated, kind="stable")  # (N,)
        del negated
        return self.counted.array()[order], self.true.array()[order], self.recall.array()[order]

    def recall_at_fp(self, max_fp: float, recall: np.ndarray | None = None) -> dict[str, float]:
        """Each bucket's recall at the lowest score threshold with at most ``max_fp`` false positives over all
        detections (:func:`recall_by_size_at_fp`); ``recall`` the ranked recall bytes where :meth:`ranked` gave them
        already."""
        bits = self.ranked()[2] if recall is None else recall
        bits = bits[(bits & 1) > 0]  # a detection on a crowd region counts neither way
        within = int(np.sum(np.cumsum((bits >> 1) & 1, dtype=np.int64) <= max_fp))  # a prefix of the ranking
        out = {}
        for b, name in enumerate(self.buckets):
            found = int(np.count_nonzero((bits[:within] >> (2 + b)) & 1))
            out[name] = found / int(self.sized[b]) if self.sized[b] else float("nan")
        return out

    def metrics(self, interpolation: str = "coco101") -> dict[str, float]:
        """:func:`detection_metrics` of the images tallied so far."""
        counted, true, recall_bits = self.ranked()
        out: dict[str, float] = {"num_images": float(self.images), "num_hands": float(self.hands)}
        recall = self.recall_at_fp(float(self.images), recall_bits)
        for b, name in enumerate(self.buckets):
            suffix = "" if name == "all" else f"/{name}"
            aps = []
            for t, threshold in enumerate(self.thresholds):
                byte, bit = divmod(b * len(self.thresholds) + t, 8)
                keep = ((counted[:, byte] >> bit) & 1) > 0  # (N,)
                hits = (true[keep, byte] >> bit) & 1  # (kept,) ranked
                aps.append(ranked_average_precision(hits, int(self.num_gt[b]), interpolation))
                if threshold == 0.5:
                    out[f"AP@0.5{suffix}"] = aps[-1]
                    out[f"recall@1FP{suffix}"] = recall[name]
                    known = int(self.side_known[b])
                    out[f"handedness{suffix}"] = int(self.side_right[b]) / known if known else float("nan")
            out[f"AP@0.5:0.95{suffix}"] = float(np.mean(aps))
        return out


def recall_by_size_at_fp(results: list[ImageResult], max_fp: float, buckets: dict[str, tuple[float, float]],
                         iou_threshold: float = 0.5) -> dict[str, float]:
    """Each bucket's recall (hands whose box's longer side is in ``[lo, hi)``) at the lowest score threshold with at
    most ``max_fp`` false positives over all detections; NaN for a bucket without hands."""
    tally = DetectionTally(buckets, (), iou_threshold)
    for r in results:
        tally.add(r)
    return tally.recall_at_fp(max_fp)


def detection_metrics(results: list[ImageResult], interpolation: str = "coco101") -> dict[str, float]:
    """"AP@0.5", "AP@0.5:0.95", "recall@1FP", "handedness" over all hands, and each with "/small", "/medium",
    "/large" per bucket; plus "num_images" and "num_hands" (NaN where a bucket holds no hand). A run that scores
    many images tallies them as they come instead (:class:`DetectionTally`), with the same figures."""
    tally = DetectionTally()
    for r in results:
        tally.add(r)
    return tally.metrics(interpolation)
