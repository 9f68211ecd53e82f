"""One hand layout for the real takes' fingers (issue 32), ready for a model with fingers.

The ZEGGS take's fingers hang directly under the hand: ``RightHandThumb1..3``,
``RightHandIndex1..3``, ``Middle``, ``Ring``, ``Pinky``, each with a ``4`` end joint. The
BEAT take has metacarpal joints between the hand and some first segments
(``RightHandIndex`` above ``Index1`` and ``Thumb1``, ``RightHandRing`` above ``Ring1`` and
``RightHandPinky``, which is above ``Pinky1``; no ``RightHandMiddle``). ``FINGERS`` is the
ZEGGS layout's 30 segments (both hands, no end joints).

``fold_metacarpals`` removes the joints between a hand and its fingers: each first
segment's local rotation becomes the product of the removed joints' and its own, so the
world rotation of every kept segment is unchanged (its rest offset is the removed chain's
summed offsets). ``hands_on_layout`` then copies the motion onto a skeleton of the ZEGGS
layout. The body's rests point the bones the same way in both takes; the fingers' do not
(measured by ``rest_misalignment``: BEAT's thumb segments point 23.9 degrees away from
ZEGGS's, the little finger's 12.6, index and ring 5.2, middle 0), so each finger segment gets a rest alignment G
(the smallest rotation taking the target's rest segment onto the source's) and its local
rotation becomes G_parent^-1 L G: every segment then points in the world where the BEAT
capture points it, and the flexion between segments is kept (docs/architecture.md,
"One hand layout", gives the figures and the command).
"""

from __future__ import annotations

import numpy as np

from ..motion.measures import FINGER_KINDS, SIDES
from ..motion.retarget import rotation_between
from ..motion.rotations import matrix_to_quat, quat_multiply, quat_normalize, quat_to_matrix
from ..motion.skeleton import Motion, Skeleton

FINGERS = tuple(f"{side}Hand{finger}{k}" for side in SIDES for finger in FINGER_KINDS for k in (1, 2, 3))
HANDS = tuple(f"{side}Hand" for side in SIDES)


class HandLayoutError(ValueError):
    """The motion lacks a joint the hand layout needs."""


def _metacarpals(skeleton: Skeleton) -> set[int]:
    """Joints below a hand that are not finger segments but lie above one."""
    parents = np.asarray(skeleton.parents)
    hands = {skeleton.index(n) for n in HANDS if n in skeleton.joint_names}
    found = set()
    for j, name in enumerate(skeleton.joint_names):
        if name not in FINGERS:
            continue
        p = int(parents[j])
        chain = []
        while p >= 0 and p not in hands and skeleton.joint_names[p] not in FINGERS:
            chain.append(p)
            p = int(parents[p])
        if p in hands:
            found.update(chain)
    return found


def fold_metacarpals(motion: Motion) -> Motion:
    """``motion`` without the joints between its hands and its fingers' first segments: each
    joint below a removed one takes the removed joints' local rotations into its own (world
    rotations unchanged) and their summed rest offsets into its offset."""
    skeleton = motion.skeleton
    removed = _metacarpals(skeleton)
    if not removed:
        return motion
    parents = np.asarray(skeleton.parents)
    kept = [j for j in range(skeleton.num_joints) if j not in removed]
    new_index = {j: k for k, j in enumerate(kept)}
    rotations = motion.rotations[:, kept].copy()
    translations = motion.local_translations[:, kept].copy()
    offsets = np.asarray(skeleton.offsets, dtype=np.float64)[kept].copy()
    new_parents = []
    for k, j in enumerate(kept):
        p = int(parents[j])
        while p in removed:
            rotations[:, k] = quat_multiply(motion.rotations[:, p], rotations[:, k])
            offsets[k] += skeleton.offsets[p]
            p = int(parents[p])
        translations[:, k] = offsets[k] if int(parents[j]) in removed else translations[:, k]
        new_parents.append(new_index[p] if p >= 0 else -1)
    folded = Skeleton(name=f"{skeleton.name}-folded", joint_names=[skeleton.joint_names[j] for j in kept],
                      parents=np.asarray(new_parents), offsets=offsets,
                      channels=[list(skeleton.channels[j]) for j in kept] if skeleton.channels else [],
                      end_sites={new_index[j]: v for j, v in skeleton.end_sites.items() if j in new_index})
    return Motion(folded, quat_normalize(rotations), translations, motion.fps)


