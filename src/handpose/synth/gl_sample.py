"""One single-hand training sample on the GL path: a skinned hand from the pose prior, maybe holding or behind an
object or beside a second hand, lit, over a photo / procedural / plain background, through camera effects.

Randomness as in ``generate``: streams (hand, look, background, occluders, effects) of ``(seed, index)``, so a
sample does not depend on the order or process it is made in. A draw whose hand shows no visible keypoint is
drawn again from the streams of ``(seed, index, attempt)``; the last attempt is a plain, centred palm view, so a
written sample always has a visible keypoint.
"""

from __future__ import annotations

import logging

import numpy as np

from handpose.synth import gl_scene
from handpose.synth.ablation import headlight
from handpose.synth.camera import PALM_VIEW
from handpose.synth.generate import SynthSample, _fraction
from handpose.synth.gl_render import get_renderer
from handpose.synth.looks import sample_lighting
from handpose.synth.photos import plain_background, sample_background
from handpose.synth.pose_prior import sample_view
from handpose.synth.scene import camera_effects, occluders
from handpose.synth.view import View, hand_id

LOG = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
SECOND_HAND_SHARE = 0.1
OCCLUDER_SHARE = 0.15


def _streams(seed: int, index: int, attempt: int) -> list[np.random.Generator]:
    key = [seed, index] if attempt == 0 else [seed, index, attempt]
    return [np.random.default_rng(c) for c in np.random.SeedSequence(key).spawn(5)]


def _second_hand(rng: np.random.Generator, H: np.ndarray, look_rng: np.random.Generator) -> gl_scene.HandInstance:
    """Another person's or the other hand, beside the first (its wrist 8-22 cm away, about as deep)."""
    other = gl_scene.sample_hand(rng)
    R, _ = sample_view(rng)
    H2 = np.eye(4)
    H2[:3, :3] = R
    offset = rng.normal(size=3) * np.array([1.0, 1.0, 0.4])
    H2[:3, 3] = H[:3, 3] + offset / np.linalg.norm(offset) * rng.uniform(8.0, 22.0)
    H2[2, 3] = max(H2[2, 3], 15.0)
    return gl_scene.instance(other, H2, bool(rng.random() < 0.5), look_rng)


def _attempt(seed: int, index: int, size: int, plain: bool, attempt: int, ablate: tuple[str, ...] = ()
             ) -> SynthSample:
    hand_rng, look_rng, bg_rng, occ_rng, fx_rng = _streams(seed, index, attempt)
    safe = attempt == MAX_ATTEMPTS - 1
    is_left = bool(hand_rng.random() < 0.5)
    hand = gl_scene.sample_hand(hand_rng, "open" if safe else None, uniform="pose-prior" in ablate)
    rotation = PALM_VIEW if safe else sample_view(hand_rng)[0]
    fraction = 0.5 if safe else _fraction(hand_rng)
    H, camera = gl_scene.hand_to_camera(hand, rotation, size, hand_rng, fraction)
    first = gl_scene.instance(hand, H, False, look_rng)  # left hands: the finished picture is mirrored
    hands, objects = [first], []
    held = gl_scene.held_instance(hand, H, False, look_rng)
    if held is not None:
        objects.append(held)
    if not (plain or safe):
        if occ_rng.random() < SECOND_HAND_SHARE:
            hands.append(_second_hand(occ_rng, H, look_rng))
        if occ_rng.random() < OCCLUDER_SHARE:
            objects.append(gl_scene.occluding_object(occ_rng, first.joints))
    xy = camera.project(first.joints)
    back = np.array(first.look.skin_back) ** (1 / 2.2) * 255.0
    if plain or safe:
        canvas = np.full((size, size, 3), 128, np.uint8)
    elif "backgrounds" in ablate:
        canvas = plain_background(bg_rng, size, size)
    else:
        centre = xy.mean(0)
        canvas, _ = sample_background(bg_rng, size, size, back[::-1], (float(centre[0]), float(centre[1])))
    lighting = headlight() if "lighting" in ablate else sample_lighting(look_rng, canvas)
    view = View(camera=camera, size=(size, size), hands=hands, objects=objects, lighting=lighting)
    rgba, ids, depth = get_renderer().render(view)
    image = gl_scene.composite(canvas, rgba)
    pts = gl_scene.keypoints(first, camera, ids, depth, 0)
    own = (ids >= hand_id(0, 0)) & (ids < hand_id(1, 0))
    hand_mask = own.copy()
    occ_mask = ids >= hand_id(1, 0)  # other hands and objects (ids above this hand's)
    if not (plain or safe) and occ_rng.random() < 0.2:  # flat things in front of the lens: a strap, a pen, a leaf
        lo = np.clip(xy.min(0), 0, size - 1)
        hi = np.clip(xy.max(0), 0, size - 1)
        flat = occluders(occ_rng, image, np.concatenate([lo, hi]), back[::-1]) > 127
        occ_mask |= flat
        hand_mask &= ~flat
        xi = np.clip(np.rint(pts[:, :2]).astype(np.int64), 0, size - 1)
        pts[flat[xi[:, 1], xi[:, 0]], 2] = 0.0
    if not (plain or safe):
        image = camera_effects(fx_rng, image)
    quality = int(fx_rng.integers(60, 96))
    right = SynthSample(image=image, hand_pts=pts, is_left=False, hand_mask=hand_mask, occluder_mask=occ_mask,
                        jpeg_quality=quality)
    return right.mirrored() if is_left else right


def render_gl_sample(seed: int, index: int, size: int = 368, plain: bool = False, ablate: tuple[str, ...] = ()
                     ) -> SynthSample:
    """Render sample ``index`` of the dataset with ``seed`` on the GL path (see the module docstring); ``ablate``:
    parts of the realism taken away (``synth.ablation``)."""
    for attempt in range(MAX_ATTEMPTS):
        sample = _attempt(seed, index, size, plain, attempt, ablate)
        if np.any(sample.hand_pts[:, 2] > 0):
            return sample
    raise RuntimeError(f"synthetic sample {index}: no visible keypoint after {MAX_ATTEMPTS} attempts")
