"""Keypoint visibility from the renderer's ID and depth buffers.

A keypoint is visible when, at its pixel (or one of the 8 around it: a thin fingertip can fall between pixel
centres), the ID buffer shows one of the bones that keypoint joins (``ACCEPTED_BONES``: a PIP shows its proximal or
middle phalanx, a tip its distal phalanx) of the same hand, and that surface is not much nearer the camera than the
keypoint (``DEPTH_TOLERANCE`` flesh radii: the fingertip of a finger pointing at the lens hides its own DIP).
Self-occlusion by other parts of the hand, other hands, objects and the image border all hide a keypoint.
"""

from __future__ import annotations

import logging

import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth.skinning import JOINT_BONES
from handpose.synth.view import hand_id

LOG = logging.getLogger(__name__)

DEPTH_TOLERANCE = 1.9
# bones whose skin may show at each keypoint's pixel (the wrist and the thumb's CMC sit under the palm's heel)
ACCEPTED_BONES: tuple[tuple[int, ...], ...] = (
    (kin.BONE_CARPAL, kin.BONE_FOREARM, 1, 4),
    (kin.BONE_THUMB, kin.BONE_CARPAL, 1),
) + JOINT_BONES[2:]
_NEIGHBOURS = np.array([(0, 0)] + [(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dx or dy])  # (9, 2)


def _accepted_table(hand: int) -> np.ndarray:
    """(21, 4) accepted ids per keypoint for hand number ``hand`` (padded with -1)."""
    table = np.full((21, 4), -1, np.int64)
    for k, bones in enumerate(ACCEPTED_BONES):
        table[k, : len(bones)] = hand_id(hand, np.array(bones))
    return table


def visibility(xy: np.ndarray, joints: np.ndarray, joint_radius: np.ndarray, ids: np.ndarray, depth: np.ndarray,
               hand: int) -> np.ndarray:
    """(21,) bool: keypoints at pixels ``xy`` (21, 2) of hand number ``hand``, at camera-frame ``joints`` (21, 3)
    with flesh radii (21,), visible in the buffers ``ids`` (H, W) int and ``depth`` (H, W) float."""
    h, w = ids.shape
    inside = (xy[:, 0] > -0.5) & (xy[:, 1] > -0.5) & (xy[:, 0] < w - 0.5) & (xy[:, 1] < h - 0.5) & (joints[:, 2] > 0)
    cand = np.rint(xy).astype(np.int64)[:, None, :] + _NEIGHBOURS[None]  # (21, 9, 2)
    cx = np.clip(cand[..., 0], 0, w - 1)
    cy = np.clip(cand[..., 1], 0, h - 1)
    on_image = (cand[..., 0] == cx) & (cand[..., 1] == cy)  # (21, 9)
    seen = ids[cy, cx]  # (21, 9)
    own = (seen[..., None] == _accepted_table(hand)[:, None, :]).any(-1)  # (21, 9)
    near = depth[cy, cx] >= (joints[:, 2] - DEPTH_TOLERANCE * joint_radius)[:, None]
    return inside & (own & near & on_image).any(1)
