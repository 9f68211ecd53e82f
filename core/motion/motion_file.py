"""The two .npz files OHGesture exchanges: a motion take and a set of pose constraints.

One module writes, reads and validates both, so the command line, the add-on and the
tests agree on what they hold. numpy only (usable inside Blender). Writes are atomic.

Motion (``ohgesture generate --out TAKE.npz``): ``rotations`` (F, J, 4) local quaternions
(w, x, y, z), ``root_translation`` (F, 3) of joint ``root_joint``, ``joint_names`` (J,),
``parents`` (J,), ``offsets`` (J, 3) in the model's units, ``fps``, and ``meta`` (JSON text:
the generation settings).

Constraints (``ohgesture generate --constraints FILE.npz``): ``frames`` (N,) model frames,
``joints`` (N,) joint indices, ``rotations`` (N, 4) local quaternions the motion passes through.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .skeleton import Motion, Skeleton

MOTION_KEYS = ("rotations", "root_translation", "joint_names", "parents", "offsets", "root_joint", "fps")
CONSTRAINT_KEYS = ("frames", "joints", "rotations")


class MotionFileError(ValueError):
    """The file is missing, unreadable or does not hold what it should."""


def _write_npz(path: Path, arrays: dict) -> None:
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def _read_npz(path, what: str) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise MotionFileError(f"Cannot read {what} {path}: {exc}") from None


# --- motion ----------------------------------------------------------------------------------

def motion_arrays(motion: Motion, root_joint: int, meta: dict) -> dict:
    """The arrays of a motion file for ``motion`` (its root-motion joint ``root_joint``)."""
    sk = motion.skeleton
    return dict(
        rotations=motion.rotations.astype(np.float32),
        root_translation=motion.local_translations[:, root_joint].astype(np.float32),
        joint_names=np.array(sk.joint_names),
        parents=np.asarray(sk.parents, dtype=np.int32),
        offsets=np.asarray(sk.offsets, dtype=np.float32),
        root_joint=np.int32(root_joint),
        fps=np.float64(motion.fps),
        meta=np.array(json.dumps(meta)),
    )


def write_motion(path, motion: Motion, root_joint: int, meta: dict) -> None:
    _write_npz(path, motion_arrays(motion, root_joint, meta))


def validate_motion(motion: dict) -> dict:
    """``motion`` (the arrays of a motion file) if they are consistent, else MotionFileError."""
    missing = [key for key in MOTION_KEYS if key not in motion]
    if missing:
        raise MotionFileError(f"The motion lacks {', '.join(missing)}.")
    rotations = np.asarray(motion["rotations"])
    num_joints = len(motion["joint_names"])
    if rotations.ndim != 3 or rotations.shape[1:] != (num_joints, 4) or rotations.shape[0] < 1:
        raise MotionFileError(f"The motion's rotations have shape {rotations.shape}, expected (F, {num_joints}, 4).")
    if np.asarray(motion["root_translation"]).shape != (rotations.shape[0], 3):
        raise MotionFileError("The motion's root translation does not have one (x, y, z) per frame.")
    if np.asarray(motion["parents"]).shape != (num_joints,) or np.asarray(motion["offsets"]).shape != (num_joints, 3):
        raise MotionFileError("The motion's parents and offsets do not match its joints.")
    if not 0 <= int(motion["root_joint"]) < num_joints:
        raise MotionFileError("The motion's root joint is not one of its joints.")
    if not float(motion["fps"]) > 0:
        raise MotionFileError("The motion's frame rate must be positive.")
    return motion


def read_motion_arrays(path) -> dict:
    """The validated arrays of a motion file."""
    return validate_motion(_read_npz(path, "motion file"))


def read_motion(path, skeleton: Skeleton) -> Motion:
    """A motion file as a Motion on ``skeleton``, which must have the file's joints."""
    arrays = read_motion_arrays(path)
    if [str(n) for n in arrays["joint_names"].tolist()] != list(skeleton.joint_names):
        raise MotionFileError(f"{path} is not on the model's {skeleton.name} skeleton.")
    rotations = np.asarray(arrays["rotations"], dtype=np.float64)
    frames, joints = rotations.shape[:2]
    translations = np.broadcast_to(np.asarray(arrays["offsets"], np.float64), (frames, joints, 3)).copy()
    translations[:, int(arrays["root_joint"])] = arrays["root_translation"]
    return Motion(skeleton, rotations, translations, float(arrays["fps"]))


# --- constraints -----------------------------------------------------------------------------

def validate_constraints(constraints: dict) -> dict:
    missing = [key for key in CONSTRAINT_KEYS if key not in constraints]
    if missing:
        raise MotionFileError(f"The constraints lack {', '.join(missing)}.")
    frames, joints = np.asarray(constraints["frames"]), np.asarray(constraints["joints"])
    rotations = np.asarray(constraints["rotations"])
    n = len(frames)
    if frames.ndim != 1 or joints.shape != (n,) or rotations.shape != (n, 4):
        raise MotionFileError(f"The constraints need frames (N,), joints (N,) and rotations (N, 4); got "
                              f"{frames.shape}, {joints.shape} and {rotations.shape}.")
    return {"frames": frames.astype(np.int64), "joints": joints.astype(np.int64),
            "rotations": rotations.astype(np.float64)}


def write_constraints(path, constraints: dict) -> None:
    _write_npz(path, validate_constraints(constraints))


def read_constraints(path) -> dict:
    return validate_constraints(_read_npz(path, "constraints file"))
