"""Animator control over generated takes: Regenerate Selection, the animator's own keys as
pose constraints, an upper-body NLA layer over existing animation, and a mix of any
number of emotions.

A generated action carries ``action["ohgesture"]``: JSON of how it was made (audio, strip
start frame, frame rates, model, emotions, seed) and the path of its motion file, a copy of
the model-space npz kept in the extension's user folder (``takes/``). Regenerating a
range runs ``generate --keep TAKE.npz --range S:E`` (frames outside come back bit-identical)
and rewrites only the keys inside the range, so every other key stays exactly as it was.

Hand keys become ``generate --constraints``: rotation keys of bones that follow a model
joint, converted back to the joint's local rotation (the inverse of
``posemath.pose_basis_from_world_quats``). Only the model's own (matching) armature is
supported; on retargeted rigs hand keys are ignored and the report says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import bpy
import numpy as np
from bpy.props import StringProperty

from . import bone_presets, common, keyframes, posemath, retarget

PROPERTY = "ohgesture"
INFO_VERSION = 1
HAND_KEY_TOLERANCE_DEG = 0.5  # a key on a generated action this far from the generated pose is the animator's
LAYER_TRACK = "OHGesture upper body"
_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]\.(rotation_quaternion|location|rotation_euler)$')


# --- generated actions and their kept motion -----------------------------------------

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
    folder = takes_dir()
    target = folder / f"take_{uuid.uuid4().hex}.npz"
    fd, tmp = tempfile.mkstemp(prefix=".take_", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(npz_path, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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


def action_fcurves(action) -> list:
    if getattr(action, "layers", None) is not None and len(action.layers):
        return [fc for layer in action.layers for strip in layer.strips
                for bag in getattr(strip, "channelbags", []) for fc in bag.fcurves]
    return list(action.fcurves)


def _bone_fcurves(action) -> dict:
    """{(bone name, property): {array index: fcurve}} of the action's pose-bone channels."""
    found = {}
    for fc in action_fcurves(action):
        match = _BONE_PATH.match(fc.data_path)
        if match:
            name = match.group(1).replace('\\"', '"').replace("\\\\", "\\")
            found.setdefault((name, match.group(2)), {})[fc.array_index] = fc
    return found


def _keys(fcurve) -> np.ndarray:
    co = np.empty(2 * len(fcurve.keyframe_points), dtype=np.float32)
    fcurve.keyframe_points.foreach_get("co", co)
    return co.reshape(-1, 2)


def motion_channels(arm_obj, motion: dict, *, scene_fps: float, max_frames=None):
    """``pose_channels`` for the model's own armature, ``retarget_channels`` for any other
    rig (through its stored map), the same choice ``retarget.apply_motion`` makes."""
    pairs, _, _ = retarget.resolve_map(arm_obj, motion, store=False)
    if pairs is None:
        return keyframes.pose_channels(arm_obj, motion, scene_fps=scene_fps, max_frames=max_frames)
    return retarget.retarget_channels(arm_obj, motion, pairs, scene_fps=scene_fps, max_frames=max_frames)


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
            frames.extend(_keys(fc)[selected, 0].tolist())
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


def rewrite_keys(action, channels, *, frame_start: float, first: int, last: int) -> int:
    """Put the channels' values on the action's existing keys at scene frames first..last;
    every other key is left as it is. Returns the number of keys changed."""
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    index = {name: b for b, name in enumerate(names)}
    changed = 0
    for (name, prop), curves in _bone_fcurves(action).items():
        b = index.get(name)
        if b is None or prop == "rotation_euler":
            continue
        values = basis_q[:, b] if prop == "rotation_quaternion" else basis_loc[:, b]
        if prop == "rotation_quaternion" and len(curves) == 4:
            values = _align_sign(values, curves, frame_start, first, last, count)
        for i, fc in curves.items():
            co = _keys(fc)
            k = np.round(co[:, 0] - frame_start).astype(np.int64)
            inside = (co[:, 0] >= first) & (co[:, 0] <= last) & (k >= 0) & (k < count)
            if not inside.any():
                continue
            co[inside, 1] = values[k[inside], i]
            fc.keyframe_points.foreach_set("co", co.ravel())
            fc.update()
            changed += int(inside.sum())
    return changed


