"""One generation from the panel's settings to keys on the armature.

``build_request`` validates the generation settings (``core.generation.settings``, from the
panel by ``panel_settings`` or from the batch script's flags) and where the take goes
(``Placement``: what is Blender's) into a ``GenerationRequest`` (one sentence on any problem);
``GenerationSession`` runs ``ohgesture generate`` as a subprocess (``job.py``; its command line
is ``core.cli.protocol.generate_argv``) and,
when the motion has arrived, puts it on the armature. The modal operator only calls
``session.step`` on timer events, and scripts or tests can call the same methods in a loop.
The scene is touched only when the motion has arrived, so a cancelled or failed run leaves
it unchanged. One session runs at a time (``start_session``, ``active_session``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy
import numpy as np

from ..core.cli.protocol import generate_argv, parse_note
from ..core.generation.settings import QUALITY_PRESETS, GenerationSettings, parse_mix
from ..core.motion.motion_file import MotionFileError, read_motion_arrays, write_constraints
from . import common, emotion_mix, hand_keys, keyframes, layering, preflight, retarget, takes
from . import job as generator_jobs
from .job import CANCELLED, FAILED, FINISHED, RUNNING, ProcessJob, WorkerJob
from .properties import NO_EMOTION
from .strips import resolve_strip, sound_strips, strip_timing, strips_collection, visible_range

READY = "READY"  # motion file written; keys not yet applied


@dataclass
class Placement:
    """What is Blender's about a take: where its audio comes from (a sound strip, else a sound
    file), the armature that gets the keys and how (the panel's, or the batch script's flags)."""

    armature: object
    sound_strip: str | None = None  # the strip's name ("": the scene's one strip); None: ``sound_file``
    sound_file: str = ""
    frame_start: int | None = None  # a sound file's first frame; None: the scene's start
    use_hand_keys: bool = True
    layer_upper_body: bool = False
    layer_blend_frames: int = 6
    add_sound_strip: bool = True
    key_fingers: bool = True  # and the preference's Key Fingers (batch: --no-finger-keys turns it off)
    animated_blend: bool = False  # the panel's Blend may be keyed on the scene (``_gamma_curve``)


def panel_placement(settings) -> Placement:
    """The panel's (``scene.ohgesture``) placement."""
    return Placement(armature=settings.armature, sound_strip=settings.sound_strip if settings.source == "STRIP" else None,
                     sound_file=settings.sound_file if settings.source != "STRIP" else "",
                     use_hand_keys=settings.use_hand_keys, layer_upper_body=settings.layer_upper_body,
                     layer_blend_frames=settings.layer_blend_frames, add_sound_strip=settings.add_sound_strip,
                     animated_blend=True)


def _panel_number(value: float) -> float:
    """A panel float (single precision) as the six significant digits it shows: 0.3, not
    0.30000001192092896, so a panel take matches ``--blend sad:0.3`` on the command line."""
    return float(f"{value:g}")


def panel_settings(context, settings, labels) -> GenerationSettings:
    """The panel's generation settings; the model and device are the preferences'."""
    emotion, emotion_2 = (None if value == NO_EMOTION else value for value in (settings.emotion, settings.emotion_2))
    sampler, steps = QUALITY_PRESETS[settings.quality]
    share = _panel_number(settings.blend)
    mix = None
    if settings.mix_emotions:
        mix = parse_mix(emotion_mix.mix_argument(settings.emotion_mix, labels)[1])
        emotion = emotion_2 = None
    return GenerationSettings(
        model=str(common.model_path(context)), emotion=emotion,
        blend=(emotion_2, share) if emotion_2 is not None else None, mix=mix,
        guidance=_panel_number(settings.guidance), energy=_panel_number(settings.energy), sampler=sampler,
        steps=None if sampler == "ddpm" else steps, seed=int(settings.seed), retime=bool(settings.follow_speech),
        foot_lock=bool(settings.lock_feet), rest=bool(settings.rest_in_pauses), delivery=_panel_number(settings.delivery),
        device=common.device(context))


