"""Hands kept in the gesture space: a take whose hands dwell above the shoulders is lowered a little.

Why: the quality bar allows the higher wrist above its shoulder in at most 25 % of frames (real
co-speech capture: 3-21 %). The shipped model's happy and angry takes passed the shoulder in up
to 26-27 % on unseen speech, and the share varies widely between seeds of one emotion (7.6 to
43 % for happy on one validation recording): the oration performer's styled arms, which the
model reaches past its training takes' 22-25 %.

What: each arm's wrist height above its upper-arm joint, in arm lengths (the evaluation's
``wrist_heights``), is lowered by a drop times a smoothstep from START (below the shoulder) to the
shoulder's height, the full drop at and above it. The drop is the smallest, up to MAX_DROP, that
leaves either wrist above its shoulder in at most TARGET_SHARE of the take's frames (the real
ZEGGS take's 21 %), so a take inside real capture's range is left exactly as it is and only
one that dwells above the shoulders comes down. The whole arm turns about the upper-arm joint
in its vertical plane (the elbow's bend, the forearm and the hand keep their local rotations),
so a raised gesture stays a raised gesture, a little lower; hands below the chest are
untouched. The drop is a smooth function of the smoothed motion, so it adds no jitter. Chosen on
the training recordings and the validation recording 2_scott_0_55_55
(docs/experiments/gesture-space.md); skeletons without named wrists are left as they are.
"""

from __future__ import annotations

import numpy as np

from ..motion.features import FeatureLayout, features_to_motion, smoothstep
from ..motion.kinematics import chain_kinematics
from ..motion.measures import MotionMeasureError, wrist_indices
from ..motion.rotations import matrix_to_6d
from ..motion.skeleton import Skeleton
from .footlock import rotation_between

KEEP_GESTURE_SPACE = True  # the finishing step is on unless the caller turns it off
START = -0.25  # arm lengths above the shoulder (negative: below) where the lowering begins
MAX_DROP = 0.15  # arm lengths a hand at or above its shoulder is lowered at most (8.4 cm on a 56-cm arm)
TARGET_SHARE = 20.0  # percent of frames either wrist may stay above its shoulder before the take is lowered


def lowered(height: np.ndarray, drop: float, start: float = START) -> np.ndarray:
    """Wrist heights above the shoulder (arm lengths) lowered by ``drop`` times a smoothstep from
    ``start`` to 0; monotonic while ``drop`` < ``-start`` / 1.5."""
    height = np.asarray(height, np.float64)
    return height - drop * smoothstep((height - start) / -start)


def above_share(heights: np.ndarray) -> float:
    """Percent of frames with the wrist above its shoulder, for the wrist (column of ``heights``
    (F, 2)) that is more often so: the evaluation's gesture_space."""
    return float(np.max(np.mean(np.asarray(heights) > 0, axis=0)) * 100) if len(heights) else 0.0


def needed_drop(heights: np.ndarray, target: float = TARGET_SHARE, most: float = MAX_DROP) -> float:
    """The smallest drop (arm lengths, at most ``most``) that leaves ``heights`` (F, 2) above the
    shoulder in at most ``target`` percent of frames; 0 for a take already within it."""
    if above_share(heights) <= target:
        return 0.0
    if above_share(lowered(heights, most)) > target:
        return most
    low, high = 0.0, most
    for _ in range(30):  # the share only falls as the drop grows
        middle = 0.5 * (low + high)
        low, high = (middle, high) if above_share(lowered(heights, middle)) > target else (low, middle)
    return high


def keep_gesture_space(features: np.ndarray, skeleton: Skeleton, fps: float, layout: FeatureLayout,
                       up_axis: int = 1) -> np.ndarray:
    """Motion features (F, D) whose hands, if they dwell above the shoulders, are lowered by the
    needed drop (module doc); only the upper arms' rotations change, and only in such a take."""
    try:
        wrists = wrist_indices(skeleton)
    except MotionMeasureError:
        return features
    parents = np.asarray(skeleton.parents)
    arms = [(int(parents[parents[w]]), int(parents[w]), w) for w in wrists]
    if len(features) == 0 or any(upper < 0 or parents[upper] < 0 for upper, _, _ in arms):
        return features
    motion = features_to_motion(features, skeleton, fps, root_joint=layout.root_joint)
    positions, world, column = chain_kinematics(motion.rotations, motion.local_translations, parents, list(wrists))
    out = np.array(features, copy=True)
    lengths = [float(np.median(np.linalg.norm(positions[:, column[elbow]] - positions[:, column[upper]], axis=-1)
                               + np.linalg.norm(positions[:, column[wrist]] - positions[:, column[elbow]], axis=-1)))
               for upper, elbow, wrist in arms]
    heights = np.stack([(positions[:, column[wrist], up_axis] - positions[:, column[upper], up_axis]) / length
                        for (upper, _, wrist), length in zip(arms, lengths)], axis=1)
    drop = needed_drop(heights)
    if drop == 0.0:
        return features
    for (upper, _, wrist), length, height in zip(arms, lengths, heights.T):
        arm = positions[:, column[wrist]] - positions[:, column[upper]]
        wanted = lowered(height, drop)
        reach = np.linalg.norm(arm, axis=-1)
        across = arm.copy()
        across[:, up_axis] = 0.0
        size = np.linalg.norm(across, axis=-1, keepdims=True)
        fallback = np.zeros(3)
        fallback[2 if up_axis != 2 else 0] = 1.0  # an arm straight up: lower it forwards
        across = np.where(size > 1e-6 * length, across / np.maximum(size, 1e-12), fallback)
        rise = np.clip(wanted * length / np.maximum(reach, 1e-12), -1.0, 1.0)
        target = across * np.sqrt(1.0 - rise ** 2)[:, None] * reach[:, None]
        target[:, up_axis] = rise * reach
        turn = rotation_between(arm, target)
        parent_world = world[:, column[int(parents[upper])]]
        local = np.swapaxes(parent_world, 1, 2) @ turn @ world[:, column[upper]]
        out[:, layout.joint_slice(upper)] = matrix_to_6d(local).astype(out.dtype)
    return out
