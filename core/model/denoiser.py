"""The gesture denoiser G(x_t, t, c) -> x0_hat (DiffuseStyleGesture-style).

Per frame, [x_t, audio] is projected to the latent width and the condition embedding
(timestep + emotion + seed) is added; a cross-local attention block lets each frame attend
only to frames within +-local_window (band mask, learned per-head relative-position bias);
a Transformer encoder then mixes the whole window with the condition prepended as a token;
a linear head maps back to the motion features.

Null conditions (classifier-free guidance): emotion index ``num_emotions`` is the null
emotion; ``seed_null[b] = True`` replaces sample b's seed embedding by a learned null
vector (the seed tensor's content is then ignored).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn


class ModelConfigError(ValueError):
    """A denoiser configuration that cannot describe a model."""


# Variants that were measured and not shipped (docs/experiments/). Checkpoints written before
# they were removed record them switched off, with these values; such a checkpoint still loads.
RETIRED_FIELDS = {"input_scaling_steps": 0, "audio_film": False, "activity_in_motion": False, "activity_head": False}


@dataclass
class DenoiserConfig:
    """Sizes of the GestureDenoiser.

    The defaults (latent 256, 4 encoder layers, 4 heads, ff 1024) are chosen so the model
    trains on a CPU; window 90 frames = 3 s at 30 fps, preceded by n_seed = 10 seed frames.
    """

    motion_dim: int
    audio_dim: int
    num_emotions: int
    window: int = 90
    n_seed: int = 10
    latent: int = 256
    layers: int = 4
    heads: int = 4
    ff: int = 1024
    local_window: int = 15
    dropout: float = 0.1
    # The "activity" is how fast each wrist moves per frame (smoothed, standardised; made by
    # datasets.WindowSampler), ``activity_channels`` wide (left and right wrist).
    # activity_conditioning: an audio encoder learns to predict the activity from the audio and
    # emotion (an auxiliary loss), the denoiser is conditioned on the activity (the true curve in
    # training, the prediction in sampling), and generation re-times the motion to follow the
    # prediction (core.generation.retiming).
    activity_channels: int = 2
    activity_conditioning: bool = False
    # > 0: a second label, the performer whose way of gesturing to follow (the repertoire the
    # animator picks, issue 28), embedded like the emotion; index num_performers is the null one
    num_performers: int = 0

    def __post_init__(self):
        positive = ("motion_dim", "audio_dim", "num_emotions", "window", "n_seed", "latent", "heads", "ff")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ModelConfigError(f"model config field {name} must be a positive integer, got {getattr(self, name)}.")
        if self.layers < 0 or self.local_window < 0 or self.activity_channels < 0 or self.num_performers < 0:
            raise ModelConfigError("model config fields layers, local_window, activity_channels and num_performers "
                                   "must not be negative.")
        if self.latent % self.heads:
            raise ModelConfigError(f"latent width {self.latent} must be divisible by the number of heads {self.heads}.")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"dropout must lie in [0, 1), got {self.dropout}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DenoiserConfig":
        if not isinstance(data, dict):
            raise ModelConfigError("the model config must be a JSON object.")
        retired = {k: v for k, v in data.items() if k in RETIRED_FIELDS}
        switched_on = sorted(k for k, v in retired.items() if v != RETIRED_FIELDS[k])
        if switched_on:
            raise ModelConfigError(f"the model uses {', '.join(switched_on)}, an experimental variant this version no "
                                   "longer builds.")
        data = {k: v for k, v in data.items() if k not in RETIRED_FIELDS}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelConfigError(f"the model config has unknown fields {unknown}.")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ModelConfigError(f"the model config is incomplete: {exc}.") from None


def sinusoidal_embedding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """(N,) positions -> (N, dim) sin/cos features with geometric frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    args = positions.float()[:, None] * freqs[None]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    return F.pad(emb, (0, dim - 2 * half))


