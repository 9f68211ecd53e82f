"""Fingers onto the animator's rig (issue 32): a take with finger joints (here the real ZEGGS
capture, 75 joints, written as the add-on's motion file) keys the finger bones of a Rigify
rig (its finger controls, so the DEF- bones follow), of a Mixamo-named rig and of a BVH
import; a take without fingers, or Key Fingers off, leaves them unkeyed."""

import bpy
import numpy as np
import pytest

from ohgesture.core.motion.bvh import read_bvh
from ohgesture.core.motion.kinematics import forward_kinematics
from ohgesture.core.motion.measures import finger_flexion
from ohgesture.core.motion.motion_file import read_motion_arrays, write_motion
from ohgesture.core.motion.skeleton import Motion
from ohgesture.core.training.speech_takes import body_joints
from ohgesture.ohgesture_addon import armature, batch, bone_presets, layering, retarget, rigify
from ohgesture.ohgesture_addon.takes import action_fcurves
from support import SHARED_DATA
from test_retarget import build_rig, humanoid_bones, mixamo_finger_bones, mixamo_rig, scene  # noqa: F401 (a fixture)
from test_rigify import rig, rig_blend  # noqa: F401 (fixtures)

ZEGGS = SHARED_DATA / "zeggs-sample" / "067_Speech_2_x_1_0.bvh"
BEAT = SHARED_DATA / "beat-sample" / "2_scott_0_1_1.bvh"
needs_data = pytest.mark.skipif(not ZEGGS.is_file(), reason="needs ../shared/data (absent in a fresh clone)")
SECONDS = 8
FRAMES = list(range(1, SECONDS * 30 + 1, 6))  # scene frames at 30 fps, the take's frames + 1
FINGER_NAMES = ("Thumb", "Index", "Middle", "Ring", "Pinky")
SIDES = (("Right", "R"), ("Left", "L"))


def _zeggs() -> Motion:
    take = read_bvh(ZEGGS)
    n = SECONDS * 30
    return Motion(take.skeleton, take.rotations[:n], take.local_translations[:n], take.fps)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Motion, dict]:
    """The first seconds of the ZEGGS capture and its motion file's arrays."""
    take = _zeggs()
    path = tmp_path_factory.mktemp("fingers") / "zeggs.npz"
    write_motion(path, take, 0, {})
    return take, read_motion_arrays(path)


def rig_flexion(scene, arm_obj, chains) -> np.ndarray:
    """(frames, 2 per chain) degrees between consecutive posed bones (their Y axes)."""
    out = []
    for frame in FRAMES:
        scene.frame_set(frame)
        row = []
        for chain in chains:
            axes = [np.array(arm_obj.pose.bones[name].matrix)[:3, 1] for name in chain]
            axes = [a / np.linalg.norm(a) for a in axes]
            row += [np.degrees(np.arccos(np.clip(np.dot(axes[k], axes[k + 1]), -1, 1))) for k in range(2)]
        out.append(row)
    return np.array(out)


def capture_flexion(take: Motion) -> np.ndarray:
    """The capture's flexion (``finger_flexion``, right hand then left, thumb to little
    finger) at ``FRAMES``."""
    positions, _ = forward_kinematics(take)
    return finger_flexion(positions[np.array(FRAMES) - 1], take.skeleton)


def finger_keys(arm_obj, names, action=None) -> set:
    """The bones of ``names`` with F-curves in ``action`` (default: the active one)."""
    action = action or arm_obj.animation_data.action
    return {fc.data_path.split('"')[1] for fc in action_fcurves(action)} & set(names)


def check_bends_like_the_capture(rig_values: np.ndarray, take: Motion, label: str, tolerance: float) -> None:
    want = capture_flexion(take)
    std = rig_values.std(axis=0).mean()
    error = np.abs(rig_values - want).mean()
    print(f"{label}: finger flexion std {std:.1f} deg over the take (capture {want.std(axis=0).mean():.1f}), "
          f"mean {rig_values.mean():.1f} (capture {want.mean():.1f}), mean difference {error:.2f} deg")
    assert std >= 2.0
    assert error < tolerance


