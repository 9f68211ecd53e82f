"""The whole-take repertoire measures (core/evaluation/take_repertoire.py, issue 28) on constructed
motion with a known answer, the hand-roll maths (core/motion/rotations.swing_twist), the
per-emotion liveliness floor, the report's tables, and the real takes' figures."""

import numpy as np
import pytest

from ohgesture.core.evaluation import take_repertoire as R, takes as T
from ohgesture.core.motion.rotations import quat_multiply, swing_twist, wrap_angle

from support import SHARED_DATA
from test_take_evaluation import (BEAT_BVH, DEFAULT_MODEL, ZEGGS_BVH, _about, _envelope, _evaluate, _reference_bvh,
                                  _write_wav, body_motion, body_take, gesturing)

GRID = SHARED_DATA / "bandai-namco" / "Bandai-Namco-Research-Motiondataset-1" / "data"
FPS = 30.0


def _take(motion, **kwargs) -> T.Take:
    return T.take_from_motion(motion, kwargs.pop("name", "t"), **kwargs)


def _unit(v):
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _axis_angle(axis, angle) -> np.ndarray:
    half = np.asarray(angle, np.float64)[..., None] / 2
    return np.concatenate([np.cos(half), np.sin(half) * _unit(axis)], axis=-1)


# ------------------------------------------------------------------ the twist maths


def test_swing_twist_recovers_a_known_twist_under_any_swing():
    rng = np.random.default_rng(0)
    axis = np.array([0.3, -1.0, 0.5])
    twist = rng.uniform(-3.0, 3.0, 200)
    perpendicular = _unit(np.cross(_unit(axis), rng.normal(size=(200, 3))))
    swing_in = _axis_angle(perpendicular, rng.uniform(-2.5, 2.5, 200))
    q = quat_multiply(swing_in, _axis_angle(axis, twist))
    swing, angle = swing_twist(q, axis)
    assert np.abs(wrap_angle(angle - twist)).max() < 1e-9
    assert np.abs(np.abs(np.sum(swing * swing_in, axis=-1)) - 1).max() < 1e-9
    assert np.abs(wrap_angle(swing_twist(-q, 5 * axis)[1] - twist)).max() < 1e-9  # either sign, any length
    assert swing_twist(q.reshape(10, 20, 4), axis)[1].shape == (10, 20)
    # a pure swing has no twist; a twist about the opposite axis has the opposite sign
    assert np.abs(swing_twist(swing_in, axis)[1]).max() < 1e-9
    assert swing_twist(_axis_angle(axis, 0.7), -axis)[1] == pytest.approx(-0.7)


# ------------------------------------------------------------------ hands, legs, roll on a constructed body


def test_wrist_height_above_the_hips_and_the_share_of_high_frames():
    # the test body: hips at 100 cm, shoulder points at 148, arms 53 cm: hanging wrists 5 cm below the
    # hips, a wrist raised level with its shoulder 48 cm above them
    n = 300
    left = np.where(np.arange(n) < 90, np.pi / 2, 0.0)  # level for the first 30 % of frames
    take = _take(body_motion(left, np.zeros(n)))
    out = R.hands_in_space(take)
    assert out["wrist_above_hips"] == pytest.approx(np.mean([0.3 * 48 + 0.7 * -5, -5]), abs=1e-6)
    assert out["high_wrist_pct"] == pytest.approx(30.0)
    assert R.hands_in_space(_take(body_motion(np.zeros(n))))["high_wrist_pct"] == 0.0


def _legs_motion(seconds=20.0, bend=None, travel=None):
    n = int(seconds * FPS)
    motion = body_motion(np.zeros(n), travel=np.zeros((n, 2)) if travel is None else travel)
    if bend is not None:  # knees (LeftLeg 13, RightLeg 16) bent about X by ``bend`` radians per frame
        motion.rotations[:, 13] = _about(0, bend)
        motion.rotations[:, 16] = _about(0, bend)
    return motion


def test_knee_flexion_std_of_a_knee_bent_by_a_known_sinusoid():
    t = np.arange(int(20 * FPS)) / FPS
    bend = np.radians(10 + 5 * np.sin(2 * np.pi * 0.5 * t))
    drift = np.stack([np.linspace(0, 2, len(t)), np.zeros(len(t))], axis=1)  # the hips move: a captured root
    take = _take(_legs_motion(bend=bend, travel=drift))
    flexion = R.knee_flexion(take)
    assert flexion == pytest.approx(np.degrees(np.repeat(bend[:, None], 2, axis=1)), abs=1e-6)
    legs = R.legs_alive(take)
    assert legs["legs_captured"] and legs["knee_std"] == pytest.approx(5 / np.sqrt(2), rel=0.01)


