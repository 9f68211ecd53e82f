"""Gaussian diffusion: cosine noise schedule, forward process, posterior,
training loss and the conditional (blended, guided) denoiser used for sampling.

Time index convention: t is an integer in 0..T-1. ``t = 0`` is the first
noising step (x_0 is the clean data, x_t at index t has signal level
``alphas_cumprod[t]`` which is already < 1 at t = 0), ``t = T-1`` is the
noisiest step where x is (very nearly) N(0, I). A sampler walks t = T-1 .. 0
and the step taken at index t produces the sample at index t-1, with index -1
meaning clean data (signal level 1).

The denoiser predicts x0 (not the noise): ``G(x_t, t, c) -> x0_hat``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class ConditioningError(ValueError):
    """Bad conditioning passed to the conditional denoiser."""


@dataclass(frozen=True)
class CosineSchedule:
    """Cosine schedule of Nichol & Dhariwal (2021), betas clipped at ``max_beta``.

    All arrays are float64 CPU tensors of length T indexed by t in 0..T-1;
    ``alphas_cumprod_prev[t]`` is the signal level at index t-1 (1.0 at t = 0).
    """

    T: int = 1000
    s: float = 0.008
    max_beta: float = 0.999

    def __post_init__(self):
        if self.T < 1:
            raise ValueError(f"the schedule needs at least one step, got T={self.T}.")
        steps = torch.arange(self.T + 1, dtype=torch.float64)
        f = torch.cos((steps / self.T + self.s) / (1 + self.s) * math.pi / 2) ** 2
        abar_continuous = f / f[0]
        betas = (1 - abar_continuous[1:] / abar_continuous[:-1]).clamp(max=self.max_beta)
        alphas = 1 - betas
        abar = torch.cumprod(alphas, 0)
        abar_prev = torch.cat([torch.ones(1, dtype=torch.float64), abar[:-1]])
        posterior_variance = betas * (1 - abar_prev) / (1 - abar)
        # posterior variance is 0 at t = 0; the log is clipped to the t = 1 value as usual
        posterior_log_variance_clipped = torch.log(
            torch.cat([posterior_variance[1:2], posterior_variance[1:]])
        )
        fields = dict(
            betas=betas,
            alphas=alphas,
            alphas_cumprod=abar,
            alphas_cumprod_prev=abar_prev,
            sqrt_alphas_cumprod=abar.sqrt(),
            sqrt_one_minus_alphas_cumprod=(1 - abar).sqrt(),
            posterior_variance=posterior_variance,
            posterior_log_variance_clipped=posterior_log_variance_clipped,
            posterior_mean_coef_x0=betas * abar_prev.sqrt() / (1 - abar),
            posterior_mean_coef_xt=(1 - abar_prev) * alphas.sqrt() / (1 - abar),
        )
        for name, value in fields.items():
            object.__setattr__(self, name, value)


def extract(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] cast to like's dtype/device, shaped (B, 1, ..., 1) to broadcast over like."""
    t = torch.as_tensor(t, device=values.device).long().reshape(-1)
    out = values[t].to(device=like.device, dtype=like.dtype)
    return out.reshape(out.shape[0], *([1] * (like.dim() - 1)))


