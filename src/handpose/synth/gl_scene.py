"""Building blocks shared by single-hand samples and multi-hand scenes on the GL path: a random posed hand as a
``HandInstance``, the objects around it, compositing the rendering over a background, and the labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth import pose_prior
from handpose.synth.camera import Camera, place_hand
from handpose.synth.labels import visibility
from handpose.synth.looks import sample_look, to_linear
from handpose.synth.mesh import rest_mesh
from handpose.synth.scene import random_color
from handpose.synth.skinning import bone_matrices, radial_scale
from handpose.synth.view import HandInstance, ObjectInstance

LOG = logging.getLogger(__name__)

MIRROR = np.diag([-1.0, 1.0, 1.0, 1.0])  # a right hand's mirror image is a left hand


@dataclass
class PosedHand:
    """A sampled hand in its own frame: proportions, pose, the shape's name, the skeleton and a held object."""

    shape: kin.HandShape
    model: kin.HandModel
    name: str
    held: pose_prior.HeldObject | None


def sample_hand(rng: np.random.Generator, shape_name: str | None = None, uniform: bool = False) -> PosedHand:
    """A random hand from the pose prior (or the named shape, without noise; ``uniform``: joint angles uniform
    within their limits instead of the prior, and no held object)."""
    shape = kin.sample_shape(rng)
    if uniform and shape_name is None:
        return PosedHand(shape=shape, model=kin.build_hand(shape, kin.sample_pose(rng)), name="uniform", held=None)
    if shape_name is None:
        pose, name = pose_prior.sample_pose(rng)
    else:
        pose, name = pose_prior.named_pose(shape_name), shape_name
    held = pose_prior.held_object(name, shape, rng)
    return PosedHand(shape=shape, model=kin.build_hand(shape, pose), name=name, held=held)


def hand_to_camera(hand: PosedHand, rotation: np.ndarray, size: int, rng: np.random.Generator, fraction: float
                   ) -> tuple[np.ndarray, Camera]:
    """(4, 4) hand frame -> camera frame and a camera, with the hand spanning about ``fraction`` of ``size``."""
    pts = np.concatenate([hand.model.joints, np.zeros((1, 3))])  # the origin last: its image is the translation
    cam, camera = place_hand(pts, rotation, size, rng, fraction)
    H = np.eye(4)
    H[:3, :3] = rotation
    H[:3, 3] = cam[-1]
    return H, camera


def instance(hand: PosedHand, H: np.ndarray, is_left: bool, look_rng: np.random.Generator) -> HandInstance:
    """The renderer's view of a posed hand placed by ``H`` (hand -> camera); left hands are mirrored in x."""
    mesh = rest_mesh()
    place = H @ MIRROR if is_left else H
    matrices = place @ bone_matrices(mesh.rest, hand.model, radial_scale(hand.shape))  # (21, 4, 4)
    joints = hand.model.joints @ place[:3, :3].T + place[:3, 3]  # (21, 3)
    return HandInstance(matrices=matrices, joints=joints, joint_radius=hand.model.joint_radius, is_left=is_left,
                        look=sample_look(look_rng, mesh.rest))


def held_instance(hand: PosedHand, H: np.ndarray, is_left: bool, rng: np.random.Generator) -> ObjectInstance | None:
    """The hand's held object in the camera frame (None when it holds nothing)."""
    if hand.held is None:
        return None
    place = H @ MIRROR if is_left else H
    return random_object(hand.held.name, place @ hand.held.transform, rng)


def random_object(name: str, model: np.ndarray, rng: np.random.Generator) -> ObjectInstance:
    """An object with random colours and pattern (a phone gets a dark body and a screen)."""
    color = to_linear(np.array(random_color(rng), float))
    color2 = to_linear(np.array(random_color(rng), float))
    pattern = int(rng.random() < 0.3)
    if name == "phone":
        color = to_linear(np.full(3, rng.uniform(10, 80)))
        color2 = to_linear(np.array([rng.uniform(20, 120), rng.uniform(20, 120), rng.uniform(20, 160)]))
        pattern = 2
    return ObjectInstance(name=name, model=model, color=color, color2=color2, pattern=pattern,
                          spec=float(rng.uniform(0.05, 0.8)))


def occluding_object(rng: np.random.Generator, joints: np.ndarray) -> ObjectInstance:
    """A ball, rod or box between the camera and a random keypoint of ``joints`` (21, 3) camera frame."""
    name = ("sphere", "cylinder", "box")[int(rng.integers(0, 3))]
    centre = joints[int(rng.integers(0, 21))] * rng.uniform(0.7, 0.95)
    size = rng.uniform(0.6, 3.0) * np.array([1.0, rng.uniform(1.0, 8.0), 1.0])
    if name == "sphere":
        size = np.full(3, size[0] * 1.5)
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                  [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                  [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
    M = np.eye(4)
    M[:3, :3] = R @ np.diag(size)
    M[:3, 3] = centre
    return random_object(name, M, rng)


def composite(background: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    """The rendering (H, W, 4) RGBA over ``background`` (H, W, 3) BGR uint8, silhouettes softened by a slight blur
    of premultiplied colour and coverage together (a cheap stand-in for multisampling); returns BGR uint8."""
    col = cv2.GaussianBlur(np.ascontiguousarray(rgba[..., 2::-1]), (3, 3), 0.55)  # (H, W, 3) BGR premultiplied
    alpha = cv2.GaussianBlur(np.ascontiguousarray(rgba[..., 3]), (3, 3), 0.55)
    keep = cv2.cvtColor(255 - alpha, cv2.COLOR_GRAY2BGR)
    return cv2.add(cv2.multiply(background, keep, scale=1.0 / 255.0), col)


def keypoints(hand: HandInstance, camera: Camera, ids: np.ndarray, depth: np.ndarray, index: int) -> np.ndarray:
    """(21, 3) float32 [x, y, v] of hand number ``index`` in the rendered buffers."""
    xy = camera.project(hand.joints)  # (21, 2)
    vis = visibility(xy, hand.joints, hand.joint_radius, ids, depth, index)
    return np.concatenate([xy, vis[:, None]], 1).astype(np.float32)
