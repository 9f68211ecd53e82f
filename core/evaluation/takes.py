"""Whole-take evaluation: judge long generated takes the way an animator does.

Every measure works on world joint positions (cm, Y up) of body parts found by
name, so it runs on any model skeleton and on real co-speech mocap on its own
skeleton (ZEGGS, BEAT, Mixamo, Bandai Namco). Per take (a motion and its speech):

1. gesture space: share of frames with a wrist above the head / above its own
   shoulder (the worse wrist), and a histogram of wrist height above the shoulder
   (in arm lengths) compared with the real takes';
2. liveliness: mean wrist speed (the mean of both wrists) per 10-s block;
3. speech coupling: Pearson r of loudness and the faster wrist's speed, both
   smoothed over 0.5 s, at the best lag within +-0.3 s, against the same r with
   circularly time-shifted audio (shifts of 2-30 s);
4. FGD in a skeleton-agnostic pose space (head, shoulders, elbows and wrists
   relative to the hips, heading-aligned, laid on one standard body) against the
   real takes' held-out last 15 s, with a real-vs-real floor and still-pose ceilings;
5. emotions differ more than seeds (frame-aligned pose distance) (4. and 5.: take_pose.py);
6. plausibility: jitter (mean jerk of the body parts per unit of wrist speed; the mean
   jerk is reported too) and foot sliding of the ankles, both at POSE_FPS so takes of any
   frame rate compare, against the real takes' range;
7. facing: how far the hips' heading turns away from where it faced at the first frame;
8. the fingers: chains found, flexion and backward bending (take_fingers.py, issue 32).

Pure functions over :class:`Take`; :func:`generate_takes` runs a model, and
:func:`evaluate_takes` combines everything into one result dict that
``take_report.write_take_report`` turns into markdown and pictures.
"""

from __future__ import annotations

import re
from ..audio.features import loudness_envelope
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import measures as M
from . import take_fingers as F
from . import take_repertoire as R
from .take_pose import POSE_FPS, REQUIRED_PARTS, TakeError, emotion_seed_distances, pose_fgd, resample_rows

BLOCK_SECONDS = 10.0
SMOOTH_SECONDS = 0.5
MAX_LAG_SECONDS = 0.3
MIN_SHIFT_SECONDS = 2.0
HEIGHT_BINS = np.linspace(-1.1, 1.1, 45)  # wrist height above its shoulder, in arm lengths
MIN_TAKE_SECONDS = 60.0

REQUIRED_PARTS = ("hips", "head", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "wrist_l", "wrist_r")
# base names (lower case, side and separators removed), best first; the shoulder point is the upper arm's head
_SIDED_PARTS = {"shoulder": ("upperarm", "arm", "uparm"), "elbow": ("lowerarm", "forearm", "elbow"),
                "wrist": ("hand", "wrist"), "hip": ("upperleg", "upleg", "thigh"),
                "knee": ("lowerleg", "leg", "shin", "calf", "knee"), "foot": ("foot", "ankle")}
_CENTRE_PARTS = {"hips": ("hips", "pelvis", "hip"), "head": ("head",), "neck": ("neck", "neck1"),
                 "chest": ("chest", "upperchest")}

# block_min: every 10-s block's floor for every emotion but the slow ones (SLOW_LABELS), whose floor is
# block_min_slow (issue 28: slow, never frozen)
BAR = dict(above_head_pct=5.0, above_shoulder_pct=25.0, block_min=25.0, block_min_slow=12.0, block_max=140.0,
           loudness_r=0.3, heading_drift=45.0)
SLOW_LABELS = ("sad", "old", "tired")


def block_floor(label: str | None, bar: dict = BAR) -> float:
    """The slowest 10-s block's mean wrist speed (cm/s) an emotion may have: lower for the slow ones."""
    return bar.get("block_min_slow", bar["block_min"]) if label in SLOW_LABELS else bar["block_min"]


_SIDE_PATTERNS = (r"(left|right)[_.\- ]?(.+)", r"(l|r)[_.\- ](.+)", r"(.+?)[_.\- ]?(left|right)", r"(.+)[_.\- ](l|r)")


# ------------------------------------------------------------------ body parts by name


