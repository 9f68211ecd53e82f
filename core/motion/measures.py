"""Measurements of motion used by generation, training and evaluation: the wrists and their speed,
the height the feet stand at and how the fingers bend."""

from __future__ import annotations

import numpy as np

from .kinematics import forward_kinematics
from .skeleton import Motion, Skeleton

WRIST_NAMES = (("Hand_L", "Hand_R"), ("LeftHand", "RightHand"), ("LeftWrist", "RightWrist"))
# Finger segments are named as the ZEGGS and BEAT takes name them: RightHandThumb1..3, ..., LeftHandPinky1..3.
FINGER_KINDS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
SIDES = ("Right", "Left")


class MotionMeasureError(ValueError):
    """The skeleton lacks what the measurement needs."""


def wrist_indices(skeleton: Skeleton) -> tuple[int, int]:
    for left, right in WRIST_NAMES:
        if left in skeleton.joint_names and right in skeleton.joint_names:
            return skeleton.index(left), skeleton.index(right)
    raise MotionMeasureError(f"no wrist joints found in skeleton {skeleton.name!r}")


def arm_joints(skeleton: Skeleton) -> list[int]:
    """Both arms' joints: everything below the chest (the wrists' nearest common ancestor) on the
    way to each wrist: the clavicle, the upper arm, the forearm, the hand, the fingers and any
    twist joints hanging from them."""
    parents = np.asarray(skeleton.parents)

    def chain(joint):
        out = []
        while joint >= 0:
            out.append(int(joint))
            joint = parents[joint]
        return out

    left, right = (chain(w) for w in wrist_indices(skeleton))
    chest = next(j for j in left if j in right)
    tops = {path[path.index(chest) - 1] for path in (left, right) if path.index(chest) > 0}
    arm = np.zeros(len(parents), bool)
    for joint in range(len(parents)):  # parents come before their children
        arm[joint] = joint in tops or (parents[joint] >= 0 and arm[parents[joint]])
    return np.flatnonzero(arm).tolist()


def point_speeds(positions: np.ndarray, fps: float, copy_first: bool = False) -> np.ndarray:
    """Per-frame speed (F, ...) of positions (F, ..., C) from backward differences (file units per
    second); the first frame's is 0, or the second frame's with ``copy_first``."""
    velocity = np.diff(positions, axis=0, prepend=positions[:1]) * fps
    speed = np.linalg.norm(velocity, axis=-1)
    if copy_first and len(speed) > 1:
        speed[0] = speed[1]
    return speed


def wrist_speeds(motion: Motion) -> np.ndarray:
    """(F, 2) per-frame speed (file units per second) of the left and the right wrist."""
    positions, _ = forward_kinematics(motion)
    left, right = wrist_indices(motion.skeleton)
    return point_speeds(positions[:, [left, right]], motion.fps)


def contact_joints(skeleton: Skeleton) -> list[int]:
    """The joints a standing body touches the floor with: the toes (names with "toe", not "end"),
    else the feet (names with "foot")."""
    names = [n.lower() for n in skeleton.joint_names]
    toes = [j for j, n in enumerate(names) if "toe" in n and "end" not in n]
    return toes or [j for j, n in enumerate(names) if "foot" in n and "end" not in n]


def floor_height(positions: np.ndarray, contacts: list[int], up_axis: int = 1) -> float:
    """The height (file units) the contact joints stand at: the 1st percentile of their heights
    over world positions (F, J, 3), robust to a single bad frame."""
    if not contacts:
        raise MotionMeasureError("no toe or foot joints to stand on.")
    return float(np.percentile(np.asarray(positions)[:, contacts, up_axis], 1))


def wrist_speed(motion: Motion) -> np.ndarray:
    """Per-frame speed (file units per second) of the faster wrist."""
    return wrist_speeds(motion).max(axis=-1)


def finger_chains(skeleton: Skeleton) -> list[list[int]]:
    """Every finger found by name: its three segments' joints (``LeftHandIndex1``..``3``) and,
    where there is one, the joint below the third (the take's end joint ``...4``)."""
    parents = np.asarray(skeleton.parents)
    chains = []
    for side in SIDES:
        for finger in FINGER_KINDS:
            names = [f"{side}Hand{finger}{k}" for k in (1, 2, 3)]
            if not all(n in skeleton.joint_names for n in names):
                continue
            chain = [skeleton.index(n) for n in names]
            chains.append(chain + [int(j) for j in np.flatnonzero(parents == chain[-1])[:1]])
    return chains


def finger_flexion(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(F, A) degrees between consecutive segments of every finger chain (``finger_chains``),
    from world positions (F, J, 3): two angles per finger with an end joint, one without;
    (F, 0) when the skeleton has no fingers. 0 is a straight finger."""
    return chain_flexion(positions, finger_chains(skeleton))


def chain_flexion(positions: np.ndarray, chains) -> np.ndarray:
    """(F, A) degrees between consecutive segments of each chain (joint indices, proximal first)
    in world positions (F, J, 3); (F, 0) without chains."""
    positions = np.asarray(positions, dtype=np.float64)
    angles = []
    for chain in chains:
        segments = np.diff(positions[:, chain], axis=1)
        segments /= np.maximum(np.linalg.norm(segments, axis=-1, keepdims=True), 1e-12)
        cosines = np.sum(segments[:, :-1] * segments[:, 1:], axis=-1)
        angles.append(np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0))))
    return np.concatenate(angles, axis=1) if angles else np.zeros((len(positions), 0))
