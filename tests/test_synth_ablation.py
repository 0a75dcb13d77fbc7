"""`handpose synth --ablate`: each switch takes away only its own part of the GL renderer's realism, the render
records it, and misuse is refused with a message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handpose.cli import main
from handpose.synth import gl_sample, write_dataset
from handpose.synth.ablation import ABLATIONS, parse_ablate
from handpose.synth.gl_sample import render_gl_sample


def test_parse_ablate_orders_and_refuses_unknown_parts() -> None:
    assert parse_ablate("") == () and parse_ablate(None) == ()
    assert parse_ablate("pose-prior, lighting") == ("lighting", "pose-prior")
    with pytest.raises(ValueError, match="unknown part.*shadows.*choose from lighting, backgrounds, pose-prior"):
        parse_ablate("lighting,shadows")


@pytest.mark.parametrize("part", ["lighting", "backgrounds"])
def test_lighting_and_backgrounds_change_pixels_not_the_hand(part: str) -> None:
    for index in range(3):
        full = render_gl_sample(7, index, 128)
        ablated = render_gl_sample(7, index, 128, ablate=(part,))
        assert np.array_equal(full.hand_pts, ablated.hand_pts) and full.is_left == ablated.is_left
        assert np.array_equal(full.hand_mask, ablated.hand_mask)
        assert not np.array_equal(full.image, ablated.image)


def test_backgrounds_ablated_draws_only_plain_walls(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_scenery(*args: object, **kwargs: object) -> None:
        raise AssertionError("a photo or procedural background was drawn")

    monkeypatch.setattr(gl_sample, "sample_background", no_scenery)
    for index in range(4):
        assert render_gl_sample(7, index, 96, ablate=("backgrounds",)).hand_pts[:, 2].any()
    with pytest.raises(AssertionError, match="photo or procedural"):
        for index in range(4):  # without the switch, the first non-plain sample draws one
            render_gl_sample(7, index, 96)


def test_pose_prior_ablated_draws_other_poses() -> None:
    same = sum(np.allclose(render_gl_sample(7, i, 128).hand_pts, render_gl_sample(7, i, 128, ablate=("pose-prior",))
                           .hand_pts) for i in range(3))
    assert same == 0


def test_the_render_records_what_was_ablated(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", count=2, seed=3, size=96, renderer="gl", ablate=ABLATIONS)
    doc = json.loads((folder / "00000001.json").read_text())
    assert doc["ablate"] == list(ABLATIONS)
    manifest = json.loads(next(folder.glob("*.manifest")).read_text())
    assert manifest["ablate"] == list(ABLATIONS)
    plain = write_dataset(tmp_path / "p", count=1, seed=3, size=96, renderer="gl")
    assert "ablate" not in json.loads((plain / "00000000.json").read_text())


def test_ablation_needs_gl_and_one_hand_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="needs the GL renderer"):
        write_dataset(tmp_path / "f", count=1, seed=0, size=64, renderer="fallback", ablate=("lighting",))
    assert main(["synth", "--out", str(tmp_path / "s"), "--count", "1", "--scenes", "--ablate", "lighting"]) != 0
    assert "--ablate applies to one-hand images" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path / "u"), "--count", "1", "--ablate", "fog"]) != 0
    assert "unknown part(s) fog" in capsys.readouterr().err
