"""Quaternion and rotation-matrix maths for the whole project, numpy only.

Quaternions are (w, x, y, z) everywhere in the project. Every function accepts arbitrary
leading batch shapes. float32 input stays float32 where noted (the add-on's keyframe path:
Blender stores keys as float32 anyway); everything else is computed in float64. The
quaternion products write Fortran-order arrays, so each component of each joint is one
contiguous run of frames, which is how numpy's elementwise maths and Blender's per-channel
F-curves both want them.

This module imports no SciPy at module level, because the add-on runs it inside Blender's
bundled Python, which has numpy but may lack scipy. Only ``quat_to_euler`` (BVH writing)
uses SciPy, imported when it is called; scipy's quaternions are (x, y, z, w), so that
crossing goes through ``to_scipy``.
"""

from __future__ import annotations

import numpy as np

AXES = "XYZ"


def _float(x) -> np.ndarray:
    """float32 stays float32; everything else becomes float64."""
    x = np.asarray(x)
    return x if x.dtype == np.float32 else x.astype(np.float64)


def _batch(q: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    q = np.asarray(q, dtype=np.float64)
    return q.reshape(-1, q.shape[-1]), q.shape[:-1]


def to_scipy(quat_wxyz: np.ndarray):
    """A ``scipy.spatial.transform.Rotation`` (SciPy is imported here, not by the module)."""
    from scipy.spatial.transform import Rotation

    flat, _ = _batch(quat_wxyz)
    return Rotation.from_quat(flat[:, [1, 2, 3, 0]])


def identity_quat(shape: tuple[int, ...] = ()) -> np.ndarray:
    quat = np.zeros((*shape, 4))
    quat[..., 0] = 1.0
    return quat


def quat_normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (float32 stays float32)."""
    q = _float(q)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    """The inverse of unit quaternions (float32 stays float32)."""
    q = _float(q)
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (apply b first, then a), broadcasting over batches."""
    a, b = np.broadcast_arrays(_float(a), _float(b))
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    out = np.empty(a.shape, dtype=np.result_type(a, b), order="F")
    out[..., 0] = aw * bw - ax * bx - ay * by - az * bz
    out[..., 1] = aw * bx + ax * bw + ay * bz - az * by
    out[..., 2] = aw * by - ax * bz + ay * bw + az * bx
    out[..., 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """np.cross for (..., 3) without its generic-axis overhead (this runs per bone level)."""
    u, v = np.broadcast_arrays(u, v)
    out = np.empty(u.shape, dtype=np.result_type(u, v), order="F")
    out[..., 0] = u[..., 1] * v[..., 2] - u[..., 2] * v[..., 1]
    out[..., 1] = u[..., 2] * v[..., 0] - u[..., 0] * v[..., 2]
    out[..., 2] = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    return out


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    q = _float(q)
    w, u = q[..., :1], q[..., 1:]
    t = 2 * _cross(u, v)
    return v + w * t + _cross(u, t)


def quat_to_matrix(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3), float64, of quaternions of any length."""
    q = np.asarray(quat_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.empty(q.shape[:-1] + (3, 3))
    m[..., 0, 0] = 1 - 2 * (y * y + z * z)
    m[..., 0, 1] = 2 * (x * y - w * z)
    m[..., 0, 2] = 2 * (x * z + w * y)
    m[..., 1, 0] = 2 * (x * y + w * z)
    m[..., 1, 1] = 1 - 2 * (x * x + z * z)
    m[..., 1, 2] = 2 * (y * z - w * x)
    m[..., 2, 0] = 2 * (x * z - w * y)
    m[..., 2, 1] = 2 * (y * z + w * x)
    m[..., 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def matrix_to_quat(matrix: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions with w >= 0 (Shepperd's method:
    per matrix, divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2)."""
    m = np.asarray(matrix, dtype=np.float64)
    r = m.reshape(-1, 3, 3)
    m00, m01, m02 = r[:, 0, 0], r[:, 0, 1], r[:, 0, 2]
    m10, m11, m12 = r[:, 1, 0], r[:, 1, 1], r[:, 1, 2]
    m20, m21, m22 = r[:, 2, 0], r[:, 2, 1], r[:, 2, 2]
    candidates = np.stack([
        np.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
        np.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
        np.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
        np.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
    ], 1)  # (N, 4 candidates, 4); candidate c is 4 q_c q scaled, exact where q_c is largest
    choice = np.argmax(np.stack([m00 + m11 + m22, m00, m11, m22], -1), axis=-1)
    q = np.take_along_axis(candidates, choice[:, None, None], axis=1)[:, 0]
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return quat_normalize(q).reshape(m.shape[:-2] + (4,))


def make_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so consecutive quaternions lie in the same hemisphere;
    Blender interpolates quaternion F-curves component-wise between keys."""
    q = np.array(_float(q), copy=True)
    if q.shape[0] < 2:
        return q
    step_sign = np.where(np.sum(q[1:] * q[:-1], axis=-1) < 0, -1.0, 1.0).astype(q.dtype)
    sign = np.concatenate([np.ones_like(step_sign[:1]), np.cumprod(step_sign, axis=0)])
    return q * sign[..., None]


def slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Shortest-path spherical interpolation of quaternions (normalised first); ``w``
    broadcasts against q0[..., 0] and may lie outside [0, 1] (extrapolation)."""
    q0 = quat_normalize(q0)
    q1 = quat_normalize(q1)
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where((dot < 0)[..., None], -q1, q1)
    dot = np.abs(dot)
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), dot.shape)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    nearly_same = sin_theta < 1e-8
    safe = np.where(nearly_same, 1.0, sin_theta)
    a = np.where(nearly_same, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    b = np.where(nearly_same, w, np.sin(w * theta) / safe)
    return quat_normalize(a[..., None] * q0 + b[..., None] * q1)


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


def swing_twist(quaternions: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split unit quaternions into ``swing * twist`` about ``axis`` (swing-twist
    decomposition): ``twist`` turns about ``axis`` only and is applied first, ``swing`` turns
    ``axis`` to where ``quaternions`` send it, about an axis perpendicular to it.

    ``axis`` (3,) or (..., 3), broadcasting against ``quaternions[..., 0]``, is given in the
    frame the rotation acts in (for a bone's local rotation: its parent's frame, e.g. the
    forearm-to-wrist direction for a hand) and need not be unit length. Returns ``(swing,
    twist_angle)``: swing quaternions (..., 4), float64, and the twist angle in radians,
    signed by the right-hand rule about ``axis``, in [-pi, pi]. A rotation by 180 degrees
    about an axis perpendicular to ``axis`` has no defined twist; it is reported as 0.
    """
    q = quat_normalize(np.asarray(quaternions, dtype=np.float64))
    axis = np.asarray(axis, dtype=np.float64)
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-12)
    along = np.sum(q[..., 1:] * axis, axis=-1)
    w = q[..., 0]
    angle = wrap_angle(2.0 * np.arctan2(along, w))
    half = 0.5 * angle
    twist = np.concatenate([np.cos(half)[..., None], np.sin(half)[..., None] * axis], axis=-1)
    twist = np.broadcast_to(twist, q.shape)
    swing = quat_multiply(q, quat_conjugate(twist))
    return np.ascontiguousarray(swing), angle
