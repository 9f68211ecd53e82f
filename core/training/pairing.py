"""Synthetic speech for motion capture that has none.

The default model is trained on motion capture clips without audio (Bandai Namco), so
each clip is paired with a speech track built to follow its gestures. The wrist speed
of the clip (per frame, the faster of the two wrists, from forward kinematics) is
smoothed with a Gaussian (sigma 70 ms) and its peaks, at least 0.3 s apart, with a
prominence of at least 20 % of the clip's 5th-95th percentile speed range and not
during rest, are taken as gesture strokes. A corpus of short real speech segments
(syllables and short words, 0.15-0.6 s, cut at backtracked onsets of real recordings
and, when eSpeak NG is installed, of synthetic renderings in several voices and
rates) supplies the sound: at
every stroke a randomly drawn segment is placed so that its stressed onset (the
strongest onset-strength peak inside it) lands exactly on the stroke time. The gaps
between strokes are filled with further, quieter segments separated by random pauses,
with a density and loudness proportional to the clip's activity (wrist speed smoothed
over 0.5 s, relative to its 95th percentile); where the hands rest (smoothed speed
below 15 % of that percentile, or below an explicit ``rest_speed``) there is silence.
Stressed segments are louder where the hands move faster, so the track's loudness
(RMS smoothed over 0.5 s) follows wrist speed and its onsets coincide with strokes,
the two audio-gesture relations speech-driven models are expected to learn. Every
random choice comes from one ``numpy.random.Generator``, so a seed reproduces the
waveform exactly for the same corpus.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d, uniform_filter1d
from scipy.signal import find_peaks, lfilter

from ..audio.features import load_audio

ONSET_HOP_SECONDS = 0.01
FADE_SECONDS = 0.005


class PairingError(ValueError):
    """Inputs the synthetic pairing cannot work with."""


@dataclass
class SpeechCorpus:
    """Short speech segments, each unit-RMS float32, with the sample offset of its
    strongest onset (its stressed beat) from the segment start."""

    sr: int
    segments: list[np.ndarray]
    peak_offsets: np.ndarray  # (N,) int, samples
    rms: np.ndarray  # (N,) RMS of the segment before normalisation
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.segments)

    @classmethod
    def from_signals(cls, signals: Iterable[np.ndarray], sr: int = 16000, sources: Sequence[str] = (),
                     min_seconds: float = 0.15, max_seconds: float = 0.6) -> "SpeechCorpus":
        segments, offsets, levels = [], [], []
        for signal in signals:
            for segment, offset, level in _cut_segments(np.asarray(signal, dtype=np.float32), sr,
                                                        min_seconds, max_seconds):
                segments.append(segment)
                offsets.append(offset)
                levels.append(level)
        if not segments:
            raise PairingError("The speech corpus yielded no segments between 0.15 and 0.6 s; give it longer speech recordings.")
        return cls(sr, segments, np.asarray(offsets, dtype=np.int64), np.asarray(levels, dtype=np.float32), list(sources))

    @classmethod
    def from_files(cls, paths: Iterable[os.PathLike | str], sr: int = 16000, **cut) -> "SpeechCorpus":
        paths = [Path(p) for p in paths]
        if not paths:
            raise PairingError("The speech corpus needs at least one recording, and none was given.")
        signals = [load_audio(path, sr)[0] for path in paths]
        return cls.from_signals(signals, sr, sources=[p.name for p in paths], **cut)

    @classmethod
    def from_espeak(cls, texts: Sequence[str] | None = None, voices: Sequence[str] | None = None,
                    rates: Sequence[int] = (130, 160, 190), sr: int = 16000) -> "SpeechCorpus":
        """Renderings of our own sentences by eSpeak NG in several voices and rates."""
        if shutil.which("espeak-ng") is None:
            raise PairingError("espeak-ng is not installed, so no synthetic speech corpus can be rendered.")
        texts = list(texts or ESPEAK_TEXTS)
        voices = list(voices or ESPEAK_VOICES)
        signals, names = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for v, voice in enumerate(voices):
                for r, rate in enumerate(rates):
                    path = Path(tmp) / f"{v}_{r}.wav"
                    subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate), "-w", str(path), texts[(v + r) % len(texts)]],
                                   check=True, timeout=60, capture_output=True)
                    signals.append(load_audio(path, sr)[0])
                    names.append(f"espeak-ng:{voice}@{rate}")
        return cls.from_signals(signals, sr, sources=names)

    @classmethod
    def synthetic(cls, seed: int = 0, seconds: float = 40.0, sr: int = 16000) -> "SpeechCorpus":
        """Fallback when no recording is at hand: formant-filtered pulse-train syllables."""
        babble = synthetic_babble(np.random.default_rng(seed), seconds, sr)
        return cls.from_signals([babble], sr, sources=[f"synthetic-babble:seed={seed}"])

    def merged(self, other: "SpeechCorpus") -> "SpeechCorpus":
        if other.sr != self.sr:
            raise PairingError(f"Cannot merge speech corpora at {self.sr} Hz and {other.sr} Hz.")
        return SpeechCorpus(self.sr, self.segments + other.segments,
                            np.concatenate([self.peak_offsets, other.peak_offsets]),
                            np.concatenate([self.rms, other.rms]), self.sources + other.sources)


ESPEAK_TEXTS = (
    "Well, I think we should try it this way, and then see what happens next.",
    "No, listen to me. This is important, really important, and I mean it.",
    "So first you take the big one, put it over there, and then the small one here.",
    "Oh, that is wonderful news! I am so happy for you, honestly.",
    "I do not know. Maybe tomorrow, maybe never. It is hard to say right now.",
    "Look at this! Up, down, left, right, and around again, faster and faster.",
)
ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029+f2", "en-gb-x-rp+m3")


def default_corpus(speech_paths: Sequence[os.PathLike | str] = (), use_espeak: bool = True,
                   sr: int = 16000, seed: int = 0) -> SpeechCorpus:
    """Real recordings when given, plus eSpeak NG renderings when installed; the synthetic
    babble only when neither is available. ``corpus.sources`` records what went in."""
    corpus = SpeechCorpus.from_files(speech_paths, sr) if speech_paths else None
    if use_espeak and shutil.which("espeak-ng") is not None:
        rendered = SpeechCorpus.from_espeak(sr=sr)
        corpus = rendered if corpus is None else corpus.merged(rendered)
    return corpus if corpus is not None else SpeechCorpus.synthetic(seed, sr=sr)


# ------------------------------------------------------------------ corpus cutting


def _onset_envelope(signal: np.ndarray, sr: int) -> tuple[np.ndarray, int]:
    import librosa

    hop = int(round(sr * ONSET_HOP_SECONDS))
    envelope = librosa.onset.onset_strength(y=signal, sr=sr, hop_length=hop, n_fft=512, n_mels=40)
    return envelope, hop


def _cut_segments(signal: np.ndarray, sr: int, min_seconds: float, max_seconds: float):
    """Yield (unit-RMS segment with fades, stressed-onset offset in samples, raw RMS)."""
    import librosa

    if signal.size < int(min_seconds * sr):
        return
    envelope, hop = _onset_envelope(signal, sr)
    starts = librosa.onset.onset_detect(onset_envelope=envelope, sr=sr, hop_length=hop, backtrack=True, units="frames")
    bounds = list(starts) + [len(envelope)]
    frame_rms = np.sqrt(np.maximum(uniform_filter1d(signal.astype(np.float64) ** 2, hop * 5), 0.0))
    speech_level = np.percentile(frame_rms, 90)
    min_len, max_len = int(min_seconds * sr), int(max_seconds * sr)
    fade = int(FADE_SECONDS * sr)
    for first, stop in zip(bounds[:-1], bounds[1:]):
        start_sample = first * hop
        length = min((stop - first) * hop, max_len, signal.size - start_sample)
        if length < min_len:
            continue
        segment = signal[start_sample:start_sample + length].astype(np.float64)
        level = float(np.sqrt(np.mean(segment ** 2)))
        if level < 0.1 * speech_level:  # a pause or breath, not a syllable
            continue
        peak = first + int(np.argmax(envelope[first:first + length // hop]))
        offset = (peak - first) * hop
        if offset > length - fade * 4:
            continue
        segment[:fade] *= np.linspace(0.0, 1.0, fade)
        segment[-fade:] *= np.linspace(1.0, 0.0, fade)
        yield (segment / max(level, 1e-9)).astype(np.float32), offset, level


def synthetic_babble(rng: np.random.Generator, seconds: float, sr: int = 16000) -> np.ndarray:
    """Speech-like signal: syllables (a glottal pulse train through two vowel formants,
    sometimes led by a noise consonant) at a syllabic rate, separated by short pauses."""
    out = np.zeros(int(seconds * sr), dtype=np.float64)
    cursor = int(0.1 * sr)
    vowels = ((730, 1090), (270, 2290), (530, 1840), (570, 840), (300, 870), (660, 1720))
    while cursor < out.size - sr // 2:
        length = int(rng.uniform(0.14, 0.35) * sr)
        t = np.arange(length) / sr
        f0 = rng.uniform(95, 220) * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 4) * t))
        pulses = np.diff(np.floor(np.cumsum(f0) / sr), prepend=0.0)
        voice = pulses.copy()
        for formant in vowels[rng.integers(len(vowels))]:
            voice = _resonate(voice, formant, 80.0, sr)
        envelope = np.minimum(t / 0.012, 1.0) * np.exp(-t / rng.uniform(0.08, 0.25))
        syllable = voice * envelope
        if rng.random() < 0.5:
            burst = int(0.03 * sr)
            syllable[:burst] += rng.standard_normal(burst) * np.exp(-np.arange(burst) / (0.008 * sr)) * np.abs(voice).max()
        syllable *= rng.uniform(0.4, 1.0) / max(1e-9, np.abs(syllable).max())
        out[cursor:cursor + length] += syllable[: out.size - cursor]
        cursor += length + int(rng.choice([rng.uniform(0.04, 0.12), rng.uniform(0.25, 0.6)], p=[0.8, 0.2]) * sr)
    return (0.5 * out / max(1e-9, np.abs(out).max())).astype(np.float32)


def _resonate(signal: np.ndarray, frequency: float, bandwidth: float, sr: int) -> np.ndarray:
    radius = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * frequency / sr
    return lfilter([1.0 - radius], [1.0, -2 * radius * np.cos(theta), radius ** 2], signal)


# ------------------------------------------------------------------ motion analysis


def motion_activity(wrist_speed: np.ndarray, fps: float, rest_speed: float | None = None,
                    window_seconds: float = 0.5) -> np.ndarray:
    """(F,) 0..1: wrist speed smoothed over ``window_seconds`` relative to its 95th
    percentile, 0 where it is below ``rest_speed`` (default 15 % of that percentile)."""
    smooth = uniform_filter1d(np.asarray(wrist_speed, dtype=np.float64), max(1, int(round(window_seconds * fps))), mode="nearest")
    top = np.percentile(smooth, 95)
    if top <= 1e-9:
        return np.zeros_like(smooth)
    rest = 0.15 * top if rest_speed is None else rest_speed
    return np.where(smooth < rest, 0.0, np.clip(smooth / top, 0.0, 1.0))


def find_strokes(wrist_speed: np.ndarray, fps: float, stroke_prominence: float = 0.2,
                 min_gap_seconds: float = 0.3, rest_speed: float | None = None) -> np.ndarray:
    """Frame indices of gesture strokes: peaks of wrist speed smoothed over ~0.2 s whose
    prominence is at least ``stroke_prominence`` of the clip's 5-95th percentile range."""
    speed = np.asarray(wrist_speed, dtype=np.float64)
    smooth = gaussian_filter1d(speed, sigma=max(0.5, 0.07 * fps), mode="nearest")
    low, high = np.percentile(smooth, [5, 95])
    if high - low <= 1e-9:
        return np.zeros(0, dtype=np.int64)
    peaks, _ = find_peaks(smooth, prominence=stroke_prominence * (high - low),
                          distance=max(1, int(round(min_gap_seconds * fps))))
    active = motion_activity(speed, fps, rest_speed)
    return peaks[active[peaks] > 0].astype(np.int64)


