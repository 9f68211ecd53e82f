"""Forward kinematics, vectorised over frames (a loop over joints only)."""

from __future__ import annotations

import numpy as np

from .rotations import matrix_to_quat, quat_to_matrix
from .skeleton import Motion


def forward_kinematics_matrices(
    rotations: np.ndarray, local_translations: np.ndarray, parents: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """World positions (F, J, 3) and world rotation matrices (F, J, 3, 3)."""
    local_matrices = quat_to_matrix(rotations)
    world_matrices = np.empty_like(local_matrices)
    world_positions = np.empty(local_translations.shape, dtype=np.float64)
    for joint, parent in enumerate(parents):
        if parent < 0:
            world_matrices[:, joint] = local_matrices[:, joint]
            world_positions[:, joint] = local_translations[:, joint]
        else:
            parent_matrix = world_matrices[:, parent]
            world_matrices[:, joint] = parent_matrix @ local_matrices[:, joint]
            world_positions[:, joint] = world_positions[:, parent] + np.einsum(
                "fij,fj->fi", parent_matrix, local_translations[:, joint]
            )
    return world_positions, world_matrices


def forward_kinematics(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """World positions (F, J, 3) in file units and world rotations (F, J, 4) quats (w, x, y, z)."""
    positions, matrices = forward_kinematics_matrices(
        motion.rotations, motion.local_translations, motion.skeleton.parents
    )
    return positions, matrix_to_quat(matrices)
