"""Frame-rate conversion: slerp for rotations, linear for translations."""

from __future__ import annotations

import numpy as np

from .rotations import quat_normalize
from .skeleton import Motion


class ResampleError(ValueError):
    """A frame rate or motion that cannot be resampled."""


def resample_times(num_frames: int, fps: float, new_fps: float) -> np.ndarray:
    """Source-frame positions (fractional indices) of the output frames.

    Output frame k sits at time k / new_fps; the count is round(duration * new_fps)
    with duration = num_frames / fps. The last output frames may lie up to one
    source frame past the last source frame: they are extrapolated from the
    last interval rather than clamped, because clamping would repeat a frame.
    """
    count = int(round(num_frames / fps * new_fps))
    return np.arange(count) * (fps / new_fps)


def _slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Vectorised shortest-path slerp between unit quaternions (w, x, y, z)."""
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(near, t, np.sin(t * theta) / safe)
    return quat_normalize(w0 * q0 + w1 * q1)


def resample_motion(motion: Motion, fps: float) -> Motion:
    """``motion`` at ``fps`` frames per second (round(duration * fps) frames)."""
    if not (np.isfinite(fps) and fps > 0):
        raise ResampleError(f"target fps must be a positive number, got {fps!r}.")
    if motion.num_frames == 0:
        raise ResampleError("cannot resample a motion with no frames.")
    times = resample_times(motion.num_frames, motion.fps, fps)
    if times.size == 0:
        raise ResampleError(f"{motion.duration:.4g} s at {fps:g} fps gives no frames.")
    last_interval_start = max(motion.num_frames - 2, 0)
    lower = np.minimum(np.floor(times).astype(np.int64), last_interval_start)
    upper = np.minimum(lower + 1, motion.num_frames - 1)
    weight = (times - lower)[:, None, None]  # > 1 only when extrapolating the end

    translations = (1.0 - weight) * motion.local_translations[lower] + weight * motion.local_translations[upper]
    rotations = _slerp(quat_normalize(motion.rotations[lower]), quat_normalize(motion.rotations[upper]), weight)
    return Motion(
        skeleton=motion.skeleton, rotations=rotations, local_translations=translations, fps=float(fps)
    )

