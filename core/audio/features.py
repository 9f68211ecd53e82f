"""Speech audio in, per-motion-frame features out.

Timing convention: feature frame ``i`` describes the audio around time ``i / fps``
(the same instant as motion frame ``i``). Features are first computed on a fine,
fps-independent grid (``hop_seconds``, 10 ms by default, frames centred on
``k * hop``), and every fine frame is then assigned to the motion frame whose time
is nearest: motion frame ``i`` pools the fine frames centred in
``[(i - 0.5) / fps, (i + 0.5) / fps)``. Pooling is a mean for spectral and energy
channels, a max for onset strength (so short onsets survive), and a voiced-only
mean for pitch. The fine grid keeps feature statistics the same whatever the fps,
and makes chunked extraction of long files exact (chunks are cut on the fine grid
with enough context that every window sees the same samples as a one-shot pass).

Layout of the ``A = n_mfcc + 4`` columns (see ``AudioFeatureConfig.column_names``):
    0 .. n_mfcc-1  MFCC of the log-mel spectrum (absolute dB reference, not per clip)
    n_mfcc         onset strength: mean rectified rise of the log-mel spectrum, dB
    n_mfcc + 1     RMS energy, dB re full scale, floored at ``energy_floor_db``
    n_mfcc + 2     log2(f0 / fmin) from YIN over voiced fine frames, 0 where unvoiced
    n_mfcc + 3     voiced fraction 0..1 (periodicity and energy above thresholds)

With ``take_normalised`` (models from the any-voice rebuild) the whole recording's features
are then made relative to the recording itself (``normalise_take``): MFCC mean and variance
normalised over its speech frames, RMS in dB below its own speech level, pitch in semitones
about its own median, so the same words said higher, lower, louder or by another person give
the same kind of features; onset strength is a difference of logs and already is.
"""

from __future__ import annotations

import math
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import Iterator

import numpy as np


class AudioError(ValueError):
    """An audio file or signal that cannot be used."""


