"""Re-timing generated motion to an activity curve (core.timing), its use in generation, and the\nlow-pass smoothing of the finished motion."""


import numpy as np
import pytest

from ohgesture.core.audio.features import loudness_envelope
from ohgesture.core.evaluation import measures as M
from ohgesture.core.motion.features import FeatureLayout
from ohgesture.core.generation.retiming import (HORIZON_FRAMES, MAX_RATE, MAX_RATE_STEP, MIN_RATE, activity_time_map,
                                   retime_features)



def _played_speed(speed, positions):
    """Speed of a motion with per-frame ``speed`` shown at fractional ``positions``."""
    return np.interp(positions, np.arange(len(speed)), speed) * np.gradient(positions)


def test_time_map_makes_the_played_speed_follow_the_activity():
    frames = 600
    t = np.arange(frames)
    speed = 40 + 30 * np.sin(2 * np.pi * t / 47)  # strokes on their own rhythm
    activity = np.sin(2 * np.pi * t / 90 + 1.0)  # the speech's rhythm
    positions = activity_time_map(speed, activity)
    assert positions[0] == 0 and positions[-1] == pytest.approx(frames - 1)
    assert np.all(np.diff(positions) >= 0)
    rate = np.diff(positions)
    assert rate.min() > 0.85 * MIN_RATE and rate.max() < 1.15 * MAX_RATE  # the end rescale bends them a little
    assert np.abs(np.diff(rate)).max() < 1.1 * MAX_RATE_STEP  # no jumps in playback rate (a velocity pop)
    assert np.abs(positions - t).max() < HORIZON_FRAMES  # drift from real time stays bounded
    before = M.pearson(speed, activity)
    after = M.pearson(_played_speed(speed, positions), activity)
    assert abs(before) < 0.2 and after > 0.5


def test_time_map_pulls_back_a_motion_that_would_run_ahead():
    frames = 900
    speed = np.full(frames, 10.0)
    activity = np.r_[np.ones(300), -np.ones(600)]  # asks for 2x speed for 10 s
    positions = activity_time_map(speed, activity)
    lead = positions - np.arange(frames)
    assert lead[299] > 30  # ran ahead while asked to
    assert abs(lead[-150]) < 0.5 * lead[299]  # and came back towards real time
    assert positions[-1] == pytest.approx(frames - 1)


def test_retime_features_interpolates_and_scales_root_velocities():
    layout = FeatureLayout(num_joints=1, root_joint=0)
    frames = 20
    features = np.zeros((frames, layout.D), np.float32)
    features[:, 0] = 2.0  # planar velocity x, per second
    features[:, 3] = 0.5  # heading velocity
    features[:, 4] = np.arange(frames)  # a rotation channel that counts frames
    np.testing.assert_array_equal(retime_features(features, np.arange(frames, dtype=float), layout), features)
    positions = np.minimum(np.arange(frames) * 1.5, frames - 1)
    out = retime_features(features, positions, layout)
    np.testing.assert_allclose(out[:, 4], positions, atol=1e-5)
    np.testing.assert_allclose(out[2:10, 0], 3.0, atol=1e-5)  # played 1.5x faster
    np.testing.assert_allclose(out[2:10, 3], 0.75, atol=1e-5)
    np.testing.assert_allclose(out[:, 2], 0.0)  # height is not a rate


def test_the_shipped_model_follows_unseen_speech_when_retimed(speech_wavs):
    """On unseen conversational speech (a BEAT recording the model never heard) the shipped
    model's own motion barely follows the loudness; re-timed to it, it does."""
    from ohgesture.core.evaluation.measures import joint_groups, motion_positions, speech_inputs, wrist_speed_from_positions
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, generate_features, load_model

    lm = load_model(DEFAULT_MODEL, "cpu")
    speech = speech_inputs(lm, next(w for w in speech_wavs if w.name == "2_scott_0_37_37.wav"), 40)
    wrists = joint_groups(lm.skeleton)["wrists"]
    r = {}
    for retime in (False, True):
        motion = generate_features(lm, speech["audio"], ["neutral"], np.ones(1), sampler="dpmpp_2m", steps=20,
                                   retime=retime)
        speed = wrist_speed_from_positions(motion_positions(lm, motion), wrists, lm.fps)
        r[retime] = M.loudness_motion_correlation(speech["loudness"], speed, lm.fps)
        assert 20 < speed.mean() < 150  # alive, in the range of real capture (cm/s)
    assert r[True] >= 0.3 and r[True] > r[False] + 0.15, r


def test_smoothing_brings_the_shipped_models_jerk_towards_real_capture_without_slowing_the_hands(speech_wavs):
    from ohgesture.core.evaluation.measures import joint_groups, motion_positions, speech_inputs, wrist_speed_from_positions
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, generate_features, load_model

    lm = load_model(DEFAULT_MODEL, "cpu")
    speech = speech_inputs(lm, next(w for w in speech_wavs if w.name == "2_scott_0_37_37.wav"), 20)
    wrists = joint_groups(lm.skeleton)["wrists"]
    measured = {}
    for hz in (0.0, 8.0):
        motion = generate_features(lm, speech["audio"], ["neutral"], np.ones(1), sampler="dpmpp_2m", steps=20,
                                   smoothing_hz=hz)
        positions = motion_positions(lm, motion)
        speed = wrist_speed_from_positions(positions, wrists, lm.fps)
        measured[hz] = (M.jitter(positions, lm.fps), speed.mean(),
                        M.loudness_motion_correlation(speech["loudness"], speed, lm.fps))
    (jerk_raw, speed_raw, r_raw), (jerk, speed, r) = measured[0.0], measured[8.0]
    assert jerk < 0.8 * jerk_raw, measured
    # the raw speed includes the sampler's frame-to-frame noise (the shipped model's raw jerk is
    # about four times real capture's), which the low-pass takes out with it
    assert speed > 0.8 * speed_raw, measured
    assert r >= 0.3 and r > r_raw - 0.1, measured  # the hands still follow the speech


def test_finishing_fades_in_away_from_known_frames():
    from ohgesture.core.generation.pipeline import FINISH_EASE_FRAMES, finishing_weight

    known = np.zeros(100, dtype=bool)
    known[10] = True
    known[50:60] = True
    w = finishing_weight(known)
    assert np.all(w[known] == 0) and np.all((0 <= w) & (w <= 1))
    assert w[0] == 1 and w[30] == 1 and w[99] == 1
    rising = w[10:10 + FINISH_EASE_FRAMES + 2]
    assert np.all(np.diff(rising) > 0) and rising[-1] == 1
    assert np.array_equal(finishing_weight(np.zeros(5, dtype=bool)), np.ones(5))


def test_re_timing_follows_the_loudness_read_from_the_audio_features(tiny_checkpoint, speech_wav):
    from ohgesture.core.audio.features import audio_features_from_file, load_audio
    from ohgesture.core.generation.pipeline import load_model, speech_loudness

    lm = load_model(tiny_checkpoint, "cpu")
    features = audio_features_from_file(speech_wav, lm.fps, config=lm.audio_config)
    samples, sr = load_audio(speech_wav)
    reference = loudness_envelope(samples, sr, lm.fps, len(features))
    loudness = speech_loudness(lm, features)
    assert loudness.shape == (len(features),) and np.all(loudness > 0)
    assert M.pearson(M.smooth(loudness, lm.fps, 0.5), M.smooth(reference, lm.fps, 0.5)) > 0.98
