"""Animator control: Regenerate Selection, hand keys as constraints, the upper-body NLA
layer and the emotion mix, in the real bpy module with the real command-line generator
(tiny trained model) or the stand-in generator where the test is about the Blender side."""

import json
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import layering, takes
from ohgesture.ohgesture_addon import session as generation_session
from blender_util import add_sound_strip, reset_blender, write_metadata_only_checkpoint, write_wav
from support import run_cli

from support import ROOT
FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")
ARMS = ["UpperArm_L", "LowerArm_R"]
LEGS = ["UpperLeg_L", "LowerLeg_L", "Foot_L", "UpperLeg_R", "LowerLeg_R", "Foot_R"]


def _quat_angle_deg(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    cos = abs(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))
    return float(np.degrees(2 * np.arccos(min(cos, 1.0))))


def _rot(wxyz) -> Rotation:
    wxyz = np.asarray(wxyz, float)
    return Rotation.from_quat(np.concatenate([wxyz[..., 1:], wxyz[..., :1]], axis=-1))


def _speeds_deg(quats) -> np.ndarray:
    """Angle turned from each frame to the next (F-1,), degrees."""
    r = _rot(quats)
    return np.degrees((r[1:] * r[:-1].inv()).magnitude())


def _real_data_max_speed(joint: int) -> float:
    """The fastest this joint turns per frame in the data the tiny model learnt from."""
    from synthetic import make_synthetic_take

    return max(_speeds_deg(make_synthetic_take(10.0, label=label, seed=s).motion.rotations[:, joint]).max()
               for label in ("calm", "lively") for s in (1, 2))


def _all_keys(action) -> dict:
    out = {}
    for fc in takes.action_fcurves(action):
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out[(fc.data_path, fc.array_index)] = co.reshape(-1, 2)
    return out


def _bone_quats(action, names, frames) -> np.ndarray:
    """(len(frames), len(names), 4) key values of the bones' quaternion curves."""
    curves = takes.bone_fcurves(action)
    return np.stack([np.stack([[curves[(n, "rotation_quaternion")][i].evaluate(f) for i in range(4)]
                               for n in names]) for f in frames])


# --- command line ----------------------------------------------------------------------------

def test_cli_keeps_an_npz_take_bit_for_bit_and_meets_constraints(tiny_checkpoint, tmp_path):
    import soundfile as sf

    from synthetic import make_synthetic_take

    wav = tmp_path / "ten.wav"
    sf.write(wav, make_synthetic_take(10.0, seed=7).waveform, 16000)
    take, redo = tmp_path / "take.npz", tmp_path / "redo.npz"
    run_cli("generate", wav, "--out", take, "--model", tiny_checkpoint, "--steps", 2)
    with np.load(take) as data:
        old = {k: data[k] for k in ("rotations", "root_translation")}
    # Hand poses 40 degrees away from what the model did at frame 120.
    joints = np.array([6, 11])
    tweak = Rotation.from_euler("x", 40, degrees=True)
    poses = _rot(old["rotations"][120, joints]) * tweak
    xyzw = poses.as_quat()
    constraints = tmp_path / "poses.npz"
    np.savez(constraints, frames=np.array([120, 120]), joints=joints,
             rotations=np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1))
    run_cli("generate", wav, "--out", redo, "--model", tiny_checkpoint, "--steps", 2, "--keep", take,
            "--range", "100:160", "--seed", 9, "--constraints", constraints)
    with np.load(redo) as data:
        new = {k: data[k] for k in ("rotations", "root_translation")}
    outside = np.r_[0:100, 160:300]
    for key in new:
        assert new[key].shape == old[key].shape
        assert np.array_equal(new[key][outside], old[key][outside])  # bit-identical
        assert not np.array_equal(new[key][100:160], old[key][100:160])
    for k, j in enumerate(joints):
        assert _quat_angle_deg(new["rotations"][120, j], [*poses[k].as_quat()[3:], *poses[k].as_quat()[:3]]) < 2.0
        assert _speeds_deg(new["rotations"][105:136, j]).max() <= _real_data_max_speed(j)
    bad = run_cli("generate", wav, "--out", tmp_path / "x.npz", "--model", tiny_checkpoint, "--keep", take,
                  "--range", "100:160", "--constraints", tmp_path / "missing.npz", check=False)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1].startswith("error:")


