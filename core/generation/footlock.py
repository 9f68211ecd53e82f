"""Foot locking: planted feet are pinned to the floor by two-bone leg IK.

The sampler's planted feet wander a few centimetres around their spot, which reads as
skating (foot sliding about five times real capture's). Where a foot is planted (its toe
near the floor and slow), its toe is held where it rests, re-planting in a short eased
shuffle if it creeps too far, and the foot holds its heading on the floor (its mean over
the plant), so heel and ankle stay put too: a planted foot that kept the sampler's turning
swung the ankle about the pinned toe at 3-4 cm/s. Between plants a foot that skims the floor
is lifted into a step. The knee turns about its hinge and the leg swings about the hip to
bring the ankle there. Pins ease in and out so the leg does not jump. Thresholds scale with
the leg's length, so they hold for skeletons in any unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ..motion.features import FeatureLayout, features_to_motion, smoothstep
from ..motion.kinematics import chain_kinematics
from ..motion.rotations import matrix_to_6d
from ..motion.skeleton import Skeleton

CONTACT_HEIGHT = 0.06  # of the leg's length above the floor (5 cm on an 85 cm leg)
# of the leg's length per second (51 cm/s on an 85 cm leg). A stepping foot lifts above
# CONTACT_HEIGHT; one near the floor at up to this speed is a planted foot the sampler lets
# skate. Measured on the shipped model's neutral and happy takes of the ZEGGS training
# recording at energy 1.25, 7 Hz smoothing (foot sliding, cm/s; real capture 1.4-1.6): 6.25 and 7.18
# with 0.2 and PIN_TOLERANCE 0.03, 3.62 and 4.27 with 0.6 and 0.08, 0.94 and 1.72 with those
# after root_anchor (which reads this threshold too: with 0.2 there, 4.26 and 5.67). The real
# ZEGGS take's own 1.57 falls to 0.39 after both.
CONTACT_SPEED = 0.6
MIN_PLANT_FRAMES = 6  # shorter plants are left alone: pinning them would only add a jerk
EASE_FRAMES = 6  # frames over which a pin eases in before and out after a plant
PIN_TOLERANCE = 0.08  # of the leg's length: how far a planted foot may creep before it shuffles (7 cm)
# A foot moving between plants is lifted by this share of the way it travels within
# EASE_FRAMES either side (7.5 cm for a 15-cm step), at most STEP_LIFT_MAX of the leg's length:
# the sampler's steps skim the floor, which reads as a slide (of the foot sliding left after
# pinning, 60 % was such steps on an angry take of the ZEGGS recording).
STEP_LIFT_SHARE = 0.5
STEP_LIFT_MAX = 0.12


@dataclass(frozen=True)
class Leg:
    hip: int  # the thigh bone's joint (its rotation swings the knee)
    knee: int
    ankle: int
    contact: int  # the joint that touches the floor: the toe where there is one, else the ankle


def legs(skeleton: Skeleton) -> list[Leg]:
    """Each foot joint (name with "foot", not "toe" or "end") with its knee, hip and toe."""
    names = [n.lower() for n in skeleton.joint_names]
    parents = np.asarray(skeleton.parents)
    found = []
    for ankle, name in enumerate(names):
        if "foot" not in name or "toe" in name or "end" in name:
            continue
        knee = int(parents[ankle])
        hip = int(parents[knee]) if knee >= 0 else -1
        if hip < 0 or parents[hip] < 0:  # the thigh needs a parent: the pelvis it turns in
            continue
        toes = [j for j in np.flatnonzero(parents == ankle) if "toe" in names[j]]
        found.append(Leg(hip, knee, ankle, int(toes[0]) if toes else ankle))
    return found


def standing_height(heights: np.ndarray) -> float:
    """The height (F, K contact heights -> one number) a planted foot stands at: the median over
    frames of the lowest contact. A standing speaker has a foot down nearly all the time, so this
    is where the toe rests; the lowest heights (the 1st percentile) are where it dips as the foot
    pitches, several centimetres under its resting height on the shipped model's takes, which
    left most plants counted as lifted."""
    return float(np.median(np.min(np.asarray(heights), axis=1)))


def planted_runs(height: np.ndarray, speed: np.ndarray, max_height: float, max_speed: float,
                 min_frames: int = MIN_PLANT_FRAMES) -> list[tuple[int, int]]:
    """[start, end) runs of at least ``min_frames`` frames where height and speed are both low."""
    planted = (height < max_height) & (speed < max_speed)
    edges = np.flatnonzero(np.diff(np.r_[0, planted.astype(np.int8), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_frames]


def merge_runs(points: np.ndarray, runs: list[tuple[int, int]], max_gap: int, max_distance: float
               ) -> list[tuple[int, int]]:
    """Join plants split by a short lift or a jitter (gap <= ``max_gap`` frames) when they rest
    within ``max_distance`` of each other: one pin, not a hop between two nearby ones."""
    merged: list[tuple[int, int]] = []
    for start, end in runs:
        if merged:
            last_start, last_end = merged[-1]
            apart = np.linalg.norm(points[start:end].mean(axis=0) - points[last_start:last_end].mean(axis=0))
            if start - last_end <= max_gap and apart <= max_distance:
                merged[-1] = (last_start, end)
                continue
        merged.append((start, end))
    return merged


def pin_targets(points: np.ndarray, tolerance: float = np.inf, ease: int = EASE_FRAMES,
                values: np.ndarray | None = None) -> np.ndarray:
    """Where one plant's ``points`` (F, C) are held: the mean of each stretch that stays within
    ``2 * tolerance`` of the stretch's first point, moving from one stretch's spot to the next
    over ``2 * ease + 1`` frames. A foot that creeps far during a long plant so shuffles in
    short moves instead of dragging the leg ever further from where the body stands.
    ``values`` (F, V): held instead of the points, over the points' stretches (the foot's turn).
    """
    from scipy.ndimage import convolve1d

    values = points if values is None else values
    targets = np.empty_like(values, dtype=np.float64)
    first = 0
    for t in range(1, len(points) + 1):
        if t == len(points) or np.linalg.norm(points[t] - points[first]) > 2 * tolerance:
            targets[first:t] = values[first:t].mean(axis=0)
            first = t
    if not np.isfinite(tolerance):
        return targets
    window = np.hanning(2 * ease + 3)[1:-1]
    return convolve1d(targets, window / window.sum(), axis=0, mode="nearest")


def pin_offsets(points: np.ndarray, runs: list[tuple[int, int]], ease: int = EASE_FRAMES,
                tolerance: float = np.inf) -> np.ndarray:
    """Per-frame shift (F, C) that holds ``points`` at their pin targets inside each run
    (``pin_targets``; one spot per run by default) and eases to 0 outside runs.

    Between two runs closer than two eases the held point moves straight from one run's spot
    to the next, over at least ``2 * ease`` frames, so no frame is pulled back to the unpinned
    path and the move is a step, not a snap.
    """
    offsets = np.zeros_like(points, dtype=np.float64)
    for start, end in runs:
        offsets[start:end] = pin_targets(points[start:end], tolerance, ease) - points[start:end]
    return eased_offsets(offsets, runs, ease, points)


def eased_offsets(offsets: np.ndarray, runs: list[tuple[int, int]], ease: int = EASE_FRAMES,
                  values: np.ndarray | None = None) -> np.ndarray:
    """``offsets`` (F, C) of ``values`` (F, C; default 0), kept inside ``runs`` and eased to 0 over
    ``ease`` frames outside them. Across a gap of up to two eases between runs the held value
    (value + offset) moves from the one run's to the next's over at least ``2 * ease`` frames,
    taken from the runs' ends where the gap is shorter (pin_offsets)."""
    frames = len(offsets)
    offsets = np.array(offsets, dtype=np.float64, copy=True)
    values = np.zeros_like(offsets) if values is None else np.asarray(values, np.float64)
    inside = np.zeros(frames, bool)
    for start, end in runs:
        inside[start:end] = True
    offsets[~inside] = 0.0
    moved_to = 0  # where the last move between runs ended: a short run between two moves keeps its frames
    for k, (start, end) in enumerate(runs):
        before = runs[k - 1][1] if k > 0 else None
        if before is None or start - before > 2 * ease:  # ease in (a run bridged to the next one too)
            begin = max(0, start - ease)
            x = smoothstep((np.arange(begin, start) - start + ease + 1) / (ease + 1))
            offsets[begin:start] = x[:, None] * offsets[start]
        after = runs[k + 1][0] if k + 1 < len(runs) else None
        if after is not None and after - end <= 2 * ease:
            pad = max(0, (2 * ease - (after - end) + 1) // 2)
            first = max(start + 1, end - pad, moved_to + 1)  # the move spans [first, last), inside both runs
            last = max(after, min(runs[k + 1][1] - 1, after + pad))
            x = smoothstep((np.arange(first, last) - first + 1) / (last - first + 1))
            held_from, held_to = values[first - 1] + offsets[first - 1], values[last] + offsets[last]
            offsets[first:last] = (1 - x)[:, None] * held_from + x[:, None] * held_to - values[first:last]
            moved_to = last
            continue
        stop = min(frames, end + ease)
        x = smoothstep(1 - (np.arange(end, stop) - end + 1) / (ease + 1))
        offsets[end:stop] = x[:, None] * offsets[end - 1]
    return offsets


def step_lift(points: np.ndarray, height: np.ndarray, length: float, ease: int = EASE_FRAMES) -> np.ndarray:
    """How far (F,) to raise a foot whose ``points`` (F, C) move on the floor at ``height`` (F,)
    above where it stands, so it rises by STEP_LIFT_SHARE of the way it travels within ``ease``
    frames either side (at most STEP_LIFT_MAX of the leg's ``length``): a step, not a slide.
    Eased over about ``ease`` frames; 0 where the foot stands or is already that high."""
    from scipy.ndimage import convolve1d

    padded = np.pad(points, ((ease, ease), (0, 0)), mode="edge")
    travel = np.linalg.norm(padded[2 * ease:] - padded[:-2 * ease], axis=-1)
    wanted = np.minimum(STEP_LIFT_SHARE * travel, STEP_LIFT_MAX * length)
    window = np.hanning(ease + 2)[1:-1]
    return convolve1d(np.maximum(0.0, wanted - height), window / window.sum(), mode="nearest")


def held_turns(turns: np.ndarray, points: np.ndarray, forward: np.ndarray, runs: list[tuple[int, int]],
               tolerance: float, ease: int = EASE_FRAMES) -> np.ndarray:
    """World rotations (F, 3, 3) of a foot whose ``turns`` (F, 3, 3) keep their heading on the floor
    inside ``runs``: the heading of ``forward`` (F, 3; the ankle-to-toe direction, Y up) turned to
    its mean over each of pin_targets' stretches of ``points`` (F, C), easing from one to the next
    and, outside the runs, back to the foot's own. Only the turn about the vertical is held: the
    foot still rolls onto its toe as the weight shifts."""
    heading = np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))
    held = np.zeros((len(turns), 1))
    for start, end in runs:
        target = pin_targets(points[start:end], tolerance, ease, values=heading[start:end, None])
        held[start:end] = target - heading[start:end, None]
    angle = eased_offsets(held, runs, ease, heading[:, None])[:, 0]
    about_up = Rotation.from_rotvec(np.outer(angle, [0.0, 1.0, 0.0])).as_matrix()
    return about_up @ turns


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations (N, 3, 3) turning directions ``a`` (N, 3) onto ``b`` (N, 3)."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)  # a zero vector: no turn
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-12)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    angle = np.arctan2(sin, np.sum(a * b, axis=-1, keepdims=True))
    rotvec = np.where(sin > 1e-12, axis / np.maximum(sin, 1e-12) * angle, 0.0)
    return Rotation.from_rotvec(rotvec).as_matrix()


