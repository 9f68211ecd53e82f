"""Training data: folders of motion (and audio) turned into normalised windows.

Three layouts are read:
- ``zeggs``: ``NNN_Style_K*.bvh`` with a same-name ``.wav``; the style is the
  second field of the file name.
- ``bandai``: Bandai Namco Research BVH files with JSON labels (motion only); audio
  comes from the synthetic pairing in :mod:`.pairing`.
- ``pairs``: any folder with ``labels.csv`` (columns ``motion,audio,emotion``,
  paths relative to the folder).

Every clip becomes per-frame motion features and audio features at the same fps.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .audio import AudioFeatureConfig, audio_features, audio_features_from_file
from .bvh import read_bvh
from .fileio import atomic_path
from .features import FeatureLayout, model_skeleton, motion_to_features
from .kinematics import forward_kinematics
from .resample import resample_motion
from .skeleton import Motion, Skeleton

MIN_STD = 1e-2  # floor so constant channels (a joint that never moves) do not explode

# Bandai Namco style labels -> the model's emotion labels. Dataset 2 uses other
# words for some of dataset 1's styles; they are merged.
BANDAI_STYLE_TO_EMOTION = {
    "normal": "neutral",
    "happy": "happy",
    "sad": "sad",
    "angry": "angry",
    "proud": "proud",
    "not-confident": "not_confident",
    "old": "old",
    "elderly": "old",
    "tired": "tired",
    "exhausted": "tired",
    "active": "active",
    "masculinity": "masculine",
    "masculine": "masculine",
    "feminine": "feminine",
    "childish": "childish",
    "youthful": "youthful",
    "musical": "musical",
    "giant": "giant",
    "chimpira": "chimpira",
}

# Contents that look like gestures; locomotion and fighting are left out.
BANDAI_GESTURE_CONTENTS = (
    "bow", "bye", "byebye", "guide", "respond", "call",
    "wave-both-hands", "wave-left-hand", "wave-right-hand",
)

WRIST_NAMES = (("Hand_L", "Hand_R"), ("LeftHand", "RightHand"), ("LeftWrist", "RightWrist"))


class DatasetError(ValueError):
    pass


@dataclass
class Clip:
    name: str
    take: str  # clips of one take never straddle the train/held-out split
    label: str
    motion: np.ndarray  # (F, D) float32 motion features
    audio: np.ndarray  # (F, A) float32 audio features


@dataclass
class NormStats:
    motion_mean: np.ndarray
    motion_std: np.ndarray
    audio_mean: np.ndarray
    audio_std: np.ndarray

    @classmethod
    def from_clips(cls, clips: Iterable[Clip]) -> "NormStats":
        clips = list(clips)
        m = np.concatenate([c.motion for c in clips]).astype(np.float64)
        a = np.concatenate([c.audio for c in clips]).astype(np.float64)
        return cls(
            motion_mean=m.mean(0).astype(np.float32),
            motion_std=np.maximum(m.std(0), MIN_STD).astype(np.float32),
            audio_mean=a.mean(0).astype(np.float32),
            audio_std=np.maximum(a.std(0), MIN_STD).astype(np.float32),
        )

    def tensors(self) -> dict[str, np.ndarray]:
        return {f"norm.{k}": v for k, v in self.__dict__.items()}

    @classmethod
    def from_tensors(cls, tensors: dict) -> "NormStats":
        return cls(**{k: np.asarray(tensors[f"norm.{k}"], dtype=np.float32) for k in cls.__dataclass_fields__})


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

    def __post_init__(self):
        if not self.clips:
            raise DatasetError("the dataset holds no clips")
        if not self.labels:
            found = sorted({c.label for c in self.clips})
            self.labels = (["neutral"] if "neutral" in found else []) + [l for l in found if l != "neutral"]

    def split(self, held_out_fraction: float = 0.1, seed: int = 0) -> tuple[list[Clip], list[Clip]]:
        """Split by take (never by window), stratified by label where a label has several takes."""
        rng = np.random.default_rng(seed)
        held: set[str] = set()
        for label in self.labels:
            takes = sorted({c.take for c in self.clips if c.label == label})
            if len(takes) < 2:
                continue
            n_held = max(1, int(round(held_out_fraction * len(takes))))
            held.update(rng.choice(takes, size=n_held, replace=False).tolist())
        train = [c for c in self.clips if c.take not in held]
        test = [c for c in self.clips if c.take in held]
        return train, test


def wrist_indices(skeleton: Skeleton) -> tuple[int, int]:
    for left, right in WRIST_NAMES:
        if left in skeleton.joint_names and right in skeleton.joint_names:
            return skeleton.index(left), skeleton.index(right)
    raise DatasetError(f"no wrist joints found in skeleton {skeleton.name!r}")


def wrist_speed(motion: Motion) -> np.ndarray:
    """Per-frame speed (file units per second) of the faster wrist."""
    positions, _ = forward_kinematics(motion)
    left, right = wrist_indices(motion.skeleton)
    velocity = np.diff(positions[:, [left, right]], axis=0, prepend=positions[:1, [left, right]]) * motion.fps
    return np.linalg.norm(velocity, axis=-1).max(axis=-1)


def _clip_from_motion(name, take, label, motion, fps, audio_feats, layout_motion_features) -> Clip:
    n = min(len(layout_motion_features), len(audio_feats))
    return Clip(name=name, take=take, label=label,
                motion=layout_motion_features[:n].astype(np.float32), audio=audio_feats[:n].astype(np.float32))


def _prepare_motion(path: Path, fps: float) -> Motion:
    motion = read_bvh(path)
    if abs(motion.fps - fps) > 1e-3:
        motion = resample_motion(motion, fps)
    return motion


def build_zeggs(folder: Path, fps: float = 30.0, audio_config: AudioFeatureConfig | None = None) -> GestureDataset:
    folder = Path(folder)
    audio_config = audio_config or AudioFeatureConfig()
    pattern = re.compile(r"^(\d+)_([A-Za-z]+)_(\d+)_.*\.bvh$")
    clips, skeleton = [], None
    for bvh in sorted(folder.glob("*.bvh")):
        match = pattern.match(bvh.name)
        wav = bvh.with_suffix(".wav")
        if not match or not wav.exists():
            continue
        motion = _prepare_motion(bvh, fps)
        skeleton = skeleton or model_skeleton(motion)
        feats = motion_to_features(motion)
        audio = audio_features_from_file(wav, fps, config=audio_config)
        clips.append(_clip_from_motion(bvh.stem, bvh.stem, match.group(2).lower(), motion, fps, audio, feats))
    if not clips:
        raise DatasetError(f"{folder} holds no ZEGGS takes (NNN_Style_K_*.bvh with a same-name .wav)")
    return GestureDataset(clips, skeleton, FeatureLayout.for_skeleton(skeleton), audio_config, fps,
                          source=f"ZEGGS-layout takes from {folder.name}", license="see the dataset's license")


def bandai_clips(root: Path, contents: Iterable[str] = BANDAI_GESTURE_CONTENTS) -> list[dict]:
    """Catalogue of the Bandai Namco clips under ``root``: path, content, style, emotion."""
    wanted = set(contents)
    rows = []
    for cfg in sorted(Path(root).rglob("cfg")):
        content_labels = (cfg / "content_label.txt").read_text().split()
        style_labels = (cfg / "style_label.txt").read_text().split()
        for js in sorted((cfg.parent / "data").glob("*.json")):
            bvh = js.with_suffix(".bvh")
            if not bvh.exists():
                continue
            label = json.loads(js.read_text())
            content = content_labels[label["content"]].split("_", 1)[1]
            style = style_labels[label["style"]].split("_", 1)[1]
            if content in wanted and style in BANDAI_STYLE_TO_EMOTION:
                rows.append(dict(path=bvh, content=content, style=style, emotion=BANDAI_STYLE_TO_EMOTION[style]))
    return rows


def build_bandai(
    root: Path,
    pair_audio: Callable[[np.ndarray, float, int], tuple[np.ndarray, int]],
    fps: float = 30.0,
    audio_config: AudioFeatureConfig | None = None,
    contents: Iterable[str] = BANDAI_GESTURE_CONTENTS,
    progress: Callable[[int, int], None] | None = None,
) -> GestureDataset:
    """``pair_audio(wrist_speed, fps, clip_index) -> (waveform, sample_rate)`` supplies each clip's speech."""
    audio_config = audio_config or AudioFeatureConfig()
    rows = bandai_clips(root, contents)
    if not rows:
        raise DatasetError(f"{root} holds no Bandai Namco gesture clips (data/*.bvh with JSON labels under cfg/)")
    clips, skeleton = [], None
    for i, row in enumerate(rows):
        motion = _prepare_motion(row["path"], fps)
        skeleton = skeleton or model_skeleton(motion)
        feats = motion_to_features(motion)
        waveform, sr = pair_audio(wrist_speed(motion), fps, i)
        audio = audio_features(waveform, sr, fps, n_frames=len(feats), config=audio_config)
        clips.append(_clip_from_motion(row["path"].stem, row["path"].stem, row["emotion"], motion, fps, audio, feats))
        if progress:
            progress(i + 1, len(rows))
    return GestureDataset(
        clips, skeleton, FeatureLayout.for_skeleton(skeleton), audio_config, fps,
        source="Bandai Namco Research Motion Dataset 1 and 2 (gesture contents), speech paired synthetically",
        license="CC BY-NC 4.0 (non-commercial)",
    )


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


