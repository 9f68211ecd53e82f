"""Samplers over a denoiser callable ``denoise(x_t, t) -> x0_hat`` (t a (B,) long tensor).

Time indices follow core.diffusion: t in 0..T-1, index -1 is clean data.
``progress(i, n)`` is called after step i of n (i = 1..n).
``inpaint=(known_x0, mask)`` holds known frames: mask is 1 (True) where x0 is known,
shaped (B,M,D) or (B,M,1); after every step the known part of the new sample is replaced
by q_sample(known_x0, t_prev) and, at the end, by known_x0 exactly.
With the same inputs and the same generator state the output is bit-identical on CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .diffusion import CosineSchedule, Denoise, posterior, q_sample, randn

Progress = Callable[[int, int], None] | None
Inpaint = tuple[torch.Tensor, torch.Tensor] | None


class SamplerError(ValueError):
    """Bad sampler arguments."""


def timestep_spacing(T: int, steps: int, kind: str = "uniform") -> torch.Tensor:
    """Descending distinct timesteps (long tensor) from T-1 down to 0 for a few-step sampler.
    'uniform' spaces them evenly; 'quadratic' packs them towards t = 0 (low noise)."""
    if not 1 <= steps <= T:
        raise SamplerError(f"the number of steps must lie in 1..{T}, got {steps}.")
    if steps == 1:
        return torch.tensor([T - 1], dtype=torch.long)
    if kind == "uniform":
        ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long()
    elif kind == "quadratic":
        ts = (torch.linspace(0, (T - 1) ** 0.5, steps, dtype=torch.float64) ** 2).round().long()
        # rounding may merge neighbours near 0: push duplicates up so they stay distinct
        for i in range(1, steps):
            ts[i] = max(int(ts[i]), int(ts[i - 1]) + 1)
        ts = ts.clamp(max=T - 1)
        if len(set(ts.tolist())) != steps:
            ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long()
    else:
        raise SamplerError(f"unknown timestep spacing {kind!r}; use 'uniform' or 'quadratic'.")
    return ts.flip(0)


def _check_timesteps(timesteps: torch.Tensor, T: int) -> torch.Tensor:
    ts = torch.as_tensor(timesteps, dtype=torch.long).reshape(-1).cpu()
    if ts.numel() == 0 or (ts.numel() > 1 and not (ts[1:] < ts[:-1]).all()) or ts.min() < 0 or ts.max() >= T:
        raise SamplerError(f"timesteps must be strictly decreasing integers in 0..{T - 1}.")
    return ts


def _timesteps(schedule: CosineSchedule, steps: int | None, timesteps) -> torch.Tensor:
    """The caller's timesteps, or timestep_spacing(T, steps); the caller chooses one of the two."""
    if timesteps is not None:
        return _check_timesteps(timesteps, schedule.T)
    if steps is None:
        raise SamplerError("give the sampler either steps or timesteps.")
    return timestep_spacing(schedule.T, steps)


def _inpaint_hold(x, inpaint: Inpaint, schedule: CosineSchedule, t_prev: int, generator):
    """Replace the known part of x (at index t_prev; -1 = clean) by a forward sample of known_x0."""
    if inpaint is None:
        return x
    known, mask = inpaint
    known = known.to(x.device, x.dtype)
    mask = mask.to(x.device, x.dtype)
    if t_prev < 0:
        held = known
    else:
        t = torch.full((x.shape[0],), t_prev, dtype=torch.long, device=x.device)
        held = q_sample(schedule, known, t, randn(x.shape, generator, x.device, x.dtype))
    return mask * held + (1 - mask) * x


def _device(device, x_T) -> torch.device:
    """The device asked for, else the starting noise's, else the CPU."""
    if device is not None:
        return torch.device(device)
    return x_T.device if x_T is not None else torch.device("cpu")


def _after_step(x, inpaint: Inpaint, schedule: CosineSchedule, t_prev: int, generator, progress: Progress,
                done: int, total: int) -> torch.Tensor:
    """Hold the known part of x at ``t_prev`` and report the step."""
    x = _inpaint_hold(x, inpaint, schedule, t_prev, generator)
    if progress is not None:
        progress(done, total)
    return x


def _start(shape, schedule, generator, device, x_T, inpaint, t_first: int):
    x = randn(shape, generator, device) if x_T is None else x_T.to(device)
    return _inpaint_hold(x, inpaint, schedule, t_first, generator)


def _tvec(t: int, batch: int, device) -> torch.Tensor:
    return torch.full((batch,), t, dtype=torch.long, device=device)


