"""Per-channel normalisation of motion and audio features, stored with the checkpoint.

numpy only: training computes it from its clips, inference reads it back from the
checkpoint's ``norm.*`` tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

MIN_STD = 1e-2  # floor so constant channels (a joint that never moves) do not explode


@dataclass
class NormStats:
    motion_mean: np.ndarray
    motion_std: np.ndarray
    audio_mean: np.ndarray
    audio_std: np.ndarray

    @classmethod
    def from_clips(cls, clips: Iterable) -> "NormStats":
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
