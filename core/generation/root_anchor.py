"""Anchoring the body to its planted feet: no gliding while a foot stands on the floor.

Why: on a voice like the ZEGGS speaker's the shipped model sways and shifts the hips about as
much as she does (about 11 cm/s), but its legs do not take up the sway as hers do: the feet
are carried along and skate (foot sliding 7 cm/s in the pack evaluation against 1.4 in real
capture), more than leg IK (footlock.lock_feet) takes out, since it only bends the legs. Here the root's horizontal
path is rebuilt from the feet instead: while a foot is planted (near the floor and still
*relative to the hips*, so a gliding foot counts), the hips move by exactly what keeps that
foot where it stands, so weight shifts and sways are kept and the glide is not. With both feet
planted their moves are averaged; with neither (a step's swing of both, a jump) the
sampler's own root velocity is kept. Plants ease in and out over EASE_FRAMES, and the steps
are smoothed over STEP_SMOOTH_SECONDS, as the feet's small jitter would otherwise move the
whole body. Only the root's horizontal velocity channels change.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..motion.features import FeatureLayout, features_to_motion, smoothstep
from ..motion.rotations import yaw_matrix
from ..motion.skeleton import Skeleton
from ..motion.kinematics import chain_kinematics
from .footlock import CONTACT_HEIGHT, CONTACT_SPEED, EASE_FRAMES, MIN_PLANT_FRAMES, legs, planted_runs, standing_height

# Measured on the shipped model's neutral and happy takes of the ZEGGS training recording at energy
# 1.25 with 7 Hz smoothing (foot sliding cm/s / mean jerk cm/s^3; real capture 1.4-1.6 / 5600-6600):
# leg IK alone 3.62 / 6100 and 4.27 / 7573; anchored with unsmoothed steps 0.78 / 7581 and
# 1.29 / 9433; steps smoothed over 0.05 s 0.94 / 5948 and 1.72 / 7626; over 0.1 s 1.25 / 5747
# and 2.24 / 7375.
STEP_SMOOTH_SECONDS = 0.05


def run_weights(runs: list[tuple[int, int]], frames: int, ease: int = EASE_FRAMES) -> np.ndarray:
    """(F,) 1 inside each [start, end) run, easing to 0 over ``ease`` frames on both sides."""
    weight = np.zeros(frames)
    ramp = smoothstep(np.arange(1, ease + 1) / (ease + 1))
    for start, end in runs:
        weight[start:end] = 1.0
        before = np.arange(max(0, start - ease), start)
        weight[before] = np.maximum(weight[before], ramp[before - start + ease])
        after = np.arange(end, min(frames, end + ease))
        weight[after] = np.maximum(weight[after], ramp[::-1][after - end])
    return weight


def anchored_root_steps(root: np.ndarray, contacts: list[np.ndarray], weights: list[np.ndarray]) -> np.ndarray:
    """Per-frame horizontal root steps (F, 2) from root positions (F, 2) and contact points
    (each (F, 2), world) with their plant weights (each (F,)): a planted contact's offset from
    the root changes by what the root must move the other way to hold it still."""
    own = np.diff(root, axis=0, prepend=root[:1])
    if not contacts:
        return own
    w = np.stack(weights)  # (K, F)
    relative_steps = np.stack([np.diff(c - root, axis=0, prepend=c[:1] - root[:1]) for c in contacts])
    total = w.sum(axis=0)
    anchored = -(w[..., None] * relative_steps).sum(axis=0) / np.maximum(total, 1e-9)[:, None]
    share = w.max(axis=0)[:, None]
    return share * anchored + (1 - share) * own


def anchor_root(features: np.ndarray, skeleton: Skeleton, fps: float, layout: FeatureLayout,
                up_axis: int = 1) -> np.ndarray:
    """Motion features (F, D) whose root travels only as the planted feet allow (module doc)."""
    chains = legs(skeleton)
    if not chains or len(features) < MIN_PLANT_FRAMES or up_axis != 1:
        return features
    motion = features_to_motion(features, skeleton, fps, root_joint=layout.root_joint)
    positions, _, column = chain_kinematics(motion.rotations, motion.local_translations,
                                           np.asarray(skeleton.parents), [leg.contact for leg in chains])
    horizontal = [0, 2]
    root = positions[:, column[layout.root_joint]][:, horizontal]
    floor = standing_height(np.stack([positions[:, column[leg.contact], up_axis] for leg in chains], axis=1))
    contacts, weights = [], []
    for leg in chains:
        point = positions[:, column[leg.contact]]
        length = float(np.median(np.linalg.norm(positions[:, column[leg.knee]] - positions[:, column[leg.hip]], axis=-1)
                                 + np.linalg.norm(positions[:, column[leg.ankle]] - positions[:, column[leg.knee]], axis=-1)))
        relative = point[:, horizontal] - root
        speed = np.r_[0.0, np.linalg.norm(np.diff(relative, axis=0), axis=-1) * fps]
        runs = planted_runs(point[:, up_axis] - floor, speed, CONTACT_HEIGHT * length, CONTACT_SPEED * length)
        contacts.append(point[:, horizontal])
        weights.append(run_weights(runs, len(point)))
    steps = anchored_root_steps(root, contacts, weights)
    if STEP_SMOOTH_SECONDS > 0:
        steps = gaussian_filter1d(steps, STEP_SMOOTH_SECONDS * fps, axis=0, mode="nearest")
    heading = np.cumsum(np.r_[0.0, features[1:, layout.slices["heading_velocity"]][:, 0] / fps])
    world = np.zeros((len(steps), 3))
    world[:, horizontal] = steps * fps
    local = np.einsum("fji,fj->fi", yaw_matrix(heading), world)  # to the heading frame: R^T v
    out = np.array(features, copy=True)
    out[1:, layout.slices["root_velocity"]] = local[1:, horizontal].astype(out.dtype)
    return out