@dataclass
class GenerationRequest:
    settings: GenerationSettings  # how the motion is made
    audio: str
    scene_name: str
    armature_name: str
    frame_start: int
    scene_fps: float
    max_frames: int | None
    start_seconds: float | None
    duration_seconds: float | None
    gamma_curve: np.ndarray | None  # share of the blend's emotion at evenly spaced times over the clip
    python: str
    entry_script: str
    action_name: str
    constraints: dict | None = None  # hand-keyed poses (hand_keys.request_constraints)
    kept_keys: list | None = None  # the armature's kept keys to store with the take (hand_keys.request_constraints)
    regenerate: dict | None = None  # take, model range and scene frames of Regenerate Selection
    layer_upper_body: bool = False
    layer_blend_frames: int = 6
    notes: list = field(default_factory=list)
    packed_sound: list | None = None  # preflight.packed_sound_key: the generator reads its packed data
    cover_take: bool = False  # Sound File source: the scene's frame range is widened to the take
    delivery_curve: np.ndarray | None = None  # the animated Delivery, sampled as gamma_curve is
    add_sound_strip: bool = False  # Sound File source: the audio becomes a sound strip at the take's start
    key_fingers: bool = True  # keys on the rig's finger bones when the take has fingers

    @property
    def model(self) -> str:
        return self.settings.model

    @property
    def seed(self) -> int:
        return self.settings.seed


# --- the request -------------------------------------------------------------------------

def _fcurve_for(id_data, data_path: str):
    anim = getattr(id_data, "animation_data", None)
    action = anim.action if anim else None
    if action is None:
        return None
    slot = getattr(anim, "action_slot", None)
    if slot is not None and getattr(action, "layers", None) is not None:
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        channelbag = action_get_channelbag_for_slot(action, slot)
        return channelbag.fcurves.find(data_path) if channelbag else None
    return action.fcurves.find(data_path)


def _gamma_curve(scene, frame_start: int, frame_count: int, scene_fps: float, motion_fps, prop: str = "blend"):
    """The animated blend (or another panel value ``prop``) sampled at the motion's frame times
    (evenly spread over the clip, as ``generate --gamma-curve`` and ``--delivery-curve`` read
    it), or None when it is not animated."""
    fcurve = _fcurve_for(scene, f"ohgesture.{prop}")
    if fcurve is None or frame_count <= 0:
        return None
    duration = frame_count / scene_fps
    if motion_fps:
        times = np.arange(max(1, int(round(duration * motion_fps)))) / motion_fps
    else:
        times = np.arange(frame_count) / scene_fps
    frames = frame_start + times * scene_fps
    return np.clip([fcurve.evaluate(float(f)) for f in frames], 0.0, 1.0)


def _strip_audio(scene, placement: Placement, scene_fps: float) -> dict:
    """The strip's audio as it plays: its visible frames (inside any meta strip's handles)."""
    strip = resolve_strip(scene, placement.sound_strip)
    if strip.sound is None:
        raise common.SettingsError(f"The sound strip '{strip.name}' has no sound data.")
    left, right = visible_range(strip)
    content_start, content_length = strip_timing(strip)[2:]
    if right - left <= 0:
        raise common.SettingsError(f"The sound strip '{strip.name}' has no visible frames.")
    audio = {"audio": bpy.path.abspath(strip.sound.filepath, library=strip.sound.library), "label": strip.name,
             "frame_start": left, "max_frames": right - left, "start_seconds": None, "duration_seconds": None,
             "packed_sound": preflight.packed_sound_key(strip.sound)}
    offset = getattr(strip, "sound_offset", 0.0) + max(0.0, (left - content_start) / scene_fps)
    if offset > 1e-6 or right < content_start + content_length:
        audio["start_seconds"], audio["duration_seconds"] = offset, audio["max_frames"] / scene_fps
    return audio


