"""Hands at rest in pauses: in silence and long pauses the arms come down, low and relaxed.

Why: issue 28 measured 10 s of silence giving both hands held at chest height and the hips
drifting 18 cm; a speaker who stops talking lets the hands rest.

What: a pause is at least MIN_PAUSE_SECONDS of speech loudness (the loudness the re-timing
follows, core.generation.finishing.speech_loudness) more than PAUSE_BELOW_DB under the take's
speech level (its SPEECH_LEVEL_PERCENTILE-th percentile; a take whose level is under SILENT_DB
is silent throughout); loud blips shorter than BLIP_SECONDS do not end a pause. Inside a pause
the weight rises with a smoothstep over RAMP_SECONDS from its start and falls to 0 by its end,
so the hands are back in the sampled motion when the voice returns; it peaks at
SHORT_PAUSE_DEPTH in the shortest pauses and at 1 in those of FULL_REST_SECONDS or more (the
real performers lower their hands only 0-5 cm in their 1.2-3.6-s pauses, often one hand only:
a short pause is not a rest). Each arm's shoulder, arm, forearm and hand local rotations are
slerped by REST_SHARE x weight towards REST_POSE (the rest keeps a little of the motion, and
the spine, neck and head move as sampled, so the character breathes rather than freezes); the
root's horizontal travel is scaled by 1 - weight and the legs slerp by the weight towards their
mean pose over the pause, so the hips hold still and the feet do not skate (the sampled legs
shuffle in silence). Skeletons without the ZEGGS body's arm joints are left as they are. The
settings were chosen on the training speech (research/hands_at_rest.py real, depth;
docs/experiments/hand-roll.md).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_opening, distance_transform_edt, label

from ..motion.features import FeatureLayout, smoothstep
from ..motion.rotations import matrix_to_6d, matrix_to_quat, quat_to_matrix, sixd_to_matrix, slerp
from ..motion.skeleton import Skeleton

REST_IN_PAUSES = True  # the finishing step is on unless the caller turns it off
MIN_PAUSE_SECONDS = 1.2
PAUSE_BELOW_DB = 30.0
SPEECH_LEVEL_PERCENTILE = 90.0
SILENT_DB = -60.0
BLIP_SECONDS = 0.2
RAMP_SECONDS = 0.6
# How deep a MIN_PAUSE_SECONDS pause rests; from FULL_REST_SECONDS on, all the way. Chosen on the
# training speech (research/hands_at_rest.py depth): in its pauses the real performers' wrists are
# 0-5 cm lower than elsewhere, the shipped model's with these settings 1.5-8 cm (0.5 and 4 s: 5-17 cm).
SHORT_PAUSE_DEPTH = 0.15
FULL_REST_SECONDS = 8.0
REST_SHARE = 0.85
LEGS = ("RightUpLeg", "RightLeg", "RightFoot", "RightToeBase", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase")

# Local rotations (w, x, y, z) of the relaxed arms on the ZEGGS body (T-pose rest): the sign-free
# mean over the 5 % of frames of each real co-speech take where the wrists hang lowest
# (research/hands_at_rest.py real): on the first ZEGGS frame's body the wrists
# hang 1 cm either side of the hips' height, the hands rolled 14 degrees.
REST_POSE = {
    "LeftShoulder": (0.9984, -0.0048, 0.0306, -0.0463),
    "LeftArm": (0.7966, 0.2442, -0.1860, -0.5208),
    "LeftForeArm": (0.9473, -0.0279, -0.3175, -0.0333),
    "LeftHand": (0.9886, -0.1211, 0.0873, 0.0191),
    "RightShoulder": (0.9972, -0.0039, -0.0416, 0.0624),
    "RightArm": (0.8179, 0.1895, 0.1593, 0.5195),
    "RightForeArm": (0.9642, -0.0769, 0.2479, 0.0538),
    "RightHand": (0.9897, -0.1260, -0.0676, -0.0108),
}


def pause_weight(loudness: np.ndarray, fps: float) -> np.ndarray:
    """(F,) rest weight in [0, 1] of linear loudness (F,) (module doc)."""
    loudness = np.asarray(loudness, np.float64)
    if len(loudness) == 0:
        return np.zeros(0)
    db = 20.0 * np.log10(np.maximum(loudness, 1e-10))
    level = np.percentile(db, SPEECH_LEVEL_PERCENTILE)
    if level < SILENT_DB:
        return np.ones(len(db))
    loud = db >= level - PAUSE_BELOW_DB
    blip = max(1, int(round(BLIP_SECONDS * fps)))
    if blip > 1:
        loud = binary_opening(np.pad(loud, blip, mode="edge"), np.ones(blip, bool))[blip:-blip]
    runs, _ = label(~loud)
    seconds = np.bincount(runs.ravel()) / fps
    seconds[0] = 0.0  # label 0: the loud frames
    pause = seconds[runs] >= MIN_PAUSE_SECONDS
    depth = SHORT_PAUSE_DEPTH + (1.0 - SHORT_PAUSE_DEPTH) * smoothstep(
        (seconds[runs] - MIN_PAUSE_SECONDS) / (FULL_REST_SECONDS - MIN_PAUSE_SECONDS))
    if pause.all() or not pause.any():
        return pause * depth
    return smoothstep(distance_transform_edt(pause) / max(RAMP_SECONDS * fps, 1.0)) * depth * pause


def rest_joints(skeleton: Skeleton) -> list[int]:
    """Indices of the REST_POSE joints, or [] if the skeleton lacks any of them."""
    if not REST_POSE or any(name not in skeleton.joint_names for name in REST_POSE):
        return []
    return [skeleton.index(name) for name in REST_POSE]


def rest_arms(features: np.ndarray, weight: np.ndarray, skeleton: Skeleton, layout: FeatureLayout) -> np.ndarray:
    """Motion features (F, D) with the arms slerped by REST_SHARE x ``weight`` (F,) towards REST_POSE."""
    joints = rest_joints(skeleton)
    if not joints or not np.any(weight):
        return features
    out = np.array(features, copy=True)
    active = np.flatnonzero(weight)  # other frames stay bit for bit as they were
    for joint, rest in zip(joints, REST_POSE.values()):
        columns = layout.joint_slice(joint)
        sampled = matrix_to_quat(sixd_to_matrix(features[active, columns]))
        blended = slerp(sampled, np.asarray(rest, np.float64), REST_SHARE * np.asarray(weight)[active])
        out[active, columns] = matrix_to_6d(quat_to_matrix(blended))
    return out


def hold_root(features: np.ndarray, weight: np.ndarray, skeleton: Skeleton, layout: FeatureLayout) -> np.ndarray:
    """Motion features (F, D) whose root travels horizontally by 1 - ``weight`` (F,) of its sampled
    velocity and whose legs (LEGS) slerp by ``weight`` towards their mean pose over each pause, so
    the feet stay where they stand (on a skeleton with the REST_POSE joints; called after the root
    is anchored over planted feet, which would otherwise carry the legs' drift back into the hips)."""
    weight = np.asarray(weight, np.float64)
    if not rest_joints(skeleton) or not weight.any():
        return features
    out = np.array(features, copy=True)
    out[:, layout.slices["root_velocity"]] *= (1.0 - weight)[:, None]
    runs, count = label(weight > 0)
    for joint in [skeleton.index(name) for name in LEGS if name in skeleton.joint_names]:
        columns = layout.joint_slice(joint)
        for run in range(1, count + 1):
            frames = np.flatnonzero(runs == run)
            sampled = matrix_to_quat(sixd_to_matrix(features[frames, columns]))
            aligned = sampled * np.where(sampled @ sampled[0] < 0, -1.0, 1.0)[:, None]
            held = slerp(sampled, aligned.mean(axis=0), weight[frames])
            out[frames, columns] = matrix_to_6d(quat_to_matrix(held))
    return out


def take_pauses(loudness: np.ndarray, frames: int, fps: float) -> np.ndarray:
    """(frames,) rest weight of a take's loudness (pause_weight; frames past the loudness: none)."""
    weight = pause_weight(np.asarray(loudness)[:frames], fps)
    return np.pad(weight, (0, frames - len(weight)))
