"""Skin-coloured heads and limbs in detection scenes (``synth.people``): drawn, labelled nothing, reproducible, and
off unless asked for; hands held beside those heads at their person's scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from handpose.cli import main
from handpose.synth.camera import Camera
from handpose.synth.people import (
    BESIDE_X,
    BESIDE_Y,
    HAND_PER_HEAD,
    MIN_HAND_SPAN_PX,
    HeadSpot,
    beside_head,
    head,
    limb,
    skin_distractors,
)
from handpose.synth.scenes import JSON_NAME, render_scene_image


def test_distractors_are_drawn_outside_the_hands_and_not_labelled() -> None:
    changed = 0
    for index in range(6):
        plain, plain_anns, _ = render_scene_image(4, index, 320, 240, 0.0)
        busy, busy_anns, _ = render_scene_image(4, index, 320, 240, 1.0)
        outside = np.ones(plain.shape[:2], bool)
        for a in plain_anns + busy_anns:
            x, y, w, h = (int(round(v)) for v in a["bbox"])
            outside[max(y - 2, 0): y + h + 2, max(x - 2, 0): x + w + 2] = False
        diff = np.abs(plain.astype(int) - busy.astype(int)).max(axis=2)  # (H, W)
        changed += int(np.count_nonzero(diff[outside] > 40) > 30)
        assert len(busy_anns) <= len(plain_anns)  # hands may hide behind a head; none is added
        for a in busy_anns:  # the labelled hands are hands: each has a visible keypoint inside its box
            assert a["num_keypoints"] > 0
    assert changed >= 4, changed


def test_heads_and_limbs_are_placed_in_front_of_the_camera_at_a_drawable_size() -> None:
    rng = np.random.default_rng(0)
    camera = Camera(f=400.0, cx=159.5, cy=119.5)
    for _ in range(20):
        parts = head(rng, camera, (320, 240), np.array([0.6, 0.4, 0.3])) + [limb(rng, camera, (320, 240),
                                                                                 np.array([0.3, 0.2, 0.1]))]
        features = [q for q in parts if np.linalg.norm(q.model[:3, :3], axis=0).max() < 3.0]
        assert len(features) == 10  # a face: nose, lips, and on each side an ear, an eye's white and iris, a brow
        front = parts[0].model[:3, :3] @ np.array([0.0, 0.0, -1.0])  # the face looks along the head's -z
        assert sum(float(np.dot(q.model[:3, 3] - parts[0].model[:3, 3], front)) > 0 for q in features) >= 8
        head_centre = parts[0].model[:3, 3]
        head_half = np.linalg.norm(parts[0].model[:3, :3], axis=0)  # (3,) the head's half extents, cm
        for part in parts:
            centre = part.model[:3, 3]
            assert centre[2] >= 15.0 and part.name in ("sphere", "cylinder", "box")
            extent = float(np.linalg.norm(part.model[:3, :3], axis=0).max())
            if extent < 3.0:  # a feature of the face (ears, nose, eyes, brows, lips): on the head's surface
                assert 0.6 * head_half.min() < np.linalg.norm(centre - head_centre) < 1.1 * head_half.max()
                continue
            assert camera.f * 2.0 * extent / centre[2] >= 4.0  # drawable: 4 px or more
        skin = parts[0].color
        assert np.all(skin == np.array([0.6, 0.4, 0.3]))  # the head is the skin colour it was given
    kinds = {len(skin_distractors(rng, camera, (320, 240))[0]) > 0 for _ in range(10)}
    assert kinds == {True}


def test_the_heads_a_scene_holds_are_reported_where_they_are_drawn() -> None:
    rng = np.random.default_rng(3)
    camera = Camera(f=400.0, cx=159.5, cy=119.5)
    reported = 0
    for _ in range(20):
        objects, heads = skin_distractors(rng, camera, (320, 240))
        big_spheres = [o for o in objects if o.name == "sphere" and np.linalg.norm(o.model[:3, :3], axis=0).max() > 5]
        for spot in heads:  # each is a head ellipsoid's centre and half height, not its hair's
            match = [o for o in big_spheres if np.allclose(o.model[:3, 3], spot.centre)]
            assert len(match) == 1
            assert np.isclose(np.linalg.norm(match[0].model[:3, :3], axis=0)[1], spot.half_height)
            assert 8.0 <= spot.half_height <= 13.0  # an adult head's half height, cm
        reported += len(heads)
    assert reported >= 10, reported


def test_a_hand_beside_a_head_is_at_its_persons_scale_within_reach_and_in_the_frame() -> None:
    rng = np.random.default_rng(5)
    camera = Camera(f=500.0, cx=319.5, cy=239.5)
    inside = 0
    for depth in (60.0, 150.0, 400.0, 1200.0):
        for x in (-30.0, 0.0, 50.0):
            spot = HeadSpot(np.array([x, -10.0, depth]), 11.5)
            head_px = camera.f * 23.0 / depth
            centre_px = camera.project(spot.centre[None])[0]
            for _ in range(20):
                pixel, span = beside_head(rng, camera, (640, 480), spot)
                assert 0.05 * 640 <= pixel[0] <= 0.95 * 640 and 0.05 * 480 <= pixel[1] <= 0.95 * 480
                assert HAND_PER_HEAD[0] * head_px - 1e-9 <= span <= HAND_PER_HEAD[1] * head_px + 1e-9 or \
                    span == MIN_HAND_SPAN_PX
                dx, dy = (pixel - centre_px) / head_px
                if 0.05 * 640 < pixel[0] < 0.95 * 640 and 0.05 * 480 < pixel[1] < 0.95 * 480:  # not clipped
                    inside += 1
                    assert BESIDE_X[0] - 1e-9 <= abs(dx) <= BESIDE_X[1] + 1e-9
                    assert BESIDE_Y[0] - 1e-9 <= dy <= BESIDE_Y[1] + 1e-9
    assert inside >= 60, inside


def test_hands_beside_heads_move_hands_only_in_scenes_with_heads() -> None:
    moved = 0
    for index in range(10):
        free, free_anns, q0 = render_scene_image(6, index, 320, 240, 1.0, 0.0)
        held, held_anns, q1 = render_scene_image(6, index, 320, 240, 1.0, 1.0)
        plain, _, _ = render_scene_image(6, index, 320, 240, 0.0, 1.0)  # no heads: nothing to hold hands by
        assert np.array_equal(plain, render_scene_image(6, index, 320, 240, 0.0, 0.0)[0])
        assert q0 == q1
        assert len(held_anns) <= len(free_anns)  # the same hands, some perhaps hidden by a head
        for a in held_anns:
            assert a["num_keypoints"] > 0
        moved += int([a["bbox"] for a in free_anns] != [a["bbox"] for a in held_anns])
    assert moved >= 3, moved


def test_the_flag_renders_reproducibly_and_is_recorded(tmp_path: Path) -> None:
    args = ["synth", "--scenes", "--count", "2", "--seed", "2", "--scene-size", "160x120", "--skin-distractors", "1",
            "--hands-beside-heads", "0.5"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    for name in ("images/00000000.jpg", "images/00000001.jpg", JSON_NAME):
        assert (tmp_path / "a" / "scenes" / name).read_bytes() == (tmp_path / "b" / "scenes" / name).read_bytes()
    info = json.loads((tmp_path / "a" / "scenes" / JSON_NAME).read_text())["info"]
    assert info["skin_distractors"] == 1.0 and info["hands_beside_heads"] == 0.5


@pytest.mark.parametrize("flags, message", [
    (["--skin-distractors", "0.5"], "--skin-distractors and --hands-beside-heads apply to --scenes"),
    (["--hands-beside-heads", "0.5"], "--skin-distractors and --hands-beside-heads apply to --scenes"),
    (["--scenes", "--skin-distractors", "1.5"], "--skin-distractors must lie in [0, 1]"),
    (["--scenes", "--skin-distractors", "1", "--hands-beside-heads", "-0.1"],
     "--hands-beside-heads must lie in [0, 1]"),
    (["--scenes", "--hands-beside-heads", "0.5"], "--hands-beside-heads needs heads"),
])
def test_bad_uses_are_named(flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["synth", "--out", str(tmp_path), "--count", "1", *flags]) != 0
    assert message in capsys.readouterr().err


def test_scenes_drawn_without_distractors_are_the_same_pixels_whatever_the_share() -> None:
    same = 0
    for index in range(8):  # at a share of 0.5 some scenes get heads and limbs, the others are the plain scenes
        plain, plain_anns, q0 = render_scene_image(4, index, 320, 240, 0.0)
        half, half_anns, q1 = render_scene_image(4, index, 320, 240, 0.5)
        full, _, _ = render_scene_image(4, index, 320, 240, 1.0)
        assert q0 == q1
        if np.array_equal(plain, half):
            same += 1
            assert plain_anns == half_anns
        else:  # a scene that got them at 0.5 gets the same ones at 1
            assert np.array_equal(half, full)
    assert 1 <= same <= 7, same
