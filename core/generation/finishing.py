"""Finishing a sampled take: re-timing to the speech's loudness, then a low-pass, the heading
held, the arms at rest in pauses, the hands' roll kept within real capture, the root anchored
over planted feet and its sway calmed, foot locking and grounding (docs/architecture.md,
finishing); next to known frames each fades out so they stay exactly as they were."""

from __future__ import annotations

import numpy as np

from ..motion.features import features_to_motion, smooth_features, smoothstep
from ..motion.kinematics import forward_kinematics
from ..motion.measures import MotionMeasureError, arm_joints, contact_joints, floor_height, wrist_speeds
from ..motion.skeleton import Motion
from .footlock import lock_feet
from .gesture_space import KEEP_GESTURE_SPACE, keep_gesture_space
from .hand_roll import LIMIT_HAND_ROLL, limit_hand_roll
from .heading import hold_heading
from .model_loading import LoadedModel
from .rest import REST_IN_PAUSES, hold_root, rest_arms, take_pauses
from .retiming import activity_time_map, retime_features
from .root_anchor import anchor_root
from .sway import CALM_SWAY, calm_sway

# Where a take-normalised recording's speech level is put, in dB re full scale (a typical speech
# recording's level; the two training recordings' are -16 and -12).
NORMALISED_SPEECH_DB = -20.0
FINISH_EASE_FRAMES = 6  # frames next to known ones over which smoothing and foot locking fade in
# The root, trunk, head and legs are low-passed at this share of the take's cutoff (the arms and
# hands at the cutoff itself): they move slowly in real capture, and the sampler's noise there
# made the shipped model's takes 1.5-2 times as jerky for their wrist speed as real takes
# (issue 28). Chosen on the two training recordings and the validation recording 2_scott_0_55_55
# (neutral, sad, happy, angry, seed 1; jerk per unit of wrist speed, evaluation.takes.plausibility,
# real takes 30 and 56): 5 Hz everywhere gave 73-98; 2 Hz here with 4 Hz for the arms 48-61;
# 1.75 and 1.6 Hz with 3.5 Hz 45-52 and 43-50, for 10 % of the wrist speed against 5 Hz.
TRUNK_SMOOTHING_SHARE = 0.45


def features_to_output(lm: LoadedModel, features: np.ndarray) -> Motion:
    return features_to_motion(features, lm.skeleton, lm.fps, root_joint=lm.layout.root_joint)


def smooth_take(lm: LoadedModel, features: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Motion features (F, D) low-passed (smooth_features): the arms and hands at ``cutoff_hz``,
    everything else at TRUNK_SMOOTHING_SHARE of it (all at ``cutoff_hz`` on a skeleton without
    named wrists)."""
    try:
        arms = arm_joints(lm.skeleton)
    except MotionMeasureError:
        return smooth_features(features, lm.fps, cutoff_hz)
    features = np.asarray(features)
    arm = np.zeros(lm.layout.D, bool)
    for j in arms:
        arm[lm.layout.joint_slice(j)] = True
    out = np.array(features, copy=True)
    out[:, ~arm] = smooth_features(features[:, ~arm], lm.fps, TRUNK_SMOOTHING_SHARE * cutoff_hz)
    out[:, arm] = smooth_features(features[:, arm], lm.fps, cutoff_hz)
    return out


def speech_loudness(lm: LoadedModel, audio_features: np.ndarray) -> np.ndarray:
    """(F,) linear loudness of the speech per frame, from raw audio features (their rms_db column).

    Re-timing follows it rather than the activity the model's encoder predicts (which still
    conditions the denoiser, inside the model): measured in docs/model-card.md and docs/cli.md
    (re-timing). Take-normalised features hold the level in tens of dB below the recording's own
    speech level (core.audio.features.normalise_take): it is read back in dB and put at
    NORMALISED_SPEECH_DB, so speech and its pauses keep their full range and digital silence
    reads as silence (core.generation.rest)."""
    column = lm.audio_config.column_names().index("rms_db")
    level = np.asarray(audio_features, np.float64)[:, column]
    if lm.audio_config.take_normalised:
        level = level * 10.0 + NORMALISED_SPEECH_DB
    return 10.0 ** (level / 20.0)


def activity_positions(lm: LoadedModel, motion: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """(F,) fractional frames of motion features (F, D) to show so the faster wrist's speed
    follows ``activity`` (F,) (core.generation.retiming.activity_time_map)."""
    return activity_time_map(wrist_speeds(features_to_output(lm, motion)).max(axis=1), activity)


def follow_activity(lm: LoadedModel, motion: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Motion features (F, D) re-timed so the faster wrist's speed follows ``activity`` (F,)."""
    return retime_features(motion, activity_positions(lm, motion, activity), lm.layout)


