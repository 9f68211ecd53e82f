"""Keys keep a rig's rotation modes (issue 33, item 11): a bone in an Euler mode gets Euler
keys (converted in its own order, continuous across frames), an axis-angle bone axis-angle
keys, a quaternion bone quaternion keys, so every action the rig already has keeps playing:
a BVH import's own motion after an Upper Body Layer, an Euler walk under the layer, and a
replaced Euler action put back. Blender's own BVH importer makes the Euler rig; the fake
generator (fake_generate.py) stands in for the model."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import bpy
import mathutils
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ohgesture.core.motion.bvh import write_bvh
from ohgesture.core.motion.skeleton import Motion, Skeleton
from ohgesture.ohgesture_addon import common, keyframes, takes
from ohgesture.ohgesture_addon.strips import strip_timing
from ohgesture.ohgesture_addon import session as generation_session
from blender_util import add_sound_strip, model_and_scene, reset_blender, trim_strip, write_wav

FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")

FPS = 30
BVH_SECONDS = 16
STRIP_SECONDS = 10
LAYER_END = 1 + STRIP_SECONDS * FPS - 1  # the layer keys scene frames 1..300

# A ZEGGS-like body: the fake model's joints (Hips, Spine, Head, LeftArm, LeftHand, RightArm,
# RightHand) map onto it automatically; the forearms, neck and legs have no joint.
BVH_JOINTS = [("Hips", -1, (0, 95, 0)), ("Spine", 0, (0, 12, 0)), ("Spine1", 1, (0, 12, 0)),
              ("Neck", 2, (0, 20, 0)), ("Head", 3, (0, 10, 0)),
              ("LeftShoulder", 2, (5, 18, 0)), ("LeftArm", 5, (12, 0, 0)), ("LeftForeArm", 6, (27, 0, 0)),
              ("LeftHand", 7, (24, 0, 0)),
              ("RightShoulder", 2, (-5, 18, 0)), ("RightArm", 9, (-12, 0, 0)), ("RightForeArm", 10, (-27, 0, 0)),
              ("RightHand", 11, (-24, 0, 0)),
              ("LeftUpLeg", 0, (9, 0, 0)), ("LeftLeg", 13, (0, -42, 0)), ("LeftFoot", 14, (0, -40, 0)),
              ("RightUpLeg", 0, (-9, 0, 0)), ("RightLeg", 16, (0, -42, 0)), ("RightFoot", 17, (0, -40, 0))]
ARMS = ["LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand"]


def _quats(rotvec) -> np.ndarray:
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat()[:, [3, 0, 1, 2]].reshape(rotvec.shape[:-1] + (4,))


def write_bvh_take(path, seconds=BVH_SECONDS, channels_order="XYZ") -> None:
    """A BVH of the body above, every joint swinging up to 30 degrees (the elbows 40)."""
    names = [n for n, _, _ in BVH_JOINTS]
    parents = np.array([p for _, p, _ in BVH_JOINTS])
    offsets = np.array([o for _, _, o in BVH_JOINTS], dtype=np.float64)
    frames = seconds * FPS
    t = np.arange(frames) / FPS
    rng = np.random.default_rng(3)
    freq = rng.uniform(0.3, 0.9, (len(names), 3))
    phase = rng.uniform(0, 2 * np.pi, (len(names), 3))
    amp = np.radians(np.where(np.isin(names, ["LeftForeArm", "RightForeArm"]), 40.0, 30.0))[:, None]
    rotvec = amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])
    translations = np.broadcast_to(offsets, (frames,) + offsets.shape).copy()
    translations[:, 0, 2] = 40 * t  # walking forward
    rot = [f"{axis}rotation" for axis in channels_order]
    channels = [["Xposition", "Yposition", "Zposition"] + rot] + [list(rot) for _ in names[1:]]
    skeleton = Skeleton("zeggs-like", names, parents, offsets, channels, {})
    write_bvh(path, Motion(skeleton, _quats(rotvec), translations, float(FPS)), channels=channels)


def import_bvh(path):
    bpy.ops.import_anim.bvh(filepath=str(path), frame_start=1, use_fps_scale=False, update_scene_duration=True,
                            rotate_mode="NATIVE")
    obj = bpy.context.object
    assert obj.type == "ARMATURE" and obj.animation_data.action is not None
    return obj


def pose_matrices(scene, obj, names, frames) -> np.ndarray:
    """(F, B, 4, 4) each bone's own pose (relative to its parent's and its rest) at the
    frames, as Blender evaluates the animation."""
    out = np.empty((len(frames), len(names), 4, 4))
    for i, frame in enumerate(frames):
        scene.frame_set(frame)
        for b, name in enumerate(names):
            out[i, b] = np.array(obj.pose.bones[name].matrix_basis)
    return out


def motion_deg(matrices) -> np.ndarray:
    """(B,) how far each bone turns over the frames: the sum of its frame-to-frame angles."""
    r = matrices[:, :, :3, :3]
    relative = np.einsum("fbji,fbjk->fbik", r[:-1], r[1:])
    cos = np.clip((np.trace(relative, axis1=2, axis2=3) - 1) / 2, -1.0, 1.0)
    return np.degrees(np.arccos(cos)).sum(axis=0)


def rotation_curves(action) -> dict:
    """{bone: the rotation property its keys are on}."""
    return {fc.data_path.split('"')[1]: fc.data_path.rsplit(".", 1)[1] for fc in takes.action_fcurves(action)
            if fc.data_path.startswith("pose.bones") and ".rotation_" in fc.data_path}


@pytest.fixture
def studio(registered, tmp_path, monkeypatch):
    _, scene = model_and_scene(tmp_path, monkeypatch, FPS)
    wav = tmp_path / "speech.wav"
    write_wav(wav, STRIP_SECONDS)
    add_sound_strip(scene, wav, frame_start=1)
    bvh = tmp_path / "take.bvh"
    write_bvh_take(bvh)
    return SimpleNamespace(scene=scene, tmp=tmp_path, wav=wav, bvh=bvh)


def generate(scene, arm, entry_script=FAKE, **settings):
    values = dict(source="STRIP", sound_strip="speech", armature=arm, use_hand_keys=False) | settings
    for key, value in values.items():
        setattr(scene.ohgesture, key, value)
    assert bpy.ops.ohgesture.generate(entry_script=entry_script) == {"FINISHED"}
    return takes.generated_action(arm)


def test_a_bvh_import_keeps_its_own_motion_after_the_upper_body_layer(studio):
    scene = studio.scene
    arm = import_bvh(studio.bvh)
    modes = {b.name: b.rotation_mode for b in arm.pose.bones}
    assert modes["LeftArm"] not in ("QUATERNION", "AXIS_ANGLE")  # Blender's importer: Euler bones
    names = [b.name for b in arm.pose.bones]
    after = list(range(LAYER_END + 1, BVH_SECONDS * FPS + 1))
    own = pose_matrices(scene, arm, names, after)
    layer = generate(scene, arm, layer_upper_body=True, layer_blend_frames=6)
    played = pose_matrices(scene, arm, names, after)
    kept = motion_deg(played) / motion_deg(own)
    print("motion after the layer, own -> played (deg):",
          {name: f"{motion_deg(own)[b]:.1f} -> {motion_deg(played)[b]:.1f}" for b, name in enumerate(names)})
    for b, name in enumerate(names):
        assert kept[b] >= 0.8, (name, motion_deg(own)[b], motion_deg(played)[b])
    np.testing.assert_allclose(played, own, atol=1e-4)  # after the layer the BVH plays exactly as before
    assert {b.name: b.rotation_mode for b in arm.pose.bones} == modes
    keyed = rotation_curves(layer)
    assert {"LeftArm", "LeftHand", "RightArm", "Head"} <= set(keyed)
    assert all(keyed[name] == "rotation_euler" for name in keyed)
    # Inside the layer the gestures play: the arms move differently from the BVH.
    inside = [30, 150, 250]
    before = pose_matrices(scene, arm, ["LeftArm"], inside)
    arm.animation_data.nla_tracks[-1].mute = True
    assert np.abs(pose_matrices(scene, arm, ["LeftArm"], inside) - before).max() > 1e-2


WALK = ["LeftArm", "RightArm", "Spine", "Hips"]  # bones of the fake model's own armature


def test_the_zeggs_capture_keeps_its_elbows_after_a_layer_of_the_shipped_model(registered, zeggs_bvh, zeggs_wav,
                                                                               tmp_path, monkeypatch):
    """The issue's case on real data: Blender's import of a ZEGGS capture (ZYX Euler bones),
    its own speech as a 10-s strip, Upper Body Layer, the shipped model: each arm's motion
    after the layer's last frame (the elbows 280-300 degrees of turning) was 0 before."""
    if not common.DEFAULT_MODEL.exists():
        pytest.skip("the shipped model is not in this checkout")
    monkeypatch.setenv("OHGESTURE_MODEL", str(common.DEFAULT_MODEL))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    scene = reset_blender()
    scene.render.fps = FPS
    bpy.ops.import_anim.bvh(filepath=str(zeggs_bvh), frame_start=1, use_fps_scale=False, rotate_mode="NATIVE",
                            global_scale=0.01)
    arm = bpy.context.object
    strip = add_sound_strip(scene, zeggs_wav, frame_start=1)
    trim_strip(strip, end=int(strip_timing(strip)[3]) - STRIP_SECONDS * FPS)
    names = ["LeftArm", "LeftForeArm", "RightArm", "RightForeArm"]
    after = list(range(LAYER_END + 1, BVH_SECONDS * FPS + 1))
    own = pose_matrices(scene, arm, names, after)
    generate(scene, arm, entry_script="", layer_upper_body=True, quality="FAST")
    assert takes.generated_info(takes.generated_action(arm))["max_frames"] == STRIP_SECONDS * FPS
    played = pose_matrices(scene, arm, names, after)
    print("ZEGGS motion after the layer, own -> played (deg):",
          {name: f"{motion_deg(own)[b]:.1f} -> {motion_deg(played)[b]:.1f}" for b, name in enumerate(names)})
    assert (motion_deg(played) >= 0.8 * motion_deg(own)).all() and motion_deg(own).min() > 100


