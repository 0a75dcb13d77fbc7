"""One affine matrix moves an image and its keypoints together: crop, scale, rotation, shift, flip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from handpose.data import transforms as T


def _bright_pixel_image(h: int, w: int, x: int, y: int) -> np.ndarray:
    img = np.zeros((h, w, 3), dtype=np.uint8)
    img[y, x] = 255
    return img


@pytest.mark.parametrize(
    "rotation, flip, scale, shift",
    [
        (0.0, False, 1.0, (0.0, 0.0)),
        (37.0, False, 1.0, (0.0, 0.0)),
        (-90.0, False, 1.0, (0.0, 0.0)),
        (0.0, True, 1.0, (0.0, 0.0)),
        (0.0, False, 1.3, (0.0, 0.0)),
        (0.0, False, 0.8, (7.5, -4.0)),
        (25.0, True, 1.2, (-6.0, 3.0)),
    ],
)
def test_bright_pixel_and_keypoint_move_together(rotation: float, flip: bool, scale: float, shift: tuple) -> None:
    """A single bright pixel lands where its keypoint lands, for every part of the matrix."""
    h, w, x, y = 83, 131, 70, 35
    img = _bright_pixel_image(h, w, x, y)
    center, side = np.array([64.3, 41.7]), 60.0
    out = 120  # crop magnifies 2x (60 px -> 120 px): a bright pixel becomes a small blob
    M = T.crop_matrix(center, side, out, rotation_deg=rotation, flip=flip, scale=scale, shift=shift)
    # subtract the crop of an all-black image: what is left is the bright pixel alone (the border is grey)
    crop = T.warp(img, M, out).astype(np.float64)[..., 0] - T.warp(img * 0, M, out).astype(np.float64)[..., 0]
    kp = T.apply_affine(np.array([x, y], dtype=np.float64), M)
    ys, xs = np.nonzero(crop)
    wts = crop[ys, xs]
    centroid = np.array([(xs * wts).sum() / wts.sum(), (ys * wts).sum() / wts.sum()])
    assert np.abs(centroid - kp).max() < 0.35, (centroid, kp)


def test_crop_matrix_geometry() -> None:
    center, side, out = np.array([100.0, 50.0]), 40.0, 368
    M = T.crop_matrix(center, side, out)
    mid = (out - 1) / 2
    np.testing.assert_allclose(T.apply_affine(center, M), [mid, mid])
    # the box edges land on the crop edges (pixel extents)
    np.testing.assert_allclose(T.apply_affine(np.array([80.0, 30.0]), M), [mid - out / 2, mid - out / 2])
    # flip mirrors about the crop centre, a scale > 1 shows more context
    Mf = T.crop_matrix(center, side, out, flip=True)
    p = T.apply_affine(np.array([110.0, 55.0]), M)
    pf = T.apply_affine(np.array([110.0, 55.0]), Mf)
    np.testing.assert_allclose([out - 1 - p[0], p[1]], pf)
    Ms = T.crop_matrix(center, side, out, scale=2.0)
    assert abs(T.apply_affine(np.array([110.0, 50.0]), Ms)[0] - mid) == pytest.approx(46.0)
    # shift moves the crop centre in original pixels; rotation is counter-clockwise as displayed
    Mt = T.crop_matrix(center, side, out, shift=(5.0, -3.0))
    np.testing.assert_allclose(T.apply_affine(np.array([105.0, 47.0]), Mt), [mid, mid])
    Mr = T.crop_matrix(center, side, out, rotation_deg=90.0)
    right = T.apply_affine(np.array([110.0, 50.0]), Mr)  # a point right of the centre goes up
    np.testing.assert_allclose(right, [mid, mid - 92.0], atol=1e-9)


def test_invert_affine_round_trip() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        M = T.crop_matrix(rng.uniform(0, 500, 2), rng.uniform(10, 400), 368, rng.uniform(-180, 180),
                          bool(rng.integers(2)), rng.uniform(0.5, 2), rng.uniform(-20, 20, 2))
        pts = rng.uniform(-100, 600, size=(21, 2))
        back = T.apply_affine(T.apply_affine(pts, M), T.invert_affine(M))
        np.testing.assert_allclose(back, pts, atol=1e-9)
        composed = T.invert_affine(T.invert_affine(M))
        np.testing.assert_allclose(composed, M, atol=1e-9)


def test_apply_affine_batched() -> None:
    Ms = np.stack([T.crop_matrix((10, 10), 20, 64, r) for r in (0, 30, 60)])  # (3, 2, 3)
    pts = np.random.default_rng(1).uniform(0, 20, size=(3, 21, 2))
    out = T.apply_affine(pts, Ms)
    for n in range(3):
        np.testing.assert_allclose(out[n], T.apply_affine(pts[n], Ms[n]))


def test_the_visible_box_uses_visible_keypoints_only() -> None:
    kp = np.zeros((21, 3), dtype=np.float32)
    kp[:, 0] = np.linspace(10, 50, 21)
    kp[:, 1] = np.linspace(20, 40, 21)
    kp[:, 2] = 1
    kp[0] = (-1000, -1000, 0)  # invisible: ignored
    kp[1, :2] = np.nan
    center, side = T.square_box(T.visible_box(kp), 1.5)
    lo = kp[2:, :2].min(axis=0)
    hi = kp[2:, :2].max(axis=0)
    np.testing.assert_allclose(center, (lo + hi) / 2, atol=1e-5)
    assert side == pytest.approx(1.5 * (hi - lo).max(), rel=1e-5)
    kp[:, 2] = 0
    assert T.visible_box(kp) is None


def test_to_network_input() -> None:
    img = np.full((5, 7, 3), 128, dtype=np.uint8)
    img[0, 0] = (0, 64, 255)
    x = T.to_network_input(img)
    assert x.shape == (3, 5, 7) and x.dtype == np.float32
    assert x[:, 0, 0].tolist() == [-0.5, -0.25, 255 / 256 - 0.5]
    assert x[0, 1, 1] == 0.0  # the grey border value is zero input
    xb = T.to_network_input(np.stack([img, img]))
    assert xb.shape == (2, 3, 5, 7)
    assert torch.from_numpy(xb).is_contiguous()
    assert T.PREPROCESS["scale"] == 1 / 256 and T.PREPROCESS["offset"] == -0.5


def test_color_jitter_and_blur_keep_shape_and_vary() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    out = T.color_jitter(img, 0.4, rng)
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)
    assert T.color_jitter(img, 0.0, rng) is img
    blurred = T.gaussian_blur(img, 1.2)
    assert blurred.shape == img.shape and blurred.std() < img.std()


def test_color_matrix_identity_and_greys() -> None:
    np.testing.assert_allclose(T.color_matrix(1, 1, 1, 0, 100.0), np.hstack([np.eye(3), np.zeros((3, 1))]), atol=1e-6)
    grey = np.array([90.0, 90.0, 90.0])
    for sat, hue in ((0.5, 0.0), (1.3, 0.0), (1.0, 25.0)):
        M = T.color_matrix(1, 1, sat, hue, 100.0).astype(np.float64)
        np.testing.assert_allclose(M[:, :3] @ grey + M[:, 3], grey, atol=1e-3)  # greys stay grey
    M = T.color_matrix(1.2, 1, 1, 0, 0.0)
    np.testing.assert_allclose(M[:, :3], 1.2 * np.eye(3), atol=1e-6)
    M = T.color_matrix(1, 0.5, 1, 0, 100.0)  # contrast halves distances to the mean
    np.testing.assert_allclose(M[:, :3] @ np.full(3, 140.0) + M[:, 3], np.full(3, 120.0), atol=1e-3)


def test_warp_paths_agree() -> None:
    """The BGRA fast path (sources up to 4x the crop area) and the plain 3-channel warp give the same crop."""
    rng = np.random.default_rng(4)
    for h, w in ((90, 70), (300, 260)):  # fast path, plain path
        img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        M = T.crop_matrix((35, 45), 60, 64, rotation_deg=17, flip=True, shift=(30, 0))  # partly outside the image
        ref = cv2.warpAffine(img, M, (64, 64), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(128, 128, 128))
        out = T.warp(img, M, 64)
        assert out.shape == (64, 64, 3) and out.dtype == np.uint8
        assert np.abs(out.astype(int) - ref).max() <= 1
        assert (T.warp(img, T.crop_matrix((1000, 1000), 60, 64), 64) == T.PAD_VALUE).all()  # the grey border


def test_transform_keypoints_keeps_visibility() -> None:
    """Only x, y move; an unlabelled keypoint stays unlabelled (the target encoder must still mask it)."""
    kp = np.zeros((21, 3), np.float32)
    kp[:, :2] = 10.0
    kp[::2, 2] = 1.0
    kp[1, 2] = 2.0
    M = np.array([[2.0, 0.0, 5.0], [0.0, 2.0, -5.0]])
    out = T.transform_keypoints(kp, M)
    np.testing.assert_array_equal(out[:, 2], kp[:, 2])
    np.testing.assert_allclose(out[:, :2], np.tile([25.0, 15.0], (21, 1)))


def test_color_matrix_by_hand() -> None:
    """Saturation 0 turns a pixel into its luma (BT.601: 0.299 R + 0.587 G + 0.114 B; pixels are BGR); a 120 degree
    hue turn about the grey axis permutes the three channels cyclically; contrast scales about the mean grey of the
    brightened image (brightness 1.2, mean 100: about 120, so 140 -> 168 -> 144 at contrast 0.5)."""
    red, green = np.array([0.0, 0.0, 255.0]), np.array([0.0, 255.0, 0.0])
    M = T.color_matrix(1, 1, 0.0, 0, 0.0).astype(np.float64)
    np.testing.assert_allclose(M[:, :3] @ red, np.full(3, 0.299 * 255), atol=1e-3)
    np.testing.assert_allclose(M[:, :3] @ green, np.full(3, 0.587 * 255), atol=1e-3)
    P = T.color_matrix(1, 1, 1, 120.0, 0.0)[:, :3].astype(np.float64)
    np.testing.assert_allclose(np.sort(P, axis=1), np.tile([0.0, 0.0, 1.0], (3, 1)), atol=1e-6)  # a permutation
    np.testing.assert_allclose(P.sum(axis=0), np.ones(3), atol=1e-6)
    assert not np.allclose(P, np.eye(3))
    M = T.color_matrix(1.2, 0.5, 1, 0, 100.0).astype(np.float64)
    np.testing.assert_allclose(M[:, :3] @ np.full(3, 140.0) + M[:, 3], np.full(3, 144.0), atol=1e-3)


def test_color_jitter_brightens_as_often_as_it_darkens() -> None:
    """Brightness, contrast and saturation factors are drawn from [1 - s, 1 + s]: both ways round."""
    rng = np.random.default_rng(5)
    img = np.full((8, 8, 3), 100, np.uint8)
    means = np.array([T.color_jitter(img, 0.4, rng).mean() for _ in range(60)])
    assert (means > 115).sum() > 10 and (means < 85).sum() > 10


def test_a_box_without_area_still_gives_a_crop() -> None:
    """One visible keypoint makes a 0 x 0 box: its square is at least 1 px (times the padding), not 0 (a crop
    matrix dividing by 0)."""
    center, side = T.square_box([5.0, 7.0, 0.0, 0.0], 1.5)
    assert center.tolist() == [5.0, 7.0] and side == 1.5
    assert np.isfinite(T.crop_matrix(center, side, 64)).all()


def test_gaussian_blur_has_the_sigma_asked_for() -> None:
    """A blurred single bright pixel spreads with variance sigma^2 along each axis."""
    img = np.zeros((41, 41, 3), np.float32)
    img[20, 20] = 1000.0
    out = T.gaussian_blur(img, 1.5)[..., 0].astype(np.float64)
    profile = out.sum(axis=0) / out.sum()  # along x
    var = float(((np.arange(41) - 20.0) ** 2 * profile).sum())
    assert var == pytest.approx(1.5**2, rel=0.05)
