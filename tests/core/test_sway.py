"""The hips' sway calmed (core/generation/sway.py): faster to-and-fro travel shrinks, a slow move
to a new spot stays."""

import numpy as np

from ohgesture.core.generation.sway import SWAY_FACTOR, calm_sway
from ohgesture.core.motion.features import FeatureLayout

FPS = 30.0


def _features(velocity: np.ndarray) -> tuple[np.ndarray, FeatureLayout]:
    layout = FeatureLayout(num_joints=2, root_joint=0)
    features = np.zeros((len(velocity), layout.D), np.float32)
    features[:, layout.slices["root_velocity"]] = velocity
    features[:, layout.slices["rotations"]] = 0.5  # any rotations: they must stay as they are
    return features, layout


def test_sway_shrinks_and_a_slow_move_stays():
    t = np.arange(int(40 * FPS)) / FPS
    sway = 2 * np.pi * 0.5 * 10.0 * np.cos(2 * np.pi * 0.5 * t)  # +-10 cm at 0.5 Hz, as cm/s
    move = np.where((t > 10) & (t < 30), 2.0, 0.0)  # 40 cm over 20 s
    velocity = np.stack([sway + move, np.zeros_like(t)], axis=1)
    features, layout = _features(velocity)
    out = calm_sway(features, FPS, layout)
    path = np.cumsum(out[:, layout.slices["root_velocity"]], axis=0) / FPS
    before = np.cumsum(velocity, axis=0) / FPS
    middle = slice(int(12 * FPS), int(28 * FPS))
    detrended = path[middle, 0] - np.convolve(path[:, 0], np.ones(60) / 60, mode="same")[middle]
    detrended_before = before[middle, 0] - np.convolve(before[:, 0], np.ones(60) / 60, mode="same")[middle]
    ratio = np.ptp(detrended) / np.ptp(detrended_before)
    assert abs(ratio - SWAY_FACTOR) < 0.1
    assert abs((path[-1, 0] - path[0, 0]) - 40.0) < 1.0  # the move to a new spot is kept
    np.testing.assert_array_equal(out[:, layout.slices["rotations"]], features[:, layout.slices["rotations"]])


def test_a_still_root_stays_still():
    features, layout = _features(np.zeros((100, 2)))
    np.testing.assert_array_equal(calm_sway(features, FPS, layout), features)