# ------------------------------------------------------------------ pairing


def pair_audio_to_motion(wrist_speed: np.ndarray, fps: float, corpus: SpeechCorpus,
                         rng: np.random.Generator, rest_speed: float | None = None,
                         strokes: np.ndarray | None = None) -> np.ndarray:
    """A speech waveform (float32, corpus.sr, length round(F / fps * sr)) whose stressed
    onsets land on the clip's strokes and whose loudness follows its wrist speed."""
    speed = np.asarray(wrist_speed, dtype=np.float64)
    if speed.ndim != 1 or speed.size == 0:
        raise PairingError(f"Wrist speed must be a non-empty 1-D array, got shape {speed.shape}.")
    if not np.all(np.isfinite(speed)):
        raise PairingError("Wrist speed contains NaN or infinite values.")
    if not fps > 0:
        raise PairingError(f"Motion frame rate must be positive, got {fps}.")
    sr = corpus.sr
    n = int(round(speed.size / fps * sr))
    out = np.zeros(n, dtype=np.float64)
    activity = motion_activity(speed, fps, rest_speed)
    if strokes is None:
        strokes = find_strokes(speed, fps, rest_speed=rest_speed)

    def activity_at(sample: int) -> float:
        return float(activity[min(speed.size - 1, int(sample / sr * fps))])

    occupied = _place_stressed(out, strokes, fps, corpus, rng, activity)
    _fill_between(out, occupied, corpus, rng, activity_at)
    peak = np.abs(out).max()
    if peak > 0.95:
        out *= 0.95 / peak
    return out.astype(np.float32)


