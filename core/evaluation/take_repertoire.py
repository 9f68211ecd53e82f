"""Whole-take evaluation, the repertoire (issue 28): what a take does with the hands, the legs and
the hips, and whether that is chosen by the voice or by the emotion and the seed. Pure functions
over takes.Take (world joint positions in cm, Y up; world rotations for the hand roll):

1. hands in the gesture space: mean wrist height above the hips, and the share of frames with the
   higher wrist more than 25 cm above them;
2. legs alive: knee flexion std, hip sway range and the hips' smoothed horizontal speed ("not
   captured" without legs, or where the hips never move, as in the real BEAT take);
3. hand roll: the twist of each hand about its forearm, relative to the rest pose;
4. tempo: each emotion's mean wrist speed over neutral's on the same speech and seed, beside the
   real Bandai Namco grid's ratio for the style the emotion is learnt from;
5. re-roll variety: two seeds' wrist paths apart, against two recordings';
6. takes of altered speech (VARIANTS): pitched +-6 semitones, 10 s of silence, no re-timing.

Used by takes.evaluate_takes; reported by take_report.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np

from . import measures as M
from .take_pose import heading_aligned

HIGH_WRIST_CM = 25.0  # "the higher wrist more than 25 cm above the hips"
SMOOTH_SECONDS = 0.5  # the hips' path is smoothed so jitter does not count as travel
STILL_HIPS_CM = 0.1  # hips that move less than this horizontally over the take: the root was not captured
GRID_CONTENTS = ("bow", "bye", "byebye", "guide", "walk")  # Bandai Namco dataset-1 contents for the tempo grid
SILENCE_SECONDS = 10.0
PITCH_SEMITONES = (6, -6)
# the takes of altered speech: pitched voices, silence, and the speech as given without re-timing
VARIANTS = {f"{s:+d} st": f"pitched {s:+d} semitones" for s in PITCH_SEMITONES}
VARIANTS.update({"silence": f"{SILENCE_SECONDS:g} s of digital silence", "no-retime": "without re-timing"})

REPERTOIRE_BAR = dict(wrist_above_hips=14.0, high_wrist_pct=25.0, knee_std=2.0, sway_range=3.0, hip_speed=6.0,
                      tempo=dict(sad=("<=", 0.8), old=("<=", 0.85), happy=(">=", 1.15)), reroll_ratio=0.6,
                      voice_height=5.0, voice_speed_pct=25.0, voice_semitones=6)


# ------------------------------------------------------------------ 1. hands, 2. legs, 3. hand roll


def hands_in_space(take) -> dict:
    """Mean height (cm) of the wrists above the hips, over both wrists and every frame, and the percent
    of frames in which the higher wrist is more than HIGH_WRIST_CM above the hips."""
    above = np.stack([take.part(f"wrist_{s}")[:, 1] for s in "lr"], axis=1) - take.part("hips")[:, 1:2]
    return dict(wrist_above_hips=float(above.mean()),
                high_wrist_pct=float(np.mean(above.max(axis=1) > HIGH_WRIST_CM) * 100))


def knee_flexion(take) -> np.ndarray | None:
    """(F, 2) left/right knee flexion in degrees, the angle between thigh (hip to knee) and shin (knee to
    ankle), 0 for a straight leg; None where the skeleton lacks a hip, knee or foot joint."""
    if not all(f"{p}_{s}" in take.parts for p in ("hip", "knee", "foot") for s in "lr"):
        return None
    out = []
    for s in "lr":
        thigh = take.part(f"knee_{s}") - take.part(f"hip_{s}")
        shin = take.part(f"foot_{s}") - take.part(f"knee_{s}")
        cos = np.sum(thigh * shin, -1) / np.maximum(np.linalg.norm(thigh, axis=-1) * np.linalg.norm(shin, axis=-1),
                                                     1e-9)
        out.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
    return np.stack(out, axis=1)


def hip_path(take) -> np.ndarray:
    """(F, 2) the hips' horizontal (x, z) position, cm, smoothed over SMOOTH_SECONDS."""
    hips = take.part("hips")[:, [0, 2]]
    return np.stack([M.smooth(hips[:, i], take.fps, SMOOTH_SECONDS) for i in range(2)], axis=1)


