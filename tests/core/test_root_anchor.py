"""Anchoring the root to the planted feet (core.generation.root_anchor)."""

import numpy as np

from ohgesture.core.evaluation import measures as M
from ohgesture.core.generation.root_anchor import anchor_root, anchored_root_steps, run_weights
from ohgesture.core.motion.bvh import read_bvh


def test_run_weights_are_one_inside_a_plant_and_ease_out_around_it():
    w = run_weights([(10, 20)], 40, ease=4)
    assert np.all(w[10:20] == 1.0) and np.all(w[:6] == 0.0) and np.all(w[24:] == 0.0)
    assert np.all(np.diff(w[5:11]) > 0) and np.all(np.diff(w[19:25]) < 0)


def test_a_root_that_carries_its_planted_feet_along_stands_still():
    frames = 50
    root = np.stack([np.arange(frames) * 0.4, np.zeros(frames)], axis=1)  # 12 cm/s at 30 fps
    feet = [root + [10.0, 0.0], root + [-10.0, 0.0]]
    planted = [np.ones(frames), np.ones(frames)]
    assert np.allclose(anchored_root_steps(root, feet, planted), 0.0)
    lifted = [np.zeros(frames), np.zeros(frames)]
    assert np.allclose(anchored_root_steps(root, feet, lifted)[1:], [0.4, 0.0])  # no plant: its own steps


def test_hips_that_sway_over_one_planted_foot_keep_that_foot_still():
    frames = 60
    sway = 5.0 * np.sin(np.linspace(0, 4 * np.pi, frames))
    root = np.zeros((frames, 2))  # the sampler left the hips in place and moved the planted foot instead
    planted = root + np.stack([10.0 - sway, np.zeros(frames)], axis=1)
    swinging = root + np.stack([-10.0 + 3 * sway, np.zeros(frames)], axis=1)
    steps = anchored_root_steps(root, [planted, swinging], [np.ones(frames), np.zeros(frames)])
    new_root = np.cumsum(steps, axis=0)
    foot = new_root + (planted - root)
    assert np.ptp(foot[:, 0]) < 1e-9  # the planted foot does not move
    assert np.ptp(new_root[:, 0]) > 9.0  # the hips sway over it instead


def test_real_capture_keeps_its_feet_and_a_glide_added_to_it_is_taken_out(zeggs_bvh):
    from ohgesture.core.evaluation.measures import joint_groups
    from ohgesture.core.generation.footlock import lock_feet
    from ohgesture.core.motion.features import FeatureLayout, features_to_motion, model_skeleton, motion_to_features
    from ohgesture.core.motion.kinematics import forward_kinematics
    from ohgesture.core.motion.skeleton import Motion

    take = read_bvh(zeggs_bvh)
    take = Motion(model_skeleton(take), take.rotations[:900], take.local_translations[:900], take.fps)
    layout = FeatureLayout.for_skeleton(take.skeleton)
    real = motion_to_features(take, root_joint=layout.root_joint, dtype=np.float64)
    glided = real.copy()
    glided[:, layout.slices["root_velocity"]] += [0.0, 11.0]  # 11 cm/s forward, the legs carried along
    feet = joint_groups(take.skeleton)["feet"]

    def sliding(features):
        motion = features_to_motion(features, take.skeleton, take.fps, root_joint=layout.root_joint)
        return M.foot_sliding(forward_kinematics(motion)[0], take.fps, feet)

    for features in (real, glided):
        anchored = anchor_root(features, take.skeleton, take.fps, layout)
        changed = np.flatnonzero(np.abs(anchored - features).max(axis=0) > 1e-9)
        assert set(changed) <= set(range(*layout.slices["root_velocity"].indices(layout.D)))

    def finished(features, anchored):  # as generation finishes a take: anchoring, then leg IK
        features = anchor_root(features, take.skeleton, take.fps, layout) if anchored else features
        return lock_feet(features, take.skeleton, take.fps, layout)

    assert sliding(finished(real, True)) <= sliding(finished(real, False)) + 0.05
    before, after = sliding(finished(glided, False)), sliding(finished(glided, True))
    assert after < 0.4 * before, (before, after)


def test_the_shipped_models_feet_do_not_slide_on_the_voice_it_glided_on(zeggs_wav):
    """On the ZEGGS speaker's voice the model sways the hips without the legs taking it up."""
    from ohgesture.core.evaluation.measures import joint_groups, motion_positions, speech_inputs
    from ohgesture.core.generation.footlock import lock_feet
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, generate_features, load_model

    lm = load_model(DEFAULT_MODEL, "cpu")
    speech = speech_inputs(lm, zeggs_wav, 30)
    feet = joint_groups(lm.skeleton)["feet"]
    raw = generate_features(lm, speech["audio"], ["neutral"], np.ones(1), foot_lock=False)
    finished = generate_features(lm, speech["audio"], ["neutral"], np.ones(1))
    locked_only = lock_feet(raw, lm.skeleton, lm.fps, lm.layout)
    sliding = [M.foot_sliding(motion_positions(lm, m), lm.fps, feet) for m in (raw, locked_only, finished)]
    # real capture: 1.4-1.9 cm/s; the any-voice model's legs step and shift weight: 11.8 raw, 1.7 with leg IK
    # alone (the planted foot holding its heading, the steps lifted), 0.76 finished (2.2 before those)
    assert sliding[2] < 0.6 * sliding[1] and sliding[2] < 1.2, sliding