def test_hip_sway_is_the_range_along_its_main_axis_and_speed_is_smoothed():
    t = np.arange(int(40 * FPS)) / FPS
    direction = _unit([3.0, 4.0])
    sway = 6.0 * np.sin(2 * np.pi * 0.05 * t)[:, None] * direction  # 12 cm of diagonal sway, slow
    legs = R.legs_alive(_take(_legs_motion(40.0, travel=sway)))
    assert legs["sway_range"] == pytest.approx(12.0, rel=0.02)
    assert legs["hip_speed"] == pytest.approx(np.mean(np.abs(np.diff(6.0 * np.sin(2 * np.pi * 0.05 * t)))) * FPS,
                                              rel=0.02)
    glide = np.stack([np.linspace(0, 80, len(t)), np.zeros(len(t))], axis=1)  # 2 cm/s for 40 s
    jitter = np.random.default_rng(0).normal(0, 0.2, (len(t), 2))  # 0.2 cm of frame-to-frame noise
    legs = R.legs_alive(_take(_legs_motion(40.0, travel=glide + jitter)))
    raw = np.linalg.norm(np.diff(glide + jitter, axis=0), axis=-1).mean() * FPS
    assert legs["hip_speed"] == pytest.approx(2.0, abs=0.5) and raw > 8.0  # unsmoothed, the noise would count
    assert legs["sway_range"] == pytest.approx(80.0, rel=0.02)


def test_legs_are_not_captured_without_legs_or_with_a_still_root():
    still = R.legs_alive(_take(_legs_motion(bend=np.full(600, 0.2))))
    assert still == dict(legs_captured=False, knee_std=None, sway_range=None, hip_speed=None)
    take = _take(_legs_motion(travel=np.stack([np.linspace(0, 5, 600), np.zeros(600)], 1)))
    legless = T.Take("legless", take.positions, take.fps, {k: v for k, v in take.parts.items()
                                                           if not k.startswith(("knee", "foot"))}, take.parents)
    assert R.knee_flexion(legless) is None and R.legs_alive(legless)["legs_captured"] is False
    summary = R.repertoire_summary([dict(still, wrist_above_hips=20.0, high_wrist_pct=40.0, mean_speed=50.0)])
    assert summary["legs_captured"] is False and R.repertoire_passes(summary) == dict(hands=True, legs=False)


def test_hand_roll_is_the_twist_about_the_forearm_whatever_the_arm_does():
    n = int(10 * FPS)
    t = np.arange(n) / FPS
    roll = np.radians(30 * np.sin(2 * np.pi * 0.3 * t))
    motion = body_motion(np.full(n, 0.6), np.full(n, 0.3), yaw=0.4)  # arms raised, body turned
    forearm_twist = _about(1, np.full(n, 0.5))  # the forearm itself twisted about its length
    motion.rotations[:, 6] = forearm_twist
    # the left hand (its offset is -Y in the forearm's frame): twisted about +Y by ``roll``, then bent
    motion.rotations[:, 7] = quat_multiply(_about(0, np.full(n, 0.35)), _about(1, roll))
    measured = R.hand_roll(_take(motion))
    assert measured[:, 0] == pytest.approx(-np.degrees(roll), abs=1e-6)  # about elbow -> wrist (-Y)
    assert measured[:, 1] == pytest.approx(0.0, abs=1e-6)
    summary = R.roll_summary(measured)
    assert summary["roll_max_abs"] == pytest.approx(30.0, abs=0.1)
    assert summary["roll_p5"] == pytest.approx(np.percentile(measured, 5))
    assert summary["roll_spread"] == pytest.approx(np.ptp(np.percentile(-np.degrees(roll), [5, 95])))
    # a hand rolling to and fro across 180 degrees spreads by its swing, not by 360
    across = np.radians(180 + 10 * np.sin(2 * np.pi * 0.3 * t))
    motion.rotations[:, 7] = _about(1, across)
    wrapped = R.roll_summary(R.hand_roll(_take(motion)))
    assert wrapped["roll_max_abs"] == pytest.approx(180.0, abs=0.1)
    assert wrapped["roll_spread"] == pytest.approx(np.ptp(np.percentile(10 * np.sin(2 * np.pi * 0.3 * t), [5, 95])),
                                                   abs=1e-6)
    no_rotations = T.Take("x", motion.local_translations, FPS, {}, np.zeros(1))
    assert R.hand_roll(no_rotations) is None and R.roll_summary(None)["roll_max_abs"] is None


# ------------------------------------------------------------------ tempo, re-rolls, altered speech


