"""Gestures on a rig that Rigify generates (once per module, in a subprocess, from Blender's
human metarig): keys on its controls, and the pose the rig shows after ``frame_set`` (every
constraint evaluated by Blender) is the model's. Expected directions come from an
independent scipy FK (``blender_util.fk_at_times``)."""

import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import hand_keys, layering, retarget, rigify, rigify_keys, takes
from ohgesture.ohgesture_addon import session as generation_session
from blender_util import add_sound_strip, fk_at_times, write_metadata_only_checkpoint, write_wav
from support import ROOT
from test_retarget import lively_take, motion_dict

FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")
RIG_SCRIPT = """
import os, sys
import bpy
import addon_utils
bpy.ops.wm.read_factory_settings(use_empty=True)
addon_utils.enable("rigify", default_set=True)
bpy.ops.object.armature_human_metarig_add()
bpy.ops.pose.rigify_generate()
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
sys.stdout.flush()
os._exit(0)
"""
ARM_BONES = [f"DEF-{b}.{s}" for s in "LR" for b in ("upper_arm", "forearm")]


@pytest.fixture(scope="module")
def rig_blend(tmp_path_factory):
    """A .blend with Blender's human metarig and the rig Rigify generates from it."""
    path = tmp_path_factory.mktemp("rigify") / "rigify.blend"
    proc = subprocess.run([sys.executable, "-c", RIG_SCRIPT, str(path)], capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and path.is_file(), proc.stderr[-3000:]
    return path


@pytest.fixture
def rig(rig_blend):
    bpy.ops.wm.open_mainfile(filepath=str(rig_blend))
    return bpy.data.objects["rig"]


def rename(motion: dict, names: dict) -> dict:
    return {**motion, "joint_names": np.array([names.get(str(n), str(n)) for n in motion["joint_names"]])}


def insert_joint(motion: dict, parent: str, name: str, share: float, seed: int) -> dict:
    """A joint between ``parent`` and all its children, ``share`` of the way to the first
    child, turning by its own smooth rotation (up to ~20 degrees)."""
    names = [str(n) for n in motion["joint_names"]]
    parents = list(motion["parents"])
    p = names.index(parent)
    children = [j for j, q in enumerate(parents) if q == p]
    step = share * np.asarray(motion["offsets"][children[0]], dtype=np.float64)
    offsets = np.asarray(motion["offsets"], dtype=np.float64).copy()
    offsets[children] -= step
    at = p + 1
    order = list(range(at)) + [None] + list(range(at, len(names)))
    new_index = {old: k for k, old in enumerate(order) if old is not None}
    new_parents = [at if old in children else (new_index[parents[old]] if parents[old] >= 0 else -1)
                   for old in order if old is not None]
    new_parents.insert(at, p)
    t = np.arange(len(motion["rotations"]))[:, None] / float(motion["fps"])
    rng = np.random.default_rng(seed)
    rotvec = 0.35 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0, (1, 3)) * t + rng.uniform(0, 6, (1, 3)))
    extra = Rotation.from_rotvec(rotvec).as_quat()[:, [3, 0, 1, 2]]
    rotations = np.insert(np.asarray(motion["rotations"]), at, extra.astype(np.float32), axis=1)
    return {**motion, "rotations": rotations, "joint_names": np.array(names[:at] + [name] + names[at:]),
            "parents": np.array(new_parents, dtype=np.int32),
            "offsets": np.insert(offsets, at, step, axis=0).astype(np.float32)}


ZEGGS_NAMES = {"Chest": "Spine2", **{f"{b}_{s}": f"{'Left' if s == 'L' else 'Right'}{z}" for s in "LR" for b, z in (
    ("Shoulder", "Shoulder"), ("UpperArm", "Arm"), ("LowerArm", "ForeArm"), ("Hand", "Hand"), ("UpperLeg", "UpLeg"),
    ("LowerLeg", "Leg"), ("Foot", "Foot"))}}


def model_motion(skeleton: str, seconds: float = 3.0) -> dict:
    """The synthetic gesture take on the Bandai-like skeleton, or on a ZEGGS-like one (its
    names, four spine joints, two neck joints)."""
    motion = motion_dict(lively_take(seconds, seed=3))
    if skeleton == "zeggs":
        motion = rename(motion, ZEGGS_NAMES)
        motion = insert_joint(motion, "Spine", "Spine1", 0.5, seed=1)
        motion = insert_joint(motion, "Spine2", "Spine3", 0.4, seed=2)
        motion = insert_joint(motion, "Neck", "Neck1", 0.5, seed=4)
    return motion


