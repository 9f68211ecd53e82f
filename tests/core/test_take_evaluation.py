"""The whole-take evaluation (core/evaluation/takes.py): body parts by name, each measure on
synthetic motion with a known answer, the report and CLI, and the real takes' published figures."""

from pathlib import Path

import numpy as np
import pytest

from ohgesture.core.evaluation import take_pose as TP, takes as T
from ohgesture.core.motion.skeleton import Motion, Skeleton

from support import ROOT, SHARED_DATA, ZEGGS_DIR

BEAT_BVH = SHARED_DATA / "beat-sample" / "2_scott_0_1_1.bvh"
ZEGGS_BVH = ZEGGS_DIR / "067_Speech_2_x_1_0.bvh"
WAVE_BVH = SHARED_DATA / "bandai-namco" / "Bandai-Namco-Research-Motiondataset-2" / "data" / \
    "dataset-2_wave-both-hands_normal_001.bvh"
DEFAULT_MODEL = ROOT / "core" / "weights" / "default.safetensors"

BANDAI = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
          "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
          "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]
ZEGGS = ["Hips", "Spine", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head", "HeadEnd", "RightShoulder",
         "RightArm", "RightForeArm", "RightHand", "RightHandThumb1", "RightForeArmEnd", "RightArmEnd", "LeftShoulder",
         "LeftArm", "LeftForeArm", "LeftHand", "LeftHandIndex1", "RightUpLeg", "RightLeg", "RightFoot",
         "RightToeBase", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase"]

# ------------------------------------------------------------------ a small body built from core.motion.skeleton

# name, parent, offset (cm, Y up, facing +Z, the character's left at +X); arms hang straight down
_BODY = [("Hips", -1, (0, 100, 0)), ("Spine", 0, (0, 20, 0)), ("Neck", 1, (0, 30, 0)), ("Head", 2, (0, 12, 0)),
         ("LeftShoulder", 1, (4, 28, 0)), ("LeftArm", 4, (14, 0, 0)), ("LeftForeArm", 5, (0, -28, 0)),
         ("LeftHand", 6, (0, -25, 0)), ("RightShoulder", 1, (-4, 28, 0)), ("RightArm", 8, (-14, 0, 0)),
         ("RightForeArm", 9, (0, -28, 0)), ("RightHand", 10, (0, -25, 0)), ("LeftUpLeg", 0, (9, -5, 0)),
         ("LeftLeg", 12, (0, -45, 0)), ("LeftFoot", 13, (0, -45, 0)), ("RightUpLeg", 0, (-9, -5, 0)),
         ("RightLeg", 15, (0, -45, 0)), ("RightFoot", 16, (0, -45, 0))]
ARM = 53.0  # cm, upper arm + forearm


def _skeleton(shoulder_scale: float = 1.0, bandai_names: bool = False) -> Skeleton:
    names = [n for n, _, _ in _BODY]
    if bandai_names:
        rename = {"LeftShoulder": "Shoulder_L", "LeftArm": "UpperArm_L", "LeftForeArm": "LowerArm_L",
                  "LeftHand": "Hand_L", "LeftUpLeg": "UpperLeg_L", "LeftLeg": "LowerLeg_L", "LeftFoot": "Foot_L"}
        rename.update({k.replace("Left", "Right"): v.replace("_L", "_R") for k, v in rename.items()})
        names = [rename.get(n, n) for n in names]
    offsets = np.array([o for _, _, o in _BODY], np.float64)
    offsets[[5, 9], 0] *= shoulder_scale
    return Skeleton("test", names, np.array([p for _, p, _ in _BODY]), offsets)


def _about(axis: int, angles) -> np.ndarray:
    angles = np.asarray(angles, np.float64)
    q = np.zeros(angles.shape + (4,))
    q[..., 0] = np.cos(angles / 2)
    q[..., 1 + axis] = np.sin(angles / 2)
    return q


def body_motion(left_raise, right_raise=None, fps=30.0, yaw=0.0, travel=(0.0, 0.0), **skeleton_kwargs) -> Motion:
    """Arms raised sideways by ``left_raise``/``right_raise`` radians per frame (0 hanging, pi/2 level with
    the shoulder, pi straight up), the whole body turned by ``yaw`` about Y and moved by ``travel`` (x, z)."""
    left = np.asarray(left_raise, np.float64)
    right = np.zeros_like(left) if right_raise is None else np.asarray(right_raise, np.float64)
    sk = _skeleton(**skeleton_kwargs)
    frames = len(left)
    rotations = np.zeros((frames, sk.num_joints, 4))
    rotations[..., 0] = 1.0
    rotations[:, 0] = _about(1, np.full(frames, yaw))
    rotations[:, 5] = _about(2, left)
    rotations[:, 9] = _about(2, -right)
    translations = np.repeat(sk.offsets[None], frames, axis=0)
    translations[:, 0, [0, 2]] += np.asarray(travel)
    return Motion(sk, rotations, translations, fps)


def body_take(left_raise, right_raise=None, label="real", seed=None, speech="", loudness=None, **kwargs) -> T.Take:
    take = T.take_from_motion(body_motion(left_raise, right_raise, **kwargs), f"{label}-{seed}", label=label,
                              seed=seed, speech=speech)
    take.loudness = loudness
    return take


def gesturing(seconds: float, fps: float = 30.0, seed: int = 0, level: float = 0.8, amount: float = 0.5):
    """Smooth random arm raises around ``level`` radians for both arms (a speaker's beats)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    t = np.arange(n) / fps
    waves = [amount * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in rng.uniform(0.3, 1.5, 16)]
    return level + np.sum(waves[:8], axis=0) / np.sqrt(8), level + np.sum(waves[8:], axis=0) / np.sqrt(8)


# ------------------------------------------------------------------ body parts by name


@pytest.mark.parametrize("name, expected", [
    ("UpperArm_L", ("l", "upperarm")), ("LowerArm_L", ("l", "lowerarm")), ("LeftForeArm", ("l", "forearm")),
    ("mixamorig:RightHand", ("r", "hand")), ("Hips", (None, "hips")), ("Spine3", (None, "spine3")),
    ("joint_Root", (None, "jointroot")), ("l_wrist", ("l", "wrist")), ("HeadEnd", (None, "headend")),
])
def test_side_and_base(name, expected):
    assert T.side_and_base(name) == expected


def test_body_parts_are_found_on_bandai_zeggs_and_mixamo_names():
    bandai = T.find_body_parts(BANDAI)
    assert {k: BANDAI[v] for k, v in bandai.items()} == {
        "hips": "Hips", "head": "Head", "neck": "Neck", "chest": "Chest", "shoulder_l": "UpperArm_L",
        "shoulder_r": "UpperArm_R", "elbow_l": "LowerArm_L", "elbow_r": "LowerArm_R", "wrist_l": "Hand_L",
        "wrist_r": "Hand_R", "hip_l": "UpperLeg_L", "hip_r": "UpperLeg_R", "knee_l": "LowerLeg_L",
        "knee_r": "LowerLeg_R", "foot_l": "Foot_L", "foot_r": "Foot_R"}
    zeggs = {k: ZEGGS[v] for k, v in T.find_body_parts(ZEGGS).items()}
    assert (zeggs["shoulder_l"], zeggs["elbow_r"], zeggs["wrist_l"], zeggs["head"], zeggs["neck"]) == \
        ("LeftArm", "RightForeArm", "LeftHand", "Head", "Neck")
    assert (zeggs["hip_l"], zeggs["knee_l"], zeggs["foot_r"]) == ("LeftUpLeg", "LeftLeg", "RightFoot")
    assert "chest" not in zeggs
    mixamo = ["mixamorig:" + n for n in ZEGGS]
    assert T.find_body_parts(mixamo) == T.find_body_parts(ZEGGS)


def test_a_skeleton_without_wrists_is_refused_in_one_line():
    with pytest.raises(T.TakeError, match="wrist_l, wrist_r"):
        T.find_body_parts([n for n in ZEGGS if n not in ("LeftHand", "RightHand")])


def test_a_z_up_take_is_refused():
    from dataclasses import replace

    take = body_take(np.zeros(10))
    lying = replace(take, positions=take.positions[..., [0, 2, 1]])  # Y and Z swapped: the body lies along Z
    with pytest.raises(T.TakeError, match="Y up"):
        T.check_upright(lying)
    assert T.check_upright(take) is take


# ------------------------------------------------------------------ 1. gesture space


def test_gesture_space_counts_frames_above_head_and_shoulder_for_the_worse_wrist():
    left = np.zeros(100)
    left[:30] = np.pi  # straight up: above the head
    left[30:50] = 0.55 * np.pi  # 8 cm above the shoulder, 6 cm below the head joint
    right = np.zeros(100)
    right[:10] = 0.55 * np.pi
    measures = T.gesture_space(body_take(left, right))
    assert measures["above_head_l"] == pytest.approx(30.0) and measures["above_head_r"] == 0.0
    assert measures["above_shoulder_l"] == pytest.approx(50.0) and measures["above_shoulder_r"] == pytest.approx(10.0)
    assert (measures["above_head_pct"], measures["above_shoulder_pct"]) == (pytest.approx(30.0), pytest.approx(50.0))


def test_wrist_height_is_in_arm_lengths_whatever_the_rig():
    heights = T.wrist_heights(body_take(np.array([0.0, np.pi / 2, np.pi]), shoulder_scale=1.6))
    np.testing.assert_allclose(heights[:, 0], [-1.0, 0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(heights[:, 1], -1.0, atol=1e-9)
    assert T.arm_length(body_take(np.zeros(3)), "l") == pytest.approx(ARM)


def test_height_histograms_compare():
    rng = np.random.default_rng(1)
    a = rng.uniform(-1.0, 0.0, 5000)
    same = T.height_comparison(a, rng.uniform(-1.0, 0.0, 5000))
    assert same["overlap"] > 0.95 and same["wasserstein"] < 0.02
    higher = T.height_comparison(a + 0.5, a)
    assert higher["wasserstein"] == pytest.approx(0.5, abs=1e-6) and 0.4 < higher["overlap"] < 0.6
    assert T.height_comparison(a + 1.5, a)["overlap"] == 0.0
    assert T.height_histogram(np.array([-5.0, 5.0])).sum() == pytest.approx(1.0)  # out-of-range values count


# ------------------------------------------------------------------ 2. liveliness


def test_block_means_keep_a_long_remainder_and_merge_a_short_one():
    fps = 10.0
    values = np.concatenate([np.full(100, 20.0), np.full(100, 60.0), np.full(60, 100.0)])
    assert T.block_means(values, fps) == [20.0, 60.0, 100.0]  # a 6-s last part is its own block
    short = np.concatenate([np.full(100, 20.0), np.full(100, 60.0), np.full(40, 200.0)])
    assert T.block_means(short, fps) == pytest.approx([20.0, (100 * 60 + 40 * 200) / 140])  # 4 s joins the one before
    assert T.block_means(np.full(30, 5.0), fps) == [5.0]


def test_liveliness_is_the_mean_of_both_wrists_per_block():
    fps = 30.0
    t = np.arange(int(25 * fps)) / fps
    # the left arm swings through pi/2 rad and back each second after 10 s; the right arm stays still
    left = np.where(t < 10, 0.0, np.pi / 4 * (1 - np.cos(2 * np.pi * t)))
    measures = T.liveliness(body_take(left, fps=fps))
    swing_speed = np.pi * ARM  # the wrist's path per second (pi rad on a 53-cm radius), the left wrist only
    assert measures["blocks"][0] == pytest.approx(0.0, abs=1e-6)
    assert measures["blocks"][1] == pytest.approx(swing_speed / 2, rel=0.02)  # halved: mean of both wrists
    assert len(measures["blocks"]) == 3 and measures["block_min"] == pytest.approx(0.0, abs=1e-6)
    assert measures["mean_speed"] == pytest.approx(swing_speed / 2 * 15 / 25, rel=0.02)


# ------------------------------------------------------------------ 3. speech coupling


def _envelope(n: int, fps: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bursts = (rng.random(n) < 2.0 / fps).astype(float)
    kernel = np.hanning(int(0.6 * fps))
    return np.convolve(bursts, kernel, mode="same") + 0.05 * rng.random(n)


def test_speech_coupling_finds_a_lag_within_its_range_and_beats_shifted_audio():
    fps, n = 30.0, 1800
    loud = _envelope(n, fps, 0)
    late = np.roll(loud, 6)  # the hands follow the voice 0.2 s late
    c = T.speech_coupling(loud, late, fps)
    assert c["true"] > 0.95 and c["lag_seconds"] == pytest.approx(0.2)
    assert c["shifted_p95"] < 0.4 and c["margin"] > 0.5
    too_late = T.speech_coupling(loud, np.roll(loud, 30), fps)  # 1 s late: outside the +-0.3 s search
    assert too_late["true"] < 0.5 * c["true"]
    unrelated = T.speech_coupling(loud, _envelope(n, fps, 1), fps)
    assert unrelated["true"] < 0.4 and unrelated["shifts"] > 50 and unrelated["shift_seconds"][0] == 2.0


def test_a_take_couples_its_loudness_with_the_faster_wrist():
    fps = 30.0
    loud = _envelope(900, fps, 3)
    raise_ = 0.5 + np.cumsum(loud * np.where(np.arange(900) % 240 < 120, 1, -1)) / fps * 0.3  # speed ~ loudness
    take = body_take(raise_, loudness=loud, fps=fps)
    assert T.take_coupling(take)["true"] > 0.6
    take.loudness = None
    assert T.take_coupling(take) is None


# ------------------------------------------------------------------ 4. pose space and FGD


def test_the_pose_space_ignores_heading_travel_and_rig_proportions():
    left, right = gesturing(4.0)
    base = TP.aligned_pose(body_take(left, right))
    moved = TP.aligned_pose(body_take(left, right, yaw=1.2, travel=(300.0, -50.0), shoulder_scale=1.7,
                                     bandai_names=True))
    np.testing.assert_allclose(moved, base, atol=1e-9)
    other = TP.aligned_pose(body_take(left + 0.5, right))
    assert np.abs(other - base).max() > 0.2
    wrist_up = TP.aligned_pose(body_take(np.full(2, np.pi)))[0, TP.POSE_POINTS.index("wrist_l")]
    np.testing.assert_allclose(wrist_up, [0.35, 1.0 + 1.05, 0.0], atol=1e-9)  # the standard body, arm straight up


def test_resample_rows_keeps_the_duration():
    values = np.arange(31, dtype=float)[:, None]  # 1 s at 30 fps
    out = T.resample_rows(values, 30.0, 15.0)
    assert len(out) == 16 and out[-1, 0] == pytest.approx(30.0) and out[1, 0] == pytest.approx(2.0)


def test_pose_fgd_ranks_similar_motion_far_below_a_still_pose_and_raised_arms():
    references = [body_take(*gesturing(40.0, seed=s), seed=s) for s in (1, 2)]
    similar = [body_take(*gesturing(40.0, seed=s), label="a") for s in (3, 4)]
    raised = [body_take(*gesturing(40.0, seed=5, level=2.6), label="b")]
    result = T.pose_fgd({"similar": similar, "raised": raised}, references,
                        {"still": [T.still_take(t) for t in similar]})
    fgd = result["fgd"]
    assert fgd["similar"] < 0.2 * fgd["still"] and fgd["similar"] < 0.2 * fgd["raised"]
    assert len(result["floors"]) == 4 and all(v < fgd["still"] for v in result["floors"].values())
    assert result["real_windows"] == 2 * (int(round((15 - 2) / 0.2)) + 1)
    with pytest.raises(T.TakeError, match="too short"):
        T.pose_fgd({"a": similar}, [body_take(*gesturing(12.0))])


# ------------------------------------------------------------------ 5. emotions vs seeds, and the bar


def test_emotions_differ_more_than_seeds_only_when_they_do():
    def takes(emotion_gap, seed_gap):
        out = []
        for e, level in (("a", 0.5), ("b", 0.5 + emotion_gap)):
            for s in (0, 1):
                left, right = gesturing(6.0, seed=10)
                out.append(body_take(left + level + s * seed_gap, right + level, label=e, seed=s, speech="x.wav"))
        return out

    clear = T.emotion_seed_distances(takes(0.8, 0.1))
    assert clear["passed"] is True and clear["between_emotions"] > 3 * clear["between_seeds"]
    assert T.emotion_seed_distances(takes(0.1, 0.8))["passed"] is False
    one_seed = T.emotion_seed_distances([t for t in takes(0.8, 0.1) if t.seed == 0])
    assert one_seed["between_seeds"] is None and one_seed["passed"] is None


def test_the_quality_bar_limits():
    good = dict(above_head_pct=5.0, above_shoulder_pct=25.0, block_min=25.0, block_max=140.0)
    assert T.label_passes(good)["passed"]
    for key, value in (("above_head_pct", 5.1), ("above_shoulder_pct", 25.5), ("block_min", 24.0),
                       ("block_max", 141.0)):
        assert not T.label_passes({**good, key: value})["passed"], key
    rows = [dict(speech="a.wav", coupling=dict(true=r, shifted_p95=p)) for r, p in ((0.5, 0.2), (0.2, 0.2))]
    clip = T.clip_couplings(rows)["a.wav"]
    assert clip["passed"] is True and clip["takes"] == 2
    assert (clip["loudness_r"], clip["shifted_p95"]) == (pytest.approx(0.35), pytest.approx(0.2))
    rows[0]["coupling"]["true"] = 0.3
    assert not T.clip_couplings(rows)["a.wav"]["passed"]  # mean 0.25 < 0.3
    summaries = {"a": good}
    clips = {"a.wav": dict(passed=True)}
    assert T.quality_bar(summaries, clips, dict(passed=True))["all"]
    assert not T.quality_bar(summaries, clips, dict(passed=None))["all"]  # one seed: not shown, not passed
    assert not T.quality_bar(summaries, {"a.wav": dict(passed=False)}, dict(passed=True))["all"]


def test_jerk_and_foot_sliding_are_measured_at_one_frame_rate():
    left, right = gesturing(20.0, fps=30.0, seed=3)
    smooth = body_take(left, right, fps=30.0)
    half = body_take(left[::2], right[::2], fps=15.0)  # the same motion captured at 15 fps
    noisy = body_take(left + np.random.default_rng(0).normal(0, 0.05, len(left)), right, fps=30.0)
    a, b, c = T.plausibility(smooth), T.plausibility(half), T.plausibility(noisy)
    assert b["jerk"] == pytest.approx(a["jerk"], rel=0.15)  # without the common rate: 8 times apart
    assert c["jerk"] > 2 * a["jerk"] and c["jerk_per_speed"] > 1.5 * a["jerk_per_speed"]
    wider = T.plausibility(body_take(*gesturing(20.0, fps=30.0, seed=3, level=0.8, amount=0.25), fps=30.0))
    assert a["jerk"] > 1.6 * wider["jerk"]  # twice the swing: about twice the jerk ...
    assert a["jerk_per_speed"] == pytest.approx(wider["jerk_per_speed"], rel=0.2)  # ... and the same per speed
    assert a["foot_sliding"] == pytest.approx(0.0, abs=1e-6)  # the feet stand
    glide = body_take(left, right, fps=30.0, travel=np.linspace(0, 200, len(left))[:, None] * [1.0, 0.0])
    assert T.plausibility(glide)["foot_sliding"] == pytest.approx(10.0, rel=0.02)  # 200 cm in 20 s, feet down
    summaries = {"calm": dict(a, foot_sliding=0.0), "shaky": dict(c, foot_sliding=0.0),
                 "lively": dict(jerk=3 * a["jerk"], jerk_per_speed=a["jerk_per_speed"], foot_sliding=1.0)}
    checks = T.plausible(summaries, [dict(jerk=1.1 * a["jerk"], jerk_per_speed=1.1 * a["jerk_per_speed"], foot_sliding=0.5)])
    # faster hands alone are not jitter; shaky ones are
    assert checks == dict(jerk_per_speed=dict(calm=True, shaky=False, lively=True),
                          foot_sliding=dict(calm=True, shaky=True, lively=False))
    bar = T.quality_bar({"calm": dict(above_head_pct=0, above_shoulder_pct=0, block_min=30, block_max=60)},
                        {"a.wav": dict(passed=True)}, dict(passed=True), plausibility=checks)
    assert not bar["all"]


def test_the_report_says_which_emotions_jerk_more_than_real_capture_and_how_much_faster_they_move():
    from ohgesture.core.evaluation.take_report import summary_lines

    result = dict(distances=dict(between_emotions=0.2, between_seeds=0.1, passed=True),
                  quality_bar=dict(emotions={}, all=True, plausibility={}),
                  real_takes=[dict(jerk=3000.0), dict(jerk=2000.0)], real=dict(mean_speed=50.0),
                  emotions=dict(calm=dict(jerk=2500.0, mean_speed=45.0), brisk=dict(jerk=4200.0, mean_speed=70.0)))
    lines = summary_lines(result)
    assert lines[0] == ("- Mean jerk above the highest real take's (3000 cm/s^3): brisk (1.40 times the real takes' "
                        "wrist speed); the bar judges jitter, the jerk per unit of wrist speed.")
    result["emotions"]["brisk"]["jerk"] = 2900.0
    assert not any(line.startswith("- Mean jerk") for line in summary_lines(result))


def test_evaluate_takes_and_the_report(tmp_path):
    from ohgesture.core.evaluation.take_report import write_take_report

    loud = _envelope(int(30 * 30), 30.0, 7)
    references = [body_take(*gesturing(30.0, seed=s), seed=s, loudness=loud, speech="r.wav") for s in (1, 2)]
    generated = [body_take(*gesturing(30.0, seed=10 + 3 * i + s, level=level), label=e, seed=s, speech="x.wav",
                           loudness=loud) for i, (e, level) in enumerate((("calm", 0.6), ("wild", 1.6)))
                 for s in (0, 1)]
    result = T.evaluate_takes(generated, references)
    assert set(result["emotions"]) == {"calm", "wild"} and len(result["takes"]) == 4
    assert result["emotions"]["wild"]["above_shoulder_pct"] > result["emotions"]["calm"]["above_shoulder_pct"]
    assert result["emotions"]["calm"]["overlap"] > result["emotions"]["wild"]["overlap"]
    assert result["fgd"]["fgd"]["calm"] < result["fgd"]["fgd"]["wild"]
    assert result["quality_bar"]["emotions"]["wild"]["gesture_space"] is False
    result["command"] = "ohgesture evaluate --takes x.wav"
    report = write_take_report(result, generated, references, tmp_path).read_text()
    assert "| calm | 2 |" in report and "`ohgesture evaluate --takes x.wav`" in report
    assert "| takes (at 15 fps) | mean jerk" in report and "| real: real-1 |" in report
    for name in ("sheet_x.png", "wrist_height.png", "liveliness.png", "preview_calm-0.gif", "takes.json"):
        assert (tmp_path / name).stat().st_size > 1000, name
        assert f"({name})" in report or name == "takes.json"
    # a report to publish leaves the real takes out of the pictures, not out of the tables
    bare = tmp_path / "bare"
    bare.mkdir()
    report = write_take_report(result, generated, references, bare, draw_references=False).read_text()
    assert "| calm | 2 |" in report and "real" in report
    from PIL import Image

    with Image.open(tmp_path / "sheet_x.png") as full, Image.open(bare / "sheet_x.png") as without:
        assert without.size[1] < full.size[1]  # two contact-sheet rows fewer


# ------------------------------------------------------------------ the command line


def _write_wav(path: Path, seconds: float) -> Path:
    import soundfile as sf

    rng = np.random.default_rng(0)
    sr = 16000
    n = int(seconds * sr)
    envelope = np.repeat(_envelope(int(seconds * 30) + 1, 30.0, 5), sr // 30 + 1)[:n]
    sf.write(path, (0.3 * envelope * rng.standard_normal(n)).astype(np.float32), sr)
    return path


def _reference_bvh(path: Path, seconds: float = 24.0) -> Path:
    from ohgesture.core.motion.bvh import write_bvh

    write_bvh(path, body_motion(*gesturing(seconds)))
    return path


def _evaluate(*args):
    from ohgesture.core.cli.main import main

    return main(["evaluate", *map(str, args)])


def test_bad_input_is_refused_in_one_line(tmp_path, capsys):
    long_wav, short_wav = _write_wav(tmp_path / "long.wav", 61.0), _write_wav(tmp_path / "short.wav", 3.0)
    real = _reference_bvh(tmp_path / "real.bvh")
    cases = [((tmp_path / "missing.wav", "--reference", real), "does not exist"),
             ((short_wav, "--reference", real), "lasts 3.0 s; whole takes need at least 60 s"),
             ((long_wav, "--reference", tmp_path / "missing.bvh"), "does not exist"),
             ((long_wav,), "at least one real take"),
             ((long_wav, "--reference", real, "--seeds", "one"), "--seeds must be")]
    if DEFAULT_MODEL.exists():
        cases.append(((long_wav, "--reference", real, "--emotions", "neutral,furious"), "no emotion 'furious'"))
    for args, message in cases:
        assert _evaluate("--model", DEFAULT_MODEL, "--out", tmp_path / "out", "--takes", *args) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not (tmp_path / "out").exists()


def test_whole_take_mode_end_to_end_on_the_shipped_model(tmp_path, capsys):
    if not DEFAULT_MODEL.exists():
        pytest.skip("needs the shipped model core/weights/default.safetensors")
    speech = _write_wav(tmp_path / "speech.wav", 12.0)
    real = _reference_bvh(tmp_path / "real.bvh")
    out = tmp_path / "report"
    assert _evaluate("--model", DEFAULT_MODEL, "--takes", speech, "--reference", real, "--emotions", "neutral,sad",
                     "--seeds", "0,1", "--min-seconds", "10", "--out", out, "--save-takes", "--voice-variants",
                     "--silence", "--also-no-retime") == 0
    printed = capsys.readouterr().out
    assert "| neutral | 2 |" in printed and "| sad | 2 |" in printed and "Quality bar" in printed
    assert "| pitched +6 semitones | 2 |" in printed and "| pitched -6 semitones | 2 |" in printed
    assert "Repertoire bar (issue 28)" in printed and "| loudness r, not re-timed |" in printed
    assert "| neutral | 10 / 30 |" in printed and "Finger bar (issue 32)" in printed  # the shipped model's fingers
    # 4 takes, 2 per pitch (first seed), 2 of silence, 4 without re-timing
    assert (out / "takes.md").exists() and len(list((out / "takes").glob("*.bvh"))) == 14
    text = (out / "takes.md").read_text()
    assert "--emotions neutral,sad --seeds 0,1" in text and "--voice-variants --silence --also-no-retime" in text
    assert (out / "sheet_speech_side.png").stat().st_size > 1000 and (out / "hands.png").stat().st_size > 1000
    import json

    repertoire = json.loads((out / "takes.json").read_text())["repertoire"]
    assert repertoire["retime"]["speech.wav"]["not_retimed"]["takes"] == 4 and set(repertoire["silence"]) == {"neutral", "sad"}


# ------------------------------------------------------------------ the real takes (../shared/data)


@pytest.fixture(scope="module")
def real_takes():
    if not (ZEGGS_BVH.exists() and BEAT_BVH.exists()):
        pytest.skip("needs the ZEGGS and BEAT samples under ../shared/data")
    return [T.read_reference(ZEGGS_BVH), T.read_reference(BEAT_BVH)]


def test_the_real_takes_reproduce_the_data_readme(real_takes):
    zeggs, beat = (T.take_measures(t) for t in real_takes)
    for m in (zeggs, beat):  # README: above head 0.5-3.4 %, above shoulder 3-21 %, 55-56 cm/s, blocks 33-73
        assert 0.4 <= m["above_head_pct"] <= 3.5 and 2.5 <= m["above_shoulder_pct"] <= 21.5
        assert 54.0 <= m["mean_speed"] <= 57.0
        assert 32.5 <= m["block_min"] and m["block_max"] <= 73.5
    assert zeggs["above_head_pct"] == pytest.approx(3.44, abs=0.05)
    assert beat["above_shoulder_pct"] == pytest.approx(2.82, abs=0.05)
    assert zeggs["coupling"]["true"] == pytest.approx(0.7, abs=0.08)  # README: ~0.7 against ~0.2 shifted
    assert zeggs["coupling"]["shifted_p95"] == pytest.approx(0.2, abs=0.06)
    assert beat["coupling"]["true"] == pytest.approx(-0.08, abs=0.05)  # README: ~-0.08, no coupling
    assert beat["coupling"]["margin"] < 0


def test_the_pose_space_puts_real_takes_below_a_still_pose_and_a_wave(real_takes):
    ceilings = {"still": [T.still_take(t) for t in real_takes]}
    if WAVE_BVH.exists():
        ceilings["wave"] = [T.read_reference(WAVE_BVH)]
    result = T.pose_fgd({}, real_takes, ceilings)
    pooled = result["floors"]["real: all takes' other parts vs held-out"]
    assert all(pooled < 0.3 * v for v in result["fgd"].values())
    for name in real_takes:  # one real take's other part against the pooled held-out windows
        assert result["floors"][f"real: {name.name}, its other part vs held-out"] < 0.5 * result["fgd"]["still"]


def test_the_heading_drift_is_the_bodys_largest_turn_from_the_first_frame():
    left, right = gesturing(20.0, seed=4)
    turning = np.radians(np.linspace(0.0, 120.0, len(left)))  # a steady turn to 120 degrees
    assert T.heading_drift(body_take(left, right, yaw=turning)) == pytest.approx(120.0, abs=0.5)
    swaying = np.radians(30.0) * np.sin(np.linspace(0.0, 6 * np.pi, len(left)))  # turns back and forth
    assert T.heading_drift(body_take(left, right, yaw=swaying)) == pytest.approx(30.0, abs=0.5)
    assert T.heading_drift(body_take(left, right, yaw=0.7)) == pytest.approx(0.0, abs=1e-6)  # placed turned
    good = dict(above_head_pct=0.0, above_shoulder_pct=0.0, block_min=30.0, block_max=60.0, heading_drift=45.0)
    assert T.label_passes(good)["facing"] and T.label_passes(good)["passed"]
    assert not T.label_passes({**good, "heading_drift": 46.0})["passed"]
