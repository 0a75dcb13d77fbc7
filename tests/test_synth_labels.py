"""The fallback (capsule) renderer's labels agree with the picture: visible keypoints lie on hand pixels, hidden
ones are covered; left = mirrored."""

from __future__ import annotations

import cv2
import numpy as np

from handpose.synth.generate import build_scene, render_sample, render_scene, streams

SIZE = 192


def _near(mask: np.ndarray, x: float, y: float, radius: int = 2) -> bool:
    """Whether ``mask`` is set within ``radius`` pixels of (x, y)."""
    xi, yi = int(round(x)), int(round(y))
    return bool(mask[max(yi - radius, 0) : yi + radius + 1, max(xi - radius, 0) : xi + radius + 1].any())


def test_visible_keypoints_lie_on_the_hand_and_hidden_ones_are_covered() -> None:
    counts = {"visible": 0, "hidden": 0}
    for i in range(40):
        s = render_sample(5, i, SIZE, renderer="fallback")
        covered = s.hand_mask | s.occluder_mask
        for x, y, v in s.hand_pts:
            inside = 0 <= x <= SIZE - 1 and 0 <= y <= SIZE - 1
            if v > 0:
                assert inside and _near(s.hand_mask, x, y), (i, x, y)
                counts["visible"] += 1
            elif inside:  # hidden inside the picture: something (hand, arm or an object) is in front
                assert _near(covered, x, y, 1), (i, x, y)
                counts["hidden"] += 1
    assert counts["visible"] > 10 * 40 and counts["hidden"] > 0


def test_plain_render_shows_the_same_hand_on_grey() -> None:
    for i in range(6):
        full = render_sample(9, i, SIZE, renderer="fallback")
        plain = render_sample(9, i, SIZE, plain=True, renderer="fallback")
        assert full.is_left == plain.is_left
        assert np.allclose(full.hand_pts[:, :2], plain.hand_pts[:, :2])
        # occluders only ever hide keypoints, they never reveal one
        assert np.all(full.hand_pts[:, 2] <= plain.hand_pts[:, 2])
        # on the grey canvas the hand pixels differ from grey and the rest is exactly grey
        grey = np.all(plain.image == 128, axis=2)
        assert (grey & plain.hand_mask).sum() <= 0.02 * plain.hand_mask.sum()
        drawn = (plain.hand_mask | plain.occluder_mask).astype(np.uint8)  # + an anti-aliased fringe of <= 4 px
        assert np.all(grey[~cv2.dilate(drawn, np.ones((9, 9))).astype(bool)])


def test_left_hands_are_the_mirrored_picture_and_labels() -> None:
    left = [i for i in range(20) if render_sample(2, i, SIZE, plain=True, renderer="fallback").is_left]
    assert left, "no left hand among 20 samples"
    i = left[0]
    sample = render_sample(2, i, SIZE, plain=True, renderer="fallback")
    hand_rng, look_rng, *_ = streams(2, i)
    hand_rng.random()  # the left/right draw
    scene = build_scene(hand_rng, look_rng, SIZE)
    canvas = np.full((SIZE, SIZE, 3), 128, np.uint8)
    pts, _, _, _ = render_scene(scene, canvas)
    assert np.array_equal(sample.image, canvas[:, ::-1])
    assert np.allclose(sample.hand_pts[:, 0], SIZE - 1 - pts[:, 0]) and np.allclose(sample.hand_pts[:, 1:], pts[:, 1:])


def test_hand_sizes_and_left_share_vary() -> None:
    spans, lefts, partly_out = [], 0, 0
    for i in range(60):
        s = render_sample(11, i, 368, renderer="fallback")
        xy = s.hand_pts[:, :2]
        spans.append(float(np.max(xy.max(0) - xy.min(0))) / 368)
        lefts += s.is_left
        partly_out += bool(((xy < 0) | (xy > 367)).any())
    spans = np.array(spans)
    assert 0.25 < np.median(spans) < 0.8
    assert spans.min() < 0.3 and spans.max() > 0.75
    assert 15 < lefts < 45 and partly_out > 0
