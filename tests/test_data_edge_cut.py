"""Hands cut off by the image's edge in training (data.edge_cut): keypoints past the cut are not trained, the crop is
made around what is left and is grey past the cut, as prediction sees a hand that leaves the frame."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data_helpers import hand_keypoints, write_image

from handpose.config import AugmentConfig, DataConfig
from handpose.data import transforms as T
from handpose.data.dataset import HandDataset
from handpose.data.edge_cut import CUT_SHARE, MIN_LEFT, Cut, draw_cut, grey_past
from handpose.data.sample import Sample


def test_a_cut_hides_a_share_of_the_visible_keypoints_and_boxes_the_rest() -> None:
    kp = hand_keypoints(100, 80, 40, seed=2)
    kp[3, 2] = 0.0  # one keypoint hidden already
    visible = kp[:, 2] > 0
    for seed in range(40):
        drawn = draw_cut(kp, np.random.default_rng(seed))
        assert drawn is not None
        cut, left, box = drawn
        off = cut.off(kp[:, :2])
        assert np.array_equal(left[:, 2] > 0, visible & ~off)  # exactly those past the cut lose their visibility
        assert np.array_equal(left[:, :2], kp[:, :2])  # and keep their positions
        share = (visible & off).sum() / visible.sum()
        assert CUT_SHARE[0] - 0.1 <= share <= CUT_SHARE[1] + 0.1
        np.testing.assert_allclose(box, T.visible_box(left))


def test_a_hand_with_few_visible_keypoints_is_not_cut() -> None:
    kp = hand_keypoints(100, 80, 40, seed=2)
    kp[5:, 2] = 0.0  # 5 visible
    assert draw_cut(kp, np.random.default_rng(0)) is None
    kp[:, 2] = 0.0
    kp[:MIN_LEFT + 3, 2] = 1.0
    kp[:MIN_LEFT + 3, 0] = 50.0  # six visible keypoints in one column: any cut of x leaves none or all
    kp[:MIN_LEFT + 3, 1] = 50.0
    assert all(draw_cut(kp, np.random.default_rng(s)) is None for s in range(20))


@pytest.mark.parametrize("flip", [False, True])
def test_grey_past_the_cut_follows_the_crop_matrix(flip: bool) -> None:
    crop = np.full((40, 40, 3), 7, np.uint8)
    M = T.crop_matrix((120.0, 60.0), 80.0, 40, rotation_deg=0.0, flip=flip)  # original x 80..160 -> 40 crop px
    out = grey_past(crop, M, Cut(axis=0, at=100.0, keep_above=True))  # original x < 100 is off the image
    inv = T.invert_affine(M)
    x = inv[0, 0] * np.arange(40) + inv[0, 2]  # (40,) original x of each crop column
    assert np.all(out[:, x < 100.0] == T.PAD_VALUE) and np.all(out[:, x >= 100.0] == 7)
    assert (x < 100.0).sum() == 10 and np.all(crop == 7)  # a quarter of the crop; the input is not changed


def test_dataset_trains_cut_hands_on_what_is_left(tmp_path: Path) -> None:
    samples = []
    for i in range(6):
        kp = hand_keypoints(80, 60, 40, seed=i)
        samples.append(Sample(write_image(tmp_path / f"{i}.jpg", kp, 160, 120, seed=i), kp, False,
                              T.visible_box(kp), None, f"k{i}"))
    plain = DataConfig(input_size=64, augment=AugmentConfig(scale_min=1.0, scale_max=1.0, rotation_deg=0.0,
                                                           translate=0.0, color_jitter=0.0, blur_prob=0.0))
    cut = dataclasses.replace(plain, augment=dataclasses.replace(plain.augment, edge_cut_prob=1.0))
    uncut, cut_ds = HandDataset(samples, plain, train=True), HandDataset(samples, cut, train=True)
    for i in range(len(samples)):
        a, b = uncut[i], cut_ds[i]
        weights = b["weights"].numpy()
        visible = b["keypoints"][:, 2].numpy() > 0
        assert 0 < visible.sum() < 21 and np.array_equal(weights > 0, visible)  # only what is left is trained
        assert b["keypoints"][:, 2].sum() < a["keypoints"][:, 2].sum()
        assert b["keypoints"].dtype == a["keypoints"].dtype == torch.float32  # one dtype a batch
        np.testing.assert_allclose(b["box"].numpy(), T.visible_box(b["keypoints"].numpy()))
        image = (b["image"].numpy() + 0.5) * 256  # (3, S, S) back to pixel values
        assert (np.abs(image - T.PAD_VALUE) < 0.5).all(axis=0).mean() > 0.05  # grey past the cut
    evaluation = HandDataset(samples, cut, train=False)  # no augmentation, no cut
    assert np.array_equal(evaluation[0]["keypoints"].numpy(), samples[0].keypoints)