def legs_alive(take) -> dict:
    """Knee flexion std over the take (degrees, the mean of both knees), hip sway range (cm: the extent of
    the hips' smoothed horizontal path along its main axis, its first principal component) and hip
    horizontal speed (cm/s, mean, on that smoothed path). ``captured`` False, the figures None, where
    the skeleton has no legs or the hips never move horizontally (a root not captured)."""
    knees = knee_flexion(take)
    raw = take.part("hips")[:, [0, 2]]
    if knees is None or np.ptp(raw, axis=0).max() < STILL_HIPS_CM:
        return dict(legs_captured=False, knee_std=None, sway_range=None, hip_speed=None)
    path = hip_path(take)
    centred = path - path.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    along = centred @ axis
    speed = np.linalg.norm(np.diff(path, axis=0), axis=-1) * take.fps
    return dict(legs_captured=True, knee_std=float(knees.std(axis=0).mean()), sway_range=float(np.ptp(along)),
                hip_speed=float(speed.mean()) if len(speed) else 0.0)


def hand_roll(take) -> np.ndarray | None:
    """(F, 2) left/right hand roll about the forearm in degrees, relative to the rest pose: the twist
    (rotations.swing_twist) of the hand's rotation relative to the forearm (elbow) joint about the
    forearm-to-wrist axis, so twist joints between the two count with the hand; right-hand rule
    about the axis pointing from elbow to wrist, in [-180, 180]. None without world rotations."""
    from ..motion.rotations import quat_conjugate, quat_multiply, quat_rotate, swing_twist

    if take.rotations is None:
        return None
    out = []
    for s in "lr":
        elbow, wrist = take.parts[f"elbow_{s}"], take.parts[f"wrist_{s}"]
        inverse = quat_conjugate(take.rotations[:, elbow])
        relative = quat_multiply(inverse, take.rotations[:, wrist])
        axis = quat_rotate(inverse, take.positions[:, wrist] - take.positions[:, elbow])
        out.append(np.degrees(swing_twist(relative, axis)[1]))
    return np.stack(out, axis=1)


def roll_summary(roll: np.ndarray | None) -> dict:
    """Per take: the 5th and 95th percentiles of both hands' roll pooled (degrees), the largest absolute
    roll, and the spread: the wider hand's 5th-95th percentile range of its roll about its own circular
    mean (the same whatever the rig's rest pose, and a hand rolling to and fro across 180 degrees
    spreads by its swing, not by 360); None without rotations."""
    from ..motion.rotations import wrap_angle

    if roll is None:
        return dict(roll_p5=None, roll_p95=None, roll_max_abs=None, roll_spread=None)
    angle = np.radians(roll)
    about = np.degrees(wrap_angle(angle - np.arctan2(np.sin(angle).mean(axis=0), np.cos(angle).mean(axis=0))))
    low, high = np.percentile(about, 5, axis=0), np.percentile(about, 95, axis=0)
    return dict(roll_p5=float(np.percentile(roll, 5)), roll_p95=float(np.percentile(roll, 95)),
                roll_max_abs=float(np.abs(roll).max()), roll_spread=float((high - low).max()))


def repertoire(take) -> dict:
    """Measures 1-3 of one take."""
    return dict(**hands_in_space(take), **legs_alive(take), **roll_summary(hand_roll(take)))


def repertoire_summary(rows: list[dict]) -> dict:
    """One line for several takes: the mean of each measure over those that have it (None where none
    has it; ``legs_captured`` True where any take's legs were), the roll's widest range."""
    out = {}
    for key in ("wrist_above_hips", "high_wrist_pct", "knee_std", "sway_range", "hip_speed", "mean_speed"):
        values = [r[key] for r in rows if r.get(key) is not None]
        out[key] = float(np.mean(values)) if values else None
    out["legs_captured"] = any(r.get("legs_captured") for r in rows)
    rolls = [r for r in rows if r.get("roll_p5") is not None]
    out.update(roll_p5=min((r["roll_p5"] for r in rolls), default=None),
               roll_p95=max((r["roll_p95"] for r in rolls), default=None),
               roll_max_abs=max((r["roll_max_abs"] for r in rolls), default=None),
               roll_spread=max((r["roll_spread"] for r in rolls), default=None))
    return out