def _audio_source(scene, placement: Placement, scene_fps: float) -> dict:
    """audio (path), label, frame_start, max_frames, start_seconds, duration_seconds,
    packed_sound (or None)."""
    if placement.sound_strip is not None:
        source = _strip_audio(scene, placement, scene_fps)
    else:
        if not placement.sound_file:
            raise common.SettingsError("Pick a sound file or switch the source to a sound strip.")
        audio = bpy.path.abspath(placement.sound_file)
        frame_start = placement.frame_start
        source = {"audio": audio, "label": os.path.splitext(os.path.basename(audio))[0],
                  "frame_start": int(scene.frame_start if frame_start is None else frame_start),
                  "max_frames": None, "start_seconds": None, "duration_seconds": None, "packed_sound": None}
    source["audio"] = os.path.normpath(source["audio"])
    _check_source(source)
    return source


def _check_source(source: dict) -> None:
    """The audio the generator will read: the packed data where the sound is packed (the file
    may be gone), else the file."""
    sound = preflight.packed_sound(source.get("packed_sound"))
    if sound is not None:
        preflight.check_packed_sound(sound, source["audio"])
    else:
        source["packed_sound"] = None
        preflight.check_audio_file(source["audio"])


def _take_source(info: dict) -> dict:
    """The audio and placement a generated take recorded (Regenerate uses them, not the panel's)."""
    source = {"audio": info["audio"], "label": "", "frame_start": info["frame_start"],
              "max_frames": info.get("max_frames"), "start_seconds": info.get("start_seconds"),
              "duration_seconds": info.get("duration_seconds"), "packed_sound": info.get("packed_sound")}
    _check_source(source)
    return source


def _action_name(label: str, generation: GenerationSettings, labels, gamma_curve) -> str:
    if generation.mix is not None:
        parts = ["OHG mix"] + [f"{emotion} {w:.2f}" for emotion, w in generation.emotions(labels)]
    else:
        parts = ["OHG", label, generation.emotion or "neutral"]
        if generation.blend is not None:
            emotion_2, share = generation.blend
            parts.append(f"+{emotion_2} {share:.2f}" if gamma_curve is None else f"+{emotion_2} animated")
    parts.append(f"seed {generation.seed}")
    return " ".join(parts)


def _checked(generation: GenerationSettings, metadata: dict) -> None:
    """The settings' limits (``validate``, ``check_model``) as one sentence for the operator."""
    labels = common.emotion_labels(metadata)
    for chosen in (generation.emotion, generation.blend and generation.blend[0]):
        if chosen is not None and labels and chosen not in labels:
            raise common.SettingsError(
                f"The model does not know the emotion '{chosen}'; valid emotions: {', '.join(labels)}.")
    try:
        generation.validate()
        generation.check_model({**metadata, "emotions": labels})
    except ValueError as exc:
        raise common.SettingsError(str(exc)[:1].upper() + str(exc)[1:]) from None


