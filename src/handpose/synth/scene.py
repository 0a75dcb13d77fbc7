"""Everything around the hand: textured backgrounds and clutter, occluders, lights, skin tones, camera effects.

All drawing uses OpenCV primitives and small random arrays upsampled, so a 368 x 368 scene costs about a
millisecond. Sensor noise comes from a fixed bank generated once per process from a constant seed and cropped at
a random offset, which is deterministic and much cheaper than drawing fresh normal numbers per pixel.
"""

from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

from handpose.synth.render import Light

LOG = logging.getLogger(__name__)

# skin tones (BGR), light to dark; a hand's tone is a random blend of two neighbours plus jitter
SKIN_TONES_BGR = np.array(
    [
        [196, 214, 250], [180, 200, 245], [160, 190, 235], [125, 170, 225], [105, 150, 210],
        [80, 125, 190], [60, 100, 160], [45, 75, 125], [35, 55, 95], [30, 45, 70],
    ],
    dtype=np.float64,
)
PALM_TONE_BGR = np.array([175, 190, 240], dtype=np.float64)  # palms are lighter and pinker


def skin_tone(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(back-of-hand colour, palm colour), BGR float 0..255."""
    i = rng.integers(0, len(SKIN_TONES_BGR) - 1)
    t = rng.random()
    back = SKIN_TONES_BGR[i] * (1 - t) + SKIN_TONES_BGR[i + 1] * t
    back = np.clip(back * rng.uniform(0.9, 1.1) + rng.normal(0, 6, 3), 0, 255)
    mix = 0.15 + 0.5 * (i / (len(SKIN_TONES_BGR) - 1))  # darker hands have relatively lighter palms
    palm = back * (1 - mix) + PALM_TONE_BGR * np.clip(back.mean() / 170.0, 0.35, 1.0) * mix
    return back, palm


def random_light(rng: np.random.Generator) -> Light:
    """A light from a random direction on the camera's side of the hand (z < 0), sometimes grazing (small |z|)."""
    d = np.array([rng.normal(), rng.normal(), -abs(rng.normal(0.9, 0.6))])
    return Light(
        direction=d / np.linalg.norm(d),
        ambient=float(rng.uniform(0.25, 0.75)),
        diffuse=float(rng.uniform(0.25, 0.85)),
        specular=float(rng.uniform(0.0, 0.18)),
        shininess=float(rng.uniform(6.0, 25.0)),
    )


def random_color(rng: np.random.Generator) -> tuple[int, int, int]:
    """A random BGR colour, often muted (walls, clothes, furniture)."""
    if rng.random() < 0.5:
        g = rng.uniform(20, 235)
        c = g + rng.normal(0, 25, 3)
    else:
        c = rng.uniform(0, 255, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def background(rng: np.random.Generator, size: int, skin: np.ndarray,
               focus: tuple[float, float] | None = None) -> np.ndarray:
    """A textured random background (size, size, 3) uint8 with clutter, some of it skin coloured.

    The texture is composed on a coarse grid (gradient + blotches + fine grain, mostly in brightness with a little
    colour) and upsampled once, which keeps the cost independent of the image size. ``focus`` (x, y) is where the
    hand will be: a person drawn in the background is sometimes put right behind it (a hand before a face or body).
    """
    studio = rng.random() < 0.12  # a plain bright backdrop, as in product and stock photographs
    g = int(rng.integers(8, 100))  # grid cells: low = smooth walls, high = fabric, foliage, carpet
    c0 = np.array(random_color(rng), np.float32)
    c1 = np.array(random_color(rng), np.float32)
    if studio:
        c0 = np.float32(rng.uniform(200, 255)) + rng.normal(0, 5, 3).astype(np.float32)
        c1 = c0 - np.float32(rng.uniform(0, 50))
    lin = np.linspace(0.0, 1.0, g, dtype=np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(ang) * lin[None, :] + np.sin(ang) * lin[:, None]
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-6) * np.float32(rng.uniform(0.0, 1.0))
    img = c0 + ramp[..., None] * (c1 - c0)  # (g, g, 3)
    blotch = int(rng.integers(2, 9))
    lum = cv2.resize(rng.random((blotch, blotch), dtype=np.float32), (g, g), interpolation=cv2.INTER_CUBIC)
    chroma = cv2.resize(rng.random((blotch, blotch, 3), dtype=np.float32), (g, g), interpolation=cv2.INTER_CUBIC)
    img += (lum[..., None] - 0.5) * np.float32(rng.uniform(0, 140)) + (chroma - 0.5) * np.float32(rng.uniform(0, 60))
    img += (rng.random((g, g, 1), dtype=np.float32) - 0.5) * np.float32(rng.uniform(0, 50))  # grain
    small = np.clip(img, 0, 255).astype(np.uint8)
    interp = cv2.INTER_LINEAR if rng.random() < 0.5 else cv2.INTER_CUBIC
    work = size // 2 if rng.random() < 0.5 else size  # half the time drawn at half resolution: softer and cheaper
    out = cv2.resize(small, (work, work), interpolation=interp)
    if rng.random() < 0.35:
        near = None if focus is None or rng.random() < 0.5 else (focus[0] * work / size, focus[1] * work / size)
        _person(rng, out, skin, near)
    _clutter(rng, out, int(rng.integers(0, 4 if studio else 14)), skin)
    if work != size:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.3:  # out of focus
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.8, 2.5))
    return out