def _euler_walk(arm, frames):
    """The animator's walk on the model's own armature: arms, spine and hips swinging in XYZ
    Euler; returns the action."""
    walk = bpy.data.actions.new("walk")
    arm.animation_data_create().action = walk
    for name in WALK:
        arm.pose.bones[name].rotation_mode = "XYZ"
    for frame in range(1, frames + 1, 5):
        phase = frame / FPS * 2 * np.pi
        for name, sign in zip(WALK, (1, -1, 0.3, 0.5)):
            bone = arm.pose.bones[name]
            bone.rotation_euler = (np.radians(35 * sign * np.sin(phase)), 0.0, np.radians(10 * np.cos(phase)))
            bone.keyframe_insert("rotation_euler", frame=frame)
    return walk


def test_an_euler_walk_keeps_its_arm_swing_around_the_layer(studio):
    scene = studio.scene
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    arm = scene.ohgesture.armature
    walk = _euler_walk(arm, BVH_SECONDS * FPS)
    names = WALK
    after = list(range(LAYER_END + 1, BVH_SECONDS * FPS + 1, 3))
    own = pose_matrices(scene, arm, names, after)
    layer = generate(scene, arm, layer_upper_body=True, layer_blend_frames=6)
    assert [t.strips[0].action for t in arm.animation_data.nla_tracks] == [walk, layer]
    played = pose_matrices(scene, arm, names, after)
    assert motion_deg(own)[0] > 100  # the walk does swing its arms
    assert motion_deg(played)[0] > 0.8 * motion_deg(own)[0]
    np.testing.assert_allclose(played, own, atol=1e-4)
    assert arm.pose.bones["LeftArm"].rotation_mode == "XYZ"
    assert arm.pose.bones["Head"].rotation_mode == "QUATERNION"
    keyed = rotation_curves(layer)
    assert keyed["LeftArm"] == "rotation_euler" and keyed["Head"] == "rotation_quaternion" and "Hips" not in keyed