def knee_hinges(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, thigh_world: np.ndarray) -> np.ndarray | None:
    """One knee axis (F, 3) in world space per frame, fixed in the thigh's frame: a knee is a hinge,
    so the axis the leg bends about in its bent frames holds for the nearly straight ones too,
    where the bend alone would leave it undefined. None when the leg never bends."""
    axis = np.cross(knee - hip, ankle - knee)
    size = np.linalg.norm(axis, axis=-1)
    scale = np.linalg.norm(knee - hip, axis=-1) * np.linalg.norm(ankle - knee, axis=-1)
    bent = size > np.sin(np.radians(5.0)) * scale
    if not bent.any():
        return None
    local = np.einsum("fji,fj->fi", thigh_world[bent], axis[bent] / size[bent, None])  # W^T axis
    mean = local.mean(axis=0)
    if np.linalg.norm(mean) < 1e-6:
        return None
    return np.einsum("fij,j->fi", thigh_world, mean / np.linalg.norm(mean))


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray,
                hinge: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (F, 3, 3) for the thigh (about the hip) and then the shin (about the new
    knee) that bring the ankle to ``target`` with the least change.

    The knee turns about ``hinge`` (F, 3; default: the axis of each frame's own bend) by the
    smallest angle that makes the hip-ankle distance right, then the whole leg swings about the
    hip onto the target. A target out of reach leaves the ankle as near as the knee allows,
    on the hip-target line.
    """
    thigh_bone, shin_bone = knee - hip, ankle - knee
    if hinge is None:
        hinge = np.cross(thigh_bone, shin_bone)
    size = np.linalg.norm(hinge, axis=-1, keepdims=True)
    axis = np.where(size > 1e-12, hinge / np.maximum(size, 1e-12), 0.0)  # no axis: the knee stays
    # |thigh + R(a) shin| = |target - hip| with R(a) a turn about the axis:
    # thigh . R(a) shin = c0 + p cos a + q sin a
    along = np.sum(shin_bone * axis, axis=-1, keepdims=True) * axis
    across = shin_bone - along
    c0 = np.sum(thigh_bone * along, axis=-1)
    p = np.sum(thigh_bone * across, axis=-1)
    q = np.sum(thigh_bone * np.cross(axis, across), axis=-1)
    wanted = np.sum((target - hip) ** 2, axis=-1)
    c = (wanted - np.sum(thigh_bone ** 2, axis=-1) - np.sum(shin_bone ** 2, axis=-1)) / 2 - c0
    amplitude = np.hypot(p, q)
    phase = np.arctan2(q, p)
    spread = np.arccos(np.clip(c / np.maximum(amplitude, 1e-12), -1.0, 1.0))
    turns = np.stack([phase + spread, phase - spread])
    turns = (turns + np.pi) % (2 * np.pi) - np.pi
    angle = np.take_along_axis(turns, np.argmin(np.abs(turns), axis=0)[None], axis=0)[0]
    angle = np.where(amplitude > 1e-12, angle, 0.0)
    bend = Rotation.from_rotvec(axis * angle[:, None]).as_matrix()
    bent_ankle = knee + np.einsum("fij,fj->fi", bend, shin_bone)
    swing = rotation_between(bent_ankle - hip, target - hip)
    return swing, swing @ bend @ np.swapaxes(swing, 1, 2)


def lock_feet(features: np.ndarray, skeleton: Skeleton, fps: float, layout: FeatureLayout,
              up_axis: int = 1) -> np.ndarray:
    """Motion features (F, D) with planted feet pinned; only the leg joints' rotations change."""
    chains = legs(skeleton)
    if not chains or len(features) < MIN_PLANT_FRAMES:
        return features
    motion = features_to_motion(features, skeleton, fps, root_joint=layout.root_joint)
    parents = np.asarray(skeleton.parents)
    positions, world, column = chain_kinematics(motion.rotations, motion.local_translations, parents,
                                               [leg.contact for leg in chains])

    def at(joint):
        return positions[:, column[joint]]

    horizontal = [a for a in range(3) if a != up_axis]
    floor = standing_height(np.stack([at(leg.contact)[:, up_axis] for leg in chains], axis=1))
    out = np.array(features, copy=True)
    for leg in chains:
        hip, knee, ankle, point = at(leg.hip), at(leg.knee), at(leg.ankle), at(leg.contact)
        length = float(np.median(np.linalg.norm(knee - hip, axis=-1) + np.linalg.norm(ankle - knee, axis=-1)))
        speed = np.r_[0.0, np.linalg.norm(np.diff(point[:, horizontal], axis=0), axis=-1) * fps]
        runs = planted_runs(point[:, up_axis] - floor, speed, CONTACT_HEIGHT * length, CONTACT_SPEED * length)
        runs = merge_runs(point[:, horizontal], runs, 2 * EASE_FRAMES, CONTACT_HEIGHT * length)
        if not runs:
            continue
        shift = np.zeros((len(point), 3))
        shift[:, horizontal] = pin_offsets(point[:, horizontal], runs, tolerance=PIN_TOLERANCE * length)
        foot = held_turns(world[:, column[leg.ankle]], point[:, horizontal], point - ankle, runs,
                          PIN_TOLERANCE * length)
        toe = np.einsum("fij,fj->fi", foot @ np.swapaxes(world[:, column[leg.ankle]], 1, 2), point - ankle)
        hinge = knee_hinges(hip, knee, ankle, world[:, column[leg.hip]])
        path = point + shift
        path[:, up_axis] += step_lift(path[:, horizontal], path[:, up_axis] - floor, length)
        thigh, shin = two_bone_ik(hip, knee, ankle, path - toe, hinge)
        hip_world = thigh @ world[:, column[leg.hip]]
        knee_world = shin @ thigh @ world[:, column[leg.knee]]
        parent_world = world[:, column[int(parents[leg.hip])]]
        local = {
            leg.hip: np.swapaxes(parent_world, 1, 2) @ hip_world,
            leg.knee: np.swapaxes(hip_world, 1, 2) @ knee_world,
            leg.ankle: np.swapaxes(knee_world, 1, 2) @ foot,  # the foot's held world turn
        }
        for joint, matrix in local.items():
            out[:, layout.joint_slice(joint)] = matrix_to_6d(matrix).astype(out.dtype)
    return out
