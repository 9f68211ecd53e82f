"""Blender's own BVH importer as an oracle: it reads what the core writes, and its joint
positions agree with the core's forward kinematics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from support import TINY_MODEL_CONFIG, run_cli  # noqa: F401
from ohgesture.core.motion.kinematics import forward_kinematics
from ohgesture.core.motion.bvh import read_bvh

BANDAI_FAR_OFFSET = "Bandai-Namco-Research-Motiondataset-2/data/dataset-2_wave-both-hands_active_001.bvh"
BANDAI_WALK = "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_happy_001.bvh"


def blender_world_heads(path: Path, joint_names: list[str], frames: list[int]) -> np.ndarray:
    """Joint world positions from Blender's importer, in BVH axes (F, J, 3)."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_anim.bvh(
        filepath=str(path), axis_forward="-Z", axis_up="Y", global_scale=1.0,
        frame_start=1, use_fps_scale=False, update_scene_duration=True, rotate_mode="NATIVE",
    )
    armature = next(obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE")
    result = np.zeros((len(frames), len(joint_names), 3))
    for row, frame in enumerate(frames):
        bpy.context.scene.frame_set(frame + 1)  # BVH frame 0 is scene frame frame_start = 1
        for column, name in enumerate(joint_names):
            x, y, z = armature.matrix_world @ armature.pose.bones[name].head
            result[row, column] = (x, z, -y)  # Blender (x, -z, y) back to BVH (x, y, z)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return result


@pytest.mark.parametrize("which", ["zeggs", "bandai_far_offset", "bandai_walk"])
def test_forward_kinematics_matches_blenders_bvh_importer(which, request):
    if which == "zeggs":
        path = request.getfixturevalue("zeggs_bvh")
        names = ["Hips", "Head", "RightHand", "LeftHandIndex4", "RightFoot", "LeftToeBaseEnd", "Spine2"]
    else:
        bandai_dir = request.getfixturevalue("bandai_dir")
        path = bandai_dir / (BANDAI_FAR_OFFSET if which == "bandai_far_offset" else BANDAI_WALK)
        names = ["Hips", "Head", "Hand_L", "Hand_R", "Toes_L", "Foot_R", "Chest"]
    motion = read_bvh(path)
    positions, _ = forward_kinematics(motion)
    frames = [0, 1, motion.num_frames // 3, motion.num_frames // 2, motion.num_frames - 1]
    joints = [motion.skeleton.index(name) for name in names]
    expected = blender_world_heads(path, names, frames)
    error_cm = np.abs(positions[np.ix_(frames, joints)] - expected).max()
    assert error_cm < 0.5, f"{which}: {error_cm:.3g} cm from Blender"
    # and the comparison has teeth: neighbouring frames differ by more than that
    assert np.abs(positions[np.ix_(frames[1:], joints)] - expected[:-1]).max() > 0.5


def test_generate_bvh_has_one_frame_per_audio_frame_and_blender_reads_it(tiny_checkpoint, speech_wav, tmp_path):
    out = tmp_path / "take.bvh"
    run_cli("generate", speech_wav, "--out", out, "--model", tiny_checkpoint, "--steps", 5, "--seed", 3)
    motion = read_bvh(out)
    assert abs(motion.num_frames - 5.0 * 30) <= 1 and motion.fps == 30.0
    assert np.all(np.isfinite(motion.rotations))

    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.ops.import_anim.bvh(filepath=str(out)) == {"FINISHED"}
    arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert len(arm.data.bones) == motion.skeleton.num_joints
    action = arm.animation_data.action
    assert action.frame_range[1] - action.frame_range[0] + 1 == pytest.approx(motion.num_frames, abs=1)
