"""Each hand's roll about the forearm stays within real capture (core.generation.hand_roll): a hand
twisted far comes back inside the range with its swing kept, a roll inside the range's soft band is
left as it is, a roll that sweeps through half-turns is limited without a pop, skeletons without hands pass
through, and the real takes' own roll is barely touched."""

import numpy as np
import pytest

from ohgesture.core.generation import hand_roll as R
from ohgesture.core.motion.features import FeatureLayout
from ohgesture.core.motion.rotations import matrix_to_6d, quat_multiply, quat_rotate, quat_to_matrix, swing_twist
from ohgesture.core.motion.skeleton import Skeleton

from support import ZEGGS_DIR

HAND = 2  # RightHand in _skeleton()


def _skeleton(names=("Hips", "RightForeArm", "RightHand", "LeftForeArm", "LeftHand")) -> Skeleton:
    offsets = np.array([[0, 0, 0], [-30.0, 0, 0], [-23.0, 0.5, 0], [30.0, 0, 0], [23.0, 0.5, 0]])
    return Skeleton(name="arms", joint_names=list(names), parents=np.array([-1, 0, 1, 0, 3]), offsets=offsets)


def _about(axis, degrees) -> np.ndarray:
    axis = np.asarray(axis, np.float64) / np.linalg.norm(axis)
    half = np.radians(np.asarray(degrees, np.float64)) / 2
    return np.concatenate([np.cos(half)[..., None], np.sin(half)[..., None] * axis], axis=-1)


def _rotations(skeleton: Skeleton, twist_degrees: np.ndarray, swing_degrees: float = 35.0) -> np.ndarray:
    """(F, J, 4): the right hand swung ``swing_degrees`` about +Z (across its forearm axis) after a
    twist about that axis."""
    frames = len(twist_degrees)
    rotations = np.tile([1.0, 0.0, 0.0, 0.0], (frames, skeleton.num_joints, 1))
    twist = _about(skeleton.offsets[HAND], twist_degrees)
    rotations[:, HAND] = quat_multiply(_about([0, 0, 1], np.full(frames, swing_degrees)), twist)
    return rotations


def test_a_hand_twisted_90_degrees_comes_back_within_the_real_range_with_its_swing_kept():
    skeleton = _skeleton()
    # right hand (sign +1), 90 degrees past the rest and past the range, each a take of its own
    twisted = np.concatenate([_rotations(skeleton, np.array([roll])) for roll in (-90.0, R.HIGH_DEGREES + 90.0)])
    limited = np.concatenate([R.limit_hand_roll_rotations(frame[None], skeleton) for frame in twisted])
    roll = np.degrees([R.hand_roll(frame[None], skeleton)[0, 1] for frame in limited])
    assert np.all(roll >= R.LOW_DEGREES) and np.all(roll <= R.HIGH_DEGREES), roll
    assert roll[0] < R.LOW_DEGREES + 10 and roll[1] > R.HIGH_DEGREES - 10  # bent to the edge, not to the middle
    axis = skeleton.offsets[HAND]
    before, _ = swing_twist(twisted[:, HAND], axis)
    after, _ = swing_twist(limited[:, HAND], axis)
    assert np.allclose(np.abs(np.sum(before * after, axis=-1)), 1.0, atol=1e-9)  # the same swing
    # so the hand points where it pointed; only its roll about that direction changed
    assert np.allclose(quat_rotate(twisted[:, HAND], axis), quat_rotate(limited[:, HAND], axis), atol=1e-9)
    assert np.array_equal(limited[:, [0, 1, 3, 4]], twisted[:, [0, 1, 3, 4]])


def test_a_roll_inside_the_soft_band_is_kept_and_the_left_hand_is_mirrored():
    skeleton = _skeleton()
    rolls = np.linspace(R.LOW_DEGREES + R.SOFT_DEGREES, R.HIGH_DEGREES - R.SOFT_DEGREES, 7)
    rotations = _rotations(skeleton, rolls)
    assert np.allclose(R.limit_hand_roll_rotations(rotations, skeleton), rotations, atol=1e-12)
    left = np.tile([1.0, 0.0, 0.0, 0.0], (len(rolls), skeleton.num_joints, 1))
    left[:, 4] = _about(skeleton.offsets[4], -rolls)  # the mirror image of the right hand's roll
    assert np.allclose(np.degrees(R.hand_roll(left, skeleton)[:, 0]), rolls)


def test_a_roll_sweeping_through_half_turns_is_limited_smoothly():
    skeleton = _skeleton()
    sweep = np.linspace(-200.0, 300.0, 301)  # 1.7 deg per frame, through +-180
    limited = R.limit_hand_roll_rotations(_rotations(skeleton, sweep), skeleton)
    roll = np.degrees(R.hand_roll(limited, skeleton)[:, 1])
    assert roll.min() >= R.LOW_DEGREES - 1e-9 and roll.max() <= R.HIGH_DEGREES + 1e-9
    assert np.all(np.diff(roll) >= -1e-9)  # no jump back at a half turn
    assert np.abs(np.diff(roll)).max() <= 1.7 + 1e-6  # never faster than the roll it limits


def test_features_change_only_in_the_hands_and_skeletons_without_hands_pass_through():
    skeleton = _skeleton()
    layout = FeatureLayout(num_joints=skeleton.num_joints, root_joint=0)
    rotations = _rotations(skeleton, np.linspace(-120.0, 200.0, 40))
    features = np.random.default_rng(0).normal(size=(40, layout.D))
    features[:, layout.slices["rotations"]] = matrix_to_6d(quat_to_matrix(rotations)).reshape(40, -1)
    limited = R.limit_hand_roll(features, skeleton, layout)
    hands = np.r_[layout.joint_slice(2), layout.joint_slice(4)]
    assert np.array_equal(np.delete(limited, hands, axis=1), np.delete(features, hands, axis=1))
    expected = R.limit_hand_roll_rotations(rotations, skeleton)[:, HAND]
    assert np.allclose(limited[:, layout.joint_slice(HAND)], matrix_to_6d(quat_to_matrix(expected)), atol=1e-9)
    other = _skeleton(("Hips", "forearm_r", "hand_r", "forearm_l", "hand_l"))
    assert R.limit_hand_roll(features, other, layout) is features


@pytest.mark.skipif(not (ZEGGS_DIR / "067_Speech_2_x_1_0.bvh").exists(), reason="../shared/data absent")
def test_the_real_takes_roll_is_barely_touched():
    from ohgesture.core.training.speech_takes import load_speech_takes

    for take in load_speech_takes(ZEGGS_DIR.parent):
        motion = take.motion
        before = R.hand_roll(motion.rotations, motion.skeleton)
        after = R.hand_roll(R.limit_hand_roll_rotations(motion.rotations, motion.skeleton), motion.skeleton)
        changed = np.degrees(np.abs(after - before))
        assert np.mean(changed > 1.0) < 0.08, (take.name, np.mean(changed > 1.0))
