"""The Upper Body Layer and IK on a rig named as a Mixamo FBX import, with the add-on registered
in-process and the shipped model run by the real command-line generator.

- Upper Body Layer: the torso stands as in the whole take (the layer keeps the base's hips, so
  the first spine bone makes up for the difference between the take's hips and the base's).
- IK: arms held by IK constraints are refused before generating, in one sentence naming the
  constraints; Mute IK Constraints mutes them and the arms then move."""

import bpy
import numpy as np
import pytest
from mathutils import Matrix, Vector

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import common, layering, preflight
from ohgesture.ohgesture_addon import session as generation_session
from blender_util import reset_blender
from support import SAMPLES
from test_retarget import mixamo_rig

HIPS, HEAD = "mixamorig:Hips", "mixamorig:Head"
FOREARMS = ("mixamorig:LeftForeArm", "mixamorig:RightForeArm")
WRISTS = ("mixamorig:LeftHand", "mixamorig:RightHand")


@pytest.fixture
def studio(tmp_path, monkeypatch):
    """30 fps, the shipped model, the sample voice (8.9 s of eSpeak: on it the shipped model
    pitches the hips about 10 degrees and the spine makes up for it), a Mixamo-named T-pose rig."""
    addon.register()
    monkeypatch.setenv("OHGESTURE_MODEL", str(common.DEFAULT_MODEL))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    scene = reset_blender()
    scene.render.fps, scene.frame_start = 30, 1
    wav = SAMPLES / "speech_en.wav"
    rig = mixamo_rig(up_axis="Y")  # Y-up armature data under a rotated object, as an FBX import has
    settings = scene.ohgesture
    settings.source, settings.sound_file, settings.armature = "FILE", str(wav), rig
    settings.quality, settings.seed = "FAST", 5
    yield {"scene": scene, "settings": settings, "rig": rig}
    addon.unregister()


def _generate():
    reports = []
    session = generation_session.start_session(bpy.context)
    assert session.run_blocking(lambda kind, text: reports.append(text), timeout=600) == {"FINISHED"}, reports
    return session.action


def _world_heads(scene, rig, names, frames) -> np.ndarray:
    """(frames, names, 3) world positions of the bones' heads."""
    out = np.empty((len(frames), len(names), 3))
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        world = np.array(rig.matrix_world)
        for n, name in enumerate(names):
            out[k, n] = (world @ np.r_[np.array(rig.pose.bones[name].head), 1.0])[:3]
    return out


def _torso_tilt(scene, rig, frames) -> np.ndarray:
    """Per frame, degrees between the hips-to-head line and the world's vertical."""
    heads = _world_heads(scene, rig, [HIPS, HEAD], frames)
    line = heads[:, 1] - heads[:, 0]
    return np.degrees(np.arccos(line[:, 2] / np.linalg.norm(line, axis=1)))


def _undo_take(rig, action):
    """The rig as before a take: ``action`` active, no NLA tracks, every bone at rest (not at
    what the take left on channels nobody keys now). Returns its animation data."""
    anim = rig.animation_data
    for track in list(anim.nla_tracks):
        anim.nla_tracks.remove(track)
    anim.action = action
    for bone in rig.pose.bones:
        bone.matrix_basis = Matrix.Identity(4)
    return anim


def _base_action(rig, name, frames, hips_rotation=None):
    """The animator's own action: the hips' location keyed (and turned by ``hips_rotation(frame)``
    -> quaternion wxyz where given)."""
    rig.animation_data_create().action = bpy.data.actions.new(name)
    hips = rig.pose.bones[HIPS]
    hips.rotation_mode = "QUATERNION"
    for frame in frames:
        hips.location = (0.0, 0.0, 0.0)
        hips.keyframe_insert("location", frame=frame)
        if hips_rotation is not None:
            hips.rotation_quaternion = hips_rotation(frame)
            hips.keyframe_insert("rotation_quaternion", frame=frame)
    return rig.animation_data.action


def test_upper_body_layer_stands_the_torso_as_the_whole_take(studio):
    scene, settings, rig = studio["scene"], studio["settings"], studio["rig"]
    base = _base_action(rig, "standing", [1])
    full = _generate()
    frames = range(int(full.frame_range[0]), int(full.frame_range[1]) + 1)
    full_tilt = _torso_tilt(scene, rig, frames)
    anim = _undo_take(rig, base)
    settings.layer_upper_body = True
    layer = _generate()
    assert anim.action is None and anim.nla_tracks[-1].name == layering.LAYER_TRACK
    assert anim.nla_tracks[-1].strips[0].action == layer
    layered_tilt = _torso_tilt(scene, rig, frames)
    print(f"torso tilt: whole take {full_tilt.mean():.1f} deg, layered {layered_tilt.mean():.1f} deg")
    assert abs(layered_tilt.mean() - full_tilt.mean()) <= 5.0
    assert full_tilt.max() > 1.0  # the take does lean (else the comparison says nothing)
    # Regenerate Selection in the layer keeps the spine standing on the hips below it.
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 80, 160
    settings.seed = 9
    assert bpy.ops.ohgesture.regenerate_selection() == {"FINISHED"}
    redone = _torso_tilt(scene, rig, range(80, 161))
    print(f"regenerated frames 80-160 of the layer: {redone.mean():.1f} deg")
    assert abs(redone.mean() - full_tilt.mean()) <= 5.0


