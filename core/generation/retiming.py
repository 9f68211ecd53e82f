"""Re-timing generated motion so its hand speed follows an activity curve.

Why: a model with an activity encoder (model.DenoiserConfig ``activity_conditioning``)
learns *when* the hands move from the audio, but the sampled joints only loosely obey it: a speed says
nothing about direction, and the x0 prediction averages directions away. Re-timing keeps every
pose the sampler made and changes only when each one is shown: the playback rate at each
output frame is the speed the activity asks for divided by the speed the motion has there
(held between MIN_RATE and MAX_RATE, changing by at most MAX_RATE_STEP from one frame to
the next), so the wrists move fast where the activity is high
and linger where it is low. A spring pulls the shown frame back towards real time (time
constant HORIZON_FRAMES), so the drift stays bounded (4.2 s at most with these rates, measured by
research/retime_following.py) without the
rate steps that fixed chunk borders gave; one uniform rescale then lands the last frame
on the last frame.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..motion.features import FeatureLayout

SMOOTH_FRAMES = 9  # 0.3 s at 30 fps, as the activity the model is trained on
HORIZON_FRAMES = 120  # 4 s at 30 fps: how fast a drift from real time is pulled back
# Chosen on the pairing's own training speech (2_scott_0_14_14, 2_scott_0_37_37; research/retime_following.py
# warns why not on the evaluation clips), shipped model, neutral, seeds 0-4: loudness-wrist r 0.204 with
# rates 0.5-2 and no step limit, 0.216 with 0.4-2.5 (wrist jerk +11 %), 0.242 with 0.4-2.5 and steps of
# at most 0.15 (jerk unchanged). A rate that jumps from frame to frame is a velocity pop the eye sees.
MIN_RATE, MAX_RATE = 0.4, 2.5
MAX_RATE_STEP = 0.15  # most the playback rate may change from one frame to the next
STRENGTH = 0.8  # desired speed = mean speed * exp(STRENGTH * z-scored activity)


def standardised_profile(values: np.ndarray, smooth_frames: int = SMOOTH_FRAMES) -> np.ndarray:
    """(F,) values smoothed over ``smooth_frames`` and z-scored over the whole take."""
    smoothed = uniform_filter1d(np.asarray(values, np.float64), smooth_frames, mode="nearest")
    return (smoothed - smoothed.mean()) / max(smoothed.std(), 1e-9)


def activity_time_map(speed: np.ndarray, activity: np.ndarray, horizon: float = HORIZON_FRAMES,
                      strength: float = STRENGTH) -> np.ndarray:
    """(F,) fractional source frame to show at each output frame so that the motion's
    ``speed`` (F,) read there, times the local playback rate, follows ``activity`` (F,)."""
    speed = uniform_filter1d(np.asarray(speed, np.float64), SMOOTH_FRAMES, mode="nearest")
    speed = speed + 0.05 * speed.mean() + 1e-9  # a still pose is not skipped in one frame
    desired = speed.mean() * np.exp(strength * standardised_profile(activity))
    frames = len(speed)
    grid = np.arange(frames, dtype=np.float64)
    positions = np.empty(frames)
    pos, rate = 0.0, 1.0
    for t in range(frames):
        positions[t] = pos
        pull = np.exp((t - pos) / horizon)  # ahead of real time: slower; behind: faster
        wanted = np.clip(pull * desired[t] / np.interp(pos, grid, speed), MIN_RATE, MAX_RATE)
        rate = float(np.clip(wanted, rate - MAX_RATE_STEP, rate + MAX_RATE_STEP))
        pos += rate
    if frames > 1:
        positions *= (frames - 1) / max(positions[-1], 1e-9)
    return np.clip(positions, 0, frames - 1)


def retime_features(features: np.ndarray, positions: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """Motion features (F, D) read at fractional frames ``positions`` (F',): channels are
    interpolated linearly (6D rotations are re-orthonormalised when decoded) and the
    per-second root velocities are scaled by the local playback rate."""
    features = np.asarray(features)
    low = np.clip(np.floor(positions).astype(int), 0, len(features) - 1)
    high = np.minimum(low + 1, len(features) - 1)
    frac = (positions - low)[:, None]
    out = features[low] * (1 - frac) + features[high] * frac
    rate = np.gradient(positions) if len(positions) > 1 else np.ones(1)
    slices = layout.slices
    for name in ("root_velocity", "heading_velocity"):
        out[:, slices[name]] *= rate[:, None]
    return out.astype(features.dtype)
