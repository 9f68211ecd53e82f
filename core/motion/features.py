"""The model's per-frame motion representation and its exact inverse.

Per frame (D = 4 + 6 * J):
  [0:2]  root planar velocity (x, z) in the heading frame, file units per second
  [2]    root height (y), file units
  [3]    heading angular velocity about +Y, radians per second
  [4:]   6D rotation (Zhou et al. 2019: first two matrix columns) of every joint's
         local rotation, joint-major; the root-motion joint's rotation has the
         heading removed, so the features do not depend on the facing direction.

The root-motion joint is the joint carrying the character's translation: the
joint named "Hips" (ZEGGS: index 0, the BVH root; Bandai Namco: index 1, below
``joint_Root``), else the root. Its translation and heading are taken from its
*world* transform. That matters for Bandai Namco: ``joint_Root`` is static zero in
most clips, but in a few short locomotion cycles (e.g. dataset-1_run_normal_001)
it carries the forward travel while Hips carries the rest. Decoding puts the
world transform back into the root-motion joint's local transform under its
ancestors as decoded (their rotations from the features, translations from the
skeleton offsets), so world positions are reproduced whatever the offsets are.

Heading is the yaw of the root-motion joint's local +Z axis (the forward axis of
both skeletons) projected on the ground plane: h = atan2(z_axis.x, z_axis.z).
Velocities are backward differences (frame t minus frame t-1); frame 0 repeats
frame 1's values and is ignored when decoding, which starts from
``start_position`` / ``start_heading`` (see ``initial_root_state``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .rotations import matrix_to_6d, matrix_to_quat, quat_to_matrix, sixd_to_matrix, wrap_angle, yaw_matrix
from .skeleton import Motion, Skeleton

ROOT_CHANNELS = 4


class FeatureError(ValueError):
    """Features that do not fit the skeleton or layout they are decoded with."""


@dataclass(frozen=True)
class FeatureLayout:
    num_joints: int
    root_joint: int

    @property
    def D(self) -> int:
        return ROOT_CHANNELS + 6 * self.num_joints

    @property
    def slices(self) -> dict[str, slice]:
        return {
            "root_velocity": slice(0, 2),
            "root_height": slice(2, 3),
            "heading_velocity": slice(3, 4),
            "rotations": slice(ROOT_CHANNELS, self.D),
        }

    def joint_slice(self, joint: int) -> slice:
        start = ROOT_CHANNELS + 6 * joint
        return slice(start, start + 6)

    @classmethod
    def for_skeleton(cls, skeleton: Skeleton, root_joint: int | None = None) -> "FeatureLayout":
        return feature_layout(skeleton, root_joint)

    def to_dict(self) -> dict:
        return {
            "num_joints": self.num_joints,
            "root_joint": self.root_joint,
            "D": self.D,
            "slices": {name: [s.start, s.stop] for name, s in self.slices.items()},
            "velocity_units": "per_second",
        }

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureLayout":
        layout = cls(num_joints=int(data["num_joints"]), root_joint=int(data["root_joint"]))
        if "D" in data and int(data["D"]) != layout.D:
            raise FeatureError(f"feature layout says D={data['D']} but {layout.num_joints} joints give {layout.D}.")
        return layout


def root_motion_joint(skeleton: Skeleton) -> int:
    """Index of the joint that carries the character's translation and heading."""
    lowered = [name.lower() for name in skeleton.joint_names]
    return lowered.index("hips") if "hips" in lowered else 0


def feature_layout(skeleton: Skeleton, root_joint: int | None = None) -> FeatureLayout:
    return FeatureLayout(
        num_joints=skeleton.num_joints, root_joint=root_motion_joint(skeleton) if root_joint is None else root_joint
    )


def model_skeleton(motion: Motion) -> Skeleton:
    """The skeleton features are decoded with: offsets are each joint's median
    local translation over the clip (Bandai OFFSET lines are not the translations
    the position channels use, e.g. Hips OFFSET z = -452)."""
    return replace(motion.skeleton, offsets=np.median(motion.local_translations, axis=0).astype(np.float64))


