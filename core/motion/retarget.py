"""Pose-bone channels for an armature from model motion: pure numpy over rest poses and
motion-file arrays (``motion_file.read_motion_arrays``), usable inside Blender. The add-on
reads the rig (bone names, parents, rest matrices) into a ``RigRest``, calls these and
writes the keys.

Coordinate convention (the same as Blender's own BVH importer, plus a unit scale): model
space is Y-up in centimetres; Blender armature space is Z-up in metres, and a model vector
(x, y, z) becomes (x, -z, y) * 0.01. ``AXIS_MAP`` is that proper rotation (+90 degrees
about X), so rotations conjugate as ``AXIS_MAP @ R @ AXIS_MAP.T``.

Two paths:
- ``pose_channels``: the model's own (matching) armature, whose bones have the joints' rest
  pose: every bone is put on its joint's world transform.
- ``retarget_channels``: any humanoid rig with its own rest pose, through a map of bones to
  joints. Per mapped bone b driven by joint j, all in the target's armature space:
  D_j(f), the joint's world rotation relative to its rest (BVH rest = identity), carried
  from the model's axes (left +X, up +Y) onto the rig's left/up directions, so Y-up FBX
  rigs, Z-up rigs and rigs facing either way all work; G_b, the rest alignment taking the
  source rest bone (offset to the child towards the next mapped joint) onto the target
  rest bone (head to the next mapped bone's head, else head to tail). Its twist keeps the
  body's left-right axis for torso and leg bones (measured in the joint's own frame over
  the motion, because a BVH rest such as Bandai's, with every bone collapsed along X, says
  nothing about it) and is the smallest rotation for arm bones (so T-pose/A-pose
  differences add no twist). The target bone's world rotation is D_j(f) G_b^-1 Q_b, so it
  points where the source bone points in every frame, whatever either rest pose and the
  bone rolls are. Unmapped target bones keep their rest; source joints without a bone still
  turn their mapped descendants. Root translation scales with the ratio of leg lengths.

Channels are ``(bone names, basis quaternions (N, B, 4), basis locations (N, B, 3), which
bones get rotation keys, which get location keys, number of frames N)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinematics import forward_kinematics_matrices, forward_kinematics_quats, rest_positions, root_motion_translations
from .resample import frames_within, resample_motion_arrays
from .rotations import (_float, make_continuous, matrix_to_quat, quat_conjugate, quat_multiply, quat_normalize,
                        quat_rotate, quat_to_matrix)

AXIS_MAP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
AXIS_QUAT = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0])  # AXIS_MAP as a quaternion (+90 degrees about X)
CENTIMETRES_TO_METRES = 0.01

# Body slots (bone_presets.SLOTS) whose rest vectors give the character's left and up axes.
LOWER_LEFT = [("thigh.L", "thigh.R"), ("shin.L", "shin.R"), ("foot.L", "foot.R")]
UPPER_LEFT = [("upper_arm.L", "upper_arm.R"), ("shoulder.L", "shoulder.R"), ("forearm.L", "forearm.R")]
UP = [("neck", "hips"), ("head", "hips"), ("chest", "hips"), ("head", "spine")]


def rest_rotations(matrices) -> np.ndarray:
    """The rotation part (B, 3, 3) of rest matrices (B, 4, 4) with any scale normalised out."""
    rotations = np.asarray(matrices, dtype=np.float64).reshape(-1, 4, 4)[:, :3, :3]
    return rotations / np.linalg.norm(rotations, axis=1, keepdims=True)


@dataclass
class RigRest:
    """An armature's bones in parents-first order: names, parent indices (-1: none) and the
    rest pose in armature space (Bone.matrix_local as rotation and head, Bone.tail_local)."""

    names: list
    parents: list
    rest_rot: np.ndarray  # (B, 3, 3)
    rest_head: np.ndarray  # (B, 3)
    rest_tail: np.ndarray  # (B, 3)

    @classmethod
    def from_matrices(cls, names, parents, matrices, tails) -> "RigRest":
        matrices = np.asarray(matrices, dtype=np.float64).reshape(-1, 4, 4)
        return cls(list(names), [int(p) for p in parents], rest_rotations(matrices), matrices[:, :3, 3],
                   np.asarray(tails, dtype=np.float64).reshape(-1, 3))

    def children(self) -> list[list[int]]:
        children = [[] for _ in self.names]
        for b, pb in enumerate(self.parents):
            if pb >= 0:
                children[pb].append(b)
        return children


@dataclass
class _SourceRest:
    """The motion's skeleton: parents, rest offsets and world rest positions (model space)."""

    parents: np.ndarray
    offsets: np.ndarray
    root_joint: int
    rest: np.ndarray

    @classmethod
    def of(cls, motion: dict) -> "_SourceRest":
        parents = np.asarray(motion["parents"], dtype=np.int64).reshape(-1)
        offsets = np.asarray(motion["offsets"], dtype=np.float64)
        return cls(parents, offsets, int(motion["root_joint"]), rest_positions(parents, offsets))


