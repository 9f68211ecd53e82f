"""The evaluation's measures, each once: small pure functions over arrays (FGD, speech
synchrony, plausibility, distances), and the few helpers that turn a model's output or a
speech file into what they take (joint positions, wrist speeds, loudness). Both
evaluations (whole takes, core/evaluation/takes.py; the pack, evaluate.py) and the tests
of foot locking, energy and re-timing use them.

Conventions: ``fps`` is motion frames per second; positions are world positions
(F, J, 3) in file units (cm), Y up; speeds are file units per second.
"""

from __future__ import annotations

import warnings

import numpy as np

from scipy import linalg
from scipy.ndimage import uniform_filter1d
from scipy.signal import argrelextrema

from ..audio.features import loudness_envelope
from ..generation.settings import DEFAULT_SMOOTHING_HZ
from ..motion.measures import point_speeds


class MetricError(ValueError):
    pass


# ------------------------------------------------------------------ Frechet distance


def gaussian_stats(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (E,) and covariance (E, E) of embeddings (N, E), in float64."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise MetricError(f"need at least two embeddings of shape (N, E) for a Frechet distance, got {x.shape}.")
    return x.mean(0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)) (the FID formula)."""
    diff = mu1 - mu2
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # fewer windows than dimensions give singular covariances; regularise as the reference FID code does
        warnings.simplefilter("ignore")
        covmean, _ = linalg.sqrtm(sigma1 @ sigma2, disp=False)
        if not np.all(np.isfinite(covmean)):
            eps = 1e-6 * np.eye(len(mu1))
            covmean, _ = linalg.sqrtm((sigma1 + eps) @ (sigma2 + eps), disp=False)
    covmean = np.real(covmean)
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def fgd(embeddings_a: np.ndarray, embeddings_b: np.ndarray) -> float:
    """Frechet Gesture Distance between two sets of window embeddings."""
    return frechet_distance(*gaussian_stats(embeddings_a), *gaussian_stats(embeddings_b))


# ------------------------------------------------------------------ speech-motion synchrony


def smooth(signal: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Moving average over ``seconds`` (box filter, edges held)."""
    size = max(1, int(round(seconds * fps)))
    return uniform_filter1d(np.asarray(signal, dtype=np.float64), size, axis=0, mode="nearest")


def speed_from_positions(positions: np.ndarray, fps: float) -> np.ndarray:
    """Per-frame speed (F, ...) of positions (F, ..., C), backward differences, first frame copied."""
    return point_speeds(positions, fps, copy_first=True)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    denominator = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denominator) if denominator > 0 else 0.0


def loudness_motion_correlation(loudness: np.ndarray, speed: np.ndarray, fps: float,
                                smooth_seconds: float = 0.5) -> float:
    """Pearson correlation of speech loudness and wrist speed, both smoothed over ``smooth_seconds``."""
    n = min(len(loudness), len(speed))
    if n < 3:
        raise MetricError("loudness and speed need at least three common frames.")
    return pearson(smooth(loudness[:n], fps, smooth_seconds), smooth(speed[:n], fps, smooth_seconds))


def shift_range(duration: float, min_shift: float = 5.0, max_shift: float = 30.0) -> tuple[float, float]:
    """Circular shifts long enough to break the pairing, clamped for short clips."""
    hi = min(max_shift, duration - min_shift)
    if hi > min_shift:
        return min_shift, hi
    return 0.2 * duration, 0.8 * duration


def shift_test(score, n_frames: int, fps: float, n_shifts: int = 100, min_shift: float = 5.0,
               max_shift: float = 30.0) -> dict:
    """``score(shift_frames)`` for the true pairing (shift 0) against circular time shifts.

    Returns true, the shifted median/95th percentile/max, z = (true - mean) / std and
    margin = true - 95th percentile (positive: the true pairing beats 95 % of shifts).
    """
    lo, hi = shift_range(n_frames / fps, min_shift, max_shift)
    shifts = np.unique(np.round(np.linspace(lo, hi, n_shifts) * fps).astype(int))
    true = float(score(0))
    shifted = np.array([score(int(s)) for s in shifts])
    std = shifted.std()
    return dict(
        true=true, shifted_median=float(np.median(shifted)), shifted_p95=float(np.percentile(shifted, 95)),
        shifted_max=float(shifted.max()), z=float((true - shifted.mean()) / std) if std > 0 else 0.0,
        margin=float(true - np.percentile(shifted, 95)), shifts=len(shifts),
        shift_seconds=[float(lo), float(hi)],
    )