def side_and_base(name: str) -> tuple[str | None, str]:
    """('l' | 'r' | None, base) for a joint name: 'mixamorig:LeftForeArm' -> ('l', 'forearm'),
    'UpperArm_R' -> ('r', 'upperarm'), 'Spine3' -> (None, 'spine3')."""
    low = re.split(r"[:|]", name)[-1].lower()
    side, rest = None, low
    for pattern in _SIDE_PATTERNS:
        match = re.fullmatch(pattern, low)
        if match:
            groups = match.groups()
            word, rest = (groups[0], groups[1]) if groups[0] in ("left", "right", "l", "r") else (groups[1], groups[0])
            side = word[0]
            break
    return side, re.sub(r"[_.\- ]", "", rest)


def find_body_parts(joint_names: list[str]) -> dict[str, int]:
    """Joint index per body part: hips, head, neck, chest, shoulder_l/r (the upper-arm joint), elbow_l/r,
    wrist_l/r, hip_l/r, knee_l/r, foot_l/r; those not found are left out. Raises TakeError if a required one is missing."""
    parsed = [side_and_base(n) for n in joint_names]
    wanted = {part: (None, bases) for part, bases in _CENTRE_PARTS.items()}
    for part, bases in _SIDED_PARTS.items():
        wanted[f"{part}_l"], wanted[f"{part}_r"] = ("l", bases), ("r", bases)
    parts = {}
    for part, (side, bases) in wanted.items():
        for base in bases:
            hits = [j for j, (s, b) in enumerate(parsed) if b == base and s == side]
            if hits:
                parts[part] = hits[0]
                break
    missing = [p for p in REQUIRED_PARTS if p not in parts]
    if missing:
        raise TakeError(f"the skeleton ({', '.join(joint_names[:6])}, ...) has no joint for {', '.join(missing)}; "
                        "whole-take measures need hips, head, shoulders (upper arms), elbows and wrists by name.")
    return parts


# ------------------------------------------------------------------ takes


@dataclass
class Take:
    name: str
    positions: np.ndarray  # (F, J, 3) world positions, cm, Y up
    fps: float
    parts: dict[str, int]
    parents: np.ndarray
    loudness: np.ndarray | None = None  # (F,) RMS of the speech per frame
    label: str = "real"  # emotion, or "real"
    seed: int | None = None
    speech: str = ""  # the speech file's name
    rotations: np.ndarray | None = None  # (F, J, 4) world rotations (w, x, y, z), where known
    variant: str = ""  # "" for a take of the speech as given; else what was changed (take_repertoire.VARIANTS)
    fingers: dict = field(default_factory=dict)  # {"r_index": [joint indices, knuckle first], ...} (take_fingers)

    @property
    def duration(self) -> float:
        return len(self.positions) / self.fps

    def part(self, name: str) -> np.ndarray:
        return self.positions[:, self.parts[name]]


def take_from_motion(motion, name: str, samples: np.ndarray | None = None, sr: int | None = None, **kwargs) -> Take:
    """A Take from a Motion (any skeleton) and optionally its speech samples."""
    from ..motion.kinematics import forward_kinematics
    from ..motion.measures import finger_chains

    positions, rotations = forward_kinematics(motion)
    loudness = None if samples is None else loudness_envelope(samples, sr, motion.fps, len(positions))
    skeleton = motion.skeleton
    fingers = F.chain_names(skeleton.joint_names, finger_chains(skeleton))
    return check_upright(Take(name, positions, float(motion.fps), find_body_parts(skeleton.joint_names),
                              np.asarray(skeleton.parents), loudness, rotations=rotations, fingers=fingers, **kwargs))


def read_reference(bvh_path, wav_path=None) -> Take:
    """A real take from a BVH file and its speech (the .wav beside it unless given; none if absent)."""
    from ..audio.features import load_audio
    from ..motion.bvh import read_bvh

    bvh_path = Path(bvh_path)
    wav_path = Path(wav_path) if wav_path else bvh_path.with_suffix(".wav")
    samples, sr = load_audio(wav_path) if wav_path.exists() else (None, None)
    return take_from_motion(read_bvh(bvh_path), bvh_path.stem, samples, sr, speech=wav_path.name)


