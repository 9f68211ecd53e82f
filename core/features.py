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
the static ``joint_Root``), else the root. Its translation and heading are read
from its *local* transform; every joint above it is static identity in both
datasets, so that is also its world transform.

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


def heading_angle(root_rotation_matrices: np.ndarray) -> np.ndarray:
    forward = root_rotation_matrices[..., :, 2]
    return np.arctan2(forward[..., 0], forward[..., 2])


def initial_root_state(motion: Motion, root_joint: int | None = None) -> tuple[tuple[float, float], float]:
    """(start_position (x, z), start_heading) that makes decoding reproduce ``motion`` exactly."""
    root = root_motion_joint(motion.skeleton) if root_joint is None else root_joint
    start = motion.local_translations[0, root]
    heading = heading_angle(quat_to_matrix(motion.rotations[0, root]))
    return (float(start[0]), float(start[2])), float(heading)


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
    heading = heading_angle(matrices[:, root])
    unheading = yaw_matrix(-heading)  # (F, 3, 3)

    position = motion.local_translations[:, root].astype(np.float64)
    world_velocity = _backward_difference(position) * fps
    local_velocity = np.einsum("fij,fj->fi", unheading, world_velocity)
    heading_velocity = wrap_angle(_backward_difference(heading)) * fps

    matrices = matrices.copy()
    matrices[:, root] = unheading @ matrices[:, root]
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
    translations = np.broadcast_to(np.asarray(skeleton.offsets, np.float64), (frames, joints, 3)).copy()
    translations[:, root, 0] = start_position[0] + np.cumsum(step[:, 0])
    translations[:, root, 2] = start_position[1] + np.cumsum(step[:, 2])
    translations[:, root, 1] = features[:, 2]

    matrices = sixd_to_matrix(features[:, ROOT_CHANNELS:].reshape(frames, joints, 6))
    matrices[:, root] = to_world @ matrices[:, root]
    rotations = matrix_to_quat(matrices)
    return Motion(skeleton=skeleton, rotations=rotations, local_translations=translations, fps=float(fps))
