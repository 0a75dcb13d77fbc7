"""The renderer as a Python caller uses it: ``handpose.synth`` names ``write_scenes`` beside ``write_dataset`` (its
docstring named it, the import failed), and ``write_dataset`` checks ``ablate`` as ``--ablate`` does (an unknown part
was recorded in the manifest and every json and rendered as no ablation)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import handpose.synth
from handpose.cli import main
from handpose.synth import write_dataset


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_write_scenes_is_named_by_the_package() -> None:
    from handpose.synth.scenes import write_scenes

    assert "write_scenes" in handpose.synth.__all__ and handpose.synth.write_scenes is write_scenes


def test_an_unknown_ablated_part_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown part.*foo"):
        write_dataset(tmp_path / "out", count=2, seed=0, size=64, ablate=("lighting", "foo"))
    assert not (tmp_path / "out").exists()


def test_ablated_parts_in_any_order_render_as_the_command_does(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path / "cli"), "--count", "2", "--size", "64",
                 "--ablate", "lighting,backgrounds"]) == 0
    by_tuple = write_dataset(tmp_path / "api", count=2, seed=0, size=64, ablate=("backgrounds", "lighting"))
    by_text = write_dataset(tmp_path / "text", count=2, seed=0, size=64, ablate="backgrounds, lighting")
    cli = _digests(tmp_path / "cli" / "synth1")
    assert _digests(by_tuple) == cli and _digests(by_text) == cli