def _segment_child(skeleton: Skeleton, j: int) -> int | None:
    below = np.flatnonzero(np.asarray(skeleton.parents) == j)
    return int(below[0]) if len(below) else None


def rest_alignments(source: Skeleton, target: Skeleton) -> dict:
    """{target finger joint: G (3, 3)}, the smallest rotation taking the target's rest
    segment (its offset to its child) onto the source's, for the finger joints both name;
    a last segment without its end joint in the target is aligned along its own offset
    (the direction a retargeted rig's last finger bone takes from it)."""
    alignments = {}
    for name in FINGERS:
        if name not in source.joint_names or name not in target.joint_names:
            continue
        t_child = _segment_child(target, target.index(name))
        if t_child is None:
            target_vec, source_vec = target.offsets[target.index(name)], source.offsets[source.index(name)]
        elif target.joint_names[t_child] in source.joint_names:
            target_vec, source_vec = target.offsets[t_child], source.offsets[source.index(target.joint_names[t_child])]
        else:
            continue
        alignments[name] = rotation_between(np.asarray(target_vec, dtype=np.float64),
                                            np.asarray(source_vec, dtype=np.float64))
    return alignments


def rest_misalignment(source: Skeleton, target: Skeleton) -> dict:
    """{finger joint: degrees between the two rests' segments} (``rest_alignments``)."""
    return {name: float(np.degrees(np.arccos(np.clip((np.trace(g) - 1.0) / 2.0, -1.0, 1.0))))
            for name, g in rest_alignments(source, target).items()}


def hands_on_layout(motion: Motion, skeleton: Skeleton) -> Motion:
    """``motion`` (e.g. the BEAT take, metacarpals and all) on ``skeleton`` (the ZEGGS
    layout): metacarpals folded, every joint's local rotation copied by name, the finger
    segments' rest-aligned so they point in the world as in ``motion``; end joints it lacks
    stay at rest; the root keeps its translation, every other joint stands at
    ``skeleton``'s offsets."""
    folded = fold_metacarpals(motion)
    source = folded.skeleton
    parents = np.asarray(skeleton.parents)
    missing = [j for j, n in enumerate(skeleton.joint_names) if n not in source.joint_names]
    inner = [j for j in missing if np.any(parents == j)]
    if inner:
        raise HandLayoutError(f"the {motion.skeleton.name} skeleton has no joint {skeleton.joint_names[inner[0]]!r}.")
    index = [source.index(n) if n in source.joint_names else 0 for n in skeleton.joint_names]
    rotations = folded.rotations[:, index].astype(np.float64)
    rotations[:, missing] = (1.0, 0.0, 0.0, 0.0)  # end joints the source lacks stay at rest
    align = rest_alignments(source, skeleton)
    local = quat_to_matrix(quat_normalize(rotations))
    for j, name in enumerate(skeleton.joint_names):
        p = int(parents[j])
        parent_align = align.get(skeleton.joint_names[p]) if p >= 0 else None
        if name not in align and parent_align is None:
            continue
        matrix = local[:, j]
        if parent_align is not None:
            matrix = parent_align.T @ matrix
        if name in align:
            matrix = matrix @ align[name]
        rotations[:, j] = matrix_to_quat(matrix)
    translations = np.broadcast_to(np.asarray(skeleton.offsets, dtype=np.float64),
                                   (folded.num_frames, skeleton.num_joints, 3)).copy()
    roots = np.flatnonzero(parents < 0)
    translations[:, roots] = folded.local_translations[:, [index[r] for r in roots]]
    return Motion(skeleton, quat_normalize(rotations).astype(motion.rotations.dtype), translations, motion.fps)