STRESSED_LEVEL = 0.12  # RMS of a stressed segment at full activity (about -18 dBFS)
FILLER_LEVEL = 0.045
MIN_PRE_ONSET_GAP = 0.06  # s of silence kept before a stressed segment so its onset stands out


def _add(out: np.ndarray, segment: np.ndarray, start: int, gain: float) -> None:
    stop = min(out.size, start + segment.size)
    if start < 0:
        segment, start = segment[-start:], 0
    if stop > start:
        out[start:stop] += gain * segment[: stop - start]


def _place_stressed(out, strokes, fps, corpus, rng, activity) -> list[tuple[int, int]]:
    """Put one segment on each stroke, its stressed onset on the stroke sample, trimming
    tails so a segment never runs into the next stroke's segment."""
    sr = corpus.sr
    placed: list[tuple[int, int]] = []
    stroke_samples = [int(round(s / fps * sr)) for s in strokes]
    previous_end = 0
    guard = int(MIN_PRE_ONSET_GAP * sr)
    for i, (frame, onset) in enumerate(zip(strokes, stroke_samples)):
        room_before = onset - previous_end
        index = _draw(corpus, rng, max_offset=room_before)
        segment = corpus.segments[index]
        start = onset - int(corpus.peak_offsets[index])
        if start < previous_end:  # nothing fits: cut the head, keep the stressed beat
            segment, start = _fade_in(segment[previous_end - start:], sr), previous_end
        if i + 1 < len(stroke_samples):
            limit = stroke_samples[i + 1] - guard - int(0.05 * sr) - start
            if segment.size > limit:
                segment = _fade_out(segment[:max(limit, 1)], sr)
        gain = STRESSED_LEVEL * (0.5 + 0.5 * activity[int(frame)]) * rng.uniform(0.85, 1.15)
        _add(out, segment, start, gain)
        placed.append((start, start + segment.size))
        previous_end = start + segment.size
    return placed


