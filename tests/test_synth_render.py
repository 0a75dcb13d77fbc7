"""The capsule renderer: coverage, the z-buffer, shading, and visibility labels on hands with known answers."""

from __future__ import annotations

import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth.camera import PALM_VIEW, Camera, axis_angle
from handpose.synth.generate import build_scene, render_scene
from handpose.synth.render import Light, render_capsules, shade


def _cam() -> Camera:
    return Camera(f=200.0, cx=49.5, cy=49.5)


def test_sphere_covers_its_projected_disc() -> None:
    a = np.array([[0.0, 0.0, 100.0]])
    buf = render_capsules(a, a.copy(), np.array([10.0]), np.array([10.0]), _cam(), 100, factor=1)
    yy, xx = np.mgrid[0:100, 0:100]
    r = np.hypot(xx - 49.5, yy - 49.5)
    covered = buf.ids >= 0
    assert covered[r < 19.0].all() and not covered[r > 21.0].any()  # projected radius 200 * 10 / 100 = 20 px
    assert np.isclose(buf.depth[49, 49], 90.0, atol=0.1)  # front of the sphere
    assert buf.normal[49, 49, 2] < -0.99  # facing the camera


def test_nearer_capsule_wins_the_depth_test() -> None:
    a = np.array([[-30.0, 0.0, 100.0], [0.0, -30.0, 80.0]])
    b = np.array([[30.0, 0.0, 100.0], [0.0, 30.0, 80.0]])
    r = np.array([3.0, 3.0])
    for order in ([0, 1], [1, 0]):  # the answer does not depend on the drawing order
        buf = render_capsules(a[order], b[order], r, r, _cam(), 100, factor=1)
        assert buf.ids[50, 50] == order.index(1)
        assert buf.ids[50, 20] == order.index(0)


def test_shading_follows_the_light() -> None:
    a = np.array([[0.0, 0.0, 100.0]])
    buf = render_capsules(a, a.copy(), np.array([10.0]), np.array([10.0]), _cam(), 100, factor=1)
    light = Light(direction=np.array([1.0, 0.0, 0.0]), ambient=0.2, diffuse=0.8, specular=0.0, shininess=10.0)
    img, cov = shade(buf, np.array([[200.0, 200.0, 200.0]]), light)
    y0, _, x0, _ = buf.box  # shade returns the drawn box only
    row = img[50 - y0, :, 0]
    assert row[65 - x0] > row[50 - x0] + 50 > row[34 - x0] + 50  # lit from +x (the right)
    assert cov.sum() > 1000 and np.all(img[cov == 0] == 0)


def _render(rotation: np.ndarray) -> np.ndarray:
    shape = kin.sample_shape(np.random.default_rng(0))
    shape.sleeve_length = 0.0
    scene = build_scene(np.random.default_rng(1), np.random.default_rng(2), 256, shape=shape,
                        pose=kin.neutral_pose(), rotation=rotation, fraction=0.6)
    canvas = np.zeros((256, 256, 3), np.uint8)
    pts, hand_mask, _, _ = render_scene(scene, canvas)
    return pts


def test_flat_hand_facing_the_camera_shows_every_keypoint() -> None:
    for rotation in (PALM_VIEW, np.diag([-1.0, -1.0, 1.0])):  # palm view, back view
        pts = _render(rotation)
        inside = (pts[:, :2] >= 0).all(1) & (pts[:, :2] <= 255).all(1)
        assert np.all(pts[inside, 2] == 1.0)
        assert inside[1:].all()


def test_side_view_hides_the_far_fingers() -> None:
    # seen from the thumb side (the camera looks along -x of the hand), the pinky hides behind the index
    side = axis_angle(np.array([0.0, 1.0, 0.0]), 90.0) @ PALM_VIEW
    pts = _render(side)
    assert pts[[18, 19, 20], 2].sum() == 0  # pinky PIP, DIP, tip hidden
    assert pts[[6, 7, 8], 2].all()  # index PIP, DIP, tip visible
