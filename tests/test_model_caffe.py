"""The dependency-free Caffe reader and writer (``model/caffe.py``) against Caffe's rules and the real protobuf runtime.

The protobuf classes are built at test time from a descriptor of the subset of BVLC Caffe's ``caffe.proto`` that
carries weights (field numbers as there: ``NetParameter`` name 1 / layers 2 / layer 100, ``LayerParameter`` name 1 /
type 2 / blobs 7, ``V1LayerParameter`` name 4 / type 5 / blobs 6, ``BlobProto`` num..width 1-4 / data 5 packed /
shape 7 / double_data 8 packed, ``BlobShape`` dim 1 packed int64), so no generated ``caffe_pb2`` module is needed.
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from handpose.model.caffe import decode_blob, read_caffemodel, write_caffemodel

descriptor_pb2 = pytest.importorskip("google.protobuf.descriptor_pb2")
message_factory = pytest.importorskip("google.protobuf.message_factory")
descriptor_pool = pytest.importorskip("google.protobuf.descriptor_pool")

F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def _field(msg: Any, name: str, number: int, ftype: int, label: int = OPTIONAL, type_name: str = "",
           packed: bool = False) -> None:
    field = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        field.type_name = type_name
    if packed:
        field.options.packed = True


def _caffe_subset() -> descriptor_pb2.FileDescriptorProto:
    """caffe.proto's weight-carrying messages, proto2, field numbers and packing as in BVLC Caffe."""
    proto = descriptor_pb2.FileDescriptorProto(name="caffe_subset.proto", package="caffe", syntax="proto2")
    shape = proto.message_type.add(name="BlobShape")
    _field(shape, "dim", 1, F.TYPE_INT64, REPEATED, packed=True)
    blob = proto.message_type.add(name="BlobProto")
    _field(blob, "shape", 7, F.TYPE_MESSAGE, type_name=".caffe.BlobShape")
    _field(blob, "data", 5, F.TYPE_FLOAT, REPEATED, packed=True)
    _field(blob, "double_data", 8, F.TYPE_DOUBLE, REPEATED, packed=True)
    for number, name in enumerate(("num", "channels", "height", "width"), start=1):
        _field(blob, name, number, F.TYPE_INT64)
    layer = proto.message_type.add(name="LayerParameter")
    _field(layer, "name", 1, F.TYPE_STRING)
    _field(layer, "type", 2, F.TYPE_STRING)
    _field(layer, "blobs", 7, F.TYPE_MESSAGE, REPEATED, type_name=".caffe.BlobProto")
    v1 = proto.message_type.add(name="V1LayerParameter")
    layer_type = v1.enum_type.add(name="LayerType")
    layer_type.value.add(name="NONE", number=0)
    layer_type.value.add(name="CONVOLUTION", number=4)
    _field(v1, "name", 4, F.TYPE_STRING)
    _field(v1, "type", 5, F.TYPE_ENUM, type_name=".caffe.V1LayerParameter.LayerType")
    _field(v1, "blobs", 6, F.TYPE_MESSAGE, REPEATED, type_name=".caffe.BlobProto")
    net = proto.message_type.add(name="NetParameter")
    _field(net, "name", 1, F.TYPE_STRING)
    _field(net, "layers", 2, F.TYPE_MESSAGE, REPEATED, type_name=".caffe.V1LayerParameter")
    _field(net, "layer", 100, F.TYPE_MESSAGE, REPEATED, type_name=".caffe.LayerParameter")
    return proto


@pytest.fixture(scope="module")
def pb() -> dict[str, type]:
    """Message classes of the caffe.proto subset, from the installed protobuf runtime."""
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_caffe_subset())
    names = ("BlobShape", "BlobProto", "LayerParameter", "V1LayerParameter", "NetParameter")
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"caffe.{n}")) for n in names}


