"""Training data: folders of motion (and audio) turned into normalised windows.

Besides the shipped recipe's real takes (:mod:`.speech_takes`), one layout is read:
``pairs``, any folder with ``labels.csv`` (columns ``motion,audio,emotion``, paths
relative to the folder).

Every clip becomes per-frame motion features and audio features at the same fps.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..audio.features import AudioFeatureConfig, audio_features_from_file
from ..motion.bvh import read_bvh
from ..atomic import atomic_path
from ..motion.features import FeatureLayout, crossfade_features, model_skeleton, motion_to_features, smoothstep_ramp
from ..motion.resample import resample_motion
from ..motion.skeleton import Motion, Skeleton
from ..motion.measures import wrist_speeds
from ..model.normalisation import NormStats


class DatasetError(ValueError):
    pass


@dataclass
class Clip:
    name: str
    take: str  # clips of one take never straddle the train/held-out split
    label: str
    motion: np.ndarray  # (F, D) float32 motion features
    audio: np.ndarray  # (F, A) float32 audio features
    performer: str = ""  # whose way of gesturing (GestureDataset.performers); "" for none
    channel_weight: np.ndarray | None = None  # (D,) loss weight per motion channel; 0 = not captured


@dataclass
class GestureDataset:
    clips: list[Clip]
    skeleton: Skeleton
    layout: FeatureLayout
    audio_config: AudioFeatureConfig
    fps: float
    source: str  # human-readable description of where the data came from
    license: str = "unknown"
    labels: list[str] = field(default_factory=list)
    held_out_takes: list[str] = field(default_factory=list)  # given: the split holds out exactly these
    performers: list[str] = field(default_factory=list)  # the performer condition's classes ([] = none)
    # performer -> what its take did not capture ("root" and joint names): generation takes those
    # channels from the other performers (checkpoint metadata "performers_uncaptured")
    uncaptured: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self):
        if not self.clips:
            raise DatasetError("the dataset holds no clips")
        unknown = sorted({c.performer for c in self.clips if c.performer} - set(self.performers))
        if unknown:
            raise DatasetError(f"clips name performers {unknown} the dataset does not list")
        if not self.labels:
            found = sorted({c.label for c in self.clips})
            self.labels = (["neutral"] if "neutral" in found else []) + [l for l in found if l != "neutral"]

    def split(self, held_out_fraction: float = 0.1, seed: int = 0) -> tuple[list[Clip], list[Clip]]:
        """Split by take (never by window), stratified by label where a label has several takes;
        a dataset that names its held-out takes holds out exactly those."""
        rng = np.random.default_rng(seed)
        held: set[str] = set(self.held_out_takes)
        for label in [] if held else self.labels:
            takes = sorted({c.take for c in self.clips if c.label == label})
            if len(takes) < 2:
                continue
            n_held = max(1, int(round(held_out_fraction * len(takes))))
            held.update(rng.choice(takes, size=n_held, replace=False).tolist())
        train = [c for c in self.clips if c.take not in held]
        test = [c for c in self.clips if c.take in held]
        return train, test


def _clip_from_motion(name, take, label, motion, fps, audio_feats, layout_motion_features) -> Clip:
    n = min(len(layout_motion_features), len(audio_feats))
    return Clip(name=name, take=take, label=label,
                motion=layout_motion_features[:n].astype(np.float32), audio=audio_feats[:n].astype(np.float32))


def _prepare_motion(path: Path, fps: float) -> Motion:
    motion = read_bvh(path)
    if abs(motion.fps - fps) > 1e-3:
        motion = resample_motion(motion, fps)
    return motion


def build_pairs(folder: Path, fps: float = 30.0, audio_config: AudioFeatureConfig | None = None) -> GestureDataset:
    folder = Path(folder)
    audio_config = audio_config or AudioFeatureConfig()
    table = folder / "labels.csv"
    if not table.exists():
        raise DatasetError(f"{folder} has no labels.csv (columns motion,audio,emotion)")
    clips, skeleton = [], None
    with open(table, newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            try:
                bvh, wav, label = folder / row["motion"], folder / row["audio"], row["emotion"].strip()
            except (KeyError, TypeError, AttributeError):
                raise DatasetError(f"{table}, line {line_no}: expected columns motion,audio,emotion") from None
            motion = _prepare_motion(bvh, fps)
            skeleton = skeleton or model_skeleton(motion)
            if motion.skeleton.joint_names != skeleton.joint_names:
                raise DatasetError(f"{bvh}: its skeleton differs from the first clip's")
            feats = motion_to_features(motion)
            audio = audio_features_from_file(wav, fps, config=audio_config)
            clips.append(_clip_from_motion(bvh.stem, bvh.stem, label, motion, fps, audio, feats))
    return GestureDataset(clips, skeleton, FeatureLayout.for_skeleton(skeleton), audio_config, fps,
                          source=f"BVH and audio pairs listed in {table.name}")


def random_rate_curves(rng: np.random.Generator, count: int, frames: int, max_factor: float, knots: int = 4) -> np.ndarray:
    """(count, frames) playback rates between 1/max_factor and max_factor, log-uniform at
    ``knots`` evenly spaced points and smoothly (cosine) interpolated between them."""
    log_rates = rng.uniform(-np.log(max_factor), np.log(max_factor), size=(count, knots))
    position = np.linspace(0.0, knots - 1.0, frames)
    left = np.minimum(position.astype(int), knots - 2)
    blend = 0.5 - 0.5 * np.cos(np.pi * (position - left))
    return np.exp(log_rates[:, left] * (1 - blend) + log_rates[:, left + 1] * blend)


ACTIVITY_SMOOTH_FRAMES = 9  # 0.3 s at 30 fps: a gesture stroke, not single-frame jitter


def clip_wrist_speeds(clips: list[Clip], skeleton: Skeleton, layout: FeatureLayout, fps: float) -> list[np.ndarray]:
    """(F, 2) left and right wrist speeds (file units per second) of each clip's motion features."""
    from ..motion.features import features_to_motion

    return [wrist_speeds(features_to_motion(c.motion, skeleton, fps, root_joint=layout.root_joint)) for c in clips]


