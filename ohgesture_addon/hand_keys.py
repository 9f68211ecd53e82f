"""The animator's own keys as pose constraints (``generate --constraints``).

Rotation keys of bones that follow a model joint are converted back to the joint's local
rotation (``core.motion.retarget.basis_to_local``, the inverse of the matching armature's
``pose_basis_from_world_quats``). Only the model's own (matching) armature is supported;
on retargeted rigs hand keys are ignored and the report says so. On a generated action
only keys that differ from the generated pose count.
"""

from __future__ import annotations

import os

import numpy as np

from ..core.motion.motion_file import read_motion_arrays
from ..core.motion.retarget import basis_to_local, rest_rotations
from ..core.motion.rotations import matrix_to_quat, quat_normalize
from . import common
from .retarget import motion_channels, resolve_map, skeleton_hierarchy
from .takes import bone_fcurves, fcurve_keys, generated_info

HAND_KEY_TOLERANCE_DEG = 0.5  # a key on a generated action this far from the generated pose is the animator's


def _rest_quats(arm_obj, names) -> np.ndarray:
    return matrix_to_quat(rest_rotations([np.array(arm_obj.data.bones[n].matrix_local) for n in names]))


def _basis_at(curves: dict, frame: float, bone) -> np.ndarray:
    """The action's basis rotation of ``bone`` at ``frame`` (missing channels: the pose's)."""
    current = list(bone.rotation_quaternion)
    return np.array([curves[i].evaluate(frame) if i in curves else current[i] for i in range(4)])


def _rotation_keys(arm_obj, action, joint_of: dict):
    """(bone name, pose bone, {index: F-curve}, sorted key frames) of the quaternion
    channels of the action's bones named like model joints."""
    for (name, prop), curves in bone_fcurves(action).items():
        if prop != "rotation_quaternion" or name not in joint_of or name not in arm_obj.pose.bones:
            continue
        frames = sorted({float(f) for fc in curves.values() for f in fcurve_keys(fc)[:, 0]})
        yield name, arm_obj.pose.bones[name], curves, frames


def _is_animators(q: np.ndarray, reference, b: int | None, k: int) -> bool:
    """Whether basis rotation ``q`` at channel frame k differs from the generated one of bone b."""
    if b is None or not 0 <= k < reference[5]:
        return False
    generated = reference[1][k, b]
    cos = abs(np.dot(q / np.linalg.norm(q), generated / np.linalg.norm(generated)))
    return np.degrees(2 * np.arccos(min(cos, 1.0))) >= HAND_KEY_TOLERANCE_DEG


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
            q = _basis_at(curves, frame, bone)
            if reference is not None and not _is_animators(q, reference, ref_index.get(name),
                                                           int(round(frame - frame_start))):
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


def keys_off_the_take(arm_obj, action, skeleton: dict, take: str, *, frame_start: float, scene_fps: float,
                      model_fps: float, max_frames, frame_limit) -> dict | None:
    """``hand_key_constraints`` of a generated action: only the keys that differ from its
    take's motion (keyed as ``max_frames`` scene frames from ``frame_start``)."""
    reference = motion_channels(arm_obj, read_motion_arrays(take), scene_fps=scene_fps, max_frames=max_frames)
    return hand_key_constraints(arm_obj, action, skeleton, frame_start=frame_start, scene_fps=scene_fps,
                                model_fps=model_fps, frame_limit=frame_limit, reference=reference)


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
    if resolve_map(arm_obj, skeleton, store=False)[0] is not None:
        return None, [f"Hand keys are only kept on the model's own armature; '{arm_obj.name}' is retargeted."]
    limit = None
    if request.max_frames is not None:
        limit = (request.frame_start, request.frame_start + request.max_frames)
    timing = dict(frame_start=request.frame_start, scene_fps=request.scene_fps, model_fps=model_fps, frame_limit=limit)
    if info is None:
        constraints = hand_key_constraints(arm_obj, action, skeleton, **timing)
    elif not os.path.isfile(info["take"]) or info["frame_start"] != request.frame_start:
        return None, []
    else:
        constraints = keys_off_the_take(arm_obj, action, skeleton, info["take"], max_frames=info.get("max_frames"),
                                        **timing)
    if constraints is None:
        return None, []
    return constraints, [f"Passing through {len(constraints['frames'])} hand-keyed bone poses"]
