"""The numpy-only motion maths the add-on keys with (core/motion rotations, kinematics,
resample, retarget), checked against scipy and against plain per-joint formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ohgesture.core.motion.kinematics import (forward_kinematics_matrices, forward_kinematics_quats, joint_levels,
                                              rest_positions, root_motion_translations)
from ohgesture.core.motion.resample import resample_motion_arrays
from ohgesture.core.motion.retarget import (AXIS_MAP, AXIS_QUAT, basis_to_local, character_frame,
                                            pose_basis_from_world_quats, rest_alignment, rest_matches,
                                            rotation_between, to_blender_vectors)
from ohgesture.core.motion.rotations import (make_continuous, matrix_to_quat, quat_conjugate, quat_multiply,
                                             quat_normalize, quat_rotate, quat_to_matrix, slerp)

PARENTS = np.array([-1, 0, 1, 2, 1, 4, 1, 6, 0, 8])


def _random_quats(shape, seed=0) -> np.ndarray:
    xyzw = Rotation.random(int(np.prod(shape)), random_state=seed).as_quat()
    return xyzw[:, [3, 0, 1, 2]].reshape(*shape, 4)


def _scipy(q) -> Rotation:
    q = np.asarray(q, dtype=np.float64).reshape(-1, 4)
    return Rotation.from_quat(q[:, [1, 2, 3, 0]])


def test_quaternion_products_and_matrices_agree_with_scipy():
    a, b = _random_quats((50,), 1), _random_quats((50,), 2)
    np.testing.assert_allclose(quat_to_matrix(a), _scipy(a).as_matrix(), atol=1e-12)
    product = _scipy(quat_multiply(a, b)).as_matrix()
    np.testing.assert_allclose(product, (_scipy(a) * _scipy(b)).as_matrix(), atol=1e-12)
    v = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(quat_rotate(a, v), _scipy(a).apply(v), atol=1e-12)
    np.testing.assert_allclose(quat_multiply(a, quat_conjugate(a)), np.tile([1.0, 0, 0, 0], (50, 1)), atol=1e-12)


def test_matrix_to_quat_inverts_quat_to_matrix_with_w_positive():
    q = _random_quats((7, 11), 3)
    back = matrix_to_quat(quat_to_matrix(q))
    assert back.shape == q.shape and np.all(back[..., 0] >= 0)
    np.testing.assert_allclose(np.abs(np.sum(back * q, axis=-1)), 1.0, atol=1e-12)
    half_turns = quat_to_matrix(np.array([[0.0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]))
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(half_turns)), half_turns, atol=1e-12)


def test_float32_stays_float32_on_the_keyframe_path():
    q = _random_quats((5, 3)).astype(np.float32)
    assert quat_normalize(q).dtype == np.float32 and quat_multiply(q, q).dtype == np.float32
    assert make_continuous(q).dtype == np.float32
    rotations, translations = resample_motion_arrays(q, np.zeros((5, 3)), np.arange(5.0))
    assert rotations.dtype == np.float32 and translations.dtype == np.float64
    assert quat_to_matrix(q).dtype == np.float64


def test_slerp_ends_midpoint_and_shortest_path():
    a, b = _random_quats((20,), 4), _random_quats((20,), 5)
    np.testing.assert_allclose(np.abs(np.sum(slerp(a, b, 0.0) * a, -1)), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(slerp(a, b, 1.0) * b, -1)), 1.0, atol=1e-12)
    mid = slerp(a, -b, 0.5)  # the sign of an end does not change the path
    angle_to = lambda x, y: 2 * np.arccos(np.clip(np.abs(np.sum(x * y, -1)), 0, 1))  # noqa: E731
    np.testing.assert_allclose(angle_to(mid, a), angle_to(mid, b), atol=1e-9)
    np.testing.assert_allclose(2 * angle_to(mid, a), angle_to(a, b), atol=1e-9)


def test_make_continuous_keeps_neighbours_in_one_hemisphere():
    q = _random_quats((30, 2), 6) * np.where(np.random.default_rng(1).random((30, 2, 1)) < 0.5, -1, 1)
    continuous = make_continuous(q)
    assert np.all(np.sum(continuous[1:] * continuous[:-1], -1) >= 0)
    np.testing.assert_allclose(np.abs(continuous), np.abs(q))


def _per_joint_fk(rotations, translations, parents):
    """Forward kinematics written the plain way, one joint after another, with matrices."""
    local = _scipy(rotations).as_matrix().reshape(*rotations.shape[:2], 3, 3)
    world = np.empty_like(local)
    positions = np.empty(translations.shape)
    for j, p in enumerate(parents):
        if p < 0:
            world[:, j], positions[:, j] = local[:, j], translations[:, j]
        else:
            world[:, j] = world[:, p] @ local[:, j]
            positions[:, j] = positions[:, p] + np.einsum("fij,fj->fi", world[:, p], translations[:, j])
    return positions, world


def test_per_level_forward_kinematics_matches_the_per_joint_loop():
    rng = np.random.default_rng(7)
    rotations = _random_quats((40, len(PARENTS)), 8) * rng.uniform(0.5, 2.0, (40, len(PARENTS), 1))  # unnormalised
    offsets = rng.normal(scale=10.0, size=(len(PARENTS), 3))
    translations = root_motion_translations(offsets, 0, rng.normal(size=(40, 3)))
    want_positions, want_world = _per_joint_fk(rotations, translations, PARENTS)
    positions, world = forward_kinematics_matrices(rotations, translations, PARENTS)
    np.testing.assert_allclose(positions, want_positions, atol=1e-9)
    np.testing.assert_allclose(world, want_world, atol=1e-12)
    positions_q, world_q = forward_kinematics_quats(rotations, translations, PARENTS)
    np.testing.assert_allclose(quat_to_matrix(world_q), want_world, atol=1e-12)
    assert [list(level) for level in joint_levels(PARENTS)] == [[0], [1, 8], [2, 4, 6, 9], [3, 5, 7]]
    identity = np.tile([1.0, 0, 0, 0], (1, len(PARENTS), 1))
    np.testing.assert_allclose(forward_kinematics_quats(identity, offsets, PARENTS)[0][0],
                               rest_positions(PARENTS, offsets), atol=1e-12)


def test_basis_to_local_inverts_the_matching_armatures_pose_basis():
    """Keys made for the model's own armature (any bone rolls) turn back into the local
    rotations they came from: the hand-keys path."""
    rng = np.random.default_rng(9)
    local = _random_quats((6, len(PARENTS)), 10)
    offsets = rng.normal(scale=10.0, size=(len(PARENTS), 3))
    positions, world_q = forward_kinematics_quats(local, root_motion_translations(offsets, 0, np.zeros((6, 3))),
                                                  PARENTS)
    rest_q = _random_quats((len(PARENTS),), 11)  # bone rolls: any rest orientation
    heads = to_blender_vectors(rest_positions(PARENTS, offsets))
    basis_q, _ = pose_basis_from_world_quats(world_q, positions, list(range(len(PARENTS))), list(PARENTS),
                                             quat_to_matrix(rest_q), heads)
    recovered = basis_to_local(basis_q, rest_q[None])
    np.testing.assert_allclose(np.abs(np.sum(recovered * local, axis=-1)), 1.0, atol=1e-9)


def test_axis_quaternion_is_the_axis_map():
    np.testing.assert_allclose(quat_to_matrix(AXIS_QUAT), AXIS_MAP, atol=1e-15)
    np.testing.assert_allclose(to_blender_vectors(np.array([1.0, 2.0, 3.0]), 1.0), AXIS_MAP @ [1.0, 2.0, 3.0])


@pytest.mark.parametrize("a, b", [([1, 0, 0], [0, 1, 0]), ([0, 0, 1], [0, 0, -1]), ([1, 2, 3], [1, 2, 3.0]),
                                  ([0.3, -1, 2], [-2, 0.5, 0.1])])
def test_rotation_between_takes_one_direction_onto_the_other(a, b):
    r = rotation_between(np.array(a, float), np.array(b, float))
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(r), 1.0)
    np.testing.assert_allclose(r @ (np.array(a) / np.linalg.norm(a)), np.array(b) / np.linalg.norm(b), atol=1e-12)


def test_rest_alignment_uses_the_side_reference_for_the_twist():
    source_dir, target_dir = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    source_side, target_side = np.array([0, 1.0, 0]), np.array([1.0, 0, 0])
    g = rest_alignment(source_dir, target_dir, source_side, target_side)
    np.testing.assert_allclose(g @ source_dir, target_dir, atol=1e-12)
    np.testing.assert_allclose(g @ source_side, target_side, atol=1e-12)
    # A side reference along the bone says nothing: the smallest rotation.
    np.testing.assert_allclose(rest_alignment(source_dir, target_dir, source_dir, target_side),
                               rotation_between(source_dir, target_dir), atol=1e-12)


def test_character_frame_maps_model_axes_onto_the_rigs():
    frame = character_frame(np.array([1.0, 0, 0.2]), np.array([0, 0, 2.0]))  # Z-up rig, left +X (roughly)
    np.testing.assert_allclose(frame @ [0, 1.0, 0], [0, 0, 1.0], atol=1e-12)
    np.testing.assert_allclose(frame @ [1.0, 0, 0], [1.0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(frame, AXIS_MAP, atol=1e-12)
    assert character_frame(None, np.array([0, 0, 1.0])) is None
    assert character_frame(np.array([0, 0, 1.0]), np.array([0, 0, 1.0])) is None


def test_rest_matches_compares_directions_only():
    offsets = np.array([[0, 90.0, 0], [0, 10.0, 0], [5.0, 0, 0]])
    parents = [-1, 0, 1]
    heads = to_blender_vectors(rest_positions(np.array(parents), offsets), 0.02)  # another scale: still matches
    assert rest_matches(offsets, parents, heads, 1.0)
    heads[2] = heads[1] + [0, 0, 0.1]
    assert not rest_matches(offsets, parents, heads, 1.0)
