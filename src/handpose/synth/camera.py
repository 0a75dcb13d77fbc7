"""Global hand orientation and a pinhole camera: where the hand sits in front of the lens and how it projects.

Camera frame: x right, y down, z forward (into the scene), pixel centres at integer coordinates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

LOG = logging.getLogger(__name__)

NEAR_CM = 4.0  # nothing is drawn closer to the lens than this

# hand frame -> camera frame for "palm facing the camera, fingers up": x -> x, y -> -y, z -> -z
PALM_VIEW = np.diag([1.0, -1.0, -1.0])


@dataclass
class Camera:
    """A pinhole camera: ``x_px = f * X / Z + cx``."""

    f: float
    cx: float
    cy: float

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame points -> (N, 2) pixel coordinates."""
        z = np.maximum(points[:, 2], 1e-6)
        return np.stack([self.f * points[:, 0] / z + self.cx, self.f * points[:, 1] / z + self.cy], axis=1)

    def point_at(self, pixel: np.ndarray, depth: float) -> np.ndarray:
        """(3,) the camera-frame point that projects to ``pixel`` (x, y) at ``depth``."""
        return np.array([(pixel[0] - self.cx) * depth / self.f, (pixel[1] - self.cy) * depth / self.f, depth])


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly distributed 3D rotation (3, 3) from a random unit quaternion."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def axis_angle(axis: np.ndarray, deg: float) -> np.ndarray:
    """Rotation (3, 3) by ``deg`` about ``axis`` (Rodrigues)."""
    a = axis / np.linalg.norm(axis)
    t = np.radians(deg)
    K = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    return np.eye(3) + np.sin(t) * K + (1.0 - np.cos(t)) * (K @ K)


def sample_orientation(rng: np.random.Generator) -> np.ndarray:
    """Hand -> camera rotation: any orientation, with palm, back and side views all common.

    Half the draws are uniform over all rotations; the other half tilt a palm-facing or back-facing, upright-ish
    hand by a random amount, because photographs show hands more often that way than a uniform draw would.
    """
    if rng.random() < 0.5:
        return random_rotation(rng)
    base = PALM_VIEW if rng.random() < 0.5 else np.diag([-1.0, -1.0, 1.0])  # palm view or back view
    roll = axis_angle(np.array([0.0, 0.0, 1.0]), rng.uniform(-120.0, 120.0))  # in-plane rotation
    tilt = axis_angle(rng.normal(size=3) * np.array([1.0, 1.0, 0.0]) + 1e-9, rng.uniform(0.0, 70.0))
    return roll @ tilt @ base


def place_hand(
    points: np.ndarray, rotation: np.ndarray, size: int, rng: np.random.Generator, fraction: float
) -> tuple[np.ndarray, Camera]:
    """Rotate hand-frame ``points`` (N, 3) and put them in front of a random camera.

    The first 21 points are the joints; their projected extent becomes about ``fraction`` of the image side.
    Returns the camera-frame points and the camera.
    """
    fov = np.radians(rng.uniform(35.0, 80.0))
    f = 0.5 * size / np.tan(0.5 * fov)
    c = (size - 1) / 2.0
    rot = points[:21] @ rotation.T
    centre = 0.5 * (rot.min(0) + rot.max(0))
    extent = float(np.max(rot.max(0)[:2] - rot.min(0)[:2])) + 3.0  # + finger thickness
    depth = max(f * extent / (fraction * size), 12.0 + 0.5 * float(np.ptp(rot[:, 2])))
    # where the hand's centre lands in the image: mostly inside, sometimes cut by the border
    slack = max(0.0, 0.5 * (1.0 - fraction)) * 0.85 + (0.1 if rng.random() < 0.2 else 0.0)
    u, v = c + size * rng.uniform(-slack, slack, 2)
    target = np.array([(u - c) * depth / f, (v - c) * depth / f, depth])
    cam = (points @ rotation.T) - centre + target
    return cam, Camera(f=float(f), cx=c, cy=c)


def clip_near(a: np.ndarray, b: np.ndarray, near: float = NEAR_CM) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clip segments a-b (M, 3) to z >= near; returns new a, b and a keep mask (segments wholly behind go)."""
    za, zb = a[:, 2], b[:, 2]
    keep = (za >= near) | (zb >= near)
    a, b = a.copy(), b.copy()
    for src, dst, zs in ((b, a, za), (a, b, zb)):  # move the endpoint that is too close along the segment
        bad = keep & (zs < near)
        if np.any(bad):
            t = (near - src[bad, 2]) / (dst[bad, 2] - src[bad, 2])
            dst[bad] = src[bad] + t[:, None] * (dst[bad] - src[bad])
    return a, b, keep
