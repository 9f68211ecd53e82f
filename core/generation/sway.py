"""A talking character's weight shifts, not a stage walk: the hips' sway calmed.

Why: the legs and the root are learnt from the ZEGGS take only (the BEAT release did not capture
them), and she delivers an oration pacing a stage: her hips travel 11.6 cm/s over 46 cm. Generated
takes copy that sway over planted feet (9.5 cm/s, 20-27 cm side to side on the training speech,
at every delivery), which reads as a character rocking from foot to foot. Real conversational
speakers shift their weight too, but slower and over a few centimetres.

What: the root's horizontal velocity (features' ``root_velocity``, in the heading frame) keeps its
slow trend (a Gaussian low-pass over TREND_SECONDS: a step to a new spot stays a step) and keeps
SWAY_FACTOR of what is faster; the planted feet the hips moved over are then pinned again by the
foot locking that runs after it (core.generation.footlock), so the knees and hips take up the
difference. Only the root's horizontal velocity changes. How the factor was chosen:
docs/experiments/sway.md (research/delivery_choice.py, on the training recordings).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..motion.features import FeatureLayout

TREND_SECONDS = 2.0
SWAY_FACTOR = 0.4
CALM_SWAY = True  # finishing runs it (core.generation.finishing)


def calm_sway(features: np.ndarray, fps: float, layout: FeatureLayout, factor: float = SWAY_FACTOR,
              trend_seconds: float = TREND_SECONDS) -> np.ndarray:
    """Motion features (F, D) whose root sways ``factor`` as far about its slow trend (module doc)."""
    if len(features) < 2 or factor == 1.0:
        return features
    columns = layout.slices["root_velocity"]
    velocity = np.asarray(features, np.float64)[:, columns]
    trend = gaussian_filter1d(velocity, trend_seconds * fps, axis=0, mode="reflect")
    out = np.array(features, copy=True)
    out[:, columns] = trend + factor * (velocity - trend)
    return out