def _parent_world_transform(
    matrices: np.ndarray, translations: np.ndarray, parents: np.ndarray, joint: int
) -> tuple[np.ndarray, np.ndarray]:
    """World rotation (F, 3, 3) and position (F, 3) of ``joint``'s parent frame."""
    chain = []
    parent = int(parents[joint])
    while parent >= 0:
        chain.append(parent)
        parent = int(parents[parent])
    frames = matrices.shape[0]
    rotation = np.broadcast_to(np.eye(3), (frames, 3, 3)).copy()
    position = np.zeros((frames, 3))
    for ancestor in reversed(chain):
        position = position + np.einsum("fij,fj->fi", rotation, translations[:, ancestor])
        rotation = rotation @ matrices[:, ancestor]
    return rotation, position


def _root_world(motion: Motion, matrices: np.ndarray, root: int) -> tuple[np.ndarray, np.ndarray]:
    parent_rotation, parent_position = _parent_world_transform(
        matrices, motion.local_translations, motion.skeleton.parents, root
    )
    world_rotation = parent_rotation @ matrices[:, root]
    world_position = parent_position + np.einsum("fij,fj->fi", parent_rotation, motion.local_translations[:, root])
    return world_rotation, world_position


def heading_angle(root_rotation_matrices: np.ndarray) -> np.ndarray:
    forward = root_rotation_matrices[..., :, 2]
    return np.arctan2(forward[..., 0], forward[..., 2])


def initial_root_state(motion: Motion, root_joint: int | None = None) -> tuple[tuple[float, float], float]:
    """(start_position (x, z), start_heading) that makes decoding reproduce ``motion`` exactly."""
    root = root_motion_joint(motion.skeleton) if root_joint is None else root_joint
    first = Motion(motion.skeleton, motion.rotations[:1], motion.local_translations[:1], motion.fps)
    world_rotation, world_position = _root_world(first, quat_to_matrix(first.rotations), root)
    return (float(world_position[0, 0]), float(world_position[0, 2])), float(heading_angle(world_rotation[0]))


def _backward_difference(values: np.ndarray) -> np.ndarray:
    delta = np.zeros_like(values)
    if len(values) > 1:
        delta[1:] = values[1:] - values[:-1]
        delta[0] = delta[1]
    return delta


def motion_to_features(motion: Motion, *, root_joint: int | None = None, dtype=np.float32) -> np.ndarray:
    """Features (F, 4 + 6J), computed in float64 and returned as ``dtype``."""
    root = root_motion_joint(motion.skeleton) if root_joint is None else root_joint
    fps = float(motion.fps)
    matrices = quat_to_matrix(motion.rotations)  # (F, J, 3, 3)
    world_rotation, position = _root_world(motion, matrices, root)
    heading = heading_angle(world_rotation)
    unheading = yaw_matrix(-heading)  # (F, 3, 3)

    world_velocity = _backward_difference(position) * fps
    local_velocity = np.einsum("fij,fj->fi", unheading, world_velocity)
    heading_velocity = wrap_angle(_backward_difference(heading)) * fps

    matrices = matrices.copy()
    matrices[:, root] = unheading @ world_rotation
    frames = motion.num_frames
    features = np.concatenate(
        [
            local_velocity[:, [0, 2]],
            position[:, 1:2],
            heading_velocity[:, None],
            matrix_to_6d(matrices).reshape(frames, -1),
        ],
        axis=1,
    )
    return features.astype(dtype, copy=False)


