"""Controls that move a rig's deforming bones through parents and copy constraints (a rig
Rigify generates): the bones' poses from the controls' pose, and the controls' pose that
gives chosen world rotations. Pure numpy over the rig read into a ``ControlGraph``
(ohgesture_addon/rigify.py); every matrix is armature space, (F, 4, 4) over frames.

Each bone is evaluated as Blender does: its parent's pose times the rest offset
(parent rest^-1 @ rest) times its basis, then each constraint blended in by its influence
(rotation by slerp, location by lerp, as Blender's ``interp_m4_m4m4``). Modelled
constraints: copy transforms and copy rotation between world spaces or between local spaces
(the target's pose relative to its rest). Constraints that only move or scale (copy
location or scale, limits) leave rotations alone and are not listed; a bone that depends on
no control keeps the pose Blender evaluated (``fixed``). Scale is taken as 1 throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rotations import matrix_to_quat, quat_to_matrix, slerp

COPY_WORLD = "world"  # copy transforms, world space to world space
COPY_WORLD_ROTATION = "world_rotation"
COPY_LOCAL = "local"  # copy transforms, local space to local space
COPY_LOCAL_ROTATION = "local_rotation"


@dataclass
class ControlGraph:
    """Bones with parent indices (-1: none), rest matrices (Bone.matrix_local), the basis of
    bones nothing here sets, per bone its modelled constraints [(kind, target, influence)],
    and the evaluated pose of bones no control moves ({bone: (4, 4)})."""

    names: list
    parents: list
    rest: np.ndarray  # (B, 4, 4)
    basis: np.ndarray  # (B, 4, 4)
    constraints: list
    fixed: dict

    def index(self, name: str) -> int:
        return self.names.index(name)


def rigid_inverse(m: np.ndarray) -> np.ndarray:
    """Inverse of rotation-plus-translation matrices (..., 4, 4)."""
    out = np.zeros(np.broadcast_shapes(m.shape), dtype=np.float64)
    rot_t = np.swapaxes(m[..., :3, :3], -1, -2)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", rot_t, m[..., :3, 3])
    out[..., 3, 3] = 1.0
    return out


def blend(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """Blender's constraint influence: from pose ``a`` towards ``b`` by ``w``."""
    if w >= 1.0 - 1e-9:
        return b
    if w <= 1e-9:
        return a
    out = np.broadcast_to(a, np.broadcast_shapes(a.shape, b.shape)).copy()
    q = slerp(matrix_to_quat(a[..., :3, :3]), matrix_to_quat(b[..., :3, :3]), w)
    out[..., :3, :3] = quat_to_matrix(q)
    out[..., :3, 3] = (1.0 - w) * a[..., :3, 3] + w * b[..., :3, 3]
    return out


def _with_rotation(m: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    out = np.broadcast_to(m, rotation.shape[:-2] + (4, 4)).copy()
    out[..., :3, :3] = rotation
    return out


class Evaluation:
    """The poses of a ``ControlGraph``'s bones over ``frames`` frames, evaluated on demand.
    ``basis``: {bone: (F, 4, 4)} basis of the controls; ``rotations``: {bone: (F, 3, 3)}
    world rotations the controls must get, whose basis is then solved (``solved``)."""

    def __init__(self, graph: ControlGraph, frames: int, basis=None, rotations=None):
        self.graph, self.frames = graph, frames
        self.basis = dict(basis or {})
        self.rotations = dict(rotations or {})
        self.poses: dict = {}
        self.solved: dict = {}

    def parent_frame(self, b: int) -> np.ndarray:
        """(F, 4, 4): pose = parent_frame @ basis."""
        graph = self.graph
        p = graph.parents[b]
        if p < 0:
            return np.broadcast_to(graph.rest[b], (self.frames, 4, 4))
        return self.pose(p) @ (rigid_inverse(graph.rest[p]) @ graph.rest[b])

    def pose(self, b: int) -> np.ndarray:
        if b not in self.poses:
            self.poses[b] = self._evaluate(b)
        return self.poses[b]

    def _evaluate(self, b: int) -> np.ndarray:
        graph = self.graph
        if b in graph.fixed:
            return np.broadcast_to(graph.fixed[b], (self.frames, 4, 4))
        frame = self.parent_frame(b)
        pose = frame @ self.basis.get(b, graph.basis[b])
        if b in self.rotations:
            pose = _with_rotation(pose, self.rotations[b])
            self.solved[b] = rigid_inverse(frame) @ pose
            return pose
        for kind, target, influence in graph.constraints[b]:
            pose = blend(pose, self._solution(b, pose, kind, target), influence)
        return pose

    def _solution(self, b: int, pose: np.ndarray, kind: str, target: int) -> np.ndarray:
        if kind == COPY_WORLD:
            return self.pose(target)
        if kind == COPY_WORLD_ROTATION:
            return _with_rotation(pose, self.pose(target)[..., :3, :3])
        target_local = rigid_inverse(self.parent_frame(target)) @ self.pose(target)
        frame = self.parent_frame(b)
        if kind == COPY_LOCAL:
            return frame @ target_local
        own_local = rigid_inverse(frame) @ pose
        return frame @ _with_rotation(own_local, target_local[..., :3, :3])


def solve_controls(graph: ControlGraph, rotations: dict, frames: int, anchor=None, basis=None) -> dict:
    """{control: basis (F, 4, 4)} giving each control of ``rotations`` ({bone: world
    rotations (F, 3, 3)}) its world rotation, controls solved parents first by
    dependency; other bones keep ``basis`` ({bone: (4, 4) or (F, 4, 4)}) or their own.
    ``anchor`` (control, bone, heads (F, 3)): the control's basis location then puts that
    bone's head on the given heads (everything below the control moves with it, so no bone
    may copy its local transform)."""
    evaluation = Evaluation(graph, frames, basis=basis, rotations=rotations)
    for b in rotations:
        evaluation.pose(b)
    solved = evaluation.solved
    if anchor is not None:
        control, bone, heads = anchor
        offset = np.asarray(heads, dtype=np.float64) - evaluation.pose(bone)[:, :3, 3]
        frame_rot = evaluation.parent_frame(control)[:, :3, :3]
        solved[control] = solved[control].copy()
        solved[control][:, :3, 3] += np.einsum("fji,fj->fi", frame_rot, offset)
    return solved


def control_poses(graph: ControlGraph, basis: dict, bones, frames: int) -> dict:
    """{bone: pose (F, 4, 4)} of ``bones`` when the controls have ``basis`` ({bone: (F, 4, 4)})."""
    evaluation = Evaluation(graph, frames, basis=basis)
    return {b: evaluation.pose(b) for b in bones}


def basis_matrices(quats: np.ndarray, locations: np.ndarray | None = None) -> np.ndarray:
    """(F, 4, 4) basis matrices from quaternions (F, 4) and locations (F, 3)."""
    out = np.zeros(quats.shape[:-1] + (4, 4))
    out[..., :3, :3] = quat_to_matrix(quats)
    if locations is not None:
        out[..., :3, 3] = locations
    out[..., 3, 3] = 1.0
    return out