def build_request(context, *, generation: GenerationSettings | None = None, placement: Placement | None = None,
                  entry_script: str = "", python: str = "", animator: bool = True,
                  source: dict | None = None) -> GenerationRequest:
    """Validate the generation settings and the placement (default: the panel's); raise
    SettingsError with one sentence on any problem. ``animator`` adds hand keys as constraints
    and the upper-body layer; ``source`` replaces the placement's audio (``_take_source``)."""
    scene = context.scene
    placement = placement or panel_placement(scene.ohgesture)
    scene_fps = keyframes.scene_frame_rate(scene)
    from_file = source is None and placement.sound_strip is None
    source = source or _audio_source(scene, placement, scene_fps)
    arm_obj = placement.armature
    model = Path(generation.model) if generation is not None and generation.model else common.model_path(context)
    metadata = common.model_metadata(model)
    preflight.check_armature(arm_obj, metadata)
    preflight.check_ik(arm_obj, metadata, upper_body_only=placement.layer_upper_body)
    labels = common.emotion_labels(metadata)
    if generation is None:
        generation = panel_settings(context, scene.ohgesture, labels)
    generation = replace(generation, model=str(model))
    _checked(generation, metadata)
    gamma_curve = None
    if generation.blend is not None and placement.animated_blend:
        gamma_curve = _gamma_curve(scene, source["frame_start"], source["max_frames"] or 0, scene_fps,
                                   common.model_fps(metadata))
    delivery_curve = None
    if placement.animated_blend:
        delivery_curve = _gamma_curve(scene, source["frame_start"], source["max_frames"] or 0, scene_fps,
                                      common.model_fps(metadata), prop="delivery")
    action_name = _action_name(source["label"], generation, labels, gamma_curve)
    if generation.blend is not None and gamma_curve is None and not generation.blend[1] > 0:
        generation = replace(generation, blend=None)  # a share of 0 is the first emotion alone
    python = python or common.python_interpreter(context)
    if not os.path.isfile(python):
        raise common.SettingsError("No Python with torch was found; install the dependencies in the add-on preferences.")
    request = GenerationRequest(
        settings=generation, audio=source["audio"], scene_name=scene.name, armature_name=arm_obj.name,
        frame_start=source["frame_start"], scene_fps=scene_fps, max_frames=source["max_frames"],
        start_seconds=source["start_seconds"], duration_seconds=source["duration_seconds"], gamma_curve=gamma_curve,
        python=python, entry_script=entry_script or str(common.ENTRY_SCRIPT), action_name=action_name,
        packed_sound=source["packed_sound"], delivery_curve=delivery_curve,
        key_fingers=placement.key_fingers and getattr(common.preferences(context), "key_fingers", True))
    if animator:
        request.layer_upper_body = placement.layer_upper_body
        request.layer_blend_frames = int(placement.layer_blend_frames)
        if placement.use_hand_keys:
            request.constraints, request.notes, request.kept_keys = hand_keys.request_constraints(
                arm_obj, request, metadata)
        request.cover_take = from_file
        request.add_sound_strip = from_file and placement.add_sound_strip
    return request


def _skeleton(request):
    return common.skeleton_metadata(common.model_metadata(Path(request.model)))


def _placed_like_the_take(request, info: dict, action_name: str, arm_obj) -> None:
    """The take decides audio and placement (``_take_source``); the panel decides emotions,
    seed and quality."""
    request.scene_fps = info["scene_fps"]
    request.gamma_curve = request.delivery_curve = None
    request.action_name = action_name
    request.armature_name = arm_obj.name


def regenerate_request(context, placement: Placement, action, frames, *, generation=None, entry_script="",
                       python=""):
    """A Generate request for scene frames ``frames`` (first, last) of the generated ``action``
    (``generation``: the settings, default the panel's)."""
    arm_obj = placement.armature
    info = takes.generated_info(action)
    if not os.path.isfile(info["take"]):
        raise common.SettingsError(f"The motion file of '{action.name}' ({info['take']}) is gone; generate again.")
    take_frames = len(read_motion_arrays(info["take"])["rotations"])
    start, end = takes.model_range(info, frames[0], frames[1], take_frames)
    request = build_request(context, generation=generation, placement=placement, entry_script=entry_script,
                            python=python, animator=False, source=_take_source(info))
    _placed_like_the_take(request, info, action.name, arm_obj)
    request.regenerate = {"take": info["take"], "start": start, "end": end, "action": action.name,
                          "first": int(frames[0]), "last": int(frames[1])}
    if placement.use_hand_keys and hand_keys.keeps_keys(arm_obj, _skeleton(request)):
        request.constraints = hand_keys.regenerate_constraints(
            arm_obj, action, _skeleton(request), info["take"], frame_start=request.frame_start,
            scene_fps=request.scene_fps, model_fps=float(info["model_fps"]), max_frames=request.max_frames,
            frame_limit=(frames[0], frames[1] + 1))
    return request