def repertoire_passes(summary: dict, bar: dict = REPERTOIRE_BAR) -> dict:
    """Hands in the gesture space and legs alive, per emotion; legs not captured fail."""
    hands = summary["wrist_above_hips"] >= bar["wrist_above_hips"] and summary["high_wrist_pct"] >= bar["high_wrist_pct"]
    legs = bool(summary["legs_captured"]) and summary["knee_std"] >= bar["knee_std"] and \
        summary["sway_range"] >= bar["sway_range"] and summary["hip_speed"] <= bar["hip_speed"]
    return dict(hands=bool(hands), legs=bool(legs))


# ------------------------------------------------------------------ 4. tempo


def tempo_ratios(rows: list[dict]) -> dict:
    """Per emotion: its mean wrist speed over neutral's on the same speech and seed, averaged over the
    pairs (mean, min, max, pairs); empty without neutral takes."""
    neutral = {(r["speech"], r["seed"]): r["mean_speed"] for r in rows if r["label"] == "neutral"}
    out = {}
    for label in dict.fromkeys(r["label"] for r in rows):
        ratios = [r["mean_speed"] / neutral[(r["speech"], r["seed"])] for r in rows
                  if r["label"] == label and (r["speech"], r["seed"]) in neutral]
        if ratios:
            out[label] = dict(ratio=float(np.mean(ratios)), low=float(min(ratios)), high=float(max(ratios)),
                              pairs=len(ratios))
    return out


def grid_tempo(grid_dir, labels: list[str], mean_wrist_speed, contents=GRID_CONTENTS) -> dict:
    """The real Bandai Namco grid's wrist speed ratio style/normal for the style each label is learnt
    from (training.speech_takes.SPEECH_STYLES), the median over ``contents`` (files
    dataset-1_CONTENT_STYLE_001.bvh in ``grid_dir``) with its range; labels without a style, or without
    files, are left out. ``mean_wrist_speed(path)``: a BVH's mean wrist speed (takes.mean_wrist_speed,
    passed in so this module does not import takes, which imports it)."""
    from ..training.speech_takes import SPEECH_STYLES

    grid_dir = Path(grid_dir)
    speeds = {}

    def speed(content: str, style: str) -> float | None:
        if (content, style) not in speeds:
            path = grid_dir / f"dataset-1_{content}_{style}_001.bvh"
            speeds[content, style] = float(mean_wrist_speed(path)) if path.is_file() else None
        return speeds[content, style]

    out = {}
    for label in labels:
        style = SPEECH_STYLES.get(label)
        if style is None:
            continue
        ratios = [speed(c, style) / speed(c, "normal") for c in contents
                  if speed(c, style) is not None and speed(c, "normal")]
        if ratios:
            out[label] = dict(style=style, ratio=float(np.median(ratios)), low=float(min(ratios)),
                              high=float(max(ratios)), contents=len(ratios))
    return out


def tempo_passes(ratios: dict, bar: dict = REPERTOIRE_BAR) -> dict:
    """Per emotion the bar names (sad, old, happy): its ratio to neutral on the right side of the limit."""
    out = {}
    for label, (side, limit) in bar["tempo"].items():
        if label in ratios:
            value = ratios[label]["ratio"]
            out[label] = bool(value <= limit if side == "<=" else value >= limit)
    return out


# ------------------------------------------------------------------ 5. re-roll variety


def wrist_paths(take) -> np.ndarray:
    """(F, 2, 3) both wrists relative to the hips, turned to face +Z (take_pose.heading_aligned), with the
    take's mean removed: where the hands go, not where they rest."""
    aligned = heading_aligned(take)
    paths = np.stack([aligned["wrist_l"], aligned["wrist_r"]], axis=1)
    return paths - paths.mean(axis=0)


def path_distance(a, b) -> float:
    """Mean Euclidean distance (cm) of two takes' wrist paths, frame by frame over the shorter take,
    averaged over both wrists."""
    pa, pb = wrist_paths(a), wrist_paths(b)
    n = min(len(pa), len(pb))
    return float(np.linalg.norm(pa[:n] - pb[:n], axis=-1).mean())