def test_every_preset_names_the_thirty_finger_segments():
    for preset, names in bone_presets.FINGER_PRESETS.items():
        assert len(names) == 30, preset
        slots = bone_presets.detect_slots(list(names.values()), [-1] * 30)
        assert {slots[s] for s in bone_presets.FINGER_SLOTS} == set(names.values()), preset
    beat_like = ["RightHand", "RightHandIndex", "RightHandIndex1", "RightHandIndex2", "RightHandIndex3",
                 "RightHandIndex4", "RightHandThumb1"]
    found = bone_presets.finger_names(beat_like, [-1, 0, 1, 2, 3, 4, 1])
    assert found == {"RightHandIndex1", "RightHandIndex2", "RightHandIndex3", "RightHandThumb1"}


@needs_data
def test_rigify_finger_controls_bend_the_deforming_fingers(rig, capture):  # noqa: F811
    take, motion = capture
    scene = bpy.context.scene
    pairs = retarget.auto_map_armature(rig, motion)
    mapped = dict(pairs)
    assert mapped["LeftHandIndex1"] == "f_index.01.L" and mapped["RightHandThumb3"] == "thumb.03.R"
    assert sum(source.startswith(("LeftHand", "RightHand")) and source[-1] in "123" for source, _ in pairs) == 30
    retarget.apply_motion(rig, motion, frame_start=1, scene_fps=30.0, action_name="fingers")
    assert finger_keys(rig, ["f_index.01.L", "thumb.02.R", "f_pinky.03.L"]) == {
        "f_index.01.L", "thumb.02.R", "f_pinky.03.L"}
    chains = [[f"DEF-{'thumb' if f == 'Thumb' else 'f_' + f.lower()}.0{k}.{s}" for k in (1, 2, 3)]
              for _, s in SIDES for f in FINGER_NAMES]
    check_bends_like_the_capture(rig_flexion(scene, rig, chains), take, "Rigify DEF- fingers", 6.0)


@needs_data
def test_mixamo_finger_bones_bend_as_the_capture(scene, capture):  # noqa: F811
    take, motion = capture
    obj = mixamo_rig(extra=mixamo_finger_bones())
    retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="fingers")
    chains = [[f"mixamorig:{side}Hand{f}{k}" for k in (1, 2, 3)] for side, _ in SIDES for f in FINGER_NAMES]
    check_bends_like_the_capture(rig_flexion(scene, obj, chains), take, "Mixamo fingers", 1.0)


@needs_data
@pytest.mark.skipif(not BEAT.is_file(), reason="needs ../shared/data (absent in a fresh clone)")
def test_a_bvh_import_with_beat_metacarpals_takes_the_fingers(scene, capture):  # noqa: F811
    """Blender's own BVH import of the BEAT take: metacarpals between hand and fingers,
    which stay unmapped while the segments below follow the capture."""
    take, motion = capture
    bpy.ops.import_anim.bvh(filepath=str(BEAT))
    obj = bpy.context.object
    obj.animation_data_clear()
    mapped = dict(retarget.auto_map_armature(obj, motion))
    assert mapped["RightHandIndex1"] == "RightHandIndex1" and "RightHandIndex" not in mapped.values()
    retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="fingers")
    chains = [[f"{side}Hand{f}{k}" for k in (1, 2, 3)] for side, _ in SIDES for f in FINGER_NAMES]
    check_bends_like_the_capture(rig_flexion(scene, obj, chains), take, "BEAT BVH import fingers", 1.0)


