"""The keypoint layout: 21 names, a 20-bone tree rooted at the wrist, one colour per finger."""

from __future__ import annotations

from handpose import keypoints as K


def test_counts_and_order() -> None:
    assert K.NUM_KEYPOINTS == len(K.NAMES) == len(K.FINGER_OF) == 21
    assert K.NUM_MAPS == 22 and K.BACKGROUND == 21
    assert K.NAMES[0] == "wrist" and K.NAMES[4] == "thumb4_tip" and K.NAMES[20] == "pinky4_tip"
    assert K.TIPS == tuple(c[-1] for c in K.FINGER_CHAINS)


def test_skeleton_is_a_tree_from_the_wrist() -> None:
    assert len(K.SKELETON) == 20
    children = [c for _, c in K.SKELETON]
    assert sorted(children) == list(range(1, 21))  # every joint but the wrist has exactly one parent
    for f, chain in enumerate(K.FINGER_CHAINS):
        assert chain == (0, 4 * f + 1, 4 * f + 2, 4 * f + 3, 4 * f + 4)
    assert (0, 1) in K.SKELETON and (0, 17) in K.SKELETON and (19, 20) in K.SKELETON


def test_colours() -> None:
    assert K.keypoint_color_bgr(0) == K.WRIST_COLOR_BGR
    assert len(set(K.FINGER_COLORS_BGR)) == 5
    assert K.bone_color_bgr(8) == K.FINGER_COLORS_BGR[1]


def test_rhd_remap_is_a_permutation() -> None:
    assert sorted(K.RHD_TO_CMU) == list(range(21))