def build_regenerate_request(context, *, entry_script: str = "", python: str = ""):
    """A Generate request for the selected range of the target armature's generated action."""
    scene = context.scene
    settings = scene.ohgesture
    arm_obj = settings.armature
    if arm_obj is None or arm_obj.type != "ARMATURE":
        raise common.SettingsError("Pick a target armature (or create a matching one).")
    action = takes.generated_action(arm_obj)
    if action is None:
        raise common.SettingsError(f"'{arm_obj.name}' has no action generated by OHGesture; generate first.")
    return regenerate_request(context, panel_placement(settings), action, takes.selection_range(scene, action),
                              entry_script=entry_script, python=python)


# --- the command -------------------------------------------------------------------------

def generation_argv(request: GenerationRequest, workdir: str, out_path: str) -> list[str]:
    """The generator's arguments (``core.cli.protocol.generate_argv``), its input files (the
    gamma curve, the constraints, a packed sound's data) written into ``workdir``."""
    gamma_path = constraints_path = delivery_path = None
    if request.gamma_curve is not None:
        gamma_path = os.path.join(workdir, "gamma_curve.npy")
        np.save(gamma_path, request.gamma_curve.astype(np.float32))
    if request.delivery_curve is not None:
        delivery_path = os.path.join(workdir, "delivery_curve.npy")
        np.save(delivery_path, request.delivery_curve.astype(np.float32))
    if request.constraints is not None:
        constraints_path = os.path.join(workdir, "constraints.npz")
        write_constraints(constraints_path, request.constraints)
    regenerate = request.regenerate or {}
    return generate_argv(request.settings, _audio_input(request, workdir), out_path, gamma_curve=gamma_path,
                         delivery_curve=delivery_path,
                         constraints=constraints_path, keep=regenerate.get("take"),
                         frame_range=(regenerate["start"], regenerate["end"]) if regenerate else None,
                         start_seconds=request.start_seconds, duration_seconds=request.duration_seconds)


def _audio_input(request: GenerationRequest, workdir: str) -> str:
    """The file the generator reads: a packed sound's data written into ``workdir`` (removed
    with it), else the audio file."""
    if preflight.packed_sound(request.packed_sound) is not None:
        return preflight.write_packed_sound(request.packed_sound, request.audio, workdir)
    preflight.check_audio_file(request.audio)
    return request.audio


# --- the result --------------------------------------------------------------------------

def _emotion_record(request):
    generation = request.settings
    if generation.mix is not None:
        return ",".join(f"{label}:{w:.6g}" for label, w in generation.mix)
    emotion_2, share = generation.blend or (None, 0.0)
    return [generation.emotion, emotion_2, share]


def _apply_regenerated(request, arm_obj, motion: dict, motion_path: str):
    """Rewrite the regenerated range of the action in place. Returns (action, message)."""
    regenerate = request.regenerate
    action = bpy.data.actions.get(regenerate["action"])
    info = takes.generated_info(action)
    if info is None:
        raise common.SettingsError("The action to regenerate was removed while generating.")
    if info.get("layer"):  # the spine stands on the hips below the layer, as Generate keyed it
        channels = layering.layer_channels(arm_obj, motion, frame_start=info["frame_start"],
                                           scene_fps=info["scene_fps"], max_frames=info.get("max_frames"),
                                           fingers=info.get("fingers", True))
    else:
        channels = retarget.motion_channels(arm_obj, motion, scene_fps=info["scene_fps"],
                                            max_frames=info.get("max_frames"), fingers=info.get("fingers", True))
    takes.rewrite_keys(action, channels, frame_start=info["frame_start"], first=regenerate["first"],
                       last=regenerate["last"], modes={b.name: b.rotation_mode for b in arm_obj.pose.bones})
    info.update(take=takes.keep_take(motion_path), seed=request.seed, emotions=_emotion_record(request))
    info.pop("version", None)
    takes.mark_generated(action, info)
    return action, f"Regenerated frames {regenerate['first']}-{regenerate['last']} of '{action.name}'"