class WindowSampler:
    """Random training windows: seed frames followed by a window of motion, with its audio."""

    def __init__(self, clips: list[Clip], labels: list[str], stats: NormStats, window: int, n_seed: int, seed: int = 0,
                 label_balance: float = 0.5):
        """``label_balance`` 0 draws every window start equally often; 1 gives every label the same
        share of batches; in between, a label's share grows as (its frames) ** (1 - label_balance)."""
        self.window, self.n_seed, self.stats = window, n_seed, stats
        span = window + n_seed
        self.clips = [c for c in clips if len(c.motion) >= span]
        if not self.clips:
            raise DatasetError(f"no clip is long enough for a window of {span} frames")
        self.motion = [(c.motion - stats.motion_mean) / stats.motion_std for c in self.clips]
        self.audio = [(c.audio - stats.audio_mean) / stats.audio_std for c in self.clips]
        self.emotion = np.array([labels.index(c.label) for c in self.clips])
        lengths = np.array([len(c.motion) - span + 1 for c in self.clips], dtype=np.float64)
        per_label = {e: lengths[self.emotion == e].sum() for e in set(self.emotion.tolist())}
        weights = lengths / np.array([per_label[e] for e in self.emotion]) ** label_balance
        self.clip_weights = weights / weights.sum()
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> dict[str, np.ndarray]:
        idx = self.rng.choice(len(self.clips), size=size, p=self.clip_weights)
        x0, seed, audio = [], [], []
        for i in idx:
            start = self.rng.integers(self.n_seed, len(self.motion[i]) - self.window + 1)
            seed.append(self.motion[i][start - self.n_seed:start])
            x0.append(self.motion[i][start:start + self.window])
            audio.append(self.audio[i][start:start + self.window])
        return dict(x0=np.stack(x0), seed=np.stack(seed), audio=np.stack(audio), emotion=self.emotion[idx])

    def joint_speed_std(self, num_joints: int) -> np.ndarray:
        """(J,) standard deviation of each joint's 6D-rotation change per frame (motion
        units, as ``diffusion.joint_speeds`` measures it before scaling)."""
        rotation_std = self.stats.motion_std[-6 * num_joints:].astype(np.float64)
        speeds = [np.linalg.norm((np.diff(m[:, -6 * num_joints:], axis=0) * rotation_std).reshape(-1, num_joints, 6),
                                 axis=-1) for m in self.motion]
        return np.maximum(np.concatenate(speeds).std(0), 1e-3).astype(np.float32)

    def all_windows(self, stride: int) -> dict[str, np.ndarray]:
        """Every window at a fixed stride (for a stable held-out loss)."""
        x0, seed, audio, emotion = [], [], [], []
        for m, a, e in zip(self.motion, self.audio, self.emotion):
            for start in range(self.n_seed, len(m) - self.window + 1, stride):
                seed.append(m[start - self.n_seed:start])
                x0.append(m[start:start + self.window])
                audio.append(a[start:start + self.window])
                emotion.append(e)
        return dict(x0=np.stack(x0), seed=np.stack(seed), audio=np.stack(audio), emotion=np.array(emotion))


