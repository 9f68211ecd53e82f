"""Keep My Keys across re-rolls: the animator's keys are remembered on the armature and met by
every later Generate, Re-roll and Regenerate Selection, after saving and reopening too, until
Clear Kept Keys; a change on a generated take is kept only through Keep Keys From This Take.
Real bpy module, the shipped model through the real command-line generator, real speech."""

import bpy
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import hand_keys, takes
from ohgesture.ohgesture_addon import session as generation_session
from ohgesture.ohgesture_addon.common import DEFAULT_MODEL
from blender_util import reset_blender
from support import SAMPLES

KEY_FRAME = 120


def _angle(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.degrees(2 * np.arccos(min(1.0, abs(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))))))


@pytest.fixture
def studio(tmp_path, monkeypatch):
    """30 fps, the shipped model's own armature, speech_en.wav as the sound file."""
    addon.register()
    monkeypatch.setenv("OHGESTURE_MODEL", str(DEFAULT_MODEL))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    scene = reset_blender()
    scene.render.fps, scene.frame_start = 30, 1
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    settings = scene.ohgesture
    settings.source, settings.sound_file, settings.quality, settings.seed = "FILE", str(SAMPLES / "speech_en.wav"), \
        "FAST", 3
    yield {"tmp": tmp_path}
    addon.unregister()


def _arm():
    return bpy.context.scene.ohgesture.armature


def _generate(operator=generation_session.build_request):
    request = operator(bpy.context)
    session = generation_session.start_session(bpy.context, request=request)
    reports = []
    assert session.run_blocking(lambda kind, text: reports.append(text), timeout=600) == {"FINISHED"}, reports
    return session.action, " ".join(reports)


def _pose(action, bone: str, frame: float) -> np.ndarray:
    curves = takes.bone_fcurves(action)[(bone, "rotation_quaternion")]
    return np.array([curves[i].evaluate(frame) for i in range(4)])


def _raise(bone, degrees: float) -> np.ndarray:
    """The basis rotation turning the bone ``degrees`` about the armature's forward axis."""
    rest = np.array(bone.bone.matrix_local)[:3, :3]
    turn = rest.T @ Rotation.from_euler("y", -degrees, degrees=True).as_matrix() @ rest
    return Rotation.from_matrix(turn).as_quat()[[3, 0, 1, 2]]


def _key(action, bone, quaternion, frame) -> None:
    arm = _arm()
    arm.animation_data.action = action
    bone.rotation_mode = "QUATERNION"
    bone.rotation_quaternion = quaternion
    bone.keyframe_insert("rotation_quaternion", frame=frame)


def test_the_animators_key_is_met_by_every_take_until_cleared(studio):
    arm = _arm()
    assert "LeftArm" in arm.pose.bones
    key = _raise(arm.pose.bones["LeftArm"], 70.0)
    arm.animation_data_create()
    _key(bpy.data.actions.new("my pose"), arm.pose.bones["LeftArm"], key, KEY_FRAME)

    first, report = _generate()
    assert "Passing through 1 hand-keyed bone poses" in report
    assert _angle(_pose(first, "LeftArm", KEY_FRAME), key) < 3.0
    # A re-roll: another seed, and the active action is now the generated take, not the pose.
    bpy.context.scene.ohgesture.seed = 4
    second, report = _generate()
    assert second != first and arm.animation_data.action == second
    assert _angle(_pose(second, "LeftArm", KEY_FRAME), key) < 3.0, "the re-roll lost the animator's key"
    assert "Passing through 1 hand-keyed bone poses" in report
    kept = hand_keys.kept_keys(arm)
    assert [(e["bone"], e["frame"]) for e in kept] == [("LeftArm", KEY_FRAME)]
    assert hand_keys.kept_summary(kept) == [f"LeftArm: {KEY_FRAME}"]

    # Regenerate Selection around the key, with another seed.
    scene = bpy.context.scene
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 100, 140
    scene.ohgesture.seed = 5
    regenerated, _ = _generate(generation_session.build_regenerate_request)
    assert regenerated == second and _angle(_pose(second, "LeftArm", KEY_FRAME), key) < 3.0
    scene.use_preview_range = False

    # Saved and reopened: the kept key is in the file.
    path = studio["tmp"] / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    arm = _arm()
    assert [(e["bone"], e["frame"]) for e in hand_keys.kept_keys(arm)] == [("LeftArm", KEY_FRAME)]
    bpy.context.scene.ohgesture.seed = 6
    third, _ = _generate()
    assert _angle(_pose(third, "LeftArm", KEY_FRAME), key) < 3.0

    # A change on the generated take is not kept by itself: the report says so.
    bend = _raise(arm.pose.bones["RightArm"], -50.0)
    _key(third, arm.pose.bones["RightArm"], bend, 200)
    request = generation_session.build_request(bpy.context)
    assert request.constraints["bones"] == ["LeftArm"]
    assert any("are not kept; Keep Keys From This Take keeps them" in n for n in request.notes)
    # Keep Keys From This Take: it joins the kept keys and the next take meets it too.
    assert bpy.ops.ohgesture.keep_take_keys() == {"FINISHED"}
    assert [(e["bone"], e["frame"]) for e in hand_keys.kept_keys(arm)] == [("LeftArm", KEY_FRAME), ("RightArm", 200)]
    bpy.context.scene.ohgesture.seed = 7
    fourth, report = _generate()
    assert "Passing through 2 hand-keyed bone poses" in report
    assert _angle(_pose(fourth, "LeftArm", KEY_FRAME), key) < 3.0
    assert _angle(_pose(fourth, "RightArm", 200), bend) < 3.0
    # Pressing it on a take with no change adds nothing.
    assert bpy.ops.ohgesture.keep_take_keys() == {"CANCELLED"}

    # Clear Kept Keys: nothing is passed through any more.
    assert bpy.ops.ohgesture.clear_kept_keys() == {"FINISHED"}
    assert hand_keys.kept_keys(arm) == [] and hand_keys.KEPT_PROPERTY not in arm
    request = generation_session.build_request(bpy.context)
    assert request.constraints is None and not request.notes



def test_a_hand_keyed_fist_is_kept_through_a_re_roll(studio):
    """Issue 32: the shipped model drives the fingers, and Keep My Keys keeps a fist the animator
    keyed on them (three segments of each finger of the left hand) through a take and a re-roll."""
    arm = _arm()
    fingers = [f"LeftHand{f}{k}" for f in ("Index", "Middle", "Ring", "Pinky") for k in (1, 2, 3)]
    assert all(name in arm.pose.bones for name in fingers)
    arm.animation_data_create()
    pose = bpy.data.actions.new("my fist")
    fist = {name: _raise(arm.pose.bones[name], 60.0) for name in fingers}
    for name, quaternion in fist.items():
        _key(pose, arm.pose.bones[name], quaternion, KEY_FRAME)
    first, report = _generate()
    assert f"Passing through {len(fingers)} hand-keyed bone poses" in report
    bpy.context.scene.ohgesture.seed = 4
    second, _ = _generate()
    for take in (first, second):
        worst = max(_angle(_pose(take, name, KEY_FRAME), fist[name]) for name in fingers)
        assert worst < 3.0, worst
    # elsewhere the fingers are the model's own and move
    away = np.array([_pose(second, "LeftHandIndex2", f) for f in range(1, 90, 5)])
    assert np.ptp(away, axis=0).max() > 0.02
