"""Evaluate a trained model: FGD, speech-motion synchrony, emotion control,
physical plausibility, few-step vs 1000-step sampling, with pictures.

``evaluate(...)`` returns a dict of numbers (reused by benchmarks) and writes
``OUT/report.md`` plus PNG plots. Two small networks are trained here on the
training split only (never on held-out takes): a window autoencoder whose
embedding the FGD uses, and a window emotion classifier. They are cached next to
the report (or under ``cache_dir``), keyed by the data and the split.

The synchrony measure is first validated on a real speech take (ZEGGS): a
measure that cannot tell true audio from time-shifted audio on real data says
nothing about a model.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from ..audio.features import loudness_envelope
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import metrics as M
from .report import write_report  # the report writer; importable from here for callers
from ..generation.settings import (DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_SMOOTHING_HZ, DEFAULT_STEPS, SAMPLER_NAMES,
                                   GenerationSettings)
from ..atomic import atomic_path

# The product's few-step sampler beside the 1000-step reference.
SAMPLERS_DEFAULT = f"{DEFAULT_SAMPLER}:{DEFAULT_STEPS[DEFAULT_SAMPLER]},ddpm:1000"
BLEND_CANDIDATES = (("neutral", "angry"), ("happy", "sad"), ("neutral", "tired"), ("neutral", "old"),
                    ("active", "tired"), ("feminine", "masculine"), ("calm", "lively"))
PICTURE_EMOTIONS = ("neutral", "angry", "sad", "happy", "tired", "old", "active")
GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0)
ZEGGS_TAKE = "067_Speech_2_x_1_0"
EVAL_NETS_VERSION = 2  # bump when the evaluation networks' architecture or inputs change (cache key)


class EvaluationError(ValueError):
    pass


@dataclass
class EvalConfig:
    quick: bool = True
    samplers: list[tuple[str, int]] = field(default_factory=lambda: parse_samplers(SAMPLERS_DEFAULT))
    guidance: float = DEFAULT_GUIDANCE
    seed: int = 0
    retime: bool = True  # generate_features' re-timing to the model's activity (models that make one)
    smoothing_hz: float = DEFAULT_SMOOTHING_HZ  # generate_features' low-pass of the finished motion; 0: off
    foot_lock: bool = True  # generate_features' pinning of planted feet
    window: int = 40  # frames per embedding/classifier window (1.3 s at 30 fps)
    stride: int = 10
    embed_dim: int = 32
    ae_steps: int = 500
    classifier_steps: int = 700
    heldout_clips: int = 24  # held-out clips generated with the few-step sampler
    heldout_seconds: float = 10.0  # each clip cropped to this
    reference_clips: int = 6  # held-out clips generated with a 1000-step sampler
    reference_seconds: float | None = None  # None: one model window per clip
    speech_seconds: float = 35.0  # unseen speech clips cropped to this (few-step)
    reference_speech_seconds: float = 12.0
    emotion_seconds: float = 8.0
    all_emotions: bool = False

    @classmethod
    def for_mode(cls, quick: bool, **overrides) -> "EvalConfig":
        base = cls() if quick else cls(
            quick=False, ae_steps=2000, classifier_steps=2500, heldout_clips=10_000, heldout_seconds=30.0,
            reference_clips=10, reference_seconds=10.0, speech_seconds=70.0, reference_speech_seconds=35.0,
            emotion_seconds=20.0, all_emotions=True)
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


def parse_samplers(text: str) -> list[tuple[str, int]]:
    """'ddim:25,ddpm:1000' -> [('ddim', 25), ('ddpm', 1000)]."""
    out = []
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        name, _, steps = part.partition(":")
        if name not in SAMPLER_NAMES:
            raise EvaluationError(f"unknown sampler {name!r} in {text!r}; use {', '.join(SAMPLER_NAMES)}.")
        try:
            n = int(steps) if steps else (1000 if name == "ddpm" else 25)
        except ValueError:
            raise EvaluationError(f"sampler steps {steps!r} in {text!r} is not a whole number.") from None
        if n < 1:
            raise EvaluationError(f"sampler steps must be positive, got {n}.")
        out.append((name, n))
    if not out:
        raise EvaluationError("no sampler given; use for example ddim:25,ddpm:1000.")
    return out


def sampler_key(name: str, steps: int) -> str:
    return f"{name}:{steps}"


def is_reference(name: str, steps: int) -> bool:
    return steps >= 200  # a many-step run is the slow reference; gets the small budget


# ------------------------------------------------------------------ windows and small networks


def feature_windows(sequences: list[np.ndarray], window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, window, D) windows of every sequence long enough, and the sequence index of each."""
    out, owner = [], []
    for i, seq in enumerate(sequences):
        for start in range(0, len(seq) - window + 1, stride):
            out.append(seq[start:start + window])
            owner.append(i)
    if not out:
        return np.zeros((0, window, sequences[0].shape[1] if sequences else 0), np.float32), np.zeros(0, int)
    return np.stack(out).astype(np.float32), np.array(owner)


def with_velocity(normalised: np.ndarray, velocity_std: np.ndarray) -> np.ndarray:
    """Normalised features with their normalised frame-to-frame change appended: without it the
    embedding is dominated by pose and barely tells a frozen or time-shuffled window from real motion."""
    velocity = np.diff(normalised, axis=0, prepend=normalised[:1])
    return np.concatenate([normalised, velocity / velocity_std], axis=1).astype(np.float32)


