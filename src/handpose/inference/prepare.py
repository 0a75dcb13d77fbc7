"""Crop specification and image preparation: an image (or file) and a hand box -> the crops the network runs on.

:class:`CropSpec` is the crop recipe of the model (``data.crop.CropRecipe``: the same square box, padding and
left-hand mirror as training) plus the test-time scales; it is plain data, picklable for data-loader workers.
Images are BGR uint8 (OpenCV's order); files are decoded as the dataset decodes them (``data.images``), a large
JPEG at a reduced resolution when the crop is much smaller than the box (the crop matrix accounts for it); an image
in memory, or a file of another format, is shrunk alike (block averages, ``data.resample``), so no crop aliases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from handpose.config import DataConfig
from handpose.data import images, skip_report
from handpose.data.codec import HeatmapCodec
from handpose.data.crop import MAX_BOX_TO_IMAGE, CropRecipe, box_dwarfs_image, box_misses_image
from handpose.data.resample import cut_crops
from handpose.regular_files import open_regular, why_not_a_file


@dataclass
class Prepared:
    """The crops of one hand, one per scale, with their matrices (original px -> crop px)."""

    crops: list[np.ndarray]  # per scale: (N_s, N_s, 3) uint8
    matrices: list[np.ndarray]  # per scale: (2, 3) float64
    box: np.ndarray  # (4,) [x, y, w, h]

    def mirrored(self) -> Prepared:
        """The same hand cut the other way round (a right hand's crop as a left hand's, and back): each crop flipped
        left-right and its matrix followed by x -> (N_s - 1) - x, exactly what the crop recipe's mirror makes."""
        crops = [np.ascontiguousarray(c[:, ::-1]) for c in self.crops]  # per scale: (N_s, N_s, 3)
        mats = []
        for c, M in zip(self.crops, self.matrices):
            flip = np.array([[-1.0, 0.0, c.shape[1] - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # (3, 3)
            mats.append((flip @ np.vstack([M, [0.0, 0.0, 1.0]]))[:2])  # (2, 3)
        return Prepared(crops, mats, self.box.copy())


@dataclass(frozen=True)
class CropSpec:
    """How a hand is cut out of an image for the network: the crop recipe plus test-time scales (plain data)."""

    input_size: int = 368
    stride: int = 8
    box_padding: float = 1.5
    mirror_left: bool = False
    scales: tuple[float, ...] = (1.0,)

    @property
    def recipe(self) -> CropRecipe:
        """The training crop recipe without augmentation (square box, padding, left-hand mirror)."""
        return CropRecipe(int(self.input_size), float(self.box_padding), bool(self.mirror_left))

    def codec(self, size: int) -> HeatmapCodec:
        """The belief-map codec of crops of side ``size``."""
        return HeatmapCodec(int(size), int(self.stride))

    def sizes(self) -> list[int]:
        """Input side per scale; with several scales each is rounded to the stride so their maps align."""
        if len(self.scales) == 1 and self.scales[0] == 1.0:
            return [int(self.input_size)]
        return [max(self.stride, int(round(self.input_size * s / self.stride)) * self.stride) for s in self.scales]

    def matrices(
        self, image_hw: tuple[int, int], box: Sequence[float] | np.ndarray | None, is_left: bool, strict: bool = True
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Crop matrices (original px -> crop px), one per scale, and the checked box; None = the whole image.

        ``strict=False`` accepts a box without area (a labelled hand with one visible keypoint), as the dataset does.
        """
        h, w = image_hw
        recipe = self.recipe
        if box is None:
            box_arr = np.array([0.0, 0.0, w, h], np.float32)
            return [recipe.whole_image_matrix((h, w), size, is_left) for size in self.sizes()], box_arr
        box_arr = check_box(box, (h, w), strict)
        return [recipe.matrix(box_arr, is_left, size=size) for size in self.sizes()], box_arr

    def prepare(
        self, image: np.ndarray, box: Sequence[float] | np.ndarray | None = None, is_left: bool = False
    ) -> Prepared:
        """Cut the crops of one hand; ``box`` None is the whole image. ValueError for a box off the image."""
        mats, box_arr = self.matrices(image.shape[:2], box, is_left)
        return Prepared(cut_crops(image, mats, self.sizes()), mats, box_arr)

    def prepare_file(self, path: str | Path, box: Sequence[float] | np.ndarray, is_left: bool = False) -> Prepared:
        """:meth:`prepare` from an image file, decoding a large JPEG at a reduced resolution when the crop is much
        smaller than the box (libjpeg DCT scaling; the crop matrix accounts for it, so the result is exact).
        FileNotFoundError / ValueError as :func:`read_image`."""
        path = Path(path)
        check_image_file(path)
        with open_regular(path) as f:
            head = images.header_size(f.read(65536))
        if head is None:
            return self.prepare(read_image(path), box, is_left)
        kind, w, h = head
        mats, box_arr = self.matrices((h, w), box, is_left, strict=False)
        finest = mats[int(np.argmax(self.sizes()))]
        try:
            image, factor = images.load_image(path, reduce=images.reduce_factor(finest) if kind == "jpeg" else 1)
        except images.ImageError as exc:
            detail = f" ({exc.detail})" if exc.detail else ""
            raise ValueError(f"cannot read image {path}: {exc.reason}{detail}") from None
        return Prepared(cut_crops(image, mats, self.sizes(), factor), mats, box_arr)


def check_box(box: Sequence[float] | np.ndarray, image_hw: tuple[int, int], strict: bool = True) -> np.ndarray:
    """A valid ``[x, y, w, h]`` box that overlaps the image, as float32; ValueError saying what is wrong.

    ``strict=False`` (labelled samples, as the dataset crops them) asks for finite numbers, no negative size, some
    overlap with the image (a hand's visible keypoints lie on its image; a box wholly off it is a broken annotation)
    and no side over ``MAX_BOX_TO_IMAGE`` times the image's longer side (a keypoint labelled far off the image): a box
    without area (one visible keypoint) or reaching past the image passes."""
    arr = np.asarray(box, dtype=np.float64).reshape(-1)
    h, w = image_hw
    if arr.size != 4 or not np.isfinite(arr).all():
        raise ValueError(f"box must be 4 finite numbers x,y,w,h; got {','.join(f'{v:g}' for v in arr)}")
    x, y, bw, bh = arr
    if (bw <= 0 or bh <= 0) if strict else (bw < 0 or bh < 0):
        raise ValueError(f"box {x:g},{y:g},{bw:g},{bh:g} has no area (width and height must be > 0)")
    if box_misses_image(arr, (h, w)):
        raise ValueError(f"box {x:g},{y:g},{bw:g},{bh:g} lies outside the image ({w} x {h} px)")
    if box_dwarfs_image(arr, (h, w)):
        raise ValueError(f"box {x:g},{y:g},{bw:g},{bh:g} is over {MAX_BOX_TO_IMAGE:g}x the image's longer side "
                         f"({w} x {h} px)")
    return arr.astype(np.float32)


def check_image_file(path: Path) -> None:
    """FileNotFoundError for a path that names nothing; ValueError saying what it is for a FIFO, a device, a socket
    or a link to nothing or to itself (never opened, so a FIFO does not block)."""
    if path.is_file():
        return
    why = why_not_a_file(path)
    if why == "does not exist":
        raise FileNotFoundError(f"image not found: {path}")
    raise ValueError(f"cannot read image {path}: it {why}, not an image file")


def read_image(path: str | Path, upright: bool = False) -> np.ndarray:
    """A BGR uint8 image from disk, decoded as the dataset decodes it (``data.images.load_image``: pixel-count
    limit; EXIF orientation ignored unless ``upright``, which turns a phone photo as its tag says: the user's
    pictures, not labelled data); FileNotFoundError when missing, ValueError when it cannot be decoded."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not an image (give one image file; the predict command takes folders)")
    check_image_file(path)
    try:
        return images.load_image(path, upright=upright)[0]
    except images.ImageError as exc:
        if exc.reason == skip_report.MISSING_IMAGE:
            raise FileNotFoundError(f"cannot open image {path} ({exc.detail})") from None
        detail = f" ({exc.detail})" if exc.detail else ""
        raise ValueError(f"cannot read image {path}: {exc.reason}{detail}") from None


def decode_image_bytes(data: bytes | bytearray | memoryview, source: str = "image bytes",
                       upright: bool = False) -> np.ndarray:
    """A BGR uint8 image from an image file's bytes in memory (an upload), decoded and checked as
    :func:`read_image` decodes a file (pixel-count limit read from the header first, truncated JPEG refused);
    ValueError naming ``source`` and what is wrong."""
    try:
        return images.decode_image(bytes(data), source, upright=upright)[0]
    except images.ImageError as exc:
        detail = f" ({exc.detail})" if exc.detail else ""
        raise ValueError(f"cannot read {source}: {exc.reason}{detail}") from None


def check_image(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 (H, W, 3) view of an image array (grey and BGRA converted); ValueError for other shapes/types."""
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = cv2.cvtColor(arr, cv2.COLOR_GRAY2BGR)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected a BGR image (H, W, 3), got an array of shape {arr.shape}")
    if arr.shape[2] == 4:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2BGR)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {arr.dtype}")
    return arr


MAX_SCALES = 8  # test-time scales per hand (each is a full network pass)
MAX_SCALE = 4.0  # largest scale factor: 4 x 368 px crops already take ~16x the memory of one


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """The test-time scales as a tuple; ValueError unless there are 1..MAX_SCALES numbers in (0, MAX_SCALE]."""
    out = tuple(float(s) for s in scales)
    if not out or any(not math.isfinite(s) or s <= 0 or s > MAX_SCALE for s in out):
        raise ValueError(f"scales must be numbers in (0, {MAX_SCALE:g}], got {list(scales)}")
    if len(out) > MAX_SCALES:
        raise ValueError(f"at most {MAX_SCALES} scales (each is a full network pass), got {len(out)}")
    return out


def spec_from_config(data_cfg: DataConfig, scales: Sequence[float] = (1.0,)) -> CropSpec:
    """The crop settings of a data config (the same crop the evaluation and training use)."""
    return CropSpec(
        input_size=int(data_cfg.input_size),
        stride=int(data_cfg.stride),
        box_padding=float(data_cfg.box_padding),
        mirror_left=bool(data_cfg.mirror_left),
        scales=check_scales(scales),
    )


