"""Write model motion (the generate npz) onto an armature as a new action.

Conventions: see ``core.motion.retarget`` (model Y-up cm -> Blender Z-up m via
(x, -z, y) * 0.01). Motion time t lands on scene frame ``frame_start + t * scene_fps``;
the motion is resampled to whole scene frames with slerp and keyed on every frame
(linear), so ``scene.frame_set`` on a whole frame reproduces the motion exactly.
Keys are written in bulk (keyframe_points.add + foreach_set), never keyframe_insert.
Each bone keeps its rotation mode: a bone in an Euler mode gets Euler keys in its own order,
an axis-angle bone axis-angle keys, a quaternion bone quaternion keys (``rotation_keys``), so
the rig's other actions, which animate the same channels, keep playing.
"""

from __future__ import annotations

import bpy
import mathutils
import numpy as np

from ..core.motion import retarget as retarget_maths
from ..core.motion.motion_file import MotionFileError, validate_motion
from ..core.motion.rotations import make_continuous, quat_to_matrix
from . import rigify
from .armature import rig_rest

LINEAR = 1  # index of 'LINEAR' in Keyframe.interpolation's enum


# Blender's Euler orders: the axes in the order they apply, and whether that order is odd.
EULER_AXES = {"XYZ": (0, 1, 2, False), "XZY": (0, 2, 1, True), "YXZ": (1, 0, 2, True),
              "YZX": (1, 2, 0, False), "ZXY": (2, 0, 1, False), "ZYX": (2, 1, 0, True)}