def to_blender_vectors(v: np.ndarray, scale: float = CENTIMETRES_TO_METRES) -> np.ndarray:
    """Model vectors (..., 3) in Blender armature axes and units: (x, -z, y) * scale."""
    v = _float(v)
    out = np.empty(v.shape, dtype=v.dtype, order="F")
    out[..., 0], out[..., 1], out[..., 2] = v[..., 0] * scale, v[..., 2] * -scale, v[..., 1] * scale
    return out


def bone_joints_by_name(joint_names, bone_names, bone_map=None) -> list[int]:
    """The joint each bone follows (-1: none): bones named like joints, or renamed by
    ``bone_map`` {joint name: bone name}."""
    bone_map = dict(bone_map or {})
    joint_for_bone = {bone_map.get(name, name): j for j, name in enumerate(joint_names)}
    return [joint_for_bone.get(name, -1) for name in bone_names]


def bone_joints_from_pairs(joint_names, bone_names, pairs) -> list[int]:
    """The joint each bone follows (-1: none) through (source joint, target bone) pairs."""
    joint_index = {name: j for j, name in enumerate(joint_names)}
    index_of = {name: b for b, name in enumerate(bone_names)}
    bone_joint = [-1] * len(index_of)
    for source, target in pairs:
        if source in joint_index and target in index_of:
            bone_joint[index_of[target]] = joint_index[source]
    return bone_joint


def _unit(v: np.ndarray) -> np.ndarray | None:
    v = np.asarray(v, dtype=np.float64)
    length = np.linalg.norm(v)
    return v / length if length > 1e-9 else None


def rest_matches(offsets: np.ndarray, parents, joint_heads: np.ndarray, tolerance_deg: float) -> bool:
    """True when every joint's bone head (armature space, ``joint_heads`` (J, 3)) lies from
    its parent's along the joint's model offset, within ``tolerance_deg``."""
    offsets = np.asarray(offsets, dtype=np.float64)
    cos_tolerance = np.cos(np.radians(tolerance_deg))
    for j, p in enumerate(parents):
        if p < 0:
            continue
        expected = _unit(AXIS_MAP @ offsets[j])
        actual = _unit(joint_heads[j] - joint_heads[p])
        if expected is None and actual is None:
            continue
        if expected is None or actual is None or np.dot(expected, actual) < cos_tolerance:
            return False
    return True


# --- the model's own armature ------------------------------------------------------------

def matching_unit_scale(bone_joint, bone_parent, bone_heads, joint_parents, joint_offsets) -> float:
    """Model units -> armature metres, measured from bones whose parent follows the joint's
    parent; falls back to centimetres -> metres."""
    ratios = []
    for b, j in enumerate(bone_joint):
        pb = bone_parent[b]
        if j < 0 or pb < 0 or bone_joint[pb] != joint_parents[j]:
            continue
        model_length = np.linalg.norm(joint_offsets[j])
        if model_length > 1e-6:
            ratios.append(np.linalg.norm(bone_heads[b] - bone_heads[pb]) / model_length)
    if not ratios:
        return CENTIMETRES_TO_METRES
    return float(np.median(ratios))


