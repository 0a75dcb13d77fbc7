"""Run a keypoint model exported by `handpose export` with onnxruntime, numpy and OpenCV alone (no handpose, no
torch): the crop, the network, the decoding and the mapping back, as handpose does them.

Usage: python scripts/onnx_keypoints.py MODEL.onnx IMAGE X,Y,W,H [--left]
Prints the 21 keypoints (x, y in image pixels, score), CMU / OpenPose order.

The recipe (every number below comes from the file's metadata, written by `handpose export`):
1. Crop: the box (x, y, w, h, rounded to float32 as handpose holds it) gives the square of side
   ``box_padding * max(w, h)`` centred on the box centre ``(x + w/2, y + h/2)``, which fills an
   ``input_size`` crop: crop px = s * (image px - centre) + (input_size - 1) / 2 with s = input_size / side,
   resampled bilinearly with grey (128) outside the image. A left hand of a model trained with ``mirror_left`` is
   mirrored: crop x -> input_size - 1 - crop x. Where s < 1/2 the image is first averaged over f x f blocks
   (f = 2, 4 or 8, the largest with s * f <= 1), as training decoded its large JPEGs.
2. Network input: the crop as float32 BGR, x = pixel / 256 - 0.5, NCHW, input ``image``; output ``out``
   (N, 22, h, w), channel 21 the background.
3. Decoding, per keypoint map: the argmax cell; on each axis a parabola through the log of that cell and its two
   neighbours (at an edge, the edge cell and its two inner neighbours), each map value floored at 1e-10 before
   the log; its vertex, kept within half a cell of the argmax cell, or the argmax cell itself where the parabola
   has no maximum (flat, or curving upwards, as it can at an edge); crop px = (cell + 0.5) * stride - 0.5; the
   score is the map's maximum.
4. Back to the image through the inverse of the crop's matrix.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import onnxruntime as ort

EPS = 1e-10  # the smallest map value the log of the decoding reads (maps dip below zero), as handpose's


def crop_matrix(box: np.ndarray, size: int, padding: float, mirror: bool) -> np.ndarray:
    """(2, 3) image px -> crop px of the square crop around ``box`` ``[x, y, w, h]``."""
    x, y, w, h = (float(v) for v in box)
    centre = np.array([x + w / 2.0, y + h / 2.0])
    s = size / (max(max(w, h), 1.0) * padding)
    M = np.array([[s, 0.0, 0.0], [0.0, s, 0.0]])
    M[:, 2] = (size - 1) / 2.0 - s * centre
    if mirror:  # x -> size - 1 - x, after the crop
        M[0] = -M[0]
        M[0, 2] += size - 1
    return M


def cut(image: np.ndarray, M: np.ndarray, size: int, pad: float) -> np.ndarray:
    """The (size, size, 3) crop, from f x f block averages where it shrinks the image 2x or more; ``pad`` the grey
    outside the image."""
    zoom = float(np.sqrt(abs(np.linalg.det(M[:, :2]))))
    f = next((f for f in (8, 4, 2) if zoom * f <= 1.0), 1)
    if f > 1:
        h, w = image.shape[:2]
        rows, cols = -(-h // f), -(-w // f)  # a partial block at the right or bottom repeats its edge pixels
        image = cv2.copyMakeBorder(image, 0, rows * f - h, 0, cols * f - w, cv2.BORDER_REPLICATE)
        image = cv2.resize(image, (cols, rows), interpolation=cv2.INTER_AREA)
        M = np.hstack([M[:, :2] * f, (M[:, :2] @ np.full(2, (f - 1) / 2.0) + M[:, 2])[:, None]])  # block px -> crop
    return cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(pad, pad, pad))


def vertex(lo: np.ndarray, mid: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offset, found): the offset (cells) from the middle sample of the maximum of the parabola through the logs of
    three samples (each floored at ``EPS``), and whether it has one (False: flat, or curving upwards; offset 0)."""
    a, b, c = (np.log(np.maximum(v, EPS)) for v in (lo, mid, hi))
    denom = a - 2.0 * b + c
    found = denom < -1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(found, 0.5 * (a - c) / denom, 0.0), found


