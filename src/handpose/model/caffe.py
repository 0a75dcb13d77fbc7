"""Read (and write) Caffe ``.caffemodel`` weights without Caffe, through the protobuf wire codec of
``model.protobuf_wire``.

Only the fields that carry weights are decoded; field numbers as in BVLC Caffe's ``src/caffe/proto/caffe.proto``:

- ``NetParameter``: ``layer`` = 100 (``LayerParameter``), legacy ``layers`` = 2 (``V1LayerParameter``)
- ``LayerParameter``: ``name`` = 1, ``type`` = 2 (string), ``blobs`` = 7
- ``V1LayerParameter``: ``name`` = 4, ``type`` = 5 (enum), ``blobs`` = 6
- ``BlobProto``: ``data`` = 5 (float, packed; unpacked also read), ``double_data`` = 8, ``shape`` = 7
  (``BlobShape.dim`` = 1, int64, packed or not), legacy ``num`` / ``channels`` / ``height`` / ``width`` = 1..4
  (when any is present they decide the shape, as in Caffe's ``Blob::FromProto``); repeated values keep wire order
  however each occurrence is encoded

Unknown fields are skipped. Convolution blobs are ``[weight (out, in, kh, kw), bias (out,)]``.
"""

from __future__ import annotations

import logging
import math
import struct
from pathlib import Path

import numpy as np

from handpose.model.protobuf_wire import FIXED32, FIXED64, LENGTH, VARINT, ProtobufError, iter_fields, read_varint

LOG = logging.getLogger(__name__)

NET_LAYER, NET_LAYERS_V1 = 100, 2
LAYER_NAME, LAYER_TYPE, LAYER_BLOBS = 1, 2, 7
V1_NAME, V1_TYPE, V1_BLOBS = 4, 5, 6
BLOB_LEGACY_DIMS = (1, 2, 3, 4)  # num, channels, height, width
BLOB_DATA, BLOB_SHAPE, BLOB_DOUBLE_DATA = 5, 7, 8
SHAPE_DIM = 1

def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _packed(value: memoryview, dtype: str, field: int) -> np.ndarray:
    """A packed repeated float/double field as float32; its byte length must be a whole number of elements."""
    size = np.dtype(dtype).itemsize
    if len(value) % size:
        raise ProtobufError(f"blob field {field}: packed data of {len(value)} bytes is not a multiple of {size}")
    return np.frombuffer(value, dtype=dtype).astype(np.float32)


def _blob_dims(buf: memoryview) -> list[int]:
    """``BlobShape.dim`` in wire order, packed (one length-delimited run of varints) or one varint per field."""
    dims: list[int] = []
    for field, wire, value in iter_fields(buf):
        if field != SHAPE_DIM:
            continue
        if wire == LENGTH:  # packed int64
            pos = 0
            while pos < len(value):
                dim, pos = read_varint(value, pos)
                dims.append(_int64(dim))
        elif wire == VARINT:
            dims.append(_int64(int(value)))
    return dims


class _Repeated:
    """Elements of one repeated float field in wire order, whether each occurrence was packed or not."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.singles: list[float] = []

    def packed(self, values: np.ndarray) -> None:
        self._flush()
        self.chunks.append(values)

    def single(self, value: float) -> None:
        self.singles.append(value)

    def _flush(self) -> None:
        if self.singles:
            self.chunks.append(np.asarray(self.singles, dtype=np.float32))
            self.singles = []

    def array(self) -> np.ndarray | None:
        """All elements as one float32 array, or None when the field never occurred."""
        self._flush()
        return np.concatenate(self.chunks) if self.chunks else None


def decode_blob(buf: memoryview) -> np.ndarray:
    """A ``BlobProto`` -> float32 array shaped by the legacy 4-D dims or ``shape``.

    As Caffe's ``Blob::FromProto`` (``src/caffe/blob.cpp``): when any of ``num`` / ``channels`` / ``height`` /
    ``width`` is present the shape is ``(num, channels, height, width)`` (absent ones 0) even if ``shape`` is present
    too; otherwise ``shape.dim``. ``double_data`` is used when present, else ``data``. Repeated values keep wire order
    across packed and unpacked occurrences, as protobuf parsers do."""
    floats, doubles = _Repeated(), _Repeated()
    dims: list[int] = []
    legacy = {1: 0, 2: 0, 3: 0, 4: 0}
    has_legacy = False
    for field, wire, value in iter_fields(buf):
        if field == BLOB_DATA and wire == LENGTH:
            floats.packed(_packed(value, "<f4", field))
        elif field == BLOB_DATA and wire == FIXED32:
            floats.single(struct.unpack("<f", value)[0])
        elif field == BLOB_DOUBLE_DATA and wire == LENGTH:
            doubles.packed(_packed(value, "<f8", field))
        elif field == BLOB_DOUBLE_DATA and wire == FIXED64:
            doubles.single(struct.unpack("<d", value)[0])
        elif field == BLOB_SHAPE and wire == LENGTH:
            dims += _blob_dims(value)  # a message field seen twice merges: its repeated dims concatenate
        elif field in BLOB_LEGACY_DIMS and wire == VARINT:
            legacy[field] = _int64(int(value))
            has_legacy = True
    data = doubles.array()
    if data is None:
        data = floats.array()
    if data is None:
        data = np.zeros(0, np.float32)
    if has_legacy:  # Caffe's Blob::FromProto: any legacy dim present wins over ``shape``
        dims = [legacy[1], legacy[2], legacy[3], legacy[4]]
    if not dims:
        dims = [data.size]
    if any(d < 0 for d in dims):
        raise ProtobufError(f"blob shape {dims} has a negative dimension")
    if math.prod(dims) != data.size:
        raise ProtobufError(f"blob shape {dims} holds {math.prod(dims)} values but the blob has {data.size}")
    return data.reshape(dims)


def read_caffemodel(path: str | Path) -> dict[str, list[np.ndarray]]:
    """Layer name -> its blobs, for every layer (``layer`` or legacy ``layers``) that has blobs."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caffemodel not found: {path}")
    buf = memoryview(path.read_bytes())
    layers: dict[str, list[np.ndarray]] = {}
    try:
        for field, wire, value in iter_fields(buf):
            if wire != LENGTH or field not in (NET_LAYER, NET_LAYERS_V1):
                continue
            name_field, blob_field = (LAYER_NAME, LAYER_BLOBS) if field == NET_LAYER else (V1_NAME, V1_BLOBS)
            name, blobs = "", []
            for f2, w2, v2 in iter_fields(value):
                if f2 == name_field and w2 == LENGTH:
                    name = bytes(v2).decode("utf-8")
                elif f2 == blob_field and w2 == LENGTH:
                    blobs.append(decode_blob(v2))
            if not blobs:
                continue
            if name in layers:
                raise ProtobufError(f"layer {name!r} appears twice")
            layers[name] = blobs
    except ValueError as exc:  # ProtobufError, a name that is not UTF-8, ...: all malformed content
        raise ValueError(f"{path}: not a readable caffemodel ({exc})") from exc
    LOG.debug("read %d layers with blobs from %s", len(layers), path)
    return layers