def randn_like_with(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like x, drawn on the generator's device so a CPU
    generator gives the same numbers whichever device x lives on."""
    return randn(x.shape, generator, x.device, x.dtype)


def randn(shape, generator: torch.Generator | None, device, dtype=torch.float32) -> torch.Tensor:
    draw_device = generator.device if generator is not None else device
    return torch.randn(tuple(shape), generator=generator, device=draw_device, dtype=dtype).to(device)


def q_sample(schedule: CosineSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, t (B,) in 0..T-1."""
    return extract(schedule.sqrt_alphas_cumprod, t, x0) * x0 + extract(
        schedule.sqrt_one_minus_alphas_cumprod, t, x0
    ) * noise


def posterior(schedule: CosineSchedule, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor):
    """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x0) (x_{-1} = clean data)."""
    mean = extract(schedule.posterior_mean_coef_x0, t, x_t) * x0 + extract(
        schedule.posterior_mean_coef_xt, t, x_t
    ) * x_t
    variance = extract(schedule.posterior_variance, t, x_t)
    log_variance = extract(schedule.posterior_log_variance_clipped, t, x_t)
    return mean, variance, log_variance


def drop_conditions(
    seed_null: torch.Tensor,
    emotion: torch.Tensor,
    p: float,
    generator: torch.Generator | None,
    *,
    null_emotion: int,
    p_seed: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Classifier-free-guidance dropout: independently per sample, mark the seed null with
    probability ``p_seed`` (default p) and replace the emotion by the null class
    ``null_emotion`` with probability p.
    Returns new (seed_null (B,) bool, emotion (B,) long); the inputs are not modified."""
    batch = emotion.shape[0]
    draw_device = generator.device if generator is not None else emotion.device
    u = torch.rand((2, batch), generator=generator, device=draw_device).to(emotion.device)
    seed_null = seed_null.to(emotion.device).bool() | (u[0] < (p if p_seed is None else p_seed))
    emotion = torch.where(u[1] < p, torch.full_like(emotion, null_emotion), emotion)
    return seed_null, emotion


def diffusion_loss(
    model,
    x0: torch.Tensor,
    seed: torch.Tensor | None,
    emotion: torch.Tensor,
    audio: torch.Tensor,
    schedule: CosineSchedule,
    *,
    seed_null: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    p_drop: float = 0.0,
    activity: torch.Tensor | None = None,
    predicted_activity_share: float = 0.0,
    performer: torch.Tensor | None = None,
    channel_weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Huber (smooth L1, delta 1) loss between x0 (B,M,D) and G(x_t, t, c), t ~ U{0..T-1}.

    With p_drop > 0 the seed and emotion are dropped independently (drop_conditions);
    the training loop may instead call drop_conditions itself and pass p_drop=0.
    A model with an activity encoder adds its
    error on ``activity`` (B,M,C), the true activity of x0, which a model with activity
    conditioning is also fed (model.DenoiserConfig); ``predicted_activity_share`` of the windows
    are fed the encoder's own (detached) prediction instead, the curve sampling will see.
    ``performer`` (B,) long conditions a model with performers; ``channel_weight`` (B, D) weighs
    each motion channel's error (0 where the window's take did not capture it: the BEAT take's
    legs and root), normalised so the loss is a mean over the weighted channels."""
    batch = x0.shape[0]
    if seed_null is None:
        seed_null = torch.zeros(batch, dtype=torch.bool, device=x0.device)
    if p_drop > 0:
        seed_null, emotion = drop_conditions(seed_null, emotion, p_drop, generator, null_emotion=model.null_emotion)
    draw_device = generator.device if generator is not None else x0.device
    t = torch.randint(0, schedule.T, (batch,), generator=generator, device=draw_device).to(x0.device)
    noise = randn_like_with(x0, generator)
    x_t = q_sample(schedule, x0, t, noise)
    core = getattr(model, "module", model)  # under DistributedDataParallel
    if getattr(core, "activity_predictor", None) is not None:
        if activity is None:
            raise ConditioningError("a model with an activity encoder trains on windows with their activity.")
        use_predicted = None
        if predicted_activity_share > 0:
            use_predicted = torch.rand(batch, generator=generator, device=draw_device).to(x0.device) < predicted_activity_share
        x0_hat, predicted = model(x_t, t, seed, emotion, audio, seed_null, activity=activity, return_activity=True,
                                  use_predicted=use_predicted, performer=performer)
        activity_loss = F.smooth_l1_loss(predicted, activity, beta=1.0)
    else:
        x0_hat, activity_loss = model(x_t, t, seed, emotion, audio, seed_null, performer=performer), 0.0
    if channel_weight is None:
        return F.smooth_l1_loss(x0_hat, x0, beta=1.0) + activity_loss
    weight = channel_weight.to(x0.dtype)[:, None, :].expand_as(x0)
    error = F.smooth_l1_loss(x0_hat, x0, beta=1.0, reduction="none")
    return (error * weight).sum() / weight.sum().clamp_min(1.0) + activity_loss


def _blend_weights(weights, num_conditions: int, frames: int, device) -> torch.Tensor:
    """Validated weights shaped (K, 1, M or 1, 1) for broadcasting over (K, B, M, D)."""
    w = torch.as_tensor(weights, dtype=torch.float32, device=device)
    if w.dim() == 1:
        w = w[:, None]
    if w.dim() != 2 or w.shape[0] != num_conditions or w.shape[1] not in (1, frames):
        raise ConditioningError(
            f"blend weights must have shape ({num_conditions},) or ({num_conditions}, {frames}), got {tuple(w.shape)}."
        )
    if not torch.isfinite(w).all() or not torch.allclose(w.sum(0), torch.ones_like(w[0]), atol=1e-4):
        raise ConditioningError("blend weights must be finite and sum to 1 over the emotions at every frame.")
    return w[:, None, :, None]


def make_conditional_denoiser(
    model,
    *,
    seed: torch.Tensor | None,
    audio: torch.Tensor,
    emotions: Sequence[int],
    weights,
    guidance: float = 1.0,
    seed_null: torch.Tensor | None = None,
    activity_offset: float = 0.0,
    performers: Sequence[int] | None = None,
    lower_weights=None,
    lower_channels: torch.Tensor | None = None,
) -> Denoise:
    """denoise(x_t (B,M,D), t (B,)) -> x0_hat blending K emotions with classifier-free guidance.

    x0_cond = sum_k w_k G(x_t, t, [s, e_k, a]); x0 = G(uncond) + guidance (x0_cond - G(uncond)),
    uncond = [null seed, null emotion, a]. weights: (K,) or (K, M) per-frame curves summing to 1
    over K. guidance == 1 skips the unconditional pass. ``activity_offset`` is added to the
    activity the model's encoder predicts (models with activity conditioning; standardised
    units, see generation.pipeline.activity_offset). All passes go through ONE batched model
    call per denoise() call. seed None means null seed for every sample. Runs under no_grad;
    put the model in eval() mode first.

    A model with performers takes ``performers``, one per condition (the conditions are then
    (emotion, performer) pairs); the unconditional pass has the null performer too. The motion
    channels ``lower_channels`` (D,) bool are blended with ``lower_weights`` instead (shaped as
    ``weights``): the legs and root, taken only from performers whose lower body was captured.
    """
    emotions = [int(e) for e in emotions]
    if not emotions:
        raise ConditioningError("at least one emotion is needed to condition the denoiser.")
    null_emotion = model.null_emotion
    if any(e < 0 or e > null_emotion for e in emotions):
        raise ConditioningError(f"emotion indices must lie in 0..{null_emotion} ({null_emotion} = null), got {emotions}.")
    if not math.isfinite(guidance):
        raise ConditioningError(f"guidance must be a finite number, got {guidance}.")
    batch, frames = audio.shape[0], audio.shape[1]
    device = audio.device
    num_k = len(emotions)
    w = _blend_weights(weights, num_k, frames, device)
    if performers is not None and len(performers) != num_k:
        raise ConditioningError("give one performer per emotion condition.")
    lower = None
    if lower_channels is not None:
        lower = (_blend_weights(lower_weights, num_k, frames, device), lower_channels.to(device).bool())
    if seed is None:
        seed = torch.zeros(batch, model.config.n_seed, model.config.motion_dim, device=device, dtype=audio.dtype)
        seed_null = torch.ones(batch, dtype=torch.bool, device=device)
    elif seed_null is None:
        seed_null = torch.zeros(batch, dtype=torch.bool, device=device)
    seed_null = seed_null.to(device).bool()
    use_uncond = guidance != 1.0
    passes = num_k + int(use_uncond)

    emotion_rows = [torch.full((batch,), e, dtype=torch.long, device=device) for e in emotions]
    seed_null_rows = [seed_null] * num_k
    if use_uncond:
        emotion_rows.append(torch.full((batch,), null_emotion, dtype=torch.long, device=device))
        seed_null_rows.append(torch.ones(batch, dtype=torch.bool, device=device))
    all_seed = seed.repeat(passes, 1, 1)
    all_audio = audio.repeat(passes, 1, 1)
    all_emotion = torch.cat(emotion_rows)
    all_seed_null = torch.cat(seed_null_rows)
    extra = {}
    if performers is not None:
        null_performer = model.null_performer
        rows = [int(p) for p in performers] + ([null_performer] if use_uncond else [])
        extra["performer"] = torch.cat([torch.full((batch,), p, dtype=torch.long, device=device) for p in rows])
    if getattr(getattr(model, "config", None), "activity_conditioning", False):
        with torch.no_grad():  # depends on audio and emotion only: once per window, not once per step
            extra["activity"] = model.activity_predictor(all_audio, all_emotion) + float(activity_offset)

    @torch.no_grad()
    def denoise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.to(device).long().expand(batch) if t.dim() == 0 or t.shape[0] == 1 else t.to(device).long()
        out = model(x_t.repeat(passes, 1, 1), t.repeat(passes), all_seed, all_emotion, all_audio, all_seed_null,
                    **extra)
        out = out.reshape(passes, batch, *out.shape[1:])
        x0_cond = (w.to(out.dtype) * out[:num_k]).sum(0)
        if lower is not None:
            x0_cond = torch.where(lower[1], (lower[0].to(out.dtype) * out[:num_k]).sum(0), x0_cond)
        if not use_uncond:
            return x0_cond
        x0_uncond = out[num_k]
        return x0_uncond + guidance * (x0_cond - x0_uncond)

    return denoise
