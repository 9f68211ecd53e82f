"""Keep My Keys on a generated Rigify rig: the animator's rotation keys on its controls as
model-joint poses (``generate --constraints``).

At every frame where a control that moves a mapped deforming bone has a key of the
animator's, the action's pose of all the controls is run through the rig
(``core.motion.control_rig.control_poses``) to the deforming bones' world rotations Δ_b.
A joint j on bone b then has the world delta D_j = Δ_b G_b (the inverse of
``retarget.world_deltas``, with the rest alignments G of the take, or of the model's rest
pose when there is no take), its world rotation follows through the rig's axes, and its
local rotation is taken relative to its parent joint's (joints with no bone get the take's
local rotation, or none).
"""

from __future__ import annotations

import numpy as np

from ..core.motion import control_rig
from ..core.motion.retarget import bone_joints_from_pairs, retarget_transfer
from ..core.motion.rotations import matrix_to_quat, quat_normalize, quat_to_matrix
from . import bone_presets, rigify
from .armature import skeleton_hierarchy
from .takes import bone_fcurves, differs_from_take, fcurve_keys, rotation_at

TOLERANCE_DEG = 0.5  # as hand_keys.HAND_KEY_TOLERANCE_DEG


def rest_motion(skeleton: dict) -> dict:
    """One frame of the model's rest pose, for rest alignments without a take."""
    names, parents = skeleton_hierarchy(skeleton)
    offsets = np.asarray(skeleton["offsets"], dtype=np.float64)
    root = int(np.asarray(skeleton.get("root_joint", 0)).reshape(-1)[0])
    rotations = np.zeros((1, len(names), 4))
    rotations[..., 0] = 1.0
    return {"rotations": rotations, "root_translation": offsets[root][None], "joint_names": np.array(names),
            "parents": np.array(parents), "offsets": offsets, "root_joint": root, "fps": 30.0}


def _animators_frames(arm_obj, curves, controls, reference, frame_start, frame_limit) -> dict:
    """{scene frame: set of controls} where a control has a key of the animator's (any key,
    or with ``reference`` one that differs from the take)."""
    found = {}
    names = reference[0] if reference is not None else []
    for control in controls:
        bone_curves = curves.get(control, {})
        frames = {float(f) for prop in ("rotation_quaternion", "rotation_euler")
                  for fc in bone_curves.get(prop, {}).values() for f in fcurve_keys(fc)[:, 0]}
        for frame in sorted(frames):
            if frame_limit is not None and not frame_limit[0] <= frame < frame_limit[1]:
                continue
            q = rotation_at(bone_curves, frame, arm_obj.pose.bones[control])
            if reference is not None and not differs_from_take(
                    q, reference, names.index(control) if control in names else None,
                    int(round(frame - frame_start)), TOLERANCE_DEG):
                continue
            found.setdefault(frame, set()).add(control)
    return found


def _control_basis(arm_obj, curves, names, frames, reference, frame_start) -> dict:
    """{control: (K, 4, 4)} rotation basis of every keyed control at ``frames``: the
    action's curves, else the take's channels, else the rest."""
    basis = {}
    ref_index = {n: b for b, n in enumerate(reference[0])} if reference is not None else {}
    for name in names:
        quats = []
        for frame in frames:
            k = int(round(frame - frame_start))
            if curves.get(name):
                quats.append(rotation_at(curves[name], frame, arm_obj.pose.bones[name]))
            elif name in ref_index and 0 <= k < reference[5]:
                quats.append(reference[1][k, ref_index[name]])
            else:
                quats.append([1.0, 0.0, 0.0, 0.0])
        basis[name] = control_rig.basis_matrices(quat_normalize(np.array(quats, dtype=np.float64)))
    return basis


