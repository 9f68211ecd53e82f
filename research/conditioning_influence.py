"""How much each condition moves the denoiser's prediction: audio, seed gesture, emotion.

    .venv/bin/python research/conditioning_influence.py [--model CKPT] [--data PACK.npz]

On held-out training windows (the checkpoint's held-out takes), noise the real motion to
step t and compare G(x_t, t, [s, e, a]) with the same call after replacing one condition:
the audio by digital silence or by another window's audio, the seed by another window's
seed, the emotion by another window's emotion. Printed is |change| / |prediction|. A
model that follows the speech must move with the audio at high noise levels, where x_t
says little; the shipped default model does not (see README, default model).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)


def main() -> None:
    import torch

    from ohgesture.core.training import datasets as D
    from ohgesture.core.audio.features import audio_features
    from ohgesture.core.model.diffusion import q_sample
    from ohgesture.core.evaluation.pack_sections import heldout_split
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, load_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--data", default=str(ROOT.parent / "runs" / "bandai_pack.npz"))
    p.add_argument("--windows", type=int, default=64)
    args = p.parse_args()
    if not Path(args.data).exists():
        sys.exit(f"no dataset pack at {args.data}; make one with `ohgesture prepare` (README, default model).")
    torch.set_num_threads(1)
    lm = load_model(args.model, "cpu")
    model = lm.model.eval()
    dataset = D.load_pack(Path(args.data))
    _, held, how = heldout_split(dataset, lm.metadata)
    windows = D.WindowSampler(held, lm.labels, lm.stats, lm.window, lm.n_seed, seed=5).batch(args.windows)
    b = {k: torch.as_tensor(v) for k, v in windows.items()}
    x0, seed, emotion, audio = b["x0"].float(), b["seed"].float(), b["emotion"].long(), b["audio"].float()
    silence = audio_features(np.zeros(16000 * 4, np.float32), 16000, lm.fps, config=lm.audio_config)[: lm.window]
    silence = torch.as_tensor((silence - lm.stats.audio_mean) / lm.stats.audio_std).float()[None].expand_as(audio)
    other = torch.roll(torch.arange(len(x0)), 7)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    print(f"model {Path(args.model).name}; {len(x0)} held-out windows ({how})")
    print("| t | audio -> silence | audio -> other window's | seed -> other window's | emotion -> other window's |")
    print("|---|---|---|---|---|")
    with torch.inference_mode():
        for step in (999, 700, 400, 100):
            t = torch.full((len(x0),), step)
            x_t = q_sample(lm.schedule, x0, t, noise)
            base = model(x_t, t, seed, emotion, audio)

            def change(**swap) -> float:
                kw = dict(seed=seed, emotion=emotion, audio=audio) | swap
                return float((model(x_t, t, kw["seed"], kw["emotion"], kw["audio"]) - base).norm() / base.norm())

            print(f"| {step} | {change(audio=silence):.3f} | {change(audio=audio[other]):.3f} | "
                  f"{change(seed=seed[other]):.3f} | {change(emotion=emotion[other]):.3f} |")


if __name__ == "__main__":
    main()
