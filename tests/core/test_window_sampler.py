"""Training windows: plain slices, and time-warped windows whose motion and audio stay aligned."""

import sys

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from ohgesture.core.model.normalisation import NormStats
from ohgesture.core.training.datasets import (Clip, DatasetError, WindowSampler, chain_short_clips,
                                     random_rate_curves)
from ohgesture.core.motion.features import feature_layout, features_to_motion, motion_to_features
from synthetic import make_synthetic_take

WINDOW, N_SEED = 30, 5


def _clips(lengths=(120, 200, 90)):
    """Channel 0 of motion and audio holds the frame number (in the clip's own offset range),
    channel 1 of motion is a per-second velocity that is constant within a clip."""
    clips = []
    for k, frames in enumerate(lengths):
        index = 1000.0 * k + np.arange(frames, dtype=np.float32)
        motion = np.stack([index, np.full(frames, 2.0 + k, np.float32), np.sin(index / 7)], axis=1)
        audio = np.stack([index, np.cos(index / 5)], axis=1).astype(np.float32)
        clips.append(Clip(f"c{k}", f"take{k}", "neutral" if k % 2 else "sad", motion, audio))
    return clips


def _identity_stats():
    return NormStats(np.zeros(3, np.float32), np.ones(3, np.float32), np.zeros(2, np.float32), np.ones(2, np.float32))


