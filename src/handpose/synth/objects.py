"""Triangle meshes of the objects hands hold or pass behind: a cylinder (bottle, cup, handle), a box, a sphere
and a phone, each centred at its own origin, in centimetres, with outward normals.

``OBJECT_MESHES`` are unit-ish shapes; a scene scales them with a per-axis size in its model matrix.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

LOG = logging.getLogger(__name__)


def _sphere(rings: int = 12, segments: int = 18) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit sphere: vertices (V, 3), normals (V, 3), faces (F, 3)."""
    th = np.linspace(0.0, np.pi, rings + 1)
    ph = np.linspace(0.0, 2 * np.pi, segments + 1)
    T, P = np.meshgrid(th, ph, indexing="ij")  # (rings+1, segments+1)
    V = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    faces = []
    w = segments + 1
    for i in range(rings):
        for j in range(segments):
            a, b, c, d = i * w + j, i * w + j + 1, (i + 1) * w + j, (i + 1) * w + j + 1
            faces += [(a, c, b), (b, c, d)]
    return V, V.copy(), np.array(faces)


def _cylinder(segments: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cylinder of radius 1 along y from -1 to 1, with caps."""
    ang = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(ang), np.zeros_like(ang), np.sin(ang)], 1)  # (S, 3)
    side_v = np.concatenate([ring + [0, -1, 0], ring + [0, 1, 0]])
    side_n = np.concatenate([ring, ring])
    faces = []
    for j in range(segments):
        k = (j + 1) % segments
        faces += [(j, segments + j, k), (k, segments + j, segments + k)]
    V, N, F = [side_v], [side_n], faces
    for y in (-1.0, 1.0):
        base = sum(len(v) for v in V)
        V.append(np.concatenate([[[0.0, y, 0.0]], ring + [0, y, 0]]))
        N.append(np.tile([0.0, y, 0.0], (segments + 1, 1)))
        F += [(base, base + 1 + j, base + 1 + (j + 1) % segments) for j in range(segments)]
    return np.concatenate(V), np.concatenate(N), np.array(F)


def _box() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cube from -1 to 1 with flat-shaded faces."""
    V, N, F = [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u, v = np.eye(3)[(axis + 1) % 3], np.eye(3)[(axis + 2) % 3]
            base = len(V)
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                V.append(n + du * u + dv * v)
                N.append(n)
            F += [(base, base + 1, base + 2), (base, base + 2, base + 3)]
    return np.array(V), np.array(N), np.array(F)


@functools.lru_cache(maxsize=1)
def object_meshes() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """name -> (vertices (V, 3), normals (V, 3), faces (F, 3)); the phone is a 7 x 14.5 x 0.8 cm slab."""
    box = _box()
    phone = (box[0] * np.array([3.5, 7.25, 0.4]), box[1], box[2])
    return {"sphere": _sphere(), "cylinder": _cylinder(), "box": box, "phone": phone}
