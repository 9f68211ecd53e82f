"""The Upper Body Layer: generated spine, neck, head and arms as an NLA strip over the
armature's existing animation (e.g. a walk), instead of replacing it."""

from __future__ import annotations

import bpy
import numpy as np

from ..core.motion.retarget import layered_spine_basis
from . import bone_presets, common, rigify
from .armature import armature_hierarchy
from .keyframes import first_slot, strip_on_new_track, write_channels
from .retarget import motion_channels
from .takes import action_fcurves

LAYER_TRACK = "OHGesture upper body"


def upper_body_bones(arm_obj) -> set[str]:
    """The spine from just above the hips up, with neck, head, shoulders and arms: the
    subtree of the hips' child on the way to the head (or neck, or left shoulder); on a
    generated Rigify rig, its controls of those parts (``rigify.upper_body_controls``)."""
    if rigify.is_generated_rig(arm_obj):
        return rigify.upper_body_controls(arm_obj)
    names, parents = armature_hierarchy(arm_obj)
    hips, first = _spine_start(arm_obj, names, parents)
    inside = {first}
    for b, p in enumerate(parents):  # parents come first, so one pass collects the subtree
        if p in inside:
            inside.add(b)
    return {names[b] for b in inside}


def _spine_start(arm_obj, names, parents) -> tuple[int, int]:
    """(the hips, the hips' child on the way to the head, or neck, or left shoulder)."""
    slots = bone_presets.detect_slots(names, parents)
    index = {n: i for i, n in enumerate(names)}
    hips = index.get(slots.get("hips"))
    top = next((index[slots[s]] for s in ("head", "neck", "shoulder.L", "upper_arm.L") if s in slots), None)
    if hips is None or top is None:
        raise common.SettingsError(f"Cannot find the hips and spine of '{arm_obj.name}' to layer the upper body.")
    chain = [top]
    while parents[chain[-1]] >= 0 and parents[chain[-1]] != hips:
        chain.append(parents[chain[-1]])
    if parents[chain[-1]] != hips:
        raise common.SettingsError(f"The spine of '{arm_obj.name}' does not start at its hips bone.")
    return hips, chain[-1]


def upper_body_channels(arm_obj, channels):
    """The channels with keys on the upper-body bones only."""
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    upper = upper_body_bones(arm_obj)
    keyed = [k and n in upper for k, n in zip(keyed, names)]
    keyed_location = [k and n in upper for k, n in zip(keyed_location, names)]
    return names, basis_q, basis_loc, keyed, keyed_location, count


def layer_channels(arm_obj, motion: dict, *, frame_start: float, scene_fps: float, max_frames, fingers=True):
    """The motion's channels for a layer starting on scene frame ``frame_start``: the upper
    body's, the first spine bone standing on the hips of the animation below
    (``_stand_on_the_base_hips``; Generate and Regenerate Selection of a layered take)."""
    channels = motion_channels(arm_obj, motion, scene_fps=scene_fps, max_frames=max_frames, fingers=fingers)
    if not rigify.is_generated_rig(arm_obj):
        channels = _stand_on_the_base_hips(arm_obj, channels, frame_start)
    return upper_body_channels(arm_obj, channels)


def layer_over(arm_obj, action, *, frame_start: float, blend_frames: int):
    """Put ``action`` on a new NLA track above the armature's animation; the active action
    (e.g. a walk) is first pushed down to its own track so the NLA evaluates it below."""
    anim = arm_obj.animation_data or arm_obj.animation_data_create()
    base = anim.action
    if base is not None:
        base_slot = getattr(anim, "action_slot", None) or first_slot(base)
        strip_on_new_track(anim, base, f"Base: {base.name}", base.frame_range[0], base_slot)
        base.use_fake_user = True
        anim.action = None
    _, strip = strip_on_new_track(anim, action, LAYER_TRACK, frame_start, first_slot(action))
    strip.blend_type = "REPLACE"
    strip.extrapolation = "NOTHING"
    length = strip.frame_end - strip.frame_start
    blend = max(0.0, min(float(blend_frames), length / 2))
    strip.blend_in = strip.blend_out = blend
    action.use_fake_user = True
    return strip