def test_a_replaced_euler_action_put_back_plays(studio):
    scene = studio.scene
    arm = import_bvh(studio.bvh)
    own_action = arm.animation_data.action
    names = [b.name for b in arm.pose.bones]
    frames = list(range(1, BVH_SECONDS * FPS + 1, 7))
    own = pose_matrices(scene, arm, names, frames)
    generated = generate(scene, arm)
    assert arm.animation_data.action == generated and own_action.use_fake_user
    arm.animation_data.action = own_action  # the animator puts the BVH's action back
    played = pose_matrices(scene, arm, names, frames)
    assert (motion_deg(played) > 0.8 * motion_deg(own)).all(), motion_deg(played)
    np.testing.assert_allclose(played, own, atol=1e-4)
    assert set(rotation_curves(generated).values()) == {"rotation_euler"}


def test_regenerate_selection_rewrites_euler_keys_in_place(studio):
    scene = studio.scene
    arm = import_bvh(studio.bvh)
    action = generate(scene, arm)
    before = {key: takes.fcurve_keys(fc).copy() for key, fc in
              ((f"{fc.data_path}[{fc.array_index}]", fc) for fc in takes.action_fcurves(action))}
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 100, 160
    scene.ohgesture.seed = 17
    assert bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE) == {"FINISHED"}
    changed = 0
    for fc in takes.action_fcurves(action):
        old, new = before[f"{fc.data_path}[{fc.array_index}]"], takes.fcurve_keys(fc)
        outside = (old[:, 0] < 100) | (old[:, 0] > 160)
        assert np.array_equal(new[outside], old[outside])
        if fc.data_path.endswith("rotation_euler"):
            changed += int((new[~outside, 1] != old[~outside, 1]).sum())
            assert np.abs(np.diff(new[:, 1])).max() < 1.5 * np.pi  # no 360-degree flip at the borders
    assert changed > 100


