"""One generation from the panel's settings to keys on the armature.

``build_request`` validates the settings into a ``GenerationRequest`` (one sentence on any
problem); ``GenerationSession`` runs ``ohgesture generate`` as a subprocess (``job.py``) and,
when the motion has arrived, puts it on the armature. The modal operator only calls
``session.step`` on timer events, and scripts or tests can call the same methods in a loop.
The scene is touched only when the motion has arrived, so a cancelled or failed run leaves
it unchanged. One session runs at a time (``start_session``, ``active_session``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ..core.generation.settings import DEFAULT_ENERGY
from ..core.motion.motion_file import MotionFileError, read_motion_arrays, write_constraints
from . import common, emotion_mix, hand_keys, keyframes, layering, preflight, retarget, takes
from .job import CANCELLED, FAILED, FINISHED, RUNNING, ProcessJob
from .properties import NO_EMOTION
from .strips import resolve_strip, sound_strips, strip_timing, strips_collection, visible_range

READY = "READY"  # motion file written; keys not yet applied


@dataclass
class GenerationRequest:
    audio: str
    scene_name: str
    armature_name: str
    frame_start: int
    scene_fps: float
    max_frames: int | None
    start_seconds: float | None
    duration_seconds: float | None
    emotion: str | None
    emotion_2: str | None
    gamma: float
    gamma_curve: np.ndarray | None  # share of emotion 2 at evenly spaced times over the clip
    guidance: float
    sampler: str
    steps: int
    seed: int
    device: str
    model: str
    python: str
    entry_script: str
    action_name: str
    extra_args: list = field(default_factory=list)
    mix: str | None = None  # "--mix" text for several emotions (then emotion/emotion_2 are None)
    constraints: dict | None = None  # hand-keyed poses (hand_keys.request_constraints)
    kept_keys: list | None = None  # the armature's kept keys to store with the take (hand_keys.request_constraints)
    regenerate: dict | None = None  # take, model range and scene frames of Regenerate Selection
    energy: float = DEFAULT_ENERGY  # how much the hands move (core/generation/defaults.py)
    retime: bool = True  # re-time to the model's expected activity (core/generation/retiming.py)
    foot_lock: bool = True  # pin planted feet (core/generation/footlock.py)
    layer_upper_body: bool = False
    layer_blend_frames: int = 6
    notes: list = field(default_factory=list)
    packed_sound: list | None = None  # preflight.packed_sound_key: the generator reads its packed data
    cover_take: bool = False  # Sound File source: the scene's frame range is widened to the take
    add_sound_strip: bool = False  # Sound File source: the audio becomes a sound strip at the take's start


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


def _gamma_curve(scene, frame_start: int, frame_count: int, scene_fps: float, motion_fps):
    """The animated blend sampled at the motion's frame times (evenly spread over the clip,
    as ``generate --gamma-curve`` reads it), or None when the blend is not animated."""
    fcurve = _fcurve_for(scene, "ohgesture.blend")
    if fcurve is None or frame_count <= 0:
        return None
    duration = frame_count / scene_fps
    if motion_fps:
        times = np.arange(max(1, int(round(duration * motion_fps)))) / motion_fps
    else:
        times = np.arange(frame_count) / scene_fps
    frames = frame_start + times * scene_fps
    return np.clip([fcurve.evaluate(float(f)) for f in frames], 0.0, 1.0)


def _strip_audio(scene, settings, scene_fps: float) -> dict:
    """The strip's audio as it plays: its visible frames (inside any meta strip's handles)."""
    strip = resolve_strip(scene, settings.sound_strip)
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


def _audio_source(scene, settings, scene_fps: float) -> dict:
    """audio (path), label, frame_start, max_frames, start_seconds, duration_seconds,
    packed_sound (or None)."""
    if settings.source == "STRIP":
        source = _strip_audio(scene, settings, scene_fps)
    else:
        if not settings.sound_file:
            raise common.SettingsError("Pick a sound file or switch the source to a sound strip.")
        audio = bpy.path.abspath(settings.sound_file)
        frame_start = getattr(settings, "frame_start", None)  # the batch's --frame-start
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


def _emotions(settings, labels) -> tuple[str | None, str | None]:
    emotion = settings.emotion if settings.emotion != NO_EMOTION else None
    emotion_2 = settings.emotion_2 if settings.emotion_2 != NO_EMOTION else None
    for chosen in (emotion, emotion_2):
        if chosen is not None and labels and chosen not in labels:
            raise common.SettingsError(
                f"The model does not know the emotion '{chosen}'; valid emotions: {', '.join(labels)}.")
    return emotion, emotion_2


def _action_name(label: str, emotion, emotion_2, settings, gamma_curve) -> str:
    parts = ["OHG", label, emotion or "neutral"]
    if emotion_2 is not None:
        parts.append(f"+{emotion_2} {settings.blend:.2f}" if gamma_curve is None else f"+{emotion_2} animated")
    parts.append(f"seed {settings.seed}")
    return " ".join(parts)


def build_request(context, *, settings=None, entry_script: str = "", python: str = "",
                  animator: bool = True, source: dict | None = None) -> GenerationRequest:
    """Validate the settings (default: the scene's); raise SettingsError with one sentence
    on any problem. ``animator`` adds hand keys as constraints and the upper-body layer;
    ``source`` replaces the panel's audio (``_take_source``)."""
    scene = context.scene
    settings = settings if settings is not None else scene.ohgesture
    scene_fps = keyframes.scene_frame_rate(scene)
    from_file = source is None and settings.source != "STRIP"
    source = source or _audio_source(scene, settings, scene_fps)
    arm_obj = settings.armature
    model = common.model_path(context)
    metadata = common.model_metadata(model)
    preflight.check_armature(arm_obj, metadata)
    preflight.check_ik(arm_obj, metadata, upper_body_only=bool(getattr(settings, "layer_upper_body", False)))
    labels = common.emotion_labels(metadata)
    emotion, emotion_2 = _emotions(settings, labels)
    gamma_curve = None
    if emotion_2 is not None and isinstance(settings, bpy.types.bpy_struct):
        gamma_curve = _gamma_curve(scene, source["frame_start"], source["max_frames"] or 0, scene_fps,
                                   common.model_fps(metadata))
    python = python or common.python_interpreter(context)
    if not os.path.isfile(python):
        raise common.SettingsError("No Python with torch was found; install the dependencies in the add-on preferences.")
    sampler, steps = common.QUALITY_PRESETS[settings.quality]
    request = GenerationRequest(
        audio=source["audio"], scene_name=scene.name, armature_name=arm_obj.name, frame_start=source["frame_start"],
        scene_fps=scene_fps, max_frames=source["max_frames"], start_seconds=source["start_seconds"],
        duration_seconds=source["duration_seconds"], emotion=emotion, emotion_2=emotion_2,
        gamma=float(settings.blend), gamma_curve=gamma_curve, guidance=float(settings.guidance), sampler=sampler,
        steps=steps, seed=int(settings.seed), device=common.device(context), model=str(model), python=python,
        entry_script=entry_script or str(common.ENTRY_SCRIPT),
        action_name=_action_name(source["label"], emotion, emotion_2, settings, gamma_curve),
        retime=bool(getattr(settings, "follow_speech", True)), foot_lock=bool(getattr(settings, "lock_feet", True)),
        energy=float(getattr(settings, "energy", DEFAULT_ENERGY)), packed_sound=source["packed_sound"])
    emotion_mix.apply_mix(request, settings, labels)
    if animator:
        request.layer_upper_body = bool(getattr(settings, "layer_upper_body", False))
        request.layer_blend_frames = int(getattr(settings, "layer_blend_frames", 6))
        if getattr(settings, "use_hand_keys", False):
            request.constraints, request.notes, request.kept_keys = hand_keys.request_constraints(
                arm_obj, request, metadata)
        request.cover_take = from_file
        request.add_sound_strip = from_file and bool(getattr(settings, "add_sound_strip", True))
    return request


def _skeleton(request):
    return common.skeleton_metadata(common.model_metadata(Path(request.model)))


def _placed_like_the_take(request, info: dict, action_name: str, arm_obj) -> None:
    """The take decides audio and placement (``_take_source``); the panel decides emotions,
    seed and quality."""
    request.scene_fps = info["scene_fps"]
    request.gamma_curve = None
    request.action_name = action_name
    request.armature_name = arm_obj.name


def regenerate_request(context, settings, arm_obj, action, frames, *, entry_script="", python=""):
    """A Generate request for scene frames ``frames`` (first, last) of the generated ``action``."""
    info = takes.generated_info(action)
    if not os.path.isfile(info["take"]):
        raise common.SettingsError(f"The motion file of '{action.name}' ({info['take']}) is gone; generate again.")
    take_frames = len(read_motion_arrays(info["take"])["rotations"])
    start, end = takes.model_range(info, frames[0], frames[1], take_frames)
    request = build_request(context, settings=settings, entry_script=entry_script, python=python, animator=False,
                            source=_take_source(info))
    _placed_like_the_take(request, info, action.name, arm_obj)
    request.regenerate = {"take": info["take"], "start": start, "end": end, "action": action.name,
                          "first": int(frames[0]), "last": int(frames[1])}
    if getattr(settings, "use_hand_keys", False) and hand_keys.keeps_keys(arm_obj, _skeleton(request)):
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
    return regenerate_request(context, settings, arm_obj, action, takes.selection_range(scene, action),
                              entry_script=entry_script, python=python)


# --- the command -------------------------------------------------------------------------

def generation_command(request: GenerationRequest, out_path: str, gamma_curve_path: str | None,
                       audio: str | None = None) -> list[str]:
    """The generator's command line; ``audio`` replaces ``request.audio`` (packed data written out)."""
    command = [request.python, request.entry_script, "generate", audio or request.audio, "--out", out_path,
               "--progress-lines", "--model", request.model, "--guidance", f"{request.guidance:g}",
               "--energy", f"{request.energy:g}", "--sampler", request.sampler, "--seed", str(request.seed), "--device", request.device]
    if request.sampler != "ddpm":  # ddpm always runs the model's full schedule
        command += ["--steps", str(request.steps)]
    if not request.retime:
        command += ["--no-retime"]
    if not request.foot_lock:
        command += ["--no-foot-lock"]
    if request.mix:
        command += ["--mix", request.mix]
    if request.emotion is not None:
        command += ["--emotion", request.emotion]
    if request.emotion_2 is not None:
        if gamma_curve_path is not None:
            command += ["--blend", f"{request.emotion_2}:{request.gamma:g}", "--gamma-curve", gamma_curve_path]
        elif request.gamma > 0:
            command += ["--blend", f"{request.emotion_2}:{request.gamma:g}"]
    if request.start_seconds is not None:
        command += ["--start-seconds", f"{request.start_seconds:.6f}",
                    "--duration-seconds", f"{request.duration_seconds:.6f}"]
    return command + list(request.extra_args)


def _input_files(request: GenerationRequest, workdir: str) -> tuple[str | None, list[str]]:
    """Write the request's gamma curve and constraints into ``workdir``: (gamma curve path
    or None, the arguments for the constraints and the regenerated range)."""
    gamma_path = None
    if request.gamma_curve is not None:
        gamma_path = os.path.join(workdir, "gamma_curve.npy")
        np.save(gamma_path, request.gamma_curve.astype(np.float32))
    args = []
    if request.constraints is not None:
        path = os.path.join(workdir, "constraints.npz")
        write_constraints(path, request.constraints)
        args += ["--constraints", path]
    if request.regenerate:
        args += ["--keep", request.regenerate["take"], "--range",
                 f"{request.regenerate['start']}:{request.regenerate['end']}"]
    return gamma_path, args


def _audio_input(request: GenerationRequest, workdir: str) -> str:
    """The file the generator reads: a packed sound's data written into ``workdir`` (removed
    with it), else the audio file."""
    if preflight.packed_sound(request.packed_sound) is not None:
        return preflight.write_packed_sound(request.packed_sound, request.audio, workdir)
    preflight.check_audio_file(request.audio)
    return request.audio


# --- the result --------------------------------------------------------------------------

def _emotion_record(request):
    if request.mix:
        return request.mix
    return [request.emotion, request.emotion_2, request.gamma]


def _apply_regenerated(request, arm_obj, motion: dict, motion_path: str):
    """Rewrite the regenerated range of the action in place. Returns (action, message)."""
    regenerate = request.regenerate
    action = bpy.data.actions.get(regenerate["action"])
    info = takes.generated_info(action)
    if info is None:
        raise common.SettingsError("The action to regenerate was removed while generating.")
    if info.get("layer"):  # the spine stands on the hips below the layer, as Generate keyed it
        channels = layering.layer_channels(arm_obj, motion, frame_start=info["frame_start"],
                                           scene_fps=info["scene_fps"], max_frames=info.get("max_frames"))
    else:
        channels = retarget.motion_channels(arm_obj, motion, scene_fps=info["scene_fps"],
                                            max_frames=info.get("max_frames"))
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
                                                        **timing)
    else:
        action, message = retarget.apply_motion(arm_obj, motion, **timing)
    takes.deselect_keys(action)  # so Regenerate Selection starts from nothing selected, not from every key
    takes.mark_generated(action, {
        "take": takes.keep_take(motion_path), "audio": request.audio, "frame_start": request.frame_start,
        "scene_fps": request.scene_fps, "model": request.model, "model_fps": float(motion["fps"]),
        "max_frames": request.max_frames, "start_seconds": request.start_seconds,
        "duration_seconds": request.duration_seconds, "emotions": _emotion_record(request), "seed": request.seed,
        "layer": bool(request.layer_upper_body), "packed_sound": request.packed_sound})
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

class GenerationSession:
    """One generation from subprocess start to keys on the armature."""

    def __init__(self, request: GenerationRequest):
        self.request = request
        self.workdir = tempfile.mkdtemp(prefix="ohgesture_")
        self.out_path = os.path.join(self.workdir, "motion.npz")
        try:
            gamma_path, extra = _input_files(request, self.workdir)
            audio = _audio_input(request, self.workdir)
        except BaseException:
            self.cleanup()
            raise
        self.command = generation_command(request, self.out_path, gamma_path, audio) + extra
        self.job = ProcessJob(self.command, description="Starting")
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
        if request.cover_take and not request.regenerate:
            self.messages += place_take(scene, request, self.action)
        if self.tidy_takes and not request.regenerate:
            self.messages += [m for m in [takes.tidy_takes(arm_obj)] if m]
        self.map_message = "; ".join(self.messages)
        self.state = FINISHED
        return self.action

    def notes(self) -> list[str]:
        """The generator's ``note: ...`` lines (e.g. audio shorter than the model's seed window
        was padded with silence)."""
        return [line[len("note: "):] for line in self.job.lines if line.startswith("note: ")]

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
