"""Generated takes: the motion file kept with every generated action, what the action
records about how it was made, its pose-bone F-curves, and the frame range to regenerate.

A generated action carries ``action["ohgesture"]``: JSON of how it was made (audio, strip
start frame, frame rates, model, emotions, seed) and the path of its motion file, a copy of
the model-space npz kept in the extension's user folder (``takes/``). Regenerating a range
runs ``generate --keep TAKE.npz --range S:E`` (frames outside come back bit-identical) and
``rewrite_keys`` changes only the keys inside the range, so every other key stays exactly
as it was.

Take storage: the record holds a digest of the keys as generated, so a take the animator
changed is told from one that is only the generator's. Generate (``tidy_takes``) and Clean
Up Takes keep the newest earlier takes of an armature and remove older unchanged ones with
their NLA tracks and motion files; ``keep_take`` bounds the folder, oldest file first,
never one an action of the open file refers to.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import uuid
from pathlib import Path

import bpy
import mathutils
import numpy as np

from ..core.atomic import atomic_path
from . import common
from .keyframes import rotation_keys

PROPERTY = "ohgesture"
INFO_VERSION = 1
_BONE_PATH = re.compile(
    r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(rotation_quaternion|location|rotation_euler|rotation_axis_angle)$')


# --- the kept motion files and the record on the action ---------------------------------

def takes_dir() -> Path:
    """Where generated motion files are kept ($OHGESTURE_TAKES_DIR, else the extension's
    user folder, else Blender's config folder)."""
    custom = os.environ.get("OHGESTURE_TAKES_DIR")
    if custom:
        folder = Path(custom)
    else:
        try:
            folder = Path(bpy.utils.extension_path_user(common.ROOT_PACKAGE, create=True)) / "takes"
        except (ValueError, KeyError, RuntimeError, TypeError):
            folder = Path(bpy.utils.user_resource("CONFIG")) / "ohgesture" / "takes"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def keep_take(npz_path) -> str:
    """Copy a generated motion file into ``takes_dir`` (atomically), then bound the folder
    (``bound_takes_folder``); returns the new path."""
    target = takes_dir() / f"take_{uuid.uuid4().hex}.npz"
    with atomic_path(target) as tmp:
        shutil.copyfile(npz_path, tmp)
    bound_takes_folder(protect={str(target)})
    return str(target)


def generated_info(action) -> dict | None:
    raw = action.get(PROPERTY) if action is not None else None
    if not raw:
        return None
    try:
        info = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return info if isinstance(info, dict) and "take" in info else None


def mark_generated(action, info: dict) -> None:
    """Record how the action was made, with a digest of its keys as the generator wrote them
    (``take_changed``); a take once changed by the animator stays marked so."""
    changed = bool(info.get("changed") or (generated_info(action) or {}).get("changed"))
    action[PROPERTY] = json.dumps({"version": INFO_VERSION, **info, "keys": keys_digest(action), "changed": changed})


def generated_action(arm_obj):
    """The armature's generated action: the active one, else the topmost NLA strip's."""
    anim = arm_obj.animation_data if arm_obj is not None else None
    if anim is None:
        return None
    if generated_info(anim.action):
        return anim.action
    for track in reversed(list(anim.nla_tracks)):
        for strip in track.strips:
            if generated_info(strip.action):
                return strip.action
    return None


# --- an action's F-curves and keys ---------------------------------------------------------

def action_fcurves(action) -> list:
    if getattr(action, "layers", None) is not None and len(action.layers):
        return [fc for layer in action.layers for strip in layer.strips
                for bag in getattr(strip, "channelbags", []) for fc in bag.fcurves]
    return list(action.fcurves)


def bone_fcurves(action) -> dict:
    """{(bone name, property): {array index: fcurve}} of the action's pose-bone channels."""
    found = {}
    for fc in action_fcurves(action):
        match = _BONE_PATH.match(fc.data_path)
        if match:
            name = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
            found.setdefault((name, match.group(2)), {})[fc.array_index] = fc
    return found


def fcurve_keys(fcurve) -> np.ndarray:
    """(K, 2) frames and values of the F-curve's keys."""
    co = np.empty(2 * len(fcurve.keyframe_points), dtype=np.float32)
    fcurve.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


def rotation_at(curves: dict, frame: float, pose_bone) -> np.ndarray:
    """A bone's basis rotation (quaternion) at ``frame`` from its F-curves ``curves``
    ({property: {index: fcurve}}: quaternion, else Euler in the bone's Euler order);
    channels without a curve keep the pose's value."""
    quaternion = curves.get("rotation_quaternion")
    if quaternion or not curves.get("rotation_euler"):
        current = list(pose_bone.rotation_quaternion)
        quaternion = quaternion or {}
        return np.array([quaternion[i].evaluate(frame) if i in quaternion else current[i] for i in range(4)])
    euler = curves["rotation_euler"]
    current = list(pose_bone.rotation_euler)
    mode = pose_bone.rotation_mode if len(pose_bone.rotation_mode) == 3 else "XYZ"
    angles = [euler[i].evaluate(frame) if i in euler else current[i] for i in range(3)]
    return np.array(mathutils.Euler(angles, mode).to_quaternion())


def differs_from_take(q: np.ndarray, reference, b: int | None, k: int, tolerance_deg: float) -> bool:
    """Whether basis rotation ``q`` at channel frame k is at least ``tolerance_deg`` from
    the one ``reference`` (channels of the take) gives bone b."""
    if b is None or not 0 <= k < reference[5]:
        return False
    generated = reference[1][k, b]
    cos = abs(np.dot(q / np.linalg.norm(q), generated / np.linalg.norm(generated)))
    return np.degrees(2 * np.arccos(min(cos, 1.0))) >= tolerance_deg


def deselect_keys(action) -> None:
    for fc in action_fcurves(action):
        count = len(fc.keyframe_points)
        for prop in ("select_control_point", "select_left_handle", "select_right_handle"):
            fc.keyframe_points.foreach_set(prop, np.zeros(count, dtype=bool))


# --- the range to regenerate ------------------------------------------------------------

def selection_range(scene, action) -> tuple[int, int]:
    """(first, last) scene frames: the preview range when it is on, else the frames of the
    action's selected keys."""
    if scene.use_preview_range:
        return int(scene.frame_preview_start), int(scene.frame_preview_end)
    frames = []
    for fc in action_fcurves(action):
        count = len(fc.keyframe_points)
        if not count:
            continue
        selected = np.zeros(count, dtype=bool)
        fc.keyframe_points.foreach_get("select_control_point", selected)
        if selected.any():
            frames.extend(fcurve_keys(fc)[selected, 0].tolist())
    if not frames:
        raise common.SettingsError("Set a preview range or select keys to say which frames to regenerate.")
    return int(np.floor(min(frames))), int(np.ceil(max(frames)))


def model_range(info: dict, first: int, last: int, take_frames: int) -> tuple[int, int]:
    """Model frames [S, E) covering scene frames first..last of the take."""
    ratio = float(info["model_fps"]) / float(info["scene_fps"])
    start = int(np.floor((first - info["frame_start"]) * ratio + 1e-9))
    end = int(np.ceil((last - info["frame_start"]) * ratio - 1e-9)) + 1
    start, end = max(start, 0), min(end, take_frames)
    if end <= start:
        raise common.SettingsError(f"Frames {first}-{last} lie outside the generated take.")
    return start, end


def rewrite_keys(action, channels, *, frame_start: float, first: int, last: int, modes=None) -> int:
    """Put the channels' values on the action's existing keys at scene frames first..last;
    every other key is left as it is. ``modes`` ({bone: rotation mode}) says how rotations
    are keyed (quaternion where it names none). Returns the number of keys changed."""
    if take_changed(action):  # the animator's changes outside the range stay theirs (``mark_generated``)
        action[PROPERTY] = json.dumps({**generated_info(action), "changed": True})
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    index = {name: b for b, name in enumerate(names)}
    changed = 0
    for (name, prop), curves in bone_fcurves(action).items():
        b = index.get(name)
        if b is None:
            continue
        if prop == "location":
            values = basis_loc[:, b]
        else:
            values = _rotation_values(prop, (modes or {}).get(name, "QUATERNION"), basis_q[:, b], curves,
                                      frame_start, first, last, count)
            if values is None:
                continue
        for i, fc in curves.items():
            co = fcurve_keys(fc)
            k = np.round(co[:, 0] - frame_start).astype(np.int64)
            inside = (co[:, 0] >= first) & (co[:, 0] <= last) & (k >= 0) & (k < count)
            if not inside.any():
                continue
            co[inside, 1] = values[k[inside], i]
            fc.keyframe_points.foreach_set("co", co.ravel())
            fc.update()
            changed += int(inside.sum())
    return changed


def _rotation_values(prop, mode, quats, curves, frame_start, first, last, count):
    """(count, 3 or 4) values of a rotation property for the range's keys, in the bone's
    rotation ``mode`` (``keyframes.rotation_keys``), continuous with the kept key just before
    the range (or just after it, for a range from the first frame); None when the property
    is not the one the mode keys or does not have all its curves."""
    width = 3 if prop == "rotation_euler" else 4
    if len(curves) != width or rotation_keys([mode], quats[:1, None])[0][0] != prop:
        return None
    k0, k1 = (int(np.clip(round(f - frame_start), 0, count - 1)) for f in (first, last))
    values = np.zeros((count, width))
    inside = quats[k0:k1 + 1, None]
    if k0 > 0:
        previous = [curves[i].evaluate(frame_start + k0 - 1) for i in range(width)]
        values[k0:k1 + 1] = rotation_keys([mode], inside, [previous])[0][1]
    elif k1 + 1 < count:  # converted backwards from the kept key after the range
        following = [curves[i].evaluate(frame_start + k1 + 1) for i in range(width)]
        values[k0:k1 + 1] = rotation_keys([mode], inside[::-1], [following])[0][1][::-1]
    else:
        values[:] = rotation_keys([mode], quats[:, None])[0][1]
    return values


# --- take storage: earlier takes on the armature, the takes folder -------------------------------

DEFAULT_TAKES_KEPT = 3  # earlier takes kept per armature (preference "Earlier Takes Kept")
DEFAULT_FOLDER_MB = 500  # the takes folder's bound (preference "Takes Folder Limit")


def keys_digest(action) -> str:
    """A digest of the action's F-curves and keys (paths, frames, values)."""
    digest = hashlib.sha1()
    for fc in sorted(action_fcurves(action), key=lambda f: (f.data_path, f.array_index)):
        digest.update(f"{fc.data_path}[{fc.array_index}]".encode("utf-8"))
        digest.update(fcurve_keys(fc).tobytes())
    return digest.hexdigest()[:20]


def take_changed(action, *, unknown: bool = False) -> bool:
    """Whether the animator changed the generated action's keys since it was made (its keys
    no longer match the digest ``mark_generated`` recorded); ``unknown`` for a take recorded
    without a digest (made by an earlier version)."""
    info = generated_info(action)
    if info is None:
        return False
    if not info.get("keys"):
        return unknown
    return bool(info.get("changed")) or info["keys"] != keys_digest(action)


def _setting(name: str, variable: str, default: int) -> int:
    """A preference, else $variable (scripts and tests register the add-on without enabling it)."""
    prefs = common.preferences()
    if prefs is not None and hasattr(prefs, name):
        return int(getattr(prefs, name))
    try:
        return int(os.environ.get(variable, default))
    except ValueError:
        return default


def takes_kept() -> int:
    return max(0, _setting("takes_kept", "OHGESTURE_TAKES_KEPT", DEFAULT_TAKES_KEPT))


def folder_limit_bytes() -> int:
    return max(1, _setting("takes_folder_mb", "OHGESTURE_TAKES_FOLDER_MB", DEFAULT_FOLDER_MB)) * 1024 * 1024


def _same_file(a, b) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def referenced_takes() -> set[str]:
    """The motion files the open file's generated actions refer to."""
    return {os.path.realpath(info["take"]) for info in map(generated_info, bpy.data.actions) if info}


def bound_takes_folder(protect=()) -> list[Path]:
    """Delete the oldest motion files of ``takes_dir`` until it is within the folder limit,
    never one an action of the open file refers to, nor one in ``protect``. Returns the
    files deleted."""
    files = sorted(takes_dir().glob("take_*.npz"), key=lambda f: f.stat().st_mtime)
    total = sum(f.stat().st_size for f in files)
    keep = referenced_takes() | {os.path.realpath(p) for p in protect}
    deleted = []
    for path in files:
        if total <= folder_limit_bytes():
            break
        if os.path.realpath(path) in keep:
            continue
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        total -= size
        deleted.append(path)
    return deleted


def earlier_takes(arm_obj) -> list:
    """The generated actions on the armature's muted NLA tracks, oldest first (the lowest track),
    without the take in use (``generated_action``) and without any that an unmuted track still
    plays (an Upper Body Layer, a generated take under the layers)."""
    anim = arm_obj.animation_data
    tracks = list(anim.nla_tracks) if anim else []
    playing = {strip.action for track in tracks if not track.mute for strip in track.strips}
    current = generated_action(arm_obj)
    found = []
    for track in tracks:
        for strip in track.strips:
            action = strip.action
            if action is not None and action != current and action not in found and action not in playing \
                    and generated_info(action):
                found.append(action)
    return found


def _used_elsewhere(arm_obj, action) -> bool:
    """Whether anything but the armature's own NLA strips uses the action."""
    strips = sum(strip.action == action for track in arm_obj.animation_data.nla_tracks for strip in track.strips)
    return action.users - int(action.use_fake_user) > strips


def remove_earlier_takes(arm_obj, keep: int) -> tuple[list[str], list[str]]:
    """Remove all but the newest ``keep`` earlier takes of the armature: their NLA tracks, the
    actions and their motion files. A take whose keys the animator changed, or that anything
    else uses, stays. Returns (names removed, names kept for that)."""
    earlier = earlier_takes(arm_obj)
    removed, spared = [], []
    anim = arm_obj.animation_data
    for action in earlier[:max(0, len(earlier) - keep)]:
        own = [t for t in anim.nla_tracks if len(t.strips) and all(s.action == action for s in t.strips)]
        shared = any(s.action == action for t in anim.nla_tracks if t not in own for s in t.strips)
        if take_changed(action, unknown=True) or _used_elsewhere(arm_obj, action) or shared:
            spared.append(action.name)  # changed, used elsewhere, or on a track with something else
            continue
        for track in own:
            anim.nla_tracks.remove(track)
        take = generated_info(action)["take"]
        removed.append(action.name)
        bpy.data.actions.remove(action)
        if not any(_same_file(take, other) for other in referenced_takes()):
            Path(take).unlink(missing_ok=True)
    return removed, spared


def tidy_takes(arm_obj) -> str | None:
    """After a Generate: the earlier takes beyond the preference removed; a sentence for the
    report, or None when nothing was removed or spared."""
    removed, spared = remove_earlier_takes(arm_obj, takes_kept())
    return _tidy_sentence(removed, spared)


def _tidy_sentence(removed, spared) -> str | None:
    parts = []
    if removed:
        parts.append(f"Removed {len(removed)} earlier take{'s' if len(removed) != 1 else ''} "
                     f"(Earlier Takes Kept: {takes_kept()})")
    if spared:
        parts.append(f"kept {', '.join(repr(n) for n in spared)}, whose keys were changed or are used elsewhere")
    return "; ".join(parts) if parts else None


class OHGESTURE_OT_clean_up_takes(bpy.types.Operator):
    """Remove the target armature's earlier takes beyond Earlier Takes Kept (add-on preferences),
    with their NLA tracks and motion files, and bound the takes folder; takes whose keys you
    changed stay"""

    bl_idname = "ohgesture.clean_up_takes"
    bl_label = "Clean Up Takes"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        arm_obj = context.scene.ohgesture.armature
        if arm_obj is None or arm_obj.type != "ARMATURE":
            self.report({"ERROR"}, "Pick a target armature.")
            return {"CANCELLED"}
        removed, spared = remove_earlier_takes(arm_obj, takes_kept())
        files = bound_takes_folder()
        sentence = _tidy_sentence(removed, spared) or f"No earlier take to remove (Earlier Takes Kept: {takes_kept()})"
        if files:
            sentence += f"; deleted {len(files)} old motion files from the takes folder"
        self.report({"INFO"}, sentence + ".")
        return {"FINISHED"}


classes = (OHGESTURE_OT_clean_up_takes,)
