"""The inputs a user has, turned into what the pipeline runs on: BGR uint8 images, lists of image files, videos.

- One image: a path (decoded upright: the EXIF orientation of a phone's JPEG, or a PNG's or WebP's, is applied),
  an image file's bytes (``bytes``, ``bytearray``, ``memoryview``) or a binary file object (``io.BytesIO``,
  ``open(path, "rb")``, a web framework's upload), decoded as a path is, a numpy array in OpenCV's BGR order (the
  default) or RGB (``color="rgb"``), grey or with alpha, 8 or 16 bits, or a PIL image (RGB, also turned upright; PIL
  is imported only to recognise one, and never required).
- Many images: a file, a folder (its images, sorted) or a glob pattern (``photos/*.jpg``).
- A video: a video file (by suffix) or a webcam index (``0``, ``1``, ...; :func:`webcam_index`).
"""

from __future__ import annotations

import glob
import inspect
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from handpose.data.images import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, ImageError, check_header
from handpose.inference.prepare import check_image, decode_image_bytes, read_image
from handpose.regular_files import why_not_a_file

LOG = logging.getLogger(__name__)

VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".3gp",
                                   ".mts", ".m2ts", ".ts", ".flv")  # the last five: phones, camcorders, streams
COLORS = ("bgr", "rgb")
GLOB_CHARS = "*?["


def is_pil_image(obj: Any) -> bool:
    """True for a PIL image; PIL is looked up only if the caller's program already imported it."""
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(obj, pil.Image)


def to_bgr(image: Any, color: str = "bgr") -> np.ndarray:
    """A BGR uint8 (H, W, 3) image from a path (``str`` or any ``os.PathLike``), an image file's bytes or binary
    file object, an array (``color`` says its channel order) or a PIL image.

    FileNotFoundError / ValueError (as :func:`~handpose.inference.prepare.read_image`) for a bad path; ValueError
    for bytes that are no image (empty, truncated, another format, over the pixel limit), an unknown ``color`` or
    an array of the wrong shape or type."""
    if color not in COLORS:
        raise ValueError(f"color must be one of {', '.join(COLORS)}, got {color!r}")
    if isinstance(image, os.PathLike) and not isinstance(image, Path):  # py.path.local (pytest's tmpdir), ...
        image = Path(os.fspath(image))  # a path, not a file object: its read() would read it as text
    if isinstance(image, (str, Path)):
        if Path(image).suffix.lower() in VIDEO_SUFFIXES:
            raise ValueError(f"{image} is a video: track its hands with handpose.inference.video.run_video(predictor, "
                             f"path), or `handpose predict {image}`")
        return read_image(image, upright=True)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image_bytes(image, f"image bytes ({len(image)} B)", upright=True)
    if is_pil_image(image):
        return _pil_to_bgr(image)
    if callable(getattr(image, "read", None)):
        return _read_file_object(image)
    if not isinstance(image, np.ndarray):
        hint = (": give tensor.permute(1, 2, 0).cpu().numpy() as uint8 (H, W, 3)"
                if type(image).__module__.startswith("torch") else "")
        raise ValueError(f"expected an image path, an image file's bytes or binary file object, a numpy array or a "
                         f"PIL image, got {type(image).__name__}{hint}")
    if image.size == 0:  # before its type: np.array([]) is float64, and (0, 0, 3) looks like (H, W, 3)
        raise ValueError(f"the image array is empty (shape {image.shape}): it holds no pixels")
    image = _as_uint8(image)
    if image.ndim == 3 and image.shape[-1] == 1:  # (H, W, 1): grey
        image = image[..., 0]
    if color == "rgb" and image.ndim == 3 and image.shape[-1] in (3, 4):
        code = cv2.COLOR_RGB2BGR if image.shape[-1] == 3 else cv2.COLOR_RGBA2BGR
        return check_image(cv2.cvtColor(np.ascontiguousarray(image), code))
    return check_image(image)


