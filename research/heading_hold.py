"""How the body's slow turning is held (core/generation/heading.py): the shipped model's raw heading
(the finishing step switched off) on selection speech, every emotion, seed 0, against trend lengths
and tolerances; and what each setting does to the real ZEGGS take's own turning.

    .venv/bin/python research/heading_hold.py ../shared/data/speech/2_scott_0_55_55.wav \
        ../shared/data/zeggs-sample/067_Speech_2_x_1_0.wav ../shared/data/beat-sample/2_scott_0_1_1.wav \
        samples/speech_en.wav samples/speech_en_talk.flac

Prints, per setting, the real take's correlation and range before/after, then per speech file the
largest raw and held turn (degrees) over the emotions and how much of the fast turning (what a 0.5-s
Gaussian does not keep) is left (spread held / raw).
"""

import sys

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from ohgesture.core.audio.features import audio_features_from_file
from ohgesture.core.generation import heading as H
from ohgesture.core.generation import finishing, pipeline
from ohgesture.core.motion.bvh import read_bvh
from ohgesture.core.motion.features import feature_layout, motion_to_features

SETTINGS = [(2.0, 0.0), (3.0, 0.0), (3.0, 10.0), (4.0, 10.0), (3.0, 15.0), (5.0, 15.0)]
REAL = "../shared/data/zeggs-sample/067_Speech_2_x_1_0.bvh"


def fast_spread(h: np.ndarray, fps: float) -> float:
    return float(np.std(h - gaussian_filter1d(h, 0.5 * fps)))


def main(paths: list[str]) -> None:
    torch.set_num_threads(1)
    lm = pipeline.load_model(device="cpu")
    finishing.hold_heading = lambda features, fps, layout: features  # the raw heading
    raw = {}
    for path in paths:
        audio = audio_features_from_file(path, lm.fps, config=lm.audio_config)
        raw[path] = [H.heading_path(pipeline.generate_features(lm, audio, [e], np.ones(1), seed=0), lm.fps, lm.layout)
                     for e in lm.labels]
    motion = read_bvh(REAL)
    real = H.heading_path(motion_to_features(motion), motion.fps, feature_layout(motion.skeleton))
    for trend, tolerance in SETTINGS:
        def hold(h, fps):
            return H.held_heading(h, fps, trend_seconds=trend, tolerance=np.radians(tolerance))
        held_real = hold(real, motion.fps)
        print(f"trend {trend:g} s, tolerance {tolerance:g} deg: real take r {np.corrcoef(real, held_real)[0, 1]:.2f}, "
              f"range {np.degrees(np.ptp(real)):.0f} -> {np.degrees(np.ptp(held_real)):.0f} deg")
        for path, headings in raw.items():
            held = [hold(h, lm.fps) for h in headings]
            kept = np.mean([fast_spread(b, lm.fps) / max(fast_spread(a, lm.fps), 1e-9) for a, b in zip(headings, held)])
            print(f"    {path.split('/')[-1]:28s} largest turn raw {np.degrees(max(np.abs(h).max() for h in headings)):6.1f}"
                  f"  held {np.degrees(max(np.abs(h).max() for h in held)):5.1f}  fast turning kept {kept:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