class ActivityPredictor(nn.Module):
    """Audio (B, M, A) and emotion (B,) -> activity (B, M, C): dilated 1-D
    convolutions reaching about one second of audio around each frame."""

    def __init__(self, audio_dim: int, num_emotions: int, channels: int, width: int = 64):
        super().__init__()
        self.input = nn.Conv1d(audio_dim, width, 5, padding=2)
        self.emotion = nn.Embedding(num_emotions + 1, width)
        self.body = nn.Sequential(
            nn.GELU(), nn.Conv1d(width, width, 5, padding=4, dilation=2),
            nn.GELU(), nn.Conv1d(width, width, 5, padding=8, dilation=4),
            nn.GELU(), nn.Conv1d(width, channels, 1),
        )

    def forward(self, audio: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        h = self.input(audio.transpose(1, 2)) + self.emotion(emotion)[:, :, None]
        return self.body(h).transpose(1, 2)


def band_mask(frames: int, half_width: int, device=None) -> torch.Tensor:
    """(M, M) additive mask: 0 where |i - j| <= half_width, -inf elsewhere."""
    idx = torch.arange(frames, device=device)
    inside = (idx[None, :] - idx[:, None]).abs() <= half_width
    return torch.zeros(frames, frames, device=device).masked_fill(~inside, float("-inf"))


class LocalAttention(nn.Module):
    """Multi-head self-attention restricted to a band of +-half_width frames, with a learned
    per-head bias indexed by the (clipped) relative distance j - i."""

    def __init__(self, dim: int, heads: int, half_width: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.half_width = half_width
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.relative_bias = nn.Parameter(torch.zeros(heads, 2 * half_width + 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        batch, frames, dim = h.shape
        q, k, v = self.qkv(h).reshape(batch, frames, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        idx = torch.arange(frames, device=h.device)
        rel = (idx[None, :] - idx[:, None]).clamp(-self.half_width, self.half_width) + self.half_width
        bias = self.relative_bias[:, rel] + band_mask(frames, self.half_width, h.device)  # (heads, M, M)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype)[None], dropout_p=self.dropout if self.training else 0.0
        )
        return self.out(attended.transpose(1, 2).reshape(batch, frames, dim))


class GestureDenoiser(nn.Module):
    def __init__(self, config: DenoiserConfig):
        super().__init__()
        self.config = config
        c = config
        conditioned = c.activity_channels if c.activity_conditioning else 0
        self.input_proj = nn.Linear(c.motion_dim + c.audio_dim + conditioned, c.latent)
        self.activity_predictor = (ActivityPredictor(c.audio_dim, c.num_emotions, c.activity_channels)
                                   if c.activity_conditioning else None)
        self.time_mlp = nn.Sequential(nn.Linear(c.latent, c.latent), nn.SiLU(), nn.Linear(c.latent, c.latent))
        self.emotion_embedding = nn.Embedding(c.num_emotions + 1, c.latent)  # last row = null emotion
        self.performer_embedding = (nn.Embedding(c.num_performers + 1, c.latent)  # last row = null performer
                                    if c.num_performers else None)
        self.seed_proj = nn.Linear(c.n_seed * c.motion_dim, c.latent)
        self.null_seed = nn.Parameter(torch.randn(c.latent) * 0.02)
        self.local_norm = nn.LayerNorm(c.latent)
        self.local_attention = LocalAttention(c.latent, c.heads, c.local_window, c.dropout)
        self.local_ff_norm = nn.LayerNorm(c.latent)
        self.local_ff = nn.Sequential(
            nn.Linear(c.latent, c.ff), nn.GELU(), nn.Dropout(c.dropout), nn.Linear(c.ff, c.latent)
        )
        self.dropout = nn.Dropout(c.dropout)
        if c.layers > 0:
            layer = nn.TransformerEncoderLayer(
                c.latent, c.heads, c.ff, c.dropout, activation="gelu", batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        else:
            self.encoder = None
        self.out_norm = nn.LayerNorm(c.latent)
        self.head = nn.Linear(c.latent, c.motion_dim)

    @property
    def null_emotion(self) -> int:
        return self.config.num_emotions

    @property
    def null_performer(self) -> int:
        return self.config.num_performers

    def condition_embedding(self, t, seed, emotion, seed_null, performer=None) -> torch.Tensor:
        """(B, latent) = MLP(sinusoid(t)) + emotion embedding + seed (or null seed) embedding
        (+ performer embedding; None = the null performer)."""
        c = self.config
        time = self.time_mlp(sinusoidal_embedding(t, c.latent))
        batch = t.shape[0]
        if seed is None:
            seed_emb = self.null_seed.expand(batch, -1)
        else:
            seed_emb = self.seed_proj(seed.reshape(batch, c.n_seed * c.motion_dim))
            if seed_null is not None:
                seed_emb = torch.where(seed_null.to(seed_emb.device).bool()[:, None], self.null_seed, seed_emb)
        cond = time + self.emotion_embedding(emotion) + seed_emb
        if self.performer_embedding is not None:
            if performer is None:
                performer = torch.full_like(emotion, self.null_performer)
            cond = cond + self.performer_embedding(performer)
        return cond

    def forward(
        self,
        x_t: torch.Tensor,
        t: torch.Tensor,
        seed: torch.Tensor | None,
        emotion: torch.Tensor,
        audio: torch.Tensor,
        seed_null: torch.Tensor | None = None,
        activity: torch.Tensor | None = None,
        return_activity: bool = False,
        use_predicted: torch.Tensor | None = None,
        performer: torch.Tensor | None = None,
    ):
        """x_t (B,M,D), t (B,) long in 0..T-1, seed (B,n_seed,D) or None (= null for all),
        emotion (B,) long (num_emotions = null), audio (B,M,A), seed_null (B,) bool -> x0_hat (B,M,D).

        With activity conditioning, ``activity`` (B,M,C) replaces the predicted curve (training
        feeds the true one); rows where ``use_predicted`` (B,) is true get the encoder's own
        prediction instead, detached, as in sampling. With an activity encoder,
        ``return_activity`` returns (x0_hat, predicted activity)."""
        cond = self.condition_embedding(t, seed, emotion, seed_null, performer)
        audio = audio.to(x_t.dtype)
        inputs = [x_t, audio]
        predicted = None
        # sampling passes the window's activity in (it depends on audio and emotion only): the encoder
        # runs here only where its prediction is used, which was 12 % of a sampling step
        needed = return_activity or (self.config.activity_conditioning
                                     and (activity is None or use_predicted is not None))
        if self.activity_predictor is not None and needed:
            predicted = self.activity_predictor(audio, emotion)
        if self.config.activity_conditioning:
            given = predicted if activity is None else activity.to(x_t.dtype)
            if activity is not None and use_predicted is not None:
                given = torch.where(use_predicted.to(given.device).bool()[:, None, None], predicted.detach(), given)
            inputs.append(given)
        h = self.input_proj(torch.cat(inputs, dim=-1)) + cond[:, None]
        h = h + self.dropout(self.local_attention(self.local_norm(h)))
        h = h + self.dropout(self.local_ff(self.local_ff_norm(h)))
        if self.encoder is not None:
            frames = h.shape[1]
            positions = sinusoidal_embedding(torch.arange(frames + 1, device=h.device), h.shape[-1])
            tokens = torch.cat([cond[:, None], h], dim=1) + positions[None].to(h.dtype)
            h = self.encoder(tokens)[:, 1:]
        x0_hat = self.head(self.out_norm(h))
        return (x0_hat, predicted) if return_activity else x0_hat


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
