"""Keyframe writer and matching armature, checked against an independent numpy/scipy FK
with the real bpy module."""

import bpy
import numpy as np
import pytest
from mathutils import Matrix

from ohgesture.ohgesture_addon import armature, keyframes
from blender_util import AXIS_MAP, JOINT_NAMES, OFFSETS, PARENTS, fk_at_times, reset_blender, synthetic_motion

CM = 0.01


@pytest.fixture
def scene():
    return reset_blender()


def _expected_deltas_and_heads(motion, times, arm_obj):
    world_rot, world_pos = fk_at_times(motion, times)
    deltas = AXIS_MAP @ world_rot @ AXIS_MAP.T
    heads = world_pos @ AXIS_MAP.T * CM
    return deltas, heads


def _check_pose(scene, arm_obj, motion, frame_start, fps, frames):
    times = (np.asarray(frames) - frame_start) / fps
    deltas, heads = _expected_deltas_and_heads(motion, times, arm_obj)
    world = np.array(arm_obj.matrix_world)
    for k, frame in enumerate(frames):
        scene.frame_set(int(frame))
        for j, name in enumerate(JOINT_NAMES):
            pose_bone = arm_obj.pose.bones[name]
            rest = np.array(pose_bone.bone.matrix_local)
            posed = world @ np.array(pose_bone.matrix)
            expected = np.eye(4)
            expected[:3, :3] = deltas[k, j] @ rest[:3, :3]
            expected[:3, 3] = heads[k, j]
            expected = world @ expected
            np.testing.assert_allclose(posed, expected, atol=1e-4, err_msg=f"{name} at frame {frame}")


def test_matching_armature_puts_heads_on_rest_joints(scene):
    obj = armature.create_matching_armature(bpy.context, synthetic_motion(2))
    rest = np.zeros((len(JOINT_NAMES), 3))
    for j, p in enumerate(PARENTS):
        rest[j] = OFFSETS[j] + (rest[p] if p >= 0 else 0)
    for j, name in enumerate(JOINT_NAMES):
        bone = obj.data.bones[name]
        np.testing.assert_allclose(np.array(bone.head_local), AXIS_MAP @ rest[j] * CM, atol=1e-6)
        assert (bone.parent.name if bone.parent else None) == (JOINT_NAMES[PARENTS[j]] if PARENTS[j] >= 0 else None)
    # Spine's tail points at its first child, Head; the leaf LeftHand continues along +x.
    np.testing.assert_allclose(obj.data.bones["Spine"].tail_local, obj.data.bones["Head"].head_local, atol=1e-6)
    hand = obj.data.bones["LeftHand"]
    direction = np.array(hand.tail_local) - np.array(hand.head_local)
    assert direction[0] > 0 and abs(direction[1]) < 1e-6 and abs(direction[2]) < 1e-6


@pytest.mark.parametrize("scene_fps", [24, 25, 30, 60])
def test_keys_reproduce_forward_kinematics(scene, scene_fps):
    scene.render.fps, scene.render.fps_base = scene_fps, 1.0
    motion = synthetic_motion(61, fps=30.0)
    obj = armature.create_matching_armature(bpy.context, motion)
    obj.location = (1.0, -2.0, 0.5)
    obj.rotation_euler = (0.0, 0.0, 0.7)
    frame_start = 11
    keyframes.write_motion_to_armature(obj, motion, frame_start=frame_start, scene_fps=scene_fps,
                                       action_name="OHG test")
    last = frame_start + int(np.floor(60 / 30 * scene_fps + 1e-9))
    frames = list(range(frame_start, last + 1))
    _check_pose(scene, obj, motion, frame_start, scene_fps, frames)


