"""Training: the x0-objective Huber loss, EMA weights, held-out loss, resume, DDP.

Run under ``torchrun --nproc_per_node N -m ohgesture.core.cli.main train ...`` for several
processes (gloo on the CPU, nccl on GPUs); only rank 0 writes checkpoints.
"""

from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist

from ..audio.features import audio_features
from ..model.checkpoint import load_checkpoint, save_checkpoint, validate_state_dict
from ..model.normalisation import NormStats
from .datasets import GestureDataset, WindowSampler, chain_short_clips, clip_wrist_speeds, window_span
from ..model.diffusion import CosineSchedule, diffusion_loss, drop_conditions
from ..model.denoiser import DenoiserConfig, GestureDenoiser, count_parameters
from ..motion.features import features_to_motion
from ..motion.kinematics import forward_kinematics
from ..motion.measures import MotionMeasureError, contact_joints, floor_height
from ..motion.skeleton import skeleton_to_dict

COND_DROP_P = 0.1  # the design's independent drop probability for seed and emotion


@dataclass
class TrainConfig:
    steps: int = 20000
    batch: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.01
    warmup: int = 500
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    checkpoint_every: int = 1000
    eval_every: int = 500
    held_out_fraction: float = 0.1
    seed: int = 0
    diffusion_steps: int = 1000
    seed_drop: float = COND_DROP_P  # probability of a null seed per training window
    time_warp: float = 1.0  # > 1: random playback-rate range of training windows (WindowSampler)
    max_seconds: float = 0.0  # > 0: stop (and save) after this much training time in this run
    predicted_activity_share: float = 0.0  # windows conditioned on the encoder's prediction (diffusion_loss)
    label_balance: float = 0.5  # 0: every frame equally often; 1: every label equally often (WindowSampler)
    model: dict = field(default_factory=dict)  # DenoiserConfig overrides (latent, layers, ...)


@dataclass
class TrainResult:
    steps: int
    seconds: float
    train_loss: float
    held_out_loss: float | None
    path: Path


def _distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _batch_tensors(batch: dict, device) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.long if k in ("emotion", "performer") else torch.float32, device=device)
            for k, v in batch.items()}


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            out[f"train.opt.{index}.{key}"] = torch.as_tensor(value).detach().cpu()
    return out


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("train.opt."):
            index, key = name[len("train.opt."):].split(".", 1)
            state.setdefault(int(index), {})[key] = value
    if state:
        optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def checkpoint_metadata(dataset: GestureDataset, model_config: DenoiserConfig, train_config: TrainConfig,
                        training: dict, extra: dict | None = None) -> dict:
    meta = {
        "kind": "ohgesture-denoiser",
        "model_config": model_config.to_dict(),
        "emotions": list(dataset.labels),
        "performers": list(dataset.performers),
        "performers_uncaptured": dict(dataset.uncaptured),
        "skeleton": skeleton_to_dict(dataset.skeleton),
        "feature_layout": dataset.layout.to_dict(),
        "audio_config": dataset.audio_config.to_dict(),
        "fps": float(dataset.fps),
        "diffusion": {"schedule": "cosine", "T": train_config.diffusion_steps, "prediction": "x0"},
        "data": {"source": dataset.source, "license": dataset.license, "clips": len(dataset.clips)},
        "training": {**training, "config": asdict(train_config)},
    }
    floor = dataset_floor(dataset)
    if floor is not None:
        meta["floor_height"] = floor
    meta.update(extra or {})
    return meta


def dataset_floor(dataset: GestureDataset) -> float | None:
    """The height the training motion's toes stand at (motion.measures.floor_height over every
    clip's frames); generation puts a take's feet there (pipeline.ground). None without feet."""
    contacts = contact_joints(dataset.skeleton)
    if not contacts:
        return None
    heights = [forward_kinematics(features_to_motion(clip.motion, dataset.skeleton, dataset.fps,
                                                     root_joint=dataset.layout.root_joint))[0][:, contacts]
               for clip in dataset.clips]
    try:
        return round(floor_height(np.concatenate(heights), list(range(len(contacts)))), 3)
    except MotionMeasureError:
        return None