# NetParameter's top-level fields and their wire types (caffe.proto): name 1, layers 2 (V1), input 3, input_dim 4
# (int32: varint, or packed), force_backward 5, state 6, debug_info 7, input_shape 8, layer 100.
NET_FIELD_WIRES: dict[int, tuple[int, ...]] = {
    1: (LENGTH,), 2: (LENGTH,), 3: (LENGTH,), 4: (VARINT, LENGTH), 5: (VARINT,), 6: (LENGTH,), 7: (VARINT,),
    8: (LENGTH,), 100: (LENGTH,),
}  # fmt: skip


def looks_like_net_parameter(head: bytes, size: int) -> bool:
    """Whether a file of ``size`` bytes starting with ``head`` opens with a valid ``NetParameter`` field.

    A cheap sniff (the first key, and for a length-delimited field that its length fits in the file); the full
    parse in :func:`read_caffemodel` decides."""
    buf = memoryview(head)
    try:
        key, pos = read_varint(buf, 0)
        field, wire = key >> 3, key & 7
        if wire not in NET_FIELD_WIRES.get(field, ()):
            return False
        value, pos = read_varint(buf, pos)
    except ProtobufError:
        return False
    return wire != LENGTH or pos + value <= size


# ---- writing (tests, and handing weights back to Caffe tools) -------------------------------------------------


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement, as protobuf does
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, LENGTH) + _varint(len(payload)) + payload


def encode_blob(array: np.ndarray, legacy_shape: bool = False, packed: bool = True) -> bytes:
    """A ``BlobProto``: ``shape`` (or legacy num/channels/height/width, padded with leading 1s) and float data."""
    array = np.asarray(array, dtype=np.float32)
    out = bytearray()
    if legacy_shape:
        dims = [1] * (4 - array.ndim) + list(array.shape)
        if len(dims) != 4:
            raise ValueError(f"legacy blob dims hold 4 axes, got shape {array.shape}")
        for field, d in zip(BLOB_LEGACY_DIMS, dims):
            out += _key(field, VARINT) + _varint(d)
    else:
        out += _length_delimited(BLOB_SHAPE, _length_delimited(SHAPE_DIM, b"".join(_varint(d) for d in array.shape)))
    flat = array.astype("<f4").ravel()
    if packed:
        out += _length_delimited(BLOB_DATA, flat.tobytes())
    else:
        out += b"".join(_key(BLOB_DATA, FIXED32) + struct.pack("<f", v) for v in flat.tolist())
    return bytes(out)


def write_caffemodel(
    path: str | Path,
    layers: dict[str, list[np.ndarray]],
    legacy: bool = False,
    legacy_shape: bool = False,
    packed: bool = True,
    layer_type: str = "Convolution",
) -> None:
    """Write ``layers`` (name -> blobs) as a ``NetParameter``: ``layer`` (100) entries, or legacy ``layers`` (2)."""
    out = bytearray(_length_delimited(1, b"handpose"))  # NetParameter.name
    for name, blobs in layers.items():
        if legacy:
            msg = _length_delimited(V1_NAME, name.encode()) + _key(V1_TYPE, VARINT) + _varint(4)  # CONVOLUTION = 4
            msg += b"".join(_length_delimited(V1_BLOBS, encode_blob(b, legacy_shape, packed)) for b in blobs)
            out += _length_delimited(NET_LAYERS_V1, msg)
        else:
            msg = _length_delimited(LAYER_NAME, name.encode()) + _length_delimited(LAYER_TYPE, layer_type.encode())
            msg += b"".join(_length_delimited(LAYER_BLOBS, encode_blob(b, legacy_shape, packed)) for b in blobs)
            out += _length_delimited(NET_LAYER, msg)
    Path(path).write_bytes(bytes(out))