def _spin_channels(mode, count=90):
    """Channels of one bone turning 2.5 times about Z while tilting, and a second turning
    170 degrees about the middle axis of ``mode`` (through gimbal lock at 90) while tilting."""
    t = np.linspace(0, 1, count)
    spin = np.stack([0.4 * np.sin(6 * t), 0.3 * np.cos(5 * t), 5 * np.pi * t], axis=1)
    basis_q = np.empty((count, 2, 4))
    basis_q[:, 0] = Rotation.from_euler("xyz", spin).as_quat()[:, [3, 0, 1, 2]]
    middle = "XYZ".index(mode[1]) if len(mode) == 3 else 1
    sweep = np.stack([0.3 * np.sin(4 * t), 0.2 * t, 0.1 * np.cos(3 * t)], axis=1)
    sweep[:, middle] = np.radians(170) * t
    basis_q[:, 1] = _quats(sweep)
    basis_q *= np.where(np.arange(count) % 2 == 0, 1.0, -1.0)[:, None, None]  # either sign, as a take may hold
    return basis_q


@pytest.mark.parametrize("mode", ["XYZ", "ZXY", "YZX", "AXIS_ANGLE", "QUATERNION"])
def test_keys_follow_each_bones_rotation_mode_without_flips(registered, mode):
    scene = reset_blender()
    scene.render.fps = FPS
    data = bpy.data.armatures.new("rig")
    arm = bpy.data.objects.new("rig", data)
    scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for name, head, tail in (("a", (0, 0, 0), (0, 0, 1)), ("b", (0, 0, 1), (0, 0, 2))):
        bone = data.edit_bones.new(name)
        bone.head, bone.tail = head, tail
    data.edit_bones["b"].parent = data.edit_bones["a"]
    bpy.ops.object.mode_set(mode="OBJECT")
    for bone in arm.pose.bones:
        bone.rotation_mode = mode
    basis_q = _spin_channels(mode)
    count = len(basis_q)
    channels = (["a", "b"], basis_q, np.zeros((count, 2, 3)), [True, True], [False, False], count)
    action = keyframes.write_channels(arm, channels, frame_start=1, action_name="spin")
    assert [b.rotation_mode for b in arm.pose.bones] == [mode, mode]
    prop = {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(mode, "rotation_euler")
    paths = {fc.data_path.rsplit(".", 1)[1] for fc in takes.action_fcurves(action)}
    assert paths == {prop}
    for fc in takes.action_fcurves(action):
        values = takes.fcurve_keys(fc)[:, 1]
        if prop == "rotation_euler":
            # The spin goes on past +-180 degrees without wrapping; near gimbal lock an angle may
            # change fast, but never by half a turn from one frame to the next.
            assert np.abs(np.diff(values)).max() < np.pi / 2, (fc.data_path, fc.array_index)
            if fc.array_index == 2 and mode == "XYZ" and fc.data_path.startswith('pose.bones["a"]'):
                assert values[-1] - values[0] > 4 * np.pi
    if prop == "rotation_euler":  # the same angles as Blender's own compatible Euler
        for b, name in enumerate(("a", "b")):
            compatible, expected = mathutils.Euler((0.0, 0.0, 0.0), mode), []
            for q in basis_q[:, b]:
                compatible = mathutils.Quaternion(q).to_euler(mode, compatible)
                expected.append(compatible[:])
            keyed = np.stack([takes.fcurve_keys(takes.bone_fcurves(action)[name, prop][i])[:, 1] for i in range(3)], 1)
            np.testing.assert_allclose(keyed, expected, atol=1e-4)
    for frame in range(1, count + 1, 4):
        scene.frame_set(frame)
        for b, bone in enumerate(arm.pose.bones):
            got = np.array(bone.matrix_basis.to_quaternion())
            assert abs(np.dot(got, basis_q[frame - 1, b])) > 1 - 1e-5, (bone.name, frame)
    # Half-way between two keys the bone turns between them (no turn the long way round).
    scene.frame_set(1, subframe=0.5)
    half = np.array(arm.pose.bones["a"].matrix_basis.to_quaternion())
    assert abs(np.dot(half, basis_q[0, 0])) > np.cos(np.radians(10))


def test_keep_my_keys_reads_euler_keys(studio):
    """Euler keys on the model's own armature (e.g. a BVH of a take imported back) become
    constraints, as quaternion keys do."""
    scene = studio.scene
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    arm = scene.ohgesture.armature
    arm.animation_data_create().action = bpy.data.actions.new("my pose")
    bone = arm.pose.bones["LeftArm"]
    bone.rotation_mode = "XYZ"
    bone.rotation_euler = (0.0, np.radians(30), np.radians(45))
    bone.keyframe_insert("rotation_euler", frame=40)
    scene.ohgesture.source, scene.ohgesture.sound_strip, scene.ohgesture.use_hand_keys = "STRIP", "speech", True
    request = generation_session.build_request(bpy.context)
    constraints = request.constraints
    assert constraints is not None and list(constraints["joints"]) == [3]  # LeftArm
    assert list(constraints["frames"]) == [39]  # scene frame 40 of a take from frame 1, both at 30 fps
    assert request.notes == ["Passing through 1 hand-keyed bone poses"]
