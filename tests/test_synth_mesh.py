"""The skinned hand mesh: a closed surface, skin weights that sum to 1, and skin that stays on the keypoints."""

from __future__ import annotations

import numpy as np

from handpose.synth import kinematics as kin
from handpose.synth import pose_prior
from handpose.synth.camera import place_hand, random_rotation
from handpose.synth.mesh import rest_mesh
from handpose.synth.skinning import JOINT_BONES, bone_matrices, radial_scale, skin_points


def test_mesh_is_closed_and_weights_sum_to_one() -> None:
    m = rest_mesh()
    assert 3000 < len(m.vertices) < 30000
    edges = np.sort(np.concatenate([m.faces[:, [0, 1]], m.faces[:, [1, 2]], m.faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert np.all(counts == 2)  # every edge joins exactly two triangles: no holes
    assert np.allclose(m.weights.sum(1), 1.0, atol=1e-5) and np.all(m.weights >= 0)
    assert np.all((m.bones >= 0) & (m.bones < kin.NUM_BONES))
    assert np.allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-4)


def test_rest_keypoints_lie_inside_the_skin() -> None:
    m = rest_mesh()
    for k in range(21):
        i = np.argmin(np.linalg.norm(m.vertices - m.rest.joints[k], axis=1))
        assert np.dot(m.rest.joints[k] - m.vertices[i], m.normals[i]) < 0.0, k


def test_skinned_joints_reproject_onto_the_skeleton_keypoints() -> None:
    m = rest_mesh()
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(20):
        shape = kin.sample_shape(rng)
        pose, _ = pose_prior.sample_pose(rng)
        posed = kin.build_hand(shape, pose)
        R = random_rotation(rng)
        cam_pts, camera = place_hand(np.concatenate([posed.joints, np.zeros((1, 3))]), R, 256, rng, 0.6)
        H = np.eye(4)
        H[:3, :3], H[:3, 3] = R, cam_pts[-1]
        M = H @ bone_matrices(m.rest, posed, radial_scale(shape))  # (21, 4, 4)
        target = camera.project(cam_pts[:21])  # (21, 2)
        for k, bones in enumerate(JOINT_BONES):
            for b in bones:  # every bone a keypoint joins carries it to the same place, so any blend does too
                p = skin_points(m.rest.joints[k][None], np.array([[b]]), np.ones((1, 1)), M)
                worst = max(worst, float(np.linalg.norm(camera.project(p)[0] - target[k])))
    assert worst < 0.5


def test_skinning_a_rest_pose_changes_nothing() -> None:
    m = rest_mesh()
    M = bone_matrices(m.rest, m.rest, np.ones(kin.NUM_BONES))
    V = skin_points(m.vertices[:500].astype(float), m.bones[:500], m.weights[:500].astype(float), M)
    assert np.allclose(V, m.vertices[:500], atol=1e-4)