def _window_samplers(dataset: GestureDataset, config: TrainConfig, model_config: DenoiserConfig, train_clips,
                     held_clips, stats: NormStats, rank: int):
    """(training WindowSampler, held-out WindowSampler or None)."""
    slices = dataset.layout.slices
    velocity_channels = tuple(range(slices["root_velocity"].start, slices["root_velocity"].stop)) + tuple(
        range(slices["heading_velocity"].start, slices["heading_velocity"].stop))
    speeds = {}
    if model_config.activity_conditioning:
        speeds = dict(train=clip_wrist_speeds(train_clips, dataset.skeleton, dataset.layout, dataset.fps),
                      held=clip_wrist_speeds(held_clips, dataset.skeleton, dataset.layout, dataset.fps))
    cfg = dataset.audio_config
    silence = audio_features(np.zeros(cfg.sample_rate, np.float32), cfg.sample_rate, dataset.fps, config=cfg)[0]
    sampler = WindowSampler(train_clips, dataset.labels, stats, model_config.window, model_config.n_seed,
                            seed=config.seed * 1000 + rank, time_warp=config.time_warp, label_balance=config.label_balance,
                            velocity_channels=velocity_channels, wrist_speeds=speeds.get("train"), silence=silence,
                            performers=dataset.performers)
    held = None
    if held_clips:
        try:
            held = WindowSampler(held_clips, dataset.labels, stats, model_config.window, model_config.n_seed,
                                 velocity_channels=velocity_channels, wrist_speeds=speeds.get("held"),
                                 activity_norm=sampler.activity_norm, silence=silence, performers=dataset.performers)
        except ValueError:
            held = None
    return sampler, held


def _networks(model_config: DenoiserConfig, config: TrainConfig, device, resume: Path | None, log):
    """(model, its EMA copy, optimizer, step, seconds trained before), resumed if asked."""
    model = GestureDenoiser(model_config).to(device)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if resume is None:
        return model, ema, optimizer, 0, 0.0
    tensors, meta = load_checkpoint(resume, device=device)
    raw = {k[len("train.model."):]: v for k, v in tensors.items() if k.startswith("train.model.")}
    ema_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    validate_state_dict(model, raw or ema_state)
    model.load_state_dict(raw or ema_state)
    ema.load_state_dict(ema_state)
    _load_optimizer(optimizer, tensors)
    step = int(meta.get("training", {}).get("steps", 0))
    log(f"resumed from {resume} at step {step}")
    return model, ema, optimizer, step, float(meta.get("training", {}).get("seconds", 0.0))


def _held_out_loss(ema, held_batch: dict | None, schedule: CosineSchedule, device) -> float | None:
    """The EMA model's loss on every held-out window, with fixed noise (comparable across steps)."""
    if held_batch is None:
        return None
    g = torch.Generator(device=device).manual_seed(12345)
    with torch.no_grad():
        losses = []
        for i in range(0, len(held_batch["x0"]), 256):
            part = {k: v[i:i + 256] for k, v in held_batch.items()}
            losses.append(float(diffusion_loss(ema, part["x0"], part["seed"], part["emotion"], part["audio"],
                                               schedule, generator=g, activity=part.get("activity"),
                                               performer=part.get("performer"),
                                               channel_weight=part.get("channel_weight")))
                          * len(part["x0"]))
    return sum(losses) / len(held_batch["x0"])


def _optimise(wrapped, model, ema, optimizer, batch: dict, step: int, config: TrainConfig, schedule, generator,
              device) -> float:
    """One step: the loss with conditions dropped, warm-up learning rate, clipped gradients, EMA."""
    seed_null = torch.zeros(len(batch["x0"]), dtype=torch.bool, device=device)
    seed_null, emotion = drop_conditions(seed_null, batch["emotion"], COND_DROP_P, generator,
                                         null_emotion=model.null_emotion, p_seed=config.seed_drop)
    performer = batch.get("performer")
    if performer is not None:  # the unconditional [empty, empty, a] has no performer either
        performer = torch.where(emotion == model.null_emotion, torch.full_like(performer, model.null_performer),
                                performer)
    loss = diffusion_loss(wrapped, batch["x0"], batch["seed"], emotion, batch["audio"], schedule,
                          seed_null=seed_null, generator=generator, activity=batch.get("activity"),
                          predicted_activity_share=config.predicted_activity_share, performer=performer,
                          channel_weight=batch.get("channel_weight"))
    lr = config.lr * min(1.0, (step + 1) / max(1, config.warmup))
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    with torch.no_grad():
        decay = min(config.ema_decay, (1 + step) / (10 + step))
        for p_ema, p in zip(ema.parameters(), model.parameters()):
            p_ema.lerp_(p, 1 - decay)
    return loss.item()


