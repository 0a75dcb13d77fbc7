"""The shipped detector's ONNX export where the cache folder exists but cannot be written (a read-only mount baked
into a container image): it is passed over before the export is made, not after every call's whole export (about a
second) failed at its write.

Tests run as root here, and chmod does not keep root out of a folder; ``/proc/self`` is a folder in which no one,
root included, can make a file, so the cache's ``pretrained`` folder is a link to it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

import handpose.detection.onnx_export as onnx_export
from handpose import pretrained

UNWRITABLE = Path("/proc/self")


@pytest.mark.skipif(not UNWRITABLE.is_dir(), reason="needs Linux's /proc")
@pytest.mark.slow
def test_a_read_only_cache_is_passed_over_before_the_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OSError):  # the folder that stands for a read-only mount refuses files, even to root
        tempfile.mkstemp(dir=UNWRITABLE)
    (tmp_path / "cache").mkdir()
    os.symlink(UNWRITABLE, tmp_path / "cache" / "pretrained")
    monkeypatch.setenv("HANDPOSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    exports: list[Path] = []
    real_export = onnx_export.export_detector_onnx

    def counted_export(model: Any, out: Path, *args: Any, **kwargs: Any) -> Any:
        exports.append(Path(out))
        return real_export(model, out, *args, **kwargs)

    monkeypatch.setattr(onnx_export, "export_detector_onnx", counted_export)
    made = pretrained.path("pretrained:detector-onnx")
    assert made.parent == tmp_path / "tmp" / f"handpose-{os.getuid()}" and made.stat().st_size > 0
    assert pretrained.path("detector-onnx") == made  # the second call: the export in the temporary folder
    assert exports == [made]  # one export, into the folder that took it; none into the read-only cache
