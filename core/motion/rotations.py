"""Rotation conversions used by the motion code.

Quaternions are (w, x, y, z) everywhere in the project; scipy uses (x, y, z, w),
so every crossing into scipy goes through ``to_scipy`` / ``from_scipy``.
All functions accept arbitrary leading batch shapes.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

AXES = "XYZ"


def _batch(q: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    q = np.asarray(q, dtype=np.float64)
    return q.reshape(-1, q.shape[-1]), q.shape[:-1]


def to_scipy(quat_wxyz: np.ndarray) -> Rotation:
    flat, _ = _batch(quat_wxyz)
    return Rotation.from_quat(flat[:, [1, 2, 3, 0]])


def from_scipy(rotation: Rotation, batch_shape: tuple[int, ...]) -> np.ndarray:
    xyzw = rotation.as_quat().reshape(-1, 4)
    return xyzw[:, [3, 0, 1, 2]].reshape(*batch_shape, 4)


def identity_quat(shape: tuple[int, ...] = ()) -> np.ndarray:
    quat = np.zeros((*shape, 4))
    quat[..., 0] = 1.0
    return quat


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (apply b first, then a), broadcasting over batches."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_normalize(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_to_matrix(quat_wxyz: np.ndarray) -> np.ndarray:
    flat, shape = _batch(quat_wxyz)
    return to_scipy(flat).as_matrix().reshape(*shape, 3, 3)


def matrix_to_quat(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float64)
    shape = matrix.shape[:-2]
    return from_scipy(Rotation.from_matrix(matrix.reshape(-1, 3, 3)), shape)


def euler_to_quat(angles_deg: np.ndarray, axes: str) -> np.ndarray:
    """Intrinsic rotation for BVH channel order ``axes`` (e.g. "ZXY" -> Rz*Rx*Ry).

    ``angles_deg`` has shape (..., len(axes)). Any number of axes (0..n) in any
    order is allowed, which covers every rotation channel layout BVH permits.
    """
    angles = np.asarray(angles_deg, dtype=np.float64)
    shape = angles.shape[:-1]
    flat = angles.reshape(-1, len(axes))
    # Composed from single-axis quaternions: exact, and much faster than
    # Rotation.from_euler on the ~10^5 rotations of a long take.
    result = identity_quat(flat.shape[:1])
    for i, axis in enumerate(axes.upper()):
        half = np.radians(flat[:, i]) * 0.5
        elementary = np.zeros((flat.shape[0], 4))
        elementary[:, 0] = np.cos(half)
        elementary[:, 1 + AXES.index(axis)] = np.sin(half)
        result = quat_multiply(result, elementary)
    return result.reshape(*shape, 4)


def quat_to_euler(quat_wxyz: np.ndarray, axes: str) -> np.ndarray:
    """Angles in degrees, shape (..., len(axes)), for intrinsic order ``axes``.

    For fewer than 3 axes the rotation must be expressible with those axes;
    ``ValueError`` is raised otherwise (a lossy write would be silent corruption).
    """
    flat, shape = _batch(quat_wxyz)
    axes = axes.upper()
    if len(set(axes)) != len(axes):
        raise ValueError(f"rotation axes {axes!r} repeat an axis.")
    missing = "".join(a for a in AXES if a not in axes)
    full = axes + missing
    angles = to_scipy(flat).as_euler(full, degrees=True)
    if missing:
        rebuilt = euler_to_quat(np.concatenate([angles[:, : len(axes)], np.zeros((len(flat), len(missing)))], 1), full)
        error = 1.0 - np.abs(np.sum(rebuilt * quat_normalize(flat), axis=-1))
        if len(flat) and np.max(error) > 1e-9:
            raise ValueError(f"rotations cannot be written with only the {axes or 'no'} rotation channel(s).")
    return angles[:, : len(axes)].reshape(*shape, len(axes))


def yaw_quat(angle_rad: np.ndarray) -> np.ndarray:
    """Rotation by ``angle_rad`` about +Y."""
    half = 0.5 * np.asarray(angle_rad, dtype=np.float64)
    quat = np.zeros((*half.shape, 4))
    quat[..., 0] = np.cos(half)
    quat[..., 2] = np.sin(half)
    return quat


def yaw_matrix(angle_rad: np.ndarray) -> np.ndarray:
    angle = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.zeros((*angle.shape, 3, 3))
    matrix[..., 0, 0] = c
    matrix[..., 0, 2] = s
    matrix[..., 1, 1] = 1.0
    matrix[..., 2, 0] = -s
    matrix[..., 2, 2] = c
    return matrix


def matrix_to_6d(matrix: np.ndarray) -> np.ndarray:
    """Zhou et al. 2019 continuous representation: first two columns, concatenated."""
    matrix = np.asarray(matrix)
    return np.concatenate([matrix[..., :, 0], matrix[..., :, 1]], axis=-1)


def sixd_to_matrix(sixd: np.ndarray) -> np.ndarray:
    """Inverse of ``matrix_to_6d`` by Gram-Schmidt; accepts unnormalised input."""
    sixd = np.asarray(sixd, dtype=np.float64)
    a1, a2 = sixd[..., :3], sixd[..., 3:6]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-12)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.maximum(np.linalg.norm(a2, axis=-1, keepdims=True), 1e-12)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def wrap_angle(angle_rad: np.ndarray) -> np.ndarray:
    """Map to [-pi, pi)."""
    return (np.asarray(angle_rad) + np.pi) % (2.0 * np.pi) - np.pi