def rig_axes(arm_obj) -> np.ndarray:
    """Model axes (left +X, up +Y) onto the rig's: left between the upper arms, up from the
    hips to the neck (the rule every retargeted rig follows)."""
    bones = arm_obj.data.bones
    left = np.array(bones["DEF-upper_arm.L"].head_local) - np.array(bones["DEF-upper_arm.R"].head_local)
    up = np.array(bones["DEF-spine.004"].head_local) - np.array(bones["DEF-spine"].head_local)
    up /= np.linalg.norm(up)
    left -= np.dot(left, up) * up
    left /= np.linalg.norm(left)
    return np.stack([left, up, np.cross(left, up)], axis=1)


def _chords(motion, pairs, body):
    """(bone, next mapped bone along its chain (the one most along the bone), joint, the
    joint's child towards that bone's joint)."""
    names = [str(n) for n in motion["joint_names"]]
    parents = list(motion["parents"])
    joint_of = {t: names.index(s) for s, t in body.deforming_pairs(pairs)}
    rest = body.rest
    chords = []
    for b, name in enumerate(rest.names):
        below, stack = [], [c for c in range(len(rest.names)) if rest.parents[c] == b]
        while stack:
            c = stack.pop()
            if rest.names[c] in joint_of:
                below.append(c)
            else:
                stack += [d for d in range(len(rest.names)) if rest.parents[d] == c]
        if name not in joint_of or not below:
            continue
        axis = rest.rest_tail[b] - rest.rest_head[b]
        c = max(below, key=lambda d: np.dot(rest.rest_head[d] - rest.rest_head[b], axis)
                / np.linalg.norm(rest.rest_head[d] - rest.rest_head[b]))
        k = joint_of[rest.names[c]]
        while parents[k] != joint_of[name]:
            k = parents[k]
        chords.append((name, rest.names[c], joint_of[name], k))
    return chords


