"""The Upper Body Layer: generated spine, neck, head and arms as an NLA strip over the
armature's existing animation (e.g. a walk), instead of replacing it."""

from __future__ import annotations

from . import bone_presets, common, rigify
from .armature import armature_hierarchy
from .keyframes import first_slot, strip_on_new_track, write_channels
from .retarget import motion_channels

LAYER_TRACK = "OHGesture upper body"


def upper_body_bones(arm_obj) -> set[str]:
    """The spine from just above the hips up, with neck, head, shoulders and arms: the
    subtree of the hips' child on the way to the head (or neck, or left shoulder); on a
    generated Rigify rig, its controls of those parts (``rigify.upper_body_controls``)."""
    if rigify.is_generated_rig(arm_obj):
        return rigify.upper_body_controls(arm_obj)
    names, parents = armature_hierarchy(arm_obj)
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
    inside = {chain[-1]}
    for b, p in enumerate(parents):  # parents come first, so one pass collects the subtree
        if p in inside:
            inside.add(b)
    return {names[b] for b in inside}


def upper_body_channels(arm_obj, channels):
    """The channels with keys on the upper-body bones only."""
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    upper = upper_body_bones(arm_obj)
    keyed = [k and n in upper for k, n in zip(keyed, names)]
    keyed_location = [k and n in upper for k, n in zip(keyed_location, names)]
    return names, basis_q, basis_loc, keyed, keyed_location, count


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
                         action_name: str, blend_frames: int):
    """Key the motion's upper body into a new action layered over the armature's
    animation. Returns (action, message)."""
    channels = upper_body_channels(arm_obj, motion_channels(arm_obj, motion, scene_fps=scene_fps,
                                                            max_frames=max_frames))
    action = write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name, assign=False)
    layer_over(arm_obj, action, frame_start=frame_start, blend_frames=blend_frames)
    return action, f"Layered the upper body over the animation of '{arm_obj.name}'"
