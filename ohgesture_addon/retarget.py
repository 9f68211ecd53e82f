"""Put model motion onto any humanoid armature: the bone map (stored on the object, JSON
import/export, automatic matching) and the rig read into plain arrays for the
rest-pose-aware transfer in ``core.motion.retarget`` (whose docstring says how it works),
then keyed by ``keyframes.write_channels``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.motion import retarget as retarget_maths
from ..core.motion.motion_file import validate_motion
from . import bone_presets, keyframes, rigify
from .armature import armature_hierarchy, rig_rest, skeleton_hierarchy

MAP_PROPERTY = "ohgesture_bone_map"
MAP_INDEX_PROPERTY = "ohgesture_bone_map_index"
JSON_FORMAT = "ohgesture-bone-map"
MATCHING_TOLERANCE_DEG = 1.0


class BoneMapError(ValueError):
    """The bone map is unusable or its file is malformed."""


# --- hierarchies -----------------------------------------------------------------------

def auto_map_armature(arm_obj, skeleton, target_preset: str | None = None) -> list[tuple[str, str]]:
    """(model joint, bone) pairs; on a generated Rigify rig the bones are its controls."""
    if target_preset in (None, "RIGIFY_DEF") and rigify.is_generated_rig(arm_obj):
        return rigify.auto_map(arm_obj, skeleton)
    source_names, source_parents = skeleton_hierarchy(skeleton)
    target_names, target_parents = armature_hierarchy(arm_obj)
    return bone_presets.auto_map(source_names, source_parents, target_names, target_parents,
                                 target_preset=target_preset)


def is_matching_armature(arm_obj, skeleton) -> bool:
    """True when the armature has a bone per joint with the model's rest pose (bone heads
    along the joints' offsets), so the exact same-skeleton path applies."""
    names, parents = skeleton_hierarchy(skeleton)
    bones = arm_obj.data.bones
    if any(name not in bones for name in names):
        return False
    heads = np.array([np.array(bones[name].head_local) for name in names]).reshape(-1, 3)
    return retarget_maths.rest_matches(skeleton["offsets"], parents, heads, MATCHING_TOLERANCE_DEG)


# --- the map stored on the object ------------------------------------------------------

def _clean_pairs(pairs) -> list[tuple[str, str]]:
    return [(str(s), str(t)) for s, t in pairs if str(s) and str(t)]


def stored_pairs(arm_obj) -> list[tuple[str, str]]:
    """The object's map; read from the raw ID property when the add-on's property is not
    registered (batch runs), which holds the same data."""
    collection = getattr(arm_obj, MAP_PROPERTY, None)
    if collection is None:
        raw = arm_obj.get(MAP_PROPERTY) or []
        return _clean_pairs((item.get("source", ""), item.get("target", "")) for item in raw)
    return _clean_pairs((item.source, item.target) for item in collection)


def store_pairs(arm_obj, pairs) -> None:
    """Replace the object's stored map (saved with the .blend)."""
    pairs = _clean_pairs(pairs)
    collection = getattr(arm_obj, MAP_PROPERTY, None)
    if collection is None:
        arm_obj[MAP_PROPERTY] = [{"source": s, "target": t} for s, t in pairs]
        return
    collection.clear()
    for source, target in pairs:
        item = collection.add()
        item.source, item.target = source, target


def map_to_json_text(pairs, source_skeleton_name: str = "") -> str:
    data = {"format": JSON_FORMAT, "version": 1, "source_skeleton": source_skeleton_name,
            "pairs": [{"source": s, "target": t} for s, t in _clean_pairs(pairs)]}
    return json.dumps(data, indent=2) + "\n"


def write_map_json(path, pairs, source_skeleton_name: str = "") -> None:
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(map_to_json_text(pairs, source_skeleton_name), encoding="utf-8")


def read_map_json(path) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise BoneMapError(f"Cannot read the bone map {path}: {exc}") from None
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if isinstance(data, dict) and pairs is None and all(isinstance(v, str) for v in data.values()):
        pairs = [{"source": k, "target": v} for k, v in data.items()]  # plain {joint: bone}
    if not isinstance(pairs, list) or not all(
            isinstance(p, dict) and isinstance(p.get("source"), str) and isinstance(p.get("target"), str)
            for p in pairs):
        raise BoneMapError(f"The bone map {path} does not hold a list of source/target pairs.")
    return _clean_pairs((p["source"], p["target"]) for p in pairs)


def resolve_map(arm_obj, skeleton, *, store: bool = True):
    """(pairs or None for the exact same-skeleton path, mapped joint count, joint count).
    A stored map wins; else a matching armature needs none; else auto-map (and store)."""
    names, _ = skeleton_hierarchy(skeleton)
    pairs = stored_pairs(arm_obj)
    if not pairs:
        if is_matching_armature(arm_obj, skeleton):
            return None, len(names), len(names)
        pairs = auto_map_armature(arm_obj, skeleton)
        if store:
            store_pairs(arm_obj, pairs)
    elif all(s == t for s, t in pairs) and is_matching_armature(arm_obj, skeleton):
        return None, len(names), len(names)
    bones = arm_obj.data.bones
    mapped = {s for s, t in pairs if s in names and t in bones}
    return pairs, len(mapped), len(names)