def scene_frame_rate(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def euler_angles(quats: np.ndarray, modes: list[str], previous=None) -> np.ndarray:
    """(N, B, 3) Euler angles (radians, X Y Z) of the rotations ``quats`` (N, B, 4, w x y z)
    in each bone's Euler order ``modes``: on every frame, of the two solutions wrapped by whole
    turns, the one closest to the frame before, as Blender's compatible Euler (so no
    360-degree flips, and no jump through gimbal lock); ``previous`` (B, 3): the angles just
    before the first frame (default zero)."""
    m = quat_to_matrix(quats)
    count, bones = m.shape[:2]
    i, j, k, odd = (np.array(column) for column in zip(*(EULER_AXES[mode] for mode in modes)))
    b = np.arange(bones)

    def mat(col, row):  # Blender's mat[col][row] (column-major) of every frame: (N, B)
        return m[:, b, row, col]

    cy = np.hypot(mat(i, i), mat(i, j))
    regular = cy > 1e-6
    first = np.empty((count, bones, 3))
    second = np.empty((count, bones, 3))
    first[:, b, i] = np.where(regular, np.arctan2(mat(j, k), mat(k, k)), np.arctan2(-mat(k, j), mat(j, j)))
    first[:, b, j] = np.arctan2(-mat(i, k), cy)
    first[:, b, k] = np.where(regular, np.arctan2(mat(i, j), mat(i, i)), 0.0)
    second[:, b, i] = np.where(regular, np.arctan2(-mat(j, k), -mat(k, k)), first[:, b, i])
    second[:, b, j] = np.where(regular, np.arctan2(-mat(i, k), -cy), first[:, b, j])
    second[:, b, k] = np.where(regular, np.arctan2(-mat(i, j), -mat(i, i)), first[:, b, k])
    sign = np.where(odd, -1.0, 1.0)[None, :, None]
    first, second = first * sign, second * sign
    out = np.empty_like(first)
    before = np.zeros((bones, 3)) if previous is None else np.asarray(previous, dtype=np.float64).reshape(bones, 3)
    turn = 2 * np.pi
    for f in range(count):  # sequential: each frame depends on the one chosen before
        a = first[f] - np.round((first[f] - before) / turn) * turn
        c = second[f] - np.round((second[f] - before) / turn) * turn
        far = np.abs(a - before).sum(axis=1) > np.abs(c - before).sum(axis=1)
        before = out[f] = np.where(far[:, None], c, a)
    return out


def rotation_keys(modes: list[str], quats: np.ndarray, previous=None) -> list[tuple[str, np.ndarray]]:
    """(property, (N, 3 or 4) values) per bone keying the basis rotations ``quats`` (N, B,
    4, w x y z) in each bone's rotation mode ``modes``: Euler angles in its order
    (``euler_angles``), axis-angle (angle, axis) or quaternions, both in one hemisphere from
    frame to frame. ``previous`` (B values or None): each bone's values of the key just
    before, to continue from."""
    quats = make_continuous(np.asarray(quats, dtype=np.float64))
    previous = previous if previous is not None else [None] * len(modes)
    euler = [b for b, mode in enumerate(modes) if mode in EULER_AXES]
    angles = {}
    if euler:
        start = None if all(previous[b] is None for b in euler) else [
            previous[b] if previous[b] is not None else (0.0, 0.0, 0.0) for b in euler]
        angles = dict(zip(euler, np.moveaxis(euler_angles(quats[:, euler], [modes[b] for b in euler], start), 1, 0)))
    keys = []
    for b, mode in enumerate(modes):
        q = quats[:, b]
        if b in angles:
            keys.append(("rotation_euler", angles[b]))
            continue
        if previous[b] is not None and np.dot(q[0], _as_quaternion(mode, previous[b])) < 0:
            q = -q
        keys.append(("rotation_axis_angle", _axis_angle(q)) if mode == "AXIS_ANGLE" else ("rotation_quaternion", q))
    return keys


def _axis_angle(quats: np.ndarray) -> np.ndarray:
    """(N, 4) angle and axis of quaternions (N, 4); where there is no turn, the axis of the
    nearest turn before (or after)."""
    sin_half = np.linalg.norm(quats[:, 1:], axis=1)
    axis = quats[:, 1:] / np.maximum(sin_half, 1e-12)[:, None]
    defined = np.flatnonzero(sin_half > 1e-9)
    if len(defined):
        axis = axis[defined[np.clip(np.searchsorted(defined, np.arange(len(quats)), side="right") - 1, 0, None)]]
    else:
        axis = np.tile([0.0, 1.0, 0.0], (len(quats), 1))
    return np.column_stack([2 * np.arctan2(sin_half, quats[:, 0]), axis])


def _as_quaternion(mode: str, values) -> np.ndarray:
    if mode == "AXIS_ANGLE":
        return np.array(mathutils.Quaternion(values[1:], values[0]))
    return np.asarray(values, dtype=np.float64)


def _slot_name(arm_obj) -> str:
    """The name of the armature's last action slot, else the armature's: an action put
    back after ours finds its slot by that name (Blender 5's BVH importer names it "Slot")."""
    identifier = getattr(arm_obj.animation_data, "last_slot_identifier", "") if arm_obj.animation_data else ""
    return identifier[2:] if identifier.startswith("OB") and len(identifier) > 2 else arm_obj.name


def _new_action(action_name: str, arm_obj):
    """A fresh action and a function that makes F-curves in it, on both the layered
    (4.4+) and the legacy action API."""
    action = bpy.data.actions.new(action_name)
    slot = None
    if hasattr(action, "layers") and hasattr(action, "slots"):
        slot = action.slots.new(id_type="OBJECT", name=_slot_name(arm_obj))
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


def first_slot(action):
    """The action's first slot (layered action API, 4.4+), else None."""
    slots = getattr(action, "slots", None)
    return slots[0] if slots is not None and len(slots) else None


def strip_on_new_track(anim_data, action, name: str, frame: float, slot):
    """A new NLA track named ``name`` whose strip plays ``action`` (its ``slot``, where the
    API has slots) from ``frame``. Returns (track, strip)."""
    track = anim_data.nla_tracks.new()
    track.name = name[:63]
    strip = track.strips.new(action.name[:63], int(np.floor(frame)), action)
    if slot is not None and hasattr(strip, "action_slot"):
        try:
            strip.action_slot = slot
        except (TypeError, RuntimeError):
            pass
    return track, strip


def _keep_previous_action(anim_data) -> None:
    """The previous action stays: fake user so it is saved, and a muted NLA track so it
    is visible in the NLA editor without influencing the new animation."""
    previous = anim_data.action
    if previous is None:
        return
    previous.use_fake_user = True
    try:
        track, _ = strip_on_new_track(anim_data, previous, f"OHGesture previous: {previous.name}",
                                      previous.frame_range[0], getattr(anim_data, "action_slot", None))
        track.mute = True
    except RuntimeError:
        pass  # overlapping strips cannot happen on a new track; the fake user still keeps it
    anim_data.action = None


def pose_channels(arm_obj, motion: dict, *, scene_fps: float, bone_map=None, max_frames=None):
    """Resampled pose-bone channels for the model's own armature: (bone names, basis
    quaternions (N, B, 4), basis locations (N, B, 3), which bones get rotation keys,
    which get location keys, number of frames N)."""
    motion = validate_motion(motion)
    rig = rig_rest(arm_obj)
    joint_names = [str(n) for n in np.asarray(motion["joint_names"]).tolist()]
    bone_joint = retarget_maths.bone_joints_by_name(joint_names, rig.names, bone_map)
    if not any(j >= 0 for j in bone_joint):
        raise MotionFileError(f"No bone of armature '{arm_obj.name}' matches a joint of the motion.")
    return retarget_maths.pose_channels(motion, rig, bone_joint, scene_fps=scene_fps, max_frames=max_frames)


def write_motion_to_armature(arm_obj, motion: dict, *, frame_start: float, scene_fps: float,
                             action_name: str, bone_map=None, max_frames=None):
    """Create a new action holding the motion and make it the armature's active action.
    ``bone_map`` maps joint names to bone names (default: same names). ``max_frames``
    caps the number of keyed scene frames (e.g. a strip's visible length). The armature's
    rest pose must be the model's (``armature.create_matching_armature``); other rigs go
    through ``retarget.write_retargeted_motion``."""
    channels = pose_channels(arm_obj, motion, scene_fps=scene_fps, bone_map=bone_map, max_frames=max_frames)
    return write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name)