@needs_data
def test_a_body_only_take_leaves_the_finger_bones_unkeyed(scene):  # noqa: F811
    body = retarget_body_motion()
    obj = mixamo_rig(extra=mixamo_finger_bones())
    names = [b[0] for b in mixamo_finger_bones()]
    _, message = retarget.apply_motion(obj, body, frame_start=1, scene_fps=30.0, action_name="body")
    assert finger_keys(obj, names) == set() and finger_keys(obj, ["mixamorig:LeftHand"]) == {"mixamorig:LeftHand"}
    scene.frame_set(30)
    assert all(np.allclose(np.array(obj.pose.bones[n].matrix_basis), np.eye(4)) for n in names)


@needs_data
def test_a_body_only_take_leaves_rigify_fingers_unkeyed(rig):  # noqa: F811
    body = retarget_body_motion()
    controls = [f"{'thumb' if f == 'Thumb' else 'f_' + f.lower()}.0{k}.{s}" for _, s in SIDES for f in FINGER_NAMES
                for k in (1, 2, 3)]
    assert not any(c in dict(retarget.auto_map_armature(rig, body)).values() for c in controls)
    retarget.apply_motion(rig, body, frame_start=1, scene_fps=30.0, action_name="body")
    assert finger_keys(rig, controls) == set() and finger_keys(rig, ["hand_fk.L"]) == {"hand_fk.L"}
    assert not any(c in rigify.rig_body(rig, retarget.stored_pairs(rig)).controls for c in controls)


@needs_data
def test_key_fingers_off_keeps_the_animators_hands(scene, capture):  # noqa: F811
    _, motion = capture
    obj = mixamo_rig(extra=mixamo_finger_bones())
    names = [b[0] for b in mixamo_finger_bones()]
    obj.pose.bones["mixamorig:LeftHandIndex2"].rotation_quaternion = (0.9, 0.43, 0.0, 0.0)  # the animator's pose
    retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="no fingers", fingers=False)
    assert finger_keys(obj, names) == set() and finger_keys(obj, ["mixamorig:LeftHand"]) == {"mixamorig:LeftHand"}
    assert tuple(obj.pose.bones["mixamorig:LeftHandIndex2"].rotation_quaternion) == pytest.approx((0.9, 0.43, 0, 0))
    channels = retarget.motion_channels(obj, motion, scene_fps=30.0, fingers=False)
    assert not any(k for n, k in zip(channels[0], channels[3]) if n in names)
    for fingers in (True, False):  # the Upper Body Layer keys the fingers with the arms, or not
        layer, _ = layering.key_upper_body_layer(obj, motion, frame_start=1, scene_fps=30.0, max_frames=60,
                                                 action_name="layer", blend_frames=6, fingers=fingers)
        assert finger_keys(obj, names, layer) == (set(names) if fingers else set())
        assert finger_keys(obj, ["mixamorig:LeftHand"], layer) == {"mixamorig:LeftHand"}
    args = batch.parse_args(["--sound", "a.wav", "--armature", "Rig", "--out", "a.blend", "--no-finger-keys"])
    assert batch._placement(args, obj).key_fingers is False
    assert batch._placement(batch.parse_args(["--sound", "a.wav", "--armature", "Rig", "--out", "a.blend"]),
                            obj).key_fingers is True


@needs_data
def test_the_models_own_armature_keys_its_fingers_unless_key_fingers_is_off(scene, capture):  # noqa: F811
    """The exact path (an armature made from the take's skeleton, as --create-armature makes
    one for a model with fingers)."""
    take, motion = capture
    obj = armature.create_matching_armature(bpy.context, motion)
    assert retarget.resolve_map(obj, motion, store=False)[0] is None
    segments = [f"{side}Hand{f}{k}" for side, _ in SIDES for f in FINGER_NAMES for k in (1, 2, 3)]
    retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="own")
    assert finger_keys(obj, segments) == set(segments)
    chains = [segments[k:k + 3] for k in range(0, 30, 3)]
    check_bends_like_the_capture(rig_flexion(scene, obj, chains), take, "the model's own armature", 1.0)
    retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="own, no fingers", fingers=False)
    assert finger_keys(obj, segments) == set() and finger_keys(obj, ["LeftHand"]) == {"LeftHand"}


