"""One synthetic sample in memory: a posed hand in front of a random camera, rendered into a random scene.

Every random choice of sample ``index`` comes from ``np.random.SeedSequence([seed, index])``, split into
independent streams (hand, look, background, occluders, camera effects), so a sample is the same whatever the
order or the process it is made in, and ``plain=True`` renders exactly the same hand and light on a flat grey
background without occluders or camera effects (the hook the label tests use).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth.camera import PALM_VIEW, Camera, place_hand, sample_orientation
from handpose.synth.render import Light, render_capsules, shade, upsample_region
from handpose.synth.scene import background, camera_effects, occluders, random_color, random_light, skin_tone

LOG = logging.getLogger(__name__)

# bumped whenever the same (seed, index) renders a different picture; caches of rendered datasets key on it
# (together with the renderer that ran, 'gl' or 'fallback': see gl_context.resolve_renderer)
RENDERER_VERSION = "2"
SYNTH_VERSION = int(RENDERER_VERSION)  # the same number, as the int older json files carry

_NEIGHBOURS = np.array([(dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
VISIBILITY_TOLERANCE = 1.25  # a joint is visible when the nearest surface at its pixel is within this many radii


@dataclass
class SynthSample:
    """One rendered sample (before JPEG encoding). Masks are in the final (mirrored, for left hands) image."""

    image: np.ndarray  # (S, S, 3) uint8 BGR
    hand_pts: np.ndarray  # (21, 3) float32 [x, y, v], CMU order
    is_left: bool
    hand_mask: np.ndarray  # (S, S) bool: the hand (or its arm) is the nearest surface
    occluder_mask: np.ndarray  # (S, S) bool: an object in front of everything (2D occluders and 3D objects)
    jpeg_quality: int

    def mirrored(self) -> SynthSample:
        """The mirror image, labels and masks mirrored with it (x -> S - 1 - x): how a left hand is made from a
        right one (both renderers draw right hands)."""
        pts = self.hand_pts.copy()
        pts[:, 0] = self.image.shape[1] - 1 - pts[:, 0]
        return SynthSample(image=cv2.flip(self.image, 1), hand_pts=pts, is_left=not self.is_left,
                           hand_mask=self.hand_mask[:, ::-1].copy(), occluder_mask=self.occluder_mask[:, ::-1].copy(),
                           jpeg_quality=self.jpeg_quality)


@dataclass
class HandScene:
    """The 3D part of a sample: capsules in the camera frame, their colours, the joints and the camera."""

    cap_a: np.ndarray  # (M, 3)
    cap_b: np.ndarray
    cap_ra: np.ndarray  # (M,)
    cap_rb: np.ndarray
    colors: np.ndarray  # (M, 3) BGR
    tint_colors: np.ndarray  # (M, 3) BGR colour of palm-facing surfaces
    num_hand: int  # capsules [0, num_hand) are the hand and arm, the rest are objects
    joints: np.ndarray  # (21, 3) camera frame
    joint_radius: np.ndarray  # (21,)
    palm_normal: np.ndarray  # (3,) camera frame
    camera: Camera
    light: Light
    skin_noise: np.ndarray  # (6, 6) float32 around 1: blotchy brightness of the skin, stretched over the hand
    nails: np.ndarray  # (M, 3) camera-frame back of each fingertip capsule (zero elsewhere)
    nail_color: np.ndarray  # (3,) BGR


def _fraction(rng: np.random.Generator) -> float:
    """How much of the image side the hand spans: mostly 0.3-0.8, sometimes small, sometimes cut by the border."""
    r = rng.random()
    if r < 0.75:
        return float(rng.uniform(0.3, 0.8))
    if r < 0.9:
        return float(rng.uniform(0.12, 0.3))
    return float(rng.uniform(0.8, 1.2))


def build_scene(hand_rng: np.random.Generator, look_rng: np.random.Generator, size: int,
                shape: kin.HandShape | None = None, pose: kin.HandPose | None = None,
                rotation: np.ndarray | None = None, fraction: float | None = None) -> HandScene:
    """Pose a random hand (or the given one), place it before a random camera, choose colours and the light."""
    shape = shape if shape is not None else kin.sample_shape(hand_rng)
    pose = pose if pose is not None else kin.sample_pose(hand_rng)
    rotation = rotation if rotation is not None else sample_orientation(hand_rng)
    fraction = fraction if fraction is not None else _fraction(hand_rng)
    hand = kin.build_hand(shape, pose)
    m = len(hand.cap_ra)
    pts = np.concatenate([hand.joints, hand.cap_a, hand.cap_b])
    cam_pts, camera = place_hand(pts, rotation, size, hand_rng, fraction)
    joints, a, b = cam_pts[:21], cam_pts[21 : 21 + m], cam_pts[21 + m :]
    ra, rb = hand.cap_ra, hand.cap_rb

    back, palm = skin_tone(look_rng)
    colors = np.repeat(back[None], m, 0)
    tints = np.repeat(palm[None], m, 0)
    colors[hand.cap_part == kin.PART_PALM] *= look_rng.uniform(0.95, 1.05)
    forearm = hand.cap_part == kin.PART_FOREARM
    tints[forearm] = 0.5 * (back + palm)
    sleeve = hand.cap_part == kin.PART_SLEEVE
    colors[sleeve] = tints[sleeve] = random_color(look_rng)
    light = random_light(look_rng)
    nails = hand.cap_nail @ rotation.T
    nail_color = np.clip(0.55 * back + 0.45 * np.array([215.0, 215.0, 240.0]) + look_rng.normal(0, 8, 3), 0, 255)
    skin_noise = 1.0 + (look_rng.random((6, 6), dtype=np.float32) - 0.5) * np.float32(look_rng.uniform(0.0, 0.3))

    if look_rng.random() < 0.15:  # a 3D object (ball, rod, cup) between the camera and the hand
        j = joints[look_rng.integers(0, 21)]
        centre = j * look_rng.uniform(0.75, 0.95)
        d = look_rng.normal(size=3)
        d *= look_rng.uniform(0.0, 12.0) / (np.linalg.norm(d) + 1e-9)
        r = look_rng.uniform(0.6, 3.0)
        col = np.array(random_color(look_rng), np.float64)
        a = np.concatenate([a, (centre - d)[None]])
        b = np.concatenate([b, (centre + d)[None]])
        ra, rb = np.append(ra, r), np.append(rb, r * look_rng.uniform(0.7, 1.3))
        colors, tints = np.concatenate([colors, col[None]]), np.concatenate([tints, col[None]])

    return HandScene(
        cap_a=a, cap_b=b, cap_ra=ra, cap_rb=rb, colors=colors, tint_colors=tints, num_hand=m, joints=joints,
        joint_radius=hand.joint_radius, palm_normal=rotation @ np.array([0.0, 0.0, 1.0]), camera=camera, light=light,
        skin_noise=skin_noise, nails=np.concatenate([nails, np.zeros((len(ra) - len(nails), 3))]),
        nail_color=nail_color,
    )


def render_scene(scene: HandScene, canvas: np.ndarray, factor: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                  np.ndarray]:
    """Draw the scene over ``canvas`` (S, S, 3) uint8 (in place) and label the joints.

    Returns (hand_pts (21, 3) float32, hand mask (S, S) bool, object mask (S, S) bool, joint pixel (21, 2)).
    """
    size = canvas.shape[0]
    buf = render_capsules(scene.cap_a, scene.cap_b, scene.cap_ra, scene.cap_rb, scene.camera, size, factor)
    premult, cov = shade(buf, scene.colors, scene.light, scene.palm_normal, scene.tint_colors, scene.nails,
                         scene.nail_color)
    if premult.size:
        premult *= cv2.resize(scene.skin_noise, (premult.shape[1], premult.shape[0]),
                              interpolation=cv2.INTER_CUBIC)[..., None]
    hand_mask = np.zeros((size, size), bool)
    obj_mask = np.zeros((size, size), bool)
    region = upsample_region(premult, cov, buf.box, factor, size)
    if region is not None:
        (Y0, Y1, X0, X1), col, alpha = region
        keep = cv2.cvtColor(255 - alpha, cv2.COLOR_GRAY2BGR)  # (H, W, 3) how much background shows
        win = canvas[Y0:Y1, X0:X1]
        canvas[Y0:Y1, X0:X1] = cv2.add(cv2.multiply(win, keep, scale=1.0 / 255.0), col)
        y0, y1, x0, x1 = buf.box
        ids = buf.ids[y0:y1, x0:x1]
        dsize = ((x1 - x0) * factor, (y1 - y0) * factor)
        for full, part in ((hand_mask, (ids >= 0) & (ids < scene.num_hand)), (obj_mask, ids >= scene.num_hand)):
            up = cv2.resize(part.view(np.uint8), dsize, interpolation=cv2.INTER_NEAREST)
            full[Y0:Y1, X0:X1] = up[: Y1 - Y0, : X1 - X0] > 0

    xy = scene.camera.project(scene.joints)  # (21, 2) image px
    u = (xy + 0.5) / factor - 0.5  # (21, 2) internal px
    n = buf.depth.shape[0]
    inside = (xy[:, 0] > -0.5) & (xy[:, 1] > -0.5) & (xy[:, 0] < size - 0.5) & (xy[:, 1] < size - 0.5)
    inside &= scene.joints[:, 2] > 0
    # the surface seen at the joint: the nearest covered pixel of the 3 x 3 around it (thin tips can fall between
    # pixel centres)
    cand = np.rint(u).astype(np.int64)[:, None, :] + _NEIGHBOURS[None]  # (21, 9, 2)
    cand = np.minimum(np.maximum(cand, 0), n - 1)
    ids9 = buf.ids[cand[..., 1], cand[..., 0]]  # (21, 9)
    dist = np.where(ids9 >= 0, ((cand - u[:, None, :]) ** 2).sum(-1), np.inf)
    pick = cand[np.arange(21), np.argmin(dist, axis=1)]  # (21, 2)
    front = buf.depth[pick[:, 1], pick[:, 0]]
    ids = buf.ids[pick[:, 1], pick[:, 0]]
    # the nearest surface at the joint's pixel may lie up to (tolerance x radius) in front of the joint, more on a
    # capsule tilted towards the camera (whose surface lies deeper in front of its axis)
    stretch = buf.stretch[np.maximum(ids, 0)]
    near_enough = front >= scene.joints[:, 2] - VISIBILITY_TOLERANCE * scene.joint_radius * stretch
    visible = inside & near_enough & (ids < scene.num_hand)
    pts = np.concatenate([xy, visible[:, None]], 1).astype(np.float32)
    return pts, hand_mask, obj_mask, xy


def streams(seed: int, index: int, attempt: int = 0) -> list[np.random.Generator]:
    """Five independent generators (hand, look, background, occluders, effects) for sample ``index`` (a redraw
    ``attempt`` > 0 gets streams of its own)."""
    children = np.random.SeedSequence([seed, index] if attempt == 0 else [seed, index, attempt]).spawn(5)
    return [np.random.default_rng(c) for c in children]


MAX_ATTEMPTS = 8


def render_sample(seed: int, index: int, size: int = 368, plain: bool = False,
                  renderer: str = "auto", ablate: tuple[str, ...] = ()) -> SynthSample:
    """Render sample ``index`` of the dataset with ``seed`` in memory.

    ``renderer``: 'gl' (the skinned mesh through OpenGL, ``gl_sample``), 'fallback' (the capsule renderer below)
    or 'auto' (GL where a context can be made). ``plain`` keeps the same hand, camera and light but uses a flat
    grey background and no occluders, blur or noise (for tests that compare the labels with the picture). A hand
    with no visible keypoint is drawn again (``streams`` of the next attempt), so every sample has at least one.
    ``ablate`` (GL only): parts of the realism taken away (``synth.ablation``).
    """
    from handpose.synth.gl_context import resolve_renderer

    if resolve_renderer(renderer) == "gl":
        from handpose.synth.gl_sample import render_gl_sample

        return render_gl_sample(seed, index, size, plain, ablate)
    if ablate:
        raise ValueError(f"--ablate {','.join(ablate)} needs the GL renderer; the capsule renderer has no such parts")
    for attempt in range(MAX_ATTEMPTS):
        sample = _capsule_sample(seed, index, size, plain, attempt)
        if np.any(sample.hand_pts[:, 2] > 0):
            return sample
    raise RuntimeError(f"synthetic sample {index}: no visible keypoint after {MAX_ATTEMPTS} attempts")


def _capsule_sample(seed: int, index: int, size: int, plain: bool, attempt: int) -> SynthSample:
    """One draw of the fallback renderer (the last attempt: a flat hand facing the camera in the middle)."""
    hand_rng, look_rng, bg_rng, occ_rng, fx_rng = streams(seed, index, attempt)
    is_left = bool(hand_rng.random() < 0.5)
    safe = attempt == MAX_ATTEMPTS - 1
    if safe:
        shape = kin.sample_shape(hand_rng)
        scene = build_scene(hand_rng, look_rng, size, shape=shape, pose=kin.neutral_pose(), rotation=PALM_VIEW,
                            fraction=0.5)
        plain = True
    else:
        scene = build_scene(hand_rng, look_rng, size)
    back = scene.colors[0]
    xy = scene.camera.project(scene.joints)  # (21, 2)
    # image pixels per rendering pixel: 3 for a hand spanning more than half the image (it has pixels to spare)
    factor = 3 if float(np.max(xy.max(0) - xy.min(0))) > 0.5 * size else 2
    if plain:
        canvas = np.full((size, size, 3), 128, np.uint8)
    else:
        centre = xy.mean(0)
        canvas = background(bg_rng, size, back, (float(centre[0]), float(centre[1])))
    pts, hand_mask, obj_mask, xy = render_scene(scene, canvas, factor)
    occ = obj_mask
    if not plain and occ_rng.random() < 0.3:
        lo = np.clip(xy.min(0), 0, size - 1)
        hi = np.clip(xy.max(0), 0, size - 1)
        flat = occluders(occ_rng, canvas, np.concatenate([lo, hi]), back) > 127
        occ = occ | flat
        hand_mask &= ~flat
        xi = np.clip(np.rint(pts[:, :2]).astype(np.int64), 0, size - 1)
        pts[flat[xi[:, 1], xi[:, 0]], 2] = 0.0
    image = canvas if plain else camera_effects(fx_rng, canvas)
    quality = int(fx_rng.integers(60, 96))
    right = SynthSample(image=image, hand_pts=pts, is_left=False, hand_mask=hand_mask, occluder_mask=occ,
                        jpeg_quality=quality)
    return right.mirrored() if is_left else right