# --- Blender, real model ------------------------------------------------------------------------

@pytest.fixture
def studio(tiny_checkpoint, tmp_path, monkeypatch):
    """30 fps scene, 10 s of speech from a sound file, the model's own armature."""
    yield from _studio(tiny_checkpoint, tmp_path, monkeypatch)


@pytest.fixture
def shipped_studio(tiny_checkpoint, tmp_path, monkeypatch):
    """The same on the shipped model when present: the tiny test model's motion is so jittery
    that the untouched parts' 99th percentile says little about a join."""
    from ohgesture.ohgesture_addon.common import DEFAULT_MODEL  # core/weights/default.safetensors, torch-free

    yield from _studio(DEFAULT_MODEL if DEFAULT_MODEL.exists() else tiny_checkpoint, tmp_path, monkeypatch)


def _studio(model, tmp_path, monkeypatch):
    import soundfile as sf

    from synthetic import make_synthetic_take

    addon.register()
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    scene = reset_blender()
    scene.render.fps = 30
    scene.frame_start = 1
    wav = tmp_path / "ten.wav"
    sf.write(wav, make_synthetic_take(10.0, seed=7).waveform, 16000)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    settings = scene.ohgesture
    settings.source, settings.sound_file, settings.quality, settings.seed = "FILE", str(wav), "FAST", 3
    yield {"scene": scene, "settings": settings, "arm": settings.armature, "tmp": tmp_path, "wav": wav}
    addon.unregister()


def _generate(steps=3, **overrides):
    request = generation_session.build_request(bpy.context)
    request.settings = request.settings.replace(steps=steps)
    for key, value in overrides.items():
        setattr(request, key, value)
    session = generation_session.start_session(bpy.context, request=request)
    reports = []
    assert session.run_blocking(lambda kind, text: reports.append(text), timeout=300) == {"FINISHED"}, reports
    return session.action, reports


def test_regenerate_selection_keeps_keys_outside_and_joins_smoothly(shipped_studio):
    studio = shipped_studio
    action, _ = _generate()
    info = takes.generated_info(action)
    assert info and Path(info["take"]).is_file() and info["frame_start"] == 1 and info["audio"] == str(studio["wav"])
    assert tuple(action.frame_range) == (1, 300)
    before = _all_keys(action)
    scene = studio["scene"]
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 100, 160
    studio["settings"].seed = 11
    assert bpy.ops.ohgesture.regenerate_selection() == {"FINISHED"}
    assert studio["arm"].animation_data.action == action
    after = _all_keys(action)
    assert after.keys() == before.keys()
    changed = 0
    for key, old in before.items():
        new = after[key]
        outside = (old[:, 0] < 100) | (old[:, 0] > 160)
        assert np.array_equal(new[:, 0], old[:, 0])
        assert np.array_equal(new[outside], old[outside]), key  # bit-identical keys outside 100-160
        changed += int((new[~outside, 1] != old[~outside, 1]).sum())
    assert changed > 100
    assert takes.generated_info(action)["take"] != info["take"]
    # No pop: the velocity jump at either border is no larger than the untouched parts' largest. (Their 99th
    # percentile was the bound until the arms were smoothed at 3.5 Hz: a fast gesture of the kept take running
    # into the start border then reached 0.0241 against 0.0239, its own frames just before 0.0227.)
    names = [b.name for b in studio["arm"].pose.bones]
    q = _bone_quats(action, names, range(1, 301))
    jump = np.linalg.norm(np.diff(q, n=2, axis=0), axis=-1).max(axis=1)  # jump[i]: at frame i + 2
    limit = np.max(np.r_[jump[5:93], jump[167:295]])
    assert jump[96:100].max() <= limit and jump[156:160].max() <= limit