def loudness_sync_test(loudness: np.ndarray, speed: np.ndarray, fps: float, smooth_seconds: float = 0.5,
                       **shift_kwargs) -> dict:
    n = min(len(loudness), len(speed))
    a, b = smooth(loudness[:n], fps, smooth_seconds), smooth(speed[:n], fps, smooth_seconds)
    return shift_test(lambda s: pearson(np.roll(a, s), b), n, fps, **shift_kwargs)


def audio_onsets(samples: np.ndarray, sr: int) -> np.ndarray:
    """Speech onset times (s), librosa's onset detector on a 10 ms hop."""
    import librosa

    hop = max(1, int(round(sr * 0.01)))
    envelope = librosa.onset.onset_strength(y=np.asarray(samples, np.float32), sr=sr, hop_length=hop)
    return librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=hop, units="time")


def motion_beats(speed: np.ndarray, fps: float, smooth_seconds: float = 0.1, order: int = 2) -> np.ndarray:
    """Kinematic beats (s): local minima of (lightly smoothed) joint speed, as in Li et al. 2021 / Liu et al. 2022."""
    s = smooth(speed, fps, smooth_seconds)
    return argrelextrema(s, np.less, order=order)[0] / fps


def beat_consistency(motion_times: np.ndarray, audio_times: np.ndarray, sigma: float = 0.1) -> float:
    """BC = mean over motion beats of exp(-d^2 / 2 sigma^2), d = distance to the nearest audio onset."""
    motion_times, audio_times = np.asarray(motion_times, float), np.asarray(audio_times, float)
    if len(motion_times) == 0 or len(audio_times) == 0:
        return 0.0
    audio_sorted = np.sort(audio_times)
    idx = np.clip(np.searchsorted(audio_sorted, motion_times), 1, len(audio_sorted)) - 1
    right = audio_sorted[np.minimum(idx + 1, len(audio_sorted) - 1)]
    d = np.minimum(np.abs(motion_times - audio_sorted[idx]), np.abs(motion_times - right))
    return float(np.mean(np.exp(-d ** 2 / (2 * sigma ** 2))))


def beat_sync_test(motion_times: np.ndarray, audio_times: np.ndarray, duration: float, fps: float,
                   sigma: float = 0.1, reverse: bool = False, **shift_kwargs) -> dict:
    """BC for the true pairing against circularly shifted onsets. ``reverse`` averages over
    audio onsets instead (nearest motion beat per onset)."""
    n = int(round(duration * fps))

    def score(shift_frames):
        shifted = (np.asarray(audio_times) + shift_frames / fps) % duration
        return beat_consistency(shifted, motion_times, sigma) if reverse else \
            beat_consistency(motion_times, shifted, sigma)

    return shift_test(score, n, fps, **shift_kwargs)


# ------------------------------------------------------------------ physical plausibility


def jitter(positions: np.ndarray, fps: float) -> float:
    """Mean jerk magnitude (third time derivative of joint positions), units/s^3."""
    if len(positions) < 4:
        raise MetricError("jitter needs at least four frames.")
    jerk = np.diff(positions, n=3, axis=0) * fps ** 3
    return float(np.linalg.norm(jerk, axis=-1).mean())


def foot_sliding(positions: np.ndarray, fps: float, foot_joints: list[int], contact_height: float = 5.0,
                 up_axis: int = 1) -> float:
    """Mean horizontal speed of foot joints while in contact (units/s).

    A foot joint is in contact when it is within ``contact_height`` of the floor; the floor is the
    sequence's lowest foot height (the 1st percentile, robust to a single bad frame).
    """
    if not foot_joints:
        raise MetricError("foot sliding needs at least one foot joint.")
    feet = np.asarray(positions)[:, foot_joints]
    height = feet[..., up_axis]
    floor = np.percentile(height, 1)
    horizontal = [a for a in range(3) if a != up_axis]
    speed = speed_from_positions(feet[..., horizontal], fps)  # the 2-D norm: horizontal speed only
    contact = height < floor + contact_height
    return float(speed[contact].mean()) if contact.any() else 0.0


def speed_stats(speed: np.ndarray) -> dict:
    speed = np.asarray(speed, np.float64)
    return dict(mean=float(speed.mean()), p95=float(np.percentile(speed, 95)))


# ------------------------------------------------------------------ emotion control


def mean_pairwise_distance(sequences: list[np.ndarray]) -> float:
    """Mean over pairs of the per-frame RMS distance between frame-aligned sequences (F, D)."""
    if len(sequences) < 2:
        raise MetricError("need at least two sequences for a pairwise distance.")
    n = min(len(s) for s in sequences)
    distances = [np.sqrt(np.mean((sequences[i][:n] - sequences[j][:n]) ** 2))
                 for i in range(len(sequences)) for j in range(i + 1, len(sequences))]
    return float(np.mean(distances))


