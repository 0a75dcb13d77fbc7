"""A pose prior of named hand shapes (open, fist, point, pinch, OK, counting, claw, relaxed, grasps), mixed, with
noise, within the joint limits; the object a grasp holds; and views of the hand as photographs show them
(from the owner's eyes, from across a table, palm and back views, any wrist rotation).

Angles in degrees, per finger index..pinky, as ``kinematics.HandPose`` holds them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth.camera import PALM_VIEW, axis_angle, random_rotation

LOG = logging.getLogger(__name__)

_FAN = np.array([8.0, 0.0, -7.0, -13.0])
_OPEN = (np.zeros(4), np.zeros(4), np.zeros(4))
_CURLED = (np.array([88.0, 90.0, 92.0, 95.0]), np.full(4, 100.0), np.full(4, 55.0))


def _fingers(ext: str, bent: tuple[np.ndarray, np.ndarray, np.ndarray] = _CURLED) -> tuple[np.ndarray, ...]:
    """(mcp, pip, dip) with the fingers named by ``ext`` ('1' straight, '0' as ``bent``), index first."""
    mask = np.array([c == "1" for c in ext])
    return tuple(np.where(mask, o, b) for o, b in zip(_OPEN, bent))


# name -> (mcp, pip, dip, spread scale of the fan, thumb (cmc_flex, cmc_abd, mcp, ip), cup)
SHAPES: dict[str, tuple] = {
    "open": (*_OPEN, 1.0, (0.0, 30.0, 5.0, 5.0), 0.0),
    "spread": (np.full(4, -10.0), np.zeros(4), np.zeros(4), 1.8, (-10.0, 45.0, 0.0, -5.0), 0.0),
    "relaxed": (np.array([20.0, 25.0, 30.0, 35.0]), np.array([25.0, 30.0, 35.0, 40.0]), np.full(4, 18.0), 0.4,
                (15.0, 20.0, 15.0, 15.0), 0.2),
    "fist": (*_CURLED, 0.0, (40.0, 10.0, 45.0, 50.0), 0.6),
    "point": (*_fingers("1000"), 0.0, (40.0, 5.0, 40.0, 40.0), 0.4),
    "peace": (*_fingers("1100"), 1.5, (45.0, 5.0, 40.0, 40.0), 0.4),
    "thumbs_up": (*_CURLED, 0.0, (-10.0, 40.0, 0.0, -10.0), 0.5),
    "pinch": (np.array([45.0, 35.0, 35.0, 40.0]), np.array([55.0, 45.0, 45.0, 50.0]),
              np.array([30.0, 25.0, 25.0, 25.0]), 0.3, (35.0, 40.0, 25.0, 20.0), 0.3),
    "ok": (np.array([45.0, 5.0, 5.0, 10.0]), np.array([60.0, 5.0, 5.0, 10.0]), np.array([30.0, 0.0, 0.0, 5.0]), 1.0,
           (35.0, 40.0, 25.0, 25.0), 0.1),
    "claw": (np.full(4, 10.0), np.full(4, 90.0), np.full(4, 70.0), 1.0, (20.0, 35.0, 30.0, 40.0), 0.3),
    "count_1": (*_fingers("1000"), 0.0, (40.0, 5.0, 40.0, 40.0), 0.4),
    "count_2": (*_fingers("1100"), 1.0, (40.0, 5.0, 40.0, 40.0), 0.4),
    "count_3": (*_fingers("1110"), 1.0, (40.0, 5.0, 40.0, 40.0), 0.3),
    "count_4": (*_fingers("1111"), 1.0, (45.0, 0.0, 45.0, 45.0), 0.1),
    "count_5": (*_OPEN, 1.0, (-5.0, 35.0, 0.0, 0.0), 0.0),
    "grasp_cylinder": (np.full(4, 60.0), np.full(4, 75.0), np.full(4, 45.0), 0.0, (45.0, 45.0, 20.0, 15.0), 0.4),
    "grasp_box": (np.full(4, 75.0), np.full(4, 25.0), np.full(4, 15.0), 0.0, (30.0, 45.0, 15.0, 10.0), 0.2),
    "grasp_sphere": (np.full(4, 40.0), np.full(4, 45.0), np.full(4, 30.0), 1.0, (30.0, 45.0, 15.0, 15.0), 0.5),
    "grasp_phone": (np.array([35.0, 45.0, 55.0, 60.0]), np.array([40.0, 50.0, 60.0, 65.0]), np.full(4, 20.0), 0.0,
                    (10.0, 20.0, 15.0, 20.0), 0.2),
}
# how often each shape is drawn (relative)
SHAPE_WEIGHTS: dict[str, float] = {
    "open": 3.0, "spread": 1.0, "relaxed": 4.0, "fist": 2.0, "point": 2.0, "peace": 1.0, "thumbs_up": 1.0,
    "pinch": 2.0, "ok": 1.0, "claw": 1.0, "count_1": 0.5, "count_2": 0.5, "count_3": 0.5, "count_4": 0.5,
    "count_5": 0.5, "grasp_cylinder": 1.5, "grasp_box": 1.0, "grasp_sphere": 1.0, "grasp_phone": 1.5,
}
GRASPS: tuple[str, ...] = ("grasp_cylinder", "grasp_box", "grasp_sphere", "grasp_phone")


@dataclass
class HeldObject:
    """An object in the hand frame: mesh name, (4, 4) object -> hand frame transform with its scale."""

    name: str
    transform: np.ndarray


def _limited(p: kin.HandPose) -> kin.HandPose:
    c = np.clip
    return kin.HandPose(
        mcp_flex=c(p.mcp_flex, *kin.MCP_FLEX), mcp_spread=c(p.mcp_spread, *kin.MCP_SPREAD),
        pip_flex=c(p.pip_flex, *kin.PIP_FLEX), dip_flex=c(p.dip_flex, *kin.DIP_FLEX),
        cmc_flex=float(c(p.cmc_flex, *kin.CMC_FLEX)), cmc_abd=float(c(p.cmc_abd, *kin.CMC_ABD)),
        thumb_mcp=float(c(p.thumb_mcp, *kin.THUMB_MCP)), thumb_ip=float(c(p.thumb_ip, *kin.THUMB_IP)),
        cup=float(c(p.cup, 0.0, 1.0)), wrist_flex=p.wrist_flex, wrist_dev=p.wrist_dev)


def named_pose(name: str) -> kin.HandPose:
    """The pose of a named shape, without noise (the wrist straight)."""
    mcp, pip, dip, fan, (cf, ca, tm, ti), cup = SHAPES[name]
    return _limited(kin.HandPose(mcp_flex=np.array(mcp, float), mcp_spread=_FAN * fan, pip_flex=np.array(pip, float),
                                 dip_flex=np.array(dip, float), cmc_flex=cf, cmc_abd=ca, thumb_mcp=tm, thumb_ip=ti,
                                 cup=cup, wrist_flex=0.0, wrist_dev=0.0))


def _mix(a: kin.HandPose, b: kin.HandPose, t: float) -> kin.HandPose:
    fields = ("mcp_flex", "mcp_spread", "pip_flex", "dip_flex", "cmc_flex", "cmc_abd", "thumb_mcp", "thumb_ip", "cup",
              "wrist_flex", "wrist_dev")
    return kin.HandPose(**{f: (1 - t) * np.asarray(getattr(a, f)) + t * np.asarray(getattr(b, f)) for f in fields})


def sample_pose(rng: np.random.Generator) -> tuple[kin.HandPose, str]:
    """A pose from the prior and its shape's name: a named shape, sometimes blended with a second one, with
    per-joint noise and a random wrist, clipped to the joint limits."""
    names = list(SHAPES)
    w = np.array([SHAPE_WEIGHTS[n] for n in names])
    name = names[int(rng.choice(len(names), p=w / w.sum()))]
    pose = named_pose(name)
    if name not in GRASPS and rng.random() < 0.35:
        other = names[int(rng.choice(len(names), p=w / w.sum()))]
        if other not in GRASPS:
            pose = _mix(pose, named_pose(other), float(rng.uniform(0.0, 0.5)))
    sd = 6.0 if name in GRASPS else 9.0
    pose.mcp_flex = pose.mcp_flex + rng.normal(0.0, sd, 4)
    pose.mcp_spread = pose.mcp_spread + rng.normal(0.0, 3.0, 4)
    pose.pip_flex = pose.pip_flex + rng.normal(0.0, sd, 4)
    pose.dip_flex = pose.dip_flex + rng.normal(0.0, sd * 0.7, 4)
    pose.cmc_flex += rng.normal(0.0, 7.0)
    pose.cmc_abd += rng.normal(0.0, 7.0)
    pose.thumb_mcp += rng.normal(0.0, 7.0)
    pose.thumb_ip += rng.normal(0.0, 9.0)
    pose.cup += rng.normal(0.0, 0.1)
    pose.wrist_flex = float(rng.normal(0.0, 22.0))
    pose.wrist_dev = float(rng.normal(0.0, 10.0))
    return _limited(pose), name


def held_object(name: str, shape: kin.HandShape, rng: np.random.Generator) -> HeldObject | None:
    """The object a grasp holds, placed against the palm in the hand frame (None for other shapes)."""
    if name not in GRASPS:
        return None
    s = shape.mcp[1, 1] / 9.0  # palm scale
    T = np.eye(4)
    if name == "grasp_cylinder":
        r = rng.uniform(2.2, 3.4) * s
        T[:3, :3] = kin.rot_z(90.0 + rng.normal(0, 8)) @ np.diag([r, rng.uniform(6.0, 12.0), r])
        T[:3, 3] = np.array([0.3, 6.8, r + 1.0]) * np.array([s, s, 1.0])
        return HeldObject("cylinder", T)
    if name == "grasp_sphere":
        r = rng.uniform(3.0, 4.5) * s
        T[:3, :3] = np.eye(3) * r
        T[:3, 3] = np.array([0.5 * s, 7.0 * s, r + 0.8])
        return HeldObject("sphere", T)
    if name == "grasp_box":
        half = np.array([rng.uniform(3.0, 6.0), rng.uniform(1.5, 3.0), rng.uniform(2.0, 3.5)]) * s
        T[:3, :3] = np.diag(half)
        T[:3, 3] = np.array([0.3 * s, 7.5 * s, half[2] + 0.9])
        return HeldObject("box", T)
    T[:3, :3] = kin.rot_z(rng.normal(0, 10)) * rng.uniform(0.85, 1.1)
    T[:3, 3] = np.array([0.5 * s, 7.5 * s, 1.8])
    return HeldObject("phone", T)


def _about(axis: tuple[float, float, float], deg: float) -> np.ndarray:
    return axis_angle(np.array(axis, float), deg)


def sample_view(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Hand -> camera rotation (3, 3) and the kind of view: the owner's eyes (back of the hand, fingers away and up
    the picture), across a table (the other way round), palm or back views, or any rotation; with any rotation of
    the wrist (pronation) and a tilt of the camera."""
    r = rng.random()
    tilt = rng.uniform(20.0, 70.0)
    if r < 0.25:
        kind = "owner"
        base = _about((1.0, 0.0, 0.0), -tilt) @ np.diag([-1.0, -1.0, 1.0])  # back of the hand, fingers up, tipped
    elif r < 0.45:
        kind = "across"
        base = _about((1.0, 0.0, 0.0), tilt)  # hand frame = camera frame: back of the hand, fingers down, tipped
    elif r < 0.65:
        kind = "palm"
        base = PALM_VIEW
    elif r < 0.8:
        kind = "back"
        base = np.diag([-1.0, -1.0, 1.0])
    else:
        return random_rotation(rng), "any"
    pronation = _about((0.0, 1.0, 0.0), float(rng.normal(0.0, 45.0)))  # turning the wrist, in the hand frame
    roll = _about((0.0, 0.0, 1.0), float(rng.normal(0.0, 35.0 if kind in ("owner", "across") else 70.0)))
    wobble = _about(tuple(rng.normal(size=3)), float(rng.uniform(0.0, 25.0)))
    return roll @ wobble @ base @ pronation, kind
