"""The rest-pose hand mesh: one smooth skin surface from a smooth union of implicit shapes, with skin weights.

The surface is the zero level of a field (negative inside) built from tapered, slightly flattened round cones
along the bones of an average right hand in a relaxed rest pose (fingers a little spread and bent), ellipsoids for
the palm body, the thenar and hypothenar pads, finger pads and knuckles, and an elliptic forearm. Shapes are joined
with a polynomial smooth minimum, so webs between fingers and the palm's edges come out soft. Marching cubes
(scikit-image) turns the field into triangles once per process (``rest_mesh`` is cached; about half a second).

Each vertex gets up to four skin weights (Gaussian in its distance to each bone's surface, normalised to sum to 1)
and a few attributes the shader uses: nail, crease, ambient occlusion, the distance up the forearm (sleeves,
watches), the dominant bone (the ID buffer's finger part) and how much it faces the back of the hand (veins).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from handpose.synth import kinematics as kin

SDF = Callable[[np.ndarray], np.ndarray]  # (N, 3) points, cm -> (N,) signed distance, cm

LOG = logging.getLogger(__name__)

VOXEL_CM = 0.36  # marching-cubes grid step (0.3 costs about 15 % more GL time and shows little more at 256 px)
SMOOTH_CM = 0.45  # smooth-union blend distance
WEIGHT_SIGMA_CM = 0.55  # skin weights fall off over this distance from a bone's surface
MAX_INFLUENCES = 4
ARM_LENGTH_CM = 26.0  # forearm in the rest mesh (each hand stretches it to its own length)


@dataclass(frozen=True)
class RestMesh:
    """The skinned hand mesh in the rest pose (hand frame, cm)."""

    vertices: np.ndarray  # (V, 3) float32
    normals: np.ndarray  # (V, 3) float32 unit, outwards
    faces: np.ndarray  # (F, 3) int32
    bones: np.ndarray  # (V, 4) int32 bone indices (kinematics.BONE_NAMES)
    weights: np.ndarray  # (V, 4) float32, each row sums to 1
    attrs: np.ndarray  # (V, 8) float32: nail, crease, ao, arm cm, dominant bone, dorsal, 0, 0
    rest: kin.HandModel  # the skeleton the mesh was built on (mean shape, rest pose)


def rest_pose() -> kin.HandPose:
    """A relaxed open hand: fingers spread and a little bent, the thumb away from the index (fewer skin folds to
    smear when skinned to either a fist or a flat hand)."""
    return kin.HandPose(
        mcp_flex=np.array([12.0, 12.0, 14.0, 16.0]),
        mcp_spread=np.array([6.0, 1.0, -5.0, -9.0]),
        pip_flex=np.array([14.0, 14.0, 14.0, 14.0]),
        dip_flex=np.array([8.0, 8.0, 8.0, 8.0]),
        cmc_flex=8.0,
        cmc_abd=22.0,
        thumb_mcp=10.0,
        thumb_ip=10.0,
        cup=0.1,
        wrist_flex=0.0,
        wrist_dev=0.0,
    )


def _smin(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum of two fields (equal to min where they differ by more than ``k``)."""
    h = np.maximum(k - np.abs(a - b), 0.0) / k
    return np.minimum(a, b) - h * h * k * 0.25


