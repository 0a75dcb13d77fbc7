"""Renders record the OpenGL driver that drew them: another driver or Mesa version draws other pixels from the same
seed, so a render's manifest names it (capsule renders, which need no GL, name none)."""

from __future__ import annotations

import json
from pathlib import Path

from handpose.cli import main
from handpose.synth import write_dataset
from handpose.synth.gl_context import gl_driver
from handpose.synth.output_folder import MANIFEST_NAME


def test_gl_renders_name_their_driver_and_capsule_renders_none(tmp_path: Path) -> None:
    driver = gl_driver()
    assert isinstance(driver, str) and ";" in driver  # renderer; version, as the context reports them
    gl = write_dataset(tmp_path / "gl", count=1, seed=0, size=64, renderer="gl")
    assert json.loads((gl / MANIFEST_NAME).read_text())["gl_driver"] == driver
    capsules = write_dataset(tmp_path / "caps", count=1, seed=0, size=64, renderer="fallback")
    assert "gl_driver" not in json.loads((capsules / MANIFEST_NAME).read_text())


def test_scene_renders_name_their_driver(tmp_path: Path) -> None:
    assert main(["synth", "--out", str(tmp_path), "--scenes", "--count", "1", "--scene-size", "160x120"]) == 0
    manifest = json.loads((tmp_path / "scenes" / MANIFEST_NAME).read_text())
    assert manifest["gl_driver"] == gl_driver()