def _torch_nets(in_dim: int, window: int, embed_dim: int, n_classes: int):
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv1d(in_dim, 96, 3, padding=1), nn.GELU(),
                nn.Conv1d(96, 96, 5, stride=2, padding=2), nn.GELU(),
                nn.Conv1d(96, 96, 5, stride=2, padding=2), nn.GELU(),
            )
            self.out = nn.Linear(96 * 2, embed_dim)

        def forward(self, x):  # (B, W, D) -> (B, E)
            h = self.net(x.transpose(1, 2))
            return self.out(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))

    class AutoEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.decoder = nn.Sequential(nn.Linear(embed_dim, 256), nn.GELU(), nn.Linear(256, window * in_dim))

        def forward(self, x):
            return self.decoder(self.encoder(x)).view(x.shape)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(embed_dim, n_classes))

        def forward(self, x):
            return self.head(self.encoder(x))

    return AutoEncoder(), Classifier()


@dataclass
class EvalNets:
    autoencoder: object
    classifier: object
    mean: np.ndarray
    std: np.ndarray
    labels: list[str]
    window: int
    info: dict
    velocity_std: np.ndarray = None

    def normalise(self, features: np.ndarray) -> np.ndarray:
        return with_velocity((features - self.mean) / self.std, self.velocity_std)

    def embed(self, windows: np.ndarray) -> np.ndarray:
        return self._run(self.autoencoder.encoder, windows)

    def probabilities(self, windows: np.ndarray) -> np.ndarray:
        import torch

        return torch.softmax(torch.from_numpy(self._run(self.classifier, windows)), -1).numpy()

    def _run(self, net, windows: np.ndarray) -> np.ndarray:
        import torch

        net.eval()
        with torch.inference_mode():
            parts = [net(torch.from_numpy(windows[i:i + 512])).numpy() for i in range(0, len(windows), 512)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def _nets_key(train_clips, cfg: EvalConfig, labels: list[str]) -> str:
    h = hashlib.sha1()
    for c in train_clips:
        h.update(f"{c.take}|{c.label}|{len(c.motion)}|{float(c.motion[::7].sum()):.4f};".encode())
    h.update(json.dumps([EVAL_NETS_VERSION, cfg.window, cfg.stride, cfg.embed_dim, cfg.ae_steps, cfg.classifier_steps, cfg.seed,
                         labels]).encode())
    return h.hexdigest()[:16]


def train_eval_nets(train_clips, labels: list[str], cfg: EvalConfig, cache_dir: Path | None = None,
                    log=print) -> EvalNets:
    """Autoencoder (FGD embedding) and emotion classifier, trained on training-split windows only."""
    import torch

    from ..model.checkpoint import load_checkpoint, save_checkpoint

    allm = np.concatenate([c.motion for c in train_clips]).astype(np.float64)
    mean = allm.mean(0).astype(np.float32)
    std = np.maximum(allm.std(0), 1e-2).astype(np.float32)
    diffs = np.concatenate([np.diff((c.motion - mean) / std, axis=0) for c in train_clips if len(c.motion) > 1])
    velocity_std = np.maximum(diffs.std(0), 1e-2).astype(np.float32)
    D = 2 * allm.shape[1]
    autoencoder, classifier = _torch_nets(D, cfg.window, cfg.embed_dim, len(labels))
    key = _nets_key(train_clips, cfg, labels)
    cache = Path(cache_dir) / f"eval_nets_{key}.safetensors" if cache_dir else None
    if cache is not None and cache.exists():
        tensors, meta = load_checkpoint(cache)
        autoencoder.load_state_dict({k[3:]: v for k, v in tensors.items() if k.startswith("ae.")})
        classifier.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("clf.")})
        log(f"evaluation networks loaded from {cache}")
        return EvalNets(autoencoder, classifier, mean, std, labels, cfg.window, dict(meta.get("info", {}), cached=True),
                        velocity_std)

    norm = [with_velocity((c.motion - mean) / std, velocity_std) for c in train_clips]
    windows, owner = feature_windows(norm, cfg.window, max(1, cfg.stride // 2))
    if len(windows) < 8:
        raise EvaluationError(f"the training split has only {len(windows)} windows of {cfg.window} frames.")
    y = np.array([labels.index(train_clips[i].label) for i in owner])
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    xt = torch.from_numpy(windows)
    started = time.time()

    opt = torch.optim.AdamW(autoencoder.parameters(), lr=1e-3, weight_decay=1e-4)
    autoencoder.train()
    for step in range(cfg.ae_steps):
        idx = torch.from_numpy(rng.integers(0, len(windows), 64))
        loss = torch.nn.functional.mse_loss(autoencoder(xt[idx]), xt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    ae_loss = float(loss.detach())
    ae_seconds = time.time() - started

    # class-balanced sampling: the Bandai styles of dataset 1 have a few clips each
    counts = np.bincount(y, minlength=len(labels)).astype(np.float64)
    p = 1.0 / counts[y]
    p /= p.sum()
    opt = torch.optim.AdamW(classifier.parameters(), lr=1e-3, weight_decay=1e-3)
    yt = torch.from_numpy(y)
    classifier.train()
    for step in range(cfg.classifier_steps):
        idx = torch.from_numpy(rng.choice(len(windows), 64, p=p))
        x = xt[idx] + 0.05 * torch.randn_like(xt[idx])
        loss = torch.nn.functional.cross_entropy(classifier(x), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    info = dict(train_windows=int(len(windows)), ae_loss=ae_loss, classifier_loss=float(loss.detach()),
                ae_seconds=round(ae_seconds, 1), classifier_seconds=round(time.time() - started - ae_seconds, 1),
                cached=False)
    log(f"evaluation networks trained in {time.time() - started:.0f} s on {len(windows)} training windows")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"ae.{k}": v for k, v in autoencoder.state_dict().items()}
        tensors.update({f"clf.{k}": v for k, v in classifier.state_dict().items()})
        save_checkpoint(cache, tensors, dict(kind="ohgesture-eval-nets", labels=labels, info=info,
                                              config=asdict(cfg)))
    return EvalNets(autoencoder, classifier, mean, std, labels, cfg.window, info, velocity_std)


# ------------------------------------------------------------------ data helpers


def heldout_split(dataset, meta: dict) -> tuple[list, list, str]:
    """(train, held-out, how): the model's own held-out takes when its metadata names them."""
    takes = set(meta.get("training", {}).get("held_out_takes") or [])
    present = {c.take for c in dataset.clips}
    if takes and takes <= present:
        held = [c for c in dataset.clips if c.take in takes]
        train = [c for c in dataset.clips if c.take not in takes]
        return train, held, f"the checkpoint's held-out takes ({len(takes)})"
    train, held = dataset.split(0.1, seed=0)
    how = "GestureDataset.split(0.1, seed=0)"
    if takes:
        how += " (the checkpoint's held-out takes are not in this pack)"
    return train, held, how


def motion_positions(lm, features: np.ndarray) -> np.ndarray:
    from ..generation.pipeline import features_to_output
    from ..motion.kinematics import forward_kinematics

    return forward_kinematics(features_to_output(lm, features))[0]


def pose_coordinates(lm, features: np.ndarray) -> np.ndarray:
    """World joint positions (F, 3J) with the root's horizontal travel removed: the visible pose."""
    positions = motion_positions(lm, features)
    root = positions[:, lm.layout.root_joint].copy()
    root[:, 1] = 0.0
    return (positions - root[:, None]).reshape(len(positions), -1)


def joint_groups(skeleton) -> dict:
    from ..motion.measures import wrist_indices

    names = [n.lower() for n in skeleton.joint_names]
    feet = [i for i, n in enumerate(names) if ("toe" in n or "foot" in n) and "end" not in n]
    return dict(wrists=list(wrist_indices(skeleton)), feet=feet)


def wrist_speed_from_positions(positions: np.ndarray, wrists: list[int], fps: float) -> np.ndarray:
    return M.speed_from_positions(positions[:, wrists], fps).max(axis=1)


def physical_stats(position_sets: list[np.ndarray], groups: dict, fps: float) -> dict:
    """Foot sliding, jitter and wrist speed over a set of sequences (frame-weighted)."""
    speeds = np.concatenate([wrist_speed_from_positions(p, groups["wrists"], fps) for p in position_sets])
    frames = np.array([len(p) for p in position_sets], np.float64)
    usable = [p for p in position_sets if len(p) >= 4]
    w = np.array([len(p) for p in usable], np.float64)
    out = dict(
        jitter=float(np.average([M.jitter(p, fps) for p in usable], weights=w)) if usable else float("nan"),
        foot_sliding=float(np.average([M.foot_sliding(p, fps, groups["feet"]) for p in usable], weights=w))
        if usable and groups["feet"] else float("nan"),
        wrist_speed_mean=float(speeds.mean()), wrist_speed_p95=float(np.percentile(speeds, 95)),
        wrist_speed_clip_means=[float(wrist_speed_from_positions(p, groups["wrists"], fps).mean())
                                for p in position_sets],
        seconds=float(frames.sum() / fps),
    )
    return out


# ------------------------------------------------------------------ generation


def generate(lm, audio_feats, emotions, weights, sampler, steps, guidance, seed, retime=True,
             smoothing_hz=DEFAULT_SMOOTHING_HZ, foot_lock=True) -> np.ndarray:
    from ..generation.pipeline import generate_features

    return generate_features(lm, audio_feats, list(emotions), np.asarray(weights, np.float64), guidance=guidance,
                             sampler=sampler, steps=steps, seed=seed, retime=retime,
                             smoothing_hz=smoothing_hz, foot_lock=foot_lock)


def speech_inputs(lm, path: Path, seconds: float) -> dict:
    """Audio features, waveform and per-frame loudness of one speech file, cropped to ``seconds``."""
    from ..audio.features import audio_features_from_file, load_audio

    feats = audio_features_from_file(path, lm.fps, config=lm.audio_config)
    n = min(len(feats), int(round(seconds * lm.fps)))
    samples, sr = load_audio(path, sr=16000)
    samples = samples[: int(round(n / lm.fps * sr))]
    return dict(name=Path(path).name, audio=feats[:n], samples=samples, sr=sr,
                loudness=loudness_envelope(samples, sr, lm.fps, n))


def synchrony(loudness, speed, samples, sr, fps) -> dict:
    duration = len(speed) / fps
    out = dict(seconds=round(duration, 2), loudness=M.loudness_sync_test(loudness, speed, fps))
    onsets = M.audio_onsets(samples, sr)
    beats = M.motion_beats(speed, fps)
    out["bc"] = M.beat_sync_test(beats, onsets, duration, fps)
    out["bc_reverse"] = M.beat_sync_test(beats, onsets, duration, fps, reverse=True)
    return out


def zeggs_proof(zeggs_dir: Path, fps: float = 30.0) -> dict | None:
    """Both synchrony measures on the real ZEGGS take: true audio vs time-shifted audio."""
    from ..audio.features import load_audio
    from ..motion.bvh import read_bvh
    from ..motion.kinematics import forward_kinematics
    from ..motion.resample import resample_motion

    bvh, wav = Path(zeggs_dir) / f"{ZEGGS_TAKE}.bvh", Path(zeggs_dir) / f"{ZEGGS_TAKE}.wav"
    if not bvh.exists() or not wav.exists():
        return None
    motion = read_bvh(bvh)
    if abs(motion.fps - fps) > 1e-3:
        motion = resample_motion(motion, fps)
    positions = forward_kinematics(motion)[0]
    sk = motion.skeleton
    speed = wrist_speed_from_positions(positions, [sk.index("LeftHand"), sk.index("RightHand")], fps)
    samples, sr = load_audio(wav, sr=16000)
    loudness = loudness_envelope(samples, sr, fps, len(speed))
    return dict(take=ZEGGS_TAKE, speed=speed, loudness_curve=loudness, samples=samples, sr=sr,
                **synchrony(loudness, speed, samples, sr, fps))


# ------------------------------------------------------------------ plots


def _save_figure(fig, path: Path) -> None:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)


def contact_sheet(rows: list[tuple[str, np.ndarray]], parents, fps: float, path: Path, columns: int = 8) -> Path:
    """Stick figures, front view (x right, y up): one row per labelled (F, J, 3) sequence, time left to right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.3 * columns, 2.2 * len(rows)), squeeze=False)
    all_pos = np.concatenate([p for _, p in rows])
    height = np.ptp(all_pos[..., 1]) or 1.0
    lo_y = all_pos[..., 1].min()
    parents = list(parents)
    # a top joint with one child (Bandai's floor-level joint_Root) carries the travel, not a bone
    lone_tops = {j for j, p in enumerate(parents) if p < 0 and parents.count(j) == 1}
    for r, (label, positions) in enumerate(rows):
        frames = np.linspace(0, len(positions) - 1, columns).round().astype(int)
        for c, f in enumerate(frames):
            ax = axes[r, c]
            pose = positions[f]
            cx = pose[:, 0].mean()
            for j, parent in enumerate(parents):
                if parent >= 0 and parent not in lone_tops:
                    ax.plot([pose[j, 0] - cx, pose[parent, 0] - cx], [pose[j, 1], pose[parent, 1]], "-",
                            color="tab:blue", lw=1.5)
            ax.plot(pose[:, 0] - cx, pose[:, 1], ".", color="k", ms=2)
            ax.set_xlim(-0.45 * height, 0.45 * height)
            ax.set_ylim(lo_y - 0.05 * height, lo_y + 1.05 * height)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"{f / fps:.1f} s", fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
    return path


def sync_plot(panels: list[dict], fps: float, path: Path) -> Path:
    """Per panel: speech loudness (smoothed) with onsets vs wrist speed (smoothed), over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        n = min(len(panel["loudness"]), len(panel["speed"]))
        t = np.arange(n) / fps
        loud = M.smooth(panel["loudness"][:n], fps, 0.5)
        speed = M.smooth(panel["speed"][:n], fps, 0.5)
        ax.plot(t, loud / (loud.max() or 1), color="tab:orange", label="loudness (RMS, 0.5 s)")
        onsets = [o for o in panel.get("onsets", []) if o < t[-1]]
        ax.vlines(onsets, 0, 0.15, color="tab:orange", alpha=0.6, lw=0.8, label="audio onsets")
        ax2 = ax.twinx()
        ax2.plot(t, speed, color="tab:blue", label="wrist speed (0.5 s)")
        ax2.set_ylabel("wrist speed (cm/s)")
        ax.set_ylabel("loudness (norm.)")
        ax.set_title(panel["title"], fontsize=10)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    _save_figure(fig, path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------ the evaluation


def _classifier_eval(nets: EvalNets, clips, window_stride: int) -> dict:
    seqs = [nets.normalise(c.motion) for c in clips]
    windows, owner = feature_windows(seqs, nets.window, window_stride)
    if len(windows) == 0:
        return dict(windows=0, accuracy=float("nan"), clip_accuracy=float("nan"), recall={})
    probs = nets.probabilities(windows)
    target = np.array([nets.labels.index(clips[i].label) for i in owner])
    pred = probs.argmax(1)
    recall = {l: float((pred[target == k] == k).mean()) for k, l in enumerate(nets.labels) if (target == k).any()}
    clip_correct = []
    for i in np.unique(owner):
        clip_correct.append(probs[owner == i].mean(0).argmax() == target[owner == i][0])
    return dict(windows=int(len(windows)), accuracy=float((pred == target).mean()),
                balanced_accuracy=float(np.mean(list(recall.values()))),
                clip_accuracy=float(np.mean(clip_correct)), recall=recall, chance=1.0 / len(nets.labels))


def pick_blend_pair(labels: list[str], recall: dict) -> tuple[str, str]:
    options = [(a, b) for a, b in BLEND_CANDIDATES if a in labels and b in labels]
    if not options:
        options = [(labels[0], labels[1])] if len(labels) > 1 else [(labels[0], labels[0])]
    return max(options, key=lambda ab: (min(recall.get(ab[0], 0.0), recall.get(ab[1], 0.0)), -options.index(ab)))


def _fgd_block(nets: EvalNets, real_train, real_held, cfg: EvalConfig, rng) -> dict:
    W, S = cfg.window, cfg.stride
    held_windows, _ = feature_windows(real_held, W, S)
    if len(held_windows) < 4:
        raise EvaluationError(f"the held-out split has only {len(held_windows)} windows of {W} frames.")
    held_emb = nets.embed(held_windows)
    train_windows, _ = feature_windows(real_train, W, S)
    train_emb = nets.embed(train_windows)
    half = held_windows.shape[2] // 2  # pose channels; the rest are their frame-to-frame changes
    mean_pose = np.zeros_like(held_windows)  # normalised mean pose, no motion
    static = np.zeros_like(held_windows)
    static[:, :, :half] = held_windows[:, :1, :half]
    shuffled = np.stack([with_velocity(w[rng.permutation(W), :half], nets.velocity_std) for w in held_windows])
    return dict(
        held_emb=held_emb, held_windows=int(len(held_windows)), train_windows=int(len(train_windows)),
        floor_train_vs_heldout=M.fgd(train_emb, held_emb),
        mean_pose=M.fgd(nets.embed(mean_pose), held_emb),
        static_pose=M.fgd(nets.embed(static), held_emb),
        shuffled_time=M.fgd(nets.embed(shuffled), held_emb),
        wrong_audio=0.0,
    )


@dataclass
class _Evaluation:
    """What every section of one evaluation shares: the model, the settings, the held-out clips and, once
    trained, the evaluation networks with the held-out real embeddings and joint positions."""
    lm: object
    cfg: EvalConfig
    labels: list[str]
    held: list
    groups: dict
    nets: EvalNets | None = None
    held_emb: np.ndarray | None = None
    real_positions: list | None = None

    def __post_init__(self):
        self.fps = self.lm.fps
        self.neutral = "neutral" if "neutral" in self.lm.labels else self.lm.labels[0]
        samplers = self.cfg.samplers
        self.few_step = next(((n, s) for n, s in samplers if not is_reference(n, s)), samplers[0])
        self.has_reference = any(is_reference(n, s) for n, s in samplers)
        held = self.held
        self.order = sorted(range(len(held)), key=lambda i: (held[i].label, held[i].take))

    def take(self, audio, emotions, weights, sampler, steps, seed):
        """Motion features as the CLI makes them, with this evaluation's guidance and finishing."""
        cfg = self.cfg
        return generate(self.lm, audio, emotions, weights, sampler, steps, cfg.guidance, seed, cfg.retime,
                        cfg.smoothing_hz, cfg.foot_lock)

    def clip_choice(self, ref: bool) -> tuple[list[int], int]:
        """Held-out clips spread over labels (every k-th of the label-sorted list) and the crop length."""
        cfg, order = self.cfg, self.order
        n_clips = cfg.reference_clips if ref else cfg.heldout_clips
        seconds = cfg.reference_seconds if ref else cfg.heldout_seconds
        max_frames = self.lm.window if seconds is None else int(round(seconds * self.fps))
        picks = np.linspace(0, len(order) - 1, min(n_clips, len(order))).round().astype(int)
        return list(dict.fromkeys(order[i] for i in picks)), max_frames

    def generate_heldout(self, name, steps, chosen, max_frames):
        """Normalised generated and real features and generated joint positions of the chosen held-out clips."""
        gen_n, real_n, gen_pos = [], [], []
        for k, i in enumerate(chosen):
            clip = self.held[i]
            n = min(len(clip.motion), max_frames)
            label = clip.label if clip.label in self.lm.labels else self.neutral
            feats = self.take(clip.audio[:n], [label], [1.0], name, steps, self.cfg.seed + k)
            gen_n.append(self.nets.normalise(feats))
            real_n.append(self.nets.normalise(clip.motion[:n]))
            gen_pos.append(motion_positions(self.lm, feats))
        return gen_n, real_n, gen_pos

    def windows_of(self, feats):
        return feature_windows([self.nets.normalise(feats)], self.cfg.window, self.cfg.stride)[0]

    def probabilities(self, feature_sets):
        """Classifier probabilities of the windows of several feature sequences, pooled."""
        w = [x for x in (self.windows_of(f) for f in feature_sets) if len(x)]
        return self.nets.probabilities(np.concatenate(w)) if w else np.full((1, len(self.labels)), np.nan)


def _zeggs_section(zeggs, fps: float, result: dict, log) -> dict | None:
    """0. the synchrony measures on real data: the ZEGGS take's proof (or None without one)."""
    proof = zeggs_proof(Path(zeggs), fps) if zeggs else None
    if proof is not None:
        result["zeggs"] = {k: proof[k] for k in ("take", "seconds", "loudness", "bc", "bc_reverse")}
        log(f"ZEGGS loudness-wrist correlation {proof['loudness']['true']:.3f} "
            f"(shifted median {proof['loudness']['shifted_median']:.3f}); BC {proof['bc']['true']:.3f} "
            f"(shifted median {proof['bc']['shifted_median']:.3f})")
    return proof


def _real_data_section(ev: _Evaluation, train, cache_dir: Path, rng, result: dict, log) -> None:
    """1. evaluation networks, classifier sanity on real held-out data, FGD baselines, real plausibility."""
    nets = ev.nets = train_eval_nets(train, ev.labels, ev.cfg, cache_dir=cache_dir, log=log)
    result["eval_nets"] = nets.info
    result["classifier_real_heldout"] = _classifier_eval(nets, ev.held, ev.cfg.stride)
    real_train_n = [nets.normalise(c.motion) for c in train]
    real_held_n = [nets.normalise(c.motion) for c in ev.held]
    fgd_block = _fgd_block(nets, real_train_n, real_held_n, ev.cfg, rng)
    ev.held_emb = fgd_block.pop("held_emb")
    result["fgd_baselines"] = fgd_block
    ev.real_positions = [motion_positions(ev.lm, c.motion) for c in ev.held]
    result["real_physical"] = physical_stats(ev.real_positions, ev.groups, ev.fps)


def _heldout_fgd(ev: _Evaluation, name: str, steps: int, chosen: list[int], gen_n, real_n) -> dict:
    """FGD and classifier accuracy of one sampler's held-out clips (and on the reference's clips)."""
    cfg, nets = ev.cfg, ev.nets
    ref = is_reference(name, steps)
    dense = max(1, cfg.stride // 2)
    stride = dense if ref else cfg.stride  # few windows: use them densely
    gen_windows, owner = feature_windows(gen_n, cfg.window, stride)
    real_windows, _ = feature_windows(real_n, cfg.window, stride)
    entry: dict = dict(clips=len(chosen), windows=int(len(gen_windows)))
    if len(gen_windows) >= 2:
        entry["fgd"] = M.fgd(nets.embed(gen_windows), ev.held_emb)
        entry["fgd_real_same_clips"] = M.fgd(nets.embed(real_windows), ev.held_emb)
        gen_cls = nets.probabilities(gen_windows)
        target = np.array([ev.labels.index(ev.held[chosen[o]].label) for o in owner])
        entry["generated_heldout_label_accuracy"] = float(np.mean(gen_cls.argmax(1) == target))
    if not ref and ev.has_reference:
        # the few-step sampler on exactly the reference's clips: a like-for-like FGD
        ref_chosen, ref_frames = ev.clip_choice(True)
        g, _, _ = ev.generate_heldout(name, steps, ref_chosen, ref_frames)
        w, _ = feature_windows(g, cfg.window, dense)
        entry["fgd_on_reference_clips"] = M.fgd(nets.embed(w), ev.held_emb) if len(w) >= 2 else None
    return entry


def _speech_synchrony(ev: _Evaluation, name: str, steps: int, speech: list[Path], sync_panels: list) -> dict:
    """Synchrony on unseen speech (neutral); the few-step sampler's first clip also becomes a plot panel."""
    cfg = ev.cfg
    ref = is_reference(name, steps)
    sync = {}
    for s in (speech if not ref else speech[:1]):
        inp = speech_inputs(ev.lm, s, cfg.reference_speech_seconds if ref else cfg.speech_seconds)
        feats = ev.take(inp["audio"], [ev.neutral], [1.0], name, steps, cfg.seed)
        positions = motion_positions(ev.lm, feats)
        speed = wrist_speed_from_positions(positions, ev.groups["wrists"], ev.fps)
        sync[inp["name"]] = synchrony(inp["loudness"], speed, inp["samples"], inp["sr"], ev.fps)
        sync[inp["name"]]["wrist_speed"] = M.speed_stats(speed)
        if (name, steps) == ev.few_step and not sync_panels:
            sync_panels.append(dict(title=f"generated ({sampler_key(name, steps)}, {ev.neutral}) on unseen speech "
                                          f"{inp['name']}: r = {sync[inp['name']]['loudness']['true']:.2f}",
                                    loudness=inp["loudness"], speed=speed,
                                    onsets=M.audio_onsets(inp["samples"], inp["sr"])))
    return sync


def _sampler_section(ev: _Evaluation, name: str, steps: int, speech: list[Path], sync_panels: list, log) -> dict:
    """One sampler: FGD, classifier and plausibility on held-out clips, then synchrony on unseen speech."""
    key = sampler_key(name, steps)
    t0 = time.time()
    chosen, max_frames = ev.clip_choice(is_reference(name, steps))
    gen_n, real_n, gen_pos = ev.generate_heldout(name, steps, chosen, max_frames)
    log(f"{key}: generated {len(chosen)} held-out clips in {time.time() - t0:.0f} s")
    entry = _heldout_fgd(ev, name, steps, chosen, gen_n, real_n)
    entry["physical"] = physical_stats(gen_pos, ev.groups, ev.fps)
    real_same = physical_stats([ev.real_positions[i][:max_frames] for i in chosen], ev.groups, ev.fps)
    entry["physical_real_same_clips"] = real_same

    sync = entry["sync"] = _speech_synchrony(ev, name, steps, speech, sync_panels)
    if sync:
        entry["sync_mean_r"] = float(np.mean([v["loudness"]["true"] for v in sync.values()]))
        entry["sync_mean_shifted_p95"] = float(np.mean([v["loudness"]["shifted_p95"] for v in sync.values()]))
    entry["seconds"] = round(time.time() - t0, 1)
    log(f"{key}: done in {entry['seconds']:.0f} s")
    return entry


def _emotion_inputs(ev: _Evaluation, speech: list[Path], e1: str, e2: str) -> tuple[list, list[str]]:
    """The audio the emotions are generated on, (name, features) each, and the emotions to measure."""
    cfg = ev.cfg
    # every unseen speech clip: one clip alone can decide a small style (measured: the shipped model's angry
    # reads as angry on the ZEGGS voice and as sad on the BEAT one)
    if speech:
        sources = [(p.name, speech_inputs(ev.lm, p, cfg.emotion_seconds)["audio"]) for p in speech]
    else:
        clip = ev.held[ev.order[0]]
        sources = [(f"held-out clip {clip.name}", clip.audio[: int(cfg.emotion_seconds * ev.fps)])]
    if cfg.all_emotions:
        emotions = list(ev.lm.labels)
    else:
        emotions = list(dict.fromkeys([e for e in (ev.neutral, e1, e2) if e in ev.lm.labels]))
        emotions += [e for e in PICTURE_EMOTIONS if e in ev.lm.labels and e not in emotions][: max(0, 3 - len(emotions))]
    return sources, emotions


def _per_emotion(ev: _Evaluation, emo_feats: dict, emotions: list[str]) -> dict:
    """Per target emotion: classifier accuracy per clip (and what each mostly reads as), pooled p(target)."""
    labels = ev.labels
    per_emotion = {}
    for e in emotions:
        if e not in labels:
            continue
        k = labels.index(e)
        per_clip, per_clip_read_as = {}, {}
        for name in emo_feats:
            w = ev.windows_of(emo_feats[name][e])
            if len(w):
                predicted = ev.nets.probabilities(w).argmax(1)
                per_clip[name] = float((predicted == k).mean())
                per_clip_read_as[name] = labels[int(np.bincount(predicted, minlength=len(labels)).argmax())]
        if per_clip:
            p = ev.probabilities([emo_feats[name][e] for name in emo_feats])
            per_emotion[e] = dict(accuracy=float(np.mean(list(per_clip.values()))), per_clip=per_clip,
                                  per_clip_read_as=per_clip_read_as,
                                  probability=float(p[:, k].mean()),
                                  read_as=labels[int(np.bincount(p.argmax(1), minlength=len(labels)).argmax())])
    return per_emotion


def _blend_sweep(ev: _Evaluation, sources: list, e1: str, e2: str) -> dict:
    """p(e1) and p(e2) of motion blended from e1 to e2, over GAMMAS (e2's share)."""
    emo_name, emo_steps = ev.few_step
    labels = ev.labels
    sweep = []
    for g in GAMMAS:
        p = ev.probabilities([ev.take(audio, [e1, e2], [1 - g, g], emo_name, emo_steps, ev.cfg.seed)
                              for _, audio in sources])
        sweep.append(dict(gamma=g, p_e1=float(p[:, labels.index(e1)].mean()),
                          p_e2=float(p[:, labels.index(e2)].mean())))
    return dict(e1=e1, e2=e2, sweep=sweep,
                # gamma is e2's share, so e1's probability must fall as gamma rises (e2's must rise);
                # a flat curve (the classifier sees no change) does not count as a rise
                p_e1_monotonic=M.is_monotonic_increasing([-s["p_e1"] for s in sweep], tolerance=0.02)
                and sweep[0]["p_e1"] - sweep[-1]["p_e1"] > 0.1,
                p_e2_monotonic=M.is_monotonic_increasing([s["p_e2"] for s in sweep], tolerance=0.02)
                and sweep[-1]["p_e2"] - sweep[0]["p_e2"] > 0.1)


def _emotion_distances(ev: _Evaluation, sources: list, emo_feats: dict, emotions: list[str]) -> dict:
    """Mean distance between the emotions and between two seeds of one emotion, on the same audio."""
    # "Two emotions differ more than two takes of one emotion do", same audio: measured on the
    # visible pose (joint positions) and, for comparison, on the normalised features with their
    # velocities, where channels that barely vary in the data (a standing leg's) are magnified
    # up to 10^4 times, so a few degrees of foot-locking IK outweigh the gestures.
    emo_name, emo_steps = ev.few_step
    between, within, between_features, within_features = [], [], [], []
    for name, audio in sources:
        feats = emo_feats[name]
        poses = {e: pose_coordinates(ev.lm, f) for e, f in feats.items()}
        normalised = {e: ev.nets.normalise(f) for e, f in feats.items()}
        between.append(M.mean_pairwise_distance(list(poses.values())))
        between_features.append(M.mean_pairwise_distance(list(normalised.values())))
        for e in emotions[:3]:
            again = ev.take(audio, [e], [1.0], emo_name, emo_steps, ev.cfg.seed + 1)
            within.append(M.mean_pairwise_distance([poses[e], pose_coordinates(ev.lm, again)]))
            within_features.append(M.mean_pairwise_distance([normalised[e], ev.nets.normalise(again)]))
    return dict(distance_between_emotions=float(np.mean(between)), distance_between_seeds=float(np.mean(within)),
                feature_distance_between_emotions=float(np.mean(between_features)),
                feature_distance_between_seeds=float(np.mean(within_features)))


def _emotion_section(ev: _Evaluation, speech: list[Path], recall: dict, log) -> tuple[dict, dict]:
    """Emotion control (few-step sampler): the result's "emotion" entry, and the features per audio and emotion."""
    t0 = time.time()
    emo_name, emo_steps = ev.few_step
    e1, e2 = pick_blend_pair([l for l in ev.labels if l in ev.lm.labels], recall)
    sources, emotions = _emotion_inputs(ev, speech, e1, e2)
    emo_feats = {name: {e: ev.take(audio, [e], [1.0], emo_name, emo_steps, ev.cfg.seed)
                        for e in emotions} for name, audio in sources}
    per_emotion = _per_emotion(ev, emo_feats, emotions)
    blend = _blend_sweep(ev, sources, e1, e2)
    distances = _emotion_distances(ev, sources, emo_feats, emotions)
    emotion = dict(
        sampler=sampler_key(*ev.few_step), audio=[name for name, _ in sources], emotions=emotions,
        per_emotion=per_emotion,
        mean_accuracy=float(np.mean([v["accuracy"] for v in per_emotion.values()])) if per_emotion else float("nan"),
        blend=blend, **distances, seconds=round(time.time() - t0, 1),
    )
    log(f"emotion control measured in {time.time() - t0:.0f} s")
    return emotion, emo_feats


def _pictures_section(ev: _Evaluation, emo_feats: dict, proof: dict | None, sync_panels: list, out: Path) -> dict:
    """The contact sheet (the first audio's emotions) and the synchrony plot; their file names."""
    sheet_feats = next(iter(emo_feats.values()))
    pic = [e for e in PICTURE_EMOTIONS if e in sheet_feats][:3]
    pic += [e for e in sheet_feats if e not in pic][: 3 - len(pic)]
    sheet = contact_sheet([(e, motion_positions(ev.lm, sheet_feats[e])) for e in pic], ev.lm.skeleton.parents,
                          ev.fps, out / "contact_sheet.png")
    if proof is not None:
        sync_panels.append(dict(title=f"real ZEGGS take {ZEGGS_TAKE} (reference): "
                                      f"r = {proof['loudness']['true']:.2f}",
                                loudness=proof["loudness_curve"], speed=proof["speed"],
                                onsets=M.audio_onsets(proof["samples"], proof["sr"])))
    plots = dict(contact_sheet=sheet.name)
    if sync_panels:
        plots["sync"] = sync_plot(sync_panels, ev.fps, out / "sync.png").name
    return plots


def evaluate(model: str | Path, data: str | Path, out: str | Path, *, speech: list | None = None,
             zeggs: str | Path | None = None, samplers: str | list = SAMPLERS_DEFAULT, quick: bool = True,
             cache_dir: str | Path | None = None, device: str = "cpu", threads: int | None = 1, log=print,
             **overrides) -> dict:
    """Run every measurement, write ``out/report.md`` and PNGs, return the numbers."""
    import torch

    from ..training.datasets import load_pack
    from ..generation.pipeline import load_model

    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = EvalConfig.for_mode(quick, **overrides)
    cfg.samplers = parse_samplers(samplers) if isinstance(samplers, str) else list(samplers)
    if threads:
        # small models on a shared CPU: extra threads spin against other processes (measured 4-15x slower)
        torch.set_num_threads(int(threads))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    lm = load_model(model, device)
    dataset = load_pack(Path(data))
    if dataset.layout.D != lm.layout.D:
        raise EvaluationError(f"the pack's motion features (D={dataset.layout.D}) do not match the model's "
                              f"(D={lm.layout.D}); evaluate with the pack the model was trained on.")
    train, held, split_how = heldout_split(dataset, lm.metadata)
    ev = _Evaluation(lm, cfg, list(dataset.labels), held, joint_groups(lm.skeleton))
    log(f"split: {len(train)} training clips, {len(held)} held-out clips ({split_how})")
    result: dict = dict(model=str(model), data=str(data), mode="quick" if quick else "full", split=split_how,
                        train_clips=len(train), heldout_clips=len(held), config=asdict(cfg),
                        activity_encoder=lm.model.activity_predictor is not None)

    proof = _zeggs_section(zeggs, ev.fps, result, log)
    _real_data_section(ev, train, Path(cache_dir) if cache_dir else out, rng, result, log)
    speech = [Path(s) for s in (speech or [])]
    for s in speech:
        if not s.exists():
            raise EvaluationError(f"speech file {s} does not exist.")
    sync_panels: list = []
    result["samplers"] = {sampler_key(name, steps): _sampler_section(ev, name, steps, speech, sync_panels, log)
                          for name, steps in cfg.samplers}
    result["emotion"], emo_feats = _emotion_section(ev, speech, result["classifier_real_heldout"]["recall"], log)
    result["plots"] = _pictures_section(ev, emo_feats, proof, sync_panels, out)
    result["quality_bar"] = quality_bar(result, ev.few_step)
    result["seconds"] = round(time.time() - started, 1)
    write_report(result, out / "report.md")
    return result


def quality_bar(result: dict, few_step) -> dict:
    entry = result["samplers"].get(sampler_key(*few_step), {})
    sync = entry.get("sync", {})
    real = result["real_physical"]
    gen = entry.get("physical", {})
    clip_means = real["wrist_speed_clip_means"]
    bar = dict(
        loudness_r_at_least_0p3=bool(sync) and all(v["loudness"]["true"] >= 0.3 for v in sync.values()),
        loudness_r_above_shifted_p95=bool(sync) and all(v["loudness"]["margin"] > 0 for v in sync.values()),
        wrist_speed_mean_in_real_range=bool(gen) and min(clip_means) <= gen["wrist_speed_mean"] <= max(clip_means),
        wrist_speed_p95_within_real=bool(gen) and gen["wrist_speed_p95"] <= 1.5 * real["wrist_speed_p95"],
        blend_monotonic=result["emotion"]["blend"]["p_e2_monotonic"],
        emotions_differ_more_than_seeds=result["emotion"]["distance_between_emotions"]
        > result["emotion"]["distance_between_seeds"],
    )
    bar["all"] = all(bar.values())
    return bar


# ------------------------------------------------------------------ CLI


def add_cli(subparsers) -> None:
    ev = subparsers.add_parser("evaluate", help="measure a model: FGD, synchrony, emotion control, plausibility",
                               description="Evaluate a checkpoint on a dataset pack; writes OUT/report.md and PNGs. "
                                           "With --takes: the whole-take evaluation instead (OUT/takes.md).")
    ev.add_argument("--model", required=True, help="checkpoint (.safetensors)")
    ev.add_argument("--data", help="dataset pack (.npz from ohgesture prepare); not used with --takes")
    ev.add_argument("--out", required=True, help="output folder for report.md and plots")
    ev.add_argument("--speech", nargs="+", default=[], help="speech recordings the model never saw in training")
    ev.add_argument("--zeggs", help="folder with the real ZEGGS take 067_Speech_2_x_1_0.bvh/.wav (validates "
                                    "the synchrony measures)")
    ev.add_argument("--samplers", default=SAMPLERS_DEFAULT, help="comma list of sampler:steps")
    ev.add_argument("--quick", action="store_true", help="short clips, short 1000-step reference (minutes on a CPU)")
    ev.add_argument("--cache", help="folder for the cached evaluation networks (default: --out)")
    ev.add_argument("--json", help="also write the numbers to this JSON file")
    GenerationSettings.add_arguments(ev, only=("guidance", "seed", "device", "threads", "retime", "smooth_hz",
                                               "foot_lock"), device="cpu")  # the generation settings it uses
    from .take_report import add_take_arguments

    add_take_arguments(ev)
    ev.set_defaults(func=run_evaluate_cli)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if np.isfinite(x) else None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def run_evaluate_cli(args) -> int:
    if args.takes:
        from .take_report import run_take_evaluation_cli

        return run_take_evaluation_cli(args)
    if not args.data:
        raise EvaluationError("--data DATASET.npz is required (or --takes SPEECH.wav ... for the whole-take evaluation).")
    for p, what in ((args.model, "model"), (args.data, "data pack")):
        if not Path(p).exists():
            raise EvaluationError(f"the {what} {p} does not exist.")
    result = evaluate(args.model, args.data, args.out, speech=args.speech, zeggs=args.zeggs,
                      samplers=args.samplers, quick=args.quick, cache_dir=args.cache, device=args.device,
                      threads=args.threads, guidance=args.guidance, retime=args.retime, seed=args.seed,
                      smoothing_hz=args.smooth_hz, foot_lock=args.foot_lock, log=lambda m: print(m, file=sys.stderr))
    text = json.dumps(_jsonable(result), indent=2)
    (Path(args.out) / "metrics.json").write_text(text)
    if args.json:
        Path(args.json).write_text(text)
    print(f"wrote {Path(args.out) / 'report.md'} ({result['seconds']:.0f} s); quality bar "
          f"{'passed' if result['quality_bar']['all'] else 'not passed'}", file=sys.stderr)
    return 0
