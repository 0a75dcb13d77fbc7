"""The predictor's geometry end to end: crop -> maps -> decode -> back to image pixels.

A network cannot be exact, so these tests run the real Predictor with a "bright spot" backend: it finds the
brightest blob in each crop and answers with belief maps (``codec.encode``) of all 21 keypoints there. Whatever
the crop does (box, whole image, left-hand mirror, flip test, several scales, reduced JPEG decoding), the predicted
keypoints must land on the blob in the original image.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from handpose.data.codec import encode
from handpose.data.formats import load_splits
from handpose.evaluate import evaluate
from handpose.inference.predictor import Predictor
from handpose.inference.prepare import CropSpec
from handpose.metrics import keypoint_metrics


class SpotBackend:
    """Belief maps of all 21 keypoints at the intensity centroid around the brightest pixel of each crop."""

    stages = 2

    def __call__(self, x: np.ndarray, all_stages: bool = False) -> np.ndarray:
        n, _, h, _ = x.shape
        out = []
        for img in x:  # (3, H, W)
            inten = img.sum(axis=0) - img.sum(axis=0).min()  # (H, W)
            y0, x0 = np.unravel_index(int(inten.argmax()), inten.shape)
            ys, xs = slice(max(0, y0 - 6), y0 + 7), slice(max(0, x0 - 6), x0 + 7)
            w = inten[ys, xs]
            gy, gx = np.mgrid[ys, xs]
            cx, cy = float((w * gx).sum() / w.sum()), float((w * gy).sum() / w.sum())
            kp = np.tile(np.array([[cx, cy, 1.0]], np.float32), (21, 1))
            out.append(encode(kp, h)[0])
        maps = np.stack(out)  # (N, 22, h/8, w/8)
        return np.stack([maps * 0.5, maps]) if all_stages else maps[None]


def spot_image(w: int, h: int, x0: float, y0: float, sigma: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    g = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))
    return np.repeat((30 + 220 * g).astype(np.uint8)[..., None], 3, axis=2)


def _predictor(**spec: object) -> Predictor:
    return Predictor(SpotBackend(), CropSpec(input_size=128, **spec))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "box, is_left, mirror, flip, scales",
    [
        (None, False, False, False, (1.0,)),
        ((40, 30, 50, 40), False, False, False, (1.0,)),
        ((40, 30, 50, 40), True, True, False, (1.0,)),
        ((40, 30, 50, 40), True, True, True, (1.0,)),
        ((40, 30, 50, 40), False, False, True, (1.0, 0.75, 1.25)),
        (None, True, True, True, (1.0, 0.5)),
    ],
)
def test_keypoints_land_on_the_spot(
    box: tuple | None, is_left: bool, mirror: bool, flip: bool, scales: tuple[float, ...]
) -> None:
    image = spot_image(200, 150, 61.3, 47.6)
    p = _predictor(mirror_left=mirror, scales=scales, box_padding=1.5)
    p.flip_test = flip
    r = p.predict(image, box=box, is_left=is_left)
    if box is None:  # no box: a list of hands; without a detector, the whole image as the one hand
        assert len(r) == 1 and r[0].is_left == is_left and r[0].score is None
        r = r[0]
    err = np.linalg.norm(r.keypoints - np.array([61.3, 47.6]), axis=1)
    tol = 1.6 if box is None else 0.8  # whole image: 200 px into 128, so a crop px is 1.6 image px
    assert err.max() < tol, (r.keypoints[0], err.max())
    assert r.scores.shape == (21,) and r.scores.min() > 0.5
    assert r.stage_maps is not None and r.stage_maps.shape[:2] == (2, 22)
    assert r.crop is not None and r.crop.shape == (p.spec.sizes()[0],) * 2 + (3,)


def test_left_hand_crop_is_mirrored() -> None:
    image = spot_image(200, 150, 50.0, 75.0)
    box = (20, 55, 40, 40)  # box centre x = 40: the spot is 10 px right of the crop centre
    plain = _predictor(mirror_left=True).predict(image, box=box, is_left=False)
    mirrored = _predictor(mirror_left=True).predict(image, box=box, is_left=True)
    spot_plain = np.unravel_index(plain.crop[..., 0].argmax(), plain.crop.shape[:2])[1]
    spot_mirror = np.unravel_index(mirrored.crop[..., 0].argmax(), mirrored.crop.shape[:2])[1]
    assert spot_plain > 64 > spot_mirror  # right of centre, then left of centre
    assert np.abs(plain.keypoints - mirrored.keypoints).max() < 0.5  # both mapped back to the same place


def test_batch_equals_single() -> None:
    images = [spot_image(160, 120, 30 + 20 * i, 40 + 10 * i) for i in range(3)]
    p = _predictor()
    batch = p.predict_batch(images, boxes=[None, (10, 20, 80, 80), None])
    for i, (img, box) in enumerate(zip(images, [None, (10, 20, 80, 80), None])):
        single = p.predict(img, box=box, keep_maps=False)
        single = single[0] if box is None else single
        assert np.allclose(single.keypoints, batch[i].keypoints, atol=1e-4)


def _write_spot_dataset(root: Path, count: int = 6) -> tuple[Path, list[np.ndarray]]:
    """CMU hand_labels layout (manual_test), real JPEGs with one bright spot each and spread-out labels."""
    folder = root / "manual_test"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    spots = []
    for i in range(count):
        w, h = (640, 480) if i % 2 else (300, 220)  # large frames exercise reduced JPEG decoding
        spot = np.array([rng.uniform(80, w - 80), rng.uniform(60, h - 60)])
        spots.append(spot)
        kp = np.zeros((21, 3))
        kp[:, :2] = spot + rng.uniform(-25, 25, (21, 2))
        kp[:, 2] = 1
        kp[5, 2] = 0  # one invisible keypoint
        name = f"img{i:03d}_{'l' if i % 3 == 0 else 'r'}"
        cv2.imwrite(str(folder / f"{name}.jpg"), spot_image(w, h, *spot, sigma=4), [cv2.IMWRITE_JPEG_QUALITY, 95])
        record = {"hand_pts": kp.tolist(), "is_left": int(i % 3 == 0), "head_size": 60.0}
        (folder / f"{name}.json").write_text(json.dumps(record))
    return folder, spots


def test_evaluate_matches_the_metrics_of_the_ideal_answer(tmp_path: Path) -> None:
    folder, spots = _write_spot_dataset(tmp_path)
    samples = load_splits(folder).val
    assert len(samples) == 6
    spot_of = {f"img{i:03d}": s for i, s in enumerate(spots)}
    # the spot backend answers "every keypoint at the spot": the exact metrics of that answer
    ideal = np.stack([np.tile(spot_of[Path(s.image_path).stem.split("_")[0]], (21, 1)) for s in samples])
    gt = np.stack([s.keypoints for s in samples])
    boxes = np.stack([s.box for s in samples])
    expected = keypoint_metrics(ideal, gt, boxes, np.array([s.head_size for s in samples]))
    for mirror, flip in [(False, False), (True, False), (False, True)]:
        got = evaluate(_predictor(mirror_left=mirror, box_padding=2.0), samples, flip_test=flip, batch_size=4)
        assert got["num_samples"] == 6 and got["num_skipped"] == 0
        assert got["EPE"] == pytest.approx(expected["EPE"], abs=0.5)
        assert got["PCK@0.2"] == pytest.approx(expected["PCK@0.2"], abs=0.06)
        assert got["AUC"] == pytest.approx(expected["AUC"], abs=0.03)
        assert got["num_keypoints"] == 6 * 20


def test_evaluate_skips_bad_images(tmp_path: Path) -> None:
    folder, _ = _write_spot_dataset(tmp_path, count=3)
    samples = load_splits(folder).val
    (folder / Path(samples[0].image_path).name).write_bytes(b"not a jpeg at all")
    got = evaluate(_predictor(), samples)
    assert got["num_samples"] == 2 and got["num_skipped"] == 1 and sum(got["skipped"].values()) == 1


@pytest.mark.parametrize("size", [100, 372, 96])
def test_flip_test_has_no_bias_at_any_input_size(size: int) -> None:
    """Mirroring maps is exact only over a whole number of cells: crops are padded to the stride before the flip
    (before, an input side of 100 or 372 px moved every keypoint by +1 px on average: 2 px in the mirrored pass)."""
    image = spot_image(300, 240, 141.3, 97.6)
    plain = Predictor(SpotBackend(), CropSpec(input_size=size))  # type: ignore[arg-type]
    flipped = Predictor(SpotBackend(), CropSpec(input_size=size), flip_test=True)  # type: ignore[arg-type]
    box = (100, 60, 90, 80)
    a, b = plain.predict(image, box=box), flipped.predict(image, box=box)
    crop_px = 1.5 * 90 / size  # one crop pixel in image pixels
    assert np.abs(b.keypoints - a.keypoints).max() < 0.1 * crop_px  # the unpadded flip was 1 crop px off in x
