"""predict's list of the files it wrote (``.handpose-predictions``) never keeps half a name from a write that failed
part way: a full disk (or the file-size limit) takes the part that fits, and the next run's names ran on from it, so a
file predict wrote was no longer listed and a later run refused to replace it."""

from __future__ import annotations

from pathlib import Path

import pytest

from handpose.commands.predict_files import MANIFEST, OutputFolder

resource = pytest.importorskip("resource")  # the file-size limit, a real cut write on POSIX systems


def test_a_manifest_write_cut_short_leaves_the_list_as_it_was_and_names_the_file(tmp_path: Path) -> None:
    out = OutputFolder(tmp_path)
    out.claim([tmp_path / "a.json"])
    manifest = tmp_path / MANIFEST
    size = manifest.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 5, hard))  # room for 5 bytes: "b_ove"
    try:
        with pytest.raises(OSError, match=f"{MANIFEST}: could not be written .*its earlier lines are unchanged"):
            out.claim([tmp_path / "b_overlay.png"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert manifest.read_text() == "a.json\n"
    OutputFolder(tmp_path).claim([tmp_path / "c.json"])  # the next run
    assert OutputFolder(tmp_path).written == {"a.json", "c.json"}