def _person(rng: np.random.Generator, img: np.ndarray, skin: np.ndarray, near: tuple[float, float] | None) -> None:
    """A rough person in the background, in place: a torso in clothes, a neck, a face and hair (``near`` = around
    that point, the face or the chest behind the hand)."""
    size = img.shape[0]
    s = size * rng.uniform(0.15, 0.45)  # head height
    if near is None:
        cx, cy = rng.uniform(0, size), rng.uniform(-0.2 * size, 0.8 * size)
    else:
        cx, cy = near[0] + rng.normal(0, 0.3 * s), near[1] - rng.uniform(-0.3, 2.5) * s
    face = tuple(int(v) for v in np.clip(skin * rng.uniform(0.8, 1.15) + rng.normal(0, 8, 3), 0, 255))
    hair = tuple(int(v) for v in np.clip(rng.uniform(10, 90) * rng.uniform(0.7, 1.3, 3), 0, 255))
    cloth = random_color(rng)
    tilt = float(rng.uniform(-15, 15))
    cv2.ellipse(img, (int(cx), int(cy + 2.2 * s)), (int(1.6 * s), int(1.5 * s)), tilt, 180, 360, cloth, -1,
                cv2.LINE_AA)  # shoulders
    cv2.rectangle(img, (int(cx - 1.6 * s), int(cy + 2.2 * s)), (int(cx + 1.6 * s), int(cy + 5 * s)), cloth, -1)
    cv2.rectangle(img, (int(cx - 0.22 * s), int(cy + 0.3 * s)), (int(cx + 0.22 * s), int(cy + 0.9 * s)), face, -1)
    cv2.ellipse(img, (int(cx), int(cy - 0.08 * s)), (int(0.42 * s), int(0.55 * s)), tilt, 0, 360, hair, -1,
                cv2.LINE_AA)
    cv2.ellipse(img, (int(cx), int(cy + 0.05 * s)), (int(0.36 * s), int(0.5 * s)), tilt, 0, 360, face, -1,
                cv2.LINE_AA)
    if rng.random() < 0.8:  # eyes and mouth, darker
        dark = tuple(int(v * 0.45) for v in face)
        for ex in (-0.14, 0.14):
            cv2.circle(img, (int(cx + ex * s), int(cy)), max(1, int(0.04 * s)), dark, -1, cv2.LINE_AA)
        cv2.line(img, (int(cx - 0.1 * s), int(cy + 0.28 * s)), (int(cx + 0.1 * s), int(cy + 0.28 * s)), dark,
                 max(1, int(0.03 * s)), cv2.LINE_AA)


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int, skin: np.ndarray) -> None:
    """Draw ``count`` random shapes in place: rectangles, ellipses, lines, polygons, skin-coloured blobs."""
    size = img.shape[0]
    for _ in range(count):
        kind = rng.random()
        color = random_color(rng)
        if rng.random() < 0.15:  # faces, arms, other people's skin
            color = tuple(int(v) for v in np.clip(skin * rng.uniform(0.7, 1.2), 0, 255))
        p = rng.integers(-size // 4, size + size // 4, 2)
        s = max(int(rng.integers(size // 20, size // 2 + 1)), 6)
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 8))
        if kind < 0.3:
            q = p + rng.integers(-s, s, 2)
            cv2.rectangle(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), color, thick, cv2.LINE_AA)
        elif kind < 0.55:
            axes = (int(rng.integers(3, s)), int(rng.integers(3, s)))
            cv2.ellipse(img, (int(p[0]), int(p[1])), axes, float(rng.uniform(0, 180)), 0, 360, color, thick,
                        cv2.LINE_AA)
        elif kind < 0.8:
            q = p + rng.integers(-size, size, 2)
            cv2.line(img, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), color, int(rng.integers(1, 10)),
                     cv2.LINE_AA)
        else:
            pts = (p + rng.integers(-s, s, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(img, [pts], color, cv2.LINE_AA)


def occluders(rng: np.random.Generator, img: np.ndarray, box: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Draw 1-2 flat objects over the hand's box [x0, y0, x1, y1]; returns their mask (size, size) uint8."""
    size = img.shape[0]
    mask = np.zeros((size, size), np.uint8)
    span = float(max(box[2] - box[0], box[3] - box[1], 8.0))
    for _ in range(int(rng.integers(1, 3))):
        color = random_color(rng) if rng.random() < 0.85 else tuple(int(v) for v in skin)
        c = rng.uniform(box[:2], box[2:])
        s = span * rng.uniform(0.08, 0.35)
        kind = rng.random()
        if kind < 0.35:  # a stick, pen or strap across the hand
            d = rng.normal(size=2)
            d = d / (np.linalg.norm(d) + 1e-9) * span * rng.uniform(0.3, 1.0)
            p, q = (c - d).astype(np.int32), (c + d).astype(np.int32)
            w = max(2, int(s * rng.uniform(0.2, 0.5)))
            for dst, col in ((img, color), (mask, 255)):
                cv2.line(dst, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), col, w, cv2.LINE_AA)
        elif kind < 0.65:
            axes = (max(2, int(s)), max(2, int(s * rng.uniform(0.4, 1.0))))
            ang = float(rng.uniform(0, 180))
            for dst, col in ((img, color), (mask, 255)):
                cv2.ellipse(dst, (int(c[0]), int(c[1])), axes, ang, 0, 360, col, -1, cv2.LINE_AA)
        else:
            k = int(rng.integers(3, 7))
            ang = np.sort(rng.uniform(0, 2 * np.pi, k))
            rad = s * rng.uniform(0.5, 1.3, k)
            pts = (c + np.stack([np.cos(ang) * rad, np.sin(ang) * rad], 1)).astype(np.int32)
            for dst, col in ((img, color), (mask, 255)):
                cv2.fillPoly(dst, [pts], col, cv2.LINE_AA)
    return mask


@functools.lru_cache(maxsize=2)
def _noise_bank(side: int) -> np.ndarray:
    """Fixed standard-normal noise (side, side, 3) as int16 in 1/64 units, the same in every process."""
    bank = np.random.default_rng(12345).standard_normal((side, side, 3), dtype=np.float32) * 64.0
    return np.clip(bank, -32000, 32000).astype(np.int16)


def camera_effects(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Colour cast, contrast, brightness (one lookup table per channel), blur (defocus or motion), sensor noise."""
    size = img.shape[0]
    levels = np.arange(256, dtype=np.float32)
    gain = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.7, 1.25)
    contrast, shift = rng.uniform(0.75, 1.2), rng.uniform(-20, 20)
    gamma = rng.uniform(0.8, 1.25)
    lut = np.stack([((levels / 255.0) ** gamma * 255.0 - 128.0) * contrast * gain[c] + 128.0 + shift for c in range(3)])
    lut = np.clip(lut, 0, 255).astype(np.uint8).T[None]  # (1, 256, 3)
    out = cv2.LUT(img, lut)
    r = rng.random()
    if r < 0.35:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.4, 1.4))
    elif r < 0.45:  # motion blur
        k = int(rng.integers(3, 9))
        ker = np.zeros((k, k), np.float32)
        ker[k // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), float(rng.uniform(0, 180)), 1.0)
        ker = cv2.warpAffine(ker, rot, (k, k))
        out = cv2.filter2D(out, -1, ker / max(float(ker.sum()), 1e-6))
    sigma = int(rng.integers(0, 8))
    if sigma > 0:
        h, w = img.shape[:2]
        side = max(max(h, w) * 2, 512)  # square images keep the crop offsets they always had
        bank = _noise_bank(side)
        oy, ox = rng.integers(0, side - size + 1, 2) if h == w else (rng.integers(0, side - h + 1),
                                                                      rng.integers(0, side - w + 1))
        noise = bank[oy : oy + h, ox : ox + w] * np.int16(sigma)  # 1/64 units
        noise >>= 6
        out = np.clip(out.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out
