"""The add-on's operators with the real bpy module and real subprocesses (a fake
generator script stands in for the model where the test is about the Blender side)."""

import json
import os
import sys
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

import ohgesture.ohgesture_addon as addon
from ohgesture.core.generation.settings import DEFAULT_ENERGY, DEFAULT_GUIDANCE
from ohgesture.ohgesture_addon import common
from ohgesture.ohgesture_addon import session as generation_session
from ohgesture.ohgesture_addon.strips import strip_timing
from blender_util import (EMOTIONS, JOINT_NAMES, add_sound_strip, reset_blender, trim_strip,
                          write_metadata_only_checkpoint, write_wav)

FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")


@pytest.fixture
def setup(registered, tmp_path, monkeypatch):
    """A scene with a 2 s sound strip at 24 fps, a matching armature and a model file."""
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    monkeypatch.setenv("FAKE_ARGS_LOG", str(tmp_path / "args.json"))
    scene = reset_blender()
    scene.render.fps = 24
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    strip = add_sound_strip(scene, wav, frame_start=10)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    settings = scene.ohgesture
    settings.emotion = "happy"
    settings.seed = 7
    return {"scene": scene, "strip": strip, "tmp": tmp_path, "wav": wav,
            "arm": settings.armature, "args": tmp_path / "args.json"}


def _recorded(setup):
    return json.loads(setup["args"].read_text())


def _scene_snapshot(scene):
    arm = scene.ohgesture.armature
    anim = arm.animation_data
    return (sorted(a.name for a in bpy.data.actions), anim.action if anim else None,
            len(anim.nla_tracks) if anim else 0)


def test_register_exposes_panel_and_operators_and_unregisters(registered):
    assert hasattr(bpy.types, "OHGESTURE_PT_main")
    assert bpy.types.OHGESTURE_PT_main.bl_category == "OHGesture"
    assert hasattr(bpy.types.Scene, "ohgesture")
    assert hasattr(bpy.ops.ohgesture, "generate") and hasattr(bpy.ops.ohgesture, "cancel")
    addon.unregister()
    assert not hasattr(bpy.types, "OHGESTURE_PT_main") and not hasattr(bpy.types.Scene, "ohgesture")
    addon.register()


def test_quality_presets_live_in_one_dict():
    assert common.QUALITY_PRESETS == {"FAST": ("dpmpp_2m", 10), "BALANCED": ("dpmpp_2m", 20), "REFERENCE": ("ddpm", 1000)}


def test_create_matching_armature_uses_model_skeleton(setup):
    arm = setup["arm"]
    assert arm.type == "ARMATURE" and [b.name for b in arm.data.bones] == JOINT_NAMES


def test_follow_speech_off_asks_for_the_samplers_own_timing(setup):
    setup["scene"].ohgesture.follow_speech = False
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert "--no-retime" in _recorded(setup)["argv"]


def test_lock_feet_off_asks_for_the_legs_as_sampled(setup):
    setup["scene"].ohgesture.lock_feet = False
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert "--no-foot-lock" in _recorded(setup)["argv"]


def test_generate_keys_only_the_visible_part_of_a_trimmed_strip(setup):
    strip, scene = setup["strip"], setup["scene"]
    trim_strip(strip, start=12, end=6)  # half a second trimmed at 24 fps, a quarter at the end
    scene.ohgesture.emotion_2 = "angry"
    scene.ohgesture.blend = 0.25
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    argv = _recorded(setup)["argv"]
    assert argv[:2] == ["generate", str(setup["wav"])]
    opts = dict(zip(argv[2::], argv[3::]))
    assert opts["--emotion"] == "happy" and opts["--blend"] == "angry:0.25" and opts["--seed"] == "7"
    assert opts["--sampler"] == "dpmpp_2m" and opts["--steps"] == "20"
    assert opts["--guidance"] == f"{DEFAULT_GUIDANCE:g}" and opts["--device"] == "auto"  # the CLI's own default
    assert opts["--energy"] == f"{DEFAULT_ENERGY:g}"
    assert "--no-retime" not in argv  # Follow Speech Timing is on by default
    assert "--no-foot-lock" not in argv  # and so is Lock Feet
    assert float(opts["--start-seconds"]) == pytest.approx(0.5)
    assert float(opts["--duration-seconds"]) == pytest.approx(30 / 24)
    assert "--progress-lines" in argv and "--model" in argv
    action = setup["arm"].animation_data.action
    assert action is not None and action.name.startswith("OHG speech happy")
    frame_range = tuple(action.frame_range)
    left, right = strip_timing(strip)[:2]
    assert frame_range[0] == left == 22
    assert right - 2 <= frame_range[1] <= right - 1


def test_untrimmed_strip_passes_no_trim_flags_and_two_runs_make_two_actions(setup):
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert "--start-seconds" not in _recorded(setup)["argv"] and "--blend" not in _recorded(setup)["argv"]
    first = setup["arm"].animation_data.action
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    second = setup["arm"].animation_data.action
    assert first != second and first.name in bpy.data.actions and first.use_fake_user
    assert tuple(second.frame_range)[0] == 10


