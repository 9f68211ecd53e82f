"""core/motion/control_rig.py: controls solved through parents and blended copy constraints
give the bones the asked-for world rotations, checked by evaluating the solved basis forward
and against plain matrix formulas."""

import numpy as np
from scipy.spatial.transform import Rotation

from ohgesture.core.motion import control_rig
from ohgesture.core.motion.rotations import matrix_to_quat, slerp


def _matrix(rotation, head) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation, head
    return m


def _chain() -> control_rig.ControlGraph:
    """root (fixed) -> a (control) -> m (copies root's world rotation by 0.5) -> b (control)
    -> c (copies b's local transform by 0.3) -> d (control); e copies d's world transform."""
    rng = np.random.default_rng(0)
    rest = np.stack([_matrix(Rotation.random(random_state=k).as_matrix(), rng.normal(size=3)) for k in range(7)])
    parents = [-1, 0, 1, 2, 3, 4, 0]
    constraints = [[], [], [(control_rig.COPY_WORLD_ROTATION, 0, 0.5)], [], [(control_rig.COPY_LOCAL, 3, 0.3)], [],
                   [(control_rig.COPY_WORLD, 5, 1.0)]]
    fixed = {0: _matrix(Rotation.from_euler("z", 30, degrees=True).as_matrix(), (0.1, 0.2, 0.3))}
    return control_rig.ControlGraph(list("rambcde"), parents, rest, np.broadcast_to(np.eye(4), (7, 4, 4)).copy(),
                                    constraints, fixed)


def test_solved_controls_give_the_world_rotations_asked_for():
    graph = _chain()
    frames = 5
    wanted = {k: Rotation.random(frames, random_state=10 + k).as_matrix() for k in (1, 3, 5)}
    heads = np.random.default_rng(1).normal(size=(frames, 3))
    solved = control_rig.solve_controls(graph, wanted, frames, anchor=(1, 6, heads))
    poses = control_rig.control_poses(graph, solved, range(7), frames)
    for k, rotation in wanted.items():
        np.testing.assert_allclose(poses[k][:, :3, :3], rotation, atol=1e-9)
    np.testing.assert_allclose(poses[6][:, :3, 3], heads, atol=1e-9)  # e follows d, a's location put it there
    np.testing.assert_allclose(poses[6], poses[5], atol=1e-9)


def test_blended_copy_rotation_is_the_slerp_blender_makes():
    graph = _chain()
    basis = {1: control_rig.basis_matrices(matrix_to_quat(Rotation.random(3, random_state=4).as_matrix()))}
    poses = control_rig.control_poses(graph, basis, [1, 2], 3)
    own = poses[1] @ (np.linalg.inv(graph.rest[1]) @ graph.rest[2])
    expected = slerp(matrix_to_quat(own[:, :3, :3]), matrix_to_quat(graph.fixed[0][:3, :3])[None], 0.5)
    np.testing.assert_allclose(np.abs(np.sum(matrix_to_quat(poses[2][:, :3, :3]) * expected, axis=-1)), 1.0,
                               atol=1e-12)
    np.testing.assert_allclose(poses[2][:, :3, 3], own[:, :3, 3], atol=1e-12)  # location stays its own
