"""Run a hand detector exported by `handpose export` with onnxruntime, numpy and OpenCV alone (no handpose, no
torch): the letterbox, the network and the decoding of its four maps into boxes, as handpose's ``HandDetector``
does them at one scale (handpose's own refinement of the boxes by the keypoint network is not part of it).

Usage: python scripts/onnx_hands.py DETECTOR.onnx IMAGE [--side S]
Prints one hand a line, best first: x y w h (image pixels), hand probability, left-hand probability.

The recipe (every number below comes from the file's metadata, written by `handpose export`):
1. Letterbox: the input side S is ``input_size`` (or any multiple of ``size_multiple``); s = S / max(W, H);
   input px = s * (image px - ((W - 1) / 2, (H - 1) / 2)) + (S - 1) / 2, resampled bilinearly with grey
   (``pad_value``) outside the image. Where s < 0.75 the whole image is first resized with ``cv2.INTER_AREA`` to
   round(W s) x round(H s) (f = that width / W, g = that height / H; image px x = (small x + 0.5) / f - 0.5, y
   alike), and the warp reads the small image.
2. Network input: the letterbox as float32 BGR, x = pixel / 256 - 0.5, NCHW, input ``image``; outputs
   ``heatmap`` (N, 1), ``size`` (N, 2), ``offset`` (N, 2) and ``left`` (N, 1), each S / stride cells a side.
3. Decoding: p = sigmoid(heatmap); a peak is a cell whose p is the maximum of its 3 x 3 neighbourhood; of the
   ``max_hands`` highest peaks, those with p >= ``score_threshold`` are hands. At the peak (column i, row j): centre
   ((i + offset[0]) stride, (j + offset[1]) stride), width exp(size[0]) stride, height exp(size[1]) stride in input
   px (size clamped to [-8, 8] first); sigmoid(left) its left-hand probability.
4. Back to the image through the inverse of the letterbox's matrix, cut to the image [0, W] x [0, H]; then, best
   first, a box overlapping a better kept one by IoU over ``nms_iou`` is dropped.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import onnxruntime as ort

AREA_BELOW = 0.75  # a letterbox that shrinks the image below this scale reads an INTER_AREA-reduced copy
MAX_LOG_SIZE = 8.0  # the size head is clamped to [-8, 8] before exp


def letterbox(image: np.ndarray, side: int, pad: float) -> tuple[np.ndarray, np.ndarray]:
    """The (side, side, 3) letterbox of a BGR uint8 ``image`` and its (2, 3) matrix image px -> input px."""
    h, w = image.shape[:2]
    s = side / max(w, h)
    M = np.array([[s, 0.0, (side - 1) / 2.0 - s * (w - 1) / 2.0], [0.0, s, (side - 1) / 2.0 - s * (h - 1) / 2.0]])
    source, warp = image, M
    if s < AREA_BELOW:
        sw, sh = max(1, round(w * s)), max(1, round(h * s))
        source = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
        f, g = sw / w, sh / h
        small_to_image = np.array([[1.0 / f, 0.0, 0.5 / f - 0.5], [0.0, 1.0 / g, 0.5 / g - 0.5], [0.0, 0.0, 1.0]])
        warp = M @ small_to_image  # (2, 3) small px -> input px
    boxed = cv2.warpAffine(source, warp, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                           borderValue=(pad, pad, pad))
    return boxed, M


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xywh boxes."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def hands(session: ort.InferenceSession, image: np.ndarray, side: int | None = None
          ) -> list[tuple[np.ndarray, float, float]]:
    """(box xywh in image px, hand probability, left-hand probability) of each hand in a BGR uint8 ``image``, best
    first; ``side`` the letterbox side (default the file's ``input_size``)."""
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("task") != "detect":
        raise ValueError("this script runs a hand detector's export; the file holds a keypoint model")
    config, pre = json.loads(meta["model_config"]), json.loads(meta["preprocess"])
    if pre["color_order"] != "BGR" or pre["layout"] != "NCHW":
        raise ValueError(f"this script feeds BGR NCHW input; the model wants {pre['color_order']} {pre['layout']}")
    side = int(side or meta["input_size"])
    multiple = int(meta.get("size_multiple", 32))
    if side % multiple:
        raise ValueError(f"the letterbox side must be a multiple of {multiple}, got {side}")
    stride = int(meta["stride"])
    boxed, M = letterbox(image, side, float(pre["pad_value"]))
    x = (boxed.astype(np.float32) * float(pre["scale"]) + float(pre["offset"])).transpose(2, 0, 1)[None]
    heat, size, offset, left = (o[0] for o in session.run(["heatmap", "size", "offset", "left"], {"image": x}))
    p = 1.0 / (1.0 + np.exp(-heat[0]))  # (h, w)
    peaks = np.where(p == cv2.dilate(p, np.ones((3, 3), np.uint8)), p, 0.0).ravel()  # non-peaks zeroed
    top = np.argsort(-peaks, kind="stable")[: int(config["max_hands"])]
    top = top[peaks[top] >= float(config["score_threshold"])]
    rows, cols = np.divmod(top, p.shape[1])
    centre = (np.stack([cols + offset[0, rows, cols], rows + offset[1, rows, cols]], axis=1)) * stride  # (n, 2)
    wh = np.exp(np.clip(np.stack([size[0, rows, cols], size[1, rows, cols]], axis=1), -MAX_LOG_SIZE,
                        MAX_LOG_SIZE)) * stride  # (n, 2) input px
    inv = cv2.invertAffineTransform(M)  # input px -> image px (a scale and a shift)
    lo = (centre - wh / 2.0) * inv[0, 0] + inv[:, 2]
    hi = (centre + wh / 2.0) * inv[0, 0] + inv[:, 2]
    h, w = image.shape[:2]
    lo, hi = np.clip(lo, 0.0, [w, h]), np.clip(hi, 0.0, [w, h])
    found = [(np.concatenate([a, b - a]), float(p[r, c]), float(1.0 / (1.0 + np.exp(-left[0, r, c]))))
             for a, b, r, c in zip(lo, hi, rows, cols)]
    kept: list[tuple[np.ndarray, float, float]] = []
    for hand in found:  # best first already
        if all(iou(hand[0], k[0]) <= float(config["nms_iou"]) for k in kept):
            kept.append(hand)
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description="Hand boxes from a handpose detector's ONNX export, with "
                                     "onnxruntime, numpy and OpenCV alone (the recipe: this file's docstring).")
    parser.add_argument("model")
    parser.add_argument("image")
    parser.add_argument("--side", type=int, default=None, help="letterbox side (default the file's input size)")
    args = parser.parse_args()
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        parser.error(f"cannot read the image {args.image}")
    try:
        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types
        parser.error(f"cannot load the model {args.model}: {str(exc).splitlines()[0]}")
    try:
        found = hands(session, image, args.side)
    except ValueError as exc:
        parser.error(str(exc))
    for box, score, left in found:
        print(" ".join(f"{v:.2f}" for v in box), f"{score:.3f} {left:.3f}")


if __name__ == "__main__":
    main()
