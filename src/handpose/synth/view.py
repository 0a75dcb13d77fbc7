"""What one GL rendering draws, independent of how: posed hands, rigid objects, lights and the camera.

IDs in the renderer's ID buffer: 0 background, ``hand_id(h, bone)`` for bone ``bone`` of hand ``h``,
``OBJECT_ID0 + k`` for object ``k``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from handpose.synth.camera import Camera

LOG = logging.getLogger(__name__)

BONES_PER_HAND_ID = 32
OBJECT_ID0 = 1000
NO_SLEEVE_CM = 1.0e4


def hand_id(hand: int, bone: int | np.ndarray) -> int | np.ndarray:
    """ID-buffer value of ``bone`` of hand number ``hand``."""
    return 1 + BONES_PER_HAND_ID * hand + bone


@dataclass
class HandLook:
    """Colours (linear RGB 0..1) and accessories of one hand."""

    skin_back: np.ndarray
    skin_palm: np.ndarray
    nail: np.ndarray
    detail: np.ndarray  # (3,) mottling, veins, creases strength
    spec: float = 0.25
    sleeve_start: float = NO_SLEEVE_CM  # cm up the forearm where the sleeve begins
    sleeve_puff: float = 0.0  # cm the sleeve stands off the skin
    sleeve: np.ndarray = field(default_factory=lambda: np.full(3, 0.2))
    cuff: np.ndarray = field(default_factory=lambda: np.full(3, 0.2))
    cuff_len: float = 0.0
    glove: bool = False
    band: tuple[float, float] = (NO_SLEEVE_CM, NO_SLEEVE_CM)  # watch strap from / to cm up the forearm
    band_color: np.ndarray = field(default_factory=lambda: np.full(3, 0.05))
    band_puff: float = 0.0
    ring_bone: int = -1
    ring_centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    ring_axis: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    ring_color: np.ndarray = field(default_factory=lambda: np.array([0.8, 0.6, 0.25]))


@dataclass
class HandInstance:
    """A posed hand: rest-mesh -> camera matrices per bone, its keypoints and look."""

    matrices: np.ndarray  # (21, 4, 4) rest hand frame -> camera frame
    joints: np.ndarray  # (21, 3) camera frame, CMU order
    joint_radius: np.ndarray  # (21,) flesh radius around each keypoint, cm
    is_left: bool
    look: HandLook


@dataclass
class ObjectInstance:
    """A rigid object: one of ``objects.object_meshes()`` placed by ``model`` (object -> camera, with scale)."""

    name: str
    model: np.ndarray  # (4, 4)
    color: np.ndarray  # linear RGB
    color2: np.ndarray
    pattern: int = 0  # 0 plain, 1 stripes, 2 screen
    spec: float = 0.2


@dataclass
class Lighting:
    """Directional lights (towards the light, camera frame) and a hemisphere ambient, linear RGB."""

    directions: np.ndarray  # (3, 3)
    colors: np.ndarray  # (3, 3), zero rows are lights that are off
    ambient_top: np.ndarray  # (3,)
    ambient_bottom: np.ndarray  # (3,)


@dataclass
class View:
    """Everything one GL rendering draws."""

    camera: Camera
    size: tuple[int, int]  # (width, height)
    hands: list[HandInstance]
    objects: list[ObjectInstance]
    lighting: Lighting