def _align_sign(values, curves, frame_start, first, last, count):
    """New quaternions with the sign of the kept key next to the range, so quaternion
    curves stay continuous across its borders."""
    for frame in (first - 1, last + 1):
        k = int(round(frame - frame_start))
        if not 0 <= k < count:
            continue
        kept = np.array([curves[i].evaluate(frame) for i in range(4)])
        return values * (-1.0 if np.dot(kept, values[k]) < 0 else 1.0)
    return values


# --- hand keys as constraints -------------------------------------------------------------

def _rest_quats(arm_obj, names) -> np.ndarray:
    rest = np.array([np.array(arm_obj.data.bones[n].matrix_local)[:3, :3] for n in names])
    rest = rest / np.linalg.norm(rest, axis=1, keepdims=True)
    return posemath.matrix_to_quat(rest)


def basis_to_local(basis_q: np.ndarray, rest_q: np.ndarray) -> np.ndarray:
    """Joint local rotations (model space) from pose-bone basis rotations of the matching
    armature: basis = Q^-1 A L A^-1 Q (see ``posemath.pose_basis_from_world_quats``), so
    L = A^-1 Q basis Q^-1 A."""
    a = posemath.AXIS_QUAT
    q = posemath.quat_multiply(posemath.quat_multiply(rest_q, basis_q), posemath.quat_conjugate(rest_q))
    return posemath.normalize_quats(posemath.quat_multiply(posemath.quat_multiply(posemath.quat_conjugate(a), q), a))


def _basis_at(curves: dict, frame: float, bone) -> np.ndarray:
    """The action's basis rotation of ``bone`` at ``frame`` (missing channels: the pose's)."""
    current = list(bone.rotation_quaternion)
    return np.array([curves[i].evaluate(frame) if i in curves else current[i] for i in range(4)])


def hand_key_constraints(arm_obj, action, skeleton: dict, *, frame_start: float, scene_fps: float,
                         model_fps: float, frame_limit: tuple[float, float] | None = None,
                         reference=None) -> dict | None:
    """{frames, joints, rotations} in model frames for the rotation keys of ``action`` on
    bones named like model joints, or None when there are none. With ``reference``
    (channels of the generated motion) only keys that differ from it count."""
    names, _ = retarget.skeleton_hierarchy(skeleton)
    joint_of = {n: j for j, n in enumerate(names)}
    ref_index = {n: b for b, n in enumerate(reference[0])} if reference is not None else {}
    frames, joints, basis = [], [], []
    for (name, prop), curves in _bone_fcurves(action).items():
        if prop != "rotation_quaternion" or name not in joint_of or name not in arm_obj.pose.bones:
            continue
        bone = arm_obj.pose.bones[name]
        keyed = sorted({float(f) for fc in curves.values() for f in _keys(fc)[:, 0]})
        for frame in keyed:
            if frame_limit is not None and not frame_limit[0] <= frame < frame_limit[1]:
                continue
            model_frame = int(round((frame - frame_start) * model_fps / scene_fps))
            if model_frame < 0:
                continue
            q = _basis_at(curves, frame, bone)
            if reference is not None:
                k = int(round(frame - frame_start))
                b = ref_index.get(name)
                if b is None or not 0 <= k < reference[5]:
                    continue
                generated = reference[1][k, b]
                cos = abs(np.dot(q / np.linalg.norm(q), generated / np.linalg.norm(generated)))
                if np.degrees(2 * np.arccos(min(cos, 1.0))) < HAND_KEY_TOLERANCE_DEG:
                    continue
            frames.append(model_frame)
            joints.append(joint_of[name])
            basis.append(q)
    if not frames:
        return None
    rest_q = _rest_quats(arm_obj, [names[j] for j in joints])
    rotations = basis_to_local(posemath.normalize_quats(np.array(basis)), rest_q)
    return {"frames": np.array(frames, dtype=np.int64), "joints": np.array(joints, dtype=np.int64),
            "rotations": rotations.astype(np.float64)}


def write_constraints(path, constraints: dict) -> None:
    np.savez(path, **constraints)


# --- upper-body layer ------------------------------------------------------------------------