def is_one_image(obj: Any) -> bool:
    """Whether ``obj`` is one image as :func:`to_bgr` takes it, not a sequence of images: a path, an image file's
    bytes or file object, a PIL image, or an array of one image ((H, W) grey, (H, W, C) with 1, 3 or 4 channels);
    a stack of images (N, H, W, C) is many, and so is a 1-D array (paths in an object array, a pandas column's
    ``.values``)."""
    if isinstance(obj, (str, os.PathLike, bytes, bytearray, memoryview)) or is_pil_image(obj):
        return True
    if isinstance(obj, np.ndarray):
        pixels = obj.dtype.kind not in "OUS"  # not objects or text: an array of paths or images is many
        return pixels and (obj.ndim == 2 or (obj.ndim == 3 and obj.shape[-1] in (1, 3, 4)))
    return callable(getattr(obj, "read", None))


def _read_file_object(file: Any) -> np.ndarray:
    """The image in a binary file object, read from where it stands to its end; ValueError for a text-mode file,
    bytes that are no image, an upload whose ``read`` is a coroutine (Starlette's / FastAPI's ``UploadFile``: its
    ``.file`` reads, or ``await upload.read()`` gives the bytes) or a ``cv2.VideoCapture`` (whose ``read`` takes a
    frame), both refused before reading."""
    name = getattr(file, "name", None)
    source = f"image file object {name if isinstance(name, str) and name else type(file).__name__}"
    if isinstance(file, cv2.VideoCapture):
        raise ValueError("expected one image, got a cv2.VideoCapture: give its frames (ok, frame = cap.read()) one "
                         "by one, or track a video's hands with handpose.inference.video.run_video(predictor, path)")
    if inspect.iscoroutinefunction(file.read):
        raise ValueError(f"{source}: its read() is a coroutine (an async upload such as FastAPI's UploadFile): give "
                         "its bytes, await upload.read(), or its binary file, upload.file")
    data = read_bounded(file, source)
    if len(data) == 0:
        raise ValueError(f"{source} gave no bytes: it is empty, or was read to its end already (file.seek(0) "
                         "before reading it again)")
    return decode_image_bytes(data, f"{source} ({len(data)} B)", upright=True)


HEAD_BYTES = 65536  # read first: an image's header, to judge its size before the rest is read
CHUNK_BYTES = 1 << 22