def test_plain_windows_are_slices_of_one_clip_right_after_their_seed():
    sampler = WindowSampler(_clips(), ["neutral", "sad"], _identity_stats(), WINDOW, N_SEED, seed=3)
    batch = sampler.batch(200)
    index = batch["x0"][..., 0]
    np.testing.assert_array_equal(np.diff(index, axis=1), 1.0)
    np.testing.assert_array_equal(batch["audio"][..., 0], index)
    np.testing.assert_array_equal(batch["seed"][:, -1, 0] + 1, index[:, 0])
    assert (index[:, 0] % 1000 >= N_SEED).all()
    assert len(np.unique(index[:, 0] // 1000)) == 3  # every clip is drawn


def test_warped_windows_keep_motion_and_audio_together_and_scale_velocities():
    factor = 1.5
    sampler = WindowSampler(_clips(), ["neutral", "sad"], _identity_stats(), WINDOW, N_SEED, seed=4,
                            time_warp=factor, velocity_channels=(1,))
    batch = sampler.batch(300)
    index = batch["x0"][..., 0].astype(np.float64)
    np.testing.assert_allclose(batch["audio"][..., 0], index, atol=1e-3)  # the same warp for both
    step = np.diff(index, axis=1)
    assert step.min() >= 1 / factor - 1e-3 and step.max() <= factor + 1e-3
    assert step.min() < 0.8 and step.max() > 1.25  # it really warps
    np.testing.assert_array_equal(batch["seed"][:, -1, 0] + 1, index[:, 0])  # seed untouched, just before
    clip = index[:, 0] // 1000
    assert (index[:, -1] // 1000 == clip).all()  # never reads past its clip
    base = 2.0 + clip[:, None]
    rate = batch["x0"][:, 1:, 1] / base
    np.testing.assert_allclose(rate, step, atol=2e-3)  # velocity x local playback rate
    np.testing.assert_allclose(batch["x0"][..., 2], np.sin(index / 7), atol=0.02)  # values interpolated


def test_rate_curves_are_smooth_and_bounded():
    rates = random_rate_curves(np.random.default_rng(0), 500, 90, 2.0)
    assert rates.shape == (500, 90)
    assert rates.min() >= 0.5 - 1e-9 and rates.max() <= 2.0 + 1e-9
    assert np.abs(np.diff(np.log(rates), axis=1)).max() < 0.1  # no jumps between neighbouring frames
    assert abs(np.log(rates).mean()) < 0.05  # as often slower as faster


def test_clips_too_short_for_a_window_are_padded_with_held_poses_and_silence():
    clips = _clips((12, 200))  # clip 0 is shorter than seed + window (35 frames)
    stats = _identity_stats()
    silence = np.array([-7.0, -7.0], np.float32)
    speeds = [np.full(len(c.motion), 5.0, np.float32) for c in clips]
    sampler = WindowSampler(clips, ["neutral", "sad"], stats, WINDOW, N_SEED, seed=5, velocity_channels=(1,),
                            silence=silence, wrist_speeds=speeds, activity_norm=(0.0, 1.0), label_balance=0.0)
    assert len(sampler.clips) == 2
    batch = sampler.batch(400)
    short = batch["x0"][:, 0, 0] < 1000
    assert short.any() and (~short).any()
    index, velocity, audio = batch["x0"][short][..., 0], batch["x0"][short][..., 1], batch["audio"][short]
    real = audio[..., 0] == index  # frames of the clip itself; the rest is padding
    assert real.any() and (~real).any()
    np.testing.assert_array_equal(audio[~real], np.broadcast_to(silence, audio[~real].shape))  # silence
    np.testing.assert_array_equal(velocity[real], 2.0)
    np.testing.assert_array_equal(velocity[~real], 0.0)  # a held pose does not travel
    assert set(np.unique(index[~real])) <= {0.0, 11.0}  # the first and last poses, held
    activity = batch["activity"][short][..., 0]  # held still: no wrist speed (smoothed over 9 frames)
    assert (activity[~real] == 0).any() and activity[~real].mean() < 0.5 * activity[real].mean()
    assert short.mean() < 0.15  # drawn by real frames: about 12 / 212 of the windows, not half
    warped = WindowSampler(clips, ["neutral", "sad"], stats, WINDOW, N_SEED, seed=6, time_warp=2.0).batch(200)
    short = warped["x0"][:, 0, 0] < 1000
    assert short.any() and warped["x0"][short][..., 0].max() <= 11 + 1e-4
    with pytest.raises(DatasetError):
        WindowSampler(clips, ["neutral", "sad"], stats, WINDOW, N_SEED, time_warp=0.5)


def test_activity_is_the_standardised_smoothed_wrist_speed_and_follows_the_warp():
    clips = _clips()
    speeds = [np.full(len(c.motion), 2.0 + k, np.float32) for k, c in enumerate(clips)]
    stats, labels = _identity_stats(), ["neutral", "sad"]
    plain = WindowSampler(clips, labels, stats, WINDOW, N_SEED, seed=1, wrist_speeds=speeds)
    frames = np.array([len(c.motion) for c in clips])
    weights = frames / frames.sum()
    mean = float((weights * np.array([2.0, 3.0, 4.0])).sum())
    std = float(np.sqrt((weights * (np.array([2.0, 3.0, 4.0]) - mean) ** 2).sum()))
    np.testing.assert_allclose(plain.activity_norm, (mean, std), rtol=1e-5)
    batch = plain.batch(50)
    clip = batch["x0"][:, 0, 0] // 1000
    assert batch["activity"].shape == (50, WINDOW, 1)
    np.testing.assert_allclose(batch["activity"][..., 0], ((2.0 + clip[:, None]) - mean) / std * np.ones(WINDOW),
                               atol=1e-5)
    warped = WindowSampler(clips, labels, stats, WINDOW, N_SEED, seed=2, time_warp=1.5, wrist_speeds=speeds,
                           activity_norm=plain.activity_norm)
    batch = warped.batch(200)
    rate = np.diff(batch["x0"][..., 0], axis=1)  # frames of source per frame played
    clip = batch["x0"][:, 0, 0] // 1000
    rate = np.concatenate([rate[:, :1], rate], axis=1)
    expected = uniform_filter1d((2.0 + clip[:, None]) * rate, 9, axis=1, mode="nearest")
    np.testing.assert_allclose(batch["activity"][..., 0] * std + mean, expected, rtol=0.02)  # faster playback, faster hands
    held = plain.all_windows(stride=WINDOW)
    assert set(held) == {"x0", "seed", "audio", "emotion", "activity"} and len(held["x0"]) == 3 + 6 + 2


@pytest.mark.parametrize("balance", [0.0, 0.5, 1.0])
def test_label_balance_sets_each_labels_share_of_windows(balance):
    clips = _clips((400, 100, 100))  # sad: clips 0 and 2 (500 frames), neutral: clip 1 (100)
    sampler = WindowSampler(clips, ["neutral", "sad"], _identity_stats(), WINDOW, N_SEED, seed=6,
                            label_balance=balance)
    batch = sampler.batch(20000)
    neutral_share = (batch["emotion"] == 0).mean()
    expected = 100 ** (1 - balance) / (100 ** (1 - balance) + 500 ** (1 - balance))
    assert abs(neutral_share - expected) < 0.015
    sad = batch["x0"][batch["emotion"] == 1, 0, 0] // 1000  # within a label, clips by their frames
    assert abs((sad == 0).mean() - 0.8) < 0.02


def test_label_balance_outside_zero_to_one_is_refused():
    with pytest.raises(DatasetError, match="label_balance"):
        WindowSampler(_clips(), ["neutral", "sad"], _identity_stats(), WINDOW, N_SEED, label_balance=1.5)


def _feature_clips(spec):
    """Clips of real motion features (a synthetic take's, cut at different places) for
    (label, frames) pairs; audio channel 0 holds the take's frame number."""
    take = make_synthetic_take(20.0, seed=2)
    features = motion_to_features(take.motion)
    clips, at = [], 0
    for k, (label, frames) in enumerate(spec):
        audio = np.stack([np.arange(at, at + frames), np.full(frames, k)], axis=1).astype(np.float32)
        clips.append(Clip(f"{label}{k}", f"take{k}", label, features[at:at + frames], audio))
        at += frames + 7
    return clips, feature_layout(take.motion.skeleton), take.motion.skeleton


def test_short_clips_of_a_label_are_joined_into_one_run_with_blended_joins():
    clips, layout, skeleton = _feature_clips([("sad", 40), ("neutral", 200), ("sad", 50), ("happy", 30)])
    fade = 8
    out = chain_short_clips(clips, 60, layout, seed=1, crossfade=fade)
    assert out[0] is clips[1] and out[1] is clips[3]  # long clips, and a lone short one (padded later), untouched
    (run,) = [c for c in out if c.label == "sad"]
    assert len(out) == 3 and len(run.motion) == len(run.audio) == 40 + 50 - fade
    first, second = (clips[0], clips[2]) if run.audio[0, 1] == 0 else (clips[2], clips[0])
    n = len(first.motion)
    np.testing.assert_array_equal(run.motion[:n - fade], first.motion[:-fade])  # untouched away from the join
    np.testing.assert_array_equal(run.motion[n:], second.motion[fade:])
    join = run.motion[n - fade:n]
    rot = layout.slices["rotations"]
    to_first = np.abs(join[:, rot] - first.motion[-fade:, rot]).mean(1)
    to_second = np.abs(join[:, rot] - second.motion[:fade, rot]).mean(1)
    assert to_first[0] < to_second[0] and to_second[-1] < to_first[-1]  # eases from one clip into the next
    assert np.all(np.diff(to_first) >= -1e-6) and np.all(np.diff(to_second) <= 1e-6)
    decoded = features_to_motion(run.motion, skeleton, 30.0)  # the blended rotations are rotations
    np.testing.assert_allclose(np.linalg.norm(decoded.rotations, axis=-1), 1.0, atol=1e-5)
    frame = run.audio[n - fade:n, 0]  # audio features blended linearly, between the two clips' frames
    assert np.all((frame >= np.minimum(first.audio[-fade:, 0], second.audio[:fade, 0]) - 1e-3)
                  & (frame <= np.maximum(first.audio[-fade:, 0], second.audio[:fade, 0]) + 1e-3))


def test_a_lone_short_clip_takes_in_its_labels_shortest_other_clip():
    clips, layout, _ = _feature_clips([("sad", 40), ("sad", 300), ("sad", 120), ("neutral", 45)])
    out = chain_short_clips(clips, 100, layout, seed=0, crossfade=8)
    assert clips[1] in out and clips[3] in out and clips[0] not in out and clips[2] not in out
    (run,) = [c for c in out if c.name.startswith("sad-chain")]
    assert len(run.motion) == 40 + 120 - 8 and set(run.take.split("+")) == {"take0", "take2"}
    sampler = WindowSampler(out, ["neutral", "sad"], NormStats.from_clips(out), 80, 10)
    assert len(sampler.motion[sampler.clips.index(run)]) == len(run.motion)  # long enough: not padded


def test_chain_all_joins_every_clip_of_a_label():
    clips, layout, _ = _feature_clips([("sad", 40), ("neutral", 200), ("sad", 150), ("neutral", 120), ("happy", 60)])
    out = chain_short_clips(clips, sys.maxsize, layout, crossfade=8)
    assert sorted(c.label for c in out) == ["happy", "neutral", "sad"] and clips[4] in out
    length = {c.label: len(c.motion) for c in out}
    assert length["sad"] == 40 + 150 - 8 and length["neutral"] == 200 + 120 - 8