# --- rotation transfer -----------------------------------------------------------------

def retarget_channels(arm_obj, motion: dict, pairs, *, scene_fps: float, max_frames=None):
    """``keyframes.pose_channels``-style channels putting the motion on a rig with its own
    rest pose through the (source joint, target bone) pairs; on a generated Rigify rig, on
    its controls (``rigify.control_channels``)."""
    motion = validate_motion(motion)
    joint_names, parents = skeleton_hierarchy(motion)
    body = rigify.rig_body(arm_obj, _clean_pairs(pairs)) if rigify.is_generated_rig(arm_obj) else None
    rig = body.rest if body is not None else rig_rest(arm_obj)
    pairs = _clean_pairs(pairs) if body is None else body.deforming_pairs(_clean_pairs(pairs))
    bone_joint = retarget_maths.bone_joints_from_pairs(joint_names, rig.names, pairs)
    if not any(j >= 0 for j in bone_joint):
        raise BoneMapError(f"No pair of the bone map names both a joint of the motion and a bone of "
                           f"'{arm_obj.name}'; run Auto-Map or edit the map.")
    slot_joint = bone_presets.slot_indices(joint_names, parents)
    if body is not None:
        transfer = retarget_maths.retarget_transfer(motion, rig, bone_joint, slot_joint, scene_fps=scene_fps,
                                                    max_frames=max_frames)
        return rigify.control_channels(arm_obj, body, transfer)
    return retarget_maths.retarget_channels(motion, rig, bone_joint, slot_joint, scene_fps=scene_fps,
                                            max_frames=max_frames)


def write_retargeted_motion(arm_obj, motion: dict, pairs, *, frame_start: float, scene_fps: float,
                            action_name: str, max_frames=None):
    channels = retarget_channels(arm_obj, motion, pairs, scene_fps=scene_fps, max_frames=max_frames)
    return keyframes.write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name,
                                    reset_unkeyed=True)


def _channels(arm_obj, motion: dict, pairs, *, scene_fps: float, max_frames, fingers: bool):
    """(channels, finger bones left unkeyed): ``pose_channels`` for the model's own armature
    (``pairs`` None), else ``retarget_channels``; ``fingers=False`` (Key Fingers off) keys
    no finger bone."""
    finger_joints = set() if fingers else bone_presets.finger_names(*skeleton_hierarchy(motion))
    if pairs is not None:
        left = {t for s, t in pairs if s in finger_joints}
        pairs = [(s, t) for s, t in pairs if s not in finger_joints]
        return retarget_channels(arm_obj, motion, pairs, scene_fps=scene_fps, max_frames=max_frames), left
    names, basis_q, basis_loc, keyed, keyed_location, count = keyframes.pose_channels(
        arm_obj, motion, scene_fps=scene_fps, max_frames=max_frames)
    return (names, basis_q, basis_loc, [k and n not in finger_joints for k, n in zip(keyed, names)],
            [k and n not in finger_joints for k, n in zip(keyed_location, names)], count), finger_joints


def motion_channels(arm_obj, motion: dict, *, scene_fps: float, max_frames=None, fingers: bool = True):
    """``pose_channels`` for the model's own armature, ``retarget_channels`` for any other
    rig (through its stored map), the same choice ``apply_motion`` makes."""
    pairs, _, _ = resolve_map(arm_obj, motion, store=False)
    return _channels(arm_obj, motion, pairs, scene_fps=scene_fps, max_frames=max_frames, fingers=fingers)[0]


def apply_motion(arm_obj, motion: dict, *, frame_start: float, scene_fps: float, action_name: str,
                 max_frames=None, store_map: bool = True, fingers: bool = True):
    """Key the motion onto any armature: the exact path for the model's own armature, the
    retargeting path (stored or automatic map) otherwise; ``fingers=False`` (Key Fingers
    off) leaves the finger bones as the animator posed them. Returns (action, message)."""
    motion = validate_motion(motion)
    pairs, mapped, total = resolve_map(arm_obj, motion, store=store_map)
    if pairs is not None and mapped == 0:
        raise BoneMapError(f"No bone of '{arm_obj.name}' could be matched to the model's skeleton; "
                           f"edit the bone map in the OHGesture panel.")
    channels, fingers_left = _channels(arm_obj, motion, pairs, scene_fps=scene_fps, max_frames=max_frames,
                                       fingers=fingers)
    action = keyframes.write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name,
                                      reset_unkeyed=pairs is not None, keep_pose=fingers_left)
    return action, f"Mapped {mapped} of {total} bones"