def test_layer_over_a_turning_walk_keeps_the_walks_heading_and_the_takes_posture(studio):
    """Over hips that pitch and turn (a walk's), the layered chest leans as in the take and
    faces where the walk's hips face."""
    scene, settings, rig = studio["scene"], studio["settings"], studio["rig"]
    full = _generate()
    frames = range(int(full.frame_range[0]), int(full.frame_range[1]) + 1)
    full_tilt = _torso_tilt(scene, rig, frames)

    def walk(frame):
        # The hips bone points up, so in its own axes Y turns the body round and X pitches it.
        turn = Matrix.Rotation(np.radians(60 * frame / len(frames)), 4, "Y")  # a slow 60-degree turn
        pitch = Matrix.Rotation(np.radians(12 * np.sin(frame / 30 * 2 * np.pi)), 4, "X")
        return (turn @ pitch).to_quaternion()

    anim = _undo_take(rig, None)
    walk_action = _base_action(rig, "walk", list(frames)[::3], walk)
    settings.layer_upper_body = True
    _generate()
    assert anim.nla_tracks[0].strips[0].action == walk_action
    layered_tilt = _torso_tilt(scene, rig, frames)
    print(f"over the walk: whole take {full_tilt.mean():.1f} deg, layered {layered_tilt.mean():.1f} deg")
    assert abs(layered_tilt.mean() - full_tilt.mean()) <= 5.0
    # The chest faces where the walk's hips face: its forward axis turned with the walk.
    scene.frame_set(frames[-1])
    world = np.array(rig.matrix_world)[:3, :3]
    chest, hips = (world @ np.array(rig.pose.bones[n].matrix)[:3, :3] for n in ("mixamorig:Spine2", HIPS))
    heading = [np.degrees(np.arctan2(m[1, 0], m[0, 0])) for m in (chest, hips)]  # bone X: the body's left-right
    assert abs(heading[1]) > 45  # the walk did turn
    assert abs((heading[0] - heading[1] + 180) % 360 - 180) < 30


def _add_ik(rig, bones):
    """IK on ``bones`` (chain 2: the bone and its parent) aimed at new target bones nobody keys."""
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    for k, name in enumerate(bones):
        target = rig.data.edit_bones.new(f"ik_target_{k}")
        head = rig.data.edit_bones[name].tail
        target.head, target.tail = head + Vector((0, -0.2, 0)), head + Vector((0, -0.2, 0.1))
    bpy.ops.object.mode_set(mode="OBJECT")
    for k, name in enumerate(bones):
        constraint = rig.pose.bones[name].constraints.new("IK")
        constraint.target, constraint.subtarget, constraint.chain_count = rig, f"ik_target_{k}", 2


def _wrist_path(scene, rig, action) -> float:
    """Metres the wrists travel over the take, the longer of the two."""
    frames = range(int(action.frame_range[0]), int(action.frame_range[1]) + 1)
    heads = _world_heads(scene, rig, WRISTS, frames)
    return float(np.linalg.norm(np.diff(heads, axis=0), axis=-1).sum(axis=0).max())


def test_ik_arms_are_refused_in_one_sentence_and_move_once_muted(studio):
    scene, settings, rig = studio["scene"], studio["settings"], studio["rig"]
    free = _wrist_path(scene, rig, _generate())  # the same rig without IK
    anim = _undo_take(rig, None)
    _add_ik(rig, FOREARMS)
    actions = set(bpy.data.actions)
    with pytest.raises(common.SettingsError) as refused:
        generation_session.build_request(bpy.context)
    sentence = str(refused.value)
    print(sentence)
    assert "IK" in sentence and all(f"'{name}'" in sentence for name in FOREARMS)
    assert "Mute IK Constraints" in sentence and sentence.count(". ") == 0 and sentence.endswith(".")
    with pytest.raises(RuntimeError, match="IK constraints"):  # the operator's error report, in a script
        bpy.ops.ohgesture.generate()
    assert set(bpy.data.actions) == actions and anim.action is None  # nothing was touched
    assert "UNDO" in bpy.types.OHGESTURE_OT_mute_ik.bl_options
    assert bpy.ops.ohgesture.mute_ik() == {"FINISHED"}
    assert all(rig.pose.bones[name].constraints[0].mute for name in FOREARMS)
    held = _wrist_path(scene, rig, _generate())
    print(f"wrist path: {free:.2f} m without IK, {held:.2f} m with it muted")
    assert free > 0.5 and held >= 0.5 * free


def test_ik_on_the_legs_does_not_stop_the_upper_body_layer(studio):
    settings, rig = studio["settings"], studio["rig"]
    _add_ik(rig, ["mixamorig:LeftLeg"])
    metadata = common.model_metadata(common.model_path(bpy.context))
    assert [b.name for b, _ in preflight.holding_ik(rig, metadata)] == ["mixamorig:LeftLeg"]
    assert preflight.holding_ik(rig, metadata, upper_body_only=True) == []
    settings.layer_upper_body = True
    generation_session.build_request(bpy.context)  # no refusal