def reroll_variety(takes: list, bar: dict = REPERTOIRE_BAR) -> dict:
    """Seed vs seed (same speech and emotion) against recording vs recording (same emotion and seed):
    mean wrist-path distances (cm) and their ratio; None where there are not two seeds or two
    recordings."""
    seeds, recordings = [], []
    for a, b in combinations(takes, 2):
        if a.label != b.label:
            continue
        if a.speech == b.speech and a.seed != b.seed:
            seeds.append(path_distance(a, b))
        elif a.speech != b.speech and a.seed == b.seed:
            recordings.append(path_distance(a, b))
    seed = float(np.mean(seeds)) if seeds else None
    recording = float(np.mean(recordings)) if recordings else None
    ratio = seed / recording if seeds and recordings and recording > 0 else None
    return dict(between_seeds=seed, between_recordings=recording, ratio=ratio, seed_pairs=len(seeds),
                recording_pairs=len(recordings), passed=None if ratio is None else bool(ratio >= bar["reroll_ratio"]))


# ------------------------------------------------------------------ 6. takes of altered speech


def pitched_copy(path, semitones: float, folder) -> Path:
    """The speech ``path`` pitched by ``semitones`` (librosa.effects.pitch_shift, tempo kept), written as
    a wav in ``folder``."""
    import librosa
    import soundfile

    from ..audio.features import load_audio

    samples, sr = load_audio(path)
    out = Path(folder) / f"{Path(path).stem}_{semitones:+g}st.wav"
    soundfile.write(out, librosa.effects.pitch_shift(np.asarray(samples, np.float32), sr=sr, n_steps=semitones), sr)
    return out


def silence_file(folder, seconds: float = SILENCE_SECONDS, sr: int = 16000) -> Path:
    """``seconds`` of digital silence as a wav in ``folder``."""
    import soundfile

    out = Path(folder) / f"silence_{seconds:g}s.wav"
    soundfile.write(out, np.zeros(int(round(seconds * sr)), np.float32), sr)
    return out


def _key(row: dict, speech: str | None = None) -> tuple:
    return (speech or row["speech"], row["label"], row["seed"])


def voice_changes(rows: list[dict], variant_rows: list[dict], bar: dict = REPERTOIRE_BAR) -> dict:
    """Per pitch variant (e.g. "+6 st"): each take's change against the take of the speech as given
    (same speech, emotion and seed) in mean wrist height above the hips (cm) and mean wrist speed
    (%): over all takes and per recording (``recordings``; its takes' mean change), the mean and
    the largest. For +6 semitones it passes where every recording's mean change is within the
    bar: the voice must not move the recording's repertoire. A single take's change is reported
    beside how far two seeds of one emotion on the speech as given are apart (``seed_height_max``):
    on the training and validation recordings two seeds differed by up to 9.4 cm, more than
    pitching the voice moved a take (docs/evaluation.md), so a bar on the largest take would
    ask re-rolls not to differ."""
    given = {_key(r): r for r in rows}
    seed_height = [abs(a["wrist_above_hips"] - b["wrist_above_hips"]) for a in rows for b in rows
                   if (a["speech"], a["label"]) == (b["speech"], b["label"]) and a["seed"] < b["seed"]]
    out = {}
    for variant in [v for v in VARIANTS if v.endswith(" st")]:
        pairs = [(r, given[_key(r, r["speech"])]) for r in variant_rows
                 if r["variant"] == variant and _key(r, r["speech"]) in given]
        if not pairs:
            continue
        height = [v["wrist_above_hips"] - g["wrist_above_hips"] for v, g in pairs]
        speed = [100.0 * (v["mean_speed"] / g["mean_speed"] - 1.0) for v, g in pairs]
        recordings = {}
        for speech in dict.fromkeys(v["speech"] for v, _ in pairs):
            mine = [k for k, (v, _) in enumerate(pairs) if v["speech"] == speech]
            recordings[speech] = dict(takes=len(mine), height_change=float(np.mean([height[k] for k in mine])),
                                      speed_change_pct=float(np.mean([speed[k] for k in mine])))
        entry = dict(takes=len(pairs), height_change=float(np.mean(height)),
                     height_change_max=float(max(height, key=abs)), speed_change_pct=float(np.mean(speed)),
                     speed_change_pct_max=float(max(speed, key=abs)), recordings=recordings,
                     recording_height_max=float(max((r["height_change"] for r in recordings.values()), key=abs)),
                     recording_speed_max=float(max((r["speed_change_pct"] for r in recordings.values()), key=abs)),
                     seed_height_max=float(max(seed_height)) if seed_height else None,
                     **repertoire_summary([v for v, _ in pairs]),
                     passed=None)
        if variant == f"{bar['voice_semitones']:+d} st":
            entry["passed"] = bool(abs(entry["recording_height_max"]) <= bar["voice_height"]
                                   and abs(entry["recording_speed_max"]) <= bar["voice_speed_pct"])
        out[variant] = entry
    return out


