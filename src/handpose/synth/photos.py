"""Photographic backgrounds: the sample photographs that ship inside the scikit-image and scikit-learn wheels
(nothing is downloaded), cut into random crops at random scales, flipped, recoloured; and the mix of photo,
procedural and plain backgrounds.

The photos are read straight from the installed packages' data folders (found without importing the packages),
so a missing package just means fewer photos; with none, every background is procedural or plain. Licences:
scikit-image's astronaut and rocket (public domain, NASA / SpaceX), coffee and chelsea (CC0), brick, grass, gravel
(CC0 textures); scikit-learn's china.jpg and flower.jpg (CC BY 2.0, Flickr users danielbuechele and vultilion).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path

import cv2
import numpy as np

from handpose.data.png_profile import without_icc_profile
from handpose.synth.scene import background as procedural_background
from handpose.synth.scene import random_color

LOG = logging.getLogger(__name__)

# (package, path inside it)
PHOTO_FILES: tuple[tuple[str, str], ...] = (
    ("skimage", "data/astronaut.png"), ("skimage", "data/coffee.png"), ("skimage", "data/chelsea.png"),
    ("skimage", "data/rocket.jpg"), ("skimage", "data/brick.png"), ("skimage", "data/grass.png"),
    ("skimage", "data/gravel.png"), ("sklearn", "datasets/images/china.jpg"),
    ("sklearn", "datasets/images/flower.jpg"),
)
PHOTO_SHARE = 0.3  # of backgrounds; plain walls stay common (photo crops everywhere hurt large hands on plain walls)
PLAIN_SHARE = 0.25


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _read_photo(path: Path) -> np.ndarray | None:
    """The photo file ``path`` as a BGR uint8 array (H, W, 3), or None where it cannot be read. Python reads the
    bytes and OpenCV only decodes them: ``cv2.imread`` on Windows opens no path holding a character beyond ASCII
    (OpenCV issue 4292), so package folders under a user name with an umlaut gave no photos, and every render there
    lost them without a word."""
    try:
        data = np.frombuffer(without_icc_profile(path.read_bytes()), np.uint8)  # (bytes,); no libpng warning
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


@functools.lru_cache(maxsize=1)
def photos() -> tuple[np.ndarray, ...]:
    """The available photos as BGR uint8 arrays (colour ones; grey textures turned to 3 channels), in a fixed
    order. Empty when neither package is installed."""
    out = []
    for package, rel in PHOTO_FILES:
        base = _package_dir(package)
        path = base / rel if base is not None else None
        img = _read_photo(path) if path is not None and path.is_file() else None
        if img is None:
            LOG.debug("background photo %s/%s not found", package, rel)
            continue
        out.append(img)
    if not out:
        LOG.info("no background photos (scikit-image / scikit-learn not installed); using procedural backgrounds")
    return tuple(out)


def photo_crop(rng: np.random.Generator, width: int, height: int) -> np.ndarray | None:
    """A random crop (height, width, 3) of a random photo: any scale from a detail to the whole photo, flipped
    half the time, with a colour and brightness change; None when there are no photos."""
    pics = photos()
    if not pics:
        return None
    img = pics[int(rng.integers(0, len(pics)))]
    h, w = img.shape[:2]
    aspect = width / height
    ch = float(rng.uniform(0.25, 1.0)) * min(h, w / aspect)
    cw = ch * aspect
    x0 = float(rng.uniform(0, w - cw))
    y0 = float(rng.uniform(0, h - ch))
    sx, sy = width / cw, height / ch
    M = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy]])
    if rng.random() < 0.5:  # mirror
        M = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([M, [0, 0, 1]])
    out = cv2.warpAffine(img, M, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    gain = rng.uniform(0.8, 1.2, 3) * rng.uniform(0.6, 1.2)
    return np.clip(out.astype(np.float32) * gain.astype(np.float32), 0, 255).astype(np.uint8)


def plain_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A plain wall, desk or backdrop: one colour with a soft light gradient and a little grain."""
    c = np.array(random_color(rng), np.float32)
    yy = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xx = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None]
    a = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(a) * xx + np.sin(a) * yy) * np.float32(rng.uniform(0.0, 0.25))  # (H, W)
    img = c[None, None] * (1.0 + ramp[..., None])
    grain = rng.normal(0.0, rng.uniform(0.5, 3.0), (max(height // 2, 1), max(width // 2, 1))).astype(np.float32)
    img += cv2.resize(grain, (width, height), interpolation=cv2.INTER_NEAREST)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def sample_background(rng: np.random.Generator, width: int, height: int, skin_bgr: np.ndarray,
                      focus: tuple[float, float] | None = None) -> tuple[np.ndarray, str]:
    """(background (height, width, 3) BGR uint8, kind): a photo crop, a procedural scene (clutter, people-like
    distractors with skin-coloured faces and arms) or a plain wall."""
    r = rng.random()
    if r < PHOTO_SHARE:
        img = photo_crop(rng, width, height)
        if img is not None:
            return img, "photo"
    if r < PHOTO_SHARE + PLAIN_SHARE:
        return plain_background(rng, width, height), "plain"
    side = max(width, height)
    img = procedural_background(rng, side, skin_bgr, focus)
    return np.ascontiguousarray(img[:height, :width]), "procedural"
