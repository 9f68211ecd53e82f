"""The animator's own keys as pose constraints (``generate --constraints``).

Rotation keys of bones that follow a model joint are converted back to the joint's local
rotation (``core.motion.retarget.basis_to_local``, the inverse of the matching armature's
``pose_basis_from_world_quats``). The model's own (matching) armature and generated
Rigify rigs (keys on the controls, ``rigify_keys``) are supported; on other retargeted rigs
hand keys are ignored and the report says so. On a generated action only keys that differ
from the generated pose count.
"""

from __future__ import annotations

import os

import numpy as np

from ..core.motion.motion_file import read_motion_arrays
from ..core.motion.retarget import basis_to_local, rest_rotations
from ..core.motion.rotations import matrix_to_quat, quat_normalize
from . import common, rigify, rigify_keys
from .retarget import motion_channels, resolve_map, skeleton_hierarchy
from .takes import bone_fcurves, differs_from_take, fcurve_keys, generated_info, rotation_at

HAND_KEY_TOLERANCE_DEG = 0.5  # a key on a generated action this far from the generated pose is the animator's


def _rest_quats(arm_obj, names) -> np.ndarray:
    return matrix_to_quat(rest_rotations([np.array(arm_obj.data.bones[n].matrix_local) for n in names]))


def _rotation_keys(arm_obj, action, joint_of: dict):
    """(bone name, pose bone, {property: {index: F-curve}}, sorted key frames) of the
    rotation channels (quaternion or Euler) of the action's bones named like model joints."""
    by_bone = {}
    for (name, prop), curves in bone_fcurves(action).items():
        if prop in ("rotation_quaternion", "rotation_euler") and name in joint_of and name in arm_obj.pose.bones:
            by_bone.setdefault(name, {})[prop] = curves
    for name, curves in by_bone.items():
        frames = sorted({float(f) for by_index in curves.values() for fc in by_index.values()
                         for f in fcurve_keys(fc)[:, 0]})
        yield name, arm_obj.pose.bones[name], curves, frames


def hand_key_constraints(arm_obj, action, skeleton: dict, *, frame_start: float, scene_fps: float,
                         model_fps: float, frame_limit: tuple[float, float] | None = None,
                         reference=None) -> dict | None:
    """{frames, joints, rotations} in model frames for the rotation keys of ``action`` on
    bones named like model joints, or None when there are none. With ``reference``
    (channels of the generated motion) only keys that differ from it count."""
    names, _ = skeleton_hierarchy(skeleton)
    joint_of = {n: j for j, n in enumerate(names)}
    ref_index = {n: b for b, n in enumerate(reference[0])} if reference is not None else {}
    frames, joints, basis = [], [], []
    for name, bone, curves, keyed in _rotation_keys(arm_obj, action, joint_of):
        for frame in keyed:
            if frame_limit is not None and not frame_limit[0] <= frame < frame_limit[1]:
                continue
            model_frame = int(round((frame - frame_start) * model_fps / scene_fps))
            if model_frame < 0:
                continue
            q = rotation_at(curves, frame, bone)
            if reference is not None and not differs_from_take(q, reference, ref_index.get(name),
                                                               int(round(frame - frame_start)),
                                                               HAND_KEY_TOLERANCE_DEG):
                continue
            frames.append(model_frame)
            joints.append(joint_of[name])
            basis.append(q)
    if not frames:
        return None
    rest_q = _rest_quats(arm_obj, [names[j] for j in joints])
    rotations = basis_to_local(quat_normalize(np.array(basis)), rest_q)
    return {"frames": np.array(frames, dtype=np.int64), "joints": np.array(joints, dtype=np.int64),
            "rotations": rotations.astype(np.float64)}


def keeps_keys(arm_obj, skeleton: dict) -> bool:
    """Whether the armature's keys can become constraints: the model's own armature, or a
    generated Rigify rig (``rigify_keys``)."""
    return rigify.is_generated_rig(arm_obj) or resolve_map(arm_obj, skeleton, store=False)[0] is None


def _constraints(arm_obj, action, skeleton: dict, *, take=None, reference=None, max_frames=None, **timing):
    """``hand_key_constraints`` for the model's own armature, ``rigify_keys``' for a Rigify rig."""
    if rigify.is_generated_rig(arm_obj):
        pairs = resolve_map(arm_obj, skeleton, store=False)[0]
        return rigify_keys.hand_key_constraints(arm_obj, action, skeleton, pairs, take=take, reference=reference,
                                                max_frames=max_frames, **timing)
    return hand_key_constraints(arm_obj, action, skeleton, reference=reference, **timing)


def keys_off_the_take(arm_obj, action, skeleton: dict, take: str, *, frame_start: float, scene_fps: float,
                      model_fps: float, max_frames, frame_limit) -> dict | None:
    """The hand-key constraints of a generated action: only the keys that differ from its
    take's motion (keyed as ``max_frames`` scene frames from ``frame_start``)."""
    motion = read_motion_arrays(take)
    reference = motion_channels(arm_obj, motion, scene_fps=scene_fps, max_frames=max_frames)
    return _constraints(arm_obj, action, skeleton, take=motion, reference=reference, max_frames=max_frames,
                        frame_start=frame_start, scene_fps=scene_fps, model_fps=model_fps, frame_limit=frame_limit)


def request_constraints(arm_obj, request, metadata: dict) -> tuple[dict | None, list[str]]:
    """(constraints or None, notes for the report) for a Generate request: the keys of
    the armature's active action within the request's frames."""
    anim = arm_obj.animation_data
    action = anim.action if anim else None
    if action is None:
        return None, []
    info = generated_info(action)
    if info is None and request.layer_upper_body:
        return None, []  # the animation under the layer is not a set of poses to pass through
    skeleton = common.skeleton_metadata(metadata)
    model_fps = common.model_fps(metadata)
    if skeleton is None or model_fps is None:
        return None, []
    if not keeps_keys(arm_obj, skeleton):
        return None, [f"Hand keys are only kept on the model's own armature or a Rigify rig; "
                      f"'{arm_obj.name}' is retargeted."]
    limit = None
    if request.max_frames is not None:
        limit = (request.frame_start, request.frame_start + request.max_frames)
    timing = dict(frame_start=request.frame_start, scene_fps=request.scene_fps, model_fps=model_fps, frame_limit=limit)
    if info is None:
        constraints = _constraints(arm_obj, action, skeleton, **timing)
    elif not os.path.isfile(info["take"]) or info["frame_start"] != request.frame_start:
        return None, []
    else:
        constraints = keys_off_the_take(arm_obj, action, skeleton, info["take"], max_frames=info.get("max_frames"),
                                        **timing)
    if constraints is None:
        return None, []
    return constraints, [f"Passing through {len(constraints['frames'])} hand-keyed bone poses"]
