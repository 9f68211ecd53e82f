"""Pure-numpy rotation math for turning model motion into Blender pose channels.

Blender's bundled Python has numpy but not scipy, so the few quaternion helpers the
add-on needs live here. Quaternions are (w, x, y, z), as in the rest of the project.

Coordinate convention (the same as Blender's own BVH importer, plus a unit scale):
model space is Y-up in centimetres; Blender armature space is Z-up in metres, and a
model vector (x, y, z) becomes (x, -z, y) * 0.01. ``AXIS_MAP`` is that proper rotation
(+90 degrees about X), so rotations conjugate as ``AXIS_MAP @ R @ AXIS_MAP.T``.
"""

from __future__ import annotations

import numpy as np

AXIS_MAP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
CENTIMETRES_TO_METRES = 0.01


def normalize_quats(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q, dtype=np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = normalize_quats(q)
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


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) to unit quaternions with w >= 0 (Shepperd's method)."""
    m = np.asarray(m, dtype=np.float64)
    flat = m.reshape(-1, 3, 3)
    trace = flat[:, 0, 0] + flat[:, 1, 1] + flat[:, 2, 2]
    # Pick, per matrix, the largest of 4w^2, 4x^2, 4y^2, 4z^2 to divide by.
    diag = np.stack([trace, flat[:, 0, 0], flat[:, 1, 1], flat[:, 2, 2]], axis=1)
    choice = np.argmax(diag, axis=1)
    q = np.empty((flat.shape[0], 4))
    for c in range(4):
        sel = choice == c
        if not np.any(sel):
            continue
        r = flat[sel]
        if c == 0:
            s = np.sqrt(1.0 + trace[sel]) * 2
            q[sel] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s,
                               (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s], axis=1)
        elif c == 1:
            s = np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2]) * 2
            q[sel] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s,
                               (r[:, 0, 1] + r[:, 1, 0]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s], axis=1)
        elif c == 2:
            s = np.sqrt(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2]) * 2
            q[sel] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                               0.25 * s, (r[:, 1, 2] + r[:, 2, 1]) / s], axis=1)
        else:
            s = np.sqrt(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1]) * 2
            q[sel] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                               (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return normalize_quats(q).reshape(m.shape[:-2] + (4,))


def make_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so consecutive quaternions lie in the same hemisphere;
    Blender interpolates quaternion F-curves component-wise between keys."""
    q = np.array(q, dtype=np.float64, copy=True)
    for f in range(1, q.shape[0]):
        flip = np.sum(q[f] * q[f - 1], axis=-1) < 0
        q[f][flip] *= -1
    return q


def slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Spherical interpolation; w broadcasts against q0[..., 0]."""
    q0 = normalize_quats(q0)
    q1 = normalize_quats(q1)
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
    return normalize_quats(a[..., None] * q0 + b[..., None] * q1)


def resample_times(num_frames: int, source_fps: float, target_fps: float,
                   max_frames: int | None = None) -> np.ndarray:
    """Source-frame positions (fractional) of target frames 0, 1, ... that fall inside
    the motion; the target frame k sits at time k / target_fps."""
    if num_frames < 1:
        raise ValueError("The motion has no frames.")
    last = (num_frames - 1) * target_fps / source_fps
    count = int(np.floor(last + 1e-9)) + 1
    if max_frames is not None:
        count = max(1, min(count, int(max_frames)))
    return np.arange(count) * (source_fps / target_fps)


def resample_motion_arrays(rotations: np.ndarray, root_translation: np.ndarray,
                           frame_positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (F, J, 4) by slerp and root translation (F, 3) linearly, sampled at
    fractional source-frame positions."""
    num_frames = rotations.shape[0]
    i0 = np.clip(np.floor(frame_positions + 1e-9).astype(int), 0, num_frames - 1)
    i1 = np.minimum(i0 + 1, num_frames - 1)
    w = np.clip(frame_positions - i0, 0.0, 1.0)
    w = np.where(np.abs(w) < 1e-9, 0.0, w)
    rots = slerp(rotations[i0], rotations[i1], w[:, None])
    trans = root_translation[i0] * (1 - w)[:, None] + root_translation[i1] * w[:, None]
    return rots, trans


def forward_kinematics(rotations: np.ndarray, parents: np.ndarray, offsets: np.ndarray,
                       root_joint: int, root_translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotation matrices (F, J, 3, 3) and positions (F, J, 3) in model space.
    Every joint uses its rest offset, except ``root_joint`` which uses ``root_translation``."""
    local = quat_to_matrix(rotations)
    num_frames, num_joints = rotations.shape[:2]
    world_rot = np.empty_like(local)
    world_pos = np.empty((num_frames, num_joints, 3))
    for j in range(num_joints):
        translation = root_translation if j == root_joint else np.broadcast_to(offsets[j], (num_frames, 3))
        p = parents[j]
        if p < 0:
            world_rot[:, j] = local[:, j]
            world_pos[:, j] = translation
        else:
            world_rot[:, j] = world_rot[:, p] @ local[:, j]
            world_pos[:, j] = world_pos[:, p] + np.einsum("fij,fj->fi", world_rot[:, p], translation)
    return world_rot, world_pos


def rest_positions(parents: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """World rest positions (J, 3) in model space (all local rotations identity)."""
    positions = np.zeros((len(parents), 3))
    for j, p in enumerate(parents):
        positions[j] = offsets[j] if p < 0 else positions[p] + offsets[j]
    return positions


def to_blender_vectors(v: np.ndarray, scale: float = CENTIMETRES_TO_METRES) -> np.ndarray:
    return np.asarray(v, dtype=np.float64) @ AXIS_MAP.T * scale


def pose_basis_from_world(world_rot: np.ndarray, world_pos: np.ndarray, bone_joint: list[int],
                          bone_parent: list[int], bone_rest_rot: np.ndarray, bone_rest_head: np.ndarray,
                          scale: float = CENTIMETRES_TO_METRES) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone basis rotations (F, B, 4) and locations (F, B, 3) that put every bone on its
    joint's world transform.

    Bones are in parents-first order; bone b follows joint ``bone_joint[b]`` (-1: none, it
    keeps its rest basis) and has Blender parent bone ``bone_parent[b]``. A bone's rest
    rotation Q_b and head h_b are in armature space (Bone.matrix_local). Model joints have
    identity rest orientation (BVH), so a posed bone must be rotated by D = A R A^T from
    its rest, where R is the joint's model world rotation and A the axis map; its posed
    head is A p * scale. Blender evaluates pose = pose_parent @ rest_parent^-1 @ rest @ basis,
    which solves to basis_rot = Q_b^T D_parent^T D_b Q_b and
    basis_loc = Q_b^T (D_parent^T (head_b - head_parent) + h_parent - h_b).
    """
    num_frames = world_rot.shape[0]
    num_bones = len(bone_joint)
    delta = np.empty((num_frames, num_bones, 3, 3))
    head = np.empty((num_frames, num_bones, 3))
    world_rot_bl = AXIS_MAP @ world_rot @ AXIS_MAP.T
    world_pos_bl = to_blender_vectors(world_pos, scale)
    basis_rot = np.empty((num_frames, num_bones, 3, 3))
    basis_loc = np.zeros((num_frames, num_bones, 3))
    for b in range(num_bones):
        j, pb = bone_joint[b], bone_parent[b]
        q_rest = bone_rest_rot[b]
        if pb < 0:
            parent_delta = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        else:
            parent_delta = delta[:, pb]
        if j < 0:
            delta[:, b] = parent_delta
            if pb < 0:
                head[:, b] = bone_rest_head[b]
            else:
                head[:, b] = head[:, pb] + np.einsum("fij,j->fi", parent_delta, bone_rest_head[b] - bone_rest_head[pb])
            basis_rot[:, b] = np.eye(3)
            continue
        delta[:, b] = world_rot_bl[:, j]
        head[:, b] = world_pos_bl[:, j]
        basis_rot[:, b] = q_rest.T @ np.swapaxes(parent_delta, -1, -2) @ delta[:, b] @ q_rest
        if pb < 0:
            rel_head = head[:, b] - bone_rest_head[b]
        else:
            rel_head = np.einsum("fji,fj->fi", parent_delta, head[:, b] - head[:, pb]) \
                + bone_rest_head[pb] - bone_rest_head[b]
        basis_loc[:, b] = rel_head @ q_rest  # q_rest.T @ v for each frame
    return make_continuous(matrix_to_quat(basis_rot)), basis_loc


# --- Retargeting onto armatures with other rest poses ---------------------------------

def _unit(v: np.ndarray) -> np.ndarray | None:
    v = np.asarray(v, dtype=np.float64)
    length = np.linalg.norm(v)
    return v / length if length > 1e-9 else None


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation matrix taking direction a onto direction b."""
    a, b = _unit(a), _unit(b)
    if a is None or b is None:
        return np.eye(3)
    axis = np.cross(a, b)
    cos = float(np.clip(np.dot(a, b), -1.0, 1.0))
    sin = np.linalg.norm(axis)
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        # Half turn about any axis perpendicular to a.
        helper = np.eye(3)[np.argmin(np.abs(a))]
        axis = _unit(np.cross(a, helper))
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    axis = axis / sin
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + sin * k + (1 - cos) * (k @ k)


def _frame(direction: np.ndarray, side: np.ndarray | None) -> np.ndarray | None:
    """Orthonormal columns (direction, side made perpendicular, their cross product)."""
    d = _unit(direction)
    if d is None or side is None:
        return None
    s = np.asarray(side, dtype=np.float64) - np.dot(side, d) * d
    s = _unit(s)
    # A side reference within ~25 degrees of the bone says nothing about its twist.
    if s is None or np.linalg.norm(np.asarray(side) - np.dot(side, d) * d) < 0.4 * np.linalg.norm(side):
        return None
    return np.stack([d, s, np.cross(d, s)], axis=1)


def rest_alignment(source_dir, target_dir, source_side=None, target_side=None) -> np.ndarray:
    """Rotation G (armature space) with G @ source_dir = target_dir exactly; its twist about
    the bone takes source_side towards target_side when both are usable, else it is the
    smallest rotation (which keeps the twist of T-pose/A-pose differences)."""
    source_frame = _frame(source_dir, source_side)
    target_frame = _frame(target_dir, target_side)
    if source_frame is None or target_frame is None:
        return rotation_between(source_dir, target_dir)
    return target_frame @ source_frame.T


def character_frame(left: np.ndarray | None, up: np.ndarray | None) -> np.ndarray | None:
    """Rotation taking the model's character axes (left +X, up +Y, front +Z) onto the
    target rig's left and up directions (armature space); None when they are unusable."""
    up_unit = _unit(up) if up is not None else None
    if left is None or up_unit is None:
        return None
    left = np.asarray(left, dtype=np.float64) - np.dot(left, up_unit) * up_unit
    left = _unit(left)
    if left is None:
        return None
    return np.stack([left, up_unit, np.cross(left, up_unit)], axis=1)


def retarget_pose_basis(source_delta: np.ndarray, bone_joint: list[int], bone_parent: list[int],
                        bone_align: np.ndarray, bone_rest_rot: np.ndarray,
                        root_heads: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone basis rotations (F, B, 4) and locations (F, B, 3) for a rig whose rest pose
    differs from the source's.

    ``source_delta`` (F, J, 3, 3): each source joint's world rotation relative to its rest,
    in the target's armature space. Mapped bone b (joint j) gets the world delta
    D_j @ G_b^T, where G_b = ``bone_align[b]`` turns the source rest bone onto the target
    rest bone, so its rest direction t_b lands on D_j s_j (where the source bone points).
    Unmapped bones keep their rest relative to their parent. With the world delta Δ the
    basis is Q^T Δ_parent^T Δ Q (see ``pose_basis_from_world``). ``root_heads`` maps
    bones that move freely (no mapped ancestor) to their posed heads minus rest heads
    (F, 3), armature space; their parents never move.
    """
    num_frames = source_delta.shape[0]
    num_bones = len(bone_joint)
    delta = np.empty((num_frames, num_bones, 3, 3))
    basis_rot = np.empty((num_frames, num_bones, 3, 3))
    basis_loc = np.zeros((num_frames, num_bones, 3))
    identity = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
    for b in range(num_bones):
        j, pb = bone_joint[b], bone_parent[b]
        parent_delta = identity if pb < 0 else delta[:, pb]
        if j < 0:
            delta[:, b] = parent_delta
            basis_rot[:, b] = np.eye(3)
            continue
        q_rest = bone_rest_rot[b]
        delta[:, b] = source_delta[:, j] @ bone_align[b].T
        basis_rot[:, b] = q_rest.T @ np.swapaxes(parent_delta, -1, -2) @ delta[:, b] @ q_rest
        if b in root_heads:
            basis_loc[:, b] = np.asarray(root_heads[b]) @ q_rest
    return make_continuous(matrix_to_quat(basis_rot)), basis_loc
