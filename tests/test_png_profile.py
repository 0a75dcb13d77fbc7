"""PNGs are decoded without their colour profile chunk: the same pixels, and no libpng warning from OpenCV 4.8
(which printed ``iCCP: known incorrect sRGB profile`` for each such image; OpenCV 5 prints none either way)."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

from handpose.data.images import decode_image
from handpose.data.png_profile import without_icc_profile


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", pixels)
    assert ok
    return encoded.tobytes()


def _with_profile(png: bytes) -> bytes:
    """``png`` with an iCCP chunk (a profile too short to be one, which libpng warns about) after its IHDR."""
    after_header = 8 + 12 + 13  # signature, then IHDR: length, type, 13 bytes, CRC
    return png[:after_header] + _chunk(b"iCCP", b"icc\0\0" + zlib.compress(bytes(132))) + png[after_header:]


def test_the_profile_chunk_is_left_out_and_nothing_else() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    png = _png(pixels)
    assert without_icc_profile(png) is png  # none to drop: the bytes as they were
    profiled = _with_profile(png)
    assert b"iCCP" in profiled and without_icc_profile(profiled) == png
    image, factor = decode_image(profiled, "profiled.png")
    assert factor == 1 and np.array_equal(image, pixels)


def test_other_bytes_are_returned_as_they_are() -> None:
    ok, jpeg = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    data = jpeg.tobytes() + b"iCCP"
    assert without_icc_profile(data) is data
    broken = _with_profile(_png(np.zeros((4, 4, 3), np.uint8)))[:40]  # cut inside the profile chunk
    assert without_icc_profile(broken) is broken
    profiled = _with_profile(_png(np.zeros((4, 4, 3), np.uint8)))
    no_pixels = profiled[: profiled.index(b"IDAT") - 4]  # the profile whole, then nothing
    assert without_icc_profile(no_pixels) is no_pixels


def test_a_profile_before_the_header_is_left_for_the_decoder_to_refuse() -> None:
    """OpenCV refuses a PNG whose first chunk is not IHDR; dropping a profile chunk put before it must not turn
    such a file into one that decodes."""
    png = _png(np.full((4, 5, 3), 77, np.uint8))
    misplaced = png[:8] + _chunk(b"iCCP", b"icc\0\0" + zlib.compress(bytes(132))) + png[8:]
    assert cv2.imdecode(np.frombuffer(misplaced, np.uint8), cv2.IMREAD_COLOR) is None
    assert without_icc_profile(misplaced) is misplaced


def test_decoding_a_profiled_png_prints_nothing(tmp_path: Path) -> None:
    path = tmp_path / "profiled.png"
    path.write_bytes(_with_profile(_png(np.full((6, 6, 3), 77, np.uint8))))
    code = ("import sys; from handpose.data.images import load_image; image, _ = load_image(sys.argv[1]); "
            "print(int(image.mean()))")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "77", done.stderr
    assert "libpng" not in done.stderr and "iCCP" not in done.stderr
