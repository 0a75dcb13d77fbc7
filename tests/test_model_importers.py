"""Weight import: TF VGG-16 .npy (restricted unpickler), torchvision VGG-19, OpenPose caffemodel, handpose convert."""

from __future__ import annotations

import logging
import os
import pickle
import struct
import time
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest
import torch
from torch import nn

from handpose.cli import main as cli_main
from handpose.config import to_dict
from handpose.model.artifact import load_model, save_weights
from handpose.model.caffe import decode_blob, encode_blob, read_caffemodel, write_caffemodel
from handpose.model.cpm import build_model
from handpose.model.importers import detect_kind, init_weights
from handpose.model.safe_pickle import load_pickled_npy
from handpose.model.vgg_import import (
    CAFFE_VGG,
    TORCHVISION_IMAGENET,
    VGG19_CONV_INDEX,
    InputConvention,
    convert_first_conv,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def conv_layers(model: nn.Module) -> dict[str, list[np.ndarray]]:
    """name -> [weight (out, in, kh, kw), bias] of every conv."""
    return {
        n: [m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()]
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    }


def assert_same_weights(a: nn.Module, b: nn.Module, skip: tuple[str, ...] = ()) -> None:
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb, ka
        assert ka.rsplit(".", 1)[0] in skip or torch.equal(va, vb), ka


def assert_converted_conv1_1(target: nn.Module, weight: np.ndarray, bias: np.ndarray,
                             convention: InputConvention) -> None:
    """target.conv1_1 is (weight, bias) rewritten from ``convention``'s input to handpose's."""
    want_w, want_b = convert_first_conv(np.asarray(weight), np.asarray(bias), convention)
    np.testing.assert_array_equal(target.conv1_1.weight.detach().numpy(), want_w)
    np.testing.assert_array_equal(target.conv1_1.bias.detach().numpy(), want_b)


# ---- the TensorFlow VGG-16 .npy --------------------------------------------------------------------------------


def seed_npy_dict(model: nn.Module, names: list[str], bytes_keys: bool = True) -> dict:
    """The TF VGG-16 .npy layout of hand_detector_train: {layer: {"weights": (kh, kw, cin, cout), "biases": (cout,)}},
    keys bytes like Python 2."""
    out = {}
    for name, (w, b) in conv_layers(model).items():
        if name in names:
            key = name.encode() if bytes_keys else name
            out[key] = {b"weights" if bytes_keys else "weights": w.transpose(2, 3, 1, 0), b"biases": b}
    return out


def test_npy_round_trip_reports_loaded_and_random(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_model("tiny")
    front = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv4_4", "conv5_2"]
    data = seed_npy_dict(source, front)
    data[b"conv5_3"] = {
        b"weights": np.ones((3, 3, 2, 2), np.float32),
        b"biases": np.zeros(2, np.float32),
    }  # VGG-16 only
    data[b"fc6"] = {b"weights": np.ones((8, 4), np.float32), b"biases": np.zeros(4, np.float32)}  # no conv: ignored
    path = tmp_path / "openpose_vgg16.npy"
    np.save(path, data, allow_pickle=True)
    assert detect_kind(path) == "npy"

    torch.manual_seed(1)
    target = build_model("tiny")
    report = init_weights(target, path)
    assert report.kind == "npy"
    assert report.loaded == front
    assert "conv5_3_CPM" in report.random and "conv3_2" in report.random and "Mconv1_stage2_a" in report.random
    assert set(report.loaded).isdisjoint(report.random)
    assert len(report.loaded) + len(report.random) == sum(isinstance(m, nn.Conv2d) for m in target.modules())
    assert report.ignored == ["conv5_3", "fc6"]  # fc6 (2-D) stopped the import before
    assert_converted_conv1_1(target, source.conv1_1.weight.detach(), source.conv1_1.bias.detach(), CAFFE_VGG)
    for name in front[1:]:
        assert torch.equal(target.get_submodule(name).weight, source.get_submodule(name).weight)
        assert torch.equal(target.get_submodule(name).bias, source.get_submodule(name).bias)
    assert not torch.equal(target.conv3_2.weight, source.conv3_2.weight)  # stayed random
    assert "conv1_1" in report.summary() and "left random" in report.summary()


def test_npy_full_model_with_str_keys_and_python2_protocol(tmp_path: Path) -> None:
    source = build_model("tiny")
    data = seed_npy_dict(source, list(conv_layers(source)), bytes_keys=False)
    path = tmp_path / "all.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))  # bare pickle, protocol 2 (_codecs.encode for bytes)
    target = build_model("tiny")
    report = init_weights(target, path)
    assert report.random == []
    assert_same_weights(source, target, skip=("conv1_1",))
    assert_converted_conv1_1(target, source.conv1_1.weight.detach(), source.conv1_1.bias.detach(), CAFFE_VGG)


def test_npy_shape_mismatch_is_an_error(tmp_path: Path) -> None:
    data = {"conv1_1": {"weights": np.zeros((3, 3, 3, 7), np.float32), "biases": np.zeros(7, np.float32)}}
    path = tmp_path / "bad.npy"
    np.save(path, data, allow_pickle=True)
    target = build_model("tiny")
    before = target.conv1_1.weight.clone()
    with pytest.raises(ValueError, match=r"conv1_1\.weight.*\(7, 3, 3, 3\)"):
        init_weights(target, path)
    assert torch.equal(target.conv1_1.weight, before)  # nothing half-loaded


class _SystemCall:
    """Unpickling this runs os.system (a shell command): the classic malicious pickle."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (os.system, (self.command,))


class _Exec:
    """Unpickling this runs builtins.exec on Python source."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (exec, (self.source,))


def _write_marker(path: str) -> None:  # a module-level function: pickled by reference (tests.test_model_importers)
    with open(path, "w") as f:
        f.write("ran")


class _Function:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_write_marker, (self.path,))


@pytest.mark.parametrize("kind", ["system", "exec", "function"])
@pytest.mark.parametrize("container", ["npy", "pickle", "pickle5"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, kind: str, container: str) -> None:
    marker = tmp_path / "marker.txt"
    payload = {
        "system": _SystemCall(f"touch {marker}"),
        "exec": _Exec(f"open({str(marker)!r}, 'w').write('ran')"),
        "function": _Function(str(marker)),
    }[kind]
    data = {"conv1_1": {"weights": np.zeros((3, 3, 3, 4), np.float32), "biases": payload}}
    path = tmp_path / f"evil.{'npy' if container == 'npy' else 'pkl'}"
    if container == "npy":
        np.save(path, data, allow_pickle=True)
    else:  # protocol 5 rebuilds the (allowed) weights array with numpy's _frombuffer before meeting the payload
        path.write_bytes(pickle.dumps(data, protocol=5 if container == "pickle5" else 4))
    raw = path.read_bytes()
    assert {"system": b"system", "exec": b"exec", "function": b"_write_marker"}[kind] in raw  # the trap is armed
    expected = {"system": "(posix|nt|os).system", "exec": "builtins.exec", "function": "_write_marker"}[kind]
    with pytest.raises(ValueError, match=f"refusing to unpickle global .*{expected}"):
        load_pickled_npy(path)
    with pytest.raises(ValueError, match="refusing"):
        init_weights(build_model("tiny"), path)
    time.sleep(0.05)  # a spawned shell would have had time to create the file
    assert not marker.exists()


def test_restricted_unpickler_accepts_plain_values(tmp_path: Path) -> None:
    data = {
        "a": [1, 2.5, "x", b"y", (3, None, True)],
        "b": np.arange(6, dtype=np.int16).reshape(2, 3),
        "c": np.float32(2),
    }
    path = tmp_path / "plain.npy"
    np.save(path, data, allow_pickle=True)
    got = load_pickled_npy(path)
    assert got["a"] == data["a"] and got["c"] == data["c"]
    np.testing.assert_array_equal(got["b"], data["b"])
    numeric = tmp_path / "numeric.npy"
    np.save(numeric, np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(load_pickled_npy(numeric), np.ones((2, 2), np.float32))


def test_protocol5_pickle_of_arrays_loads(tmp_path: Path) -> None:
    """Protocol 5 (Python 3.14's default) pickles contiguous arrays as numpy's _frombuffer(bytes, dtype, shape)."""
    source = build_model("tiny")
    data = seed_npy_dict(source, ["conv1_1", "conv1_2"])
    data[b"conv1_1"][b"weights"] = np.asfortranarray(data[b"conv1_1"][b"weights"])  # order "F" in the pickle
    raw = pickle.dumps(data, protocol=5)
    assert b"_frombuffer" in raw
    path = tmp_path / "seed5.pkl"
    path.write_bytes(raw)
    got = load_pickled_npy(path)
    np.testing.assert_array_equal(got[b"conv1_2"][b"biases"], data[b"conv1_2"][b"biases"])
    np.testing.assert_array_equal(got[b"conv1_1"][b"weights"], data[b"conv1_1"][b"weights"])
    report = init_weights(build_model("tiny"), path)
    assert report.loaded == ["conv1_1", "conv1_2"]


class _ObjectFromBuffer:
    """_frombuffer asked for an object array: raw bytes as PyObject pointers, which numpy must refuse."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        try:
            from numpy._core.numeric import _frombuffer
        except ImportError:  # numpy 1.x
            from numpy.core.numeric import _frombuffer
        return (_frombuffer, (bytes(8), np.dtype(object), (1,), "C"))


def test_frombuffer_cannot_build_object_arrays(tmp_path: Path) -> None:
    path = tmp_path / "objects.pkl"
    path.write_bytes(pickle.dumps({"w": _ObjectFromBuffer()}, protocol=5))
    with pytest.raises(ValueError, match="objects.pkl: not a readable pickle.*OBJECT"):
        load_pickled_npy(path)


# ---- torchvision VGG-19 -----------------------------------------------------------------------------------------

VGG19_CONVS = (
    [(64, 3), (64, 64), (128, 64), (128, 128)] + [(256, 128)] + [(256, 256)] * 3 + [(512, 256)] + [(512, 512)] * 7
)
VGG19_INDICES = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


def vgg19_state_dict() -> dict[str, torch.Tensor]:
    """A torchvision vgg19 state dict's keys and conv shapes (the classifier is shrunk: it is never used)."""
    g = torch.Generator().manual_seed(3)
    state = {}
    for index, (cout, cin) in zip(VGG19_INDICES, VGG19_CONVS):
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.01
        state[f"features.{index}.bias"] = torch.randn(cout, generator=g)
    for i in (0, 3, 6):
        state[f"classifier.{i}.weight"] = torch.zeros(4, 4)
        state[f"classifier.{i}.bias"] = torch.zeros(4)
    return state


def test_vgg19_indices_follow_torchvision_layout() -> None:
    assert list(VGG19_CONV_INDEX.values()) == VGG19_INDICES[:14]
    assert VGG19_CONV_INDEX["conv5_1"] == 28 and VGG19_CONV_INDEX["conv5_2"] == 30


def test_vgg19_import_into_openpose_front(tmp_path: Path) -> None:
    state = vgg19_state_dict()
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    assert detect_kind(path) == "vgg19"
    model = build_model("openpose")
    report = init_weights(model, path)
    assert report.loaded == list(VGG19_CONV_INDEX)
    assert report.random[:3] == ["conv5_3_CPM", "conv6_1_CPM", "conv6_2_CPM"] and "Mconv7_stage6" in report.random
    assert {"features.32", "features.34", "classifier.0"} <= set(report.ignored)
    assert_converted_conv1_1(model, state["features.0.weight"], state["features.0.bias"], TORCHVISION_IMAGENET)
    for name, index in list(VGG19_CONV_INDEX.items())[1:]:
        assert torch.equal(model.get_submodule(name).weight, state[f"features.{index}.weight"])
        assert torch.equal(model.get_submodule(name).bias, state[f"features.{index}.bias"])


def test_vgg19_into_a_thinner_preset_or_from_vgg19_bn_fails(tmp_path: Path) -> None:
    path = tmp_path / "vgg19.pth"
    torch.save(vgg19_state_dict(), path)
    with pytest.raises(ValueError, match="shape mismatch.*conv1_1"):
        init_weights(build_model("tiny"), path)
    state = vgg19_state_dict()
    state["features.1.running_mean"] = torch.zeros(64)
    torch.save(state, path)
    with pytest.raises(ValueError, match="vgg19_bn"):
        init_weights(build_model("tiny"), path)


# ---- caffemodel -------------------------------------------------------------------------------------------------


def test_blob_wire_bytes_match_caffe_proto_by_hand() -> None:
    """BlobProto{shape: BlobShape{dim: [2]}, data: [1.5, -2]} spelled out byte by byte from caffe.proto's numbers."""
    data = struct.pack("<2f", 1.5, -2.0)
    by_hand = bytes([7 << 3 | 2, 3, 1 << 3 | 2, 1, 2]) + bytes([5 << 3 | 2, 8]) + data
    np.testing.assert_array_equal(decode_blob(memoryview(by_hand)), np.array([1.5, -2.0], np.float32))
    assert encode_blob(np.array([1.5, -2.0], np.float32)) == by_hand
    legacy_unpacked = bytes([1 << 3, 1, 2 << 3, 1, 3 << 3, 1, 4 << 3, 2])  # num/channels/height/width = 1,1,1,2
    legacy_unpacked += bytes([5 << 3 | 5]) + data[:4] + bytes([5 << 3 | 5]) + data[4:]
    np.testing.assert_array_equal(decode_blob(memoryview(legacy_unpacked)), np.array([[[[1.5, -2.0]]]], np.float32))
    assert encode_blob(np.array([1.5, -2.0], np.float32), legacy_shape=True, packed=False) == legacy_unpacked


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes(out + bytes([value]))


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _f32(number: int, value: float) -> bytes:
    """One unpacked fixed32 float field."""
    return _varint(number << 3 | 5) + struct.pack("<f", value)


def test_blob_mixing_unpacked_and_packed_data_keeps_wire_order() -> None:
    blob = _f32(5, 1.0) + _field(5, struct.pack("<2f", 2.0, 3.0)) + _f32(5, 4.0) + _f32(5, 5.0)
    blob += _field(5, struct.pack("<f", 6.0))
    np.testing.assert_array_equal(decode_blob(memoryview(blob)), np.arange(1, 7, dtype=np.float32))


def test_blob_double_data_is_used_over_float_data() -> None:
    blob = _field(5, struct.pack("<2f", 9.0, 9.0)) + _varint(8 << 3 | 1) + struct.pack("<d", 0.5)
    blob += _field(8, struct.pack("<d", 0.25))
    np.testing.assert_array_equal(decode_blob(memoryview(blob)), np.array([0.5, 0.25], np.float32))


def test_blob_shape_dims_written_unpacked() -> None:
    """BlobShape.dim as one varint per field (what a non-packed writer emits), here 2 x 3."""
    shape = bytes([1 << 3, 2, 1 << 3, 3])
    blob = _field(7, shape) + _field(5, np.arange(6, dtype="<f4").tobytes())
    got = decode_blob(memoryview(blob))
    assert got.shape == (2, 3)
    np.testing.assert_array_equal(got, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_blob_negative_dims_are_refused() -> None:
    """dims [-1, 2] hold -2 values by the product; numpy would read -1 as 'infer', so they are refused."""
    minus_one = _varint((1 << 64) - 1)  # int64 -1, two's complement
    bad = _field(7, bytes([1 << 3]) + minus_one + bytes([1 << 3, 2])) + _field(5, struct.pack("<2f", 1, 2))
    with pytest.raises(ValueError, match="negative"):
        decode_blob(memoryview(bad))


def _caffemodel_with_blob(blob: bytes) -> bytes:
    layer = _field(1, b"conv1_1") + _field(2, b"Convolution") + _field(7, blob)
    return _field(1, b"net") + _field(100, layer)


@pytest.mark.parametrize(
    "blob",
    [
        _field(5, b"\x00" * 7),  # packed floats: 7 bytes
        _field(8, b"\x00" * 12),  # packed doubles: 12 bytes
        _field(7, bytes([1 << 3, 3])) + _field(5, b"\x00" * 8),  # shape holds 3, data 2
        _field(7, bytes([1 << 3 | 2, 2, 0x80, 0x80])),  # truncated packed dim varint
    ],
    ids=["float-bytes", "double-bytes", "shape-size", "dim-varint"],
)
def test_malformed_blob_content_names_the_file(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(_caffemodel_with_blob(blob))
    with pytest.raises(ValueError, match=f"{path.name}: not a readable caffemodel"):
        read_caffemodel(path)


def test_layer_name_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.caffemodel"
    path.write_bytes(_field(1, b"net") + _field(100, _field(1, b"\xff\xfe") + _field(7, _field(5, b"\x00" * 4))))
    with pytest.raises(ValueError, match="bad.caffemodel: not a readable caffemodel.*utf-8"):
        read_caffemodel(path)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("packed", [True, False])
def test_caffemodel_round_trip_tiny(tmp_path: Path, legacy: bool, packed: bool) -> None:
    torch.manual_seed(0)
    source = build_model("tiny")
    path = tmp_path / "tiny.caffemodel"
    layers = conv_layers(source)
    layers = {"data": [], **layers, "relu1_1": []}  # layers without blobs are skipped
    write_caffemodel(path, layers, legacy=legacy, legacy_shape=legacy, packed=packed)
    read = read_caffemodel(path)
    assert list(read) == list(conv_layers(source))
    torch.manual_seed(1)
    target = build_model("tiny")
    report = init_weights(target, path)
    assert report.kind == "caffemodel" and report.random == [] and report.ignored == []
    assert_same_weights(source, target)


def test_caffemodel_missing_layer_or_wrong_shape_fails(tmp_path: Path) -> None:
    layers = conv_layers(build_model("tiny"))
    path = tmp_path / "bad.caffemodel"
    del layers["Mconv1_stage2_b"]
    write_caffemodel(path, layers)
    with pytest.raises(ValueError, match="Mconv1_stage2_b.*not in the caffemodel"):
        init_weights(build_model("tiny"), path)
    layers = conv_layers(build_model("tiny"))
    layers["conv6_1_CPM"][0] = layers["conv6_1_CPM"][0][:, :3]  # wrong shape
    layers["conv2_1"][1] = layers["conv2_1"][1][:-1]
    write_caffemodel(path, layers)
    with pytest.raises(ValueError, match=r"conv2_1\.bias.*conv6_1_CPM\.weight"):
        init_weights(build_model("tiny"), path)
    (tmp_path / "trunc.caffemodel").write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ValueError, match="not a readable caffemodel"):
        read_caffemodel(tmp_path / "trunc.caffemodel")


def test_caffemodel_under_another_name_is_detected_from_content(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_model("tiny")
    for name in ("weights.bin", "pose_iter_102000", "hand.pt"):
        path = tmp_path / name
        write_caffemodel(path, {"data": [], **conv_layers(source)})
        assert detect_kind(path) == "caffemodel", name
        target = build_model("tiny")
        assert init_weights(target, path).kind == "caffemodel"
        assert_same_weights(source, target)


def _save_as(kind: str, path: Path) -> None:
    """Write a file of ``kind`` to ``path`` whatever its suffix (np.save would append .npy to a bare name)."""
    model = build_model("tiny")
    if kind == "safetensors":
        save_weights(model, path)
    elif kind in ("checkpoint", "legacy-checkpoint"):
        ckpt = {"model": model.state_dict(), "model_config": to_dict(model.config)}
        torch.save(ckpt, path, _use_new_zipfile_serialization=kind == "checkpoint")
    elif kind == "vgg19":
        torch.save(vgg19_state_dict(), path)
    elif kind == "npy":
        with open(path, "wb") as f:
            np.save(f, seed_npy_dict(model, ["conv1_1"]), allow_pickle=True)
    else:  # a bare pickle; protocol 0 opens with '(dp0', which also reads as a NetParameter field
        path.write_bytes(pickle.dumps(seed_npy_dict(model, ["conv1_1"]), protocol=int(kind[-1])))


@pytest.mark.parametrize(
    "kind, name, expected",
    [
        ("safetensors", "model.bin", "safetensors"),
        ("checkpoint", "last.weights", "checkpoint"),
        ("legacy-checkpoint", "old.bin", "checkpoint"),
        ("vgg19", "vgg19", "vgg19"),
        ("npy", "seed.bin", "npy"),
        ("pickle5", "seed.dat", "npy"),
        ("pickle0", "seed.pkl", "npy"),
    ],
)
def test_kind_is_detected_from_content(tmp_path: Path, kind: str, name: str, expected: str) -> None:
    path = tmp_path / name
    _save_as(kind, path)
    assert detect_kind(path) == expected


@pytest.mark.parametrize(
    "name, content",
    [
        ("weights.bin", b"\x00" * 32),
        ("model.safetensors", b"not a safetensors file at all"),
        ("weights", b"\x0a\xff\x01handpose"),  # a name field longer than the file
    ],
    ids=["zeros", "text", "overlong-field"],
)
def test_unknown_content_fails_clearly(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{name}: unknown weight file kind"):
        detect_kind(path)
    with pytest.raises(ValueError, match="unknown weight file kind"):
        init_weights(build_model("tiny"), path)


def test_corrupt_safetensors_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "cut.safetensors"
    path.write_bytes((3).to_bytes(8, "little") + b'{"a')  # looks like safetensors, header cut short
    assert detect_kind(path) == "safetensors"
    with pytest.raises(ValueError, match="cut.safetensors: not a readable safetensors file"):
        init_weights(build_model("tiny"), path)


@pytest.mark.slow
def test_caffemodel_round_trip_full_openpose(tmp_path: Path) -> None:
    """The released model's layout at full size (36.8 M floats), the modern `layer` field, through convert."""
    torch.manual_seed(0)
    source = build_model("openpose")
    path = tmp_path / "pose_iter_102000.caffemodel"
    write_caffemodel(path, conv_layers(source))
    out = tmp_path / "openpose_hand.safetensors"
    assert cli_main(["-q", "convert", "--from", str(path), "--out", str(out)]) == 0
    assert_same_weights(source, load_model(out))


# ---- handpose convert, init from handpose files -----------------------------------------------------------------


def test_convert_cli_writes_loadable_safetensors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = build_model("tiny")
    path = tmp_path / "seed.npy"
    np.save(path, seed_npy_dict(source, ["conv1_1", "conv1_2"]), allow_pickle=True)
    out = tmp_path / "tiny.safetensors"
    assert cli_main(["-q", "convert", "--from", str(path), "--out", str(out), "--preset", "tiny"]) == 0
    printed = capsys.readouterr().out
    assert "2 layers loaded" in printed and "random: conv2_1" in printed and "conv1_1 converted" in printed
    model = load_model(out)
    assert model.config.preset == "tiny"
    assert torch.equal(model.conv1_2.weight, source.conv1_2.weight)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00" * 32)
    assert cli_main(["-q", "convert", "--from", str(bad), "--out", str(out), "--preset", "tiny"]) == 2


def test_init_from_handpose_files(tmp_path: Path) -> None:
    source = build_model("tiny")
    st, ckpt = tmp_path / "w.safetensors", tmp_path / "w.pt"
    save_weights(source, st)
    torch.save({"model": source.state_dict(), "model_config": to_dict(source.config), "step": 1}, ckpt)
    for path, kind in ((st, "safetensors"), (ckpt, "checkpoint")):
        target = build_model("tiny")
        report = init_weights(target, path)
        assert report.kind == kind and report.random == []
        assert_same_weights(source, target)
    from dataclasses import replace

    from handpose.model.cpm import preset

    stride4 = build_model(replace(preset("tiny"), output_stride=4))  # another config, the same layers: it loads
    assert init_weights(stride4, st).random == []
    for path in (st, ckpt):  # the stored config names what the file holds
        with pytest.raises(ValueError, match="holds the tiny preset's layers, not those of the lite model being built"):
            init_weights(build_model("lite"), path)


def test_convert_that_loads_no_layer_fails_and_names_the_fitting_preset(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """A tiny-width .npy converted into the lite preset (no conv of the same name) is an error, not a random model."""
    path = tmp_path / "tiny_front.npy"
    np.save(path, seed_npy_dict(build_model("tiny"), ["conv1_1", "conv1_2", "conv2_1"]), allow_pickle=True)
    out = tmp_path / "lite.safetensors"
    assert cli_main(["-q", "convert", "--from", str(path), "--out", str(out), "--preset", "lite"]) == 2
    assert not out.exists()
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and captured.out == ""
    assert f"{path} (npy): no layer of the file fits the lite preset (0 layers loaded" in err
    assert "the tiny preset loads 3 of its layers (--preset tiny)" in err


def test_train_init_that_loads_no_layer_fails_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`train --init` of a file no layer of which fits the preset trained from random weights with one INFO line;
    it is refused, as convert refuses it, and before the speed trial (which would take a minute first)."""
    from handpose.autotune import resolve

    def no_trial(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the speed trial ran before the --init file was read")

    monkeypatch.setattr(resolve, "training_choice", no_trial)
    path = tmp_path / "tiny_front.npy"
    np.save(path, seed_npy_dict(build_model("tiny"), ["conv1_1", "conv1_2", "conv2_1"]), allow_pickle=True)
    out = tmp_path / "run"
    assert cli_main(["-q", "train", "--preset", "lite", "--init", str(path), "--max-steps", "1", "--out", str(out),
                     "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--init " in err and "no layer of the file fits the lite preset" in err
    assert "the tiny preset loads 3 of its layers (--preset tiny)" in err and not out.exists()


def test_convert_whose_layers_come_in_other_shapes_names_the_fitting_preset(tmp_path: Path,
                                                                            capsys: pytest.CaptureFixture) -> None:
    """The openpose front's .npy into the tiny preset: its layer names are there, in other widths (it printed some
    2,000 characters of shape mismatches with no hint)."""
    path = tmp_path / "openpose_front.npy"
    np.save(path, seed_npy_dict(build_model("openpose"), ["conv1_1", "conv1_2"]), allow_pickle=True)
    out = tmp_path / "tiny.safetensors"
    assert cli_main(["-q", "convert", "--from", str(path), "--out", str(out), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert not out.exists() and "\n" not in err and len(err) < 600
    assert "does not fit the tiny preset; the openpose preset loads 2 of its layers (--preset openpose)" in err

def test_convert_of_a_file_no_preset_uses_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "classifier_only.npy"
    fc = {"fc6": {"weights": np.zeros((1, 1, 8, 4), np.float32), "biases": np.zeros(4, np.float32)}}
    np.save(path, fc, allow_pickle=True)
    out = tmp_path / "x.safetensors"
    assert cli_main(["-q", "convert", "--from", str(path), "--out", str(out), "--preset", "tiny"]) == 2
    assert not out.exists()
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no layer of the file fits the tiny preset" in err and "no preset loads any" in err


def test_a_partial_import_with_a_hole_in_its_chain_is_warned_about(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    # a VGG-16 .npy in the VGG-19 front loads conv4_1 on after a random conv3_4, silently
    from handpose.model.importers import chain_gap

    order = ["conv1_1", "conv3_3", "conv3_4", "conv4_1", "conv4_2", "stage"]
    assert chain_gap(order, {"conv1_1", "conv3_3", "conv4_1", "conv4_2"}) == ("conv3_4", ["conv4_1", "conv4_2"])
    assert chain_gap(order, {"conv1_1", "conv3_3"}) is None  # a front loaded up to a point: no hole
    assert chain_gap(order, set()) is None
    path = tmp_path / "vgg16_like.npy"
    np.save(path, seed_npy_dict(build_model("tiny"), ["conv1_1", "conv1_2", "conv2_1", "conv3_1"]), allow_pickle=True)
    with caplog.at_level(logging.WARNING, logger="handpose.model.importers"):
        init_weights(build_model("tiny"), path)
    assert "conv2_2 stays random but conv3_1 after it loaded" in caplog.text


def test_init_with_nan_weights_is_refused_naming_the_file(tmp_path: Path) -> None:
    """A handpose file with NaN weights given to `train --init` is named at once (it used to load, then stop
    training at the first step with 'non-finite loss, lower --lr')."""
    torch.manual_seed(0)
    model = build_model("tiny")
    with torch.no_grad():
        next(iter(model.parameters())).view(-1)[1] = float("nan")
    path = tmp_path / "broken.safetensors"
    save_weights(model, path)
    with pytest.raises(ValueError, match=r"broken\.safetensors: non-finite \(NaN or infinite\) weights"):
        init_weights(build_model("tiny"), path)


def test_a_npy_whose_header_claims_more_than_the_file_holds_is_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A header claiming a 3.6 TiB array (or a plain array cut short) raised numpy's MemoryError or read error with
    a traceback; it is named as truncated before anything is allocated."""
    path = tmp_path / "huge.npy"
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                 "shape": (100000, 100000, 100)})
        f.write(b"\0" * 64)
    out = tmp_path / "o.safetensors"
    assert cli_main(["-q", "convert", "--from", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(path) in err and "truncated .npy" in err and not out.exists()


def test_convert_refuses_to_replace_its_output_unless_told_and_writes_a_plain_file(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "front.npy"
    np.save(path, seed_npy_dict(build_model("tiny"), ["conv1_1", "conv1_2"]), allow_pickle=True)
    out = tmp_path / "front.safetensors"
    argv = ["-q", "convert", "--from", str(path), "--out", str(out), "--preset", "tiny"]
    assert cli_main(argv) == 0
    assert capsys.readouterr().out.count("layers loaded") == 1  # the report once (it was also logged)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~_umask()  # as any file the process makes (it was 0600)
    stamp = out.read_bytes()
    assert cli_main(argv) == 2 and "--overwrite" in capsys.readouterr().err and out.read_bytes() == stamp
    assert cli_main([*argv, "--overwrite"]) == 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_an_empty_weight_file_is_said_to_be_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.pth: .*\(an empty file\)"):
        init_weights(build_model("tiny"), path)


def test_convert_takes_a_shipped_models_name(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "lite.safetensors"
    assert cli_main(["-q", "convert", "--from", "pretrained:lite", "--out", str(out), "--preset", "lite"]) == 0
    assert load_model(out).config.preset == "lite" and "34 layers loaded" in capsys.readouterr().out


def test_convert_into_an_unfitting_preset_does_not_warn_of_the_probed_presets_holes(
        tmp_path: Path, capsys: pytest.CaptureFixture, caplog: pytest.LogCaptureFixture) -> None:
    """Finding which preset a file fits loads it into each: a hole in that trial's chain (here tiny's conv2_2) was
    warned about before the error about the preset asked for, as if the asked-for import had loaded it."""
    path = tmp_path / "vgg16_like.npy"
    np.save(path, seed_npy_dict(build_model("tiny"), ["conv1_1", "conv1_2", "conv2_1", "conv3_1"]), allow_pickle=True)
    out = tmp_path / "lite.safetensors"
    with caplog.at_level(logging.WARNING, logger="handpose.model.importers"):
        assert cli_main(["convert", "--from", str(path), "--out", str(out), "--preset", "lite"]) == 2
    err = capsys.readouterr().err.strip()
    assert "the tiny preset loads 4 of its layers (--preset tiny)" in err and not out.exists()
    assert "stays random" not in caplog.text


def test_an_onnx_export_given_as_initial_weights_is_named_as_such(tmp_path: Path) -> None:
    """An ONNX file (an earlier export kept beside its weights) is refused as an export, naming the file to give
    instead; it was called a file of unknown kind, listing every format but ONNX."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match="model.onnx: an ONNX export .* the .safetensors or checkpoint .pt"):
        init_weights(build_model("tiny"), path)