def test_tempo_ratios_pair_emotion_and_neutral_on_the_same_speech_and_seed():
    rows = [dict(label=label, speech=speech, seed=seed, mean_speed=speed) for label, speech, seed, speed in (
        ("neutral", "a", 1, 50.0), ("neutral", "a", 2, 40.0), ("neutral", "b", 1, 60.0),
        ("sad", "a", 1, 30.0), ("sad", "a", 2, 36.0), ("happy", "b", 1, 72.0), ("happy", "c", 1, 99.0))]
    ratios = R.tempo_ratios(rows)
    assert ratios["sad"] == dict(ratio=pytest.approx(0.75), low=pytest.approx(0.6), high=pytest.approx(0.9), pairs=2)
    assert ratios["happy"]["ratio"] == pytest.approx(1.2) and ratios["happy"]["pairs"] == 1  # speech c has no neutral
    assert R.tempo_passes(ratios) == dict(sad=True, happy=True)
    assert R.tempo_passes({"sad": dict(ratio=0.81), "old": dict(ratio=0.9), "happy": dict(ratio=1.1)}) == \
        dict(sad=False, old=False, happy=False)


def test_reroll_variety_compares_seeds_with_recordings():
    n = int(20 * FPS)
    a, b = gesturing(20.0, seed=1), gesturing(20.0, seed=2)
    nudge = 0.05 * np.sin(np.arange(n) / FPS)

    def take(raises, speech, seed, **kwargs):
        return body_take(*raises, label="neutral", seed=seed, speech=speech, **kwargs)

    base = take(a, "a.wav", 1)
    moved = take(a, "a.wav", 2, travel=(30.0, -10.0), yaw=0.3)  # the same path elsewhere, turned: no distance
    assert R.path_distance(base, moved) == pytest.approx(0.0, abs=1e-6)
    takes = [base, take((a[0] + nudge, a[1]), "a.wav", 2), take(b, "b.wav", 1), take((b[0] + nudge, b[1]), "b.wav", 2)]
    out = R.reroll_variety(takes)
    assert (out["seed_pairs"], out["recording_pairs"]) == (2, 2)
    assert out["ratio"] == pytest.approx(out["between_seeds"] / out["between_recordings"])
    assert out["ratio"] < 0.2 and out["passed"] is False
    shorter = take((b[0][: n // 2], b[1][: n // 2]), "b.wav", 1)  # a shorter recording: truncated, not refused
    assert R.path_distance(base, shorter) > 0
    assert R.reroll_variety(takes[:2])["ratio"] is None and R.reroll_variety(takes[:2])["passed"] is None


def test_voice_changes_silence_and_retiming_are_read_against_the_speech_as_given():
    def row(variant, height, speed, label="neutral", speech="a.wav", r=None):
        return dict(label=label, speech=speech, seed=1, variant=variant, wrist_above_hips=height, mean_speed=speed,
                    high_wrist_pct=10.0, legs_captured=True, knee_std=0.4, sway_range=4.0, hip_speed=1.0, roll_p5=-5.0,
                    roll_p95=5.0, roll_max_abs=9.0, roll_spread=10.0,
                    coupling=None if r is None else dict(true=r, shifted_p95=0.1))
    given = [row("", 5.0, 40.0, r=0.5), row("", 10.0, 50.0, label="sad", r=0.6)]
    variants = [row("+6 st", 33.0, 60.0), row("+6 st", 12.0, 55.0, label="sad"), row("-6 st", 4.0, 38.0),
                row("silence", 30.0, 20.0, speech="silence"), row("no-retime", 5.0, 45.0, r=0.2),
                row("no-retime", 10.0, 50.0, label="sad", r=0.3)]
    voices = R.voice_changes(given, variants)
    up, down = voices["+6 st"], voices["-6 st"]
    assert (up["takes"], up["height_change"], up["height_change_max"]) == (2, pytest.approx(15.0), pytest.approx(28.0))
    assert (up["speed_change_pct"], up["speed_change_pct_max"]) == (pytest.approx(30.0), pytest.approx(50.0))
    assert up["passed"] is False and down["passed"] is None and down["height_change"] == pytest.approx(-1.0)
    assert R.voice_changes(given, [row("+6 st", 8.0, 48.0)])["+6 st"]["passed"] is True  # 3 cm, 20 %
    # judged per recording: its takes' mean change; one take may move further, as a re-roll does
    two = given + [row("", 20.0, 50.0, speech="b.wav"), row("", 14.0, 50.0, speech="b.wav", label="sad")]
    moved = R.voice_changes(two, [row("+6 st", 12.0, 40.0), row("+6 st", 7.0, 50.0, label="sad"),
                                  row("+6 st", 21.0, 50.0, speech="b.wav"),
                                  row("+6 st", 13.0, 50.0, speech="b.wav", label="sad")])["+6 st"]
    assert moved["recordings"]["a.wav"]["height_change"] == pytest.approx(2.0)  # (7 - 3) / 2
    assert moved["recordings"]["b.wav"]["height_change"] == pytest.approx(0.0)
    assert moved["height_change_max"] == pytest.approx(7.0) and moved["recording_height_max"] == pytest.approx(2.0)
    assert moved["passed"] is True
    far = R.voice_changes(two, [row("+6 st", 12.0, 40.0), row("+6 st", 17.0, 50.0, label="sad")])["+6 st"]
    assert far["recording_height_max"] == pytest.approx(7.0) and far["passed"] is False  # (7 + 7) / 2
    reroll = given + [dict(given[0], seed=2, wrist_above_hips=9.0)]
    assert R.voice_changes(reroll, [row("+6 st", 8.0, 48.0)])["+6 st"]["seed_height_max"] == pytest.approx(4.0)
    assert R.voice_changes(given, [row("+6 st", 8.0, 48.0)])["+6 st"]["seed_height_max"] is None
    silence = R.silence_rows(variants)
    assert list(silence) == ["neutral"] and silence["neutral"]["wrist_above_hips"] == 30.0
    retime = R.retime_comparison(given, variants)["a.wav"]
    assert retime["retimed"]["loudness_r"] == pytest.approx(0.55)
    assert retime["not_retimed"]["loudness_r"] == pytest.approx(0.25) and retime["not_retimed"]["takes"] == 2


def test_pitched_copy_and_silence_files(tmp_path):
    import soundfile as sf

    sr = 16000
    t = np.arange(sr) / sr
    source = tmp_path / "tone.wav"
    sf.write(source, (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    pitched, got_sr = sf.read(R.pitched_copy(source, 12, tmp_path))
    spectrum = np.abs(np.fft.rfft(pitched[2000:-2000]))
    assert got_sr == sr and len(pitched) == sr
    assert np.fft.rfftfreq(len(pitched) - 4000, 1 / sr)[spectrum.argmax()] == pytest.approx(440, abs=8)
    silence, silence_sr = sf.read(R.silence_file(tmp_path, 2.0))
    assert silence_sr == 16000 and len(silence) == 32000 and not silence.any()


# ------------------------------------------------------------------ the per-emotion floor, the report


def test_the_liveliness_floor_is_lower_for_the_slow_emotions():
    summary = dict(above_head_pct=0.0, above_shoulder_pct=0.0, block_min=13.0, block_max=60.0)
    assert T.block_floor("sad") == T.block_floor("old") == T.block_floor("tired") == 12.0
    assert T.block_floor("neutral") == T.block_floor("angry") == T.block_floor("real") == 25.0
    assert T.label_passes(summary, label="sad")["liveliness"] and not T.label_passes(summary, label="happy")["liveliness"]
    assert not T.label_passes(dict(summary, block_min=11.0), label="tired")["liveliness"]
    bar = T.quality_bar({"sad": summary, "neutral": dict(summary, block_min=30.0)}, {}, dict(passed=True))
    assert bar["all"] and bar["emotions"]["sad"]["liveliness"]
    assert not T.quality_bar({"sad": summary}, {}, dict(passed=True), repertoire=False)["all"]


def test_the_report_shows_the_repertoire_variants_and_side_views(tmp_path):
    from ohgesture.core.evaluation.take_pictures import front_view
    from ohgesture.core.evaluation.take_report import write_take_report

    seconds = 30.0
    n = int(seconds * FPS)
    loud = _envelope(n, FPS, 7)
    sway = np.stack([3 * np.sin(np.arange(n) / FPS), np.zeros(n)], axis=1)
    references = [body_take(*gesturing(seconds, seed=s), seed=s, loudness=loud, speech="r.wav") for s in (1, 2)]

    def take(label, seed, speech, variant="", level=0.8, k=0):
        out = body_take(*gesturing(seconds, seed=10 * seed + k, level=level), label=label, seed=seed,
                        speech=speech, loudness=loud, travel=sway)
        out.variant = variant
        return out

    generated = [take(label, seed, speech, level=level, k=i)
                 for i, (label, level) in enumerate((("neutral", 0.8), ("sad", 0.5))) for seed in (1, 2)
                 for speech in ("x.wav", "y.wav")]
    generated += [take("neutral", 1, "x.wav", v, level=1.2, k=5) for v in ("+6 st", "-6 st", "no-retime")]
    generated += [take("neutral", 1, "silence", "silence", level=0.2, k=6)]
    result = T.evaluate_takes(generated, references)
    rep = result["repertoire"]
    assert len(result["takes"]) == 8 and len(result["variant_takes"]) == 4  # variants are kept apart
    assert set(rep["emotions"]) == {"neutral", "sad"} and rep["tempo"]["sad"]["pairs"] == 4
    assert rep["reroll"]["seed_pairs"] == 4 and rep["reroll"]["recording_pairs"] == 4
    assert rep["voices"]["+6 st"]["takes"] == 1 and list(rep["silence"]) == ["neutral"]
    assert list(rep["retime"]) == ["x.wav"] and rep["real"]["real-1"]["legs_captured"] is False
    assert result["quality_bar"]["repertoire"] is False and not result["quality_bar"]["all"]  # legs, tempo fail
    result["command"] = "ohgesture evaluate --takes x.wav y.wav"
    report = write_take_report(result, generated, references, tmp_path).read_text()
    assert "## Repertoire (issue 28)" in report and "| real: real-1 |" in report and "not captured" in report
    assert "| pitched +6 semitones | 1 |" in report and "| neutral | " in report and "Re-rolls:" in report
    assert "| recording: x.wav |" in report and "/ knee std (deg) | x.wav | y.wav |" in report
    assert set(rep["by_recording"]["sad"]) == {"x.wav", "y.wav"}
    for name in ("sheet_x.png", "sheet_x_side.png", "sheet_y_side.png"):
        assert (tmp_path / name).stat().st_size > 1000 and f"({name})" in report
    # seen from the side, an arm raised sideways stays over the body; from the front it reaches out
    side_take = _take(body_motion(np.full(10, np.pi / 2)))
    wrist = side_take.parts["wrist_l"]
    assert front_view(side_take)[:, wrist, 0] == pytest.approx(71.0, abs=1e-6)  # 4 + 14 + 53 cm to the left
    assert front_view(side_take, "side")[:, wrist, 0] == pytest.approx(0.0, abs=1e-6)


def test_a_grid_that_is_not_a_folder_is_refused_before_anything_is_generated(tmp_path, capsys):
    speech, real = _write_wav(tmp_path / "speech.wav", 61.0), _reference_bvh(tmp_path / "real.bvh")
    assert _evaluate("--model", DEFAULT_MODEL, "--takes", speech, "--reference", real, "--grid", tmp_path / "no",
                     "--out", tmp_path / "out") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--grid" in err[0] and "is not a folder" in err[0], err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------ the real takes (../shared/data)


def test_the_real_takes_repertoire_and_the_grids_tempo():
    if not (ZEGGS_BVH.exists() and BEAT_BVH.exists() and GRID.is_dir()):
        pytest.skip("needs the ZEGGS and BEAT samples and the Bandai Namco grid under ../shared/data")
    zeggs, beat = (R.repertoire(T.read_reference(p)) for p in (ZEGGS_BVH, BEAT_BVH))
    # issue 28's table: ZEGGS 30.5 cm, 46 cm / 11.6 cm/s, knee std 4.9; BEAT 16.9 cm, legs not captured
    assert zeggs["wrist_above_hips"] == pytest.approx(30.5, abs=0.5) and beat["wrist_above_hips"] == pytest.approx(16.9, abs=0.5)
    assert 38 <= beat["high_wrist_pct"] and zeggs["high_wrist_pct"] <= 82
    assert zeggs["legs_captured"] and zeggs["knee_std"] == pytest.approx(4.9, abs=0.3)
    assert zeggs["sway_range"] == pytest.approx(47, abs=3) and zeggs["hip_speed"] == pytest.approx(11.2, abs=1.0)
    assert beat["legs_captured"] is False and beat["knee_std"] is None
    # the BEAT hands barely roll about the forearm; the ZEGGS take's turn with the forearm (its rig has no
    # forearm twist: pronation is in the hand's rotation), so its spread is about 100 degrees
    assert beat["roll_max_abs"] < 10 and 80 < zeggs["roll_spread"] < 130
    from ohgesture.core.evaluation.takes import mean_wrist_speed

    grid = R.grid_tempo(GRID, ["neutral", "sad", "happy", "old", "calm"], mean_wrist_speed)
    assert "calm" not in grid and grid["neutral"]["ratio"] == 1.0 and grid["sad"]["contents"] == 5
    # issue 28: real styled capture, sad 0.41-0.46, old 0.60, happy 1.29-1.35
    assert grid["sad"]["ratio"] < 0.6 and grid["old"]["ratio"] < 0.8 and grid["happy"]["ratio"] > 1.2
