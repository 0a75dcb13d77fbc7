"""An overlay of many hands on a large photo copies the photo once: each hand's skeleton used to be drawn into a
fresh copy of the whole picture, so a 50-megapixel overlay held three copies at a time (430 MiB traced where the
photo is 143 MiB) and made one more a hand."""

from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import numpy as np

from handpose.viz import draw_hands, draw_skeleton


def _hands(n: int) -> list[SimpleNamespace]:
    hands = []
    for i in range(n):
        kp = np.stack([np.linspace(100, 400, 21) + 500 * i, np.linspace(200, 700, 21)], axis=1)  # (21, 2)
        hands.append(SimpleNamespace(keypoints=kp, scores=np.ones(21), box=(100 + 500 * i, 200, 300, 500),
                                     score=0.9, is_left=bool(i % 2)))
    return hands


def test_many_hands_are_drawn_on_one_copy() -> None:
    image = np.full((1500, 2400, 3), 90, np.uint8)  # 10.8 MB
    hands = _hands(4)
    tracemalloc.start()
    try:
        out = draw_hands(image, hands)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1.2 * image.nbytes, (peak, image.nbytes)
    assert (image == 90).all()  # the input untouched
    expected = image
    for hand in hands:  # each skeleton as draw_skeleton draws it alone: the joints are where and as they were
        expected = draw_skeleton(expected, hand.keypoints, hand.scores)
    for hand in hands:
        for x, y in np.round(hand.keypoints[[4, 8, 12, 16]]).astype(int):
            assert np.array_equal(out[y, x], expected[y, x]) and not np.array_equal(out[y, x], image[y, x])