def finish(lm: LoadedModel, motion: np.ndarray, mask, known, smoothing_hz: float, foot_lock: bool, *,
           loudness: np.ndarray | None = None, rest: bool = REST_IN_PAUSES,
           hand_roll: bool = LIMIT_HAND_ROLL, gesture_space: bool = KEEP_GESTURE_SPACE) -> np.ndarray:
    """Low-pass (smooth_take), the heading held (core.generation.heading; without known frames), the arms at
    rest in the pauses of ``loudness`` (F,) (core.generation.rest; without known frames), the
    hands' roll limited (core.generation.hand_roll), the hands kept in the gesture space
    (core.generation.gesture_space; without known frames) and foot locking; next to known frames
    (``mask`` (F, D)) they fade out, or the known frames put back would stand out as steps."""
    finished = smooth_take(lm, motion, smoothing_hz)
    pauses = None
    if mask is None:  # with known frames the root path after them must stay as it was
        finished = hold_heading(finished, lm.fps, lm.layout)
        if rest and loudness is not None:
            pauses = take_pauses(loudness, len(finished), lm.fps)
            finished = rest_arms(finished, pauses, lm.skeleton, lm.layout)
    if hand_roll:
        finished = limit_hand_roll(finished, lm.skeleton, lm.layout)
    if gesture_space and mask is None:  # a take's budget; known frames (the animator's poses) stay the measure
        finished = keep_gesture_space(finished, lm.skeleton, lm.fps, lm.layout)
    if foot_lock and mask is None:
        finished = anchor_root(finished, lm.skeleton, lm.fps, lm.layout)
    if foot_lock and mask is None and CALM_SWAY:  # the foot locking below pins the feet the hips moved over
        finished = calm_sway(finished, lm.fps, lm.layout)
    if pauses is not None:  # after the anchoring, which moves the hips with the feet
        finished = hold_root(finished, pauses, lm.skeleton, lm.layout)
    if foot_lock:
        finished = lock_feet(finished, lm.skeleton, lm.fps, lm.layout)
    if mask is None:
        return ground(lm, finished)
    weight = finishing_weight(mask.any(axis=1))
    return np.where(mask > 0, known, motion + weight[:, None] * (finished - motion))


def ground(lm: LoadedModel, features: np.ndarray) -> np.ndarray:
    """Motion features (F, D) raised or lowered as a whole so the take's toes stand at the height
    the training motion's stood at (checkpoint metadata ``floor_height``; unchanged without it).
    Why: the shipped model floated on some voices (docs/model-card.md, floor)."""
    target = lm.metadata.get("floor_height")
    contacts = contact_joints(lm.skeleton)
    if target is None or not contacts or len(features) == 0:
        return features
    positions, _ = forward_kinematics(features_to_output(lm, features))
    out = np.array(features, copy=True)
    out[:, lm.layout.slices["root_height"]] += float(target) - floor_height(positions, contacts)
    return out


def finishing_weight(known_frames: np.ndarray, ease: int = FINISH_EASE_FRAMES) -> np.ndarray:
    """Per-frame share (F,) of the finished motion: 0 on known frames, rising with a smoothstep
    to 1 at ``ease`` + 1 frames from the nearest one."""
    from scipy.ndimage import distance_transform_edt

    known_frames = np.asarray(known_frames, dtype=bool)
    if not known_frames.any():
        return np.ones(len(known_frames))
    return smoothstep(distance_transform_edt(~known_frames) / (ease + 1))
