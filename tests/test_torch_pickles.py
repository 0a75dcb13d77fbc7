"""A torch file whose pickle holds a dict key of shared references expanding to 2^n tuples (torch's weights-only
unpickler would hash it for hours at n = 40) is refused before ``torch.load``, in the zip format and the legacy one;
real checkpoints of both formats still load."""

from __future__ import annotations

import io
import pickle
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch

from handpose.model.artifact import torch_load


def doubling_key(levels: int) -> bytes:
    """A protocol-2 pickle (the opcodes torch's weights-only unpickler reads) of ``{t[levels]: None}``, where
    ``t[0] = None`` and ``t[k] = (t[k-1], t[k-1])`` through the memo."""
    ops = bytearray(b"\x80\x02Nq\x00")  # None, BINPUT 0
    for k in range(levels):
        ops += b"h" + bytes([k]) + b"h" + bytes([k]) + b"\x86q" + bytes([k + 1])  # BINGET k twice, TUPLE2, BINPUT
    return bytes(ops + b"}h" + bytes([levels]) + b"Ns.")  # EMPTY_DICT, the last tuple, None, SETITEM


def zip_checkpoint(pickled: bytes) -> bytes:
    """``torch.save({})``'s zip with its ``data.pkl`` replaced by ``pickled``."""
    saved, out = io.BytesIO(), io.BytesIO()
    torch.save({}, saved)
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, pickled if info.filename.endswith("/data.pkl") else source.read(info))
    return out.getvalue()


def legacy_checkpoint(pickled: bytes) -> bytes:
    """The legacy format: magic number, protocol, system information, ``pickled``, then no storage keys."""
    info = {"protocol_version": 1001, "little_endian": sys.byteorder == "little",
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
    head = b"".join(pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, info))
    return head + pickled + pickle.dumps([], protocol=2)


@pytest.mark.parametrize("layout", [zip_checkpoint, legacy_checkpoint])
def test_a_checkpoint_whose_key_expands_past_its_size_is_refused_before_torch_load(tmp_path: Path,
                                                                                  layout: object) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(layout(doubling_key(3)))  # type: ignore[operator]
    assert len(next(iter(torch_load(path)))) == 2  # 8 tuples: loads
    path.write_bytes(layout(doubling_key(24)))  # type: ignore[operator]
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"model.pt.*more than a file of its size can"):
        torch_load(path)
    assert time.perf_counter() - start < 1.0


def test_a_legacy_checkpoint_with_a_zip_appended_is_walked_as_the_legacy_file_torch_load_reads(tmp_path: Path) -> None:
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()  # a zip's end record alone: zipfile.is_zipfile finds it at the file's end
    path = tmp_path / "model.pt"
    path.write_bytes(legacy_checkpoint(doubling_key(3)) + empty.getvalue())
    assert len(next(iter(torch_load(path)))) == 2  # torch.load reads it as legacy (its first bytes are no zip's)
    path.write_bytes(legacy_checkpoint(doubling_key(24)) + empty.getvalue())
    with pytest.raises(ValueError, match=r"model.pt: an object of a weight pickle .* more than a file of its size can"):
        torch_load(path)


def test_checkpoints_of_both_formats_load(tmp_path: Path) -> None:
    state = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "tied": [torch.ones(2)] * 3}
    for zipped in (True, False):
        path = tmp_path / f"{zipped}.pt"
        torch.save(state, path, _use_new_zipfile_serialization=zipped)
        assert torch.equal(torch_load(path)["model"]["w"], state["model"]["w"])


def test_a_zip_member_name_that_is_not_utf8_is_left_to_torch_load_to_name(tmp_path: Path) -> None:
    saved = io.BytesIO()
    with zipfile.ZipFile(saved, "w") as archive:
        archive.writestr("archive/\u00e9", b"x")  # a non-ASCII name: stored as UTF-8, flagged so
    path = tmp_path / "model.pt"
    path.write_bytes(saved.getvalue().replace("\u00e9".encode(), b"\x81\x81"))  # flagged UTF-8, not UTF-8
    with pytest.raises(ValueError, match=r"model.pt: not readable as a weights-only torch file"):
        torch_load(path)


def legacy_cut_after(pickled: bytes) -> bytes:
    """The legacy format ending with ``pickled``: the file cut there, no storage keys after it."""
    return legacy_checkpoint(pickled)[:-len(pickle.dumps([], protocol=2))]


@pytest.mark.parametrize("layout", [zip_checkpoint, legacy_cut_after])
def test_a_checkpoint_cut_short_after_its_doubling_key_is_refused_before_torch_load(tmp_path: Path,
                                                                                   layout: object) -> None:
    """torch's unpickler hashes the key as it reads and finds the missing STOP only after: the part read is walked."""
    path = tmp_path / "model.pt"
    path.write_bytes(layout(doubling_key(24)[:-1]))  # type: ignore[operator]  # no STOP
    with pytest.raises(ValueError, match=r"model.pt.*more than a file of its size can"):
        torch_load(path)
    path.write_bytes(layout(doubling_key(3)[:-1]))  # type: ignore[operator]  # a small one: torch.load's own error
    with pytest.raises(ValueError, match=r"model.pt: not readable as a weights-only torch file"):
        torch_load(path)


def test_a_zip_whose_data_pkl_zipfile_will_not_open_is_refused_not_left_to_torch_load(tmp_path: Path) -> None:
    """Its local header names another file than its directory does: zipfile refuses to open the member, torch's
    reader reads it anyway (and hashed the doubling key)."""
    saved = zip_checkpoint(doubling_key(24))
    at = saved.index(b"/data.pkl")  # the local header's copy of the name, before the directory's
    path = tmp_path / "model.pt"
    path.write_bytes(saved[:at] + b"/data.pkX" + saved[at + len(b"/data.pkl"):])
    with pytest.raises(ValueError, match=r"model.pt: refused: its \w+/data.pkl cannot be opened to be checked"):
        torch_load(path)


def test_a_zip_naming_its_pickle_in_capitals_is_walked_as_torch_load_finds_it(tmp_path: Path) -> None:
    """torch's reader looks its records up whatever their case: ``archive/DATA.PKL`` is the pickle it reads."""
    path = tmp_path / "model.pt"
    path.write_bytes(zip_checkpoint(doubling_key(3)).replace(b"/data.pkl", b"/DATA.PKL"))
    assert len(next(iter(torch_load(path)))) == 2  # torch.load reads it
    path.write_bytes(zip_checkpoint(doubling_key(24)).replace(b"/data.pkl", b"/DATA.PKL"))
    with pytest.raises(ValueError, match=r"model.pt \(\w+/DATA.PKL\).*more than a file of its size can"):
        torch_load(path)