def _out_of_time(config: TrainConfig, start: float, world: int, device) -> bool:
    out_of_time = config.max_seconds > 0 and time.time() - start >= config.max_seconds
    if world > 1 and config.max_seconds > 0:  # every rank must stop at the same step
        flag = torch.tensor(float(out_of_time), device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        out_of_time = bool(flag.item())
    return out_of_time


def _report_step(progress, rank: int, step: int, steps: int, running: float, rate: float, log) -> None:
    """The progress bar, or a log line every 100 steps without one."""
    if progress is not None:
        progress.update(1)
        progress.set_postfix(loss=f"{running:.4f}")
    elif rank == 0 and step % 100 == 0:
        log(f"step {step}/{steps}: train loss {running:.4f}, {rate:.2f} steps/s")


def _save(out: Path, ema, model, optimizer, stats: NormStats, metadata: dict) -> None:
    """EMA weights for inference, plus the raw weights and optimizer state for --resume."""
    tensors = {f"model.{k}": v.detach().cpu() for k, v in ema.state_dict().items()}
    tensors.update({k: torch.from_numpy(v) for k, v in stats.tensors().items()})
    tensors.update({f"train.model.{k}": v.detach().cpu() for k, v in model.state_dict().items()})
    tensors.update(_optimizer_tensors(optimizer))
    save_checkpoint(out, tensors, metadata)


def train(
    dataset: GestureDataset,
    out: Path,
    config: TrainConfig,
    *,
    device: torch.device,
    resume: Path | None = None,
    extra_metadata: dict | None = None,
    log: Callable[[str], None] = print,
    show_progress: bool = True,
) -> TrainResult:
    rank, world = _distributed()
    out = Path(out)
    torch.manual_seed(config.seed + rank)
    train_clips, held_clips = dataset.split(config.held_out_fraction, seed=config.seed)
    stats = NormStats.from_clips(train_clips)
    model_config = DenoiserConfig(
        motion_dim=dataset.layout.D, audio_dim=dataset.audio_config.feature_dim,
        num_emotions=len(dataset.labels), **{"num_performers": len(dataset.performers), **config.model},
    )
    # after the statistics, so a resumed run keeps the normalisation it was trained with
    span = window_span(model_config.window, model_config.n_seed, config.time_warp)
    train_clips = chain_short_clips(train_clips, span, dataset.layout, seed=config.seed)
    sampler, held = _window_samplers(dataset, config, model_config, train_clips, held_clips, stats, rank)
    held_batch = _batch_tensors(held.all_windows(stride=model_config.window), device) if held else None
    model, ema, optimizer, step, previous_seconds = _networks(model_config, config, device, resume, log)
    wrapped = model
    if world > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    schedule = CosineSchedule(T=config.diffusion_steps)
    generator = torch.Generator(device=device).manual_seed(config.seed * 7919 + rank)
    if rank == 0:
        log(f"model: {count_parameters(model) / 1e6:.2f} M parameters, window {model_config.window} "
            f"+ {model_config.n_seed} seed frames, {len(train_clips)} train / {len(held_clips)} held-out clips, "
            f"device {device}, {world} process(es)")

    def save() -> None:
        if rank != 0:
            return
        training = dict(steps=step, seconds=round(previous_seconds + time.time() - start, 1), device=str(device),
                        processes=world, train_loss=round(running, 5),
                        held_out_loss=None if last_held is None else round(last_held, 5),
                        held_out_takes=sorted({c.take for c in held_clips}),
                        activity_norm=sampler.activity_norm)
        _save(out, ema, model, optimizer, stats,
              checkpoint_metadata(dataset, model_config, config, training, extra_metadata))

    start, first_step = time.time(), step
    running, last_held = float("nan"), None
    progress = None
    if rank == 0 and show_progress:
        from tqdm import tqdm

        progress = tqdm(total=config.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
    model.train()
    while step < config.steps:
        value = _optimise(wrapped, model, ema, optimizer, _batch_tensors(sampler.batch(config.batch), device), step,
                          config, schedule, generator, device)
        step += 1
        running = value if running != running else 0.98 * running + 0.02 * value
        _report_step(progress, rank, step, config.steps, running, (step - first_step) / max(1e-9, time.time() - start),
                     log)
        if rank == 0 and (step % config.eval_every == 0 or step == config.steps):
            last_held = _held_out_loss(ema, held_batch, schedule, device)
            if last_held is not None:
                log(f"step {step}: train loss {running:.4f}, held-out loss {last_held:.4f}")
        out_of_time = _out_of_time(config, start, world, device)
        if out_of_time and step % config.eval_every and rank == 0:
            last_held = _held_out_loss(ema, held_batch, schedule, device)
        if step % config.checkpoint_every == 0 or step == config.steps or out_of_time:
            save()
        if out_of_time:
            if rank == 0:
                log(f"stopped at step {step}: the time limit of {config.max_seconds:g} s is reached")
            break
    if progress is not None:
        progress.close()
    if world > 1:
        dist.barrier()
    return TrainResult(step, previous_seconds + time.time() - start, running, last_held, out)


def strip_training_state(path: Path, out: Path, extra_metadata: dict | None = None) -> None:
    """Copy a checkpoint keeping only what inference needs (EMA weights and statistics)."""
    tensors, meta = load_checkpoint(path)
    kept = {k: v for k, v in tensors.items() if not k.startswith("train.")}
    meta.update(extra_metadata or {})
    save_checkpoint(out, kept, meta)
