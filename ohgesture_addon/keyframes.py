"""Write model motion (the generate npz) onto an armature as a new action.

Conventions: see ``posemath`` (model Y-up cm -> Blender Z-up m via (x, -z, y) * 0.01).
Motion time t lands on scene frame ``frame_start + t * scene_fps``; the motion is
resampled to whole scene frames with slerp and keyed on every frame (linear), so
``scene.frame_set`` on a whole frame reproduces the motion exactly.
Keys are written in bulk (keyframe_points.add + foreach_set), never keyframe_insert.
"""

from __future__ import annotations

import bpy
import numpy as np

from . import posemath

NPZ_KEYS = ("rotations", "root_translation", "joint_names", "parents", "offsets", "root_joint", "fps")
LINEAR = 1  # index of 'LINEAR' in Keyframe.interpolation's enum


class MotionFileError(ValueError):
    """The motion file is missing, unreadable or malformed."""


def read_motion_npz(path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            motion = {key: data[key] for key in data.files}
    except (OSError, ValueError) as exc:
        raise MotionFileError(f"Cannot read motion file {path}: {exc}") from None
    return validate_motion(motion)


def validate_motion(motion: dict) -> dict:
    missing = [key for key in NPZ_KEYS if key not in motion]
    if missing:
        raise MotionFileError(f"The motion lacks {', '.join(missing)}.")
    rotations = np.asarray(motion["rotations"])
    num_joints = len(motion["joint_names"])
    if rotations.ndim != 3 or rotations.shape[1:] != (num_joints, 4) or rotations.shape[0] < 1:
        raise MotionFileError(f"The motion's rotations have shape {rotations.shape}, expected (F, {num_joints}, 4).")
    if np.asarray(motion["root_translation"]).shape != (rotations.shape[0], 3):
        raise MotionFileError("The motion's root translation does not have one (x, y, z) per frame.")
    if float(motion["fps"]) <= 0:
        raise MotionFileError("The motion's frame rate must be positive.")
    return motion


def scene_frame_rate(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def _bones_parents_first(arm_obj):
    bones = list(arm_obj.data.bones)
    depth = {}
    for bone in bones:
        d, parent = 0, bone.parent
        while parent is not None:
            d, parent = d + 1, parent.parent
        depth[bone.name] = d
    return sorted(bones, key=lambda b: depth[b.name])


def _unit_scale(bone_joint, bone_parent, bone_heads, joint_parents, joint_offsets) -> float:
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
        return posemath.CENTIMETRES_TO_METRES
    return float(np.median(ratios))


def _new_action(action_name: str, arm_obj):
    """A fresh action and a function that makes F-curves in it, on both the layered
    (4.4+) and the legacy action API."""
    action = bpy.data.actions.new(action_name)
    slot = None
    if hasattr(action, "layers") and hasattr(action, "slots"):
        slot = action.slots.new(id_type="OBJECT", name=arm_obj.name)
        layer = action.layers.new("Layer")
        strip = layer.strips.new(type="KEYFRAME")
        channelbag = strip.channelbag(slot, ensure=True)
        groups = {}

        def new_fcurve(data_path, index, group_name):
            try:
                return channelbag.fcurves.new(data_path, index=index, group_name=group_name)
            except TypeError:
                fcurve = channelbag.fcurves.new(data_path, index=index)
                if group_name not in groups:
                    groups[group_name] = channelbag.groups.new(group_name)
                fcurve.group = groups[group_name]
                return fcurve
    else:
        action.id_root = "OBJECT"

        def new_fcurve(data_path, index, group_name):
            return action.fcurves.new(data_path, index=index, action_group=group_name)
    return action, slot, new_fcurve


class _KeyBuffers:
    """The (frame, value) pairs and LINEAR flags for one F-curve after another: the frames
    and flags are the same for every curve, so only the values are rewritten (foreach_set
    copies what it is given, so the buffers can be reused)."""

    def __init__(self, frames: np.ndarray):
        self.co = np.empty(2 * len(frames), dtype=np.float32)
        self.co[0::2] = frames
        self.interpolation = np.full(len(frames), LINEAR, dtype=np.int32)

    def key(self, fcurve, values: np.ndarray) -> None:
        points = fcurve.keyframe_points
        points.add(len(self.interpolation))
        self.co[1::2] = values
        points.foreach_set("co", self.co)
        try:
            points.foreach_set("interpolation", self.interpolation)
        except (TypeError, AttributeError, RuntimeError):
            fcurve.update()  # keys are added in time order; handles only matter without LINEAR


def _keep_previous_action(anim_data) -> None:
    """The previous action stays: fake user so it is saved, and a muted NLA track so it
    is visible in the NLA editor without influencing the new animation."""
    previous = anim_data.action
    if previous is None:
        return
    previous.use_fake_user = True
    previous_slot = getattr(anim_data, "action_slot", None)
    track = anim_data.nla_tracks.new()
    track.name = f"OHGesture previous: {previous.name}"[:63]
    start = int(np.floor(previous.frame_range[0]))
    try:
        strip = track.strips.new(previous.name, start, previous)
        if previous_slot is not None and hasattr(strip, "action_slot"):
            try:
                strip.action_slot = previous_slot
            except (TypeError, RuntimeError):
                pass
    except RuntimeError:
        pass  # overlapping strips cannot happen on a new track; the fake user still keeps it
    track.mute = True
    anim_data.action = None


def pose_channels(arm_obj, motion: dict, *, scene_fps: float, bone_map=None, max_frames=None):
    """Resampled pose-bone channels: (bone names, basis quaternions (N, B, 4),
    basis locations (N, B, 3), which bones get location keys, number of frames N)."""
    motion = validate_motion(motion)
    joint_names = [str(n) for n in np.asarray(motion["joint_names"]).tolist()]
    parents = np.asarray(motion["parents"], dtype=np.int64)
    offsets = np.asarray(motion["offsets"], dtype=np.float64)
    root_joint = int(motion["root_joint"])
    bone_map = dict(bone_map or {})
    joint_for_bone = {bone_map.get(name, name): j for j, name in enumerate(joint_names)}

    bones = _bones_parents_first(arm_obj)
    index_of = {bone.name: i for i, bone in enumerate(bones)}
    bone_joint = [joint_for_bone.get(bone.name, -1) for bone in bones]
    if not any(j >= 0 for j in bone_joint):
        raise MotionFileError(f"No bone of armature '{arm_obj.name}' matches a joint of the motion.")
    bone_parent = [index_of[bone.parent.name] if bone.parent else -1 for bone in bones]
    rest = np.array([np.array(bone.matrix_local) for bone in bones])
    rest_rot, rest_head = rest[:, :3, :3], rest[:, :3, 3]
    # Normalise out any rest scale so Q is a pure rotation.
    rest_rot = rest_rot / np.linalg.norm(rest_rot, axis=1, keepdims=True)
    scale = _unit_scale(bone_joint, bone_parent, rest_head, parents, offsets)

    positions = posemath.resample_times(len(motion["rotations"]), float(motion["fps"]), scene_fps, max_frames)
    # float32 throughout: Blender keys are float32, and it halves the memory traffic.
    rotations, root_translation = posemath.resample_motion_arrays(  # it normalises
        np.asarray(motion["rotations"], dtype=np.float32),
        np.asarray(motion["root_translation"], dtype=np.float64), positions)
    world_q, world_pos = posemath.forward_kinematics_quats(rotations, parents, offsets, root_joint, root_translation)
    basis_q, basis_loc = posemath.pose_basis_from_world_quats(
        world_q, world_pos, bone_joint, bone_parent, rest_rot, rest_head, scale)
    keyed_location = [j >= 0 and (j == root_joint or bone_parent[b] < 0) for b, j in enumerate(bone_joint)]
    keyed = [j >= 0 for j in bone_joint]
    names = [bone.name for bone in bones]
    return names, basis_q, basis_loc, keyed, keyed_location, len(positions)


def write_motion_to_armature(arm_obj, motion: dict, *, frame_start: float, scene_fps: float,
                             action_name: str, bone_map=None, max_frames=None):
    """Create a new action holding the motion and make it the armature's active action.
    ``bone_map`` maps joint names to bone names (default: same names). ``max_frames``
    caps the number of keyed scene frames (e.g. a strip's visible length). The armature's
    rest pose must be the model's (``armature.create_matching_armature``); other rigs go
    through ``retarget.write_retargeted_motion``."""
    channels = pose_channels(arm_obj, motion, scene_fps=scene_fps, bone_map=bone_map, max_frames=max_frames)
    return write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name)


def write_channels(arm_obj, channels, *, frame_start: float, action_name: str, reset_unkeyed: bool = False,
                   assign: bool = True):
    """Key ``pose_channels``-style channels into a new action (bulk foreach_set, never
    keyframe_insert). ``reset_unkeyed`` puts bones without keys back to their rest pose,
    which the channels of their keyed children assume. ``assign=False`` leaves the
    armature's animation data alone (the caller puts the action in an NLA strip)."""
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    buffers = _KeyBuffers(frame_start + np.arange(count, dtype=np.float64))
    action, slot, new_fcurve = _new_action(action_name, arm_obj)
    for b, name in enumerate(names):
        pose_bone = arm_obj.pose.bones[name]
        if not keyed[b]:
            if reset_unkeyed:
                pose_bone.location = (0.0, 0.0, 0.0)
                pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
                pose_bone.rotation_euler = (0.0, 0.0, 0.0)
                pose_bone.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
                pose_bone.scale = (1.0, 1.0, 1.0)
            continue
        pose_bone.rotation_mode = "QUATERNION"
        pose_bone.scale = (1.0, 1.0, 1.0)
        if not keyed_location[b]:
            pose_bone.location = (0.0, 0.0, 0.0)
        prefix = f'pose.bones["{bpy.utils.escape_identifier(name)}"]'
        for i in range(4):
            buffers.key(new_fcurve(f"{prefix}.rotation_quaternion", i, name), basis_q[:, b, i])
        if keyed_location[b]:
            for i in range(3):
                buffers.key(new_fcurve(f"{prefix}.location", i, name), basis_loc[:, b, i])

    if not assign:
        return action
    anim_data = arm_obj.animation_data or arm_obj.animation_data_create()
    _keep_previous_action(anim_data)
    anim_data.action = action
    if slot is not None and getattr(anim_data, "action_slot", None) != slot:
        anim_data.action_slot = slot
    return action