def features_to_motion(
    features: np.ndarray,
    skeleton: Skeleton,
    fps: float,
    *,
    root_joint: int | None = None,
    start_position: tuple[float, float] = (0.0, 0.0),
    start_heading: float = 0.0,
) -> Motion:
    """Exact inverse of ``motion_to_features``; non-root translations come from ``skeleton.offsets``."""
    features = np.asarray(features, dtype=np.float64)
    layout = feature_layout(skeleton, root_joint)
    if features.ndim != 2 or features.shape[1] != layout.D:
        raise FeatureError(
            f"features have shape {features.shape}, expected (frames, {layout.D}) for {layout.num_joints} joints."
        )
    if not np.all(np.isfinite(features)):
        raise FeatureError("features contain NaN or infinite values.")
    if not (np.isfinite(fps) and fps > 0):
        raise FeatureError(f"fps must be a positive number, got {fps!r}.")
    root = layout.root_joint
    frames, joints = features.shape[0], layout.num_joints

    heading_step = features[:, 3] / fps
    heading_step[:1] = 0.0
    heading = start_heading + np.cumsum(heading_step)
    to_world = yaw_matrix(heading)

    local_step = np.zeros((frames, 3))
    local_step[:, [0, 2]] = features[:, 0:2] / fps
    step = np.einsum("fij,fj->fi", to_world, local_step)
    step[:1] = 0.0
    world_position = np.stack(
        [start_position[0] + np.cumsum(step[:, 0]), features[:, 2], start_position[1] + np.cumsum(step[:, 2])], axis=1
    )
    translations = np.broadcast_to(np.asarray(skeleton.offsets, np.float64), (frames, joints, 3)).copy()
    matrices = sixd_to_matrix(features[:, ROOT_CHANNELS:].reshape(frames, joints, 6))

    parent_rotation, parent_position = _parent_world_transform(matrices, translations, skeleton.parents, root)
    to_parent = np.swapaxes(parent_rotation, 1, 2)
    matrices[:, root] = to_parent @ to_world @ matrices[:, root]
    translations[:, root] = np.einsum("fij,fj->fi", to_parent, world_position - parent_position)
    rotations = matrix_to_quat(matrices)
    return Motion(skeleton=skeleton, rotations=rotations, local_translations=translations, fps=float(fps))


def smooth_features(features: np.ndarray, fps: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase low-pass of every channel of motion features (F, D).

    A second-order Butterworth filter run forwards and backwards (no lag, so strokes stay
    on the audio). Every channel is linear in time or a 6D rotation, which a linear filter
    keeps valid (features_to_motion re-orthonormalises). ``cutoff_hz`` <= 0, or one at or
    above the Nyquist frequency, leaves the features as they are.
    """
    from scipy.signal import butter, sosfiltfilt

    features = np.asarray(features)
    nyquist = fps / 2.0
    if cutoff_hz <= 0 or cutoff_hz >= nyquist or len(features) < 2:
        return features
    sos = butter(2, cutoff_hz / nyquist, output="sos")
    padlen = min(3 * (2 * len(sos) + 1), len(features) - 1)
    return sosfiltfilt(sos, features, axis=0, padlen=padlen).astype(features.dtype)


def crossfade_features(previous: np.ndarray, new: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """Blend two (n, D) feature runs from ``previous`` to ``new``; the smoothstep weight starts and
    ends with zero slope, so the join adds no kink in velocity."""
    return slerp_features(previous, new, smoothstep_ramp(len(previous))[:, None], layout)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """3x^2 - 2x^3 of ``x`` clipped to [0, 1]: a blend weight with zero slope at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def smoothstep_ramp(n: int) -> np.ndarray:
    """(n,) weights rising from near 0 to near 1 with zero slope at both ends."""
    return smoothstep((np.arange(n) + 1.0) / (n + 1))


def slerp_features(previous: np.ndarray, new: np.ndarray, alpha: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """(n, D) features blended per frame by ``alpha`` (n, 1): slerp on rotations, linear elsewhere."""
    n = len(previous)
    out = (1 - alpha) * previous + alpha * new
    rot = layout.slices["rotations"]
    joints = layout.num_joints
    q0 = matrix_to_quat(sixd_to_matrix(previous[:, rot].reshape(n, joints, 6).astype(np.float64)))
    q1 = matrix_to_quat(sixd_to_matrix(new[:, rot].reshape(n, joints, 6).astype(np.float64)))
    q1 = np.where((q0 * q1).sum(-1, keepdims=True) < 0, -q1, q1)
    dot = np.clip((q0 * q1).sum(-1, keepdims=True), -1.0, 1.0)
    theta = np.arccos(dot)
    a = alpha[:, None, :]
    sin = np.sin(theta)
    safe = sin > 1e-6
    w0 = np.where(safe, np.sin((1 - a) * theta) / np.where(safe, sin, 1), 1 - a)
    w1 = np.where(safe, np.sin(a * theta) / np.where(safe, sin, 1), a)
    q = w0 * q0 + w1 * q1
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    out[:, rot] = matrix_to_6d(quat_to_matrix(q)).reshape(n, -1)
    return out
