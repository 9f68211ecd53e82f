"""Pure-numpy rotation math for turning model motion into Blender pose channels.

Blender's bundled Python has numpy but not scipy, so the few quaternion helpers the
add-on needs live here. Quaternions are (w, x, y, z), as in the rest of the project.

Coordinate convention (the same as Blender's own BVH importer, plus a unit scale):
model space is Y-up in centimetres; Blender armature space is Z-up in metres, and a
model vector (x, y, z) becomes (x, -z, y) * 0.01. ``AXIS_MAP`` is that proper rotation
(+90 degrees about X), so rotations conjugate as ``AXIS_MAP @ R @ AXIS_MAP.T``.

Per-frame arrays (F, J, 4) of the keyframe path are kept in Fortran order: each
component of each joint is one contiguous run of frames, which is how numpy's
elementwise maths and Blender's per-channel F-curves both want them.
"""

from __future__ import annotations

import numpy as np

AXIS_MAP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
CENTIMETRES_TO_METRES = 0.01


def _float(x) -> np.ndarray:
    """float32 stays float32 (the keyframe path: Blender stores keys as float32 anyway);
    everything else becomes float64."""
    x = np.asarray(x)
    return x if x.dtype == np.float32 else x.astype(np.float64)


def normalize_quats(q: np.ndarray) -> np.ndarray:
    q = _float(q)
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
    """Rotation matrices (..., 3, 3) to unit quaternions with w >= 0 (Shepperd's method:
    per matrix, divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2)."""
    m = np.asarray(m, dtype=np.float64)
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
    return normalize_quats(q).reshape(m.shape[:-2] + (4,))


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def make_continuous(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so consecutive quaternions lie in the same hemisphere;
    Blender interpolates quaternion F-curves component-wise between keys."""
    q = np.array(_float(q), copy=True)
    if q.shape[0] < 2:
        return q
    step_sign = np.where(np.sum(q[1:] * q[:-1], axis=-1) < 0, -1.0, 1.0)
    sign = np.concatenate([np.ones_like(step_sign[:1]), np.cumprod(step_sign, axis=0)])
    return q * sign[..., None]


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
    if not np.any(w):  # same frame rate (or an integer ratio): every target frame is a source frame
        return normalize_quats(rotations[i0]), root_translation[i0].astype(np.float64)
    rots = slerp(rotations[i0], rotations[i1], w[:, None])
    trans = root_translation[i0] * (1 - w)[:, None] + root_translation[i1] * w[:, None]
    return rots, trans


def joint_levels(parents: np.ndarray) -> list[np.ndarray]:
    """Joint indices grouped by depth (roots first), so forward kinematics runs one
    vectorised step per level of the tree instead of one per joint."""
    depth = np.zeros(len(parents), dtype=np.int64)
    for j in range(len(parents)):
        p = parents[j]
        while p >= 0:
            depth[j] += 1
            p = parents[p]
    return [np.flatnonzero(depth == d) for d in range(int(depth.max()) + 1)] if len(parents) else []


def forward_kinematics_quats(rotations: np.ndarray, parents: np.ndarray, offsets: np.ndarray,
                             root_joint: int, root_translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations as quaternions (F, J, 4) and positions (F, J, 3) in model space.
    Every joint uses its rest offset, except ``root_joint`` which uses ``root_translation``."""
    local = np.asfortranarray(normalize_quats(rotations))
    parents = np.asarray(parents, dtype=np.int64)
    num_frames, num_joints = rotations.shape[:2]
    translation = np.empty((num_frames, num_joints, 3), dtype=local.dtype, order="F")
    translation[:] = offsets
    translation[:, root_joint] = root_translation
    world_q = np.empty_like(local, order="F")
    world_pos = np.empty((num_frames, num_joints, 3), dtype=local.dtype, order="F")
    for level in joint_levels(parents):
        roots, children = level[parents[level] < 0], level[parents[level] >= 0]
        world_q[:, roots] = local[:, roots]
        world_pos[:, roots] = translation[:, roots]
        if children.size:
            parent_q = world_q[:, parents[children]]
            world_q[:, children] = quat_multiply(parent_q, local[:, children])
            world_pos[:, children] = world_pos[:, parents[children]] + quat_rotate(parent_q, translation[:, children])
    return world_q, world_pos


def forward_kinematics(rotations: np.ndarray, parents: np.ndarray, offsets: np.ndarray,
                       root_joint: int, root_translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotation matrices (F, J, 3, 3) and positions (F, J, 3) in model space."""
    world_q, world_pos = forward_kinematics_quats(rotations, parents, offsets, root_joint, root_translation)
    return quat_to_matrix(world_q), world_pos


def rest_positions(parents: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """World rest positions (J, 3) in model space (all local rotations identity)."""
    positions = np.zeros((len(parents), 3))
    for j, p in enumerate(parents):
        positions[j] = offsets[j] if p < 0 else positions[p] + offsets[j]
    return positions


def to_blender_vectors(v: np.ndarray, scale: float = CENTIMETRES_TO_METRES) -> np.ndarray:
    v = _float(v)
    out = np.empty(v.shape, dtype=v.dtype, order="F")  # (x, y, z) -> (x, -z, y), i.e. AXIS_MAP @ v
    out[..., 0], out[..., 1], out[..., 2] = v[..., 0] * scale, v[..., 2] * -scale, v[..., 1] * scale
    return out


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
    return pose_basis_from_world_quats(matrix_to_quat(world_rot), world_pos, bone_joint, bone_parent,
                                       bone_rest_rot, bone_rest_head, scale)


AXIS_QUAT = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])  # AXIS_MAP as a quaternion (+90 degrees about X)


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    q = np.asarray(q)
    return q * np.array([1.0, -1.0, -1.0, -1.0], dtype=q.dtype if q.dtype == np.float32 else np.float64)


def _apply_transposed(matrices: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R_b^T v for per-bone matrices (B, 3, 3) and vectors (F, B, 3), written out because
    numpy's batched 3x3 products are slow for so many tiny matrices."""
    out = np.empty(np.broadcast_shapes(v.shape, matrices.shape[:-1]), dtype=v.dtype, order="F")
    for j in range(3):
        out[..., j] = v[..., 0] * matrices[:, 0, j] + v[..., 1] * matrices[:, 1, j] + v[..., 2] * matrices[:, 2, j]
    return out


def pose_basis_from_world_quats(world_q: np.ndarray, world_pos: np.ndarray, bone_joint, bone_parent,
                                bone_rest_rot: np.ndarray, bone_rest_head: np.ndarray,
                                scale: float = CENTIMETRES_TO_METRES) -> tuple[np.ndarray, np.ndarray]:
    """``pose_basis_from_world`` with world rotations as quaternions (F, J, 4), vectorised
    over bones: basis = Q^-1 D_parent^-1 D Q as quaternion products."""
    num_frames = world_q.shape[0]
    num_bones = len(bone_joint)
    bone_joint = np.asarray(bone_joint, dtype=np.int64)
    bone_parent = np.asarray(bone_parent, dtype=np.int64)
    # Slot 0 = identity; slot j + 1 = joint j's world rotation conjugated by the axis map,
    # which turns the vector part (x, y, z) into (x, -z, y).
    world_q = _float(world_q)
    dtype = world_q.dtype
    world_bl = np.empty((num_frames, world_q.shape[1] + 1, 4), dtype=dtype, order="F")
    world_bl[:, 0] = (1.0, 0.0, 0.0, 0.0)
    world_bl[:, 1:, 0], world_bl[:, 1:, 1] = world_q[..., 0], world_q[..., 1]
    world_bl[:, 1:, 2], world_bl[:, 1:, 3] = -world_q[..., 3], world_q[..., 2]
    world_pos_bl = to_blender_vectors(world_pos, scale)
    # Slot in world_bl giving each bone's D: its joint's, or (no joint) its parent's.
    source = np.empty(num_bones, dtype=np.int64)
    for b in range(num_bones):
        pb = bone_parent[b]
        source[b] = bone_joint[b] + 1 if bone_joint[b] >= 0 else (source[pb] if pb >= 0 else 0)
    parent_source = np.where(bone_parent >= 0, source[np.maximum(bone_parent, 0)], 0)
    delta = world_bl[:, source]
    parent_inverse = quat_conjugate(world_bl[:, parent_source])

    bone_rest_head = np.asarray(bone_rest_head, dtype=dtype)
    head = np.empty((num_frames, num_bones, 3), dtype=dtype, order="F")
    mapped = bone_joint >= 0
    head[:, mapped] = world_pos_bl[:, bone_joint[mapped]]
    for b in np.flatnonzero(~mapped):  # parents first, so a parent's head is already known
        pb = bone_parent[b]
        if pb < 0:
            head[:, b] = bone_rest_head[b]
        else:
            head[:, b] = head[:, pb] + quat_rotate(delta[:, b], bone_rest_head[b] - bone_rest_head[pb])

    # Q^-1 X Q for a unit quaternion X keeps its w and turns its vector part by Q^T.
    rest_rot = np.asarray(bone_rest_rot, dtype=dtype)
    basis_q = quat_multiply(parent_inverse, delta)
    basis_q[..., 1:] = _apply_transposed(rest_rot, basis_q[..., 1:])
    has_parent = bone_parent >= 0
    parent_head = np.where(has_parent[None, :, None], head[:, np.maximum(bone_parent, 0)], 0.0)
    parent_rest_head = np.where(has_parent[:, None], bone_rest_head[np.maximum(bone_parent, 0)], 0.0)
    rel_head = quat_rotate(parent_inverse, head - parent_head) + parent_rest_head - bone_rest_head
    basis_loc = _apply_transposed(rest_rot, rel_head)
    unmapped = bone_joint < 0
    basis_q[:, unmapped] = np.array([1.0, 0.0, 0.0, 0.0])
    basis_loc[:, unmapped] = 0.0
    basis_q *= np.where(basis_q[..., :1] < 0, -1.0, 1.0)
    return make_continuous(basis_q), basis_loc




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
