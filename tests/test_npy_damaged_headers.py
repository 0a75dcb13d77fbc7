"""A .npy file whose header is damaged is refused in one ValueError naming the file, whatever part of numpy's header
parser fails (its own ValueErrors, or Python's tokenizer with a TokenError, which is no ValueError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.model.cpm import build_model
from handpose.model.importers import init_weights
from handpose.model.safe_pickle import load_pickled_npy


def npy_with_header(header: str, payload: bytes = b"\0" * 16) -> bytes:
    """A version 1.0 .npy file: magic, version, header length, ``header`` padded to 64 bytes, then ``payload``."""
    text = header.encode("latin1")
    text += b" " * (-(10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


@pytest.mark.parametrize(("header", "said"), [
    ("{'descr': '<f4', 'shape': (3,", "TokenError"),  # an unclosed bracket: the tokenizer gives up
    ("{'descr': '<f4', 'fortran_order': False}", "correct keys"),  # no 'shape'
    ("{'descr': 'zz', 'fortran_order': False, 'shape': (3,)}", "dtype"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}", "not a readable .npy array"),
])
def test_a_damaged_npy_header_is_a_value_error_naming_the_file(tmp_path: Path, header: str, said: str) -> None:
    path = tmp_path / "vgg16.npy"
    path.write_bytes(npy_with_header(header))
    for read in (load_pickled_npy, lambda p: init_weights(build_model("tiny"), p)):
        with pytest.raises(ValueError, match=said) as info:
            read(path)
        assert str(path) in str(info.value)


def test_a_header_length_past_the_end_of_the_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.npy"
    path.write_bytes(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}")[:40])
    with pytest.raises(ValueError, match="cut.npy: not a readable .npy header"):
        load_pickled_npy(path)