def test_rolled_user_bones_follow_joint_orientations(scene):
    motion = synthetic_motion(31)
    obj = armature.create_matching_armature(bpy.context, motion)
    bpy.ops.object.mode_set(mode="EDIT")
    for k, bone in enumerate(obj.data.edit_bones):
        bone.roll = 0.4 * (k + 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    keyframes.write_motion_to_armature(obj, motion, frame_start=1, scene_fps=30.0, action_name="rolled")
    _check_pose(scene, obj, motion, 1, 30.0, [1, 7, 16, 31])


def test_bone_map_drives_renamed_bones(scene):
    motion = synthetic_motion(11)
    obj = armature.create_matching_armature(bpy.context, motion)
    for name in JOINT_NAMES:
        obj.data.bones[name].name = "mixamo:" + name
    bone_map = {name: "mixamo:" + name for name in JOINT_NAMES}
    keyframes.write_motion_to_armature(obj, motion, frame_start=1, scene_fps=30.0, action_name="mapped",
                                       bone_map=bone_map)
    scene.frame_set(6)
    deltas, heads = _expected_deltas_and_heads(motion, np.array([5 / 30]), obj)
    pose_bone = obj.pose.bones["mixamo:LeftHand"]
    np.testing.assert_allclose(np.array(pose_bone.head), heads[0, 4], atol=1e-4)


def test_fcurves_are_grouped_linear_and_span_the_motion(scene):
    motion = synthetic_motion(31)  # one second at 30 fps
    obj = armature.create_matching_armature(bpy.context, motion)
    scene.render.fps = 24
    action = keyframes.write_motion_to_armature(obj, motion, frame_start=100, scene_fps=24.0, action_name="span")
    fcurves = _fcurves(action, obj)
    rotation_curves = [fc for fc in fcurves if fc.data_path.endswith("rotation_quaternion")]
    location_curves = [fc for fc in fcurves if fc.data_path.endswith("location")]
    assert len(rotation_curves) == 4 * len(JOINT_NAMES)
    assert len(location_curves) == 3  # only the root-motion bone moves
    for fc in fcurves:
        frames = np.array([kp.co[0] for kp in fc.keyframe_points])
        np.testing.assert_array_equal(frames, np.arange(100, 125))
        assert {kp.interpolation for kp in fc.keyframe_points} == {"LINEAR"}
        assert fc.group is not None and fc.group.name in JOINT_NAMES
    # The max_frames cap (a strip's visible length) is honoured.
    action = keyframes.write_motion_to_armature(obj, motion, frame_start=100, scene_fps=24.0,
                                                action_name="capped", max_frames=10)
    assert all(len(fc.keyframe_points) == 10 for fc in _fcurves(action, obj))


def _fcurves(action, obj):
    if hasattr(action, "layers") and action.layers:
        from bpy_extras.anim_utils import action_get_channelbag_for_slot

        return list(action_get_channelbag_for_slot(action, obj.animation_data.action_slot).fcurves)
    return list(action.fcurves)


def test_previous_action_is_kept_and_each_run_adds_one(scene):
    motion = synthetic_motion(11)
    obj = armature.create_matching_armature(bpy.context, motion)
    obj.pose.bones["Spine"].rotation_quaternion = (0.9, 0.1, 0.0, 0.0)
    obj.pose.bones["Spine"].keyframe_insert("rotation_quaternion", frame=1)
    handmade = obj.animation_data.action
    handmade_name = handmade.name
    first = keyframes.write_motion_to_armature(obj, motion, frame_start=1, scene_fps=30.0, action_name="gen")
    second = keyframes.write_motion_to_armature(obj, motion, frame_start=1, scene_fps=30.0, action_name="gen")
    assert first != second and obj.animation_data.action == second
    names = {a.name for a in bpy.data.actions}
    assert {handmade_name, first.name, second.name} <= names and len(names) == 3
    assert handmade.use_fake_user and first.use_fake_user
    tracks = obj.animation_data.nla_tracks
    assert [t.strips[0].action for t in tracks] == [handmade, first]
    assert all(t.mute for t in tracks)
    # The previous animation does not leak into the new one.
    _check_pose(scene, obj, motion, 1, 30.0, [1, 5])