def _key_switches(arm_obj, switches: dict, new_fcurve, frame: float) -> None:
    """One key holding each of a rig's switch properties ({(bone, property): value}) for
    the whole action (Rigify's IK/FK switches), and the value set now."""
    for (bone, prop), value in switches.items():
        try:
            arm_obj.pose.bones[bone][prop] = value
        except (TypeError, AttributeError):
            pass  # a property an override does not let be set: the key still sets it on playback
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]["{bpy.utils.escape_identifier(prop)}"]'
        points = new_fcurve(path, 0, bone).keyframe_points
        points.add(1)
        points[0].co = (frame, value)
        points[0].interpolation = "CONSTANT"


def write_channels(arm_obj, channels, *, frame_start: float, action_name: str, reset_unkeyed: bool = False,
                   assign: bool = True, keep_pose=frozenset()):
    """Key ``pose_channels``-style channels into a new action (bulk foreach_set, never
    keyframe_insert). ``reset_unkeyed`` puts bones without keys back to their rest pose,
    which the channels of their keyed children assume, but for the bones named in
    ``keep_pose`` (the fingers with Key Fingers off: no keyed bone below them). ``assign=False`` leaves the
    armature's animation data alone (the caller puts the action in an NLA strip)."""
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    buffers = _KeyBuffers(frame_start + np.arange(count, dtype=np.float64))
    action, slot, new_fcurve = _new_action(action_name, arm_obj)
    rotations = rotation_keys([arm_obj.pose.bones[name].rotation_mode for name in names], basis_q)
    for b, name in enumerate(names):
        pose_bone = arm_obj.pose.bones[name]
        if not keyed[b]:
            if reset_unkeyed and name not in keep_pose:
                pose_bone.location = (0.0, 0.0, 0.0)
                pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
                pose_bone.rotation_euler = (0.0, 0.0, 0.0)
                pose_bone.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
                pose_bone.scale = (1.0, 1.0, 1.0)
            continue
        pose_bone.scale = (1.0, 1.0, 1.0)
        if not keyed_location[b]:
            pose_bone.location = (0.0, 0.0, 0.0)
        prefix = f'pose.bones["{bpy.utils.escape_identifier(name)}"]'
        prop, values = rotations[b]
        for i in range(values.shape[1]):
            buffers.key(new_fcurve(f"{prefix}.{prop}", i, name), values[:, i])
        if keyed_location[b]:
            for i in range(3):
                buffers.key(new_fcurve(f"{prefix}.location", i, name), basis_loc[:, b, i])
    _key_switches(arm_obj, rigify.fk_switches(arm_obj, names, keyed), new_fcurve, frame_start)

    if not assign:
        return action
    anim_data = arm_obj.animation_data or arm_obj.animation_data_create()
    _keep_previous_action(anim_data)
    anim_data.action = action
    if slot is not None and getattr(anim_data, "action_slot", None) != slot:
        anim_data.action_slot = slot
    return action