@needs_data
@pytest.mark.parametrize("preset", ["UNREAL", "VRM", "VRM_HUMANOID", "RIGIFY_METARIG"])
def test_unreal_vrm_and_metarig_finger_names_bend_as_the_capture(scene, capture, preset):  # noqa: F811
    take, motion = capture
    names = bone_presets.PRESETS[preset]
    obj = build_rig(preset, humanoid_bones(names["hips"], [names[s] for s in bone_presets.SPINE_SLOTS],
                                           [names["neck"]], names["head"],
                                           {s: names[s] for s in bone_presets.SLOTS if "." in s},
                                           extra=mixamo_finger_bones(preset, prefix="")))
    retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="fingers")
    fingers = bone_presets.FINGER_PRESETS[preset]
    chains = [[fingers[f"{f}{k}.{s}"] for k in (1, 2, 3)] for _, s in SIDES for f in bone_presets.FINGERS]
    check_bends_like_the_capture(rig_flexion(scene, obj, chains), take, f"{preset} fingers", 1.0)


def retarget_body_motion() -> dict:
    """The ZEGGS capture reduced to the shipped model's 24 body joints (no fingers)."""
    take = body_joints(_zeggs())
    return {"rotations": take.rotations.astype(np.float32),
            "root_translation": take.local_translations[:, 0].astype(np.float32),
            "joint_names": np.array(take.skeleton.joint_names),
            "parents": np.asarray(take.skeleton.parents, dtype=np.int32),
            "offsets": np.asarray(take.skeleton.offsets, dtype=np.float32), "root_joint": np.int64(0),
            "fps": np.float64(take.fps), "meta": np.array("{}")}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict:
    """The shipped model's take of 8 s of speech (body and fingers), as the add-on reads it."""
    from support import HAS_TORCH, SAMPLES, TORCH_PYTHON, run_cli
    import sys

    if not (HAS_TORCH or TORCH_PYTHON != sys.executable):
        pytest.skip("needs torch for the shipped model")
    out = tmp_path_factory.mktemp("generated") / "take.npz"
    run_cli("generate", str(SAMPLES / "speech_en_talk.flac"), "--out", str(out), "--duration-seconds", str(SECONDS))
    return read_motion_arrays(out)


def test_the_shipped_models_fingers_bend_a_rigify_and_a_mixamo_rig(rig, generated):  # noqa: F811
    """Issue 32: the shipped model's own fingers, keyed onto a Rigify rig (its DEF- finger bones
    follow the controls) and onto a Mixamo-named rig, bend over the take."""
    scene = bpy.context.scene
    assert sum(name.startswith(("LeftHand", "RightHand")) and name[-1] in "123"
               for name in generated["joint_names"]) == 30
    retarget.auto_map_armature(rig, generated)
    retarget.apply_motion(rig, generated, frame_start=1, scene_fps=30.0, action_name="generated")
    chains = [[f"DEF-{'thumb' if f == 'Thumb' else 'f_' + f.lower()}.0{k}.{s}" for k in (1, 2, 3)]
              for _, s in SIDES for f in FINGER_NAMES]
    std = rig_flexion(scene, rig, chains).std(axis=0).mean()
    obj = mixamo_rig(extra=mixamo_finger_bones())
    retarget.apply_motion(obj, generated, frame_start=1, scene_fps=30.0, action_name="generated")
    mixamo = [[f"mixamorig:{side}Hand{f}{k}" for k in (1, 2, 3)] for side, _ in SIDES for f in FINGER_NAMES]
    mixamo_std = rig_flexion(scene, obj, mixamo).std(axis=0).mean()
    print(f"shipped model's fingers: flexion std {std:.1f} deg on Rigify's DEF- bones, {mixamo_std:.1f} on Mixamo's")
    assert std >= 2.0 and mixamo_std >= 2.0