def test_hand_keyed_pose_is_met_and_approached_smoothly(studio):
    arm, settings = studio["arm"], studio["settings"]
    settings.use_hand_keys = True
    generated, _ = _generate()
    pose = _bone_quats(generated, ARMS, [120])[0]
    tweak = Rotation.from_euler("x", 40, degrees=True)
    hand = [(_rot(q) * tweak).as_quat()[[3, 0, 1, 2]] for q in pose]
    # The animator's own action with one pose on frame 120 (not an OHGesture action).
    arm.animation_data.action = bpy.data.actions.new("my pose")
    for name, q in zip(ARMS, hand):
        bone = arm.pose.bones[name]
        bone.rotation_quaternion = q
        bone.keyframe_insert("rotation_quaternion", frame=120)
    action, reports = _generate()
    assert any("hand-keyed" in r for r in reports)
    joints = {"UpperArm_L": 6, "LowerArm_R": 11}
    for k, name in enumerate(ARMS):
        assert _quat_angle_deg(_bone_quats(action, [name], [120])[0, 0], hand[k]) < 2.0
        near = _bone_quats(action, [name], range(110, 131))[:, 0]
        assert _speeds_deg(near).max() <= max(_speeds_deg(_bone_quats(generated, [name], range(1, 301))[:, 0]).max(),
                                              _real_data_max_speed(joints[name]))


def test_upper_body_layer_leaves_the_walk_below_the_hips(studio):
    arm, settings, scene = studio["arm"], studio["settings"], studio["scene"]
    short = studio["tmp"] / "short.wav"
    write_wav(short, 3.0)
    settings.sound_file = str(short)
    walk = bpy.data.actions.new("walk")
    arm.animation_data_create().action = walk
    for frame in range(1, 121, 4):
        phase = frame / 30 * 2 * np.pi
        arm.pose.bones["Hips"].location = (0.0, 0.0, 0.02 * np.sin(2 * phase))
        arm.pose.bones["Hips"].keyframe_insert("location", frame=frame)
        for name, sign in (("UpperLeg_L", 1), ("UpperLeg_R", -1), ("LowerLeg_L", -1), ("LowerLeg_R", 1),
                           ("Spine", 1), ("UpperArm_L", -1)):
            bone = arm.pose.bones[name]
            bone.rotation_mode = "QUATERNION"
            bone.rotation_quaternion = Rotation.from_euler("x", sign * 25 * np.sin(phase), degrees=True).as_quat()[
                [3, 0, 1, 2]]
            bone.keyframe_insert("rotation_quaternion", frame=frame)
    frames = [1, 17, 45, 70, 110]
    reference = {}
    for f in frames:
        scene.frame_set(f)
        reference[f] = {n: np.array(arm.pose.bones[n].matrix) for n in LEGS + ["Hips", "UpperArm_L"]}
    settings.layer_upper_body = True
    settings.layer_blend_frames = 5
    layer, _ = _generate()
    anim = arm.animation_data
    assert anim.action is None and walk.use_fake_user
    tracks = list(anim.nla_tracks)
    assert [t.strips[0].action for t in tracks] == [walk, layer]
    strip = tracks[-1].strips[0]
    assert strip.blend_type == "REPLACE" and strip.blend_in == strip.blend_out == 5
    keyed = {name for (name, _) in takes.bone_fcurves(layer)}
    assert keyed and not keyed & set(LEGS + ["Hips"]) and {"Spine", "Head", "UpperArm_L", "Hand_R"} <= keyed
    moved = 0.0
    for f in frames:
        scene.frame_set(f)
        for n in LEGS + ["Hips"]:
            np.testing.assert_allclose(np.array(arm.pose.bones[n].matrix), reference[f][n], atol=1e-5)
        moved = max(moved, np.abs(np.array(arm.pose.bones["UpperArm_L"].matrix) - reference[f]["UpperArm_L"]).max())
    assert moved > 1e-3  # the arm does follow the gestures


# --- Blender, stand-in generator ------------------------------------------------------------------

@pytest.fixture
def fake_setup(tmp_path, monkeypatch):
    addon.register()
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)  # emotions neutral, happy, angry, sad
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    monkeypatch.setenv("FAKE_ARGS_LOG", str(tmp_path / "args.json"))
    scene = reset_blender()
    scene.render.fps = 30
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    add_sound_strip(scene, wav, frame_start=10)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    yield {"scene": scene, "tmp": tmp_path, "arm": scene.ohgesture.armature, "args": tmp_path / "args.json"}
    addon.unregister()


