"""Frame-rate conversion: slerp for rotations, linear for translations."""

from __future__ import annotations

import numpy as np

from .rotations import quat_normalize, slerp
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


def frames_within(num_frames: int, source_fps: float, target_fps: float,
                  max_frames: int | None = None) -> np.ndarray:
    """Source-frame positions (fractional) of target frames 0, 1, ... that fall inside
    the motion's duration, ``num_frames / source_fps`` (target frame k sits at time
    k / target_fps), or ``max_frames`` of them: the scene frames the add-on keys.

    Source frame i stands for the interval [i, i + 1) / source_fps, so at a target rate above
    the source's the last target frames lie up to one source frame past the last source
    frame; they hold it (``resample_motion_arrays``). Counting only the target frames up to
    the last source frame's time left the last frame of a 60 fps strip unkeyed.

    With ``max_frames`` (a sound strip's frames) there are exactly that many: a strip
    longer than the motion holds its last frame to the strip's end. An mp3 is one: Blender
    counts the encoder's padding in the strip, the generator decodes it without (gapless),
    so the motion of a 48 kHz mp3 is 1-2 scene frames shorter than its strip."""
    if num_frames < 1:
        raise ValueError("The motion has no frames.")
    if max_frames is not None:
        count = max(1, int(max_frames))
    else:
        count = max(1, int(np.ceil(num_frames * target_fps / source_fps - 1e-9)))
    return np.arange(count) * (source_fps / target_fps)


def resample_motion_arrays(rotations: np.ndarray, translations: np.ndarray, frame_positions: np.ndarray, *,
                           extrapolate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (F, J, 4) by slerp and translations (F, ..., 3) linearly, sampled at
    fractional source-frame positions. Positions past the last frame hold it, or with
    ``extrapolate`` continue the last interval. float32 rotations stay float32."""
    num_frames = rotations.shape[0]
    top = max(num_frames - 2, 0) if extrapolate else num_frames - 1
    i0 = np.clip(np.floor(frame_positions + 1e-9).astype(np.int64), 0, top)
    i1 = np.minimum(i0 + 1, num_frames - 1)
    w = frame_positions - i0
    if not extrapolate:
        w = np.clip(w, 0.0, 1.0)
    w = np.where(np.abs(w) < 1e-9, 0.0, w)
    translations = np.asarray(translations, dtype=np.float64)
    if not np.any(w):  # same frame rate (or an integer ratio): every target frame is a source frame
        return quat_normalize(rotations[i0]), translations[i0]
    rots = slerp(rotations[i0], rotations[i1], w[:, None])
    w = w.reshape((-1,) + (1,) * (translations.ndim - 1))
    return rots, translations[i0] * (1 - w) + translations[i1] * w


def resample_motion(motion: Motion, fps: float) -> Motion:
    """``motion`` at ``fps`` frames per second (round(duration * fps) frames)."""
    if not (np.isfinite(fps) and fps > 0):
        raise ResampleError(f"target fps must be a positive number, got {fps!r}.")
    if motion.num_frames == 0:
        raise ResampleError("cannot resample a motion with no frames.")
    times = resample_times(motion.num_frames, motion.fps, fps)
    if times.size == 0:
        raise ResampleError(f"{motion.duration:.4g} s at {fps:g} fps gives no frames.")
    rotations, translations = resample_motion_arrays(
        np.asarray(motion.rotations, dtype=np.float64), motion.local_translations, times, extrapolate=True)
    return Motion(skeleton=motion.skeleton, rotations=rotations, local_translations=translations, fps=float(fps))