def _apply_new_action(request, arm_obj, motion: dict, motion_path: str):
    """Key the motion into a new action (or an upper-body layer) and record how it was made."""
    timing = dict(frame_start=request.frame_start, scene_fps=request.scene_fps, max_frames=request.max_frames,
                  action_name=request.action_name)
    if request.layer_upper_body:
        action, message = layering.key_upper_body_layer(arm_obj, motion, blend_frames=request.layer_blend_frames,
                                                        fingers=request.key_fingers, **timing)
    else:
        action, message = retarget.apply_motion(arm_obj, motion, fingers=request.key_fingers, **timing)
    takes.deselect_keys(action)  # so Regenerate Selection starts from nothing selected, not from every key
    takes.mark_generated(action, {
        "take": takes.keep_take(motion_path), "audio": request.audio, "frame_start": request.frame_start,
        "scene_fps": request.scene_fps, "model": request.model, "model_fps": float(motion["fps"]),
        "max_frames": request.max_frames, "start_seconds": request.start_seconds,
        "duration_seconds": request.duration_seconds, "emotions": _emotion_record(request), "seed": request.seed,
        "layer": bool(request.layer_upper_body), "packed_sound": request.packed_sound,
        "fingers": bool(request.key_fingers)})
    return action, message


def apply_result(request, arm_obj, motion_path: str):
    """Put a finished generation on the armature: the model's own armature takes the exact
    path, any other rig goes through its stored bone map or an automatic one (then stored on
    the object for editing); Regenerate Selection rewrites keys in place; the upper-body
    option layers in the NLA. Returns (action, messages)."""
    motion = read_motion_arrays(motion_path)
    notes = list(request.notes or [])
    if request.regenerate:
        action, message = _apply_regenerated(request, arm_obj, motion, motion_path)
        return action, notes + [message]
    action, message = _apply_new_action(request, arm_obj, motion, motion_path)
    if request.kept_keys is not None:
        hand_keys.store_kept_keys(arm_obj, request.kept_keys)
    return action, ([message] + notes if not request.layer_upper_body else notes + [message])


# --- the Sound File's take in the scene ----------------------------------------------------

SOUND_STRIP_MARK = "ohgesture_sound"  # on the sound strips that Generate added


def _strip_file(strip) -> str | None:
    sound = getattr(strip, "sound", None)
    return os.path.normpath(bpy.path.abspath(sound.filepath, library=sound.library)) if sound else None


def _free_channel(scene, first: int, end: int) -> int:
    """The lowest channel with no strip between frames ``first`` and ``end``."""
    busy = {s.channel for s in strips_collection(scene) if strip_timing(s)[0] < end and strip_timing(s)[1] > first}
    return next(c for c in range(1, 129) if c not in busy)


def _place_sound_strip(scene, audio: str, first: int, end: int) -> list[str]:
    """The audio as a sound strip starting at frame ``first``: none is added when a strip
    of the file starts there already; the one Generate added for an earlier take of the
    file moves there; else a new one goes on a free channel."""
    audio = os.path.normpath(audio)  # as _strip_file gives the strips' paths ("//../x.wav" included)
    same = [s for s in sound_strips(scene) if _strip_file(s) == audio]
    if any(int(round(strip_timing(s)[2])) == first for s in same):
        return []
    ours = next((s for s in same if s.get(SOUND_STRIP_MARK)), None)
    if ours is not None:
        setattr(ours, "content_start" if hasattr(ours, "content_start") else "frame_start", first)
        return [f"Moved the sound strip '{ours.name}' to frame {first}"]
    if scene.sequence_editor is None:
        scene.sequence_editor_create()
    name = os.path.splitext(os.path.basename(audio))[0] or "speech"
    strip = strips_collection(scene).new_sound(name[:63], audio, _free_channel(scene, first, end), first)
    strip[SOUND_STRIP_MARK] = True
    return [f"Added the sound strip '{strip.name}' at frame {first}"]