def save_pack(dataset: GestureDataset, path: Path, dtype=np.float32) -> None:
    """A preprocessed dataset in one npz (features only, no source files), written atomically.
    ``dtype`` float16 halves the file (0.1 % relative precision, plenty for training) so a
    pack fits the limits of a machine it has to be copied to."""
    from .skeleton import skeleton_to_dict

    header = dict(
        skeleton=skeleton_to_dict(dataset.skeleton), layout=dataset.layout.to_dict(),
        audio_config=dataset.audio_config.to_dict(), fps=dataset.fps, source=dataset.source,
        license=dataset.license, labels=dataset.labels,
        clips=[dict(name=c.name, take=c.take, label=c.label, frames=len(c.motion)) for c in dataset.clips],
    )
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, header=np.array(json.dumps(header)),
            motion=np.concatenate([c.motion for c in dataset.clips]).astype(dtype),
            audio=np.concatenate([c.audio for c in dataset.clips]).astype(dtype),
        )


def load_pack(path: Path) -> GestureDataset:
    from .skeleton import skeleton_from_dict

    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            motion, audio = data["motion"].astype(np.float32), data["audio"].astype(np.float32)
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is not a readable OHGesture dataset pack ({exc})") from None
    clips, start = [], 0
    for c in header["clips"]:
        end = start + c["frames"]
        clips.append(Clip(c["name"], c["take"], c["label"], motion[start:end], audio[start:end]))
        start = end
    return GestureDataset(
        clips, skeleton_from_dict(header["skeleton"]), FeatureLayout.from_dict(header["layout"]),
        AudioFeatureConfig.from_dict(header["audio_config"]), header["fps"], header["source"],
        header["license"], header["labels"],
    )