class _Field:
    """A sampled implicit field on a rectilinear grid (``axes``: the x, y, z sample positions); shapes are
    smooth-unioned into it inside their own boxes. The y axis is coarse up the forearm, where nothing is small."""

    def __init__(self, axes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        self.axes = tuple(a.astype(np.float32) for a in axes)
        self.values = np.full(tuple(len(a) for a in axes), 10.0, np.float32)  # (X, Y, Z) cm, positive = outside

    def add(self, box_lo: np.ndarray, box_hi: np.ndarray, sdf: SDF, k: float = SMOOTH_CM) -> None:
        """Union ``sdf((N, 3) points) -> (N,)`` into the field inside the box (plus the blend margin)."""
        sl = []
        for d in range(3):
            i0 = max(int(np.searchsorted(self.axes[d], box_lo[d] - k)) - 1, 0)
            i1 = min(int(np.searchsorted(self.axes[d], box_hi[d] + k)) + 1, len(self.axes[d]))
            sl.append(slice(i0, i1))
        P = np.stack(np.meshgrid(*(a[s] for a, s in zip(self.axes, sl)), indexing="ij"), axis=-1)  # (x, y, z, 3)
        d = sdf(P.reshape(-1, 3)).reshape(P.shape[:3]).astype(np.float32)
        win = self.values[tuple(sl)]
        win[...] = _smin(win, d, k)

    def to_index(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) cm -> (N, 3) fractional grid indices."""
        return np.stack([np.interp(points[:, d], self.axes[d], np.arange(len(self.axes[d]))) for d in range(3)], 1)

    def to_cm(self, index: np.ndarray) -> np.ndarray:
        """(N, 3) fractional grid indices -> (N, 3) cm."""
        return np.stack([np.interp(index[:, d], np.arange(len(self.axes[d])), self.axes[d]) for d in range(3)], 1)

    def sample(self, points: np.ndarray) -> np.ndarray:
        """Trilinear field values at (N, 3) points (outside the grid: the border value)."""
        from scipy.ndimage import map_coordinates

        return map_coordinates(self.values, self.to_index(points).T, order=1, mode="nearest")


def _grid_axes(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample positions around the rest ``joints`` (21, 3) and the forearm, 2.5 cm beyond both (a surface that
    reached the grid's edge would be left open there): VOXEL_CM steps over the hand and wrist, growing to 4 x that
    towards the elbow."""
    lo = np.minimum(joints.min(0), [-4.5, -5.0, -3.5]) - 2.5
    hi = np.maximum(joints.max(0), [4.5, 0.0, 3.5]) + 2.5
    x = np.arange(lo[0], hi[0] + VOXEL_CM, VOXEL_CM)
    z = np.arange(lo[2], hi[2] + VOXEL_CM, VOXEL_CM)
    hand = np.arange(-5.0, hi[1] + VOXEL_CM, VOXEL_CM)
    arm, y = [], -5.0
    while y > -ARM_LENGTH_CM - 4.0:
        y -= VOXEL_CM * min(1.0 + 0.25 * (-5.0 - y), 4.0)
        arm.append(y)
    return x, np.concatenate([np.array(arm[::-1]), hand]), z


def _cone_sdf(origin: np.ndarray, rot: np.ndarray, length: float, r0: float, r1: float, flat: float = 1.0) -> SDF:
    """Signed distance (approximate) to a round cone along a bone's local +y, flattened along its local z."""

    def sdf(P: np.ndarray) -> np.ndarray:
        q = (P - origin) @ rot  # (N, 3) bone-local
        q[:, 2] /= flat
        t = np.clip(q[:, 1] / max(length, 1e-6), 0.0, 1.0)
        r = r0 + (r1 - r0) * t
        dy = q[:, 1] - t * length
        return np.sqrt(q[:, 0] ** 2 + dy**2 + q[:, 2] ** 2) - r

    return sdf


def _ellipsoid_sdf(centre: np.ndarray, rot: np.ndarray, radii: np.ndarray) -> SDF:
    """Approximate signed distance to an ellipsoid with semi-axes ``radii`` along ``rot``'s columns."""

    def sdf(P: np.ndarray) -> np.ndarray:
        q = (P - centre) @ rot / radii
        return (np.linalg.norm(q, axis=1) - 1.0) * float(radii.min())

    return sdf


def _box(points: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray]:
    return points.min(0) - pad, points.max(0) + pad


def _build_field(rest: kin.HandModel, shape: kin.HandShape) -> tuple[_Field, np.ndarray]:
    """The implicit hand; returns the field and each bone's typical flesh radius (B,)."""
    o, R, L = rest.bone_origin, rest.bone_rot, rest.bone_length
    ends = o + L[:, None] * R[:, :, 1]
    field = _Field(_grid_axes(rest.joints))
    radius = np.zeros(kin.NUM_BONES)

    def cone(b: int, r0: float, r1: float, flat: float = 1.0, trim: float = 0.0) -> None:
        length = L[b] - trim
        pts = np.stack([o[b], o[b] + length * R[b][:, 1]])
        lo, hi = _box(pts, max(r0, r1))
        field.add(lo, hi, _cone_sdf(o[b], R[b], length, r0, r1, flat))
        radius[b] = 0.5 * (r0 + r1)

    def ellipsoid(centre: np.ndarray, rot: np.ndarray, radii: np.ndarray, k: float = SMOOTH_CM) -> None:
        lo, hi = _box(centre[None], float(radii.max()))
        field.add(lo, hi, _ellipsoid_sdf(centre, rot, np.asarray(radii, float)), k)

    # fingers: phalanges taper to the tip; the tip keypoint lies 0.2 radii inside the end, as on the capsules
    for f in range(4):
        r = shape.finger_radius[f] * np.array([1.0, 0.9, 0.82, 0.72]) * 0.93
        for j in range(3):
            b = kin.finger_bone(f, j)
            trim = r[3] * 0.8 if j == 2 else 0.0
            cone(b, r[j], r[j + 1], flat=0.86, trim=trim)
        dist = kin.finger_bone(f, 2)
        # finger pad (palm side, local +z) and knuckle (back, local -z) bumps
        ellipsoid(o[dist] + R[dist] @ np.array([0.0, 0.55 * L[dist], 0.22 * r[2]]), R[dist],
                  np.array([0.8 * r[2], 0.42 * L[dist], 0.7 * r[2]]))
        prox = kin.finger_bone(f, 0)
        ellipsoid(o[prox] + R[prox] @ np.array([0.0, 0.0, -0.35 * r[0]]), R[prox], np.array([0.7, 0.55, 0.6]) * r[0],
                  k=0.3)
    # thumb
    tr = shape.thumb_radius * np.array([1.15, 1.0, 0.9, 0.75]) * 0.93
    for j in range(3):
        b = kin.BONE_THUMB + j
        cone(b, tr[j], tr[j + 1], flat=0.88, trim=tr[3] * 0.8 if j == 2 else 0.0)
    td = kin.BONE_THUMB + 2
    ellipsoid(o[td] + R[td] @ np.array([0.0, 0.55 * L[td], 0.22 * tr[2]]), R[td],
              np.array([0.8 * tr[2], 0.42 * L[td], 0.7 * tr[2]]))
    # palm: metacarpal rays, a flat body, thenar and hypothenar pads
    for f in range(4):
        b = 1 + f
        cone(b, 1.15, shape.finger_radius[f] * 1.0, flat=0.75)
    centre = 0.25 * (ends[1] + ends[4]) + 0.25 * (o[1] + o[4]) + np.array([0.0, -0.3, 0.15])
    ellipsoid(centre, np.eye(3), np.array([3.9, 4.0, 1.25]))
    tm = kin.BONE_THUMB
    ellipsoid(o[tm] + R[tm] @ np.array([0.0, 0.45 * L[tm], 0.35]) + np.array([-0.6, 0.0, 0.3]), R[tm],
              np.array([1.55, 2.6, 1.25]))
    ellipsoid(np.array([-2.6, 3.4, 0.35]), np.eye(3), np.array([1.35, 2.8, 1.15]))
    radius[1:5] = 1.3
    radius[kin.BONE_CARPAL] = 1.8
    # wrist and forearm: an elliptic cone widening towards the elbow (forearm local z = the back of the hand)
    fa = kin.BONE_FOREARM
    ellipsoid(np.array([0.0, 1.0, 0.1]), np.eye(3), np.array([2.9, 1.8, 1.55]))

    def arm_sdf(P: np.ndarray) -> np.ndarray:
        q = (P - o[fa]) @ R[fa]  # local: +y up the arm
        t = np.clip(q[:, 1] / ARM_LENGTH_CM, 0.0, 1.0)
        ax = 2.75 + 1.1 * np.sqrt(t)  # half width
        az = 1.75 + 1.35 * np.sqrt(t)  # half thickness
        dy = q[:, 1] - t * ARM_LENGTH_CM
        e = np.sqrt((q[:, 0] / ax) ** 2 + (q[:, 2] / az) ** 2) - 1.0
        er = e * az  # radial distance, approximately
        return np.sqrt(np.maximum(er, 0.0) ** 2 + dy**2) + np.minimum(er, 0.0)

    lo = np.array([-4.2, -ARM_LENGTH_CM - 0.5, -3.3])
    field.add(lo, np.array([4.2, 0.6, 3.3]), arm_sdf)
    radius[fa] = 3.0
    return field, radius


def _weights(V: np.ndarray, rest: kin.HandModel, radius: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Skin weights from each vertex's distance to each bone's surface: (bones (V, 4), weights (V, 4), local
    coordinates (V, B, 3) of each vertex in each bone's frame)."""
    o, R, L = rest.bone_origin, rest.bone_rot, rest.bone_length
    local = np.einsum("vbi,bij->vbj", V[:, None, :] - o[None], R)  # (V, B, 3)
    t = np.clip(local[..., 1], 0.0, L[None])
    d = np.sqrt(local[..., 0] ** 2 + (local[..., 1] - t) ** 2 + local[..., 2] ** 2) - radius[None]  # (V, B)
    d = np.maximum(d, 0.0)
    logw = -((d / WEIGHT_SIGMA_CM) ** 2)
    top = np.argsort(-logw, axis=1)[:, :MAX_INFLUENCES]  # (V, 4)
    lw = np.take_along_axis(logw, top, 1)
    w = np.exp(lw - lw[:, :1])
    w[w < 1e-3] = 0.0
    w /= w.sum(1, keepdims=True)
    return top.astype(np.int32), w.astype(np.float32), local


def _attributes(V: np.ndarray, N: np.ndarray, rest: kin.HandModel, local: np.ndarray, bones: np.ndarray,
                field: _Field) -> np.ndarray:
    """(V, 8) shader attributes: nail, crease, ao, arm cm, dominant bone, dorsal, 0, 0."""
    n = len(V)
    dom = bones[:, 0]
    loc = local[np.arange(n), dom]  # (V, 3) in the dominant bone's frame
    L = rest.bone_length[dom]
    nrm_local = np.einsum("vi,vij->vj", N, rest.bone_rot[dom])
    distal = np.isin(dom, [kin.finger_bone(f, 2) for f in range(4)] + [kin.BONE_THUMB + 2])
    # nail: the back (local -z) of the outer 60 % of a distal phalanx
    along = np.clip((loc[:, 1] / np.maximum(L, 1e-6) - 0.3) / 0.15, 0.0, 1.0)
    back = np.clip((-nrm_local[:, 2] - 0.35) / 0.25, 0.0, 1.0)
    nail = np.where(distal, along * back, 0.0)
    # creases: bands at the finger joints (palm side strong, back side weak) and three palm lines
    finger = (dom >= 5) & (dom < kin.BONE_FOREARM)
    side = np.where(nrm_local[:, 2] > 0, 1.0, 0.45)
    band = np.exp(-((loc[:, 1] / 0.22) ** 2)) + np.exp(-(((loc[:, 1] - L) / 0.22) ** 2))
    crease = np.where(finger, band * side, 0.0)
    palm_side = np.clip(N[:, 2] * 2.0, 0.0, 1.0) * (V[:, 1] > 1.0) * (V[:, 1] < 9.0)
    for (x0, y0), (x1, y1), bend in (((-4.0, 7.0), (1.5, 8.0), 0.8), ((-3.5, 5.2), (2.5, 6.8), 0.6),
                                     ((2.5, 6.5), (0.5, 1.6), -1.2)):
        xs = np.linspace(0.0, 1.0, 24)
        line = np.stack([x0 + (x1 - x0) * xs + bend * np.sin(np.pi * xs), y0 + (y1 - y0) * xs], 1)  # (24, 2)
        dl = np.min(np.linalg.norm(V[:, None, :2] - line[None], axis=2), axis=1)
        crease = np.maximum(crease, palm_side * np.exp(-((dl / 0.18) ** 2)))
    # ambient occlusion from the field: how much of the space just outside the surface is inside the hand
    occ = np.zeros(n)
    for dist in (0.3, 0.7, 1.2):
        occ += np.clip(dist - field.sample(V + N * dist), 0.0, dist) / dist
    ao = 1.0 - np.clip(occ / 3.0, 0.0, 1.0) * 0.8
    arm = np.maximum(-(V[:, 1] - 0.3), 0.0)  # cm up the forearm from the wrist crease
    dorsal = np.clip(-N[:, 2] * 1.5, 0.0, 1.0)
    out = np.zeros((n, 8), np.float32)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = nail, np.clip(crease, 0, 1), ao, arm
    out[:, 4], out[:, 5] = dom, dorsal
    return out


def vertex_normals(V: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals: the area-weighted mean of the normals of the faces around each vertex."""
    fn = np.cross(V[faces[:, 1]] - V[faces[:, 0]], V[faces[:, 2]] - V[faces[:, 0]])  # (F, 3), length 2 x area
    N = np.zeros_like(V)
    for c in range(3):
        np.add.at(N, faces[:, c], fn)
    return N / np.maximum(np.linalg.norm(N, axis=1, keepdims=True), 1e-12)


@functools.lru_cache(maxsize=1)
def rest_mesh() -> RestMesh:
    """Build (once per process) the rest-pose skin mesh of the average right hand."""
    from skimage.measure import marching_cubes

    shape = kin.mean_shape()
    shape.forearm_length = ARM_LENGTH_CM
    rest = kin.build_hand(shape, rest_pose())
    field, radius = _build_field(rest, shape)
    edges = [field.values[0], field.values[-1], field.values[:, 0], field.values[:, -1], field.values[:, :, 0],
             field.values[:, :, -1]]
    if min(float(e.min()) for e in edges) <= 0.0:
        raise RuntimeError("the hand reaches the edge of the mesh grid; widen _grid_axes")
    verts, faces, _, _ = marching_cubes(field.values, level=0.0, gradient_direction="descent",
                                        allow_degenerate=False)
    V = field.to_cm(verts)  # (V, 3) cm; faces wind counter-clockwise seen from outside
    N = vertex_normals(V, faces)
    bones, weights, local = _weights(V, rest, radius)
    attrs = _attributes(V, N, rest, local, bones, field)
    LOG.debug("rest mesh: %d vertices, %d triangles", len(V), len(faces))
    return RestMesh(vertices=V.astype(np.float32), normals=N.astype(np.float32), faces=faces.astype(np.int32),
                    bones=bones, weights=weights, attrs=attrs, rest=rest)