def upper_body_bones(arm_obj) -> set[str]:
    """The spine from just above the hips up, with neck, head, shoulders and arms: the
    subtree of the hips' child on the way to the head (or neck, or left shoulder)."""
    names, parents = retarget.armature_hierarchy(arm_obj)
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
    names, basis_q, basis_loc, keyed, keyed_location, count = channels
    upper = upper_body_bones(arm_obj)
    keyed = [k and n in upper for k, n in zip(keyed, names)]
    keyed_location = [k and n in upper for k, n in zip(keyed_location, names)]
    return names, basis_q, basis_loc, keyed, keyed_location, count


def _strip_on_new_track(anim, action, name: str, frame: float):
    track = anim.nla_tracks.new()
    track.name = name[:63]
    strip = track.strips.new(action.name[:63], int(np.floor(frame)), action)
    slots = getattr(action, "slots", None)
    if slots is not None and len(slots) and hasattr(strip, "action_slot"):
        try:
            strip.action_slot = slots[0]
        except (TypeError, RuntimeError):
            pass
    return track, strip


def layer_over(arm_obj, action, *, frame_start: float, blend_frames: int):
    """Put ``action`` on a new NLA track above the armature's animation; the active action
    (e.g. a walk) is first pushed down to its own track so the NLA evaluates it below."""
    anim = arm_obj.animation_data or arm_obj.animation_data_create()
    base = anim.action
    if base is not None:
        base_slot = getattr(anim, "action_slot", None)
        _, base_strip = _strip_on_new_track(anim, base, f"Base: {base.name}", base.frame_range[0])
        if base_slot is not None and hasattr(base_strip, "action_slot"):
            try:
                base_strip.action_slot = base_slot
            except (TypeError, RuntimeError):
                pass
        base.use_fake_user = True
        anim.action = None
    track, strip = _strip_on_new_track(anim, action, LAYER_TRACK, frame_start)
    strip.blend_type = "REPLACE"
    strip.extrapolation = "NOTHING"
    length = strip.frame_end - strip.frame_start
    blend = max(0.0, min(float(blend_frames), length / 2))
    strip.blend_in = strip.blend_out = blend
    action.use_fake_user = True
    return strip


# --- emotion mix ---------------------------------------------------------------------------------

def sync_emotion_mix(settings, labels) -> None:
    """One slider per emotion label of the model, keeping the weights of labels it had."""
    items = settings.emotion_mix
    if [item.label for item in items] == list(labels):
        return
    old = {item.label: item.weight for item in items}
    items.clear()
    for label in labels:
        item = items.add()
        item.label = label
        item.weight = old.get(label, 0.0)
    if labels and not any(item.weight > 0 for item in items):
        items[0].weight = 1.0


def mix_argument(items, labels) -> tuple[list[tuple[str, float]], str]:
    """Normalised (label, weight) pairs with weight > 0, and the ``--mix`` text."""
    pairs = [(str(item.label), float(item.weight)) for item in items]
    unknown = [label for label, _ in pairs if labels and label not in labels]
    if unknown:
        raise common.SettingsError(f"The model does not know the emotion '{unknown[0]}'; press Load Model Emotions.")
    total = sum(w for _, w in pairs if w > 0)
    if not total > 0:
        raise common.SettingsError("Give at least one emotion a weight above 0.")
    mix = [(label, w / total) for label, w in pairs if w > 0]
    return mix, ",".join(f"{label}:{w:.6g}" for label, w in mix)


# --- requests and results -------------------------------------------------------------------------

def configure_request(context, settings, request, metadata: dict, *, animator: bool = True) -> None:
    """Add the animator options to a Generate request: emotion mix and, with ``animator``,
    hand keys as constraints and the upper-body layer."""
    labels = common.emotion_labels(metadata)
    if getattr(settings, "mix_emotions", False):
        mix, text = mix_argument(settings.emotion_mix, labels)
        request.mix = text
        request.emotion, request.emotion_2, request.gamma_curve = None, None, None
        request.action_name = " ".join(["OHG mix"] + [f"{label} {w:.2f}" for label, w in mix]
                                       + [f"seed {request.seed}"])
    if not animator:
        return
    request.layer_upper_body = bool(getattr(settings, "layer_upper_body", False))
    request.layer_blend_frames = int(getattr(settings, "layer_blend_frames", 6))
    if getattr(settings, "use_hand_keys", False):
        arm_obj = bpy.data.objects.get(request.armature_name)
        request.constraints, request.notes = _generate_constraints(arm_obj, request, metadata)


