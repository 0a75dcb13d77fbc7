"""PNG bytes without their embedded colour profile (the ``iCCP`` chunk), for decoding with OpenCV.

OpenCV ignores a PNG's colour profile when it decodes (pixels come out as stored), but the libpng inside OpenCV 4.8
checks it first and prints ``libpng warning: iCCP: known incorrect sRGB profile`` on standard error for the many
PNGs written with an old sRGB profile (two of scikit-image's sample photos among them), once per image read: a
folder of such images buries everything else handpose prints. Dropping the chunk before decoding leaves the pixels
as they were and the warning unprinted.
"""

from __future__ import annotations

from handpose.data.png_chunks import PNG_SIGNATURE, png_chunks

_PROFILE = b"iCCP"
_HEADER = b"IHDR"  # the first chunk of every PNG the decoder reads
_PIXELS = (b"IDAT", b"IEND")  # a profile chunk must come before the first of these


def without_icc_profile(data: bytes) -> bytes:
    """``data`` with its ``iCCP`` chunks left out when it is a PNG that has one; anything else (another format, a
    PNG without a profile, a broken chunk list or one not starting with IHDR, which the decoder then reports) is
    returned as it is."""
    if not data.startswith(PNG_SIGNATURE) or _PROFILE not in data[:1 << 20]:
        return data
    if data[len(PNG_SIGNATURE) + 4: len(PNG_SIGNATURE) + 8] != _HEADER:
        return data  # not IHDR first: the decoder refuses it, and must go on doing so
    kept = [data[: len(PNG_SIGNATURE)]]
    for at, length, kind in png_chunks(data):
        end = at + 12 + length  # length, type, data, CRC
        if end > len(data):
            return data
        if kind in _PIXELS:
            kept.append(data[at:])
            return b"".join(kept)
        if kind != _PROFILE:
            kept.append(data[at:end])
    return data  # no pixel data: broken, left to the decoder