def decode(maps: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(22, h, w) maps -> keypoints (21, 2) in crop px and scores (21,)."""
    m = maps[:21]  # (21, h, w)
    k, h, w = m.shape
    flat = m.reshape(k, -1)
    py, px = np.divmod(flat.argmax(axis=1), w)
    rows = np.arange(k)
    out = []
    for p, n, at in ((px, w, lambda c: m[rows, py, c]), (py, h, lambda c: m[rows, c, px])):
        if n < 3:
            out.append(p.astype(np.float64))
            continue
        q = np.clip(p, 1, n - 2)  # the middle of the three cells: p, or at an edge its inner neighbour
        offset, found = vertex(at(q - 1), at(q), at(q + 1))
        out.append(np.clip(np.where(found, q + offset, p), p - 0.5, p + 0.5))  # no maximum: the argmax cell
    xy = (np.stack(out, axis=1) + 0.5) * stride - 0.5  # (21, 2)
    return xy, flat.max(axis=1)


def keypoints(session: ort.InferenceSession, image: np.ndarray, box: np.ndarray, left: bool
              ) -> tuple[np.ndarray, np.ndarray]:
    """(21, 2) image px and (21,) scores of the hand in ``box`` of a BGR uint8 ``image``."""
    meta = session.get_modelmeta().custom_metadata_map
    data, pre = json.loads(meta["data_config"]), json.loads(meta["preprocess"])
    if pre["color_order"] != "BGR" or pre["layout"] != "NCHW":
        raise ValueError(f"this script feeds BGR NCHW input; the model wants {pre['color_order']} {pre['layout']}")
    size, stride = int(meta["input_size"]), int(meta["stride"])
    box = np.asarray(box, np.float32).astype(np.float64)  # (4,) rounded as handpose rounds a box
    M = crop_matrix(box, size, float(data["box_padding"]), left and bool(data["mirror_left"]))
    crop = cut(image, M, size, float(pre["pad_value"]))
    x = (crop.astype(np.float32) * float(pre["scale"]) + float(pre["offset"])).transpose(2, 0, 1)[None]  # (1, 3, S, S)
    maps = session.run(["out"], {"image": x})[0][0]  # (22, h, w)
    xy, scores = decode(maps, stride)
    inv = cv2.invertAffineTransform(M)  # crop px -> image px
    return xy @ inv[:, :2].T + inv[:, 2], scores


def main() -> None:
    parser = argparse.ArgumentParser(description="Keypoints of one hand from a handpose ONNX export, with "
                                     "onnxruntime, numpy and OpenCV alone (the recipe: this file's docstring).")
    parser.add_argument("model")
    parser.add_argument("image")
    parser.add_argument("box", help="x,y,w,h in image pixels")
    parser.add_argument("--left", action="store_true", help="a left hand")
    args = parser.parse_args()
    try:
        box = np.array([float(v) for v in args.box.split(",")])
    except ValueError:
        box = np.zeros(0)
    if box.shape != (4,) or not np.isfinite(box).all() or box[2] <= 0 or box[3] <= 0:
        parser.error(f"box {args.box!r}: give x,y,w,h in image pixels, w and h above 0")
    image = cv2.imread(args.image, cv2.IMREAD_COLOR)
    if image is None:
        parser.error(f"cannot read the image {args.image}")
    try:
        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types
        parser.error(f"cannot load the model {args.model}: {str(exc).splitlines()[0]}")
    xy, scores = keypoints(session, image, box, args.left)
    for (x, y), s in zip(xy, scores):
        print(f"{x:.2f} {y:.2f} {s:.3f}")


if __name__ == "__main__":
    main()
