"""The animator's own keys as pose constraints (``generate --constraints``), kept for good.

Rotation keys of bones that follow a model joint are converted back to the joint's local
rotation (``core.motion.retarget.basis_to_local``, the inverse of the matching armature's
``pose_basis_from_world_quats``). The model's own (matching) armature and generated
Rigify rigs (keys on the controls, ``rigify_keys``) are supported; on other retargeted rigs
the existing animation is not passed through and the report says so.

The kept keys live on the armature object (``KEPT_PROPERTY``, JSON: bone, model joint, scene
frame and the joint's local rotation of each), so every later take passes through them
whichever action is active. Generate adds the keys of the armature's own action (one
OHGesture did not make); on a generated action only keys that differ from the generated
pose are the animator's, and they are kept only through Keep Keys From This Take (Regenerate
Selection passes through those inside its range). Clear Kept Keys forgets them.
"""

from __future__ import annotations

import json
import os

import bpy
import numpy as np

from ..core.motion.motion_file import read_motion_arrays
from ..core.motion.retarget import basis_to_local, rest_rotations
from ..core.motion.rotations import matrix_to_quat, quat_normalize
from . import common, rigify, rigify_keys
from .retarget import motion_channels, resolve_map, skeleton_hierarchy
from .takes import (bone_fcurves, differs_from_take, fcurve_keys, generated_action, generated_info, rotation_at,
                    take_changed)

HAND_KEY_TOLERANCE_DEG = 0.5  # a key on a generated action this far from the generated pose is the animator's
KEPT_PROPERTY = "ohgesture_kept_keys"  # on the armature object: JSON of the kept keys (``kept_keys``)


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
    """{frames, joints, rotations, scene_frames, bones} (model frames, local rotations, the
    keys' scene frames and bones) for the rotation keys of ``action`` on bones named like
    model joints, or None when there are none. With ``reference`` (channels of the generated
    motion) only keys that differ from it count."""
    names, _ = skeleton_hierarchy(skeleton)
    joint_of = {n: j for j, n in enumerate(names)}
    ref_index = {n: b for b, n in enumerate(reference[0])} if reference is not None else {}
    frames, joints, basis, scene_frames = [], [], [], []
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
            scene_frames.append(frame)
    if not frames:
        return None
    rest_q = _rest_quats(arm_obj, [names[j] for j in joints])
    rotations = basis_to_local(quat_normalize(np.array(basis)), rest_q)
    return {"frames": np.array(frames, dtype=np.int64), "joints": np.array(joints, dtype=np.int64),
            "rotations": rotations.astype(np.float64), "scene_frames": np.array(scene_frames),
            "bones": [names[j] for j in joints]}


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


# --- the kept keys: the animator's poses, remembered on the armature ---------------------------

def kept_keys(arm_obj) -> list[dict]:
    """The armature's kept keys, oldest frame first: {bone, joint, frame (scene), rotation
    (the joint's local rotation, wxyz)} each; [] when there are none or the record is unreadable."""
    raw = arm_obj.get(KEPT_PROPERTY) if arm_obj is not None else None
    try:
        entries = json.loads(raw) if raw else []
    except (TypeError, ValueError):
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and {"bone", "joint", "frame", "rotation"} <= e.keys()]


def store_kept_keys(arm_obj, entries: list[dict]) -> None:
    """Replace the armature's kept keys (an ID property: saved with the .blend, no add-on needed to read it)."""
    if entries:
        arm_obj[KEPT_PROPERTY] = json.dumps(entries)
    elif KEPT_PROPERTY in arm_obj:
        del arm_obj[KEPT_PROPERTY]


def _entries(constraints: dict | None, skeleton: dict) -> list[dict]:
    if constraints is None:
        return []
    names, _ = skeleton_hierarchy(skeleton)
    return [{"bone": str(bone), "joint": names[int(j)], "frame": float(frame), "rotation": [float(v) for v in q]}
            for bone, j, frame, q in zip(constraints["bones"], constraints["joints"], constraints["scene_frames"],
                                         constraints["rotations"])]


