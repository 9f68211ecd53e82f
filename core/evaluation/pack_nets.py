"""The pack evaluation's two small networks, trained on the pack's training split only (never on
held-out takes) and cached: a window autoencoder whose embedding the FGD uses, and a window
emotion classifier."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

EVAL_NETS_VERSION = 2  # bump when the evaluation networks' architecture or inputs change (cache key)


class EvaluationError(ValueError):
    pass


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


def nets_key(train_clips, cfg, labels: list[str]) -> str:
    h = hashlib.sha1()
    for c in train_clips:
        h.update(f"{c.take}|{c.label}|{len(c.motion)}|{float(c.motion[::7].sum()):.4f};".encode())
    h.update(json.dumps([EVAL_NETS_VERSION, cfg.window, cfg.stride, cfg.embed_dim, cfg.ae_steps, cfg.classifier_steps, cfg.seed,
                         labels]).encode())
    return h.hexdigest()[:16]


def train_eval_nets(train_clips, labels: list[str], cfg, cache_dir: Path | None = None,
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
    key = nets_key(train_clips, cfg, labels)
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

    # class-balanced sampling: a style with few clips is learnt as well as one with many
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
