"""Linear-blend skinning: the rest mesh follows a posed skeleton of any proportions.

Each bone's matrix maps rest-pose points to posed points: into the rest bone's frame, scaled (along the bone by
the ratio of the two lengths, across it by the ratio of the flesh radii), out of the posed bone's frame. A joint is
the end of one bone and the start of the next; both matrices carry it to the same posed joint, so any blend of
them does too and the skinned skin stays attached to the keypoints. The same maths runs in the GL vertex shader;
``skin_points`` is its numpy twin, which the tests hold the skinning to.
"""

from __future__ import annotations

import logging

import numpy as np

from handpose.synth import kinematics as kin

LOG = logging.getLogger(__name__)


def radial_scale(shape: kin.HandShape) -> np.ndarray:
    """(B,) per-bone thickness relative to the average hand (fingers, thumb, palm, wrist and arm)."""
    mean = kin.mean_shape()
    s = np.ones(kin.NUM_BONES)
    for f in range(4):
        s[kin.finger_bone(f, 0) : kin.finger_bone(f, 2) + 1] = shape.finger_radius[f] / mean.finger_radius[f]
    s[kin.BONE_THUMB : kin.BONE_THUMB + 3] = shape.thumb_radius / mean.thumb_radius
    wrist = shape.wrist_radius / mean.wrist_radius
    s[kin.BONE_CARPAL] = s[kin.BONE_FOREARM] = wrist
    s[1:5] = 0.5 * (1.0 + wrist)
    return s


def bone_matrices(rest: kin.HandModel, posed: kin.HandModel, thickness: np.ndarray) -> np.ndarray:
    """(B, 4, 4) rest -> posed hand-frame transforms; ``thickness`` (B,) scales each bone across its axis."""
    along = posed.bone_length / np.maximum(rest.bone_length, 1e-9)  # (B,)
    S = np.zeros((len(along), 3, 3))
    S[:, 0, 0] = S[:, 2, 2] = thickness
    S[:, 1, 1] = along
    lin = posed.bone_rot @ S @ np.transpose(rest.bone_rot, (0, 2, 1))  # (B, 3, 3)
    M = np.zeros((len(along), 4, 4))
    M[:, :3, :3] = lin
    M[:, :3, 3] = posed.bone_origin - np.einsum("bij,bj->bi", lin, rest.bone_origin)
    M[:, 3, 3] = 1.0
    return M


def skin_points(points: np.ndarray, bones: np.ndarray, weights: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Blend (N, 3) rest points by (N, K) bone indices and weights through (B, 4, 4) matrices -> (N, 3)."""
    blended = np.einsum("nk,nkij->nij", weights, matrices[bones][:, :, :3, :])  # (N, 3, 4)
    return np.einsum("nij,nj->ni", blended[:, :, :3], points) + blended[:, :, 3]


# the bones each keypoint joins (its position must be the same under each of them)
JOINT_BONES: tuple[tuple[int, ...], ...] = (
    (kin.BONE_CARPAL, kin.BONE_FOREARM),
    (kin.BONE_THUMB,), (kin.BONE_THUMB, kin.BONE_THUMB + 1), (kin.BONE_THUMB + 1, kin.BONE_THUMB + 2),
    (kin.BONE_THUMB + 2,),
) + tuple(
    bones
    for f in range(4)
    for bones in ((1 + f, kin.finger_bone(f, 0)), (kin.finger_bone(f, 0), kin.finger_bone(f, 1)),
                  (kin.finger_bone(f, 1), kin.finger_bone(f, 2)), (kin.finger_bone(f, 2),))
)