def window_span(window: int, n_seed: int, time_warp: float = 1.0) -> int:
    """Frames one training window reads: its seed, then ``window`` frames played at up to
    ``time_warp`` times real speed."""
    return n_seed + int(np.ceil((window - 1) * time_warp)) + 1


CHAIN_CROSSFADE_FRAMES = 8


def chain_short_clips(clips: list[Clip], min_frames: int, layout: FeatureLayout, seed: int = 0,
                      crossfade: int = CHAIN_CROSSFADE_FRAMES) -> list[Clip]:
    """The clips, with those shorter than ``min_frames`` joined per label into one run each.

    Why: padding a short clip with its held first and last poses (WindowSampler) teaches
    "a still seed stays still": Bandai's angry has three training clips of 55-110 frames, and
    a model trained on them padded moved its angry wrists at 60 cm/s in the first window
    of unseen speech and at 8 cm/s from the third window on. Joined, the clips of a style
    follow each other as gestures do in a take: rest, stroke, rest, the next stroke. The
    clips are shuffled (seeded), and consecutive ones overlap by ``crossfade`` frames,
    blended with crossfade_features (slerp on rotations; audio features linearly). A short
    clip with too little of its label beside it is joined with the label's shortest other
    clips; a label with nothing else keeps it as it is (WindowSampler pads it)."""
    rng = np.random.default_rng(seed)
    short: dict[str, list[Clip]] = {}
    for c in clips:
        if len(c.motion) < min_frames and len(c.motion) > 2 * crossfade:
            short.setdefault(c.label, []).append(c)
    for label, group in short.items():  # too little on its own: take in the label's shortest other clips
        others = sorted((c for c in clips if c.label == label and all(c is not g for g in group)
                         and len(c.motion) > 2 * crossfade), key=lambda c: len(c.motion))
        while others and (len(group) < 2 or sum(len(c.motion) - crossfade for c in group) < min_frames):
            group.append(others.pop(0))
    chained = {id(c) for group in short.values() if len(group) > 1 for c in group}
    out = [c for c in clips if id(c) not in chained]
    for label, group in short.items():
        if len(group) < 2:
            continue
        order = [group[i] for i in rng.permutation(len(group))]
        motion, audio = order[0].motion, order[0].audio
        for nxt in order[1:]:
            weight = smoothstep_ramp(crossfade)[:, None]
            joined_motion = crossfade_features(motion[-crossfade:], nxt.motion[:crossfade], layout)
            joined_audio = (1 - weight) * audio[-crossfade:] + weight * nxt.audio[:crossfade]
            motion = np.concatenate([motion[:-crossfade], joined_motion, nxt.motion[crossfade:]])
            audio = np.concatenate([audio[:-crossfade], joined_audio, nxt.audio[crossfade:]])
        out.append(Clip(f"{label}-chain({len(order)})", "+".join(dict.fromkeys(c.take for c in order)), label,
                        motion.astype(np.float32), audio.astype(np.float32)))
    return out