def _deforming_deltas(arm_obj, body, basis: dict, count: int) -> np.ndarray:
    """(K, B, 3, 3) world rotation of every deforming bone of ``body`` relative to its rest."""
    graph = rigify.read_graph(arm_obj, list(basis))
    controls = [graph.index(c) for c in body.controls]
    poses = control_rig.control_poses(graph, {graph.index(n): m for n, m in basis.items()}, controls, count)
    return np.stack([poses[c][:, :3, :3] @ graph.rest[c, :3, :3].T for c in controls], axis=1)


def _joint_worlds(deltas, bone_joint, transfer, skeleton, take_locals) -> np.ndarray:
    """(K, J, 3, 3) model-space world rotations: from the rig where a joint has a bone,
    else the parent's times the take's local rotation (``take_locals`` (K, J, 3, 3))."""
    m = transfer.model_to_rig
    _, parents = skeleton_hierarchy(skeleton)
    from_rig = {j: b for b, j in enumerate(bone_joint) if j >= 0}
    worlds = np.empty(take_locals.shape)
    for j, p in enumerate(parents):  # parents come first
        if j in from_rig:
            b = from_rig[j]
            worlds[:, j] = m.T @ deltas[:, b] @ transfer.align[b] @ m
        else:
            worlds[:, j] = take_locals[:, j] if p < 0 else worlds[:, p] @ take_locals[:, j]
    return worlds


def hand_key_constraints(arm_obj, action, skeleton: dict, pairs, *, frame_start: float, scene_fps: float,
                         model_fps: float, frame_limit=None, reference=None, take=None, max_frames=None):
    """{frames, joints, rotations, scene_frames, bones} (model frames, local rotations, the
    keys' scene frames and controls) for the animator's keys on the controls of ``action``, or None when there are none; ``reference``: channels of the
    ``take`` (its motion), when the action was generated from it."""
    body = rigify.rig_body(arm_obj, pairs)
    joint_names, parents = skeleton_hierarchy(skeleton)
    bone_joint = bone_joints_from_pairs(joint_names, body.rest.names, body.deforming_pairs(pairs))
    joint_of = {c: bone_joint[b] for b, c in enumerate(body.controls) if bone_joint[b] >= 0}
    curves = {}
    for (name, prop), by_index in bone_fcurves(action).items():
        curves.setdefault(name, {})[prop] = by_index
    keyed = _animators_frames(arm_obj, curves, joint_of, reference, frame_start, frame_limit)
    model_frames = {f: int(round((f - frame_start) * model_fps / scene_fps)) for f in keyed}
    frames = [f for f in sorted(keyed) if model_frames[f] >= 0]
    if not frames:
        return None
    basis = _control_basis(arm_obj, curves, rigify.keyed_controls(arm_obj, body), frames, reference, frame_start)
    deltas = _deforming_deltas(arm_obj, body, basis, len(frames))
    motion = take if take is not None else rest_motion(skeleton)
    transfer = retarget_transfer(motion, body.rest, bone_joint, bone_presets.slot_indices(joint_names, parents),
                                 scene_fps=scene_fps, max_frames=max_frames)
    rows = np.clip([model_frames[f] for f in frames], 0, len(motion["rotations"]) - 1)
    take_locals = quat_to_matrix(np.asarray(motion["rotations"], dtype=np.float64)[rows])
    worlds = _joint_worlds(deltas, bone_joint, transfer, skeleton, take_locals)
    out_frames, joints, rotations, scene_frames, controls = [], [], [], [], []
    for k, frame in enumerate(frames):
        for control in sorted(keyed[frame]):
            j = joint_of[control]
            local = worlds[k, j] if parents[j] < 0 else worlds[k, parents[j]].T @ worlds[k, j]
            out_frames.append(model_frames[frame])
            joints.append(j)
            rotations.append(matrix_to_quat(local))
            scene_frames.append(frame)
            controls.append(control)
    return {"frames": np.array(out_frames, dtype=np.int64), "joints": np.array(joints, dtype=np.int64),
            "rotations": np.array(rotations, dtype=np.float64), "scene_frames": np.array(scene_frames),
            "bones": controls}
