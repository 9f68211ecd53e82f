"""Hands kept in the gesture space (core.generation.gesture_space): a take whose hands dwell above
the shoulders is lowered a little by turning each whole arm about its shoulder; nothing else moves,
and a take inside real capture's range is left alone."""

import numpy as np
import pytest

from ohgesture.core.generation.gesture_space import (MAX_DROP, START, TARGET_SHARE, above_share, keep_gesture_space,
                                                     lowered, needed_drop)


def test_the_lowering_starts_below_the_shoulder_and_never_reorders_heights():
    height = np.linspace(-1.0, 1.0, 2001)
    out = lowered(height, MAX_DROP)
    assert np.array_equal(out[height <= START], height[height <= START])  # hands below the chest: untouched
    assert np.allclose(out[height >= 0] - height[height >= 0], -MAX_DROP)  # at and above the shoulder: the drop
    assert np.all(np.diff(out) > 0)  # a higher hand stays higher


def test_the_drop_is_the_least_that_brings_the_share_to_the_target():
    rng = np.random.default_rng(0)
    heights = np.stack([rng.normal(-0.1, 0.2, 3000), rng.normal(-0.4, 0.2, 3000)], axis=1)
    assert above_share(heights) > TARGET_SHARE
    drop = needed_drop(heights)
    assert 0 < drop < MAX_DROP
    assert above_share(lowered(heights, drop)) <= TARGET_SHARE < above_share(lowered(heights, 0.95 * drop))
    assert needed_drop(heights - 0.3) == 0.0  # a take within the target: no drop
    assert needed_drop(heights + 1.0) == MAX_DROP  # hands held up: lowered at most MAX_DROP


def _features(bvh):
    from ohgesture.core.motion.bvh import read_bvh
    from ohgesture.core.motion.features import FeatureLayout, model_skeleton, motion_to_features
    from ohgesture.core.motion.skeleton import Motion

    take = read_bvh(bvh)
    take = Motion(model_skeleton(take), take.rotations, take.local_translations, take.fps)
    layout = FeatureLayout.for_skeleton(take.skeleton)
    return take, layout, motion_to_features(take, root_joint=layout.root_joint, dtype=np.float64)


def test_real_capture_over_the_target_comes_down_just_enough_and_keeps_its_arms_bend(zeggs_bvh):
    from ohgesture.core.evaluation.takes import gesture_space, take_from_motion, wrist_heights
    from ohgesture.core.motion.features import features_to_motion
    from ohgesture.core.motion.kinematics import forward_kinematics

    take, layout, features = _features(zeggs_bvh)
    kept = keep_gesture_space(features, take.skeleton, take.fps, layout)
    names = take.skeleton.joint_names
    changed = set(np.flatnonzero(np.abs(kept - features).max(axis=0) > 1e-9))
    uppers = {names.index("LeftArm"), names.index("RightArm")}
    assert changed and changed <= {c for j in uppers for c in range(layout.joint_slice(j).start, layout.joint_slice(j).stop)}
    motions = [features_to_motion(f, take.skeleton, take.fps, root_joint=layout.root_joint) for f in (features, kept)]
    before, after = (take_from_motion(m, "zeggs") for m in motions)
    share = gesture_space(before)["above_shoulder_pct"], gesture_space(after)["above_shoulder_pct"]
    assert share[0] > TARGET_SHARE >= share[1] > TARGET_SHARE - 1, share  # her 21.1 % comes down to the target
    heights = wrist_heights(before), wrist_heights(after)
    assert np.allclose(heights[1], lowered(heights[0], needed_drop(heights[0])), atol=1e-6)
    low = heights[0] < START
    assert np.allclose(heights[1][low], heights[0][low])  # hands below the chest stay where they were
    p_before, p_after = (forward_kinematics(m)[0] for m in motions)
    for side in ("Left", "Right"):
        s, e, w = (names.index(f"{side}{part}") for part in ("Arm", "ForeArm", "Hand"))

        def bend(p):
            a, b = p[:, s] - p[:, e], p[:, w] - p[:, e]
            return np.arccos(np.clip(np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1), -1, 1))
        assert np.allclose(bend(p_after), bend(p_before), atol=1e-6)  # the elbow keeps its bend
        assert np.allclose(p_after[:, s], p_before[:, s])  # the shoulder stays put


def test_a_take_inside_the_target_is_left_exactly_as_it_is():
    from support import SHARED_DATA

    beat = SHARED_DATA / "beat-sample" / "2_scott_0_1_1.bvh"
    if not beat.exists():
        pytest.skip(f"needs {beat} (../shared/data is absent in a fresh clone)")
    take, layout, features = _features(beat)  # the BEAT speaker's hands pass the shoulder in 1.8 % of frames
    assert keep_gesture_space(features, take.skeleton, take.fps, layout) is features


def test_with_known_frames_the_take_is_not_lowered(zeggs_bvh):
    """A regenerated range or poses to pass through: the animator's frames set the height."""
    from types import SimpleNamespace

    from ohgesture.core.generation.finishing import finish

    take, layout, features = _features(zeggs_bvh)
    lm = SimpleNamespace(skeleton=take.skeleton, layout=layout, fps=take.fps, metadata={})
    mask = np.zeros_like(features, dtype=bool)
    mask[:10] = True  # the first frames kept
    assert keep_gesture_space(features, take.skeleton, take.fps, layout) is not features  # this take would be
    on, off = (finish(lm, features, mask, features, 3.5, False, gesture_space=g) for g in (True, False))
    assert np.array_equal(on, off)
