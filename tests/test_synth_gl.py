"""The GL renderer: labels from the ID buffer on hands with known answers, determinism, the fallback's one
warning, and both renderers writing the same label format."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from handpose.cli import main
from handpose.synth import gl_context, gl_render, gl_scene, write_dataset
from handpose.synth.camera import PALM_VIEW, axis_angle
from handpose.synth.gl_sample import render_gl_sample
from handpose.synth.labels import ACCEPTED_BONES
from handpose.synth.looks import sample_lighting
from handpose.synth.view import View, hand_id


def _render(shape_name: str, rotation: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hand = gl_scene.sample_hand(np.random.default_rng(0), shape_name)
    H, camera = gl_scene.hand_to_camera(hand, rotation, size, np.random.default_rng(1), 0.6)
    inst = gl_scene.instance(hand, H, False, np.random.default_rng(2))
    inst.look.sleeve_start = 1.0e4  # bare arm
    grey = np.full((8, 8, 3), 128, np.uint8)
    view = View(camera, (size, size), [inst], [], sample_lighting(np.random.default_rng(3), grey))
    rgba, ids, depth = gl_render.get_renderer().render(view)
    return gl_scene.keypoints(inst, camera, ids, depth, 0), ids, rgba


def test_open_hand_facing_the_camera_shows_every_keypoint() -> None:
    for rotation in (PALM_VIEW, np.diag([-1.0, -1.0, 1.0])):  # palm, back
        pts, ids, rgba = _render("open", rotation)
        assert pts[:, 2].all()
        assert np.array_equal(ids > 0, rgba[..., 3] > 0)


def test_side_view_hides_the_far_fingers_and_a_fist_hides_its_tips() -> None:
    side = axis_angle(np.array([0.0, 1.0, 0.0]), 90.0) @ PALM_VIEW  # from the thumb side
    pts, _, _ = _render("open", side)
    assert pts[[18, 19, 20], 2].sum() == 0 and pts[[6, 7, 8], 2].all()
    pts, _, _ = _render("fist", np.diag([-1.0, -1.0, 1.0]))  # the back of a fist: knuckles, no fingertips
    assert pts[[8, 12, 16, 20], 2].sum() == 0 and pts[[5, 9, 13, 17], 2].all()


def test_keypoints_land_on_their_own_finger_in_the_id_buffer() -> None:
    seen = {"visible": 0, "hidden": 0}
    for i in range(12):
        hand = gl_scene.sample_hand(np.random.default_rng(i))
        rng = np.random.default_rng(100 + i)
        rotation = axis_angle(rng.normal(size=3), float(rng.uniform(0, 360)))
        H, camera = gl_scene.hand_to_camera(hand, rotation, 192, rng, 0.6)
        inst = gl_scene.instance(hand, H, False, rng)
        view = View(camera, (192, 192), [inst], [], sample_lighting(rng, np.full((8, 8, 3), 90, np.uint8)))
        _, ids, depth = gl_render.get_renderer().render(view)
        pts = gl_scene.keypoints(inst, camera, ids, depth, 0)
        for k, (x, y, v) in enumerate(pts):
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= xi < 192 and 0 <= yi < 192):
                assert v == 0
                continue
            win = ids[max(yi - 1, 0) : yi + 2, max(xi - 1, 0) : xi + 2]
            own = np.isin(win, [hand_id(0, b) for b in ACCEPTED_BONES[k]])
            if v > 0:  # a visible keypoint has its own finger's skin within a pixel
                assert own.any(), (i, k)
                seen["visible"] += 1
            else:  # a hidden one shows something else at its pixel, or its own skin much nearer the camera
                here = ids[yi, xi]
                assert here not in [hand_id(0, b) for b in ACCEPTED_BONES[k]] or depth[yi, xi] < inst.joints[k, 2] - 1.0
                seen["hidden"] += 1
    assert seen["visible"] > 100 and seen["hidden"] > 10


def test_every_sample_has_a_visible_keypoint_and_left_hands_are_mirrored() -> None:
    lefts = 0
    for i in range(16):
        s = render_gl_sample(4, i, 128)
        assert s.image.shape == (128, 128, 3) and s.hand_pts.shape == (21, 3)
        assert np.any(s.hand_pts[:, 2] > 0)
        vis = s.hand_pts[s.hand_pts[:, 2] > 0]
        assert np.all((vis[:, :2] > -0.5) & (vis[:, :2] < 127.5))
        lefts += s.is_left
    assert 0 < lefts < 16


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_gl_files_are_deterministic_and_share_the_fallback_format(tmp_path: Path) -> None:
    a = _files(write_dataset(tmp_path / "a", 4, seed=5, size=96, renderer="gl"))
    b = _files(write_dataset(tmp_path / "b", 4, seed=5, size=96, renderer="gl"))
    c = _files(write_dataset(tmp_path / "c", 4, seed=6, size=96, renderer="gl"))
    f = _files(write_dataset(tmp_path / "f", 4, seed=5, size=96, renderer="fallback"))
    assert a == b
    assert all(a[k] != c[k] for k in a if k.endswith(".jpg"))
    assert sorted(a) == sorted(f)
    for name in (n for n in a if n.endswith(".json")):
        ga, fa = json.loads(a[name]), json.loads(f[name])
        assert set(ga) == set(fa) and ga["renderer"] == "gl" and fa["renderer"] == "fallback"
        for doc in (ga, fa):
            assert len(doc["hand_pts"]) == 21 and all(v in (0.0, 1.0) for _, _, v in doc["hand_pts"])


@pytest.fixture()
def no_gl(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """GL made to fail (as on a machine without EGL); the process's caches are reset before and after."""
    caches = (gl_context._context_or_reason, gl_context._warn_once, gl_render.get_renderer)
    for c in caches:
        c.cache_clear()
    monkeypatch.setenv(gl_context.GL_ENV, "0")
    yield
    monkeypatch.delenv(gl_context.GL_ENV)
    for c in caches:
        c.cache_clear()


def test_without_gl_auto_falls_back_with_one_clear_warning(no_gl: None, caplog: pytest.LogCaptureFixture,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.WARNING):
        assert gl_context.resolve_renderer("auto") == "fallback"
        folder = write_dataset(tmp_path, 3, seed=1, size=64)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no OpenGL context" in warnings[0].getMessage()
    assert warnings[0].exc_info is None
    assert json.loads((folder / "00000000.json").read_text())["renderer"] == "fallback"
    with pytest.raises(gl_context.GLUnavailableError, match="--renderer fallback"):
        gl_context.resolve_renderer("gl")
    assert main(["synth", "--out", str(tmp_path / "x"), "--count", "2", "--renderer", "gl"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no OpenGL context" in err[0] and "Traceback" not in err[0]