def still_take(take: Take, frame: int = 0) -> Take:
    """The take's ``frame`` held for the whole take (a ceiling: a character that never moves)."""
    held = np.repeat(take.positions[frame:frame + 1], len(take.positions), axis=0)
    return Take(f"{take.name} (still)", held, take.fps, take.parts, take.parents, take.loudness, "still")


# ------------------------------------------------------------------ 1. gesture space


def check_upright(take: Take) -> Take:
    """Refuse a take whose shoulders are not above its hips (a Z-up file, or no body at all)."""
    up = 0.5 * (take.part("shoulder_l") + take.part("shoulder_r")) - take.part("hips")
    if not np.median(up[:, 1]) > 0.5 * np.median(np.linalg.norm(up, axis=-1)):
        raise TakeError(f"take {take.name}: the shoulders are not above the hips; the measures need Y up.")
    return take


def arm_length(take: Take, side: str) -> float:
    """Mean upper-arm plus forearm length (cm) of side 'l' or 'r'."""
    upper = np.linalg.norm(take.part(f"elbow_{side}") - take.part(f"shoulder_{side}"), axis=-1)
    fore = np.linalg.norm(take.part(f"wrist_{side}") - take.part(f"elbow_{side}"), axis=-1)
    return float(np.mean(upper + fore))


def wrist_heights(take: Take) -> np.ndarray:
    """(F, 2) left/right wrist height above that side's shoulder in arm lengths: -1 hanging straight down,
    0 level with the shoulder, +1 straight up (arm lengths, not cm, so rigs of any proportions compare)."""
    rel = [(take.part(f"wrist_{s}")[:, 1] - take.part(f"shoulder_{s}")[:, 1]) / max(arm_length(take, s), 1e-9)
           for s in "lr"]
    return np.stack(rel, axis=1)


def gesture_space(take: Take) -> dict:
    """Percent of frames with each wrist above the head joint / its own shoulder; 'worse' = the higher wrist."""
    head = take.part("head")[:, 1]
    out = {}
    for s in "lr":
        wrist = take.part(f"wrist_{s}")[:, 1]
        out[f"above_head_{s}"] = float(np.mean(wrist > head) * 100)
        out[f"above_shoulder_{s}"] = float(np.mean(wrist > take.part(f"shoulder_{s}")[:, 1]) * 100)
    out["above_head_pct"] = max(out["above_head_l"], out["above_head_r"])
    out["above_shoulder_pct"] = max(out["above_shoulder_l"], out["above_shoulder_r"])
    return out


def height_histogram(heights: np.ndarray, bins: np.ndarray = HEIGHT_BINS) -> np.ndarray:
    """Share of values per bin (sums to 1); values beyond the range count in the end bins."""
    values = np.clip(np.ravel(heights), bins[0], bins[-1])
    counts, _ = np.histogram(values, bins)
    return counts / max(counts.sum(), 1)


def height_comparison(heights: np.ndarray, real_heights: np.ndarray) -> dict:
    """Histogram overlap (1 = identical, 0 = disjoint) and Wasserstein distance (arm lengths)."""
    from scipy.stats import wasserstein_distance

    p, q = height_histogram(heights), height_histogram(real_heights)
    return dict(overlap=float(np.minimum(p, q).sum()),
                wasserstein=float(wasserstein_distance(np.ravel(heights), np.ravel(real_heights))))


# ------------------------------------------------------------------ 2. liveliness, 3. speech coupling


def wrist_speeds(take: Take) -> np.ndarray:
    """(F, 2) left/right wrist speed, cm/s."""
    return M.speed_from_positions(take.positions[:, [take.parts["wrist_l"], take.parts["wrist_r"]]], take.fps)


def mean_wrist_speed(bvh_path) -> float:
    """The mean speed (cm/s, both wrists) of a BVH file's wrists."""
    return float(wrist_speeds(read_reference(bvh_path)).mean())


def block_means(values: np.ndarray, fps: float, block_seconds: float = BLOCK_SECONDS) -> list[float]:
    """Mean per block of ``block_seconds``; a last part shorter than half a block joins the block before."""
    size = max(1, int(round(block_seconds * fps)))
    edges = list(range(0, len(values), size)) + [len(values)]
    if len(edges) > 2 and edges[-1] - edges[-2] < size / 2:
        del edges[-2]
    return [float(np.mean(values[a:b])) for a, b in zip(edges[:-1], edges[1:])]


