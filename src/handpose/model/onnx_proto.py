"""What handpose reads of an ONNX file straight from its protobuf bytes, without ``import onnx`` (most of a second
at each model load): its ``metadata_props`` (ModelProto field 14, entries of key 1 and value 2), and whether its
weights hold NaN or infinity.

ModelProto field 7 is the graph; GraphProto field 5 its initializers, each a TensorProto whose ``data_type``
(field 2) says FLOAT (1), FLOAT16 (10), DOUBLE (11) or BFLOAT16 (16) and whose numbers are in ``raw_data`` (9),
``float_data`` (4, packed) or ``double_data`` (10, packed); its name is field 8. Integer tensors (an int8 model's
weights) hold no NaN, and external data is not read here.
"""

from __future__ import annotations

import numpy as np

from handpose.model.protobuf_wire import LENGTH, ProtobufError, iter_fields

ONNX_METADATA_PROPS, ENTRY_KEY, ENTRY_VALUE = 14, 1, 2  # ModelProto.metadata_props, StringStringEntryProto fields


def onnx_metadata_props(data: bytes) -> dict[str, str] | None:
    """An ONNX file's ``metadata_props`` (the graph and its weights skipped unread), or None where the bytes do not
    parse as a message."""
    try:
        meta: dict[str, str] = {}
        for field, wire, value in iter_fields(memoryview(data)):
            if field == ONNX_METADATA_PROPS and wire == LENGTH:
                entry = {f: bytes(v) for f, w, v in iter_fields(value) if w == LENGTH}  # type: ignore[arg-type]
                meta[entry.get(ENTRY_KEY, b"").decode()] = entry.get(ENTRY_VALUE, b"").decode()
        return meta
    except (ProtobufError, UnicodeDecodeError):
        return None


MODEL_GRAPH, GRAPH_INITIALIZER = 7, 5
TENSOR_TYPE, TENSOR_FLOATS, TENSOR_NAME, TENSOR_RAW, TENSOR_DOUBLES = 2, 4, 8, 9, 10
_FLOAT_TYPES = {1: np.dtype("<f4"), 10: np.dtype("<f2"), 11: np.dtype("<f8"), 16: np.dtype("<u2")}  # 16: bfloat16


def non_finite_weights(data: bytes) -> list[str]:
    """The names of the initializers of ONNX file bytes ``data`` that hold a NaN or an infinity ([] when the bytes
    do not parse: whoever loads the file says why)."""
    bad: list[str] = []
    try:
        for field, wire, graph in iter_fields(memoryview(data)):
            if field != MODEL_GRAPH or wire != LENGTH:
                continue
            for g_field, g_wire, tensor in iter_fields(graph):  # type: ignore[arg-type]
                if g_field == GRAPH_INITIALIZER and g_wire == LENGTH and not _finite(tensor):  # type: ignore[arg-type]
                    bad.append(_name(tensor))  # type: ignore[arg-type]
    except ProtobufError:
        return []
    return bad


def _finite(tensor: memoryview) -> bool:
    """Whether a TensorProto's floating numbers are all finite (True for other types)."""
    parts = {f: v for f, _, v in iter_fields(tensor)}  # one of each field (repeated numbers come packed)
    dtype = _FLOAT_TYPES.get(parts.get(TENSOR_TYPE))  # type: ignore[arg-type]
    if dtype is None:
        return True
    for field, kind in ((TENSOR_RAW, dtype), (TENSOR_FLOATS, np.dtype("<f4")), (TENSOR_DOUBLES, np.dtype("<f8"))):
        raw = parts.get(field)
        if not isinstance(raw, memoryview) or len(raw) % kind.itemsize:
            continue
        values = np.frombuffer(raw, dtype=kind)  # (n,)
        if kind == np.dtype("<u2"):  # bfloat16: the high half of a float32
            values = (values.astype(np.uint32) << 16).view(np.float32)
        if not np.isfinite(values).all():
            return False
    return True


def _name(tensor: memoryview) -> str:
    for field, wire, value in iter_fields(tensor):
        if field == TENSOR_NAME and wire == LENGTH:
            return bytes(value).decode("utf-8", "replace")  # type: ignore[arg-type]
    return "(unnamed)"
