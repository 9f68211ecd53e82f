"""Generated takes: the motion file kept with every generated action, what the action
records about how it was made, its pose-bone F-curves, and the frame range to regenerate.

A generated action carries ``action["ohgesture"]``: JSON of how it was made (audio, strip
start frame, frame rates, model, emotions, seed) and the path of its motion file, a copy of
the model-space npz kept in the extension's user folder (``takes/``). Regenerating a range
runs ``generate --keep TAKE.npz --range S:E`` (frames outside come back bit-identical) and
``rewrite_keys`` changes only the keys inside the range, so every other key stays exactly
as it was.
"""

from __future__ import annotations

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
    """Copy a generated motion file into ``takes_dir`` (atomically); returns the new path."""
    target = takes_dir() / f"take_{uuid.uuid4().hex}.npz"
    with atomic_path(target) as tmp:
        shutil.copyfile(npz_path, tmp)
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
    action[PROPERTY] = json.dumps({"version": INFO_VERSION, **info})


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
    if len(curves) != width or rotation_keys(mode, quats[:1])[0] != prop:
        return None
    k0, k1 = (int(np.clip(round(f - frame_start), 0, count - 1)) for f in (first, last))
    values = np.zeros((count, width))
    if k0 > 0:
        previous = [curves[i].evaluate(frame_start + k0 - 1) for i in range(width)]
        values[k0:k1 + 1] = rotation_keys(mode, quats[k0:k1 + 1], previous)[1]
    elif k1 + 1 < count:  # converted backwards from the kept key after the range
        following = [curves[i].evaluate(frame_start + k1 + 1) for i in range(width)]
        values[k0:k1 + 1] = rotation_keys(mode, quats[k0:k1 + 1][::-1], following)[1][::-1]
    else:
        values[:] = rotation_keys(mode, quats)[1]
    return values