def key_upper_body_layer(arm_obj, motion: dict, *, frame_start: float, scene_fps: float, max_frames,
                         action_name: str, blend_frames: int, fingers: bool = True):
    """Key the motion's upper body into a new action layered over the armature's
    animation (the fingers only with ``fingers``, Key Fingers). Returns (action, message)."""
    channels = layer_channels(arm_obj, motion, frame_start=frame_start, scene_fps=scene_fps, max_frames=max_frames,
                              fingers=fingers)
    action = write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name, assign=False)
    layer_over(arm_obj, action, frame_start=frame_start, blend_frames=blend_frames)
    return action, f"Layered the upper body over the animation of '{arm_obj.name}'"


# --- the torso over the base's hips ------------------------------------------------------------

def _stand_on_the_base_hips(arm_obj, channels, frame_start: float):
    """The channels with the first spine bone turned so the generated chest stands in the world
    as in the whole take, over the hips the animation below the layer gives
    (``core.motion.retarget.layered_spine_basis``); its heading follows the base's hips."""
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    rig_names, parents = armature_hierarchy(arm_obj)
    hips, first = (rig_names[b] for b in _spine_start(arm_obj, rig_names, parents))
    if hips not in names or first not in names or not keyed[names.index(first)] or count == 0:
        return channels
    h, s = names.index(hips), names.index(first)
    bones = arm_obj.data.bones
    rest = [np.array(bones[n].matrix_local)[:3, :3] for n in (hips, first)]
    rest = [r / np.linalg.norm(r, axis=0, keepdims=True) for r in rest]
    world = np.array(arm_obj.matrix_world)[:3, :3]
    up = np.linalg.solve(world, np.array([0.0, 0.0, 1.0]))
    base = _base_rotations(arm_obj, hips, frame_start + np.arange(count))
    basis_q = np.array(basis_q, copy=True)
    basis_q[:, s] = layered_spine_basis(basis_q[:, s], basis_q[:, h], rest[0], rest[1], base, up)
    return names, basis_q, basis_loc, keyed, keyed_location, count


def _base_rotations(arm_obj, bone_name: str, frames) -> np.ndarray:
    """(F, 3, 3) armature-space rotations of the bone on the scene frames ``frames`` under the
    armature's animation (before the layer is added): evaluated frame by frame where anything
    may turn the bone or its parents (their keys, the NLA, constraints, drivers), else read once."""
    scene = bpy.context.scene
    pose_bone = arm_obj.pose.bones[bone_name]

    def rotation():
        matrix = np.array(pose_bone.matrix)[:3, :3]
        return matrix / np.linalg.norm(matrix, axis=0, keepdims=True)

    if not _turned_by_animation(arm_obj, pose_bone):
        bpy.context.view_layer.update()
        return np.broadcast_to(rotation(), (len(frames), 3, 3)).copy()
    current, subframe = scene.frame_current, scene.frame_subframe
    out = np.empty((len(frames), 3, 3))
    try:
        for k, frame in enumerate(frames):
            scene.frame_set(int(frame))
            out[k] = rotation()
    finally:
        scene.frame_set(current, subframe=subframe)
    return out


def _turned_by_animation(arm_obj, pose_bone) -> bool:
    """Whether anything may turn the bone from frame to frame: constraints on it or its parents,
    NLA tracks, drivers, or rotation or scale keys of theirs in the active action."""
    chain = [pose_bone] + list(pose_bone.parent_recursive)
    if any(len(b.constraints) for b in chain):
        return True
    anim = arm_obj.animation_data
    if anim is None:
        return False
    if len(anim.nla_tracks) or len(anim.drivers):
        return True
    prefixes = tuple(f'pose.bones["{bpy.utils.escape_identifier(b.name)}"]' for b in chain)
    return anim.action is not None and any(
        fc.data_path.startswith(prefixes) and not fc.data_path.endswith("location")
        for fc in action_fcurves(anim.action))