def pose_channels(motion: dict, rig: RigRest, bone_joint, *, scene_fps: float, max_frames=None):
    """Channels putting every mapped bone of the model's own armature on its joint's world
    transform, resampled to whole scene frames (at most ``max_frames``)."""
    source = _SourceRest.of(motion)
    scale = matching_unit_scale(bone_joint, rig.parents, rig.rest_head, source.parents, source.offsets)
    positions = frames_within(len(motion["rotations"]), float(motion["fps"]), scene_fps, max_frames)
    # float32 throughout: Blender keys are float32, and it halves the memory traffic.
    rotations, root_translation = resample_motion_arrays(  # it normalises
        np.asarray(motion["rotations"], dtype=np.float32),
        np.asarray(motion["root_translation"], dtype=np.float64), positions)
    translations = root_motion_translations(source.offsets, source.root_joint, root_translation, rotations.dtype)
    world_pos, world_q = forward_kinematics_quats(rotations, translations, source.parents)
    basis_q, basis_loc = pose_basis_from_world_quats(
        world_q, world_pos, bone_joint, rig.parents, rig.rest_rot, rig.rest_head, scale)
    keyed_location = [j >= 0 and (j == source.root_joint or rig.parents[b] < 0) for b, j in enumerate(bone_joint)]
    keyed = [j >= 0 for j in bone_joint]
    return rig.names, basis_q, basis_loc, keyed, keyed_location, len(positions)


def _apply_transposed(matrices: np.ndarray, v: np.ndarray) -> np.ndarray:
    """R_b^T v for per-bone matrices (B, 3, 3) and vectors (F, B, 3), written out because
    numpy's batched 3x3 products are slow for so many tiny matrices."""
    out = np.empty(np.broadcast_shapes(v.shape, matrices.shape[:-1]), dtype=v.dtype, order="F")
    for j in range(3):
        out[..., j] = v[..., 0] * matrices[:, 0, j] + v[..., 1] * matrices[:, 1, j] + v[..., 2] * matrices[:, 2, j]
    return out


def _blender_world_rotations(world_q: np.ndarray) -> np.ndarray:
    """(F, J + 1, 4): slot 0 = identity, slot j + 1 = joint j's world rotation conjugated
    by the axis map, which turns the vector part (x, y, z) into (x, -z, y)."""
    num_frames = world_q.shape[0]
    world_bl = np.empty((num_frames, world_q.shape[1] + 1, 4), dtype=world_q.dtype, order="F")
    world_bl[:, 0] = (1.0, 0.0, 0.0, 0.0)
    world_bl[:, 1:, 0], world_bl[:, 1:, 1] = world_q[..., 0], world_q[..., 1]
    world_bl[:, 1:, 2], world_bl[:, 1:, 3] = -world_q[..., 3], world_q[..., 2]
    return world_bl