def merge_kept(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` with ``new`` added; a new key on the same bone and frame replaces the old one."""
    merged = {(e["bone"], round(e["frame"], 3)): e for e in old}
    merged.update({(e["bone"], round(e["frame"], 3)): e for e in new})
    return sorted(merged.values(), key=lambda e: (e["frame"], e["bone"]))


def kept_constraints(entries: list[dict], skeleton: dict, *, frame_start: float, scene_fps: float,
                     model_fps: float, frame_limit=None) -> dict | None:
    """The kept keys that fall inside a take placed at ``frame_start`` (and ``frame_limit``,
    scene frames [first, end)) as constraints in its model frames, or None."""
    names, _ = skeleton_hierarchy(skeleton)
    joint_of = {n: j for j, n in enumerate(names)}
    rows = []
    for e in entries:
        frame = e["frame"]
        model_frame = int(round((frame - frame_start) * model_fps / scene_fps))
        if e["joint"] not in joint_of or model_frame < 0:
            continue
        if frame_limit is not None and not frame_limit[0] <= frame < frame_limit[1]:
            continue
        rows.append((model_frame, joint_of[e["joint"]], e["rotation"], frame, e["bone"]))
    if not rows:
        return None
    frames, joints, rotations, scene_frames, bones = zip(*rows)
    return {"frames": np.array(frames, dtype=np.int64), "joints": np.array(joints, dtype=np.int64),
            "rotations": np.array(rotations, dtype=np.float64), "scene_frames": np.array(scene_frames),
            "bones": list(bones)}


def _joined(*parts) -> dict | None:
    """Constraints put together; a later one on the same joint and model frame wins."""
    rows = {}
    for part in parts:
        if part is None:
            continue
        for k in range(len(part["frames"])):
            rows[(int(part["frames"][k]), int(part["joints"][k]))] = (part["rotations"][k], part["scene_frames"][k],
                                                                     part["bones"][k])
    if not rows:
        return None
    keys = sorted(rows)
    return {"frames": np.array([f for f, _ in keys], dtype=np.int64),
            "joints": np.array([j for _, j in keys], dtype=np.int64),
            "rotations": np.array([rows[k][0] for k in keys], dtype=np.float64),
            "scene_frames": np.array([rows[k][1] for k in keys]), "bones": [rows[k][2] for k in keys]}


def kept_summary(entries: list[dict], max_lines: int = 6) -> list[str]:
    """The panel's lines: each bone with the frames it is kept on, e.g. "LeftArm: 120, 180"."""
    frames = {}
    for e in entries:
        frames.setdefault(e["bone"], []).append(f"{e['frame']:g}")
    lines = [f"{bone}: {', '.join(f)}" for bone, f in frames.items()]
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [f"... and {len(lines) - max_lines + 1} more bones"]
    return lines


# --- the requests ----------------------------------------------------------------------------

def request_constraints(arm_obj, request, metadata: dict) -> tuple[dict | None, list[str], list[dict] | None]:
    """(constraints or None, notes for the report, the kept keys to store when the take is
    made or None) for a Generate request: the armature's kept keys, with the keys of its active
    action when that is the animator's own (not generated, not the animation under the layer)."""
    skeleton = common.skeleton_metadata(metadata)
    model_fps = common.model_fps(metadata)
    if skeleton is None or model_fps is None:
        return None, [], None
    anim = arm_obj.animation_data
    action = anim.action if anim else None
    info = generated_info(action)
    own = action is not None and info is None and not request.layer_upper_body
    if not keeps_keys(arm_obj, skeleton):
        note = (f"'{arm_obj.name}' is retargeted, so its existing animation is not passed through (it stays on a "
                f"muted NLA track); Keep My Keys works on the model's own armature or a Rigify rig.")
        return None, [note] if own else [], None
    timing = dict(frame_start=request.frame_start, scene_fps=request.scene_fps, model_fps=model_fps)
    entries = kept = kept_keys(arm_obj)
    if own:
        entries = merge_kept(kept, _entries(_constraints(arm_obj, action, skeleton, frame_limit=None, **timing),
                                            skeleton))
    limit = None
    if request.max_frames is not None:
        limit = (request.frame_start, request.frame_start + request.max_frames)
    constraints = kept_constraints(entries, skeleton, frame_limit=limit, **timing)
    notes = [f"Passing through {len(constraints['frames'])} hand-keyed bone poses"] if constraints is not None else []
    if info is not None and take_changed(action):
        notes.append(f"Keys you changed on '{action.name}' are not kept; Keep Keys From This Take keeps them.")
    return constraints, notes, (entries if entries != kept else None)


def regenerate_constraints(arm_obj, action, skeleton: dict, take: str, *, frame_start: float, scene_fps: float,
                           model_fps: float, max_frames, frame_limit) -> dict | None:
    """Regenerate Selection's constraints: the kept keys inside the range, and the keys inside
    it that differ from the take (the pose being fixed in place wins on the same frame)."""
    timing = dict(frame_start=frame_start, scene_fps=scene_fps, model_fps=model_fps, frame_limit=frame_limit)
    changed = keys_off_the_take(arm_obj, action, skeleton, take, max_frames=max_frames, **timing)
    return _joined(kept_constraints(kept_keys(arm_obj), skeleton, **timing), changed)


def keep_keys_from_take(arm_obj, skeleton: dict, metadata_fps: float) -> list[dict]:
    """Add the keys of the armature's generated take that differ from the generated pose to
    its kept keys. Returns the keys added."""
    action = generated_action(arm_obj)
    if action is None:
        raise common.SettingsError(f"'{arm_obj.name}' has no action generated by OHGesture.")
    if not keeps_keys(arm_obj, skeleton):
        raise common.SettingsError(f"Keys are only kept on the model's own armature or a Rigify rig; "
                                   f"'{arm_obj.name}' is retargeted.")
    info = generated_info(action)
    if not os.path.isfile(info["take"]):
        raise common.SettingsError(f"The motion file of '{action.name}' ({info['take']}) is gone, so its changed "
                                   f"keys cannot be told from the generated ones.")
    added = _entries(keys_off_the_take(arm_obj, action, skeleton, info["take"], frame_start=info["frame_start"],
                                       scene_fps=info["scene_fps"], model_fps=metadata_fps,
                                       max_frames=info.get("max_frames"), frame_limit=None), skeleton)
    store_kept_keys(arm_obj, merge_kept(kept_keys(arm_obj), added))
    return added


# --- the panel and its operators ---------------------------------------------------------------

def draw_kept_keys(layout, arm_obj) -> None:
    """Under Keep My Keys: the bones and frames it will keep, and its two buttons."""
    entries = kept_keys(arm_obj) if arm_obj is not None else []
    column = layout.column(align=True)
    if entries:
        column.label(text=f"Keeps {len(entries)} keys:", icon="KEYFRAME_HLT")
        for line in kept_summary(entries):
            column.label(text=line)
    row = column.row(align=True)
    row.operator("ohgesture.keep_take_keys", icon="KEYFRAME")
    row.operator("ohgesture.clear_kept_keys", icon="X")


def _model(context):
    metadata = common.model_metadata(common.model_path(context))
    skeleton, fps = common.skeleton_metadata(metadata), common.model_fps(metadata)
    if skeleton is None or fps is None:
        raise common.SettingsError("The model file has no skeleton.")
    return skeleton, fps


class OHGESTURE_OT_keep_take_keys(bpy.types.Operator):
    """Keep the keys you changed on the generated take (those that differ from the generated
    pose) for every later Generate, Re-roll and Regenerate Selection"""

    bl_idname = "ohgesture.keep_take_keys"
    bl_label = "Keep Keys From This Take"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        arm_obj = context.scene.ohgesture.armature
        try:
            if arm_obj is None:
                raise common.SettingsError("Pick a target armature.")
            added = keep_keys_from_take(arm_obj, *_model(context))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not added:
            self.report({"WARNING"}, "No key of the take differs from the generated pose; nothing new is kept.")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keeping {len(added)} more keys ({len(kept_keys(arm_obj))} in all).")
        return {"FINISHED"}


class OHGESTURE_OT_clear_kept_keys(bpy.types.Operator):
    """Forget the keys Keep My Keys passes through (the actions are left as they are)"""

    bl_idname = "ohgesture.clear_kept_keys"
    bl_label = "Clear Kept Keys"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        arm_obj = context.scene.ohgesture.armature
        if arm_obj is None or not kept_keys(arm_obj):
            self.report({"WARNING"}, "No keys are kept.")
            return {"CANCELLED"}
        count = len(kept_keys(arm_obj))
        store_kept_keys(arm_obj, [])
        self.report({"INFO"}, f"Forgot {count} kept keys.")
        return {"FINISHED"}


classes = (OHGESTURE_OT_keep_take_keys, OHGESTURE_OT_clear_kept_keys)
