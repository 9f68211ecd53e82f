"""Does generated motion follow the audio inside a window? A quick check while training.

    python research/audio_following.py CKPT [CKPT ...] [--data PACK.npz] [--device cuda]

On held-out windows of a dataset pack (the checkpoint's held-out takes), sample each window
with dpmpp_2m:20 from its own audio and, with the same noise, from another window's audio;
with the window's real seed and with the null seed. Printed per checkpoint:
- r: within-window correlation of loudness and wrist speed (both smoothed over 0.5 s), the
  real motion's value first; a model that follows the audio comes near it with its own audio
  and near 0 with the other window's;
- level: correlation over windows of mean loudness and mean wrist speed (does a louder
  window move more);
- speed: mean wrist speed (cm/s).
Faster than `ohgesture evaluate` (minutes on a CPU, seconds on a GPU) and needs no librosa.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)


def main() -> None:
    import torch

    from ohgesture.core.training import datasets as D
    from ohgesture.core.evaluation.pack_sections import heldout_split
    from ohgesture.core.evaluation import measures as M
    from ohgesture.core.generation.pipeline import load_model
    from ohgesture.core.model.samplers import SAMPLERS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--data", default=str(ROOT.parent / "runs" / "bandai_pack.npz"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--windows", type=int, default=64)
    args = p.parse_args()
    if not Path(args.data).exists():
        sys.exit(f"no dataset pack at {args.data}; make one with `ohgesture prepare` (README, default model).")
    dataset = D.load_pack(Path(args.data))
    print("| model | seed | r real | r own audio | r other audio | level own | level other | speed real | speed own |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in args.models:
        lm = load_model(path, args.device)
        model = lm.model.eval()
        _, held, _ = heldout_split(dataset, lm.metadata)
        batch = D.WindowSampler(held, lm.labels, lm.stats, lm.window, lm.n_seed, seed=5).batch(args.windows)
        t = {k: torch.as_tensor(v, device=lm.device) for k, v in batch.items()}
        other = torch.roll(torch.arange(args.windows), 7)
        loud_column = lm.audio_config.column_names().index("rms_db")
        loudness_db = batch["audio"][..., loud_column] * lm.stats.audio_std[loud_column] + lm.stats.audio_mean[loud_column]
        loudness = 10 ** (loudness_db / 20)
        groups = M.joint_groups(dataset.skeleton)

        def speeds(normalised: np.ndarray) -> np.ndarray:
            return np.stack([M.wrist_speed_from_positions(
                M.motion_positions(lm, w * lm.stats.motion_std + lm.stats.motion_mean), groups["wrists"], lm.fps)
                for w in normalised])

        def sample(audio, seed_null) -> np.ndarray:
            def denoise(x_t, step):
                return model(x_t, step.expand(len(x_t)), t["seed"].float(), t["emotion"].long(), audio.float(),
                             seed_null)

            with torch.no_grad():
                shape = (args.windows, lm.window, model.config.state_dim)
                x = SAMPLERS["dpmpp_2m"](denoise, shape, lm.schedule, steps=20, device=lm.device,
                                         generator=torch.Generator().manual_seed(0))
            return x[..., :lm.layout.D].float().cpu().numpy()

        def within(speed, loud) -> float:
            return float(np.nanmean([M.pearson(M.smooth(l, lm.fps, 0.5), M.smooth(s, lm.fps, 0.5))
                                     for s, l in zip(speed, loud)]))

        real = speeds(batch["x0"])
        for seed_name, null in (("real", False), ("null", True)):
            seed_null = torch.full((args.windows,), null, device=lm.device)
            own, shuffled = speeds(sample(t["audio"], seed_null)), speeds(sample(t["audio"][other], seed_null))
            print(f"| {Path(path).name} | {seed_name} | {within(real, loudness):.2f} | {within(own, loudness):.2f} | "
                  f"{within(shuffled, loudness[other.numpy()]):.2f} | "
                  f"{M.pearson(loudness.mean(1), own.mean(1)):.2f} | "
                  f"{M.pearson(loudness[other.numpy()].mean(1), shuffled.mean(1)):.2f} | "
                  f"{real.mean():.0f} | {own.mean():.0f} |", flush=True)


if __name__ == "__main__":
    main()
