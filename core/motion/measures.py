"""Measurements of motion used by generation, training and evaluation: the wrists and their speed."""

from __future__ import annotations

import numpy as np

from .kinematics import forward_kinematics
from .skeleton import Motion, Skeleton

WRIST_NAMES = (("Hand_L", "Hand_R"), ("LeftHand", "RightHand"), ("LeftWrist", "RightWrist"))


class MotionMeasureError(ValueError):
    """The skeleton lacks what the measurement needs."""


def wrist_indices(skeleton: Skeleton) -> tuple[int, int]:
    for left, right in WRIST_NAMES:
        if left in skeleton.joint_names and right in skeleton.joint_names:
            return skeleton.index(left), skeleton.index(right)
    raise MotionMeasureError(f"no wrist joints found in skeleton {skeleton.name!r}")


def wrist_speeds(motion: Motion) -> np.ndarray:
    """(F, 2) per-frame speed (file units per second) of the left and the right wrist."""
    positions, _ = forward_kinematics(motion)
    left, right = wrist_indices(motion.skeleton)
    velocity = np.diff(positions[:, [left, right]], axis=0, prepend=positions[:1, [left, right]]) * motion.fps
    return np.linalg.norm(velocity, axis=-1)


def wrist_speed(motion: Motion) -> np.ndarray:
    """Per-frame speed (file units per second) of the faster wrist."""
    return wrist_speeds(motion).max(axis=-1)