def chord_errors(scene, arm_obj, motion, pairs, frames) -> dict:
    """Worst angle per bone between the rig's posed chord (its head to the next bone's head)
    and the model bone it follows, over ``frames`` (scene frames from 1 at 30 fps)."""
    body = rigify.rig_body(arm_obj)
    _, world_pos = fk_at_times(motion, (np.asarray(frames) - 1) / 30.0)
    axes = rig_axes(arm_obj)
    errors = {}
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        for bone, child, j, c in _chords(motion, pairs, body):
            posed = np.array(arm_obj.pose.bones[child].head) - np.array(arm_obj.pose.bones[bone].head)
            want = axes @ (world_pos[k, c] - world_pos[k, j])
            cos = np.dot(posed, want) / (np.linalg.norm(posed) * np.linalg.norm(want))
            errors[bone] = max(errors.get(bone, 0.0), float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    return errors


def _elevations(scene, arm_obj, motion, frames, joints) -> tuple[np.ndarray, np.ndarray]:
    """Degrees above the horizontal of the DEF- arm bones and of the model's bones."""
    names = [str(n) for n in motion["joint_names"]]
    _, world_pos = fk_at_times(motion, (np.asarray(frames) - 1) / 30.0)
    model = np.stack([world_pos[:, names.index(b)] - world_pos[:, names.index(a)] for a, b in joints], axis=1)
    model = np.degrees(np.arcsin(model[..., 1] / np.linalg.norm(model, axis=-1)))
    rig = []
    for frame in frames:
        scene.frame_set(frame)
        world = [np.array(arm_obj.matrix_world)[:3, :3] @ np.array(arm_obj.pose.bones[n].matrix)[:3, 1]
                 for n in ARM_BONES]
        rig.append([np.degrees(np.arcsin(d[2] / np.linalg.norm(d))) for d in world])
    return np.array(rig), model


def _twists(rotations: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Twist angles (degrees) of rotation matrices about ``axis`` (swing-twist)."""
    q = Rotation.from_matrix(rotations).as_quat()  # x, y, z, w
    along = q[:, :3] @ (axis / np.linalg.norm(axis))
    return np.degrees(2 * np.arctan2(along, q[:, 3]))


def hand_twists(scene, arm_obj, motion, frames, side="L") -> tuple[np.ndarray, np.ndarray]:
    """Hand roll relative to the forearm about the forearm, rig (DEF- bones against their
    rest) and model (the hand joint's local rotation)."""
    names = [str(n) for n in motion["joint_names"]]
    hand = next(j for j, n in enumerate(names) if n in (f"Hand_{side}", f"{'Left' if side == 'L' else 'Right'}Hand"))
    local, _ = fk_at_times(motion, (np.asarray(frames) - 1) / 30.0)
    parent = int(motion["parents"][hand])
    model = np.einsum("tji,tjk->tik", local[:, parent], local[:, hand])
    model_twist = _twists(model, np.asarray(motion["offsets"][hand], dtype=np.float64))
    bones = arm_obj.data.bones
    rest = np.array(bones[f"DEF-forearm.{side}"].matrix_local)[:3, :3].T @ np.array(
        bones[f"DEF-hand.{side}"].matrix_local)[:3, :3]
    rig = []
    for frame in frames:
        scene.frame_set(frame)
        fore, hand_m = (np.array(arm_obj.pose.bones[n].matrix)[:3, :3] for n in (f"DEF-forearm.{side}",
                                                                                  f"DEF-hand.{side}"))
        rig.append(fore.T @ hand_m @ rest.T)
    return _twists(np.array(rig), np.array([0.0, 1.0, 0.0])), model_twist


# --- the pose ------------------------------------------------------------------------------

@pytest.mark.parametrize("skeleton", ["bandai", "zeggs"])
def test_the_rigs_deforming_bones_point_where_the_models_bones_point(rig, skeleton):
    scene = bpy.context.scene
    motion = model_motion(skeleton)
    assert rigify.is_generated_rig(rig)
    action, message = retarget.apply_motion(rig, motion, frame_start=1, scene_fps=30.0, action_name="take")
    pairs = retarget.stored_pairs(rig)
    assert message.startswith("Mapped ") and ("LeftArm" if skeleton == "zeggs" else "UpperArm_L",
                                              "upper_arm_fk.L") in pairs
    keyed = {name for name, _ in takes.bone_fcurves(action)}
    assert {"torso", "chest", "neck", "head", "shoulder.L", "upper_arm_fk.L", "forearm_fk.R", "hand_fk.L",
            "thigh_fk.L", "spine_fk.001"} <= keyed
    assert not any(n.startswith(("DEF-", "ORG-", "MCH-")) for n in keyed)

    frames = list(range(1, 91, 4))
    errors = chord_errors(scene, rig, motion, pairs, frames)
    print(skeleton, "worst chord error (deg):", {k: round(v, 3) for k, v in errors.items()})
    assert {"DEF-upper_arm.L", "DEF-forearm.R", "DEF-spine", "DEF-spine.004", "DEF-thigh.L"} <= errors.keys()
    assert max(errors.values()) < 1.0

    rig_el, model_el = _elevations(scene, rig, motion, frames, [
        (a, b) for side in "LR" for a, b in _arm_joints(motion, side)])
    for k in range(len(ARM_BONES)):
        assert np.corrcoef(rig_el[:, k], model_el[:, k])[0, 1] >= 0.8, ARM_BONES[k]
        assert np.mean(np.abs(rig_el[:, k] - model_el[:, k])) <= 15.0, ARM_BONES[k]
    for side in "LR":
        rig_twist, model_twist = hand_twists(scene, rig, motion, frames, side)
        print(side, "hand twist rig", np.round(rig_twist[:6], 1), "model", np.round(model_twist[:6], 1))
        assert model_twist.min() - 10 <= rig_twist.min() and rig_twist.max() <= model_twist.max() + 10


def _arm_joints(motion, side):
    names = [str(n) for n in motion["joint_names"]]
    bandai = [f"UpperArm_{side}", f"LowerArm_{side}", f"Hand_{side}"]
    word = "Left" if side == "L" else "Right"
    chain = bandai if bandai[0] in names else [f"{word}Arm", f"{word}ForeArm", f"{word}Hand"]
    return [(chain[0], chain[1]), (chain[1], chain[2])]


def test_hips_travel_on_the_torso_and_arms_switched_to_fk(rig):
    scene = bpy.context.scene
    motion = model_motion("bandai", 2.0)
    action, _ = retarget.apply_motion(rig, motion, frame_start=1, scene_fps=30.0, action_name="take")
    curves = {fc.data_path: fc for fc in takes.action_fcurves(action)}
    for bone in ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R"):
        fc = curves[f'pose.bones["{bone}"]["IK_FK"]']
        assert len(fc.keyframe_points) == 1 and fc.keyframe_points[0].co[1] == 1.0  # FK, keyed
    assert 'pose.bones["torso"].location' in curves
    assert not any(p.endswith(".location") and "torso" not in p for p in curves)
    _, world_pos = fk_at_times(motion, np.array([0.0, 1.5]))
    scene.frame_set(1)
    start = np.array(rig.pose.bones["DEF-spine"].head)
    scene.frame_set(46)
    assert rig.pose.bones["upper_arm_parent.L"]["IK_FK"] == 1.0
    moved = np.array(rig.pose.bones["DEF-spine"].head) - start
    model_moved = rig_axes(rig) @ (world_pos[1, 0] - world_pos[0, 0])
    heads = [np.array(rig.data.bones[f"DEF-{b}.L"].head_local) for b in ("thigh", "shin", "foot")]
    leg = np.linalg.norm(heads[1] - heads[0]) + np.linalg.norm(heads[2] - heads[1])
    np.testing.assert_allclose(moved, model_moved * leg / 84.0, atol=1e-3)  # scaled by the legs (84 cm)
    fk_pose = np.array(rig.pose.bones["DEF-forearm.L"].matrix)
    # Switching the left arm back to IK puts it on the (unkeyed) IK controls; the right arm stays.
    fk_right = np.array(rig.pose.bones["DEF-forearm.R"].matrix)
    curves['pose.bones["upper_arm_parent.L"]["IK_FK"]'].keyframe_points[0].co[1] = 0.0
    scene.frame_set(45)
    scene.frame_set(46)
    assert not np.allclose(np.array(rig.pose.bones["DEF-forearm.L"].matrix), fk_pose, atol=1e-3)
    np.testing.assert_allclose(np.array(rig.pose.bones["DEF-forearm.R"].matrix), fk_right, atol=1e-5)


def test_the_metarig_keeps_its_own_bones(rig):
    metarig = bpy.data.objects["metarig"]
    assert not rigify.is_generated_rig(metarig)
    action, message = retarget.apply_motion(metarig, model_motion("bandai", 1.0), frame_start=1, scene_fps=30.0,
                                            action_name="meta")
    keyed = {name for name, _ in takes.bone_fcurves(action)}
    assert {"upper_arm.L", "spine", "forearm.R"} <= keyed and "upper_arm_fk.L" not in keyed
    assert ("UpperArm_L", "upper_arm.L") in retarget.stored_pairs(metarig)


# --- the animator's tools -------------------------------------------------------------------

@pytest.fixture
def studio(rig, tmp_path, monkeypatch):
    """The generated rig as the panel's target, a sound strip and a metadata-only model; the
    stand-in generator writes the motion."""
    addon.register()
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    monkeypatch.setenv("FAKE_ARGS_LOG", str(tmp_path / "args.json"))
    scene = bpy.context.scene
    scene.render.fps = 30
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    add_sound_strip(scene, wav, name="speech", frame_start=1)
    scene.ohgesture.armature = rig
    yield {"scene": scene, "rig": rig, "tmp": tmp_path}
    addon.unregister()


def _keys(action) -> dict:
    return {(fc.data_path, fc.array_index): takes.fcurve_keys(fc).copy() for fc in takes.action_fcurves(action)}


def test_generate_is_one_action_and_one_undo_step_and_keeps_the_previous(studio):
    scene = studio["scene"]
    assert bpy.ops.ohgesture.generate(entry_script=FAKE, python=sys.executable) == {"FINISHED"}
    first = studio["rig"].animation_data.action
    assert takes.generated_info(first) is not None
    assert {"upper_arm_fk.L", "head", "torso"} <= {n for n, _ in takes.bone_fcurves(first)}
    bpy.ops.ed.undo_push(message="before the second take")
    scene.ohgesture.seed = 5
    assert bpy.ops.ohgesture.generate("EXEC_DEFAULT", True, entry_script=FAKE, python=sys.executable) == {"FINISHED"}
    rig = bpy.data.objects["rig"]
    second = rig.animation_data.action
    assert second != first and len([a for a in bpy.data.actions if takes.generated_info(a)]) == 2
    tracks = list(rig.animation_data.nla_tracks)
    assert len(tracks) == 1 and tracks[0].mute and tracks[0].strips[0].action.name == first.name
    names, first_name, second_name = {a.name for a in bpy.data.actions}, first.name, second.name
    bpy.ops.ed.undo()  # one step takes the whole second generation away
    rig = bpy.data.objects["rig"]
    assert {a.name for a in bpy.data.actions} == names - {second_name}
    assert rig.animation_data.action.name == first_name and not len(rig.animation_data.nla_tracks)


def test_regenerate_selection_changes_only_the_range(studio):
    scene, rig = studio["scene"], studio["rig"]
    assert bpy.ops.ohgesture.generate(entry_script=FAKE, python=sys.executable) == {"FINISHED"}
    action = rig.animation_data.action
    before = _keys(action)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 20, 35
    scene.ohgesture.seed = 12
    assert bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE, python=sys.executable) == {"FINISHED"}
    after = _keys(action)
    assert after.keys() == before.keys()
    changed = 0
    for key, old in before.items():
        outside = (old[:, 0] < 20) | (old[:, 0] > 35)
        assert np.array_equal(after[key][outside], old[outside]), key
        changed += int((after[key][~outside, 1] != old[~outside, 1]).sum())
    assert changed > 50


def test_keep_my_keys_reads_the_animators_keys_on_the_controls(studio):
    rig = studio["rig"]
    motion = model_motion("bandai", 2.0)
    action, _ = retarget.apply_motion(rig, motion, frame_start=1, scene_fps=30.0, action_name="take")
    pairs = retarget.stored_pairs(rig)
    # Every key of the generated action read back: the motion's own local rotations.
    back = rigify_keys.hand_key_constraints(rig, action, motion, pairs, frame_start=1, scene_fps=30.0, model_fps=30.0,
                                            frame_limit=(20, 22), take=motion)
    names = [str(n) for n in motion["joint_names"]]
    assert {names[j] for j in back["joints"]} >= {"UpperArm_L", "Hand_R", "Head", "Spine", "LowerLeg_L"}
    for frame, j, q in zip(back["frames"], back["joints"], back["rotations"]):
        assert _angle(q, motion["rotations"][frame, j]) < 0.2, names[j]
    # The animator's own action on the model's skeleton: the left upper arm's FK control
    # turned 50 degrees on frame 30 and at rest on frame 40.
    retarget.store_pairs(rig, [])
    mine = bpy.data.actions.new("my pose")
    rig.animation_data.action = mine
    bone = rig.pose.bones["upper_arm_fk.L"]
    bone.rotation_mode = "QUATERNION"
    for frame, degrees in ((30, 50), (40, 0)):
        bone.rotation_quaternion = Rotation.from_euler("x", degrees, degrees=True).as_quat()[[3, 0, 1, 2]]
        bone.keyframe_insert("rotation_quaternion", frame=frame)
    request = generation_session.build_request(bpy.context, python=sys.executable, entry_script=FAKE)
    constraints = request.constraints
    assert constraints is not None and request.notes == ["Passing through 2 hand-keyed bone poses"]
    assert list(constraints["frames"]) == [29, 39] and list(constraints["joints"]) == [3, 3]  # LeftArm
    assert abs(_angle(*constraints["rotations"]) - 50.0) < 1.0
    assert hand_keys.keeps_keys(rig, motion)


def _angle(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.degrees(2 * np.arccos(min(1.0, abs(np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b)))))))


