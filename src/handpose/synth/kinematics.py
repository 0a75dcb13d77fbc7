"""An articulated 3D right hand: per-hand bone lengths and radii, anatomical joint limits, random poses.

Hand frame (centimetres, right-handed): the wrist keypoint at the origin, +y from the wrist towards the middle
finger, +x towards the thumb, +z out of the palm. With these axes the model is a RIGHT hand (x = y cross z points
to the thumb); left hands are made by mirroring the finished picture and its labels.

A hand is a set of tapered capsules (segment a-b, radius ra at a, rb at b), one per bone plus a palm body of a
few thick capsules and a forearm stub. ``build_hand`` returns the 21 joints in CMU order (``keypoints.NAMES``),
the local surface radius of each joint (the tolerance of the visibility test), the capsules and the frames of the
21 bones (``BONE_NAMES``) that the skinned mesh (``mesh.py``, ``skinning.py``) follows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

LOG = logging.getLogger(__name__)

# Rest geometry of an average adult right hand (cm). Finger order: index, middle, ring, pinky.
_MCP = np.array([[2.3, 8.6, 0.0], [0.3, 9.0, 0.0], [-1.6, 8.5, 0.2], [-3.3, 7.5, 0.4]])
_PHALANGES = np.array([[4.0, 2.4, 2.0], [4.5, 2.8, 2.1], [4.2, 2.7, 2.0], [3.3, 2.0, 1.8]])  # proximal, middle, distal
_FAN_DEG = np.array([6.0, 0.0, -6.0, -13.0])  # rest tilt of each finger towards the thumb
_FINGER_RADIUS = np.array([1.0, 1.03, 0.97, 0.86])  # proximal radius; tapers to 0.72 x at the tip
# thumb: CMC position, metacarpal / proximal / distal lengths
_CMC = np.array([2.1, 1.7, 0.7])
_THUMB = np.array([4.3, 3.2, 2.6])
_THUMB_RADIUS = 1.05
_WRIST_RADIUS = 2.0

# the bones a skinned mesh follows: a frame per bone (origin at its start, local +y along it); a bone's joints are
# its start and its end (origin + length * y)
BONE_NAMES: tuple[str, ...] = (
    ("carpal", "index_meta", "middle_meta", "ring_meta", "pinky_meta")
    + tuple(f"{f}_{p}" for f in ("index", "middle", "ring", "pinky") for p in ("proximal", "middle", "distal"))
    + ("thumb_meta", "thumb_proximal", "thumb_distal", "forearm")
)
NUM_BONES = len(BONE_NAMES)  # 21
BONE_CARPAL, BONE_FOREARM = 0, 20
BONE_THUMB = 17  # thumb metacarpal; proximal and distal follow


def finger_bone(finger: int, phalanx: int) -> int:
    """Bone index of phalanx 0..2 of finger 0..3 (index..pinky)."""
    return 5 + 3 * finger + phalanx


# part ids of capsules (the renderer colours them; visibility treats them all as hand)
PART_FINGER, PART_PALM, PART_FOREARM, PART_SLEEVE = 0, 1, 2, 3


@dataclass
class HandShape:
    """Per-hand proportions: everything in centimetres in the hand frame."""

    mcp: np.ndarray  # (4, 3) MCP positions of index..pinky
    phalanges: np.ndarray  # (4, 3) lengths
    finger_radius: np.ndarray  # (4,)
    cmc: np.ndarray  # (3,)
    thumb: np.ndarray  # (3,) lengths
    thumb_radius: float
    wrist_radius: float
    forearm_length: float  # bare skin part
    sleeve_length: float  # 0: no sleeve


@dataclass
class HandPose:
    """Joint angles in degrees. Fingers: (4,) each; thumb CMC has two degrees of freedom."""

    mcp_flex: np.ndarray
    mcp_spread: np.ndarray  # + = towards the thumb
    pip_flex: np.ndarray
    dip_flex: np.ndarray
    cmc_flex: float  # across the palm (opposition)
    cmc_abd: float  # + = palmar abduction (out of the palm plane)
    thumb_mcp: float
    thumb_ip: float
    cup: float  # 0..1 arching of the ring/pinky metacarpals
    wrist_flex: float  # forearm direction relative to the hand
    wrist_dev: float


@dataclass
class HandModel:
    """A posed hand in the hand frame."""

    joints: np.ndarray  # (21, 3)
    joint_radius: np.ndarray  # (21,)
    cap_a: np.ndarray  # (M, 3)
    cap_b: np.ndarray  # (M, 3)
    cap_ra: np.ndarray  # (M,)
    cap_rb: np.ndarray  # (M,)
    cap_part: np.ndarray  # (M,) int
    cap_nail: np.ndarray  # (M, 3) the back of a distal phalanx (where its nail is), zero on other capsules
    bone_origin: np.ndarray  # (B, 3) start of each bone (BONE_NAMES order)
    bone_rot: np.ndarray  # (B, 3, 3) columns: the bone's local x, y (along the bone), z axes in the hand frame
    bone_length: np.ndarray  # (B,)


# joint limits (degrees)
MCP_FLEX = (-25.0, 95.0)
MCP_SPREAD = (-18.0, 18.0)
PIP_FLEX = (-5.0, 110.0)
DIP_FLEX = (-10.0, 85.0)
CMC_FLEX = (-20.0, 50.0)
CMC_ABD = (-15.0, 50.0)
THUMB_MCP = (-15.0, 65.0)
THUMB_IP = (-20.0, 85.0)


def sample_shape(rng: np.random.Generator) -> HandShape:
    """Random overall size (child to large adult) and per-hand proportions."""
    scale = rng.uniform(0.8, 1.15)
    palm = rng.uniform(0.92, 1.08)  # palm length vs finger length
    width = rng.uniform(0.9, 1.12)
    mcp = _MCP * np.array([width, palm, 1.0]) * scale
    mcp = mcp + rng.normal(0.0, 0.12, (4, 3)) * scale * np.array([1.0, 1.0, 0.3])
    phal = _PHALANGES * scale / np.sqrt(palm) * rng.uniform(0.93, 1.07, (4, 3))
    fr = _FINGER_RADIUS * scale * width ** 0.5 * rng.uniform(0.85, 1.12)
    sleeve = rng.uniform(8.0, 30.0) if rng.random() < 0.55 else 0.0
    return HandShape(
        mcp=mcp,
        phalanges=phal,
        finger_radius=fr,
        cmc=_CMC * np.array([width, palm, 1.0]) * scale,
        thumb=_THUMB * scale * rng.uniform(0.93, 1.07, 3),
        thumb_radius=_THUMB_RADIUS * scale * rng.uniform(0.9, 1.1),
        wrist_radius=_WRIST_RADIUS * scale * width * rng.uniform(0.9, 1.1),
        forearm_length=rng.uniform(3.0, 12.0) if sleeve > 0 else rng.uniform(10.0, 30.0),
        sleeve_length=sleeve,
    )


def mean_shape() -> HandShape:
    """The average adult right hand, no sleeve: the shape the rest mesh is built for."""
    return HandShape(mcp=_MCP.copy(), phalanges=_PHALANGES.copy(), finger_radius=_FINGER_RADIUS.copy(),
                     cmc=_CMC.copy(), thumb=_THUMB.copy(), thumb_radius=_THUMB_RADIUS, wrist_radius=_WRIST_RADIUS,
                     forearm_length=26.0, sleeve_length=0.0)


def _cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cross product of two (3,) vectors: np.cross's arithmetic (the same bits), without its ~80 us overhead."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _frame_along(y: np.ndarray, z_hint: np.ndarray) -> np.ndarray:
    """A rotation (3, 3) whose y column is the direction of ``y`` and whose z column is as close to ``z_hint``."""
    y = y / np.linalg.norm(y)
    x = _cross3(y, z_hint)
    x /= np.linalg.norm(x)
    return np.stack([x, y, _cross3(x, y)], axis=1)


def _clip(x: np.ndarray | float, lim: tuple[float, float]) -> np.ndarray:
    return np.minimum(np.maximum(x, lim[0]), lim[1])  # np.clip costs several times more on tiny arrays


def sample_pose(rng: np.random.Generator) -> HandPose:
    """A random pose within the joint limits: correlated finger curls (open, fist, pointing, pinch, ...)."""
    kind = rng.random()
    if kind < 0.3:  # independent curls per finger
        curl = rng.uniform(0.0, 1.0, 4)
    else:  # one hand-level curl with per-finger deviation (open hands, fists, relaxed)
        g = rng.beta(0.7, 0.9)
        curl = np.clip(g + rng.normal(0.0, 0.18, 4), 0.0, 1.0)
        if rng.random() < 0.25:  # a gesture: some fingers extended, others curled
            ext = rng.random(4) < 0.5
            curl = np.where(ext, rng.uniform(0.0, 0.15, 4), rng.uniform(0.7, 1.0, 4))
    mcp = _clip(curl * rng.uniform(70.0, 95.0, 4) + rng.normal(0.0, 8.0, 4) - 8.0 * (curl < 0.1), MCP_FLEX)
    pip = _clip(curl * rng.uniform(80.0, 110.0, 4) + rng.normal(0.0, 8.0, 4), PIP_FLEX)
    dip = _clip(pip * rng.uniform(0.5, 0.85, 4) + rng.normal(0.0, 6.0, 4), DIP_FLEX)  # loosely coupled to PIP
    open_ = 1.0 - curl
    fan = open_ * rng.uniform(-0.3, 1.0) * np.array([8.0, 0.0, -7.0, -13.0])  # open hands spread their fingers
    spread = _clip(fan + rng.normal(0, 4.0, 4), MCP_SPREAD)
    tcurl = float(np.clip(curl.mean() + rng.normal(0.0, 0.3), 0.0, 1.0))
    return HandPose(
        mcp_flex=mcp,
        mcp_spread=spread,
        pip_flex=pip,
        dip_flex=dip,
        cmc_flex=float(_clip(tcurl * 45.0 + rng.normal(0.0, 12.0), CMC_FLEX)),
        cmc_abd=float(_clip(rng.uniform(-10.0, 45.0), CMC_ABD)),
        thumb_mcp=float(_clip(tcurl * 50.0 + rng.normal(0.0, 10.0), THUMB_MCP)),
        thumb_ip=float(_clip(tcurl * 60.0 + rng.normal(0.0, 15.0), THUMB_IP)),
        cup=float(rng.uniform(0.0, 1.0) * (0.3 + 0.7 * curl[2:].mean())),
        wrist_flex=float(rng.uniform(-50.0, 50.0)),
        wrist_dev=float(rng.uniform(-20.0, 25.0)),
    )


def neutral_pose() -> HandPose:
    """A flat open hand (all angles zero): fingers straight along +y, thumb in its rest direction."""
    z = np.zeros(4)
    return HandPose(z, z.copy(), z.copy(), z.copy(), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def rot_x(deg: float | np.ndarray) -> np.ndarray:
    """Rotation about x by ``deg``: turns +y towards +z (finger flexion towards the palm)."""
    t = np.radians(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(deg: float | np.ndarray) -> np.ndarray:
    """Rotation about z by ``deg``: turns +x towards +y (+y towards -x)."""
    t = np.radians(deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _thumb_frame() -> np.ndarray:
    """Rest frame of the thumb metacarpal (columns x, y, z): y along the bone, z the side it flexes to."""
    a = np.radians(36.0)
    y = np.array([np.sin(a), np.cos(a), 0.0])
    towards_palm = np.array([-np.cos(a), np.sin(a), 0.0])
    phi = np.radians(55.0)  # pronation: the thumb pad faces partly across the palm
    z = np.cos(phi) * towards_palm + np.sin(phi) * np.array([0.0, 0.0, 1.0])
    x = np.cross(y, z)
    return np.stack([x, y, z], axis=1)


_THUMB_FRAME = _thumb_frame()
_TIP_INSET = 0.8  # the tip keypoint sits this many radii past the end of the distal capsule's axis


class _HandBuilder:
    """The arrays :func:`build_hand` fills: keypoints, capsules and bone frames, one part of the hand at a time."""

    def __init__(self) -> None:
        self.joints = np.zeros((21, 3))
        self.jr = np.zeros(21)
        self.caps: list[tuple[np.ndarray, np.ndarray, float, float, int, np.ndarray]] = []
        self.b_origin = np.zeros((NUM_BONES, 3))
        self.b_rot = np.zeros((NUM_BONES, 3, 3))
        self.b_len = np.zeros(NUM_BONES)

    def bone(self, i: int, origin: np.ndarray, rot: np.ndarray, length: float) -> None:
        self.b_origin[i], self.b_rot[i], self.b_len[i] = origin, rot, length

    def cap(self, a: np.ndarray, b: np.ndarray, ra: float, rb: float, part: int,
            nail: np.ndarray | None = None) -> None:
        self.caps.append((a, b, ra, rb, part, np.zeros(3) if nail is None else nail))

    def fingers(self, shape: HandShape, pose: HandPose, mcp: np.ndarray) -> None:
        """Index to pinky: three phalanges each from its MCP, and the skin webs between neighbours."""
        webs = []  # a point 30 % along each proximal phalanx: skin webs join neighbouring fingers there
        for f in range(4):
            r0 = shape.finger_radius[f]
            radii = r0 * np.array([1.0, 0.9, 0.82, 0.72])
            R = rot_z(-(_FAN_DEG[f] + pose.mcp_spread[f])) @ rot_x(pose.mcp_flex[f])
            p = mcp[f]
            k = 5 + 4 * f
            self.joints[k], self.jr[k] = p, radii[0] * 1.1
            for j, flex in enumerate((0.0, pose.pip_flex[f], pose.dip_flex[f])):
                R = R @ rot_x(flex)
                q = p + R[:, 1] * shape.phalanges[f, j]
                self.bone(finger_bone(f, j), p, R, shape.phalanges[f, j])
                end = q - R[:, 1] * radii[j + 1] * _TIP_INSET if j == 2 else q
                self.cap(p, end, radii[j], radii[j + 1], PART_FINGER, -R[:, 2] if j == 2 else None)
                self.joints[k + j + 1], self.jr[k + j + 1] = q, radii[j + 1]
                if j == 0:
                    webs.append((0.7 * p + 0.3 * q, 0.8 * radii[0]))
                p = q
        for f in range(3):
            self.cap(webs[f][0], webs[f + 1][0], webs[f][1], webs[f + 1][1], PART_PALM)

    def thumb(self, shape: HandShape, pose: HandPose) -> np.ndarray:
        """CMC (two degrees of freedom), MCP and IP flexion; returns the thumb's radii."""
        R = _THUMB_FRAME @ rot_z(-pose.cmc_abd) @ rot_x(pose.cmc_flex)
        p = shape.cmc
        self.joints[1], self.jr[1] = p, shape.thumb_radius * 2.0  # deep inside the thenar eminence
        tr = shape.thumb_radius * np.array([1.15, 1.0, 0.9, 0.75])
        for j, flex in enumerate((0.0, pose.thumb_mcp, pose.thumb_ip)):
            R = R @ rot_x(flex)
            q = p + R[:, 1] * shape.thumb[j]
            self.bone(BONE_THUMB + j, p, R, shape.thumb[j])
            end = q - R[:, 1] * tr[j + 1] * _TIP_INSET if j == 2 else q
            self.cap(p, end, tr[j], tr[j + 1], PART_FINGER, -R[:, 2] if j == 2 else None)
            self.joints[2 + j], self.jr[2 + j] = q, tr[j + 1]
            p = q
        return tr

    def palm(self, shape: HandShape, mcp: np.ndarray, tr: np.ndarray) -> float:
        """Rays from the heel of the hand to each MCP, a wrist bar, the thenar eminence; returns the palm scale."""
        s = shape.mcp[1, 1] / _MCP[1, 1]  # palm scale
        wr = shape.wrist_radius
        base = np.array([[1.2, 2.2, 0.0], [0.3, 2.0, 0.0], [-0.8, 2.2, 0.1], [-1.7, 2.5, 0.2]]) * s
        for f in range(4):
            self.cap(base[f], mcp[f], 1.35 * s, shape.finger_radius[f] * 1.12, PART_PALM)
            self.bone(1 + f, base[f], _frame_along(mcp[f] - base[f], np.array([0.0, 0.0, 1.0])),
                      float(np.linalg.norm(mcp[f] - base[f])))
        self.bone(BONE_CARPAL, np.zeros(3), np.eye(3), 2.0 * s)
        self.cap(np.array([-1.6, 1.2, 0.0]) * s, np.array([1.4, 1.2, 0.1]) * s, 0.7 * wr, 0.7 * wr, PART_PALM)
        self.cap(np.array([0.8, 1.6, 0.4]) * s, self.joints[2], 1.45 * s, tr[1] * 1.05, PART_PALM)
        self.jr[0] = wr
        return s

    def forearm(self, shape: HandShape, pose: HandPose, s: float) -> None:
        """The forearm stub (bare skin) and, maybe, a sleeve."""
        wr = shape.wrist_radius
        fore = rot_x(pose.wrist_flex) @ rot_z(pose.wrist_dev) @ np.diag([1.0, -1.0, -1.0])  # local +y: to the elbow
        fdir = fore[:, 1]
        w0 = np.array([0.0, 0.6, 0.0]) * s
        w1 = w0 + fdir * shape.forearm_length
        self.bone(BONE_FOREARM, np.zeros(3), fore, shape.forearm_length)  # pivots at the wrist keypoint
        self.cap(w0, w1, 0.9 * wr, 1.15 * wr, PART_FOREARM)
        if shape.sleeve_length > 0:
            self.cap(w1, w1 + fdir * shape.sleeve_length, 1.5 * wr, 1.7 * wr, PART_SLEEVE)

    def model(self) -> HandModel:
        """The finished hand."""
        A, B, RA, RB, P, N = zip(*self.caps)
        return HandModel(
            joints=self.joints,
            joint_radius=self.jr,
            cap_a=np.array(A),
            cap_b=np.array(B),
            cap_ra=np.array(RA),
            cap_rb=np.array(RB),
            cap_part=np.array(P, dtype=np.int64),
            cap_nail=np.array(N),
            bone_origin=self.b_origin,
            bone_rot=self.b_rot,
            bone_length=self.b_len,
        )


def build_hand(shape: HandShape, pose: HandPose) -> HandModel:
    """Forward kinematics: joints (21, 3) in CMU order and the capsules of fingers, palm and forearm."""
    # cupping: the ring and pinky metacarpals fold towards the palm and the centre
    mcp = shape.mcp.copy()
    mcp[2] += pose.cup * np.array([0.2, -0.1, 0.6])
    mcp[3] += pose.cup * np.array([0.6, -0.2, 1.3])
    hand = _HandBuilder()
    hand.fingers(shape, pose, mcp)
    tr = hand.thumb(shape, pose)
    s = hand.palm(shape, mcp, tr)
    hand.forearm(shape, pose, s)
    return hand.model()