class WindowSampler:
    """Random training windows: seed frames followed by a window of motion, with its audio."""

    def __init__(self, clips: list[Clip], labels: list[str], stats: NormStats, window: int, n_seed: int, seed: int = 0,
                 label_balance: float = 0.5, time_warp: float = 1.0, velocity_channels: tuple[int, ...] = (),
                 wrist_speeds: list[np.ndarray] | None = None, activity_norm: tuple[float, float] | None = None,
                 silence: np.ndarray | None = None, performers: list[str] | None = None):
        """``label_balance`` 0 draws every frame equally often; 1 gives every label the same
        share of batches; in between, a label's share grows as (its frames) ** (1 - label_balance).

        ``time_warp`` > 1 plays each window (motion and audio together, seed frames untouched)
        at a smoothly varying random rate between 1/time_warp and time_warp; the motion
        channels listed in ``velocity_channels`` (per-second rates) are scaled by the local
        rate. Why: on a small dataset the seed and emotion identify the clip, so the model
        could recall when its strokes come without the audio; under a random warp only the
        audio says when (docs/experiments/audio-following.md).

        ``wrist_speeds`` (one (F, C) array per clip, see clip_wrist_speeds) adds each window's
        "activity" (B, M, C): the wrist speeds smoothed over ACTIVITY_SMOOTH_FRAMES and
        standardised by ``activity_norm`` (mean, std; by default measured on these clips).

        A clip shorter than a window (with its seed and the warp's reach) is padded at both
        ends: the first and last poses held still, audio ``silence`` (raw features of digital
        silence; the clip's edge frames when None), so that a short clip is trained too. Each
        clip is drawn in proportion to its real frames, not its padded ones."""
        if time_warp < 1.0:
            raise DatasetError(f"time_warp must be 1 (off) or more, got {time_warp}")
        if not 0.0 <= label_balance <= 1.0:
            raise DatasetError(f"label_balance must lie between 0 and 1, got {label_balance}")
        self.window, self.n_seed, self.stats = window, n_seed, stats
        self.time_warp, self.velocity_channels = float(time_warp), list(velocity_channels)
        span = window_span(window, n_seed, self.time_warp)
        keep = [i for i, c in enumerate(clips) if len(c.motion) >= 2]
        self.clips = [clips[i] for i in keep]
        if not self.clips:
            raise DatasetError("no clip has two frames or more")
        self.motion = [(c.motion - stats.motion_mean) / stats.motion_std for c in self.clips]
        self.audio = [(c.audio - stats.audio_mean) / stats.audio_std for c in self.clips]
        speeds = None
        if wrist_speeds is not None:
            speeds = [np.asarray(wrist_speeds[i], np.float32).reshape(len(clips[i].motion), -1) for i in keep]
            if activity_norm is None:
                smoothed = np.concatenate([uniform_filter1d(v, ACTIVITY_SMOOTH_FRAMES, axis=0, mode="nearest")
                                           for v in speeds])
                activity_norm = (float(smoothed.mean()), float(max(smoothed.std(), 1e-6)))
        self.activity_norm = activity_norm
        real_frames = np.array([len(m) for m in self.motion], dtype=np.float64)
        quiet = None if silence is None else ((np.asarray(silence) - stats.audio_mean) / stats.audio_std)
        still = -stats.motion_mean[self.velocity_channels] / stats.motion_std[self.velocity_channels]
        for i, m in enumerate(self.motion):
            if len(m) < span:
                before = (span - len(m)) // 2
                pad = (before, span - len(m) - before)
                motion = np.pad(m, (pad, (0, 0)), mode="edge")
                motion[:before, self.velocity_channels] = still  # a held pose does not travel
                motion[before + len(m):, self.velocity_channels] = still
                self.motion[i] = motion
                self.audio[i] = (np.pad(self.audio[i], (pad, (0, 0)), mode="edge") if quiet is None else
                                 np.concatenate([np.repeat(quiet[None], pad[0], 0), self.audio[i],
                                                 np.repeat(quiet[None], pad[1], 0)]))
                if speeds is not None:
                    speeds[i] = np.pad(speeds[i], (pad, (0, 0)))  # held still: speed 0
        self._all_motion, self._all_audio = np.concatenate(self.motion), np.concatenate(self.audio)
        self._all_speed = None if speeds is None else np.concatenate(speeds)
        self._clip_length = np.array([len(m) for m in self.motion])
        self._clip_start = np.concatenate([[0], np.cumsum(self._clip_length)[:-1]])
        self.emotion = np.array([labels.index(c.label) for c in self.clips])
        performers = list(performers or [])
        # a clip without a performer gets the null performer (index len(performers))
        self.performer = np.array([performers.index(c.performer) if c.performer else len(performers)
                                   for c in self.clips]) if performers else None
        dims = self.motion[0].shape[1]
        self.channel_weight = (np.stack([np.ones(dims, np.float32) if c.channel_weight is None else
                                         np.asarray(c.channel_weight, np.float32) for c in self.clips])
                               if any(c.channel_weight is not None for c in self.clips) else None)
        per_label = {e: real_frames[self.emotion == e].sum() for e in set(self.emotion.tolist())}
        weights = real_frames / np.array([per_label[e] for e in self.emotion]) ** label_balance
        self.clip_weights = weights / weights.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> dict[str, np.ndarray]:
        idx = self.rng.choice(len(self.clips), size=size, p=self.clip_weights)
        if self.time_warp > 1.0:
            rate = random_rate_curves(self.rng, size, self.window, self.time_warp)
            offsets = np.concatenate([np.zeros((size, 1)), np.cumsum(rate[:, 1:], axis=1)], axis=1)
        else:
            rate, offsets = None, np.broadcast_to(np.arange(self.window, dtype=np.float64), (size, self.window))
        reach = np.ceil(offsets[:, -1] - 1e-9).astype(int)
        start = self.rng.integers(self.n_seed, self._clip_length[idx] - reach)
        return self._windows(idx, start, offsets, rate)

    def _windows(self, idx: np.ndarray, start: np.ndarray, offsets: np.ndarray, rate: np.ndarray | None) -> dict:
        """Windows of clips ``idx`` read from frame ``start`` at fractional ``offsets`` (B, M)."""
        first = self._clip_start[idx] + start
        seed = self._all_motion[first[:, None] - self.n_seed + np.arange(self.n_seed)]
        position = first[:, None] + offsets
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, (self._clip_start[idx] + self._clip_length[idx] - 1)[:, None])
        frac = (position - low).astype(np.float32)

        def read(values):
            return values[low] * (1 - frac[..., None]) + values[high] * frac[..., None]

        x0, audio = read(self._all_motion), read(self._all_audio)
        if rate is not None and self.velocity_channels:
            ch, mean, std = self.velocity_channels, self.stats.motion_mean, self.stats.motion_std
            raw = x0[..., ch] * std[ch] + mean[ch]
            x0[..., ch] = (raw * rate[..., None] - mean[ch]) / std[ch]
        out = dict(x0=x0.astype(np.float32), seed=seed, audio=audio.astype(np.float32), emotion=self.emotion[idx])
        if self.performer is not None:
            out["performer"] = self.performer[idx]
        if self.channel_weight is not None:
            out["channel_weight"] = self.channel_weight[idx]
        if self._all_speed is not None:
            speed = read(self._all_speed) * (1.0 if rate is None else rate[..., None])
            smoothed = uniform_filter1d(speed, ACTIVITY_SMOOTH_FRAMES, axis=1, mode="nearest")
            out["activity"] = ((smoothed - self.activity_norm[0]) / self.activity_norm[1]).astype(np.float32)
        return out

    def all_windows(self, stride: int) -> dict[str, np.ndarray]:
        """Every window at a fixed stride, unwarped (for a stable held-out loss)."""
        idx, start = [], []
        for i, length in enumerate(self._clip_length):
            for s in range(self.n_seed, length - self.window + 1, stride):
                idx.append(i)
                start.append(s)
        offsets = np.broadcast_to(np.arange(self.window, dtype=np.float64), (len(idx), self.window))
        return self._windows(np.array(idx), np.array(start), offsets, None)