def test_upper_body_layer_leaves_hips_and_legs_to_the_walk(studio):
    scene, rig = studio["scene"], studio["rig"]
    walk = bpy.data.actions.new("walk")
    rig.animation_data_create().action = walk
    for frame in range(1, 61, 5):
        phase = frame / 30 * 2 * np.pi
        rig.pose.bones["torso"].location = (0.0, 0.03 * np.sin(phase), 0.02 * np.sin(2 * phase))
        rig.pose.bones["torso"].keyframe_insert("location", frame=frame)
        for name, sign in (("thigh_fk.L", 1), ("thigh_fk.R", -1), ("spine_fk.001", 1)):
            bone = rig.pose.bones[name]
            bone.rotation_mode = "QUATERNION"
            bone.rotation_quaternion = Rotation.from_euler("x", sign * 20 * np.sin(phase), degrees=True).as_quat()[
                [3, 0, 1, 2]]
            bone.keyframe_insert("rotation_quaternion", frame=frame)
    frames = [3, 17, 33, 50]
    lower = ["DEF-spine", "DEF-spine.001", "DEF-thigh.L", "DEF-shin.R", "DEF-foot.L"]
    reference = {}
    for f in frames:
        scene.frame_set(f)
        reference[f] = {n: np.array(rig.pose.bones[n].matrix) for n in lower + ["DEF-upper_arm.L"]}
    scene.ohgesture.layer_upper_body = True
    assert bpy.ops.ohgesture.generate(entry_script=FAKE, python=sys.executable) == {"FINISHED"}
    layer = rig.animation_data.nla_tracks[-1].strips[0].action
    assert rig.animation_data.nla_tracks[-1].name == layering.LAYER_TRACK
    keyed = {n for n, _ in takes.bone_fcurves(layer)}
    assert {"upper_arm_fk.L", "head", "spine_fk.003"} <= keyed
    assert not keyed & {"torso", "hips", "spine_fk", "spine_fk.001", "thigh_fk.L", "foot_fk.R"}
    moved = 0.0
    for f in frames:
        scene.frame_set(f)
        for n in lower:
            np.testing.assert_allclose(np.array(rig.pose.bones[n].matrix), reference[f][n], atol=1e-5, err_msg=n)
        moved = max(moved, np.abs(np.array(rig.pose.bones["DEF-upper_arm.L"].matrix)
                                  - reference[f]["DEF-upper_arm.L"]).max())
    assert moved > 1e-3


