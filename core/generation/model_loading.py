"""The model, loaded: a checkpoint's denoiser on a device with everything generation needs
to read its features (normalisation, layout, skeleton, audio settings, emotions, schedule)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio.features import AudioFeatureConfig
from ..model.checkpoint import CheckpointError, load_checkpoint, validate_state_dict
from ..model.denoiser import DenoiserConfig, GestureDenoiser
from ..model.diffusion import CosineSchedule
from ..model.normalisation import NormStats
from ..motion.features import FeatureLayout
from ..motion.skeleton import Skeleton, skeleton_from_dict
from .settings import DEFAULT_MODEL  # defined torch-free there, for the command line's early checks


class GenerationError(ValueError):
    pass


def resolve_device(name: str = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GenerationError("CUDA was asked for but no CUDA device is available; use --device cpu or auto.")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise GenerationError(f"unknown device {name!r}; use auto, cpu or cuda.")


@dataclass
class LoadedModel:
    model: GestureDenoiser
    metadata: dict
    stats: NormStats
    layout: FeatureLayout
    skeleton: Skeleton
    audio_config: AudioFeatureConfig
    fps: float
    labels: list[str]
    schedule: CosineSchedule
    device: torch.device
    path: Path

    @property
    def window(self) -> int:
        return self.model.config.window

    @property
    def n_seed(self) -> int:
        return self.model.config.n_seed

    @property
    def performers(self) -> list[str]:
        """The performer condition's classes (models from the any-voice rebuild), else []."""
        return list(self.metadata.get("performers") or []) if self.model.config.num_performers else []

    def uncaptured_channels(self, performer: str):
        """(D,) bool: the motion channels ``performer``'s take did not capture (its root and the
        joints the checkpoint's "performers_uncaptured" names), taken from the others."""
        names = (self.metadata.get("performers_uncaptured") or {}).get(performer, [])
        mask = np.zeros(self.layout.D, dtype=bool)
        slices = self.layout.slices
        for name in names:
            if name == "root":
                for part in ("root_velocity", "root_height", "heading_velocity"):
                    mask[slices[part]] = True
            elif name in self.skeleton.joint_names:
                mask[self.layout.joint_slice(self.skeleton.index(name))] = True
        return mask

    def emotion_index(self, label: str) -> int:
        if label not in self.labels:
            raise GenerationError(f"the model has no emotion {label!r}; valid emotions: {', '.join(self.labels)}.")
        return self.labels.index(label)


def load_model(path: str | Path | None = None, device: str | torch.device = "auto") -> LoadedModel:
    if path is None:
        path = DEFAULT_MODEL
        if not path.exists():
            raise GenerationError(f"no default model is installed ({path} is missing); pass --model CKPT.")
    path = Path(path)
    device = device if isinstance(device, torch.device) else resolve_device(device)
    tensors, meta = load_checkpoint(path, device="cpu")
    try:
        config = DenoiserConfig.from_dict(meta["model_config"])
        layout = FeatureLayout.from_dict(meta["feature_layout"])
        skeleton = skeleton_from_dict(meta["skeleton"])
        audio_config = AudioFeatureConfig.from_dict(meta["audio_config"])
        labels = list(meta["emotions"])
        fps = float(meta["fps"])
        T = int(meta.get("diffusion", {}).get("T", 1000))
        stats = NormStats.from_tensors({k: v.numpy() for k, v in tensors.items() if k.startswith("norm.")})
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} is not an OHGesture model checkpoint (metadata incomplete: {exc}).") from None
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model = GestureDenoiser(config)
    validate_state_dict(model, weights)
    model.load_state_dict(weights)
    model.to(device).eval()
    return LoadedModel(model, meta, stats, layout, skeleton, audio_config, fps, labels,
                       CosineSchedule(T=T), device, path)