def save_pack(dataset: GestureDataset, path: Path, dtype=np.float32) -> None:
    """A preprocessed dataset in one npz (features only, no source files), written atomically.
    ``dtype`` float16 halves the file (0.1 % relative precision, plenty for training) so a
    pack fits the limits of a machine it has to be copied to. A clip whose motion is an
    earlier clip's of the same take stores only its audio."""
    from ..motion.skeleton import skeleton_to_dict

    entries, stored, first_of_take = [], [], {}
    for i, c in enumerate(dataset.clips):
        entry = dict(name=c.name, take=c.take, label=c.label, frames=len(c.motion))
        if c.performer:
            entry["performer"] = c.performer
        if c.channel_weight is not None:
            entry["channel_weight"] = [float(v) for v in c.channel_weight]
        same = first_of_take.get(c.take)
        if same is not None and np.array_equal(dataset.clips[same].motion, c.motion):
            entry["motion_of"] = same
        else:
            first_of_take.setdefault(c.take, i)
            stored.append(c.motion)
        entries.append(entry)
    header = dict(
        skeleton=skeleton_to_dict(dataset.skeleton), layout=dataset.layout.to_dict(),
        audio_config=dataset.audio_config.to_dict(), fps=dataset.fps, source=dataset.source,
        license=dataset.license, labels=dataset.labels, clips=entries, held_out_takes=dataset.held_out_takes,
        performers=dataset.performers, uncaptured=dataset.uncaptured,
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, header=np.array(json.dumps(header)), motion=np.concatenate(stored).astype(dtype),
            audio=np.concatenate([c.audio for c in dataset.clips]).astype(dtype),
        )