def test_animated_blend_is_sampled_per_frame(setup):
    scene = setup["scene"]
    settings = scene.ohgesture
    settings.emotion_2 = "sad"
    settings.blend = 0.0
    scene.keyframe_insert("ohgesture.blend", frame=10)
    settings.blend = 1.0
    scene.keyframe_insert("ohgesture.blend", frame=58)
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    record = _recorded(setup)
    assert "--gamma-curve" in record["argv"]
    curve = np.array(record["gamma_curve"])
    # One value per motion frame (2 s at the model's 30 fps), read from the scene's F-curve.
    assert curve.shape == (60,)
    assert curve[0] == pytest.approx(0.0) and 0.97 < curve[-1] <= 1.0
    assert np.all(np.diff(curve) >= -1e-6) and 0.3 < curve[30] < 0.7


def test_failing_generation_reports_error_and_leaves_scene_unchanged(setup, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "fail")
    before = _scene_snapshot(setup["scene"])
    with pytest.raises(RuntimeError, match="could not be decoded"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert _scene_snapshot(setup["scene"]) == before
    assert generation_session.active_session() is None


def test_cancel_midway_stops_process_and_leaves_scene_unchanged(setup, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "slow")
    before = _scene_snapshot(setup["scene"])
    session = generation_session.start_session(bpy.context, entry_script=FAKE)
    deadline = time.monotonic() + 20
    while session.progress <= 0.0 and time.monotonic() < deadline:
        assert session.step(lambda *a: None) == {"RUNNING_MODAL"}
        time.sleep(0.05)
    assert 0 < session.progress < 1
    # A second Generate is refused while this one runs.
    with pytest.raises(RuntimeError, match="already running"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert bpy.ops.ohgesture.cancel() == {"FINISHED"}
    reports = []
    assert session.step(lambda kind, text: reports.append((kind, text))) == {"CANCELLED"}
    assert "cancelled" in reports[0][1]
    assert session.job._process.poll() is not None
    assert not os.path.exists(session.workdir)
    assert _scene_snapshot(setup["scene"]) == before
    assert generation_session.active_session() is None


@pytest.mark.parametrize("problem, message", [
    ("no_armature", "target armature"),
    ("missing_file", "does not exist"),
    ("empty_strip", "no visible frames"),
    ("bad_model", "not a safetensors file"),
    ("unknown_emotion", "does not know the emotion"),
])
def test_invalid_inputs_are_refused_with_one_sentence(setup, problem, message, monkeypatch):
    scene, strip = setup["scene"], setup["strip"]
    if problem == "no_armature":
        scene.ohgesture.armature = None
    elif problem == "missing_file":
        setup["wav"].unlink()
    elif problem == "empty_strip":
        left, right = strip_timing(strip)[:2]
        trim_strip(strip, start=right - left)
    elif problem == "bad_model":
        bad = setup["tmp"] / "bad.safetensors"
        bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
        monkeypatch.setenv("OHGESTURE_MODEL", str(bad))
    elif problem == "unknown_emotion":
        write_metadata_only_checkpoint(setup["tmp"] / "other.safetensors", labels=["calm"])
        monkeypatch.setenv("OHGESTURE_MODEL", str(setup["tmp"] / "other.safetensors"))
    with pytest.raises((RuntimeError, ValueError), match=message):
        if problem == "unknown_emotion":
            generation_session.build_request(bpy.context)
        else:
            bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert not setup["args"].exists()


class _RecordingLayout:
    """Stands in for a panel's UILayout (background Blender never draws): records the calls."""

    def __init__(self, calls):
        self.calls, self.enabled = calls, True

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args[1] if name in ("prop", "prop_search") and len(args) > 1 else
                               (args[0] if args else kwargs.get("text"))))
            return _RecordingLayout(self.calls)
        return call


@pytest.mark.parametrize("running", [False, True])
@pytest.mark.parametrize("mix", [False, True])
def test_the_panel_draws_every_state(setup, running, mix):
    from types import SimpleNamespace

    from ohgesture.ohgesture_addon import panel

    bpy.context.window_manager.ohgesture_status.running = running
    setup["scene"].ohgesture.mix_emotions = mix
    calls = []
    panel.OHGESTURE_PT_main.draw(SimpleNamespace(layout=_RecordingLayout(calls)), bpy.context)
    shown = {value for _, value in calls}
    assert {"sound_strip", "armature", "guidance", "seed", "ohgesture.create_armature"} <= shown
    assert ("ohgesture.cancel" in shown) == running and ("ohgesture.generate" in shown) == (not running)
    assert ("ohgesture.sync_emotion_mix" in shown) == mix and ("emotion_2" in shown) == (not mix)
    bpy.context.window_manager.ohgesture_status.running = False
