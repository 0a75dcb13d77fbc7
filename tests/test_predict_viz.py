"""Pictures: skeleton overlay and the per-stage belief-map grid."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from handpose.data.codec import encode
from handpose.keypoints import FINGER_COLORS_BGR
from handpose.viz import (
    all_maps_figure,
    belief_map_figure,
    draw_hands,
    draw_skeleton,
    maps_to_crop,
    save_rgb,
    with_ground_truth,
)


def _hand(size: int = 96) -> np.ndarray:
    kp = np.zeros((21, 3), np.float32)
    kp[:, 0] = np.linspace(10, size - 15, 21)
    kp[:, 1] = np.linspace(20, size - 25, 21)
    kp[:, 2] = 1
    return kp


def test_draw_skeleton_copies_and_colours() -> None:
    img = np.full((96, 96, 3), 90, np.uint8)
    kp = _hand()
    out = draw_skeleton(img, kp[:, :2])
    assert out is not img and (img == 90).all()  # input untouched
    thumb_tip = tuple(int(v) for v in np.round(kp[4, :2]))
    assert tuple(out[thumb_tip[1], thumb_tip[0]]) == FINGER_COLORS_BGR[0]
    scores = np.ones(21, np.float32)
    scores[4] = 0.0  # below threshold: not drawn
    hidden = draw_skeleton(img, kp[:, :2], scores, threshold=0.1)
    assert tuple(hidden[thumb_tip[1], thumb_tip[0]]) != FINGER_COLORS_BGR[0]
    with pytest.raises(ValueError, match="21, 2"):
        draw_skeleton(img, kp[:5, :2])


def test_maps_to_crop_keeps_the_peak_in_place() -> None:
    kp = _hand()
    maps, _ = encode(kp, 96)
    big = maps_to_crop(maps, 96)
    assert big.shape == (22, 96, 96)
    y, x = np.unravel_index(big[10].argmax(), big[10].shape)
    assert abs(x - kp[10, 0]) <= 4 and abs(y - kp[10, 1]) <= 4  # within half a cell at stride 8


def test_belief_map_figure_grid(tmp_path: Path) -> None:
    crop = np.full((96, 96, 3), 120, np.uint8)
    maps, _ = encode(_hand(), 96)
    fig = belief_map_figure(crop, np.stack([maps * 0.5, maps, maps]), panel_size=128)
    assert fig.dtype == np.uint8 and fig.shape == (3 * 128, 7 * 128, 3)  # 3 stages x (overlay, bg, 5 tips)
    path = save_rgb(tmp_path / "maps.png", fig)
    assert cv2.imread(str(path)).shape == fig.shape
    one = belief_map_figure(crop, maps, keypoints=_hand()[:, :2], panel_size=64)  # (22, h, w): one stage
    assert one.shape == (64, 7 * 64, 3)


def test_first_panel_shows_the_strongest_map_not_a_saturated_sum() -> None:
    """Diffuse maps of all 21 keypoints must look like one such map (max over keypoints), not a solid sum."""
    crop = np.full((64, 64, 3), 100, np.uint8)
    one = np.zeros((1, 22, 8, 8), np.float32)
    one[0, 0] = 0.2
    every = np.zeros((1, 22, 8, 8), np.float32)
    every[0, :21] = 0.2
    no_skeleton = dict(keypoints=np.zeros((21, 2)), scores=np.zeros(21), panel_size=64)
    first_one = belief_map_figure(crop, one, **no_skeleton)[:, :64]
    first_every = belief_map_figure(crop, every, **no_skeleton)[:, :64]
    assert np.abs(first_one.astype(int) - first_every.astype(int)).max() <= 1


def test_ground_truth_panel_is_drawn_in_front_of_the_last_row() -> None:
    crop = np.full((64, 64, 3), 60, np.uint8)
    maps = np.zeros((2, 22, 8, 8), np.float32)
    figure = belief_map_figure(crop, maps, panel_size=64)  # (2 * 64, 7 * 64, 3)
    kp = _hand(64)
    out = with_ground_truth(figure, crop, kp)
    assert out.shape == (128, 8 * 64, 3)
    assert (out[:64, :64] == 0).all()  # nothing beside the first stage
    assert (out[64:, :64] != 60).any(axis=-1).sum() > 100  # the skeleton in the panel beside the last stage
    assert (out[:, 64:] == figure).all()


def test_overlay_says_when_no_keypoint_passes_the_threshold() -> None:
    """README: predict's NAME_overlay.png says when no keypoint passed --threshold. The note lived in
    viz.prediction_overlay, which predict stopped calling for draw_hands: the overlay of a found hand whose keypoints
    all scored low was its box alone, with nothing saying why."""
    img = np.full((120, 160, 3), 90, np.uint8)
    kp = _hand(96)[:, :2] + np.array([0.0, 30.0])  # rows 50 to 101, clear of the note's corner
    low = np.full(21, 0.05, np.float32)
    hand = SimpleNamespace(keypoints=kp, scores=low, box=(5.0, 45.0, 100.0, 70.0), score=0.9, is_left=False)
    silent = draw_hands(img, [hand], threshold=0.01)
    assert (silent != img).any() and (silent[:20, :] == img[:20, :]).all()  # drawn, no note in the corner
    noted = draw_hands(img, [hand], threshold=0.1)
    assert (noted[:20, :] != img[:20, :]).any()  # the note
    assert (noted[40:] == draw_hands(img, [hand], threshold=0.1, note_empty=False)[40:]).all()  # and nothing else
    other = SimpleNamespace(keypoints=kp, scores=np.full(21, 0.5, np.float32), box=(5.0, 45.0, 100.0, 70.0),
                            score=0.9, is_left=True)
    assert (draw_hands(img, [hand, other], threshold=0.1)[:20, :] == img[:20, :]).all()  # one hand drew keypoints
    assert (draw_hands(img, [], threshold=0.1)[:20, :] != img[:20, :]).any()  # "no hand found"


def test_all_maps_figure_shows_every_keypoint_and_a_scale() -> None:
    crop = np.full((64, 64, 3), 100, np.uint8)
    maps = np.zeros((22, 8, 8), np.float32)
    maps[5, 3, 3] = 1.0
    fig = all_maps_figure(crop, maps, panel_size=32)
    assert fig.shape == (4 * 32, 6 * 32, 3)  # 21 keypoints + background + scale + one empty panel
    assert (fig[3 * 32 :, 4 * 32 : 5 * 32] != 0).any()  # the colour scale
    assert (fig[3 * 32 :, 5 * 32 :] == 0).all()
    panel5 = fig[0:32, 5 * 32 : 6 * 32].astype(int)
    panel4 = fig[0:32, 4 * 32 : 5 * 32].astype(int)
    assert np.abs(panel5 - panel4).max() > 50  # keypoint 5's map is hot, keypoint 4's cold