def ddpm_sample(
    denoise: Denoise,
    shape,
    schedule: CosineSchedule,
    *,
    generator: torch.Generator | None = None,
    device=None,
    progress: Progress = None,
    x_T: torch.Tensor | None = None,
    inpaint: Inpaint = None,
) -> torch.Tensor:
    """Ancestral sampling through all T steps: x_{t-1} = posterior mean + sigma_t z, z = 0 at t = 0."""
    device = _device(device, x_T)
    T = schedule.T
    x = _start(shape, schedule, generator, device, x_T, inpaint, T - 1)
    for i, t in enumerate(range(T - 1, -1, -1)):
        tt = _tvec(t, x.shape[0], device)
        x0_hat = denoise(x, tt)
        mean, _, log_variance = posterior(schedule, x0_hat, x, tt)
        if t > 0:
            x = mean + torch.exp(0.5 * log_variance) * randn(x.shape, generator, device, x.dtype)
        else:
            x = mean
        x = _after_step(x, inpaint, schedule, t - 1, generator, progress, i + 1, T)
    return x


def ddim_sample(
    denoise: Denoise,
    shape,
    schedule: CosineSchedule,
    *,
    steps: int | None = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    device=None,
    progress: Progress = None,
    x_T: torch.Tensor | None = None,
    timesteps: torch.Tensor | None = None,
    inpaint: Inpaint = None,
) -> torch.Tensor:
    """DDIM over a decreasing sub-sequence of timesteps (default timestep_spacing(T, steps));
    eta = 0 is deterministic given x_T, eta = 1 matches DDPM's noise level."""
    device = _device(device, x_T)
    ts = _timesteps(schedule, steps, timesteps)
    abar = schedule.alphas_cumprod
    x = _start(shape, schedule, generator, device, x_T, inpaint, int(ts[0]))
    n = len(ts)
    for i in range(n):
        t = int(ts[i])
        t_prev = int(ts[i + 1]) if i + 1 < n else -1
        tt = _tvec(t, x.shape[0], device)
        x0_hat = denoise(x, tt)
        a_t = abar[t]
        a_prev = abar[t_prev] if t_prev >= 0 else torch.tensor(1.0, dtype=torch.float64)
        eps = (x - a_t.sqrt().item() * x0_hat) / (1 - a_t).sqrt().item()
        sigma = eta * ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)).clamp(min=0).sqrt()
        x = a_prev.sqrt().item() * x0_hat + (1 - a_prev - sigma**2).clamp(min=0).sqrt().item() * eps
        if eta > 0 and t_prev >= 0:
            x = x + sigma.item() * randn(x.shape, generator, device, x.dtype)
        x = _after_step(x, inpaint, schedule, t_prev, generator, progress, i + 1, n)
    return x


def dpmpp_2m_sample(
    denoise: Denoise,
    shape,
    schedule: CosineSchedule,
    *,
    steps: int | None = None,
    generator: torch.Generator | None = None,
    device=None,
    progress: Progress = None,
    x_T: torch.Tensor | None = None,
    timesteps: torch.Tensor | None = None,
    inpaint: Inpaint = None,
) -> torch.Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022) for the x0-predicting VP model: deterministic,
    second-order multistep; the final step to clean data is first order (x = x0_hat)."""
    device = _device(device, x_T)
    ts = _timesteps(schedule, steps, timesteps)
    abar = schedule.alphas_cumprod
    alpha = abar.sqrt()
    sigma = (1 - abar).sqrt()
    lam = torch.log(alpha / sigma)
    x = _start(shape, schedule, generator, device, x_T, inpaint, int(ts[0]))
    n = len(ts)
    prev_x0, prev_h = None, None
    for i in range(n):
        t = int(ts[i])
        t_next = int(ts[i + 1]) if i + 1 < n else -1
        x0_hat = denoise(x, _tvec(t, x.shape[0], device))
        if t_next < 0:
            x = x0_hat
        else:
            h = (lam[t_next] - lam[t]).item()
            if prev_x0 is None:
                d = x0_hat
            else:
                r = prev_h / h
                d = (1 + 1 / (2 * r)) * x0_hat - (1 / (2 * r)) * prev_x0
            x = (sigma[t_next] / sigma[t]).item() * x - alpha[t_next].item() * torch.expm1(torch.tensor(-h)).item() * d
            prev_x0, prev_h = x0_hat, h
        x = _after_step(x, inpaint, schedule, t_next, generator, progress, i + 1, n)
    return x


SAMPLERS = {"ddpm": ddpm_sample, "ddim": ddim_sample, "dpmpp_2m": dpmpp_2m_sample}
