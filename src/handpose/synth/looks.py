"""How a hand looks and how it is lit: skin tone over the whole human range, nails, skin detail, sleeves (bare
arm, short, long, cuffs, now and then a glove), watches and rings; coloured lights and an ambient taken from the
background's colours. Colours are linear RGB in 0..1 (the shaders' space).
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth.scene import random_color, skin_tone
from handpose.synth.view import NO_SLEEVE_CM, HandLook, Lighting

LOG = logging.getLogger(__name__)


def to_linear(bgr: np.ndarray) -> np.ndarray:
    """BGR 0..255 (display) -> linear RGB 0..1."""
    return (np.clip(np.asarray(bgr, float)[..., ::-1], 0, 255) / 255.0) ** 2.2


def _cloth(rng: np.random.Generator) -> np.ndarray:
    return to_linear(np.array(random_color(rng), float))


def sample_look(rng: np.random.Generator, rest: kin.HandModel) -> HandLook:
    """A random look for one hand (``rest``: the rest skeleton, where a ring sits)."""
    back, palm = skin_tone(rng)
    skin_back, skin_palm = to_linear(back), to_linear(palm)
    nail = to_linear(0.55 * back + 0.45 * np.array([205.0, 210.0, 235.0]) + rng.normal(0, 6, 3))
    if rng.random() < 0.12:  # painted nails
        nail = to_linear(np.array(random_color(rng), float)) * 0.8
    light_skin = float(back.mean()) / 255.0
    look = HandLook(
        skin_back=skin_back, skin_palm=skin_palm, nail=nail,
        detail=np.array([rng.uniform(0.05, 0.35), rng.uniform(0.0, 0.7) * light_skin, rng.uniform(0.15, 0.6)]),
        spec=float(rng.uniform(0.08, 0.4)),
    )
    r = rng.random()
    if r < 0.3:  # bare arm
        pass
    elif r < 0.45:  # short sleeve
        look.sleeve_start, look.sleeve_puff = float(rng.uniform(17.0, 24.0)), float(rng.uniform(0.3, 1.0))
    else:  # long sleeve, sometimes with a cuff in another colour
        look.sleeve_start, look.sleeve_puff = float(rng.uniform(1.0, 10.0)), float(rng.uniform(0.2, 0.9))
        if rng.random() < 0.3:
            look.cuff_len = float(rng.uniform(1.0, 3.0))
    look.sleeve = _cloth(rng)
    look.cuff = _cloth(rng) if look.cuff_len > 0 and rng.random() < 0.6 else look.sleeve * 0.85
    if rng.random() < 0.03:
        look.glove, look.sleeve_start = True, min(look.sleeve_start, float(rng.uniform(1.0, 6.0)))
    if rng.random() < 0.15 and look.sleeve_start > 5.0:  # a watch or bracelet
        a = float(rng.uniform(1.5, 3.5))
        look.band = (a, a + float(rng.uniform(1.2, 3.0)))
        look.band_puff = float(rng.uniform(0.25, 0.6))
        look.band_color = to_linear(np.array(random_color(rng), float)) * rng.uniform(0.3, 1.0)
    if rng.random() < 0.1:  # a ring on a proximal phalanx
        f = int(rng.integers(0, 4))
        b = kin.finger_bone(f, 0)
        look.ring_bone = b
        look.ring_centre = rest.bone_origin[b] + rest.bone_rot[b][:, 1] * rest.bone_length[b] * 0.4
        look.ring_axis = rest.bone_rot[b][:, 1]
        look.ring_color = np.array([0.75, 0.55, 0.2]) if rng.random() < 0.5 else np.array([0.6, 0.6, 0.62])
    if look.sleeve_start >= NO_SLEEVE_CM:
        look.sleeve_puff = 0.0
    return look


def _direction(rng: np.random.Generator, towards_camera: float) -> np.ndarray:
    """A unit direction towards a light, on the camera's side with probability ``towards_camera``."""
    d = rng.normal(size=3)
    d[2] = -abs(d[2]) - 0.3 if rng.random() < towards_camera else abs(d[2])
    return d / np.linalg.norm(d)


def sample_lighting(rng: np.random.Generator, background_bgr: np.ndarray) -> Lighting:
    """A key light, maybe a coloured fill and a rim light; the ambient is the background's top and bottom colour
    (the light that bounces off the room), a little brighter or darker."""
    halves = cv2.resize(background_bgr, (1, 2), interpolation=cv2.INTER_AREA).astype(np.float64)  # (2, 1, 3)
    top, bottom = to_linear(halves[0, 0]), to_linear(halves[1, 0])
    amb = float(rng.uniform(0.35, 1.1))
    dirs = np.zeros((3, 3))
    cols = np.zeros((3, 3))
    warmth = rng.uniform(-0.25, 0.25)
    key = float(rng.uniform(0.5, 1.3))
    dirs[0], cols[0] = _direction(rng, 0.9), key * np.array([1.0 + warmth, 1.0, 1.0 - warmth])
    if rng.random() < 0.7:
        dirs[1], cols[1] = _direction(rng, 0.7), rng.uniform(0.05, 0.5) * rng.uniform(0.6, 1.2, 3)
    if rng.random() < 0.4:
        dirs[2], cols[2] = _direction(rng, 0.1), rng.uniform(0.2, 0.9) * rng.uniform(0.7, 1.1, 3)
    return Lighting(directions=dirs, colors=cols, ambient_top=top * amb + 0.02,
                    ambient_bottom=bottom * amb * 0.7 + 0.02)
