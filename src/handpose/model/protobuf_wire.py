"""The protobuf wire format, read without protobuf: varints and the fields of a message, for the Caffe and ONNX
files handpose reads (``model.caffe``, ``model.onnx_proto``).

Wire types handled: 0 (varint), 1 (64-bit), 2 (length-delimited), 5 (32-bit); groups (3, 4) are an error. A
length-delimited value is a ``memoryview`` slice of the message, so skipping a field costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class ProtobufError(ValueError):
    """A malformed protobuf message (truncated, bad wire type, ...)."""


def read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    """Decode a base-128 varint at ``pos``; returns ``(value, next position)``."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield ``(field number, wire type, value)``; a length-delimited value is a memoryview slice (no copy)."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
            yield field, wire, value
        elif wire == LENGTH:
            size, pos = read_varint(buf, pos)
            if pos + size > end:
                raise ProtobufError(f"field {field}: length {size} runs past the end of the message")
            yield field, wire, buf[pos : pos + size]
            pos += size
        elif wire == FIXED32 or wire == FIXED64:
            size = 4 if wire == FIXED32 else 8
            if pos + size > end:
                raise ProtobufError(f"field {field}: truncated fixed{size * 8}")
            yield field, wire, buf[pos : pos + size]
            pos += size
        else:
            raise ProtobufError(f"field {field}: unsupported wire type {wire} (groups are used by neither caffe.proto "
                                "nor onnx.proto)")