@dataclass(frozen=True)
class AudioFeatureConfig:
    sample_rate: int = 16000
    n_mfcc: int = 13
    n_mels: int = 40
    n_fft: int = 512
    hop_seconds: float = 0.01
    fmin: float = 60.0
    fmax: float = 400.0
    pitch_frame_length: int = 800
    mel_floor_db: float = -100.0
    energy_floor_db: float = -100.0
    voiced_min_db: float = -55.0
    voiced_min_periodicity: float = 0.5
    version: int = 1
    # True: each recording's features are normalised over that recording (normalise_take), so a
    # voice's pitch, timbre and level cannot identify a speaker; the issue-28 model is trained so
    take_normalised: bool = False

    @property
    def feature_dim(self) -> int:
        return self.n_mfcc + 4

    def dim(self, fps: float | None = None) -> int:
        """Feature width; independent of fps (accepted for call-site symmetry)."""
        return self.feature_dim

    @property
    def hop_length(self) -> int:
        return max(1, int(round(self.sample_rate * self.hop_seconds)))

    def column_names(self) -> list[str]:
        return [f"mfcc_{i}" for i in range(self.n_mfcc)] + ["onset", "rms_db", "log2_f0", "voiced"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AudioFeatureConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AudioError(f"Audio feature config has unknown keys {unknown}; it was written by a newer version.")
        return cls(**data)


def _describe(path) -> str:
    return f"'{os.fspath(path)}'"


# ---------------------------------------------------------------- reading files


# libsndfile reads these itself; anything else (m4a, aac, ...) goes through ffmpeg (audioread).
READABLE_FORMATS = "wav, flac, ogg, mp3 and aiff"
NEEDS_FFMPEG = (".m4a", ".aac", ".mp4", ".wma", ".webm")


def ffmpeg_missing_for(path) -> str | None:
    """One sentence when ``path`` has a format only ffmpeg reads and there is no ffmpeg on
    PATH (known from the name, before anything is read), else None."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in NEEDS_FFMPEG or shutil.which("ffmpeg") is not None:
        return None
    return (f"Audio file {_describe(path)} is {suffix[1:]}, which needs ffmpeg: install ffmpeg (on PATH) "
            f"or convert the file to {READABLE_FORMATS}, which are readable without it.")


def _unreadable(path, handle_error: BaseException) -> AudioError:
    hint = "" if shutil.which("ffmpeg") is not None else (
        f"; {READABLE_FORMATS} are readable, for m4a, aac and other formats install ffmpeg (on PATH)")
    return AudioError(f"Audio file {_describe(path)} is not a readable audio format "
                      f"({_first_line(handle_error)}){hint}.")


def _check_file(path) -> None:
    if not os.path.exists(path):
        raise AudioError(f"Audio file {_describe(path)} does not exist.")
    if os.path.isdir(path):
        raise AudioError(f"Audio path {_describe(path)} is a folder, not a file.")
    if os.path.getsize(path) == 0:
        raise AudioError(f"Audio file {_describe(path)} is empty (0 bytes).")
    missing = ffmpeg_missing_for(path)
    if missing:
        raise AudioError(missing)


def _open_soundfile(path):
    import soundfile as sf

    try:
        return sf.SoundFile(os.fspath(path))
    except Exception as exc:  # libsndfile reports every bad file as a RuntimeError subclass
        return exc


def _load_with_librosa(path, sr: int) -> np.ndarray:
    """Fallback for formats libsndfile cannot open (m4a, aac, ...), through librosa's
    audioread path; only tried when ffmpeg is installed, since audioread's other
    backends read nothing libsndfile does not."""
    if shutil.which("ffmpeg") is None:
        raise AudioError("no ffmpeg for the audioread fallback")
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples, _ = librosa.load(os.fspath(path), sr=sr, mono=True, res_type="soxr_hq")
    return samples.astype(np.float32, copy=False)


def _mono(block: np.ndarray) -> np.ndarray:
    if block.ndim == 2:
        block = block.mean(axis=1)
    return np.ascontiguousarray(block, dtype=np.float32)


def _resample(samples: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    if sr_in == sr_out:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples.astype(np.float32, copy=False), sr_in, sr_out, quality="HQ").astype(np.float32)


def _check_samples(samples: np.ndarray, path) -> np.ndarray:
    if samples.size == 0:
        raise AudioError(f"Audio file {_describe(path)} contains no samples.")
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"Audio file {_describe(path)} contains NaN or infinite samples.")
    return samples


def _soundfile_or_samples(path, sr: int):
    """(an open soundfile, None), or (None, the whole file decoded by librosa at ``sr``) where
    libsndfile cannot read it; neither: one sentence naming the readable formats."""
    handle = _open_soundfile(path)
    if not isinstance(handle, Exception):
        return handle, None
    try:
        return None, _load_with_librosa(path, sr)
    except Exception as exc:
        raise _unreadable(path, handle) from exc


def load_audio(path, sr: int = 16000) -> tuple[np.ndarray, int]:
    """Read any file libsndfile (wav, flac, ogg, mp3, ...) or audioread can decode,
    mix it down to mono and resample it to ``sr``. Returns (float32 samples, sr)."""
    _check_file(path)
    handle, samples = _soundfile_or_samples(path, sr)
    if handle is None:
        return _check_samples(samples, path), sr
    try:
        with handle:
            native_sr = handle.samplerate
            data = handle.read(dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"Audio file {_describe(path)} could not be decoded ({_first_line(exc)}).") from exc
    samples = _check_samples(_mono(data), path)
    return _resample(samples, native_sr, sr), sr


def _first_line(exc: BaseException) -> str:
    """The library's reason, without the file name it repeats ("Error opening 'x': ...")."""
    text = str(exc).strip().splitlines()
    if not text:
        return type(exc).__name__
    reason = text[0].split("': ", 1)[-1] if text[0].startswith("Error opening '") else text[0]
    return reason.strip().rstrip(".")


def audio_info(path) -> dict:
    """Duration (s), sample rate, channels and format of a file, read from its header
    when libsndfile knows the format."""
    _check_file(path)
    handle = _open_soundfile(path)
    if isinstance(handle, Exception):
        try:
            samples = _load_with_librosa(path, None)
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                native_sr = librosa.get_samplerate(os.fspath(path))
        except Exception as exc:
            raise _unreadable(path, handle) from exc
        _check_samples(samples, path)
        return {"duration": samples.size / native_sr, "sample_rate": int(native_sr), "channels": None,
                "format": os.path.splitext(os.fspath(path))[1].lstrip(".").upper() or "unknown"}
    with handle:
        if handle.frames <= 0:
            raise AudioError(f"Audio file {_describe(path)} contains no samples.")
        return {"duration": handle.frames / handle.samplerate, "sample_rate": int(handle.samplerate),
                "channels": int(handle.channels), "format": handle.format}


# ------------------------------------------------------------- fine-grid features


def _fine_features(samples: np.ndarray, cfg: AudioFeatureConfig) -> np.ndarray:
    """(K, A) features on the fine grid, frame k centred on sample k * hop,
    K = 1 + len(samples) // hop. Windows past the ends see zeros."""
    import librosa

    y = np.asarray(samples, dtype=np.float32)
    sr, hop = cfg.sample_rate, cfg.hop_length
    n_frames = 1 + y.size // hop

    with warnings.catch_warnings():  # clips shorter than n_fft: librosa warns, the zero padding is what we want
        warnings.simplefilter("ignore", UserWarning)
        power = librosa.feature.melspectrogram(
            y=y, sr=sr, n_fft=cfg.n_fft, hop_length=hop, n_mels=cfg.n_mels, power=2.0,
            center=True, pad_mode="constant",
        )[:, :n_frames]
        rms = librosa.feature.rms(y=y, frame_length=cfg.n_fft, hop_length=hop, center=True,
                                  pad_mode="constant")[0, :n_frames]
    log_mel = 10.0 * np.log10(np.maximum(power, 10.0 ** (cfg.mel_floor_db / 10.0)))
    mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc)

    onset = np.zeros(n_frames, dtype=np.float32)
    onset[1:] = np.maximum(np.diff(log_mel, axis=1), 0.0).mean(axis=0)

    rms_db = np.maximum(20.0 * np.log10(np.maximum(rms, 10.0 ** (cfg.energy_floor_db / 20.0))), cfg.energy_floor_db)

    log_f0, voiced = _pitch(y, cfg, n_frames, rms_db)
    stacked = np.concatenate(
        [mfcc, onset[None], rms_db[None], log_f0[None], voiced[None]], axis=0
    ).T.astype(np.float32)
    return np.nan_to_num(stacked, nan=0.0, posinf=0.0, neginf=cfg.mel_floor_db)


