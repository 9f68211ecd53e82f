"""Poses to pass through (``--constraints``, the add-on's Keep My Keys): local joint rotations
turned into known features for the sampler's inpainting, and the finished motion bent into
them without a pop."""

from __future__ import annotations

import numpy as np

from ..motion.features import FeatureLayout
from ..motion.rotations import matrix_to_6d, quat_to_matrix, sixd_to_matrix
from .model_loading import GenerationError, LoadedModel
from .sampling import generate_features

CONSTRAINT_EASE = 10  # frames either side of a constrained pose over which the motion bends into it
EASE_STEP = np.radians(4.0)  # ... widened so the bend averages at most this much rotation per frame


class ConstraintError(GenerationError):
    pass


def constraints_to_known(
    lm: LoadedModel, frames: np.ndarray, joints: np.ndarray, rotations: np.ndarray, n_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Known features (F, D) and mask (F, D) for local joint rotations (K, 4) wxyz that
    joints (K,) must have at frames (K,). The root-motion joint's features hold its
    rotation without heading, so only its tilt is constrained (its heading stays free)."""
    from ..motion.features import heading_angle
    from ..motion.rotations import yaw_matrix

    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    joints = np.asarray(joints, dtype=np.int64).reshape(-1)
    rotations = np.asarray(rotations, dtype=np.float64).reshape(-1, 4)
    if not len(frames) == len(joints) == len(rotations):
        raise ConstraintError("the constraints need as many frames, joints and rotations.")
    if len(frames) and frames.min() < 0:
        raise ConstraintError("a constraint lies before the clip's first frame.")
    inside = frames < n_frames  # keys after the end of the audio have nothing to constrain
    frames, joints, rotations = frames[inside], joints[inside], rotations[inside]
    if len(joints) and (joints.min() < 0 or joints.max() >= lm.layout.num_joints):
        raise ConstraintError(f"a constraint names a joint the model's {lm.layout.num_joints} joints lack.")
    norms = np.linalg.norm(rotations, axis=-1, keepdims=True)
    if not np.all(np.isfinite(rotations)) or np.any(norms < 1e-6):
        raise ConstraintError("the constraint rotations must be finite, non-zero quaternions.")
    root = lm.layout.root_joint
    if np.any(joints == root) and lm.skeleton.parents[root] >= 0:
        keep = joints != root  # the root's feature depends on its ancestors' rotations too: not constrained
        frames, joints, rotations, norms = frames[keep], joints[keep], rotations[keep], norms[keep]
    matrices = quat_to_matrix(rotations / norms)
    at_root = joints == root
    if at_root.any():
        matrices[at_root] = yaw_matrix(-heading_angle(matrices[at_root])) @ matrices[at_root]
    known = np.zeros((n_frames, lm.layout.D), dtype=np.float32)
    mask = np.zeros((n_frames, lm.layout.D), dtype=bool)
    sixd = matrix_to_6d(matrices)
    for f, j, value in zip(frames, joints, sixd):
        columns = lm.layout.joint_slice(int(j))
        known[f, columns] = value
        mask[f, columns] = True
    return known, mask


def _ease_weights(frames: np.ndarray, n_frames: int, radius, anchored: bool = False) -> np.ndarray:
    """(K, F) raised-cosine weights: 1 at each constrained frame, 0 from the neighbouring
    constrained frame on (so they sum to 1 between two of them and poses are met exactly).
    ``anchored``: the frames just outside the clip count as neighbours (nothing moves there)."""
    weights = np.zeros((len(frames), n_frames))
    t = np.arange(n_frames)
    radii = np.broadcast_to(np.asarray(radius, dtype=np.int64), (len(frames),))
    for i, f in enumerate(frames):
        radius = int(radii[i])
        left = min(radius, f - (frames[i - 1] if i > 0 else -1) - 1) if i > 0 or anchored else radius
        right = min(radius, (frames[i + 1] if i + 1 < len(frames) else n_frames) - f - 1) \
            if i + 1 < len(frames) or anchored else radius
        d = t - f
        side = np.where(d < 0, left, right) + 1
        weights[i] = np.where(np.abs(d) < side, 0.5 * (1 + np.cos(np.pi * np.abs(d) / side)), 0.0)
    return weights


def ease_to_constraints(
    features: np.ndarray, known: np.ndarray, mask: np.ndarray, layout: FeatureLayout, radius: int = CONSTRAINT_EASE,
    anchored: bool = False,
) -> np.ndarray:
    """Bend the motion into the constrained joint rotations without a pop.

    Per joint, the constrained frames first get the rotation interpolated from the nearest
    unconstrained frames around them (what the motion would do there), then every frame is
    turned by a blend of the offsets from that motion to the constraints, fading with a
    raised cosine over ``radius`` frames either side (more for a far pose, see ``EASE_STEP``):
    each constraint is met exactly and the joint's velocity changes smoothly around it."""
    from scipy.spatial.transform import Rotation, Slerp

    out = np.array(features, dtype=np.float32, copy=True)
    n_frames = len(out)
    mask = np.asarray(mask, dtype=bool)
    for j in range(layout.num_joints):
        columns = layout.joint_slice(j)
        constrained = mask[:, columns].all(axis=1)
        frames = np.flatnonzero(constrained)
        if not len(frames):
            continue
        free = np.flatnonzero(~constrained)
        current = Rotation.from_matrix(sixd_to_matrix(out[:, columns].astype(np.float64)))
        base = current
        if len(free) >= 2:
            times = np.clip(frames, free[0], free[-1])
            interpolated = Slerp(free, current[free])(times)
            base_matrices = current.as_matrix()
            base_matrices[frames] = interpolated.as_matrix()
            base = Rotation.from_matrix(base_matrices)
        target = Rotation.from_matrix(sixd_to_matrix(np.asarray(known, np.float64)[frames][:, columns]))
        offsets = (target * base[frames].inv()).as_rotvec()  # (K, 3), left-multiplied (parent frame)
        radii = np.maximum(radius, np.ceil(np.linalg.norm(offsets, axis=1) / EASE_STEP)).astype(np.int64)
        rotvec = _ease_weights(frames, n_frames, radii, anchored).T @ offsets  # (F, 3)
        eased = Rotation.from_rotvec(rotvec) * base
        eased_matrices = eased.as_matrix()
        eased_matrices[frames] = target.as_matrix()  # exactly the constraint, not a float round trip off it
        out[:, columns] = matrix_to_6d(eased_matrices).reshape(n_frames, 6)
    return out


def generate_with_constraints(lm: LoadedModel, audio_features: np.ndarray, emotions, weights,
                              constraints: tuple[np.ndarray, np.ndarray] | None = None, **sampling) -> np.ndarray:
    """A new take's motion features (``generate_features``) that pass through ``constraints``
    (known (F, D), mask (F, D) from ``constraints_to_known``): inpainted while sampling, then
    eased onto exactly. A regenerated range meets them in ``regeneration.regenerate_range``."""
    if constraints is None:
        return generate_features(lm, audio_features, emotions, weights, **sampling)
    known, mask = constraints
    motion = generate_features(lm, audio_features, emotions, weights, known=known, known_mask=mask, **sampling)
    return ease_to_constraints(motion, known, mask, lm.layout)