def _argv(setup):
    argv = json.loads(setup["args"].read_text())["argv"]
    return argv, dict(zip(argv[2::], argv[3::]))


def test_emotion_mix_builds_the_mix_argument(fake_setup):
    settings = fake_setup["scene"].ohgesture
    settings.mix_emotions = True
    assert [i.label for i in settings.emotion_mix] == ["neutral", "happy", "angry", "sad"]
    for item, weight in zip(settings.emotion_mix, (0.5, 0.0, 0.25, 0.25)):
        item.weight = weight
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    argv, opts = _argv(fake_setup)
    assert opts["--mix"] == "neutral:0.5,angry:0.25,sad:0.25"
    assert "--emotion" not in argv and "--blend" not in argv
    for item, weight in zip(settings.emotion_mix, (0.6, 0.0, 0.0, 0.0)):  # one emotion: the single-emotion run
        item.weight = weight
    assert generation_session.build_request(bpy.context).settings.mix == (("neutral", 1.0),)
    for item, weight in zip(settings.emotion_mix, (0.2, 0.2, 0.2, 0.0)):  # normalised to sum to 1
        item.weight = weight
    mix = generation_session.build_request(bpy.context).settings.mix
    assert [label for label, _ in mix] == ["neutral", "happy", "angry"]
    assert [w for _, w in mix] == pytest.approx([1 / 3] * 3, abs=1e-6)
    for item in settings.emotion_mix:
        item.weight = 0.0
    with pytest.raises(RuntimeError, match="at least one emotion"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    settings.mix_emotions = False
    assert generation_session.build_request(bpy.context).settings.mix is None


def test_regenerate_from_selected_keys_and_refusals(fake_setup):
    scene, arm = fake_setup["scene"], fake_setup["arm"]
    with pytest.raises(RuntimeError, match="no action generated"):
        bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE)
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    action = arm.animation_data.action
    with pytest.raises(RuntimeError, match="preview range or select keys"):
        bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE)
    for fc in takes.action_fcurves(action):
        for key in fc.keyframe_points:
            key.select_control_point = 30 <= key.co[0] <= 40
    before = _all_keys(action)
    scene.ohgesture.seed = 99
    assert bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE) == {"FINISHED"}
    argv, opts = _argv(fake_setup)
    assert opts["--range"] == "20:31" and opts["--keep"].endswith(".npz") and opts["--seed"] == "99"
    assert "--gamma-curve" not in argv
    after = _all_keys(action)
    for key, old in before.items():
        outside = (old[:, 0] < 30) | (old[:, 0] > 40)
        assert np.array_equal(after[key][outside], old[outside])
    assert any(not np.array_equal(after[k], before[k]) for k in before)


def test_batch_regenerates_a_range_and_layers(fake_setup):
    tmp, arm = fake_setup["tmp"], fake_setup["arm"]
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    before = _all_keys(arm.animation_data.action)
    name = arm.name  # the object reference dies when a file is opened
    blend = tmp / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    common = [sys.executable, str(ROOT / "ohgesture_addon" / "batch.py"), "--open", str(blend), "--armature",
              arm.name, "--entry-script", FAKE, "--python", sys.executable]
    out = tmp / "redo.blend"
    proc = subprocess.run(common + ["--range", "25:35", "--seed", "5", "--out", str(out)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    argv, opts = _argv(fake_setup)
    assert opts["--range"] == "15:26"
    layered = tmp / "layer.blend"
    proc = subprocess.run(common + ["--strip", "speech", "--layer-upper-body", "--mix", "happy:0.5,sad:0.5",
                                    "--out", str(layered)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _argv(fake_setup)[1]["--mix"] == "happy:0.5,sad:0.5"
    bpy.ops.wm.open_mainfile(filepath=str(out))
    after = _all_keys(bpy.data.objects[name].animation_data.action)
    for key, old in before.items():
        outside = (old[:, 0] < 25) | (old[:, 0] > 35)
        assert np.array_equal(after[key][outside], old[outside])
    assert any(not np.array_equal(after[k], before[k]) for k in before)
    bpy.ops.wm.open_mainfile(filepath=str(layered))
    anim = bpy.data.objects[name].animation_data
    assert anim.action is None and anim.nla_tracks[-1].name == layering.LAYER_TRACK
