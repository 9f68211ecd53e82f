"""Keeping the body facing where the animator placed it: the heading's slow drift taken out.

Why: on voices unlike its training speakers the model turns the whole body at a slow, steady
rate (54-178 degrees over 15-23 s of eSpeak speech), so a talking character ended with its back
to the camera; real speakers turn to and fro (the ZEGGS take within -26..+31 degrees).

What: the heading h(t) (radians, integrated from the features' heading velocity, 0 at the first
frame) has its slow trend, a Gaussian low-pass over TREND_SECONDS, taken out beyond
TOLERANCE_DEGREES either way: slow turns within the tolerance and every faster turn stay as
sampled. What remains is kept within LIMIT_DEGREES by a soft limit that leaves angles up to
KNEE_DEGREES as they are. Only the heading velocity channel changes; the root's planar velocity
is stored in the heading frame, so the path turns with the body. How the settings were chosen
on selection speech: docs/experiments/heading.md.
"""

from __future__ import annotations

import numpy as np

from ..motion.features import FeatureLayout

TREND_SECONDS = 3.0
TOLERANCE_DEGREES = 10.0
KNEE_DEGREES = 30.0
LIMIT_DEGREES = 40.0


def heading_path(features: np.ndarray, fps: float, layout: FeatureLayout) -> np.ndarray:
    """(F,) heading in radians relative to the first frame, from motion features (F, D)."""
    velocity = np.asarray(features, np.float64)[:, layout.slices["heading_velocity"]][:, 0]
    return np.concatenate([[0.0], np.cumsum(velocity[1:] / fps)]) if len(velocity) else velocity


def soft_limit(angles: np.ndarray, knee: float, limit: float) -> np.ndarray:
    """Angles (any unit) kept as they are up to ``knee`` in size, then bent smoothly towards ``limit``."""
    size = np.abs(angles)
    bent = knee + (limit - knee) * np.tanh((size - knee) / (limit - knee))
    return np.sign(angles) * np.where(size <= knee, size, bent)


def held_heading(heading: np.ndarray, fps: float, trend_seconds: float = TREND_SECONDS,
                 tolerance: float = np.radians(TOLERANCE_DEGREES), knee: float = np.radians(KNEE_DEGREES),
                 limit: float = np.radians(LIMIT_DEGREES)) -> np.ndarray:
    """The heading (F,) (radians, 0 at the first frame) without its slow drift (module doc)."""
    from scipy.ndimage import gaussian_filter1d

    if len(heading) < 2:
        return np.array(heading, dtype=np.float64)
    sigma = trend_seconds * fps
    pad = min(int(4 * sigma), len(heading) - 1)  # an odd extension keeps a steady turn's trend on it up to the ends
    extended = np.pad(np.asarray(heading, np.float64), pad, mode="reflect", reflect_type="odd")
    trend = gaussian_filter1d(extended, sigma, mode="nearest")[pad:pad + len(heading)]
    kept = heading - np.sign(trend) * np.maximum(np.abs(trend) - tolerance, 0.0)
    return soft_limit(kept - kept[0], knee, limit)


def hold_heading(features: np.ndarray, fps: float, layout: FeatureLayout) -> np.ndarray:
    """Motion features (F, D) whose body keeps facing where it faced at the first frame (module doc)."""
    if len(features) < 2:
        return features
    heading = held_heading(heading_path(features, fps, layout), fps)
    velocity = np.diff(heading) * fps
    out = np.array(features, copy=True)
    column = layout.slices["heading_velocity"].start
    out[1:, column] = velocity
    out[0, column] = velocity[0]  # frame 0 repeats frame 1 (core.motion.features)
    return out