def test_bone_map_panel_shows_the_controls(studio):
    from test_operators import _RecordingLayout

    from ohgesture.ohgesture_addon import panel

    assert bpy.ops.ohgesture.bone_map_auto() == {"FINISHED"}
    pairs = retarget.stored_pairs(studio["rig"])
    assert dict(pairs) == {"Hips": "spine_fk", "Spine": "spine_fk.001", "Head": "head", "LeftArm": "upper_arm_fk.L",
                           "LeftHand": "hand_fk.L", "RightArm": "upper_arm_fk.R", "RightHand": "hand_fk.R"}
    calls = []
    from types import SimpleNamespace
    panel.OHGESTURE_PT_bone_map.draw(SimpleNamespace(layout=_RecordingLayout(calls)), bpy.context)
    labels = [value for kind, value in calls if kind == "label"]
    assert any("Rigify" in str(text) and "FK controls" in str(text) for text in labels), labels


# --- the batch script ------------------------------------------------------------------------

def test_batch_script_animates_the_rig(rig, tmp_path):
    scene = bpy.context.scene
    scene.render.fps = 30
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    add_sound_strip(scene, wav, name="speech", frame_start=1)
    blend, out, model = tmp_path / "scene.blend", tmp_path / "out.blend", tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = subprocess.run([sys.executable, str(ROOT / "ohgesture_addon" / "batch.py"), "--open", str(blend),
                           "--strip", "speech", "--armature", "rig", "--model", str(model), "--entry-script", FAKE,
                           "--python", sys.executable, "--out", str(out)], capture_output=True, text=True,
                          timeout=300, cwd=str(ROOT), env={**__import__("os").environ,
                                                           "OHGESTURE_TAKES_DIR": str(tmp_path / "takes")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Mapped 7 of 7 bones" in proc.stdout
    bpy.ops.wm.open_mainfile(filepath=str(out))
    rig = bpy.data.objects["rig"]
    action = rig.animation_data.action
    assert {"upper_arm_fk.L", "hand_fk.R", "head"} <= {n for n, _ in takes.bone_fcurves(action)}
    scene = bpy.context.scene
    directions = []
    for frame in range(1, 61, 3):
        scene.frame_set(frame)
        directions.append(np.array(rig.pose.bones["DEF-upper_arm.L"].matrix)[:3, 1])
    directions = np.array(directions)
    spread = np.degrees(np.arccos(np.clip(directions @ directions.T, -1, 1))).max()
    assert spread > 10.0  # the deforming arm moves (it stayed in its rest before)
