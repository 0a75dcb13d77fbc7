"""Skin-coloured hard negatives for detection scenes: shaded 3D heads (with hair and a neck, sometimes shoulders) and
bare limbs, drawn by the GL renderer as objects, so they light, shade and hide hands as the hands do.

A hand detector trained on renders where the only skin is the hands' own learns "skin means hand": on photographs of
people its false hands sit on faces, arms and legs. These shapes carry skin tones from the same range as the hands
(``scene.skin_tone``) and are labelled nothing. Sizes are in centimetres, placed in the camera frame (x right, y
down, z forward) by the pixel span they should cover.

Detectors fine-tuned with these shapes lost the small hands beside whole people in photographs; if hands placed
without regard to the heads were the cause, hands held where a person's hands are would help, so a scene can put its
hands there (:func:`beside_head`): at the scale of one of its heads, beside the face or down and out to an arm's
reach. Tried at 0.5, it did not (BENCHMARKS.md, "Detector trained with hands held beside the rendered heads").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from handpose.synth.camera import Camera, axis_angle
from handpose.synth.looks import to_linear
from handpose.synth.scene import random_color, skin_tone
from handpose.synth.view import ObjectInstance

HAIR_BGR = np.array([[20.0, 20.0, 25.0], [30.0, 45.0, 70.0], [60.0, 90.0, 130.0], [110.0, 170.0, 215.0],
                     [170.0, 170.0, 175.0], [40.0, 60.0, 140.0]])  # black, dark brown, brown, blond, grey, red
IRIS_BGR = np.array([[20.0, 35.0, 60.0], [30.0, 60.0, 100.0], [140.0, 110.0, 70.0], [80.0, 120.0, 90.0]])  # dark
# brown, brown, blue, green
HEAD_CM = np.array([7.5, 11.5, 9.5])  # half width, half height, half depth of an adult head
ARM_RADIUS_CM = (3.0, 5.5)  # a forearm's to a thigh's
MIN_SPAN_PX = 16.0
MIN_HAND_SPAN_PX = 12.0  # the scenes' smallest hand (``scenes.MIN_SPAN_PX``)
HAND_PER_HEAD = (0.6, 0.9)  # a hand's keypoint span over its owner's head height (an adult's: about 19 / 23 cm)
BESIDE_X = (0.6, 3.0)  # a held hand's centre from its head's, sideways, in head heights (either side)
BESIDE_Y = (-0.8, 4.5)  # and downwards: raised beside the face to an arm's length below it
_X, _Y, _Z = np.eye(3)


@dataclass(frozen=True)
class HeadSpot:
    """Where a drawn head is: ``centre`` (3,) camera frame cm, ``half_height`` cm."""

    centre: np.ndarray
    half_height: float


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """(3, 3) rotation: roll about z, then pitch about x, then yaw about y (degrees)."""
    return axis_angle(_Y, yaw) @ axis_angle(_X, pitch) @ axis_angle(_Z, roll)


def _model(centre: np.ndarray, rot: np.ndarray, half: np.ndarray) -> np.ndarray:
    """(4, 4) object -> camera for a unit mesh scaled by ``half`` (3,), turned by ``rot`` and moved to ``centre``."""
    M = np.eye(4)
    M[:3, :3] = rot @ np.diag(half)
    M[:3, 3] = centre
    return M


def _solid(name: str, model: np.ndarray, color_lin: np.ndarray, spec: float) -> ObjectInstance:
    """One plain-coloured object."""
    return ObjectInstance(name=name, model=model, color=color_lin, color2=color_lin, pattern=0, spec=spec)


def _anchor(rng: np.random.Generator, camera: Camera, size: tuple[int, int], extent_cm: float) -> np.ndarray:
    """(3,) a camera-frame point at a random pixel whose depth makes ``extent_cm`` span 16 px to most of the frame."""
    width, height = size
    span = float(np.exp(rng.uniform(np.log(MIN_SPAN_PX), np.log(0.7 * min(width, height)))))
    depth = max(camera.f * extent_cm / span, 15.0)
    return camera.point_at(rng.uniform([0.0, 0.0], [width, height]), depth)


def _on_head(centre: np.ndarray, rot: np.ndarray, half: np.ndarray, direction: tuple[float, float, float],
             depth: float = 1.0) -> np.ndarray:
    """(3,) camera-frame point on the head ellipsoid (``half``, turned by ``rot``) along a head-frame direction
    (x right, y down, z back: the face looks along -z), ``depth`` times out from the centre."""
    d = np.asarray(direction, float)
    return centre + rot @ (half * depth * d / np.linalg.norm(d))


def face(rng: np.random.Generator, centre: np.ndarray, rot: np.ndarray, half: np.ndarray, skin_lin: np.ndarray,
         hair_lin: np.ndarray) -> list[ObjectInstance]:
    """What makes a head a face and not a smooth skin blob: ears, a nose, eyes (white, iris), eyebrows in the
    hair's colour and lips, small ellipsoids set into the head's surface so they turn with it."""
    spec = 0.15
    iris = to_linear(IRIS_BGR[int(rng.integers(0, len(IRIS_BGR)))] * rng.uniform(0.8, 1.2))
    lips = skin_lin * np.array([1.0, 0.55, 0.6]) * rng.uniform(0.7, 1.0)  # linear RGB: redder and darker
    wide = float(rng.uniform(0.32, 0.4))  # eye spacing, a share of the head's half width
    parts = [_solid("sphere", _model(_on_head(centre, rot, half, (0.0, 0.15, -1.0), 0.97), rot,
                                     np.array([0.9, 2.0, 1.4]) * rng.uniform(0.85, 1.15)), skin_lin * 0.95, spec),
             _solid("sphere", _model(_on_head(centre, rot, half, (0.0, 0.5, -0.85), 0.96), rot,
                                     np.array([2.2, 0.55, 0.8]) * rng.uniform(0.85, 1.15)), lips, 0.3)]
    for side in (-1.0, 1.0):
        eye = (side * wide, -0.08, -0.93)
        parts += [_solid("sphere", _model(_on_head(centre, rot, half, (side, 0.05, 0.05), 0.97), rot,
                                          np.array([0.7, 2.6, 1.3])), skin_lin * 0.95, spec),
                  _solid("sphere", _model(_on_head(centre, rot, half, eye, 0.97), rot, np.array([1.2, 0.6, 0.5])),
                         np.full(3, 0.75), 0.4),
                  _solid("sphere", _model(_on_head(centre, rot, half, eye, 1.0), rot, np.array([0.5, 0.5, 0.35])),
                         iris, 0.5),
                  _solid("box", _model(_on_head(centre, rot, half, (side * wide, -0.32, -0.9), 0.98), rot,
                                       np.array([1.6, 0.25, 0.4])), hair_lin, 0.05)]
    return parts


def head(rng: np.random.Generator, camera: Camera, size: tuple[int, int], skin_lin: np.ndarray
         ) -> list[ObjectInstance]:
    """A head (skin ellipsoid) with a face (:func:`face`), its hair (a larger ellipsoid set up and back, behind the
    face, or none: bald), a neck and, half the time, shoulders in a garment's colour, turned by a random yaw, a
    little pitch and roll."""
    half = HEAD_CM * rng.uniform(0.8, 1.1) * np.array([rng.uniform(0.92, 1.08), 1.0, 1.0])
    centre = _anchor(rng, camera, size, 2.0 * float(half[1]))
    rot = _rotation(rng.uniform(-75.0, 75.0), rng.uniform(-20.0, 20.0), rng.uniform(-17.0, 17.0))
    spec = float(rng.uniform(0.05, 0.3))
    parts = [_solid("sphere", _model(centre, rot, half), skin_lin, spec)]
    hair = to_linear(HAIR_BGR[int(rng.integers(0, len(HAIR_BGR)))] * rng.uniform(0.8, 1.2))
    if rng.random() < 0.9:  # up and back, far enough back that the eyes stay in front of it
        offset = rot @ (half * np.array([0.0, -rng.uniform(0.12, 0.3), rng.uniform(0.3, 0.4)]))
        parts.append(_solid("sphere", _model(centre + offset, rot, half * rng.uniform(1.03, 1.12)), hair, 0.1))
    parts += face(rng, centre, rot, half, skin_lin, hair)
    down = rot @ np.array([0.0, 1.0, 0.0])
    neck = np.array([0.45, 0.7, 0.45]) * half[[0, 1, 0]]
    parts.append(_solid("cylinder", _model(centre + down * (half[1] + 0.4 * neck[1]), rot, neck), skin_lin * 0.9,
                        spec))
    if rng.random() < 0.5:
        cloth = to_linear(np.array(random_color(rng), float))
        body = half * np.array([2.6, 1.4, 1.2])
        parts.append(_solid("box", _model(centre + down * (half[1] + 1.1 * neck[1] + body[1]), rot, body), cloth,
                            float(rng.uniform(0.0, 0.15))))
    return parts


def limb(rng: np.random.Generator, camera: Camera, size: tuple[int, int], skin_lin: np.ndarray) -> ObjectInstance:
    """A bare arm or leg: a skin-coloured cylinder 25-45 cm long at any angle in the picture."""
    radius = float(rng.uniform(*ARM_RADIUS_CM))
    length = float(rng.uniform(12.0, 22.0))  # half length
    centre = _anchor(rng, camera, size, 2.0 * length)
    rot = _rotation(rng.uniform(-70.0, 70.0), rng.uniform(-45.0, 45.0), rng.uniform(0.0, 360.0))
    flat = float(rng.uniform(0.75, 1.0))
    return _solid("cylinder", _model(centre, rot, np.array([radius, length, radius * flat])), skin_lin,
                  float(rng.uniform(0.05, 0.3)))


def skin_distractors(rng: np.random.Generator, camera: Camera, size: tuple[int, int]
                     ) -> tuple[list[ObjectInstance], list[HeadSpot]]:
    """1 to 3 heads and limbs for one scene, each with its own skin tone; and where its heads are."""
    out: list[ObjectInstance] = []
    heads: list[HeadSpot] = []
    for _ in range(int(rng.integers(1, 4))):
        back, _palm = skin_tone(rng)
        skin_lin = to_linear(back)
        if rng.random() < 0.6:
            parts = head(rng, camera, size, skin_lin)
            scaled = parts[0].model[:3, :3]  # (3, 3) rotation times the head's half extents
            heads.append(HeadSpot(parts[0].model[:3, 3].copy(), float(np.linalg.norm(scaled[:, 1]))))
            out += parts
        else:
            out.append(limb(rng, camera, size, skin_lin))
    return out, heads


def beside_head(rng: np.random.Generator, camera: Camera, size: tuple[int, int], spot: HeadSpot
                ) -> tuple[np.ndarray, float]:
    """(pixel (2,), span px) for a hand held where a person's hands are: its keypoints spanning ``HAND_PER_HEAD``
    of the head's height in pixels (so at about the head's depth), its centre beside the face or down and out to
    an arm's reach (``BESIDE_X``, ``BESIDE_Y`` head heights), kept inside the frame."""
    width, height = size
    head_px = camera.f * 2.0 * spot.half_height / max(float(spot.centre[2]), 1e-6)
    side = 1.0 if rng.random() < 0.5 else -1.0
    offset = np.array([side * rng.uniform(*BESIDE_X), rng.uniform(*BESIDE_Y)]) * head_px
    pixel = camera.project(spot.centre[None])[0] + offset
    pixel = np.clip(pixel, [0.05 * width, 0.05 * height], [0.95 * width, 0.95 * height])
    return pixel, float(max(head_px * rng.uniform(*HAND_PER_HEAD), MIN_HAND_SPAN_PX))
