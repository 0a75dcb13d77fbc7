"""A few bytes of pickle that would make any unpickler allocate gigabytes (a huge memo index) or walk for hours (a
dict key whose shared references expand to 2^n tuples) are refused before unpickling, naming the file; numpy's own
pickles, shared arrays included, still load."""

from __future__ import annotations

import pickle
import struct
import time
from pathlib import Path

import numpy as np
import pytest

from handpose.model.pickle_shape import PickleShapeError, check_pickle_shape
from handpose.model.safe_pickle import load_pickled_npy, restricted_loads


def doubling_tuples(levels: int, as_key: bool) -> bytes:
    """A protocol-4 pickle of ``t[levels]``, where ``t[0] = None`` and ``t[k] = (t[k-1], t[k-1])`` through the memo:
    about 7 bytes a level, 2^levels tuples expanded. ``as_key``: the pickle is ``{t[levels]: None}`` instead, and
    unpickling hashes the key (walking every expanded tuple)."""
    ops = bytearray(b"\x80\x04" + (b"}" if as_key else b"") + b"N\x940")  # (dict,) None MEMOIZE POP
    for k in range(levels):
        ops += b"h" + bytes([k]) + b"h" + bytes([k]) + b"\x86\x940"  # BINGET k, BINGET k, TUPLE2, MEMOIZE, POP
    ops += b"h" + bytes([levels]) + (b"Ns" if as_key else b"") + b"."  # the last tuple (as a key: SETITEM None)
    return bytes(ops)


def test_a_memo_index_far_past_the_pickle_is_refused_before_the_unpickler_makes_room() -> None:
    data = b"\x80\x02N" + b"r" + struct.pack("<I", 10**7) + b"."  # None, LONG_BINPUT 10^7: 160 MB of memo table
    with pytest.raises(PickleShapeError, match=r"w.pkl: memo index 10,000,000"):
        restricted_loads(data, "w.pkl")


def test_shared_references_expanding_far_past_the_pickle_are_refused(tmp_path: Path) -> None:
    small = doubling_tuples(4, as_key=True)
    assert list(restricted_loads(small)) != []  # 16 tuples: fine
    for as_key in (True, False):
        data = doubling_tuples(24, as_key)  # 2^24 tuples from 180 bytes (60 levels: hours of hashing)
        path = tmp_path / "vgg16.npy"
        path.write_bytes(data)
        start = time.perf_counter()
        with pytest.raises(PickleShapeError, match=r"vgg16.npy: an object .* more than a file of its size can"):
            load_pickled_npy(path)
        assert time.perf_counter() - start < 1.0


def test_numpy_pickles_sharing_arrays_and_dtypes_pass() -> None:
    rng = np.random.default_rng(0)
    layers = {f"conv{i}": {"weights": rng.normal(size=(3, 3, 4, 4)).astype(np.float32),
                           "biases": np.zeros(4, np.float32)} for i in range(20)}
    layers["tied"] = [layers["conv0"]["weights"]] * 8
    for protocol in range(6):
        data = pickle.dumps(layers, protocol=protocol)
        check_pickle_shape(data)
        assert np.array_equal(restricted_loads(data)["tied"][7], layers["conv0"]["weights"])


@pytest.mark.parametrize("data", [b"\x80\x04\x95", b"\x80\x02(t", b"\x80\x02h\x00.", b"\x80\x02\x94."])
def test_damaged_opcodes_are_a_value_error_naming_the_source(data: bytes) -> None:
    with pytest.raises(ValueError, match="w.pkl"):
        restricted_loads(data, "w.pkl")


def test_shared_references_are_refused_in_a_pickle_cut_short_too() -> None:
    """An unpickler hashes the key before it finds the end missing: the damage must not hide what came before it."""
    with pytest.raises(PickleShapeError, match="more than a file of its size can"):
        check_pickle_shape(doubling_tuples(24, as_key=True)[:-1])  # no STOP
    with pytest.raises(PickleShapeError, match="not a readable pickle at opcode"):
        check_pickle_shape(doubling_tuples(4, as_key=True)[:-1])