def load_pack(path: Path) -> GestureDataset:
    from ..motion.skeleton import skeleton_from_dict

    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            motion, audio = data["motion"].astype(np.float32), data["audio"].astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is not a readable OHGesture dataset pack ({exc})") from None
    clips, start, audio_start = [], 0, 0
    try:
        for c in header["clips"]:
            frames = c["frames"]
            if "motion_of" in c:
                clip_motion = clips[c["motion_of"]].motion
            else:
                clip_motion, start = motion[start:start + frames], start + frames
            clip_audio, audio_start = audio[audio_start:audio_start + frames], audio_start + frames
            if len(clip_motion) != frames or len(clip_audio) != frames:
                raise ValueError(f"clip {c['name']} has fewer frames than its header says")
            weight = c.get("channel_weight")
            clips.append(Clip(c["name"], c["take"], c["label"], clip_motion, clip_audio, c.get("performer", ""),
                              None if weight is None else np.asarray(weight, np.float32)))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path} is not a readable OHGesture dataset pack ({exc})") from None
    return GestureDataset(
        clips, skeleton_from_dict(header["skeleton"]), FeatureLayout.from_dict(header["layout"]),
        AudioFeatureConfig.from_dict(header["audio_config"]), header["fps"], header["source"],
        header["license"], header["labels"], header.get("held_out_takes", []), header.get("performers", []),
        header.get("uncaptured", {}),
    )