def place_take(scene, request, action) -> list[str]:
    """A Sound File take in the scene: its audio as a sound strip (``add_sound_strip``) and a
    frame range that covers it (widened, never shrunk). Returns notes for the report."""
    first, last = (int(round(f)) for f in action.frame_range)
    notes = _place_sound_strip(scene, request.audio, first, last + 1) if request.add_sound_strip else []
    if first < scene.frame_start or last > scene.frame_end:
        scene.frame_start, scene.frame_end = min(first, scene.frame_start), max(last, scene.frame_end)
        notes.append(f"The scene's frame range is now {scene.frame_start}-{scene.frame_end}, covering the take")
    return notes


# --- the session -------------------------------------------------------------------------

def _warm_minutes() -> int:
    prefs = common.preferences()
    return getattr(prefs, "generator_idle_minutes", 10) if prefs is not None else 10


def _worker_key(python: str, model: str) -> tuple:
    """What a warm worker is started for: the interpreter, and the model file as it is now."""
    stat = os.stat(model) if model and os.path.isfile(model) else None
    return (python, os.path.abspath(str(common.ENTRY_SCRIPT)), model, stat and stat.st_mtime_ns, stat and stat.st_size)


def _generator_job(request: GenerationRequest, argv: list[str]):
    """The shipped generator runs in the session's warm worker (``job.WorkerJob``) unless the
    preference Keep Generator Warm is 0; another entry script (a test's stand-in) runs as a
    process of its own."""
    minutes = _warm_minutes()
    entry = os.path.abspath(request.entry_script)
    if minutes <= 0 or entry != os.path.abspath(str(common.ENTRY_SCRIPT)):
        return ProcessJob([request.python, request.entry_script, *argv], description="Starting")
    return WorkerJob(argv, python=request.python, entry_script=entry, idle_seconds=60.0 * minutes,
                     key=_worker_key(request.python, request.settings.model))


def warm_up(context) -> bool:
    """Start the warm worker before the first Generate (the preference Start Generator With
    the Panel); False when there is nothing to start it with."""
    python = common.python_interpreter(context)
    minutes = _warm_minutes()
    if minutes <= 0 or not os.path.isfile(python):
        return False
    try:
        model = str(common.model_path(context))
        generator_jobs.warm_worker(python, os.path.abspath(str(common.ENTRY_SCRIPT)), _worker_key(python, model),
                                   60.0 * minutes)
    except OSError:
        return False
    return True


