"""Left-right mirroring of motion features (training augmentation).

The mirror image of a motion reflects every world position through the character's
sagittal plane, M = diag(-1, 1, 1) (X is lateral, Y up, Z forward in the heading
frame), and swaps the left and right joints (sigma). Its world rotations are
G'_j = M G_sigma(j) M K_j, where K_j is a constant rotation that takes joint j's own
frame to the mirrored frame of its counterpart: it must carry each child's offset
onto the mirrored offset of the counterpart child, K_j o_c = M o_sigma(c). Then every
bone lands where the mirrored bone is, and the local rotations follow from the
parents' without forward kinematics:

    L'_j = K_parent(j)^T  M  L_sigma(j)  M  K_j

For a skeleton whose joint frames are axis-aligned (Bandai Namco's are), K_j is the
identity or a half turn about one axis; the one that fits the children's offsets is
chosen. Where several fit (a joint with one child along an axis, or a leaf), the data's
typical pose decides when given, else the parent's K. A skeleton that no such K fits
cannot be mirrored this way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..motion.features import ROOT_CHANNELS, FeatureLayout
from ..motion.rotations import matrix_to_6d, sixd_to_matrix
from ..motion.skeleton import Skeleton

REFLECT = np.diag([-1.0, 1.0, 1.0])
CANDIDATES = (np.eye(3), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0]))
SIDE_MARKERS = (("_L", "_R"), ("_l", "_r"), (".L", ".R"), ("Left", "Right"), ("left", "right"), ("L_", "R_"))


class MirrorError(ValueError):
    """A skeleton that cannot be mirrored."""


@dataclass(frozen=True)
class MirrorMap:
    counterpart: np.ndarray  # (J,) sigma: the joint on the other side (itself on the centre line)
    left_of: np.ndarray  # (J, 3, 3) K_parent(j)^T M (K_parent = I for the root-motion joint), left of L_sigma(j)
    right_of: np.ndarray  # (J, 3, 3) M K_j, applied on the right


def counterparts(names: list[str]) -> np.ndarray:
    """(J,) index of each joint's left/right counterpart by name (itself when it has none)."""
    index = {n: i for i, n in enumerate(names)}
    out = np.arange(len(names))
    for i, name in enumerate(names):
        for a, b in SIDE_MARKERS:
            for this, other in ((a, b), (b, a)):
                if this in name and name.replace(this, other) in index:
                    out[i] = index[name.replace(this, other)]
                    break
            if out[i] != i:
                break
    if not np.array_equal(out[out], np.arange(len(names))):
        raise MirrorError("the joint names do not pair up left and right one to one.")
    return out


def mirror_map(skeleton: Skeleton, root_joint: int, typical: np.ndarray | None = None,
               tolerance: float = 0.05) -> MirrorMap:
    """The constants of ``mirror_features`` for ``skeleton`` (its offsets as the features
    are decoded with them). ``tolerance``: largest offset mismatch, relative to the bone.
    The root-motion joint's offset is not a bone (its place comes from the root features).

    ``typical`` (J, 3, 3), local rotations of a typical pose (e.g. of the mean features):
    where several K fit the bones (a bone along an axis allows a half turn about it), the
    one that carries the counterpart's typical rotation closest to the joint's own is
    taken; the bones fix where a joint points, only the data says how it is twisted
    (Bandai's shoulders and hips hold a fixed twist that the wrong choice turns over)."""
    sigma = counterparts(list(skeleton.joint_names))
    parents = np.asarray(skeleton.parents)
    if not all(parents[sigma[j]] == (sigma[parents[j]] if parents[j] >= 0 else -1) for j in range(len(sigma))):
        raise MirrorError("the left and right sides of the skeleton are not built alike.")
    offsets = np.asarray(skeleton.offsets, dtype=np.float64)
    children = [np.flatnonzero((parents == j) & (np.arange(len(parents)) != root_joint)) for j in range(len(parents))]
    ends = {int(j): np.asarray(v, dtype=np.float64) for j, v in skeleton.end_sites.items()}
    k = np.zeros((len(parents), 3, 3))
    above = np.zeros_like(k)  # K of the frame each joint's feature rotation is relative to
    for j in range(len(parents)):  # parents come first
        inherited = k[parents[j]] if parents[j] >= 0 else np.eye(3)
        # the root-motion joint's features hold its rotation relative to the world (heading removed)
        above[j] = np.eye(3) if j == root_joint or parents[j] < 0 else k[parents[j]]
        bones, mirrored = list(offsets[children[j]]), list(offsets[sigma[children[j]]])
        if j in ends and sigma[j] in ends and np.linalg.norm(ends[j]) > 1e-6:  # fixes a hand's or head's turn
            bones.append(ends[j])
            mirrored.append(ends[sigma[j]])
        if not bones:  # a leaf: any K fits
            bones, mirrored = [np.zeros(3)], [np.zeros(3)]
        bones, target = np.array(bones), np.array(mirrored) @ REFLECT.T
        length = np.maximum(np.linalg.norm(bones, axis=1), 1e-6)
        errors = [float((np.linalg.norm(bones @ c.T - target, axis=1) / length).max()) for c in CANDIDATES]
        best = min(errors)
        if best > tolerance:
            raise MirrorError(f"joint {skeleton.joint_names[j]} has no axis-aligned mirror frame "
                              f"(its bones miss by {best:.0%}).")
        fitting = [c for c, e in zip(CANDIDATES, errors) if e <= best + 1e-3]
        if typical is not None and len(fitting) > 1:
            twisted = [above[j].T @ REFLECT @ typical[sigma[j]] @ REFLECT @ c for c in fitting]
            k[j] = fitting[int(np.argmin([_angle(m, typical[j]) for m in twisted]))]
        else:
            k[j] = next((c for c in fitting if np.allclose(c, inherited)), fitting[0])
    return MirrorMap(sigma, np.swapaxes(above, 1, 2) @ REFLECT, REFLECT @ k)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1.0, 1.0)))


def typical_rotations(mean_features: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """(J, 3, 3) local rotations of the pose the mean features describe."""
    return sixd_to_matrix(np.asarray(mean_features, np.float64)[ROOT_CHANNELS:].reshape(layout.num_joints, 6))


def mirror_features(features: np.ndarray, layout: FeatureLayout, mirror: MirrorMap) -> np.ndarray:
    """Motion features (..., D) of the mirror image (``mirror`` made by ``mirror_map`` with
    the layout's root joint); the lateral root velocity and the turning change sign."""
    features = np.asarray(features)
    out = np.array(features, dtype=np.float64, copy=True)
    joints = layout.num_joints
    rotations = sixd_to_matrix(out[..., ROOT_CHANNELS:].reshape(*out.shape[:-1], joints, 6))
    mirrored = mirror.left_of @ rotations[..., mirror.counterpart, :, :] @ mirror.right_of
    out[..., ROOT_CHANNELS:] = matrix_to_6d(mirrored).reshape(*out.shape[:-1], joints * 6)
    out[..., 0] *= -1.0  # lateral root velocity in the heading frame
    out[..., 3] *= -1.0  # heading velocity
    return out.astype(features.dtype, copy=False)