def _rotation_sources(bone_joint: np.ndarray, bone_parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slots of ``_blender_world_rotations`` giving each bone's D (its joint's, or with no
    joint its parent's) and its parent's D."""
    source = np.empty(len(bone_joint), dtype=np.int64)
    for b in range(len(bone_joint)):
        pb = bone_parent[b]
        source[b] = bone_joint[b] + 1 if bone_joint[b] >= 0 else (source[pb] if pb >= 0 else 0)
    return source, np.where(bone_parent >= 0, source[np.maximum(bone_parent, 0)], 0)


def _posed_heads(world_pos_bl, delta, bone_joint, bone_parent, bone_rest_head) -> np.ndarray:
    """(F, B, 3) posed bone heads: a mapped bone's at its joint, any other carried by its
    parent (bones are parents first, so a parent's head is already known)."""
    num_frames, num_bones = world_pos_bl.shape[0], len(bone_joint)
    head = np.empty((num_frames, num_bones, 3), dtype=world_pos_bl.dtype, order="F")
    mapped = bone_joint >= 0
    head[:, mapped] = world_pos_bl[:, bone_joint[mapped]]
    for b in np.flatnonzero(~mapped):
        pb = bone_parent[b]
        if pb < 0:
            head[:, b] = bone_rest_head[b]
        else:
            head[:, b] = head[:, pb] + quat_rotate(delta[:, b], bone_rest_head[b] - bone_rest_head[pb])
    return head


def pose_basis_from_world_quats(world_q: np.ndarray, world_pos: np.ndarray, bone_joint, bone_parent,
                                bone_rest_rot: np.ndarray, bone_rest_head: np.ndarray,
                                scale: float = CENTIMETRES_TO_METRES) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone basis rotations (F, B, 4) and locations (F, B, 3) that put every bone on
    its joint's world transform (world rotations as quaternions (F, J, 4)).

    Bones are in parents-first order; bone b follows joint ``bone_joint[b]`` (-1: none, it
    keeps its rest basis) and has parent bone ``bone_parent[b]``. A bone's rest rotation
    Q_b and head h_b are in armature space (Bone.matrix_local). Model joints have identity
    rest orientation (BVH), so a posed bone must be rotated by D = A R A^T from its rest,
    where R is the joint's model world rotation and A the axis map; its posed head is
    A p * scale. Blender evaluates pose = pose_parent @ rest_parent^-1 @ rest @ basis,
    which solves to basis_rot = Q_b^T D_parent^T D_b Q_b and
    basis_loc = Q_b^T (D_parent^T (head_b - head_parent) + h_parent - h_b), here as
    quaternion products vectorised over bones.
    """
    bone_joint = np.asarray(bone_joint, dtype=np.int64)
    bone_parent = np.asarray(bone_parent, dtype=np.int64)
    world_q = _float(world_q)
    dtype = world_q.dtype
    world_bl = _blender_world_rotations(world_q)
    source, parent_source = _rotation_sources(bone_joint, bone_parent)
    delta = world_bl[:, source]
    parent_inverse = quat_conjugate(world_bl[:, parent_source])
    bone_rest_head = np.asarray(bone_rest_head, dtype=dtype)
    head = _posed_heads(to_blender_vectors(world_pos, scale), delta, bone_joint, bone_parent, bone_rest_head)

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


def basis_to_local(basis_q: np.ndarray, rest_q: np.ndarray) -> np.ndarray:
    """Joint local rotations (model space) from pose-bone basis rotations of the matching
    armature: basis = Q^-1 A L A^-1 Q (see ``pose_basis_from_world_quats``), so
    L = A^-1 Q basis Q^-1 A."""
    q = quat_multiply(quat_multiply(rest_q, basis_q), quat_conjugate(rest_q))
    return quat_normalize(quat_multiply(quat_multiply(quat_conjugate(AXIS_QUAT), q), AXIS_QUAT))


# --- rest-pose alignment -----------------------------------------------------------------

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


def world_deltas(source_delta: np.ndarray, bone_joint, bone_parent, bone_align: np.ndarray) -> np.ndarray:
    """Each bone's world rotation relative to its rest (F, B, 3, 3): mapped bone b (joint j)
    gets D_j @ G_b^T, where G_b = ``bone_align[b]`` turns the source rest bone onto the
    target rest bone, so its rest direction t_b lands on D_j s_j (where the source bone
    points); an unmapped bone keeps its rest relative to its parent (its parent's delta).
    ``source_delta`` (F, J, 3, 3): each source joint's world rotation relative to its rest,
    in the target's armature space."""
    num_frames = source_delta.shape[0]
    delta = np.empty((num_frames, len(bone_joint), 3, 3))
    for b, j in enumerate(bone_joint):
        pb = bone_parent[b]
        if j >= 0:
            delta[:, b] = source_delta[:, j] @ bone_align[b].T
        else:
            delta[:, b] = np.eye(3) if pb < 0 else delta[:, pb]
    return delta


def basis_from_deltas(delta: np.ndarray, keyed, bone_parent, bone_rest_rot: np.ndarray,
                      root_heads: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone basis rotations (F, B, 4) and locations (F, B, 3) giving each keyed bone
    the world delta Δ (``world_deltas``): Q^T Δ_parent^T Δ Q (see
    ``pose_basis_from_world_quats``); bones not keyed keep their rest basis. ``root_heads``
    maps bones that move freely (no mapped ancestor) to their posed heads minus rest heads
    (F, 3), armature space; their parents never move."""
    num_frames, num_bones = delta.shape[:2]
    basis_rot = np.broadcast_to(np.eye(3), (num_frames, num_bones, 3, 3)).copy()
    basis_loc = np.zeros((num_frames, num_bones, 3))
    for b in range(num_bones):
        if not keyed[b]:
            continue
        pb, q_rest = bone_parent[b], bone_rest_rot[b]
        parent_delta = np.eye(3) if pb < 0 else delta[:, pb]
        basis_rot[:, b] = q_rest.T @ np.swapaxes(parent_delta, -1, -2) @ delta[:, b] @ q_rest
        if b in root_heads:
            basis_loc[:, b] = np.asarray(root_heads[b]) @ q_rest
    return make_continuous(matrix_to_quat(basis_rot)), basis_loc


def retarget_pose_basis(source_delta: np.ndarray, bone_joint, bone_parent, bone_align: np.ndarray,
                        bone_rest_rot: np.ndarray, root_heads: dict) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone basis rotations (F, B, 4) and locations (F, B, 3) for a rig whose rest pose
    differs from the source's: ``world_deltas`` keyed by ``basis_from_deltas``."""
    delta = world_deltas(source_delta, bone_joint, bone_parent, bone_align)
    return basis_from_deltas(delta, [j >= 0 for j in bone_joint], bone_parent, bone_rest_rot, root_heads)


# --- retargeting: the rig's axes, the chains, the twist references ----------------------

def _mapped_descendants(b, children, bone_joint) -> list[int]:
    found, stack = [], list(children[b])
    while stack:
        c = stack.pop()
        if bone_joint[c] >= 0:
            found.append(c)
        else:
            stack.extend(children[c])
    return found


def _chain_child(candidates, heads, head, tail) -> int:
    """The mapped descendant lying most nearly along the bone (hips: the spine, not a thigh)."""
    axis = _unit(tail - head)

    def alignment(k):
        towards = _unit(heads[k] - head)
        return -2.0 if towards is None or axis is None else float(np.dot(towards, axis))
    return max(candidates, key=alignment)


def _child_towards(j, descendant, parents) -> int | None:
    k = descendant
    while k >= 0 and parents[k] != j:
        k = parents[k]
    return k if k >= 0 else None


def _joint_subtree(roots, parents) -> set:
    inside = set(roots)
    for j, p in enumerate(parents):
        if p in inside:
            inside.add(j)
    return inside


def _rig_axes(rig: RigRest, bone_of_joint: dict, slot_joint: dict):
    """(model-to-rig rotation, {lower: the rig's left vector from the legs (True) or from
    the arms (False)}); the axis map when the rig's left and up are not found."""
    def vector(slot_a, slot_b):
        a, b = bone_of_joint.get(slot_joint.get(slot_a)), bone_of_joint.get(slot_joint.get(slot_b))
        return None if a is None or b is None else rig.rest_head[a] - rig.rest_head[b]

    def first_vector(candidates):
        return next((v for v in (vector(a, b) for a, b in candidates) if v is not None), None)

    left = {True: first_vector(LOWER_LEFT), False: first_vector(UPPER_LEFT)}
    frame = character_frame(left[False] if left[False] is not None else left[True], first_vector(UP))
    return (frame if frame is not None else AXIS_MAP), left


def _source_left(world_pos_rig: np.ndarray, slot_joint: dict, candidates):
    for a, b in candidates:
        if a in slot_joint and b in slot_joint:
            return world_pos_rig[:, slot_joint[a]] - world_pos_rig[:, slot_joint[b]]
    return None


def _limb_joints(slot_joint: dict, parents) -> tuple[set, set]:
    """Joints of the legs and hips, and of the arms: arms swing far from the body's axes,
    so their twist comes from the smallest rotation."""
    lower = _joint_subtree([slot_joint[s] for s in ("thigh.L", "thigh.R") if s in slot_joint], parents)
    lower |= {slot_joint["hips"]} if "hips" in slot_joint else set()
    arms = _joint_subtree([slot_joint[f"{s}.{side}"] for s in ("shoulder", "upper_arm") for side in "LR"
                           if f"{s}.{side}" in slot_joint], parents)
    return lower, arms


def _rest_directions(b: int, j: int, rig: RigRest, children, bone_joint, source: _SourceRest):
    """(target rest direction of bone b, source rest vector of joint j): towards the next
    mapped bone and joint along the chain, else the bone's own axis and the joint's mean
    child offset."""
    descendants = _mapped_descendants(b, children, bone_joint)
    target_dir = source_vec = None
    if descendants:
        c = _chain_child(descendants, rig.rest_head, rig.rest_head[b], rig.rest_tail[b])
        target_dir = rig.rest_head[c] - rig.rest_head[b]
        child = _child_towards(j, bone_joint[c], source.parents)
        if child is not None:
            source_vec = source.offsets[child] if np.linalg.norm(source.offsets[child]) > 1e-6 else \
                source.rest[bone_joint[c]] - source.rest[j]
    if target_dir is None or np.linalg.norm(target_dir) < 1e-9:
        target_dir = rig.rest_tail[b] - rig.rest_head[b]
    if source_vec is None or np.linalg.norm(source_vec) < 1e-9:
        kids = np.flatnonzero(source.parents == j)
        mean_child = source.offsets[kids].mean(axis=0) if len(kids) else np.zeros(3)
        source_vec = mean_child if np.linalg.norm(mean_child) > 1e-6 else (
            source.offsets[j] if source.parents[j] >= 0 else np.array([0.0, 1.0, 0.0]))
    return target_dir, source_vec


def _twist_reference(j: int, source_delta: np.ndarray, sides: dict, lower: bool, arm: bool):
    """(the body's left axis seen from joint j's rest frame, averaged over the motion, and
    the rig's left vector), from the legs for lower-body joints, else from the arms; None
    for the first when there is none or for arm joints."""
    src_left, tgt_left = sides[lower]
    if src_left is None or tgt_left is None:
        src_left, tgt_left = sides[not lower]
    if src_left is None or tgt_left is None or arm:
        return None, tgt_left
    unit_left = src_left / np.maximum(np.linalg.norm(src_left, axis=1, keepdims=True), 1e-12)
    return np.einsum("fji,fj->i", source_delta[:, j], unit_left) / len(unit_left), tgt_left


def _bone_alignments(rig: RigRest, bone_joint, slot_joint: dict, source: _SourceRest, source_delta: np.ndarray,
                     world_pos_rig: np.ndarray, model_to_rig: np.ndarray, target_left: dict) -> np.ndarray:
    """The rest alignment G_b (B, 3, 3) of every bone (identity for unmapped ones)."""
    children = rig.children()
    sides = {lower: (_source_left(world_pos_rig, slot_joint, LOWER_LEFT if lower else UPPER_LEFT),
                     target_left[lower]) for lower in (True, False)}
    lower_joints, arm_joints = _limb_joints(slot_joint, source.parents)
    align = np.repeat(np.eye(3)[None], len(bone_joint), axis=0)
    for b, j in enumerate(bone_joint):
        if j < 0:
            continue
        target_dir, source_vec = _rest_directions(b, j, rig, children, bone_joint, source)
        source_side, target_side = _twist_reference(j, source_delta, sides, j in lower_joints, j in arm_joints)
        align[b] = rest_alignment(model_to_rig @ source_vec, target_dir, source_side, target_side)
    return align


def translation_scale(slot_joint, bone_of_joint, rest_head, rest_source, bone_joint, children) -> float:
    """Target units per source unit: the ratio of leg lengths (thigh + shin), i.e. of hip
    heights; else the median ratio of mapped segment lengths; else cm -> m."""
    ratios = []
    for side in "LR":
        joints = [slot_joint.get(f"{s}.{side}") for s in ("thigh", "shin", "foot")]
        bones = [bone_of_joint.get(j) for j in joints]
        if None in joints or None in bones:
            continue
        source = sum(np.linalg.norm(rest_source[joints[k + 1]] - rest_source[joints[k]]) for k in range(2))
        target = sum(np.linalg.norm(rest_head[bones[k + 1]] - rest_head[bones[k]]) for k in range(2))
        if source > 1e-9 and target > 1e-9:
            ratios.append(target / source)
    if not ratios:
        for b, j in enumerate(bone_joint):
            for c in (_mapped_descendants(b, children, bone_joint) if j >= 0 else []):
                source = np.linalg.norm(rest_source[bone_joint[c]] - rest_source[j])
                if source > 1e-6:
                    ratios.append(np.linalg.norm(rest_head[c] - rest_head[b]) / source)
    return float(np.median(ratios)) if ratios else CENTIMETRES_TO_METRES


def _root_heads(bone_joint, bone_parent, scale: float, world_pos_rig: np.ndarray, rest_rig: np.ndarray) -> dict:
    """{bone: posed minus rest head (F, 3)} for the mapped bones with no mapped ancestor."""
    heads = {}
    for b, j in enumerate(bone_joint):
        if j < 0:
            continue
        ancestor = bone_parent[b]
        while ancestor >= 0 and bone_joint[ancestor] < 0:
            ancestor = bone_parent[ancestor]
        if ancestor < 0:
            heads[b] = scale * (world_pos_rig[:, j] - rest_rig[j])
    return heads


@dataclass
class Transfer:
    """The motion put on a rig: per frame each bone's world rotation relative to its rest
    (``delta`` (F, B, 3, 3), armature space, ``world_deltas``), the freely moving bones'
    posed minus rest heads (``root_heads``), the rest alignments G_b (B, 3, 3), the rotation
    from model axes onto the rig's, and the number of frames."""

    delta: np.ndarray
    root_heads: dict
    align: np.ndarray
    model_to_rig: np.ndarray
    count: int


def retarget_transfer(motion: dict, rig: RigRest, bone_joint, slot_joint: dict, *, scene_fps: float,
                      max_frames=None) -> Transfer:
    """The motion on a rig with its own rest pose, resampled to whole scene frames; bone b
    follows joint ``bone_joint[b]`` (-1: none), ``slot_joint`` names the motion's body
    slots (``bone_presets.detect_slots``: slot -> joint index)."""
    source = _SourceRest.of(motion)
    bone_of_joint = {}
    for b, j in enumerate(bone_joint):
        bone_of_joint.setdefault(j, b)
    model_to_rig, target_left = _rig_axes(rig, bone_of_joint, slot_joint)

    positions = frames_within(len(motion["rotations"]), float(motion["fps"]), scene_fps, max_frames)
    rotations, root_translation = resample_motion_arrays(
        quat_normalize(np.asarray(motion["rotations"], dtype=np.float64)),
        np.asarray(motion["root_translation"], dtype=np.float64), positions)
    world_pos, world_rot = forward_kinematics_matrices(
        rotations, root_motion_translations(source.offsets, source.root_joint, root_translation), source.parents)
    source_delta = model_to_rig @ world_rot @ model_to_rig.T
    world_pos_rig = world_pos @ model_to_rig.T

    align = _bone_alignments(rig, bone_joint, slot_joint, source, source_delta, world_pos_rig, model_to_rig,
                             target_left)
    scale = translation_scale(slot_joint, bone_of_joint, rig.rest_head, source.rest, bone_joint, rig.children())
    root_heads = _root_heads(bone_joint, rig.parents, scale, world_pos_rig, source.rest @ model_to_rig.T)
    delta = world_deltas(source_delta, bone_joint, rig.parents, align)
    return Transfer(delta, root_heads, align, model_to_rig, len(positions))


def retarget_channels(motion: dict, rig: RigRest, bone_joint, slot_joint: dict, *, scene_fps: float,
                      max_frames=None):
    """Channels putting the motion on a rig with its own rest pose (``retarget_transfer``)."""
    transfer = retarget_transfer(motion, rig, bone_joint, slot_joint, scene_fps=scene_fps, max_frames=max_frames)
    keyed = [j >= 0 for j in bone_joint]
    basis_q, basis_loc = basis_from_deltas(transfer.delta, keyed, rig.parents, rig.rest_rot, transfer.root_heads)
    keyed_location = [b in transfer.root_heads for b in range(len(bone_joint))]
    return rig.names, basis_q, basis_loc, keyed, keyed_location, transfer.count


# --- the upper body over other animation -------------------------------------------------

def twist_about(rotations: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The part (F, 3, 3) of rotation matrices (F, 3, 3) that turns about the unit ``axis``
    (swing-twist decomposition): the heading, when ``axis`` is up."""
    q = matrix_to_quat(np.asarray(rotations, dtype=np.float64))
    axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    twist = np.concatenate([q[..., :1], (q[..., 1:] @ axis)[..., None] * axis], axis=-1)
    norm = np.linalg.norm(twist, axis=-1, keepdims=True)
    twist = np.where(norm > 1e-9, twist / np.maximum(norm, 1e-9), np.array([1.0, 0.0, 0.0, 0.0]))
    return quat_to_matrix(twist)


def layered_spine_basis(spine_basis: np.ndarray, hips_basis: np.ndarray, hips_rest: np.ndarray,
                        spine_rest: np.ndarray, base_hips: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Basis rotations (F, 4) of the first spine bone (a child of the hips) that stand the
    generated upper body in the world as the whole take does, when the hips come from other
    animation (the Upper Body Layer).

    ``spine_basis`` and ``hips_basis`` (F, 4) are the take's bases (its hips' parents at rest,
    so the take's hips turn by M_g = Q_h B_h in armature space), ``hips_rest``/``spine_rest``
    the bones' rest rotations (3, 3), ``base_hips`` (F, 3, 3) the armature-space rotations the
    hips have under the layer, ``up`` the world's up in armature space. The spine is turned as
    D M_g would turn it, where D is the heading part of M_b M_g^-1 (the base keeps where the
    body faces, the take keeps its pitch and roll): basis = R^-1 M_b^-1 D M_g R B_s with
    R = Q_h^-1 Q_s. Without it the spine kept the rotations that, in the take, made up for
    the hips' own pitch, and the torso leant 12 degrees further than in the take."""
    hips_rest = np.asarray(hips_rest, dtype=np.float64)
    generated = hips_rest @ quat_to_matrix(quat_normalize(_float(hips_basis)))
    base = np.asarray(base_hips, dtype=np.float64)
    heading = twist_about(base @ np.swapaxes(generated, -1, -2), up)
    correction = np.swapaxes(base, -1, -2) @ heading @ generated
    relative = hips_rest.T @ np.asarray(spine_rest, dtype=np.float64)
    basis = relative.T @ correction @ relative @ quat_to_matrix(quat_normalize(_float(spine_basis)))
    return make_continuous(matrix_to_quat(basis))
