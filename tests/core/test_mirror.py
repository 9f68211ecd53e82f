"""Left-right mirroring of motion features: real Bandai clips mirror exactly, others are refused."""

import numpy as np
import pytest

from ohgesture.core.motion.bvh import read_bvh
from ohgesture.core.motion.measures import wrist_speeds
from ohgesture.core.motion.features import feature_layout, features_to_motion, model_skeleton, motion_to_features
from ohgesture.core.motion.kinematics import forward_kinematics
from ohgesture.core.training.mirror import (REFLECT, MirrorError, counterparts, mirror_features, mirror_map,
                                   typical_rotations)

CLIPS = ["Bandai-Namco-Research-Motiondataset-2/data/dataset-2_wave-left-hand_active_019.bvh",
         "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_bye_angry_001.bvh",
         "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk-left_happy_001.bvh"]


@pytest.mark.parametrize("clip", CLIPS)
def test_mirrored_features_put_every_joint_at_its_counterparts_reflected_place(clip, bandai_dir):
    motion = read_bvh(bandai_dir / clip)
    skeleton = model_skeleton(motion)
    layout = feature_layout(skeleton)
    features = motion_to_features(motion, dtype=np.float64)
    mirror = mirror_map(skeleton, layout.root_joint, typical_rotations(features.mean(axis=0), layout))
    mirrored = mirror_features(features, layout, mirror)
    np.testing.assert_allclose(mirror_features(mirrored, layout, mirror), features, atol=1e-9)  # its own inverse
    original = features_to_motion(features, skeleton, motion.fps)
    image = features_to_motion(mirrored, skeleton, motion.fps)
    positions, reflected = forward_kinematics(original)[0], forward_kinematics(image)[0]
    expected = positions[:, mirror.counterpart] @ REFLECT.T
    assert np.abs(reflected - expected).max() < 0.1  # cm: the two sides' bones differ by less than that
    travel = np.abs(positions[-1, 1, [0, 2]] - positions[0, 1, [0, 2]]).max()
    assert "walk" not in clip or travel > 50  # the walking clip does travel, so the root velocity is checked
    np.testing.assert_allclose(wrist_speeds(image), wrist_speeds(original)[:, ::-1], atol=0.5)


def test_mirrored_clips_keep_each_joints_twist_in_the_range_of_the_data(bandai_dir):
    """The bones fix where a joint points, not its twist about the bone: Bandai's shoulders and
    hips hold a nearly fixed twist (std 0.01 in 6D), and a half turn the wrong way put mirrored
    shoulders 200 standard deviations off. With the data's typical pose choosing, they stay close."""
    clips = sorted((bandai_dir / "Bandai-Namco-Research-Motiondataset-1" / "data").glob("*.bvh"))[::4]
    motions = [read_bvh(c) for c in clips]
    skeleton = model_skeleton(motions[0])
    layout = feature_layout(skeleton)
    features = np.concatenate([motion_to_features(m, dtype=np.float64) for m in motions])
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-3
    for typical, within in ((typical_rotations(mean, layout), True), (None, False)):
        mirrored = mirror_features(features, layout, mirror_map(skeleton, layout.root_joint, typical))
        worst = np.abs((mirrored - mean) / std).mean(axis=0).max()
        assert worst < 3.0 if within else worst > 50.0, worst  # the clips themselves: at most 1.0


def test_a_left_hand_wave_becomes_a_right_hand_wave(bandai_dir):
    motion = read_bvh(bandai_dir / CLIPS[0])
    skeleton = model_skeleton(motion)
    layout = feature_layout(skeleton)
    features = motion_to_features(motion)
    typical = typical_rotations(features.mean(axis=0), layout)
    mirrored = mirror_features(features, layout, mirror_map(skeleton, layout.root_joint, typical))
    left, right = wrist_speeds(features_to_motion(mirrored, skeleton, motion.fps)).mean(axis=0)
    original_left, original_right = wrist_speeds(motion).mean(axis=0)
    assert original_left > 2 * original_right and right > 2 * left


def test_counterparts_pair_sides_by_name():
    names = ["Hips", "Spine", "LeftArm", "RightArm", "hand_l", "hand_r", "Foot.L", "Foot.R", "Head"]
    assert counterparts(names).tolist() == [0, 1, 3, 2, 5, 4, 7, 6, 8]


def test_a_skeleton_without_axis_aligned_mirror_frames_is_refused(zeggs_bvh):
    motion = read_bvh(zeggs_bvh)
    skeleton = model_skeleton(motion)
    with pytest.raises(MirrorError, match="no axis-aligned mirror frame"):
        mirror_map(skeleton, feature_layout(skeleton).root_joint)