def byte_limit(head: bytes, source: str = "image", max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """The most bytes an image file whose first bytes are ``head`` can sensibly hold: 8 per pixel (16-bit RGBA,
    uncompressed) of the size its header gives, else of ``max_pixels``, plus 64 MiB for metadata (ICC profiles,
    EXIF, previews). ValueError naming ``source`` where ``head`` already shows the file unusable (another format,
    a header over ``max_pixels``), as for the whole file."""
    try:
        found = check_header(head, source, max_pixels, whole=False)
    except ImageError as exc:
        raise ValueError(f"cannot read {source}: {exc.reason} ({exc.detail})") from None
    pixels = found[1] * found[2] if found is not None else max_pixels
    return 8 * pixels + (64 << 20)


def read_bounded(file: Any, source: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A binary file object's bytes from where it stands, read in chunks: ValueError for text (not bytes), for a
    header of another format or over ``max_pixels`` (before the rest is read), and for a stream longer than the
    image can be (:func:`byte_limit`; an endless stream, a socket or a pipe given by mistake, would fill the
    memory)."""
    parts: list[bytes] = []
    size, limit = 0, None
    while True:
        chunk = file.read(HEAD_BYTES if limit is None else CHUNK_BYTES)
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise ValueError(f"{source} gave {type(chunk).__name__}, not bytes: open the image in binary mode, "
                             "open(path, \"rb\")")
        if len(chunk) == 0:
            return b"".join(parts)
        parts.append(bytes(chunk))
        size += len(chunk)
        if limit is None:
            limit = byte_limit(parts[0], source, max_pixels)  # refuses a file its header shows unusable, unread
        if size > limit:
            raise ValueError(f"cannot read {source}: more than {limit >> 20} MiB, more than an image of its size "
                             "holds (an endless stream?)")


def _as_uint8(image: np.ndarray) -> np.ndarray:
    """A 16-bit array as 8 bits (its top byte, as OpenCV reads a 16-bit file); ValueError with the fix for a float
    array or one whose channels come first."""
    if image.ndim == 3 and image.shape[0] in (1, 3, 4) and image.shape[-1] not in (1, 3, 4):
        raise ValueError(f"the array has shape {image.shape}, channels first: give image.transpose(1, 2, 0), "
                         "(H, W, 3)")
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype.kind == "f":
        raise ValueError(f"expected a uint8 image (0-255), got {image.dtype}: for values in [0, 1] give "
                         "(image * 255).round().clip(0, 255).astype(np.uint8), for values in 0-255 "
                         "image.round().clip(0, 255).astype(np.uint8)")
    return image


def _pil_to_bgr(image: Any) -> np.ndarray:
    """A PIL image as BGR uint8 (H, W, 3), turned upright as its EXIF orientation says (as a path is); 16- and
    32-bit grey modes keep their range (PIL's own RGB conversion clips them at 255)."""
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        grey = np.asarray(image).astype(np.int64)  # (H, W) 16-bit values, in PIL's 32-bit mode "I" as well
        return cv2.cvtColor((np.clip(grey, 0, 65535) >> 8).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    rgb = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8 RGB whatever the PIL mode
    return np.ascontiguousarray(rgb[..., ::-1])


def is_glob(text: str) -> bool:
    """True when ``text`` is a glob pattern rather than a plain path."""
    return any(c in text for c in GLOB_CHARS)


def is_image_entry(path: Path) -> bool:
    """Whether a folder's or a glob's entry is read as an image: any name with an image suffix that is not a folder.
    A FIFO, a device or a link to nothing under such a name is listed too, so that reading it skips it with the
    reason and counts it, where leaving it out would drop it without a word."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir()


# image formats handpose does not decode, by their files' suffixes: a folder's or a glob's such files are named in a
# warning (or in the error, where there is nothing else) rather than passed over without a word
UNREAD_SUFFIXES: dict[str, str] = {
    ".gif": "GIF", ".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JPEG XL", ".jp2": "JPEG 2000",
    ".psd": "Photoshop", ".dng": "raw", ".cr2": "raw", ".cr3": "raw", ".nef": "raw", ".arw": "raw", ".orf": "raw",
    ".rw2": "raw", ".raf": "raw", ".svg": "SVG", ".ico": "icon",
}


def unread_images(entries: list[Path]) -> str:
    """Words for the files among ``entries`` that are images of a format handpose does not read ("" for none):
    how many, of which formats, the first by name, and what to do."""
    unread = [p for p in entries if p.suffix.lower() in UNREAD_SUFFIXES and not p.is_dir()]
    if not unread:
        return ""
    kinds = sorted({UNREAD_SUFFIXES[p.suffix.lower()] for p in unread})
    many = len(unread) > 1
    return (f"{len(unread)} {' and '.join(kinds)} {'files' if many else 'file'} ({unread[0].name}"
            f"{', ...' if many else ''}), a format handpose does not read (it reads JPEG, PNG, BMP, WebP and TIFF): "
            f"convert {'them' if many else 'it'} to one of those to predict {'them' if many else 'it'}")


def image_files(source: str | Path, skip: Callable[[Path], bool] = lambda p: False) -> list[Path]:
    """The image files a source names: one file, a folder's images (sorted) or a glob's matches (sorted).

    ``skip`` leaves files out (predict's own earlier outputs). FileNotFoundError when nothing by that name
    exists, ValueError when a folder or pattern holds no image. Files of image formats handpose does not read
    (GIF, HEIC, ...; :data:`UNREAD_SUFFIXES`) are named in a warning, or in that error."""
    text = str(source)
    if is_glob(text) and not Path(text).exists():
        found = sorted(Path(p) for p in glob.glob(text, recursive=True))
        files = [p for p in found if is_image_entry(p) and not skip(p)]
        unread = unread_images(found)
        if not files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) match {text}"
                             + (f"; it matches {unread}" if unread else ""))
        if unread:
            LOG.warning("%s: left out %s", text, unread)
        return files
    path = Path(text)
    if not path.exists():
        why = why_not_a_file(path)
        if why != "does not exist":  # a symlink loop, a link to nothing
            raise ValueError(f"{path} {why}: give an image file, a folder of images or a glob")
        raise FileNotFoundError(f"image or folder not found: {path}")
    if path.is_file():
        return [path]
    why = why_not_a_file(path)
    if why != "is a folder":
        raise ValueError(f"{path} {why}: give an image file, a folder of images or a glob")
    entries = sorted(path.iterdir())
    files = [p for p in entries if is_image_entry(p) and not skip(p)]
    unread = unread_images(entries)
    below = subfolders_with_images(path, skip, most=NAMED_SUBFOLDERS + 1)  # one more: whether there are others
    named = ", ".join(below[:NAMED_SUBFOLDERS]) + (" and others" if len(below) > NAMED_SUBFOLDERS else "")
    one = len(below) == 1
    hint = (f"its {'subfolder' if one else 'subfolders'} {named} {'holds' if one else 'hold'} images: give the "
            f"quoted glob \"{path / '**' / '*'}\" to read the images below it too") if below else ""
    if not files and not hint:
        deeper = first_image_below(path, skip)
        hint = (f"images lie further down ({deeper.relative_to(path)}, say): give the quoted glob "
                f"\"{path / '**' / '*'}\" to read every image below it") if deeper is not None else ""
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}" + (f"; {hint}" if hint else "")
                         + (f"; it holds {unread}" if unread else ""))
    if unread:
        LOG.warning("%s: left out %s", path, unread)
    if hint:
        LOG.warning("%d %s at the top of %s %s read, not those in its subfolders; %s", len(files),
                    "image" if len(files) == 1 else "images", path, "is" if len(files) == 1 else "are", hint)
    return files


NAMED_SUBFOLDERS = 3  # subfolders a warning names before "and others"


DEEPEST_LOOK = 2000  # folders first_image_below opens at most before it gives up


def first_image_below(path: Path, skip: Callable[[Path], bool] = lambda p: False,
                      most_folders: int = DEEPEST_LOOK) -> Path | None:
    """The first image (folders in sorted order, breadth first) at any depth below ``path``, outside hidden folders
    as the glob ``**`` reads it, or None; opens at most ``most_folders`` folders, so pointing at a large tree of no
    images costs a bounded time. Asked only when a folder and its subfolders hold no image at their top: a labelling
    tool's export root, whose images lie in ``images/<task>/``."""
    queue, opened = [path], 0
    while queue and opened < most_folders:
        folder = queue.pop(0)
        opened += 1
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                queue.append(entry)
            elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES and not skip(entry):
                return entry
    return None


def subfolders_with_images(path: Path, skip: Callable[[Path], bool] = lambda p: False, most: int = 3) -> list[str]:
    """Names of up to ``most`` subfolders of ``path`` (one level down, sorted) with an image at their top, each
    listed only until its first image (a folder of 100k photos per subfolder is not read through). Hidden ones
    (``.thumbnails``) are left out: the glob ``**`` the warning names does not read them."""
    found: list[str] = []
    try:
        folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return found
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                if any(e.is_file() and Path(e.name).suffix.lower() in IMAGE_SUFFIXES and not skip(Path(e.path))
                       for e in entries):
                    found.append(folder.name)
        except OSError:
            continue
        if len(found) == most:
            break
    return found


def webcam_index(source: str | int) -> int | None:
    """The camera index a source names (an int, or a string of digits such as ``"0"`` that is not a file's
    name), else None."""
    if isinstance(source, int):
        return source
    text = str(source).strip()
    return int(text) if text.isdigit() and not Path(text).exists() else None


def is_video(source: str | Path | int) -> bool:
    """True for a webcam index or a path with a video suffix."""
    if webcam_index(source) is not None:  # type: ignore[arg-type]
        return True
    return Path(str(source)).suffix.lower() in VIDEO_SUFFIXES