class GenerationSession:
    """One generation from subprocess start to keys on the armature."""

    def __init__(self, request: GenerationRequest):
        self.request = request
        self.workdir = tempfile.mkdtemp(prefix="ohgesture_")
        self.out_path = os.path.join(self.workdir, "motion.npz")
        try:
            argv = generation_argv(request, self.workdir, self.out_path)
        except BaseException:
            self.cleanup()
            raise
        self.command = [request.python, request.entry_script, *argv]
        self.job = _generator_job(request, argv)
        self.action = None
        self.messages = []  # what putting the motion on the armature did, one sentence each
        self.map_message = ""
        self.error = ""
        self.state = None
        self.tidy_takes = False  # remove earlier takes beyond the preference when done (takes.tidy_takes)

    def start(self) -> "GenerationSession":
        self.job.start()
        self.state = self.job.state
        if self.state == FAILED:
            self.error = self.job.error
        return self

    @property
    def progress(self) -> float:
        return self.job.progress

    @property
    def message(self) -> str:
        return self.job.message

    def poll(self) -> str:
        if self.state != RUNNING:
            return self.state
        state = self.job.poll()
        if state == FAILED:
            self.state, self.error = FAILED, self.job.error or "Generation failed."
        elif state == FINISHED:
            self.state = READY
        return self.state

    def finish(self):
        """Write the keys (main thread). Returns the new action; raises ValueError."""
        request = self.request
        scene = bpy.data.scenes.get(request.scene_name)
        arm_obj = bpy.data.objects.get(request.armature_name)
        if scene is None or arm_obj is None or arm_obj.type != "ARMATURE":
            raise common.SettingsError("The scene or armature was removed while generating.")
        if not os.path.isfile(self.out_path):
            raise MotionFileError("Generation ended without writing a motion file.")
        self.action, self.messages = apply_result(request, arm_obj, self.out_path)
        try:  # the keys are on the rig: what follows must not leave the session stuck
            if request.cover_take and not request.regenerate:
                self.messages += place_take(scene, request, self.action)
            if self.tidy_takes and not request.regenerate:
                self.messages += [m for m in [takes.tidy_takes(arm_obj)] if m]
        except (RuntimeError, OSError, StopIteration) as exc:
            self.messages.append(f"The keys are written, but placing the sound strip or removing earlier takes "
                                 f"failed: {exc}")
        self.map_message = "; ".join(self.messages)
        self.state = FINISHED
        return self.action

    def notes(self) -> list[str]:
        """The generator's ``note: ...`` lines (e.g. audio shorter than the model's seed window
        was padded with silence)."""
        return [note for note in map(parse_note, self.job.lines) if note is not None]

    def cancel(self) -> None:
        self.job.cancel()
        if self.state in (None, RUNNING, READY):
            self.state = CANCELLED

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _report_end(self, report) -> set:
        if self.state == READY:
            try:
                action = self.finish()
            except ValueError as exc:
                self.state, self.error = FAILED, str(exc)
            else:
                report({"INFO"}, self.map_message)
                for note in self.notes():
                    report({"WARNING"}, f"note: {note}")
                report({"INFO"}, f"Generated action '{action.name}'.")
                return {"FINISHED"}
        if self.state == FAILED:
            report({"ERROR"}, f"Gesture generation failed: {self.error}")
        elif self.state == CANCELLED:
            report({"WARNING"}, "Gesture generation cancelled; the scene is unchanged.")
        return {"CANCELLED"}

    def step(self, report) -> set:
        """One modal tick: {'RUNNING_MODAL'} while running, else the operator's result."""
        if self.poll() == RUNNING:
            return {"RUNNING_MODAL"}
        try:
            return self._report_end(report)
        finally:
            self.cleanup()

    def run_blocking(self, report, timeout=None) -> set:
        """Scripts and background mode, where timers never fire."""
        if self.state == RUNNING:
            self.job.wait(timeout=timeout)
            if self.job.state == FAILED and not self.error:
                self.state, self.error = FAILED, self.job.error
        return self.step(report)


_active_session: GenerationSession | None = None


def active_session() -> GenerationSession | None:
    return _active_session if _active_session is not None and _active_session.state in (RUNNING, READY) else None


def start_session(context, *, entry_script: str = "", python: str = "", request=None) -> GenerationSession:
    """Validate, start the subprocess, register it as the running session."""
    global _active_session
    if active_session() is not None:
        raise common.SettingsError("A generation is already running; wait for it or cancel it.")
    request = request or build_request(context, entry_script=entry_script, python=python)
    session = GenerationSession(request)
    session.tidy_takes = True  # the panel's Generate keeps Earlier Takes Kept; the batch keeps every take it makes
    session.start()
    if session.state == FAILED:
        session.cleanup()
        raise common.SettingsError(session.error)
    _active_session = session
    update_status(context, session)
    return session


def cancel_active_session() -> bool:
    session = active_session()
    if session is None:
        return False
    session.cancel()
    return True


def update_status(context, session) -> None:
    """The panel's progress bar for ``session`` (None: nothing running)."""
    running = session is not None and session.state in (RUNNING, READY)
    common.set_status(context, running, session.progress if running else 0.0, session.message if running else "",
                      area_type="VIEW_3D")