def _layers() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    return {
        "conv1_1": [rng.standard_normal((4, 3, 3, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32)],
        "conv6_2_CPM": [rng.standard_normal((22, 4, 1, 1)).astype(np.float32), np.zeros(22, np.float32)],
    }


def _fill_blob(blob: Any, array: np.ndarray, legacy: bool, double: bool) -> None:
    if legacy:
        dims = [1] * (4 - array.ndim) + list(array.shape)
        blob.num, blob.channels, blob.height, blob.width = dims
    else:
        blob.shape.dim.extend(array.shape)
    (blob.double_data if double else blob.data).extend(array.ravel().tolist())


# ---- Caffe's rule for blobs carrying both shapes ---------------------------------------------------------------


def test_legacy_dims_win_over_shape_as_in_caffe_blob_from_proto() -> None:
    """Blob::FromProto reads num/channels/height/width whenever any is present, even beside ``shape``."""
    data = struct.pack("<6f", *range(6))
    shape = bytes([7 << 3 | 2, 3, 1 << 3 | 2, 1, 6])  # shape { dim: [6] } (packed)
    legacy = bytes([1 << 3, 1, 2 << 3, 1, 3 << 3, 2, 4 << 3, 3])  # num 1, channels 1, height 2, width 3
    payload = bytes([5 << 3 | 2, len(data)]) + data
    for blob in (shape + legacy + payload, legacy + payload + shape):
        got = decode_blob(memoryview(blob))
        assert got.shape == (1, 1, 2, 3)
        np.testing.assert_array_equal(got.ravel(), np.arange(6, dtype=np.float32))


def test_a_single_legacy_dim_present_gives_zeros_elsewhere_as_caffe(pb: dict[str, type]) -> None:
    """Only ``width`` set (beside a shape): Caffe reshapes to (0, 0, 0, width), which cannot hold the data."""
    blob = pb["BlobProto"]()
    blob.shape.dim.append(2)
    blob.width = 2
    blob.data.extend([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\[0, 0, 0, 2\] holds 0 values"):
        decode_blob(memoryview(blob.SerializeToString()))


# ---- protobuf writes, handpose reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("v1, legacy, double", list(itertools.product([False, True], repeat=3)))
def test_protobuf_written_net_reads_back(tmp_path: Path, pb: dict[str, type], v1: bool, legacy: bool,
                                         double: bool) -> None:
    layers = _layers()
    net = pb["NetParameter"](name="written by protobuf")
    if v1:
        net.layers.add(name="data", type=0)  # a layer without blobs: skipped
    else:
        net.layer.add(name="data", type="Input")
    for name, blobs in layers.items():
        entry = net.layers.add(name=name, type=4) if v1 else net.layer.add(name=name, type="Convolution")
        for array in blobs:
            _fill_blob(entry.blobs.add(), array, legacy, double)
    path = tmp_path / "net.caffemodel"
    path.write_bytes(net.SerializeToString())
    read = read_caffemodel(path)
    assert list(read) == list(layers)
    for name, blobs in layers.items():
        assert len(read[name]) == 2
        weight, bias = read[name]
        np.testing.assert_array_equal(weight, blobs[0])  # legacy 4-D weights are already (out, in, kh, kw)
        expected_bias_shape = (1, 1, 1, blobs[1].size) if legacy else blobs[1].shape
        assert bias.shape == expected_bias_shape
        np.testing.assert_array_equal(bias.ravel(), blobs[1])


def test_protobuf_blob_with_both_shapes_reads_as_caffe(pb: dict[str, type]) -> None:
    blob = pb["BlobProto"](num=1, channels=1, height=2, width=3)
    blob.shape.dim.extend([6])
    blob.data.extend(range(6))
    assert decode_blob(memoryview(blob.SerializeToString())).shape == (1, 1, 2, 3)


# ---- handpose writes, protobuf reads ---------------------------------------------------------------------------


@pytest.mark.parametrize("legacy, packed", list(itertools.product([False, True], repeat=2)))
def test_handpose_written_net_parses_with_protobuf(tmp_path: Path, pb: dict[str, type], legacy: bool,
                                                   packed: bool) -> None:
    layers = _layers()
    path = tmp_path / "handpose.caffemodel"
    write_caffemodel(path, layers, legacy=legacy, legacy_shape=legacy, packed=packed)
    net = pb["NetParameter"]()
    net.ParseFromString(path.read_bytes())
    assert net.name == "handpose"
    entries = net.layers if legacy else net.layer
    assert len(entries) == len(layers) and len(net.layers if not legacy else net.layer) == 0
    for entry, (name, blobs) in zip(entries, layers.items()):
        assert entry.name == name
        assert entry.type == (4 if legacy else "Convolution")
        assert len(entry.blobs) == len(blobs)
        for parsed, array in zip(entry.blobs, blobs):
            if legacy:
                dims = [parsed.num, parsed.channels, parsed.height, parsed.width]
                assert dims == [1] * (4 - array.ndim) + list(array.shape)
                assert not parsed.HasField("shape")
            else:
                assert list(parsed.shape.dim) == list(array.shape)
            np.testing.assert_array_equal(np.asarray(parsed.data, np.float32), array.ravel())
    # and protobuf's own re-encoding (canonical field order, always packed) reads back the same
    again = tmp_path / "reencoded.caffemodel"
    again.write_bytes(net.SerializeToString())
    for name, blobs in read_caffemodel(again).items():
        for got, want in zip(blobs, read_caffemodel(path)[name]):
            np.testing.assert_array_equal(got, want)
