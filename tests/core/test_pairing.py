import shutil

import librosa
import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from ohgesture.core.training import pairing
from ohgesture.core.audio.features import audio_features
from ohgesture.core.training.pairing import (
    PairingError,
    SpeechCorpus,
    default_corpus,
    find_strokes,
    motion_activity,
    pair_audio_to_motion,
)

FPS = 30
SR = 16000
REST = [(12.0, 18.0), (28.0, 31.0)]  # seconds where the synthetic hands rest


def synthetic_wrist_speed(seed: int = 0, seconds: float = 40.0):
    """Gaussian speed bumps (strokes) of random height every 0.6-1.4 s, none in REST."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    strokes, s = [], 1.0
    while s < seconds - 1.0:
        if not any(a - 0.5 < s < b + 0.5 for a, b in REST):
            strokes.append(s)
        s += rng.uniform(0.6, 1.4)
    speed = 3.0 + rng.uniform(0.0, 1.0, t.size)
    for stroke, height in zip(strokes, rng.uniform(30.0, 120.0, len(strokes))):
        speed += height * np.exp(-0.5 * ((t - stroke) / 0.12) ** 2)
    return speed, np.round(np.array(strokes) * FPS).astype(int)


@pytest.fixture(scope="module")
def synthetic_corpus():
    return SpeechCorpus.synthetic(seed=0)


def _check_pairing(corpus: SpeechCorpus) -> None:
    speed, true_strokes = synthetic_wrist_speed()
    strokes = find_strokes(speed, FPS)
    audio = pair_audio_to_motion(speed, FPS, corpus, np.random.default_rng(3))
    assert audio.dtype == np.float32 and audio.size == int(round(speed.size / FPS * SR))
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 0.95 + 1e-6

    onsets = librosa.onset.onset_detect(y=audio, sr=SR, hop_length=160, units="time")
    distance_frames = np.array([np.abs(onsets - s / FPS).min() for s in true_strokes]) * FPS
    assert np.mean(distance_frames <= 2) >= 0.8, distance_frames
    # control: the same clip paired to strokes 8 frames late misses the true strokes
    late = pair_audio_to_motion(speed, FPS, corpus, np.random.default_rng(3), strokes=true_strokes + 8)
    late_onsets = librosa.onset.onset_detect(y=late, sr=SR, hop_length=160, units="time")
    late_distance = np.array([np.abs(late_onsets - s / FPS).min() for s in true_strokes]) * FPS
    assert np.mean(late_distance <= 2) < 0.6

    rms = librosa.feature.rms(y=audio, frame_length=512, hop_length=160)[0]
    rms_at_frames = np.interp(np.arange(speed.size) / FPS, np.arange(rms.size) * 0.01, rms)
    half_second = FPS // 2
    correlation = np.corrcoef(uniform_filter1d(rms_at_frames, half_second), uniform_filter1d(speed, half_second))[0, 1]
    assert correlation > 0.5, correlation

    for a, b in REST:  # resting hands: silence (away from the edges of the rest)
        assert np.abs(audio[int((a + 0.8) * SR): int((b - 0.8) * SR)]).max() < 1e-6

    again = pair_audio_to_motion(speed, FPS, corpus, np.random.default_rng(3))
    other = pair_audio_to_motion(speed, FPS, corpus, np.random.default_rng(4))
    assert np.array_equal(audio, again)
    assert not np.array_equal(audio, other)

    features = audio_features(audio, SR, FPS)
    assert features.shape == (speed.size, 17) and np.isfinite(features).all()


def test_pairing_with_synthetic_corpus(synthetic_corpus):
    assert len(synthetic_corpus) > 50
    _check_pairing(synthetic_corpus)


def test_pairing_with_real_speech(speech_wavs):
    real_corpus = SpeechCorpus.from_files(speech_wavs)
    assert len(real_corpus) > 200 and len(real_corpus.sources) == 3
    lengths = np.array([s.size for s in real_corpus.segments]) / SR
    assert lengths.min() >= 0.15 and lengths.max() <= 0.6
    assert np.all(real_corpus.peak_offsets < np.array([s.size for s in real_corpus.segments]))
    _check_pairing(real_corpus)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_pairing_with_espeak_corpus():
    corpus = SpeechCorpus.from_espeak(voices=("en-us", "en-gb+f3"), rates=(140, 180))
    assert len(corpus) > 30 and corpus.sources[0].startswith("espeak-ng:")
    _check_pairing(corpus)


def test_find_strokes_recovers_known_strokes():
    speed, true_strokes = synthetic_wrist_speed(seed=5)
    found = find_strokes(speed, FPS)
    assert len(found) == len(true_strokes)
    assert np.abs(found - true_strokes).max() <= 1


def test_activity_is_zero_at_rest_and_scales_with_speed():
    speed, _ = synthetic_wrist_speed()
    activity = motion_activity(speed, FPS)
    assert activity.min() == 0.0 and activity.max() == 1.0
    assert (activity[int(13 * FPS): int(17 * FPS)] == 0).all()
    assert (motion_activity(np.zeros(100), FPS) == 0).all()


def test_still_or_tiny_clips_give_silence_of_the_right_length(synthetic_corpus):
    rng = np.random.default_rng(0)
    still = pair_audio_to_motion(np.zeros(90), FPS, synthetic_corpus, rng)
    assert still.shape == (3 * SR,) and not still.any()
    one = pair_audio_to_motion(np.array([5.0]), FPS, synthetic_corpus, rng)
    assert one.size == int(round(SR / FPS)) and np.isfinite(one).all()


def test_bad_inputs_raise_pairing_error(synthetic_corpus):
    rng = np.random.default_rng(0)
    for speed, fps in ((np.zeros(0), FPS), (np.zeros((5, 2)), FPS), (np.array([1.0, np.nan]), FPS), (np.ones(10), 0)):
        with pytest.raises(PairingError):
            pair_audio_to_motion(speed, fps, synthetic_corpus, rng)
    with pytest.raises(PairingError):
        SpeechCorpus.from_signals([np.zeros(100, dtype=np.float32)])
    with pytest.raises(PairingError):
        SpeechCorpus.from_files([])


def test_default_corpus_records_its_sources(speech_wavs):
    corpus = default_corpus(speech_wavs[:1], use_espeak=False)
    assert corpus.sources == [speech_wavs[0].name]


def test_default_corpus_falls_back_to_synthetic_babble():
    fallback = default_corpus((), use_espeak=False)
    assert fallback.sources == ["synthetic-babble:seed=0"] and len(fallback) > 50


def test_method_is_documented_for_the_readme():
    doc = pairing.__doc__
    for phrase in ("stroke", "onset", "0.5 s", "Generator", "silence"):
        assert phrase in doc
