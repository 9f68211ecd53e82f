import tracemalloc
import warnings

import numpy as np
import pytest
import soundfile as sf

from ohgesture.core.audio.features import (
    AudioError,
    AudioFeatureConfig,
    audio_features,
    audio_features_from_file,
    audio_info,
    load_audio,
)

SR = 16000


def _speechlike(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Gliding harmonic tone gated at 3 Hz over light noise: voiced and silent parts."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.4 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    gate = (np.sin(2 * np.pi * 3 * t) > 0).astype(float)
    return (0.2 * tone * gate + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def tone_wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    sf.write(path, _speechlike(5.0), SR)
    return path


def test_zeggs_wav_gives_one_feature_frame_per_motion_frame(zeggs_wav):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples, sr = load_audio(zeggs_wav)
        features = audio_features(samples, sr, fps=30)
        from_file = audio_features_from_file(zeggs_wav, fps=30, chunk_seconds=7.3)
    assert samples.dtype == np.float32 and sr == SR
    assert features.shape == (2065, AudioFeatureConfig().feature_dim) == (2065, 17)
    assert features.dtype == np.float32 and np.isfinite(features).all()
    # chunks are cut on the fine grid with context, so chunked == one-shot everywhere
    np.testing.assert_allclose(from_file, features, atol=1e-3)
    info = audio_info(zeggs_wav)
    assert info["sample_rate"] == SR and info["channels"] == 1
    assert info["duration"] == pytest.approx(68.83, abs=0.01)
    voiced = features[:, -1]
    assert 0.2 < voiced.mean() < 0.9  # real speech: neither all voiced nor all silent


def test_columns_mean_what_the_layout_says():
    cfg = AudioFeatureConfig()
    names = cfg.column_names()
    assert len(names) == cfg.feature_dim == cfg.dim(30)
    rng = np.random.default_rng(1)
    silence = np.zeros(SR, dtype=np.float32)
    t = np.arange(SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    noise = (0.3 * rng.standard_normal(SR)).astype(np.float32)
    signal = np.concatenate([silence, tone, noise])
    f = audio_features(signal, SR, fps=30)
    assert f.shape == (90, 17)
    rms, log_f0, voiced, onset = (f[:, names.index(n)] for n in ("rms_db", "log2_f0", "voiced", "onset"))
    mid_silence, mid_tone, mid_noise = slice(5, 25), slice(35, 55), slice(65, 85)
    assert (rms[mid_silence] == cfg.energy_floor_db).all()
    assert np.all(rms[mid_tone] > -12) and np.all(rms[mid_tone] < -6)  # 0.5/sqrt2 -> -9 dB
    assert (voiced[mid_tone] == 1).all() and (voiced[mid_noise] < 0.5).all() and (voiced[mid_silence] == 0).all()
    np.testing.assert_allclose(cfg.fmin * 2 ** log_f0[mid_tone], 200, rtol=0.02)
    assert np.argmax(onset) in (29, 30, 31)  # the tone starts at 1.0 s = motion frame 30


def test_silence_and_full_scale_clipping_stay_finite():
    for signal in (np.zeros(3 * SR), np.ones(3 * SR), np.sign(np.sin(np.arange(3 * SR) * 0.05)) * 1.0, np.zeros(10)):
        f = audio_features(signal.astype(np.float32), SR, fps=30)
        assert f.shape == (int(round(signal.size / SR * 30)), 17)
        assert np.isfinite(f).all()


def test_n_frames_pads_and_trims(tone_wav):
    samples, sr = load_audio(tone_wav)
    full = audio_features(samples, sr, fps=30)
    assert full.shape[0] == 150
    trimmed = audio_features(samples, sr, fps=30, n_frames=100)
    np.testing.assert_allclose(trimmed, full[:100], atol=1e-5)
    padded = audio_features(samples, sr, fps=30, n_frames=200)
    assert padded.shape == (200, 17) and np.isfinite(padded).all()
    assert (padded[160:, 14] == AudioFeatureConfig().energy_floor_db).all()  # silence after the end
    padded_file = audio_features_from_file(tone_wav, fps=30, n_frames=200)
    np.testing.assert_allclose(padded_file[:145], padded[:145], atol=1e-3)
    assert (padded_file[160:, 14] == AudioFeatureConfig().energy_floor_db).all()


def test_frame_count_follows_fps(tone_wav):
    for fps, expected in ((30, 150), (20, 100), (60, 300), (24, 120), (29.97, 150), (120, 600)):
        f = audio_features_from_file(tone_wav, fps=fps)
        assert f.shape == (expected, 17) and np.isfinite(f).all()


def test_config_round_trips_through_metadata():
    cfg = AudioFeatureConfig(n_mfcc=20, fmax=500.0)
    assert AudioFeatureConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.feature_dim == 24
    import json

    assert AudioFeatureConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(AudioError):
        AudioFeatureConfig.from_dict({**cfg.to_dict(), "mystery": 1})


@pytest.mark.parametrize(
    "fmt, subtype, ext",
    [("WAV", "PCM_16", "wav"), ("WAV", "FLOAT", "wav"), ("FLAC", None, "flac"), ("OGG", "VORBIS", "ogg"), ("MP3", None, "mp3")],
)
@pytest.mark.parametrize("native_sr", [8000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_formats_rates_and_channel_counts_load(tmp_path, fmt, subtype, ext, native_sr, channels):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile {sf.__libsndfile_version__} cannot write {fmt}")
    if fmt == "MP3" and channels > 2:
        pytest.skip("MP3 holds at most 2 channels")
    mono = _speechlike(2.0, native_sr)
    data = np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono
    path = tmp_path / f"x_{native_sr}_{channels}.{ext}"
    sf.write(path, data, native_sr, format=fmt, subtype=subtype)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples, sr = load_audio(path)
        info = audio_info(path)
        features = audio_features_from_file(path, fps=30)
    assert sr == SR and samples.dtype == np.float32 and samples.ndim == 1
    assert abs(samples.size - 2 * SR) < 0.06 * SR  # lossy codecs add a little padding
    assert info["channels"] == channels and info["sample_rate"] == native_sr
    assert info["duration"] == pytest.approx(2.0, abs=0.06)
    assert abs(features.shape[0] - 60) <= 2 and np.isfinite(features).all()
    reference = audio_features(_speechlike(2.0, native_sr), native_sr, fps=30)
    if fmt in ("WAV", "FLAC"):  # lossless: same features as the in-memory signal
        np.testing.assert_allclose(features[5:-5, 14], reference[5:-5, 14], atol=0.5)


def test_resampled_file_matches_in_memory_resampling(tmp_path):
    signal = _speechlike(12.0, 44100)
    path = tmp_path / "cd.wav"
    sf.write(path, signal, 44100, subtype="FLOAT")
    from_file = audio_features_from_file(path, fps=30, chunk_seconds=3.0)
    in_memory = audio_features(signal, 44100, fps=30)
    assert from_file.shape == in_memory.shape == (360, 17)
    np.testing.assert_allclose(from_file[3:-3], in_memory[3:-3], atol=0.05, rtol=1e-3)


def _write(path, payload: bytes):
    with open(path, "wb") as handle:
        handle.write(payload)
    return path


def test_bad_files_raise_one_sentence_naming_the_file(tmp_path, tone_wav):
    good = tone_wav.read_bytes()
    sf.write(tmp_path / "no_samples.wav", np.zeros(0, dtype=np.float32), SR)
    bad = {
        "missing": tmp_path / "missing.wav",
        "empty": _write(tmp_path / "empty.wav", b""),
        "text": _write(tmp_path / "notes.wav", b"this is a text file, not audio\n" * 20),
        "random": _write(tmp_path / "noise.wav", np.random.default_rng(0).bytes(4096)),
        "truncated header": _write(tmp_path / "cut.wav", good[:30]),
        "no samples": tmp_path / "no_samples.wav",
        "folder": tmp_path,
    }
    for what, path in bad.items():
        for reader in (load_audio, audio_info, lambda p: audio_features_from_file(p, fps=30)):
            with pytest.raises(AudioError) as caught:
                reader(path)
            message = str(caught.value)
            assert str(path) in message, what
            assert "\n" not in message and message.endswith("."), what
            assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ["voice.m4a", "voice.aac", "voice.wav"])
def test_without_ffmpeg_the_message_says_what_is_readable_and_what_to_install(tmp_path, monkeypatch, name):
    """m4a/aac are readable only through ffmpeg: without it the file is refused before it is
    read, and an unreadable file of any name says which formats work and what to install."""
    import ohgesture.core.audio.features as features

    monkeypatch.setattr(features.shutil, "which", lambda name: None)
    path = _write(tmp_path / name, np.random.default_rng(1).bytes(4096))
    for reader in (load_audio, audio_info, lambda p: audio_features_from_file(p, fps=30)):
        with pytest.raises(AudioError) as caught:
            reader(path)
        message = str(caught.value)
        assert str(path) in message and "\n" not in message and message.endswith(".")
        assert "wav, flac, ogg, mp3 and aiff" in message and "install ffmpeg" in message
    assert (features.ffmpeg_missing_for(path) is None) == name.endswith(".wav")
    monkeypatch.setattr(features.shutil, "which", lambda name: "/usr/bin/ffmpeg")
    assert features.ffmpeg_missing_for(path) is None


def test_float_wav_with_nan_is_rejected(tmp_path):
    signal = _speechlike(1.0)
    signal[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, signal, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(path)
    with pytest.raises(AudioError, match="NaN"):
        audio_features_from_file(path, fps=30)


def test_ten_minute_file_in_bounded_memory(tmp_path):
    minutes = 10
    rng = np.random.default_rng(7)
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", samplerate=SR, channels=1, subtype="PCM_16") as out:
        for start in range(0, minutes * 60, 30):  # written in pieces: the test itself stays small
            out.write(_speechlike(30.0, seed=start) + 0.02 * rng.standard_normal(30 * SR).astype(np.float32))

    tracemalloc.start()
    try:
        features = audio_features_from_file(path, fps=30, chunk_seconds=60.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert features.shape == (minutes * 60 * 30, 17) and np.isfinite(features).all()
    whole_file_float64 = minutes * 60 * SR * 8
    assert peak < 2 * whole_file_float64, f"peak {peak / 1e6:.0f} MB"

    # one-shot on a 20 s excerpt starting exactly on motion frame 9000 (300 s) agrees in its interior
    with sf.SoundFile(path) as handle:
        handle.seek(300 * SR)
        excerpt = handle.read(20 * SR, dtype="float32")
    one_shot = audio_features(excerpt, SR, fps=30)
    np.testing.assert_allclose(features[9000 + 5: 9000 + 595], one_shot[5:595], atol=1e-3)


def test_bad_arguments():
    with pytest.raises(AudioError):
        audio_features(np.zeros(SR, dtype=np.float32), SR, fps=0)
    with pytest.raises(AudioError):
        audio_features(np.zeros((2, 3, 4), dtype=np.float32), SR, fps=30)
    stereo = np.stack([_speechlike(1.0), _speechlike(1.0)])
    assert audio_features(stereo, SR, fps=30).shape == (30, 17)


def test_take_normalised_features_do_not_tell_the_voice_apart():
    """Issue 28: the same speech louder, quieter or pitched gives the same kind of features; the
    earlier absolute features put the pitched voice 6 semitones (a whole unit of log2 f0 / 2) away."""
    import librosa

    from ohgesture.core.audio.features import AudioFeatureConfig, audio_features, load_audio
    from support import SAMPLES

    y, sr = load_audio(SAMPLES / "speech_en_talk.flac")
    y = y[: sr * 10]
    cfg = AudioFeatureConfig(take_normalised=True)
    base = audio_features(y, sr, 30.0, config=cfg)
    quiet = audio_features(y * 0.1, sr, 30.0, config=cfg)
    n = cfg.n_mfcc
    speech = base[:, n + 1] > -3.0  # within 30 dB of the take's own speech level
    assert np.abs(quiet[speech, 1:n] - base[speech, 1:n]).mean() < 0.05  # 20 dB quieter: the same spectrum
    assert np.abs(quiet[speech, n + 1] - base[speech, n + 1]).mean() < 0.05  # and the same relative level
    up = audio_features(librosa.effects.pitch_shift(y, sr=sr, n_steps=6), sr, 30.0, config=cfg)
    raw_base = audio_features(y, sr, 30.0)
    raw_up = audio_features(librosa.effects.pitch_shift(y, sr=sr, n_steps=6), sr, 30.0)
    voiced = (base[:, -1] > 0.5) & (up[:, -1] > 0.5)
    assert np.median(raw_up[voiced, -2] - raw_base[voiced, -2]) > 0.4  # absolute: half an octave up
    assert abs(np.median(up[voiced, -2] - base[voiced, -2])) < 0.1  # take-normalised: the same


def test_silence_stays_silence_when_take_normalised():
    from ohgesture.core.audio.features import AudioFeatureConfig, audio_features

    cfg = AudioFeatureConfig(take_normalised=True)
    silent = audio_features(np.zeros(16000 * 3, np.float32), 16000, 30.0, config=cfg)
    n = cfg.n_mfcc
    assert np.all(silent[:, n + 1] <= -5.0)  # far below any speech level
    assert np.all(silent[:, 0] <= -4.0) and np.all(silent[:, n + 3] == 0) and np.all(silent[:, n + 2] == 0)
