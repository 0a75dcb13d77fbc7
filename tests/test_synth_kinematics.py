"""The articulated hand: joint limits, bone lengths kept by posing, a right hand's chirality, clean projection."""

from __future__ import annotations

import numpy as np

from handpose.keypoints import FINGER_CHAINS
from handpose.synth import kinematics as kin
from handpose.synth.camera import Camera, clip_near, random_rotation


def test_sampled_poses_respect_joint_limits() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        p = kin.sample_pose(rng)
        for value, lim in ((p.mcp_flex, kin.MCP_FLEX), (p.mcp_spread, kin.MCP_SPREAD), (p.pip_flex, kin.PIP_FLEX),
                           (p.dip_flex, kin.DIP_FLEX), (p.cmc_flex, kin.CMC_FLEX), (p.cmc_abd, kin.CMC_ABD),
                           (p.thumb_mcp, kin.THUMB_MCP), (p.thumb_ip, kin.THUMB_IP)):
            assert np.all(np.asarray(value) >= lim[0]) and np.all(np.asarray(value) <= lim[1])


def test_posing_keeps_bone_lengths() -> None:
    rng = np.random.default_rng(1)
    shape = kin.sample_shape(rng)
    flat = kin.build_hand(shape, kin.neutral_pose())
    bent = kin.build_hand(shape, kin.sample_pose(rng))
    for chain in FINGER_CHAINS:
        for a, b in zip(chain[1:-1], chain[2:]):  # bones beyond the palm (the palm is rigid except cupping)
            d0 = np.linalg.norm(flat.joints[b] - flat.joints[a])
            d1 = np.linalg.norm(bent.joints[b] - bent.joints[a])
            assert abs(d0 - d1) < 1e-9


def test_neutral_right_hand_geometry() -> None:
    shape = kin.sample_shape(np.random.default_rng(2))
    hand = kin.build_hand(shape, kin.neutral_pose())
    j = hand.joints
    assert np.allclose(j[0], 0.0)
    # straight fingers point along +y; the thumb is on the +x side; the hand is 14-25 cm long
    for chain in FINGER_CHAINS[1:]:
        d = np.diff(j[list(chain[1:])], axis=0)
        assert np.all(d[:, 1] > 0)
    assert j[4, 0] > j[8, 0] > j[12, 0] > j[16, 0] > j[20, 0]
    assert 14.0 < j[12, 1] < 25.0
    # a flexed finger bends towards the palm (+z)
    pose = kin.neutral_pose()
    pose.pip_flex[1] = 90.0  # the middle finger's PIP
    bent = kin.build_hand(shape, pose).joints
    assert bent[12, 2] > 1.0 and np.allclose(bent[:10], j[:10])


def test_rotation_is_proper_and_projection_centred() -> None:
    R = random_rotation(np.random.default_rng(3))
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    cam = Camera(f=300.0, cx=183.5, cy=183.5)
    assert np.allclose(cam.project(np.array([[0.0, 0.0, 50.0], [10.0, -5.0, 100.0]])), [[183.5, 183.5], [213.5, 168.5]])


def test_clip_near_moves_endpoints_in_front_of_the_lens() -> None:
    a = np.array([[0.0, 0.0, -10.0], [0.0, 0.0, 1.0], [0.0, 0.0, 20.0]])
    b = np.array([[0.0, 0.0, 30.0], [0.0, 0.0, 2.0], [0.0, 0.0, 40.0]])
    a2, b2, keep = clip_near(a, b, near=4.0)
    assert keep.tolist() == [True, False, True]
    assert np.isclose(a2[0, 2], 4.0) and np.isclose(b2[0, 2], 30.0) and np.isclose(a2[2, 2], 20.0)