def is_monotonic_increasing(values, tolerance: float = 0.0) -> bool:
    values = np.asarray(values, np.float64)
    return bool(np.all(np.diff(values) >= -tolerance))


# ------------------------------------------------------------------ what the measures take


def generate(lm, audio_feats, emotions, weights, sampler, steps, guidance, seed, retime=True,
             smoothing_hz=DEFAULT_SMOOTHING_HZ, foot_lock=True) -> np.ndarray:
    """Motion features as the CLI makes them (generate_features with these settings)."""
    from ..generation.pipeline import generate_features

    return generate_features(lm, audio_feats, list(emotions), np.asarray(weights, np.float64), guidance=guidance,
                             sampler=sampler, steps=steps, seed=seed, retime=retime,
                             smoothing_hz=smoothing_hz, foot_lock=foot_lock)


def motion_positions(lm, features: np.ndarray) -> np.ndarray:
    """World joint positions (F, J, 3) of a model's motion features."""
    from ..generation.pipeline import features_to_output
    from ..motion.kinematics import forward_kinematics

    return forward_kinematics(features_to_output(lm, features))[0]


def pose_coordinates(lm, features: np.ndarray) -> np.ndarray:
    """World joint positions (F, 3J) with the root's horizontal travel removed: the visible pose."""
    positions = motion_positions(lm, features)
    root = positions[:, lm.layout.root_joint].copy()
    root[:, 1] = 0.0
    return (positions - root[:, None]).reshape(len(positions), -1)


def joint_groups(skeleton) -> dict:
    """The wrists and the feet (toe and foot joints) of a skeleton, by joint index."""
    from ..motion.measures import wrist_indices

    names = [n.lower() for n in skeleton.joint_names]
    feet = [i for i, n in enumerate(names) if ("toe" in n or "foot" in n) and "end" not in n]
    return dict(wrists=list(wrist_indices(skeleton)), feet=feet)


def wrist_speed_from_positions(positions: np.ndarray, wrists: list[int], fps: float) -> np.ndarray:
    """Per-frame speed of the faster wrist."""
    return speed_from_positions(positions[:, wrists], fps).max(axis=1)


def physical_stats(position_sets: list[np.ndarray], groups: dict, fps: float) -> dict:
    """Foot sliding, jitter and wrist speed over a set of sequences (frame-weighted)."""
    speeds = np.concatenate([wrist_speed_from_positions(p, groups["wrists"], fps) for p in position_sets])
    frames = np.array([len(p) for p in position_sets], np.float64)
    usable = [p for p in position_sets if len(p) >= 4]
    w = np.array([len(p) for p in usable], np.float64)
    return dict(
        jitter=float(np.average([jitter(p, fps) for p in usable], weights=w)) if usable else float("nan"),
        foot_sliding=float(np.average([foot_sliding(p, fps, groups["feet"]) for p in usable], weights=w))
        if usable and groups["feet"] else float("nan"),
        wrist_speed_mean=float(speeds.mean()), wrist_speed_p95=float(np.percentile(speeds, 95)),
        wrist_speed_clip_means=[float(wrist_speed_from_positions(p, groups["wrists"], fps).mean())
                                for p in position_sets],
        seconds=float(frames.sum() / fps),
    )


def speech_inputs(lm, path, seconds: float) -> dict:
    """Audio features, waveform and per-frame loudness of one speech file, cropped to ``seconds``."""
    from pathlib import Path

    from ..audio.features import audio_features_from_file, load_audio

    feats = audio_features_from_file(path, lm.fps, config=lm.audio_config)
    n = min(len(feats), int(round(seconds * lm.fps)))
    samples, sr = load_audio(path, sr=16000)
    samples = samples[: int(round(n / lm.fps * sr))]
    return dict(name=Path(path).name, audio=feats[:n], samples=samples, sr=sr,
                loudness=loudness_envelope(samples, sr, lm.fps, n))


def synchrony(loudness, speed, samples, sr, fps) -> dict:
    """Loudness-wrist r and beat consistency (both directions), each against time-shifted audio."""
    duration = len(speed) / fps
    out = dict(seconds=round(duration, 2), loudness=loudness_sync_test(loudness, speed, fps))
    onsets = audio_onsets(samples, sr)
    beats = motion_beats(speed, fps)
    out["bc"] = beat_sync_test(beats, onsets, duration, fps)
    out["bc_reverse"] = beat_sync_test(beats, onsets, duration, fps, reverse=True)
    return out


def jsonable(x):
    """``x`` with numpy numbers as Python ones and non-finite floats as None (for json.dumps)."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, (np.integer, np.bool_)):
        return x.item()
    return x