def liveliness(take: Take, block_seconds: float = BLOCK_SECONDS) -> dict:
    """Mean wrist speed (the mean of both wrists, cm/s) over the take and per block."""
    speed = wrist_speeds(take).mean(axis=1)
    blocks = block_means(speed, take.fps, block_seconds)
    return dict(mean_speed=float(speed.mean()), blocks=blocks, block_min=min(blocks), block_max=max(blocks))


def lagged_r(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """The highest Pearson r of roll(a, lag) and b over lags -max_lag..max_lag, and that lag (frames)."""
    scores = [(M.pearson(np.roll(a, lag), b), lag) for lag in range(-max_lag, max_lag + 1)]
    return max(scores)


def speech_coupling(loudness: np.ndarray, speed: np.ndarray, fps: float, smooth_seconds: float = SMOOTH_SECONDS,
                    max_lag_seconds: float = MAX_LAG_SECONDS, min_shift: float = MIN_SHIFT_SECONDS,
                    n_shifts: int = 100) -> dict:
    """Loudness-speed r at the best lag, and the same best-lag r for circularly shifted audio
    (metrics.shift_test: shifted_p95, margin = true - p95)."""
    n = min(len(loudness), len(speed))
    if n < 3:
        raise TakeError("speech coupling needs at least three frames of loudness and motion.")
    a, b = M.smooth(loudness[:n], fps, smooth_seconds), M.smooth(speed[:n], fps, smooth_seconds)
    max_lag = int(round(max_lag_seconds * fps))
    out = M.shift_test(lambda s: lagged_r(np.roll(a, s), b, max_lag)[0], n, fps, n_shifts=n_shifts,
                       min_shift=min_shift)
    out["lag_seconds"] = lagged_r(a, b, max_lag)[1] / fps  # negative: the hands lead the voice
    return out


def take_coupling(take: Take) -> dict | None:
    """speech_coupling of the take's loudness and its faster wrist's speed (None without speech)."""
    if take.loudness is None:
        return None
    return speech_coupling(take.loudness, wrist_speeds(take).max(axis=1), take.fps)


def plausibility(take: Take) -> dict:
    """Mean jerk (cm/s^3) of every body part found by name, that jerk per unit of mean wrist
    speed (1/s^2: shakiness that a faster style does not raise by itself), and foot sliding (cm/s: horizontal
    speed of the ankles while within 5 cm of their floor; None without feet), both on positions
    resampled to POSE_FPS: jerk grows with the frame rate, and the BEAT take has 15 fps."""
    joints = sorted(set(take.parts.values()))
    positions = resample_rows(take.positions[:, joints], take.fps, POSE_FPS)
    feet = [joints.index(take.parts[p]) for p in ("foot_l", "foot_r") if p in take.parts]
    wrists = [joints.index(take.parts[p]) for p in ("wrist_l", "wrist_r")]
    jerk = M.jitter(positions, POSE_FPS)
    speed = float(M.speed_from_positions(positions[:, wrists], POSE_FPS).mean())
    return dict(jerk=jerk, jerk_per_speed=jerk / max(speed, 1e-9),
                foot_sliding=M.foot_sliding(positions, POSE_FPS, feet) if feet else None)


# ------------------------------------------------------------------ 7. facing


def heading_drift(take: Take) -> float:
    """The largest turn (degrees) of the body's heading away from the first frame's: the heading of
    the hips' left-right axis (the upper legs' heads; the shoulders' without legs) on the floor."""
    left, right = ("hip_l", "hip_r") if {"hip_l", "hip_r"} <= take.parts.keys() else ("shoulder_l", "shoulder_r")
    across = take.part(left) - take.part(right)
    heading = np.unwrap(np.arctan2(across[:, 2], across[:, 0]))
    return float(np.degrees(np.abs(heading - heading[0]).max()))


def take_measures(take: Take, real_heights: np.ndarray | None = None) -> dict:
    """Measures 1-3, 6 and 7 of one take, and its repertoire (take_repertoire.repertoire)."""
    out = dict(name=take.name, label=take.label, seed=take.seed, speech=take.speech, variant=take.variant,
               seconds=take.duration, fps=take.fps, **gesture_space(take), **liveliness(take),
               coupling=take_coupling(take), **plausibility(take), heading_drift=heading_drift(take),
               **R.repertoire(take), **F.finger_measures(take))
    if real_heights is not None:
        out.update(height_comparison(wrist_heights(take), real_heights))
    return out


def summarise(rows: list[dict], heights: np.ndarray, real_heights: np.ndarray | None) -> dict:
    """One line for a set of takes' measures (one emotion, or the real takes): the worst take's gesture
    space, every block's extremes, the mean loudness coupling, and the pooled wrist-height histogram."""
    couplings = [r["coupling"] for r in rows if r["coupling"]]
    seconds = np.array([r["seconds"] for r in rows])
    out = dict(takes=len(rows), seconds=float(seconds.sum()),
               above_head_pct=max(r["above_head_pct"] for r in rows),
               above_shoulder_pct=max(r["above_shoulder_pct"] for r in rows),
               mean_speed=float(np.average([r["mean_speed"] for r in rows], weights=seconds)),
               block_min=min(r["block_min"] for r in rows), block_max=max(r["block_max"] for r in rows),
               loudness_r=float(np.mean([c["true"] for c in couplings])) if couplings else None,
               shifted_p95=float(np.mean([c["shifted_p95"] for c in couplings])) if couplings else None,
               jerk=float(np.average([r["jerk"] for r in rows], weights=seconds)),
               jerk_per_speed=float(np.average([r["jerk_per_speed"] for r in rows], weights=seconds)),
               foot_sliding=_mean_or_none([r["foot_sliding"] for r in rows], seconds),
               heading_drift=max(r["heading_drift"] for r in rows))
    if real_heights is not None:
        out.update(height_comparison(heights, real_heights))
    return out


def _mean_or_none(values: list, weights: np.ndarray) -> float | None:
    kept = [(v, w) for v, w in zip(values, weights) if v is not None]
    return float(np.average([v for v, _ in kept], weights=[w for _, w in kept])) if kept else None


# What the bar's "no jitter beyond real mocap" is judged on. Mean jerk grows with how far and fast
# the hands move, so a livelier emotion has more of it without shaking more: in the Bandai Namco
# styled capture, the same content performed happy has 2.2 times normal's mean jerk and angry 1.35
# times (median over 10 contents; research/style_jerk.py, docs/evaluation.md). The jitter is the jerk
# beyond what the speed explains, jerk per unit of wrist speed; mean jerk is reported beside it.
PLAUSIBILITY_CHECKS = {"jerk_per_speed": "jitter", "foot_sliding": "foot sliding"}  # measure: its name in reports


def plausible(summaries: dict, real_rows: list[dict]) -> dict:
    """Per emotion: jitter (jerk per unit of wrist speed) and foot sliding no higher than the
    highest real take's (None where the real takes lack the measure)."""
    out = {}
    for name in PLAUSIBILITY_CHECKS:
        real = [r[name] for r in real_rows if r[name] is not None]
        out[name] = None if not real else {label: bool(s[name] is not None and s[name] <= max(real))
                                          for label, s in summaries.items()}
    return out


def clip_couplings(rows: list[dict], bar: dict = BAR) -> dict:
    """Per speech file: loudness r and its shifted 95th percentile averaged over the emotions (and seeds)."""
    clips = {}
    for speech in sorted({r["speech"] for r in rows if r["coupling"]}):
        cs = [r["coupling"] for r in rows if r["speech"] == speech and r["coupling"]]
        r, p95 = float(np.mean([c["true"] for c in cs])), float(np.mean([c["shifted_p95"] for c in cs]))
        clips[speech] = dict(takes=len(cs), loudness_r=r, shifted_p95=p95,
                             passed=bool(r >= bar["loudness_r"] and r > p95))
    return clips


def label_passes(summary: dict, bar: dict = BAR, label: str | None = None) -> dict:
    """Gesture space, liveliness (with ``label``'s block floor, block_floor) and facing of one emotion's summary."""
    gesture = summary["above_head_pct"] <= bar["above_head_pct"] and \
        summary["above_shoulder_pct"] <= bar["above_shoulder_pct"]
    lively = block_floor(label, bar) <= summary["block_min"] and summary["block_max"] <= bar["block_max"]
    drift = summary.get("heading_drift")  # unmeasured: not counted
    facing = drift is None or drift <= bar["heading_drift"]
    return dict(gesture_space=bool(gesture), liveliness=bool(lively), facing=bool(facing),
                passed=bool(gesture and lively and facing))


def quality_bar(labels: dict, clips: dict, distances: dict, bar: dict = BAR, plausibility: dict | None = None,
                repertoire: bool | None = None) -> dict:
    """Pass/fail per emotion (gesture space, liveliness, facing), per speech clip (loudness coupling averaged over
    emotions), jitter and foot sliding within the real takes' (``plausible``; unmeasured = not counted), and
    overall (with emotions differing more than seeds; unmeasured with one seed = not passed; and the
    repertoire's bar, take_repertoire.repertoire_result's ``all``, where given)."""
    per_label = {label: label_passes(s, bar, label) for label, s in labels.items()}
    per_clip = {speech: c["passed"] for speech, c in clips.items()}
    plausibility = plausibility or {}
    physical = all(all(v.values()) for v in plausibility.values() if v is not None)
    passed = all(v["passed"] for v in per_label.values()) and all(per_clip.values()) and \
        distances["passed"] is True and physical and repertoire is not False
    return dict(bar=dict(bar), emotions=per_label, clips=per_clip, emotions_vs_seeds=distances["passed"],
                plausibility=plausibility, repertoire=repertoire, all=bool(passed))


# ------------------------------------------------------------------ running a model, and the whole evaluation


def check_take_inputs(speech: list, references: list, min_seconds: float = MIN_TAKE_SECONDS) -> None:
    """Refuse, in one line, a missing file or speech shorter than ``min_seconds``."""
    from ..audio.features import audio_info

    if not speech:
        raise TakeError("--takes needs at least one speech recording.")
    if not references:
        raise TakeError("the whole-take evaluation needs at least one real take: --reference REAL.bvh.")
    for path in [*speech, *references]:
        if not Path(path).is_file():
            raise TakeError(f"{path} does not exist (or is not a file).")
    for path in references:
        if Path(path).suffix.lower() != ".bvh":
            raise TakeError(f"the real take {path} is not a .bvh file.")
    for path in speech:
        seconds = audio_info(path)["duration"]
        if seconds < min_seconds:
            raise TakeError(f"the speech {path} lasts {seconds:.1f} s; whole takes need at least {min_seconds:g} s.")


def check_emotions(labels: list[str], emotions: list[str] | None) -> list[str]:
    """The emotions asked for (default: every emotion of the model), refusing an unknown one."""
    emotions = list(emotions) if emotions else list(labels)
    unknown = [e for e in emotions if e not in labels]
    if unknown:
        raise TakeError(f"the model has no emotion {unknown[0]!r}; valid emotions: {', '.join(labels)}.")
    return emotions


def generate_takes(lm, speech: list, emotions: list[str], seeds: list[int], log=None, save_dir=None,
                   retime: bool = True, variant: str = "", speech_name: str | None = None) -> list[Take]:
    """One take per speech file, emotion and seed, with generate_features' default settings
    (as ``ohgesture generate``; ``retime`` False as ``--no-retime``). ``save_dir``: also write
    each take there as BVH. ``variant`` and ``speech_name`` tag takes of altered speech
    (take_repertoire.VARIANTS) with what was altered and the speech they were made from; a
    silence take has no loudness."""
    from ..audio.features import audio_features_from_file, load_audio
    from ..generation.pipeline import features_to_output, generate_features
    from ..motion.bvh import write_bvh

    takes = []
    for path in map(Path, speech):
        audio = audio_features_from_file(path, lm.fps, config=lm.audio_config)
        samples, sr = load_audio(path)
        for emotion in emotions:
            for seed in seeds:
                if log:
                    log(f"generating {path.name}, {emotion}, seed {seed}")
                motion = features_to_output(lm, generate_features(lm, audio, [emotion], np.ones(1), seed=seed,
                                                                  retime=retime))
                name = f"{path.stem}_{emotion}_s{seed}" + ("" if retime else "_noretime")
                if save_dir is not None:
                    write_bvh(Path(save_dir) / f"{name}.bvh", motion)
                heard = (None, None) if variant == "silence" else (samples, sr)
                takes.append(take_from_motion(motion, name, *heard, label=emotion, seed=seed,
                                              speech=speech_name or path.name, variant=variant))
    return takes


def generate_variant_takes(lm, speech: list, emotions: list[str], seeds: list[int], voices: bool = False,
                           silence: bool = False, no_retime: bool = False, log=None, save_dir=None) -> list[Take]:
    """Takes of altered speech (take_repertoire.VARIANTS): ``voices``, each speech file pitched
    +6 and -6 semitones; ``silence``, 10 s of digital silence (both with the first seed only);
    ``no_retime``, each take of the speech as given again without re-timing (every seed). The altered
    audio is written to a temporary folder and removed."""
    import tempfile

    takes = []
    with tempfile.TemporaryDirectory(prefix="ohgesture-variants-") as folder:
        for path in speech if voices else []:
            for semitones in R.PITCH_SEMITONES:
                takes += generate_takes(lm, [R.pitched_copy(path, semitones, folder)], emotions, seeds[:1], log,
                                        save_dir, variant=f"{semitones:+d} st", speech_name=Path(path).name)
        if silence:
            takes += generate_takes(lm, [R.silence_file(folder)], emotions, seeds[:1], log, save_dir,
                                    variant="silence", speech_name="silence")
    if no_retime:
        takes += generate_takes(lm, speech, emotions, seeds, log, save_dir, retime=False, variant="no-retime")
    return takes


def _leave_one_out_heights(references: list[Take], i: int) -> np.ndarray:
    others = [wrist_heights(r) for j, r in enumerate(references) if j != i]
    return np.concatenate(others) if others else wrist_heights(references[i])


def evaluate_takes(generated: list[Take], references: list[Take], ceilings: dict[str, list[Take]] | None = None,
                   bar: dict = BAR, grid_dir=None) -> dict:
    """Every whole-take measure, per take, per emotion, per speech clip, with the quality bar, and the
    repertoire (take_repertoire.repertoire_result; ``grid_dir``: the Bandai Namco dataset-1 data folder
    for the real tempo ratios). Takes of altered speech (a ``variant``) are measured on their own and
    enter only the repertoire's voice, silence and re-timing comparisons. The real takes' histograms
    are compared with the other real takes' (leave one out)."""
    variants = [t for t in generated if t.variant]
    generated = [t for t in generated if not t.variant]
    real_heights = np.concatenate([wrist_heights(r) for r in references])
    real_rows = [take_measures(r, _leave_one_out_heights(references, i)) for i, r in enumerate(references)]
    rows = [take_measures(t, real_heights) for t in generated]
    labels = list(dict.fromkeys(t.label for t in generated))
    by_label = {label: [t for t in generated if t.label == label] for label in labels}
    summaries = {label: summarise([r for r in rows if r["label"] == label],
                                  np.concatenate([wrist_heights(t) for t in by_label[label]]), real_heights)
                 for label in labels}
    real_summary = summarise(real_rows, real_heights, None)
    real_summary["passes"] = {r["name"]: label_passes(summarise([r], None, None), bar, "real") for r in real_rows}
    still = {"still (first frame of each generated take held)": [still_take(t) for t in generated]}
    fgd = pose_fgd(by_label, references, {**still, **(ceilings or {})})
    distances = emotion_seed_distances(generated)
    clips = clip_couplings(rows, bar)
    variant_rows = [take_measures(t) for t in variants]
    repertoire = R.repertoire_result(rows, real_rows, variant_rows, generated, grid_dir,
                                     mean_wrist_speed=mean_wrist_speed)
    return dict(takes=rows, real_takes=real_rows, variant_takes=variant_rows, emotions=summaries, real=real_summary,
                clips=clips, fgd=fgd, distances=distances, repertoire=repertoire,
                fingers=F.finger_result(generated, references),
                quality_bar=quality_bar(summaries, clips, distances, bar, plausible(summaries, real_rows),
                                        repertoire["all"]))