def _generate_constraints(arm_obj, request, metadata):
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
    if retarget.resolve_map(arm_obj, skeleton, store=False)[0] is not None:
        return None, [f"Hand keys are only kept on the model's own armature; '{arm_obj.name}' is retargeted."]
    limit = None
    if request.max_frames is not None:
        limit = (request.frame_start, request.frame_start + request.max_frames)
    reference = None
    if info is not None:
        if not os.path.isfile(info["take"]) or info["frame_start"] != request.frame_start:
            return None, []
        reference = motion_channels(arm_obj, keyframes.read_motion_npz(info["take"]), scene_fps=request.scene_fps,
                                    max_frames=info.get("max_frames"))
    constraints = hand_key_constraints(arm_obj, action, skeleton, frame_start=request.frame_start,
                                       scene_fps=request.scene_fps, model_fps=model_fps, frame_limit=limit,
                                       reference=reference)
    if constraints is None:
        return None, []
    return constraints, [f"Passing through {len(constraints['frames'])} hand-keyed bone poses"]


def extra_arguments(request, workdir: str) -> list[str]:
    args = []
    if getattr(request, "constraints", None) is not None:
        path = os.path.join(workdir, "constraints.npz")
        write_constraints(path, request.constraints)
        args += ["--constraints", path]
    regenerate = getattr(request, "regenerate", None)
    if regenerate:
        args += ["--keep", regenerate["take"], "--range", f"{regenerate['start']}:{regenerate['end']}"]
    return args


def build_regenerate_request(context, build_request, *, entry_script: str = "", python: str = ""):
    """A Generate request for the selected range of the armature's generated action."""
    scene = context.scene
    settings = scene.ohgesture
    arm_obj = settings.armature
    if arm_obj is None or arm_obj.type != "ARMATURE":
        raise common.SettingsError("Pick a target armature (or create a matching one).")
    action = generated_action(arm_obj)
    if action is None:
        raise common.SettingsError(f"'{arm_obj.name}' has no action generated by OHGesture; generate first.")
    return regenerate_request(context, build_request, settings, arm_obj, action, selection_range(scene, action),
                              entry_script=entry_script, python=python)


def regenerate_request(context, build_request, settings, arm_obj, action, frames, *, entry_script="", python=""):
    info = generated_info(action)
    if not os.path.isfile(info["take"]):
        raise common.SettingsError(f"The motion file of '{action.name}' ({info['take']}) is gone; generate again.")
    with np.load(info["take"], allow_pickle=False) as data:
        take_frames = len(data["rotations"])
    start, end = model_range(info, frames[0], frames[1], take_frames)
    # The take decides audio and placement; the panel decides emotions, seed and quality.
    request = build_request(context, settings=settings, entry_script=entry_script, python=python, animator=False)
    request.audio = info["audio"]
    request.frame_start = info["frame_start"]
    request.scene_fps = info["scene_fps"]
    request.max_frames = info.get("max_frames")
    request.start_seconds = info.get("start_seconds")
    request.duration_seconds = info.get("duration_seconds")
    request.gamma_curve = None
    request.action_name = action.name
    request.armature_name = arm_obj.name
    request.regenerate = {"take": info["take"], "start": start, "end": end, "action": action.name,
                          "first": int(frames[0]), "last": int(frames[1])}
    if getattr(settings, "use_hand_keys", False) and retarget.resolve_map(arm_obj, _skeleton(request), store=False)[0] is None:
        reference = motion_channels(arm_obj, keyframes.read_motion_npz(info["take"]), scene_fps=request.scene_fps,
                                    max_frames=request.max_frames)
        request.constraints = hand_key_constraints(
            arm_obj, action, _skeleton(request), frame_start=request.frame_start, scene_fps=request.scene_fps,
            model_fps=float(info["model_fps"]), frame_limit=(frames[0], frames[1] + 1), reference=reference)
    return request


def _skeleton(request):
    return common.skeleton_metadata(common.model_metadata(Path(request.model)))