def _pitch(y: np.ndarray, cfg: AudioFeatureConfig, n_frames: int, rms_db: np.ndarray):
    """YIN f0 plus a voiced flag: normalized autocorrelation at the YIN period above
    a threshold (YIN itself always answers a period, even for noise) and enough energy."""
    import librosa

    sr, hop, length = cfg.sample_rate, cfg.hop_length, cfg.pitch_frame_length
    padded = np.pad(y, length // 2)
    if padded.size < length:
        padded = np.pad(padded, (0, length - padded.size))
    frames = librosa.util.frame(padded, frame_length=length, hop_length=hop)[:, :n_frames]
    if frames.shape[1] < n_frames:  # tiny inputs: the last frames see only padding
        frames = np.pad(frames, ((0, 0), (0, n_frames - frames.shape[1])))
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0 = librosa.yin(padded, fmin=cfg.fmin, fmax=cfg.fmax, sr=sr, frame_length=length,
                         hop_length=hop, center=False)[:n_frames]
    if f0.size < n_frames:
        f0 = np.pad(f0, (0, n_frames - f0.size), constant_values=cfg.fmin)
    f0 = np.clip(np.nan_to_num(f0, nan=cfg.fmin), cfg.fmin, cfg.fmax)

    max_period = int(math.ceil(sr / cfg.fmin))
    width = length - max_period
    period = np.clip(np.round(sr / f0).astype(np.int64), 1, max_period)
    head = frames[:width]
    lagged = np.take_along_axis(frames, period[None, :] + np.arange(width)[:, None], axis=0)
    energy = np.sqrt((head * head).sum(0) * (lagged * lagged).sum(0))
    periodicity = np.where(energy > 1e-12, (head * lagged).sum(0) / np.maximum(energy, 1e-12), 0.0)

    voiced = (periodicity > cfg.voiced_min_periodicity) & (rms_db > cfg.voiced_min_db)
    log_f0 = np.where(voiced, np.log2(f0 / cfg.fmin), 0.0)
    return log_f0.astype(np.float32), voiced.astype(np.float32)


# ------------------------------------------------------------ pooling to motion fps


def _pool_to_motion(fine: np.ndarray, cfg: AudioFeatureConfig, fps: float, n_out: int) -> np.ndarray:
    # exact rational arithmetic: fine frames fall exactly on window edges (every 5th at
    # 30 fps), and float rounding would assign them differently at different offsets
    rate = Fraction(fps).limit_denominator(1000)
    numerator = 2 * np.arange(fine.shape[0], dtype=np.int64) * cfg.hop_length * rate.numerator
    bins = (numerator + cfg.sample_rate * rate.denominator) // (2 * cfg.sample_rate * rate.denominator)
    keep = bins < n_out
    bins, fine = bins[keep], fine[keep].astype(np.float64)
    n_mfcc = cfg.n_mfcc
    onset_col, rms_col, f0_col, voiced_col = n_mfcc, n_mfcc + 1, n_mfcc + 2, n_mfcc + 3

    counts = np.bincount(bins, minlength=n_out).astype(np.float64)
    out = np.zeros((n_out, fine.shape[1]), dtype=np.float64)
    for col in list(range(n_mfcc)) + [rms_col, voiced_col]:
        out[:, col] = np.bincount(bins, weights=fine[:, col], minlength=n_out)
    out[:, : rms_col + 1] /= np.maximum(counts, 1.0)[:, None]
    out[:, voiced_col] /= np.maximum(counts, 1.0)
    onset = np.full(n_out, -np.inf)
    np.maximum.at(onset, bins, fine[:, onset_col])
    out[:, onset_col] = onset
    voiced_count = np.bincount(bins, weights=fine[:, voiced_col], minlength=n_out)
    pitch_sum = np.bincount(bins, weights=fine[:, f0_col] * fine[:, voiced_col], minlength=n_out)
    out[:, f0_col] = np.where(voiced_count > 0, pitch_sum / np.maximum(voiced_count, 1.0), 0.0)

    empty = counts == 0
    if empty.any():  # only when fps exceeds the fine rate: borrow the nearest filled bin
        filled = np.flatnonzero(~empty)
        nearest = filled[np.clip(np.searchsorted(filled, np.flatnonzero(empty)), 0, filled.size - 1)]
        out[empty] = out[nearest]
    return out.astype(np.float32)


# Over the two training recordings' speech frames (ZEGGS 067 and BEAT 2_scott, original pitch):
# used for a recording with under MIN_SPEECH_FRAMES of speech (silence), so silence keeps
# looking like silence instead of being stretched to unit variance.
REFERENCE_MFCC_MEAN = np.array([-218.95, 66.37, 3.84, 17.97, 1.36, -10.5, -8.87, -3.1, -5.28, -5.79, -3.02, -6.44,
                                -2.66], np.float32)
REFERENCE_MFCC_STD = np.array([68.14, 45.45, 27.95, 26.15, 20.82, 14.52, 12.9, 12.89, 10.81, 11.05, 7.17, 8.78, 6.93],
                              np.float32)
MIN_SPEECH_FRAMES = 15
SPEECH_GATE_DB = 30.0  # frames within this of the recording's speech level count as speech
QUIETEST_SPEECH_LEVEL_DB = -45.0  # a recording whose loud frames are quieter than this is silence
NORMALISED_LIMIT = 5.0


def speech_level_db(rms_db: np.ndarray) -> float:
    """The recording's speech level: the 95th percentile of its frames' RMS dB, at least
    QUIETEST_SPEECH_LEVEL_DB (so digital silence is not lifted to speech)."""
    return max(float(np.percentile(rms_db, 95)) if rms_db.size else -100.0, QUIETEST_SPEECH_LEVEL_DB)


def normalise_take(features: np.ndarray, cfg: AudioFeatureConfig) -> np.ndarray:
    """Features (F, A) of one whole recording made relative to that recording (see the module
    docstring); a no-op unless ``cfg.take_normalised``."""
    if not cfg.take_normalised or not len(features):
        return features
    out = np.array(features, dtype=np.float32, copy=True)
    n = cfg.n_mfcc
    rms_col, f0_col, voiced_col = n + 1, n + 2, n + 3
    level = speech_level_db(out[:, rms_col])
    speech = out[:, rms_col] > level - SPEECH_GATE_DB
    mfcc = out[:, :n]
    if speech.sum() >= MIN_SPEECH_FRAMES:
        mean, std = mfcc[speech].mean(axis=0), mfcc[speech].std(axis=0)
    else:
        mean, std = REFERENCE_MFCC_MEAN[:n], REFERENCE_MFCC_STD[:n]
    out[:, :n] = np.clip((mfcc - mean) / np.maximum(std, 1e-3), -NORMALISED_LIMIT, NORMALISED_LIMIT)
    out[:, rms_col] = np.clip(out[:, rms_col] - level, -60.0, 10.0) / 10.0
    voiced = out[:, voiced_col] > 0.5
    if voiced.any():
        median = float(np.median(out[voiced, f0_col]))
        out[:, f0_col] = np.where(out[:, voiced_col] > 0, np.clip(12.0 * (out[:, f0_col] - median), -24, 24) / 6.0,
                                  0.0)
    else:
        out[:, f0_col] = 0.0
    return out


def _frame_count(n_samples: int, sr: int, fps: float) -> int:
    return int(round(n_samples / sr * fps))


def _check_fps(fps: float) -> float:
    fps = float(fps)
    if not (math.isfinite(fps) and fps > 0):
        raise AudioError(f"Motion frame rate must be a positive number, got {fps}.")
    return fps


def audio_features(samples: np.ndarray, sr: int, fps: float, n_frames: int | None = None,
                   config: AudioFeatureConfig | None = None) -> np.ndarray:
    """Per-motion-frame features (F, config.feature_dim) float32 of a mono signal.
    F = round(duration * fps), or ``n_frames`` (audio zero-padded or cut to fit)."""
    cfg = config or AudioFeatureConfig()
    fps = _check_fps(fps)
    y = np.asarray(samples, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0 if y.shape[0] < y.shape[1] else 1)
    if y.ndim != 1:
        raise AudioError(f"Audio samples must be a 1-D array (or channels x samples), got shape {y.shape}.")
    y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    y = _resample(y, int(sr), cfg.sample_rate)
    if n_frames is None:
        n_out = _frame_count(y.size, cfg.sample_rate, fps)
    else:
        n_out = int(n_frames)
        needed = int(math.ceil(n_out / fps * cfg.sample_rate))
        if y.size < needed:  # longer audio is kept whole: its last frames still see real context
            y = np.pad(y, (0, needed - y.size))
    if n_out <= 0:
        return np.zeros((0, cfg.feature_dim), dtype=np.float32)
    return normalise_take(_pool_to_motion(_fine_features(y, cfg), cfg, fps, n_out), cfg)


# ---------------------------------------------------------------- long files


def _iter_file_blocks(path, target_sr: int, block_frames: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks of the file at ``target_sr``; streaming resampler, so the
    concatenation equals resampling the whole file (up to the resampler's rounding)."""
    handle, samples = _soundfile_or_samples(path, target_sr)
    if handle is None:
        for start in range(0, samples.size, block_frames):
            yield samples[start:start + block_frames]
        return
    import soxr

    with handle:
        native_sr = handle.samplerate
        stream = None if native_sr == target_sr else soxr.ResampleStream(native_sr, target_sr, 1, dtype="float32", quality="HQ")
        try:
            while True:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
                last = block.shape[0] < block_frames
                mono = _mono(block)
                if not np.all(np.isfinite(mono)):
                    raise AudioError(f"Audio file {_describe(path)} contains NaN or infinite samples.")
                if stream is not None:
                    mono = stream.resample_chunk(mono, last=last)
                if mono.size:
                    yield mono
                if last:
                    return
        except AudioError:
            raise
        except Exception as exc:
            raise AudioError(f"Audio file {_describe(path)} could not be decoded ({_first_line(exc)}).") from exc


def _fine_features_streaming(blocks: Iterator[np.ndarray], cfg: AudioFeatureConfig,
                             chunk_seconds: float) -> tuple[np.ndarray, int]:
    """Fine-grid features of a block stream, computed chunk by chunk. Each chunk is
    cut on the fine grid and padded with ``context`` real samples on both sides, so
    its frames see exactly what a one-shot pass would. Returns (features, n_samples)."""
    hop = cfg.hop_length
    frames_per_chunk = max(1, int(round(chunk_seconds * cfg.sample_rate / hop)))
    context = hop * int(math.ceil((max(cfg.n_fft, cfg.pitch_frame_length) // 2 + 2 * hop) / hop))

    pieces: list[np.ndarray] = []
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0  # absolute sample index of buffer[0]
    next_frame = 0
    total = 0

    def emit(first: int, count: int, stream_end: int | None) -> None:
        centre = first * hop
        seg_start = max(0, centre - context)
        seg_stop = centre + (count - 1) * hop + context + 1
        if stream_end is not None:
            seg_stop = min(seg_stop, stream_end)
        segment = buffer[seg_start - buffer_start: seg_stop - buffer_start]
        fine = _fine_features(segment, cfg)
        offset = (centre - seg_start) // hop
        pieces.append(fine[offset:offset + count])

    for block in blocks:
        buffer = np.concatenate([buffer, block])
        total += block.size
        while total >= (next_frame + frames_per_chunk - 1) * hop + context + 1:
            emit(next_frame, frames_per_chunk, None)
            next_frame += frames_per_chunk
            drop = max(0, next_frame * hop - context - buffer_start)
            buffer, buffer_start = buffer[drop:], buffer_start + drop
    if total == 0:
        return np.zeros((0, cfg.feature_dim), dtype=np.float32), 0
    last_frame = total // hop  # one-shot pass has 1 + total // hop frames
    if next_frame <= last_frame:
        emit(next_frame, last_frame - next_frame + 1, total)
    return np.concatenate(pieces, axis=0), total


def audio_features_from_file(path, fps: float, config: AudioFeatureConfig | None = None,
                             chunk_seconds: float = 60.0, n_frames: int | None = None) -> np.ndarray:
    """``audio_features`` of a file, decoded, resampled and analysed ``chunk_seconds``
    at a time so memory stays bounded for long recordings."""
    cfg = config or AudioFeatureConfig()
    fps = _check_fps(fps)
    if not chunk_seconds > 0:
        raise AudioError(f"chunk_seconds must be positive, got {chunk_seconds}.")
    _check_file(path)
    block_frames = 1 << 16
    fine, total = _fine_features_streaming(_iter_file_blocks(path, cfg.sample_rate, block_frames), cfg, chunk_seconds)
    if total == 0:
        raise AudioError(f"Audio file {_describe(path)} contains no samples.")
    n_out = _frame_count(total, cfg.sample_rate, fps) if n_frames is None else int(n_frames)
    if n_out <= 0:
        return np.zeros((0, cfg.feature_dim), dtype=np.float32)
    if n_frames is not None:
        fine = _extend_with_silence(fine, cfg, n_out / fps, total)
    return normalise_take(_pool_to_motion(fine, cfg, fps, n_out), cfg)


def _extend_with_silence(fine: np.ndarray, cfg: AudioFeatureConfig, seconds: float, total: int) -> np.ndarray:
    """Fine frames past the end of the file, as if the file went on in silence."""
    needed = 1 + int(math.ceil(seconds * cfg.sample_rate)) // cfg.hop_length
    if needed <= fine.shape[0]:
        return fine
    silence = _fine_features(np.zeros(cfg.hop_length * 4, dtype=np.float32), cfg)[2]
    return np.concatenate([fine, np.repeat(silence[None], needed - fine.shape[0], axis=0)], axis=0)


def loudness_envelope(samples: np.ndarray, sr: int, fps: float, n_frames: int | None = None) -> np.ndarray:
    """Linear RMS of the speech per motion frame (frame i centred on i / fps)."""
    samples = np.asarray(samples, dtype=np.float64)
    hop = sr / fps
    n_frames = int(round(len(samples) / hop)) if n_frames is None else int(n_frames)
    half = int(round(hop))  # window of two hops: every sample counts, neighbours overlap by half
    squared = np.concatenate([[0.0], np.cumsum(samples ** 2)])
    centres = np.round(np.arange(n_frames) * hop).astype(np.int64)
    lo = np.clip(centres - half, 0, len(samples))
    hi = np.clip(centres + half, 0, len(samples))
    energy = (squared[hi] - squared[lo]) / np.maximum(hi - lo, 1)
    return np.sqrt(np.maximum(energy, 0.0))
