"""The crop recipe's matrices checked against geometry worked out by hand, and its augmentation's ranges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from handpose.config import AugmentConfig
from handpose.data.crop import CropRecipe, sample_box
from handpose.data.sample import Sample
from handpose.data.transforms import apply_affine, invert_affine


def test_the_box_crop_by_hand() -> None:
    """Box [10, 20, 40, 20], padding 1.5: a 60 px square centred on (30, 30) fills 120 crop px (2 per px)."""
    M = CropRecipe(input_size=120, box_padding=1.5).matrix([10, 20, 40, 20])
    got = apply_affine(np.array([[30.0, 30.0], [10.0, 20.0], [50.0, 40.0]]), M)
    np.testing.assert_allclose(got, [[59.5, 59.5], [19.5, 39.5], [99.5, 79.5]], atol=1e-9)


@pytest.mark.parametrize("mirror", [False, True])
def test_the_whole_image_crop_of_a_wide_image(mirror: bool) -> None:
    """A 200 x 100 image into 100 crop px: 0.5 crop px per pixel, the image's edges x = -0.5 and 199.5 on the crop's
    edges -0.5 and 99.5, its height centred (edges y = -0.5, 99.5 at 24.5, 74.5). So pixel centre (0, 0) goes to
    (-0.25, 24.75) and (199, 99) to (99.25, 74.25); mirrored for a left hand, x becomes 99 - x."""
    recipe = CropRecipe(input_size=100, mirror_left=True)
    M = recipe.whole_image_matrix((100, 200), is_left=mirror)
    got = apply_affine(np.array([[0.0, 0.0], [199.0, 99.0]]), M)
    want = np.array([[-0.25, 24.75], [99.25, 74.25]])
    if mirror:
        want[:, 0] = 99.0 - want[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_the_whole_image_crop_of_a_tall_image() -> None:
    """100 x 200 (w x h): the height fills the crop, the width is centred."""
    M = CropRecipe(input_size=100).whole_image_matrix((200, 100))
    got = apply_affine(np.array([[0.0, 0.0], [99.0, 199.0]]), M)
    np.testing.assert_allclose(got, [[24.75, -0.25], [74.25, 99.25]], atol=1e-9)


def test_augmentation_draws_over_its_whole_ranges() -> None:
    """Rotation in [-r, r] both ways, scale in [min, max], shift a fraction of the box side in [-t, t] per axis:
    read back from 400 matrices (the crop centre's source point is the shifted box centre)."""
    aug = AugmentConfig(scale_min=0.75, scale_max=1.25, rotation_deg=40.0, translate=0.1, flip_prob=0.0)
    recipe = CropRecipe(input_size=100, box_padding=1.5, augment=aug)
    box, side, centre = [100, 200, 40, 60], 90.0, np.array([120.0, 230.0])
    rng = np.random.default_rng(0)
    rot, scale, shift = [], [], []
    for _ in range(400):
        M = recipe.matrix(box, rng=rng)
        A = M[:, :2]
        s = float(np.sqrt(np.linalg.det(A)))  # crop px per original px
        rot.append(np.degrees(np.arctan2(A[0, 1], A[0, 0])))
        scale.append(100.0 / (side * s))
        shift.append((apply_affine(np.array([49.5, 49.5]), invert_affine(M)) - centre) / side)
    rot, scale, shift = np.array(rot), np.array(scale), np.abs(np.array(shift))
    assert rot.min() >= -40 and rot.max() <= 40 and rot.min() < -35 and rot.max() > 35
    assert scale.min() >= 0.75 - 1e-9 and scale.max() <= 1.25 + 1e-9 and scale.min() < 0.78 and scale.max() > 1.22
    assert shift.max() <= 0.1 + 1e-9 and (shift.max(axis=0) > 0.09).all()


def test_a_samples_own_box_comes_before_its_keypoints() -> None:
    kp = np.zeros((21, 3), np.float32)
    kp[:, :2] = np.linspace(10, 30, 21)[:, None]
    kp[:, 2] = 1
    kp[20, 2] = 0  # (30, 30) not visible
    own = Sample(Path("a.jpg"), kp, box=np.array([0, 0, 50, 60], np.float32), key="a.jpg")
    np.testing.assert_array_equal(sample_box(own), [0, 0, 50, 60])
    np.testing.assert_allclose(sample_box(Sample(Path("a.jpg"), kp, key="a.jpg")), [10, 10, 19, 19], atol=1e-5)
    kp[:, 2] = 0
    with pytest.raises(ValueError, match="no box and no visible keypoint"):
        sample_box(Sample(Path("a.jpg"), kp, key="a.jpg"))