def apply_result(request, arm_obj, motion_path: str):
    """Put a finished generation on the armature. Returns (action, messages)."""
    motion = keyframes.read_motion_npz(motion_path)
    messages = list(getattr(request, "notes", []) or [])
    regenerate = getattr(request, "regenerate", None)
    if regenerate:
        action = bpy.data.actions.get(regenerate["action"])
        info = generated_info(action)
        if info is None:
            raise common.SettingsError("The action to regenerate was removed while generating.")
        channels = motion_channels(arm_obj, motion, scene_fps=info["scene_fps"], max_frames=info.get("max_frames"))
        rewrite_keys(action, channels, frame_start=info["frame_start"], first=regenerate["first"],
                     last=regenerate["last"])
        info.update(take=keep_take(motion_path), seed=request.seed, emotions=_emotions(request))
        info.pop("version", None)
        mark_generated(action, info)
        messages.append(f"Regenerated frames {regenerate['first']}-{regenerate['last']} of '{action.name}'")
        return action, messages
    if getattr(request, "layer_upper_body", False):
        channels = upper_body_channels(arm_obj, motion_channels(arm_obj, motion, scene_fps=request.scene_fps,
                                                                 max_frames=request.max_frames))
        action = keyframes.write_channels(arm_obj, channels, frame_start=request.frame_start,
                                          action_name=request.action_name, assign=False)
        layer_over(arm_obj, action, frame_start=request.frame_start, blend_frames=request.layer_blend_frames)
        messages.append(f"Layered the upper body over the animation of '{arm_obj.name}'")
    else:
        action, message = retarget.apply_motion(arm_obj, motion, frame_start=request.frame_start,
                                                scene_fps=request.scene_fps, action_name=request.action_name,
                                                max_frames=request.max_frames)
        messages.insert(0, message)
    _deselect_keys(action)  # so Regenerate Selection starts from nothing selected, not from every key
    mark_generated(action, {
        "take": keep_take(motion_path), "audio": request.audio, "frame_start": request.frame_start,
        "scene_fps": request.scene_fps, "model": request.model, "model_fps": float(motion["fps"]),
        "max_frames": request.max_frames, "start_seconds": request.start_seconds,
        "duration_seconds": request.duration_seconds, "emotions": _emotions(request), "seed": request.seed,
        "layer": bool(getattr(request, "layer_upper_body", False))})
    return action, messages


def _deselect_keys(action) -> None:
    for fc in action_fcurves(action):
        count = len(fc.keyframe_points)
        for prop in ("select_control_point", "select_left_handle", "select_right_handle"):
            fc.keyframe_points.foreach_set(prop, np.zeros(count, dtype=bool))


def _emotions(request):
    if getattr(request, "mix", None):
        return request.mix
    return [request.emotion, request.emotion_2, request.gamma]


# --- operators --------------------------------------------------------------------------------------

class OHGESTURE_OT_sync_emotion_mix(bpy.types.Operator):
    """One slider per emotion of the current model"""

    bl_idname = "ohgesture.sync_emotion_mix"
    bl_label = "Load Model Emotions"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            labels = common.emotion_labels(common.model_metadata(common.model_path(context)))
        except common.SettingsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        sync_emotion_mix(context.scene.ohgesture, labels)
        return {"FINISHED"}


def make_regenerate_operator(base):
    """Regenerate Selection: the Generate operator's modal machinery with another request."""
    from . import operators

    class OHGESTURE_OT_regenerate_selection(bpy.types.Operator):
        """Resample the preview range (or the selected keys' frames) of the generated action with
        the panel's seed and emotions; every key outside it stays exactly as it is"""

        bl_idname = "ohgesture.regenerate_selection"
        bl_label = "Regenerate Selection"
        bl_options = {"REGISTER", "UNDO"}

        entry_script: StringProperty(options={"HIDDEN", "SKIP_SAVE"})
        python: StringProperty(options={"HIDDEN", "SKIP_SAVE"})

        # Borrowed, not inherited: Blender loses track of a registered operator class that is subclassed.
        execute, invoke, modal, cancel = base.execute, base.invoke, base.modal, base.cancel
        _timer = None
        _session = None

        def _start(self, context):
            try:
                request = build_regenerate_request(context, operators.build_request, entry_script=self.entry_script,
                                                   python=self.python)
                return operators.start_session(context, request=request)
            except ValueError as exc:
                self.report({"ERROR"}, str(exc))
                return None

    return OHGESTURE_OT_regenerate_selection
