"""Keeping each hand's roll about the forearm within what real capture shows.

Why: a hand rolled far about the forearm candy-wraps a skinned wrist; issue 28 measured the
shipped model rolling a hand -71..+92 degrees on an eSpeak voice and 61-80 degrees in silence.

What: each hand's local rotation is split into a swing and a twist about the forearm-to-hand
direction (the hand bone's offset in the forearm's frame; core.motion.rotations.swing_twist).
The twist (unwrapped over time, the left hand's sign mirrored so both sides read alike) is kept
as it is between LOW_DEGREES and HIGH_DEGREES, SOFT_DEGREES in from each end, and bent smoothly
towards that end beyond (a tanh with slope 1 at the knee: no clip, no pop); the swing is
untouched. The range is the real capture's on the model body (research/hands_at_rest.py real,
docs/experiments/hand-roll.md): the ZEGGS take rolls its hands a median 48-51 degrees from the
T-pose rest, the BEAT take within a few degrees of it, so the range is not centred on the rest.
Skeletons without joints named LeftHand/RightHand are left as they are.
"""

from __future__ import annotations

import numpy as np

from ..motion.features import FeatureLayout
from ..motion.rotations import matrix_to_6d, matrix_to_quat, quat_multiply, quat_to_matrix, sixd_to_matrix, \
    swing_twist
from ..motion.skeleton import Skeleton

LIMIT_HAND_ROLL = True  # the finishing step is on unless the caller turns it off
# the real takes' hand roll, both hands: the lower of the two takes' 2.5th percentiles, the higher 97.5th
# (both the ZEGGS take's; the BEAT take's lie within -3..+2)
LOW_DEGREES, HIGH_DEGREES = -8.4, 122.5
SOFT_DEGREES = 6.0  # the band inside each end of the range over which the limit bends in
HAND_SIGNS = {"LeftHand": -1.0, "RightHand": 1.0}  # mirrors the left hand's twist onto the right's


def hand_joints(skeleton: Skeleton) -> list[tuple[int, float]]:
    """(joint index, sign) of each hand the skeleton names."""
    return [(skeleton.index(name), sign) for name, sign in HAND_SIGNS.items() if name in skeleton.joint_names]


def _twist(quaternions: np.ndarray, axis: np.ndarray, sign: float) -> tuple[np.ndarray, np.ndarray]:
    """(swing (F, 4), roll (F,) radians, unwrapped, sign applied, on the branch nearest the range)."""
    swing, angle = swing_twist(quaternions, axis)
    roll = sign * np.unwrap(angle)
    if len(roll):
        centre = np.radians(LOW_DEGREES + HIGH_DEGREES) / 2
        roll = roll - 2 * np.pi * np.round((np.median(roll) - centre) / (2 * np.pi))
    return swing, roll


def hand_roll(rotations: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(F, H) roll of each hand about its forearm (radians, left mirrored), from local rotations (F, J, 4)."""
    rolls = [_twist(rotations[:, j], skeleton.offsets[j], sign)[1] for j, sign in hand_joints(skeleton)]
    return np.stack(rolls, axis=1) if rolls else np.zeros((len(rotations), 0))


def limited_roll(roll: np.ndarray, low: float = np.radians(LOW_DEGREES), high: float = np.radians(HIGH_DEGREES),
                 soft: float = np.radians(SOFT_DEGREES)) -> np.ndarray:
    """Roll angles (radians) as they are between ``low`` + ``soft`` and ``high`` - ``soft``; beyond,
    bent with a tanh (slope 1 at the knee, so no kink) towards ``low`` or ``high``, never past them."""
    roll = np.asarray(roll, np.float64)
    lower, upper = low + soft, high - soft
    out = np.where(roll > upper, upper + soft * np.tanh((roll - upper) / soft), roll)
    return np.where(roll < lower, lower - soft * np.tanh((lower - roll) / soft), out)


def limit_hand_roll_rotations(rotations: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Local rotations (F, J, 4) with each hand's roll about the forearm kept in range (module doc)."""
    out = np.array(rotations, dtype=np.float64, copy=True)
    for joint, sign in hand_joints(skeleton):
        axis = np.asarray(skeleton.offsets[joint], np.float64)
        axis = axis / max(np.linalg.norm(axis), 1e-12)
        swing, roll = _twist(out[:, joint], axis, sign)
        half = 0.5 * sign * limited_roll(roll)
        twist = np.concatenate([np.cos(half)[:, None], np.sin(half)[:, None] * axis], axis=1)
        out[:, joint] = quat_multiply(swing, twist)
    return out


def limit_hand_roll(features: np.ndarray, skeleton: Skeleton, layout: FeatureLayout) -> np.ndarray:
    """Motion features (F, D) with each hand's roll about the forearm kept in range (module doc)."""
    hands = hand_joints(skeleton)
    if not hands or len(features) == 0:
        return features
    rotations = np.tile(np.array([1.0, 0.0, 0.0, 0.0]), (len(features), skeleton.num_joints, 1))
    for j, _ in hands:
        rotations[:, j] = matrix_to_quat(sixd_to_matrix(features[:, layout.joint_slice(j)]))
    limited = limit_hand_roll_rotations(rotations, skeleton)
    out = np.array(features, copy=True)
    for j, _ in hands:
        out[:, layout.joint_slice(j)] = matrix_to_6d(quat_to_matrix(limited[:, j]))
    return out
