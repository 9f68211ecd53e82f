"""Operators: Generate (modal, subprocess), Cancel, re-roll seed, Create Matching Armature,
Install Dependencies.

All generation state lives in ``GenerationSession`` (plain Python around a subprocess);
the modal operator only calls ``session.step`` on timer events, and scripts or tests can
call the same methods in a loop. The scene is touched only when the motion has arrived,
so a cancelled or failed run leaves it unchanged.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

import bpy
import numpy as np
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import animator as animator_module
from . import armature as armature_module
from . import bone_presets, common, keyframes, retarget
from .job import CANCELLED, FAILED, FINISHED, RUNNING, ChainJob, ProcessJob, venv_python
from .properties import NO_EMOTION

TIMER_INTERVAL = 0.1


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
    constraints: dict | None = None  # hand-keyed poses (animator.hand_key_constraints)
    regenerate: dict | None = None  # take, model range and scene frames of Regenerate Selection
    retime: bool = True  # re-time to the model's expected activity (core/generation/retiming.py)
    foot_lock: bool = True  # pin planted feet (core/generation/footlock.py)
    layer_upper_body: bool = False
    layer_blend_frames: int = 6
    notes: list = field(default_factory=list)


def strips_collection(scene):
    editor = scene.sequence_editor
    if editor is None:
        return None
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def sound_strips(scene) -> list:
    strips = strips_collection(scene)
    return [s for s in strips if s.type == "SOUND"] if strips is not None else []


def resolve_strip(scene, name: str):
    """The named sound strip, else the active one if it is a sound strip, else the first."""
    strips = strips_collection(scene)
    if name:
        strip = strips.get(name) if strips is not None else None
        if strip is None:
            raise common.SettingsError(f"There is no strip named '{name}' in the sequencer.")
        if strip.type != "SOUND":
            raise common.SettingsError(f"The strip '{name}' is not a sound strip.")
        return strip
    active = scene.sequence_editor.active_strip if scene.sequence_editor else None
    if active is not None and active.type == "SOUND":
        return active
    candidates = sorted(sound_strips(scene), key=lambda s: (s.frame_final_start, s.channel))
    if not candidates:
        raise common.SettingsError("The scene has no sound strip; add one in the Video Sequencer or pick a sound file.")
    return candidates[0]


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


def build_request(context, *, settings=None, entry_script: str = "", python: str = "",
                  animator: bool = True) -> GenerationRequest:
    """Validate the settings (default: the scene's); raise SettingsError with one sentence
    on any problem."""
    scene = context.scene
    settings = settings if settings is not None else scene.ohgesture
    scene_fps = keyframes.scene_frame_rate(scene)
    start_seconds = duration_seconds = max_frames = None
    if settings.source == "STRIP":
        strip = resolve_strip(scene, settings.sound_strip)
        if strip.sound is None:
            raise common.SettingsError(f"The sound strip '{strip.name}' has no sound data.")
        audio = bpy.path.abspath(strip.sound.filepath, library=strip.sound.library)
        if strip.frame_final_duration <= 0:
            raise common.SettingsError(f"The sound strip '{strip.name}' has no visible frames.")
        frame_start = int(strip.frame_final_start)
        max_frames = int(strip.frame_final_duration)
        offset = getattr(strip, "sound_offset", 0.0) + max(0.0, (strip.frame_final_start - strip.frame_start) / scene_fps)
        if offset > 1e-6 or strip.frame_final_end < strip.frame_start + strip.frame_duration:
            start_seconds, duration_seconds = offset, max_frames / scene_fps
        label = strip.name
    else:
        if not settings.sound_file:
            raise common.SettingsError("Pick a sound file or switch the source to a sound strip.")
        audio = bpy.path.abspath(settings.sound_file)
        frame_start = int(scene.frame_start)
        label = os.path.splitext(os.path.basename(audio))[0]
    audio = os.path.normpath(audio)
    if not os.path.isfile(audio):
        raise common.SettingsError(f"The audio file {audio} does not exist.")

    arm_obj = settings.armature
    if arm_obj is None or arm_obj.type != "ARMATURE":
        raise common.SettingsError("Pick a target armature (or create a matching one).")

    model = common.model_path(context)
    metadata = common.model_metadata(model)
    labels = common.emotion_labels(metadata)
    emotion = settings.emotion if settings.emotion != NO_EMOTION else None
    emotion_2 = settings.emotion_2 if settings.emotion_2 != NO_EMOTION else None
    for chosen in (emotion, emotion_2):
        if chosen is not None and labels and chosen not in labels:
            raise common.SettingsError(
                f"The model does not know the emotion '{chosen}'; valid emotions: {', '.join(labels)}.")
    gamma_curve = None
    if emotion_2 is not None and isinstance(settings, bpy.types.bpy_struct):
        count = max_frames if max_frames is not None else 0
        gamma_curve = _gamma_curve(scene, frame_start, count, scene_fps, common.model_fps(metadata))

    python = python or common.python_interpreter(context)
    if not os.path.isfile(python):
        raise common.SettingsError("No Python with torch was found; install the dependencies in the add-on preferences.")
    sampler, steps = common.QUALITY_PRESETS[settings.quality]
    name_parts = ["OHG", label, emotion or "neutral"]
    if emotion_2 is not None:
        name_parts.append(f"+{emotion_2} {settings.blend:.2f}" if gamma_curve is None else f"+{emotion_2} animated")
    name_parts.append(f"seed {settings.seed}")
    request = GenerationRequest(
        audio=audio, scene_name=scene.name, armature_name=arm_obj.name, frame_start=frame_start,
        scene_fps=scene_fps, max_frames=max_frames, start_seconds=start_seconds,
        duration_seconds=duration_seconds, emotion=emotion, emotion_2=emotion_2, gamma=float(settings.blend),
        gamma_curve=gamma_curve, guidance=float(settings.guidance), sampler=sampler, steps=steps,
        seed=int(settings.seed), device=common.device(context), model=str(model), python=python,
        entry_script=entry_script or str(common.ENTRY_SCRIPT), action_name=" ".join(name_parts),
        retime=bool(getattr(settings, "follow_speech", True)), foot_lock=bool(getattr(settings, "lock_feet", True)))
    animator_module.configure_request(context, settings, request, metadata, animator=animator)
    return request


def generation_command(request: GenerationRequest, out_path: str, gamma_curve_path: str | None) -> list[str]:
    command = [request.python, request.entry_script, "generate", request.audio, "--out", out_path,
               "--progress-lines", "--model", request.model, "--guidance", f"{request.guidance:g}",
               "--sampler", request.sampler, "--seed", str(request.seed), "--device", request.device]
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


class GenerationSession:
    """One generation from subprocess start to keys on the armature."""

    def __init__(self, request: GenerationRequest):
        self.request = request
        self.workdir = tempfile.mkdtemp(prefix="ohgesture_")
        self.out_path = os.path.join(self.workdir, "motion.npz")
        gamma_path = None
        if request.gamma_curve is not None:
            gamma_path = os.path.join(self.workdir, "gamma_curve.npy")
            np.save(gamma_path, request.gamma_curve.astype(np.float32))
        self.command = generation_command(request, self.out_path, gamma_path)
        self.command += animator_module.extra_arguments(request, self.workdir)
        self.job = ProcessJob(self.command, description="Starting")
        self.action = None
        self.map_message = ""
        self.error = ""
        self.state = None

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
            self.state = "READY"  # motion file written; keys not yet applied
        return self.state

    def finish(self):
        """Write the keys (main thread). Returns the new action; raises ValueError."""
        request = self.request
        scene = bpy.data.scenes.get(request.scene_name)
        arm_obj = bpy.data.objects.get(request.armature_name)
        if scene is None or arm_obj is None or arm_obj.type != "ARMATURE":
            raise common.SettingsError("The scene or armature was removed while generating.")
        if not os.path.isfile(self.out_path):
            raise keyframes.MotionFileError("Generation ended without writing a motion file.")
        # The model's own armature takes the exact path; any other rig goes through its
        # stored bone map, or an automatic one (then stored on the object for editing).
        # Regenerate Selection rewrites keys in place; the upper-body option layers in the NLA.
        self.action, messages = animator_module.apply_result(request, arm_obj, self.out_path)
        self.map_message = "; ".join(messages)
        self.state = FINISHED
        return self.action

    def cancel(self) -> None:
        self.job.cancel()
        if self.state in (None, RUNNING, "READY"):
            self.state = CANCELLED

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def step(self, report) -> set:
        """One modal tick: {'RUNNING_MODAL'} while running, else the operator's result."""
        state = self.poll()
        if state == RUNNING:
            return {"RUNNING_MODAL"}
        try:
            if state == "READY":
                try:
                    action = self.finish()
                except ValueError as exc:
                    self.state, self.error = FAILED, str(exc)
                else:
                    report({"INFO"}, self.map_message)
                    report({"INFO"}, f"Generated action '{action.name}'.")
                    return {"FINISHED"}
            if self.state == FAILED:
                report({"ERROR"}, f"Gesture generation failed: {self.error}")
            elif self.state == CANCELLED:
                report({"WARNING"}, "Gesture generation cancelled; the scene is unchanged.")
            return {"CANCELLED"}
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
    return _active_session if _active_session is not None and _active_session.state in (RUNNING, "READY") else None


def start_session(context, *, entry_script: str = "", python: str = "", request=None) -> GenerationSession:
    """Validate, start the subprocess, register it as the running session."""
    global _active_session
    if active_session() is not None:
        raise common.SettingsError("A generation is already running; wait for it or cancel it.")
    request = request or build_request(context, entry_script=entry_script, python=python)
    session = GenerationSession(request).start()
    if session.state == FAILED:
        session.cleanup()
        raise common.SettingsError(session.error)
    _active_session = session
    _update_status(context, session)
    return session


def cancel_active_session() -> bool:
    session = active_session()
    if session is None:
        return False
    session.cancel()
    return True


def _update_status(context, session) -> None:
    status = getattr(context.window_manager, "ohgesture_status", None)
    if status is None:
        return
    running = session is not None and session.state in (RUNNING, "READY")
    status.running = running
    status.progress = session.progress if running else 0.0
    status.message = session.message if running else ""
    screen = getattr(context, "screen", None)
    for area in (screen.areas if screen else []):
        if area.type == "VIEW_3D":
            area.tag_redraw()


class OHGESTURE_OT_generate(bpy.types.Operator):
    """Generate gestures for the sound onto the armature as a new action"""

    bl_idname = "ohgesture.generate"
    bl_label = "Generate Gestures"
    bl_options = {"REGISTER", "UNDO"}

    # For scripts and tests: another script in place of core/cli/_entry.py, another interpreter.
    entry_script: StringProperty(options={"HIDDEN", "SKIP_SAVE"})
    python: StringProperty(options={"HIDDEN", "SKIP_SAVE"})

    _timer = None
    _session = None

    def _start(self, context):
        try:
            return start_session(context, entry_script=self.entry_script, python=self.python)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def execute(self, context):
        session = self._start(context)
        if session is None:
            return {"CANCELLED"}
        try:
            return session.run_blocking(self.report)
        finally:
            _update_status(context, None)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        session = self._start(context)
        if session is None:
            return {"CANCELLED"}
        self._session = session
        self._timer = context.window_manager.event_timer_add(TIMER_INTERVAL, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        session = self._session
        if event.type == "ESC" and event.value == "PRESS":
            session.cancel()
        elif event.type != "TIMER" and session.state == RUNNING:
            return {"PASS_THROUGH"}
        result = session.step(self.report)
        _update_status(context, session)
        if "RUNNING_MODAL" in result:
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        _update_status(context, None)
        return result

    def cancel(self, context):
        self._session.cancel()
        self._session.cleanup()
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
        _update_status(context, None)


class OHGESTURE_OT_cancel(bpy.types.Operator):
    """Stop the running gesture generation; the scene stays unchanged"""

    bl_idname = "ohgesture.cancel"
    bl_label = "Cancel Generation"

    def execute(self, context):
        if not cancel_active_session():
            self.report({"WARNING"}, "No gesture generation is running.")
            return {"CANCELLED"}
        return {"FINISHED"}


class OHGESTURE_OT_reroll_seed(bpy.types.Operator):
    """Pick a new random seed"""

    bl_idname = "ohgesture.reroll_seed"
    bl_label = "Re-roll Seed"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        context.scene.ohgesture.seed = random.randrange(0, 2**31 - 1)
        return {"FINISHED"}


class OHGESTURE_OT_create_armature(bpy.types.Operator):
    """Add an armature matching the model's skeleton and make it the target"""

    bl_idname = "ohgesture.create_armature"
    bl_label = "Create Matching Armature"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            metadata = common.model_metadata(common.model_path(context))
            skeleton = common.skeleton_metadata(metadata)
            if skeleton is None:
                raise common.SettingsError("The model file does not describe its skeleton.")
            obj = armature_module.create_matching_armature(context, skeleton)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.scene.ohgesture.armature = obj
        return {"FINISHED"}


def _model_skeleton(context):
    skeleton = common.skeleton_metadata(common.model_metadata(common.model_path(context)))
    if skeleton is None:
        raise common.SettingsError("The model file does not describe its skeleton.")
    return skeleton


def _map_target(context):
    """The armature whose bone map the panel edits: the target armature setting, else the
    active armature object."""
    obj = context.scene.ohgesture.armature if getattr(context.scene, "ohgesture", None) else None
    if obj is None and context.object is not None and context.object.type == "ARMATURE":
        obj = context.object
    return obj


_PRESET_ITEMS = [("AUTO", "Detect", "Detect the rig's naming scheme")] + [
    (key, label, f"Bone names of the {label} rig") for key, label in bone_presets.PRESET_LABELS.items()]


class OHGESTURE_OT_bone_map_auto(bpy.types.Operator):
    """Match the model's joints to this armature's bones by name (presets for Rigify, Mixamo,
    Unreal, VRM, Bandai, ZEGGS; generic name matching otherwise)"""

    bl_idname = "ohgesture.bone_map_auto"
    bl_label = "Auto-Map Bones"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Rig", items=_PRESET_ITEMS, default="AUTO")

    def execute(self, context):
        obj = _map_target(context)
        if obj is None:
            self.report({"ERROR"}, "Pick a target armature first.")
            return {"CANCELLED"}
        try:
            skeleton = _model_skeleton(context)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        pairs = retarget.auto_map_armature(obj, skeleton, None if self.preset == "AUTO" else self.preset)
        retarget.store_pairs(obj, pairs)
        names, _ = retarget.skeleton_hierarchy(skeleton)
        self.report({"INFO"}, f"Mapped {len({s for s, _ in pairs})} of {len(names)} bones")
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_add(bpy.types.Operator):
    """Add a row to the bone map"""

    bl_idname = "ohgesture.bone_map_add"
    bl_label = "Add Bone Pair"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = _map_target(context)
        if obj is None:
            return {"CANCELLED"}
        obj.ohgesture_bone_map.add()
        obj.ohgesture_bone_map_index = len(obj.ohgesture_bone_map) - 1
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_remove(bpy.types.Operator):
    """Remove the selected row of the bone map"""

    bl_idname = "ohgesture.bone_map_remove"
    bl_label = "Remove Bone Pair"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = _map_target(context)
        if obj is None or not len(obj.ohgesture_bone_map):
            return {"CANCELLED"}
        index = min(obj.ohgesture_bone_map_index, len(obj.ohgesture_bone_map) - 1)
        obj.ohgesture_bone_map.remove(index)
        obj.ohgesture_bone_map_index = max(0, index - 1)
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_clear(bpy.types.Operator):
    """Forget the bone map (the next generation maps automatically again)"""

    bl_idname = "ohgesture.bone_map_clear"
    bl_label = "Clear Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        obj = _map_target(context)
        if obj is None:
            return {"CANCELLED"}
        obj.ohgesture_bone_map.clear()
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_export(bpy.types.Operator, ExportHelper):
    """Save the armature's bone map as JSON"""

    bl_idname = "ohgesture.bone_map_export"
    bl_label = "Export Bone Map"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        obj = _map_target(context)
        if obj is None:
            self.report({"ERROR"}, "Pick a target armature first.")
            return {"CANCELLED"}
        pairs = retarget.stored_pairs(obj)
        if not pairs:
            self.report({"ERROR"}, f"The armature '{obj.name}' has no bone map; run Auto-Map first.")
            return {"CANCELLED"}
        try:
            retarget.write_map_json(self.filepath, pairs)
        except OSError as exc:
            self.report({"ERROR"}, f"Cannot write {self.filepath}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {len(pairs)} bone pairs to {self.filepath}")
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_import(bpy.types.Operator, ImportHelper):
    """Load a bone map from JSON onto the armature (replaces its current map)"""

    bl_idname = "ohgesture.bone_map_import"
    bl_label = "Import Bone Map"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        obj = _map_target(context)
        if obj is None:
            self.report({"ERROR"}, "Pick a target armature first.")
            return {"CANCELLED"}
        try:
            pairs = retarget.read_map_json(self.filepath)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        missing = [t for _, t in pairs if t not in obj.data.bones]
        retarget.store_pairs(obj, pairs)
        if missing:
            self.report({"WARNING"}, f"{len(missing)} mapped bones are not in '{obj.name}' "
                                     f"(first: {missing[0]}); those pairs are ignored.")
        else:
            self.report({"INFO"}, f"Loaded {len(pairs)} bone pairs.")
        return {"FINISHED"}


def install_steps(target_device: str, venv_dir) -> list:
    python = venv_python(venv_dir)
    steps = []
    if not os.path.isfile(python):
        steps.append(("Creating the Python environment", [sys.executable, "-m", "venv", str(venv_dir)]))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    torch = common.TORCH_DEFAULT if target_device == "CUDA" or sys.platform == "darwin" else common.TORCH_CPU
    steps.append(("Installing PyTorch", pip + torch))
    steps.append(("Installing audio and model libraries", pip + common.DEPENDENCIES))
    return steps


class OHGESTURE_OT_install_dependencies(bpy.types.Operator):
    """Create a private Python environment with torch and the audio libraries"""

    bl_idname = "ohgesture.install_dependencies"
    bl_label = "Install Dependencies"

    _timer = None
    _job = None

    def _begin(self, context):
        prefs = common.preferences(context)
        venv_dir = common.managed_venv_dir()
        os.makedirs(venv_dir.parent, exist_ok=True)
        self._job = ChainJob(install_steps(getattr(prefs, "device", "AUTO"), venv_dir)).start()

    def _result(self, context):
        status = context.window_manager.ohgesture_status
        status.running, status.progress, status.message = False, 0.0, ""
        if self._job.state == FINISHED:
            self.report({"INFO"}, f"Dependencies installed in {common.managed_venv_dir()}.")
            return {"FINISHED"}
        self.report({"ERROR"}, f"Installing dependencies failed: {self._job.error}")
        return {"CANCELLED"}

    def execute(self, context):
        self._begin(context)
        while self._job.poll() == RUNNING:
            time.sleep(0.2)
        return self._result(context)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        self._begin(context)
        self._timer = context.window_manager.event_timer_add(0.5, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
        if event.type not in ("TIMER", "ESC"):
            return {"PASS_THROUGH"}
        state = self._job.poll()
        status = context.window_manager.ohgesture_status
        if state == RUNNING:
            status.running, status.progress, status.message = True, self._job.progress, self._job.message
            for area in context.screen.areas if context.screen else []:
                area.tag_redraw()
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._result(context)


classes = (OHGESTURE_OT_generate, OHGESTURE_OT_cancel, OHGESTURE_OT_reroll_seed, OHGESTURE_OT_create_armature,
           OHGESTURE_OT_install_dependencies, OHGESTURE_OT_bone_map_auto, OHGESTURE_OT_bone_map_add,
           OHGESTURE_OT_bone_map_remove, OHGESTURE_OT_bone_map_clear, OHGESTURE_OT_bone_map_export,
           OHGESTURE_OT_bone_map_import)
OHGESTURE_OT_regenerate_selection = animator_module.make_regenerate_operator(OHGESTURE_OT_generate)
classes += (OHGESTURE_OT_regenerate_selection, animator_module.OHGESTURE_OT_sync_emotion_mix)