def retime_comparison(rows: list[dict], variant_rows: list[dict]) -> dict:
    """Per speech file: loudness r and its shifted p95, averaged over the emotions and seeds, with
    re-timing (the takes as generated) and without (the "no-retime" takes)."""
    out = {}
    for speech in dict.fromkeys(r["speech"] for r in rows):
        entry = {}
        for name, chosen in (("retimed", [r for r in rows if r["speech"] == speech]),
                             ("not_retimed", [r for r in variant_rows
                                              if r["variant"] == "no-retime" and r["speech"] == speech])):
            couplings = [r["coupling"] for r in chosen if r["coupling"]]
            entry[name] = None if not couplings else dict(
                takes=len(couplings), loudness_r=float(np.mean([c["true"] for c in couplings])),
                shifted_p95=float(np.mean([c["shifted_p95"] for c in couplings])))
        if entry["not_retimed"] is not None:
            out[speech] = entry
    return out


def silence_rows(variant_rows: list[dict]) -> dict:
    """Per emotion, the silence take(s): wrist height above the hips, wrist speed, hand roll and hip sway."""
    out = {}
    for label in dict.fromkeys(r["label"] for r in variant_rows if r["variant"] == "silence"):
        out[label] = repertoire_summary([r for r in variant_rows if r["variant"] == "silence" and r["label"] == label])
    return out


# ------------------------------------------------------------------ all of it


def repertoire_result(rows: list[dict], real_rows: list[dict], variant_rows: list[dict], takes: list,
                      grid_dir=None, bar: dict = REPERTOIRE_BAR, mean_wrist_speed=None) -> dict:
    """Every repertoire measure: per emotion and per recording (hands, legs, roll; pass/fail, judged on each
    emotion's takes of each recording), per real take, tempo ratios
    (beside the grid's when ``grid_dir`` is given), re-roll variety over ``takes`` (those of the speech as
    given), and the takes of altered speech (``variant_rows``: voices, silence, without re-timing).
    ``all``: hands and legs in every emotion, tempo, re-rolls and the +6-semitone voice within the bar
    (an unmeasured part is not counted)."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    speeches = list(dict.fromkeys(r["speech"] for r in rows))
    emotions = {label: repertoire_summary([r for r in rows if r["label"] == label]) for label in labels}
    recordings = {speech: repertoire_summary([r for r in rows if r["speech"] == speech]) for speech in speeches}
    # judged per recording ("on male and female voices alike"): an emotion passes where it passes on every
    # recording, a recording where every emotion passes on it
    by_recording = {(label, speech): repertoire_summary(chosen) for label in labels for speech in speeches
                    if (chosen := [r for r in rows if r["label"] == label and r["speech"] == speech])}
    each = {key: repertoire_passes(summary, bar) for key, summary in by_recording.items()}
    passes = {label: {part: all(p[part] for (lab, _), p in each.items() if lab == label) for part in ("hands", "legs")}
              for label in labels}
    recording_passes = {speech: {part: all(p[part] for (_, s), p in each.items() if s == speech)
                                 for part in ("hands", "legs")} for speech in speeches}
    tempo = tempo_ratios(rows)
    tempo_ok = tempo_passes(tempo, bar)
    reroll = reroll_variety(takes, bar)
    voices = voice_changes(rows, variant_rows, bar)
    checks = [v for p in passes.values() for v in p.values()] + list(tempo_ok.values())
    checks += [c for c in [reroll["passed"], *(v["passed"] for v in voices.values())] if c is not None]
    return dict(bar=bar, emotions=emotions, passes=passes, recordings=recordings, recording_passes=recording_passes,
                by_recording={label: {speech: by_recording[label, speech] for speech in speeches
                                      if (label, speech) in by_recording} for label in labels},
                real={r["name"]: repertoire_summary([r]) for r in real_rows},
                tempo=tempo, grid_tempo=grid_tempo(grid_dir, labels, mean_wrist_speed) if grid_dir else {}, tempo_passes=tempo_ok,
                reroll=reroll, voices=voices, silence=silence_rows(variant_rows),
                retime=retime_comparison(rows, variant_rows), all=bool(all(checks)))