def _draw(corpus: SpeechCorpus, rng: np.random.Generator, max_offset: int | None = None, tries: int = 12) -> int:
    for _ in range(tries):
        index = int(rng.integers(len(corpus)))
        if max_offset is None or corpus.peak_offsets[index] <= max_offset:
            return index
    return int(np.argmin(corpus.peak_offsets))


def _fade_in(segment: np.ndarray, sr: int) -> np.ndarray:
    fade = min(segment.size, int(FADE_SECONDS * sr))
    segment = segment.copy()
    segment[:fade] *= np.linspace(0.0, 1.0, fade)
    return segment


def _fade_out(segment: np.ndarray, sr: int) -> np.ndarray:
    fade = min(segment.size, int(FADE_SECONDS * sr))
    segment = segment.copy()
    segment[segment.size - fade:] *= np.linspace(1.0, 0.0, fade)
    return segment


def _fill_between(out, occupied, corpus, rng, activity_at) -> None:
    """Quieter segments in the gaps, denser and louder where the hands move more."""
    sr = corpus.sr
    guard = int(MIN_PRE_ONSET_GAP * sr)
    step = int(0.05 * sr)
    blocked = sorted(occupied)
    cursor, b = 0, 0
    while cursor < out.size:
        while b < len(blocked) and blocked[b][1] <= cursor:
            b += 1
        if b < len(blocked) and blocked[b][0] - guard <= cursor:
            cursor = blocked[b][1] + int(rng.uniform(0.03, 0.08) * sr)
            continue
        level = activity_at(cursor)
        if level <= 0.0:
            cursor += step
            continue
        index = int(rng.integers(len(corpus)))
        segment = corpus.segments[index]
        room = (blocked[b][0] - guard if b < len(blocked) else out.size) - cursor
        if room < int(0.12 * sr):
            cursor += step
            continue
        if segment.size > room:
            segment = _fade_out(segment[:room], sr)
        _add(out, segment, cursor, FILLER_LEVEL * level * rng.uniform(0.7, 1.1))
        pause = rng.uniform(0.03, 0.12) + rng.exponential(0.25) * (1.0 - level)
        cursor += segment.size + int(pause * sr)
