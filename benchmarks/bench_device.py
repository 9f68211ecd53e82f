"""Generation speed on a given device (the GPU figure of the README's speed table).

    python benchmarks/bench_device.py --device cuda [--model CKPT] [--features FEATS.npy | --speech WAV]

Times the sampling of 60 s of speech (audio features given, or computed from a WAV when
librosa is installed) with the few-step default and the 1000-step reference, after one
warm-up window, and prints a Markdown table. The audio features and decoding run on the
CPU in every setting; this measures what the device changes: the denoiser passes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)


def main() -> None:
    import torch

    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, features_to_output, generate_features, load_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--features", help="audio features (F, A) saved with numpy.save")
    p.add_argument("--speech", help="a WAV to compute the features from (needs librosa)")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--settings", default="dpmpp_2m:20,ddim:25,ddpm:1000")
    args = p.parse_args()
    lm = load_model(args.model, args.device)
    if args.features:
        feats = np.load(args.features)
    else:
        from ohgesture.core.audio.features import audio_features_from_file

        feats = audio_features_from_file(args.speech, lm.fps, config=lm.audio_config)
    frames = int(args.seconds * lm.fps)
    feats = np.resize(feats, (frames, feats.shape[1]))  # repeat a shorter clip up to the length asked
    name = torch.cuda.get_device_name() if lm.device.type == "cuda" else f"{lm.device} ({torch.get_num_threads()} threads)"
    print(f"device {name}; model {Path(args.model).name}; {args.seconds:g} s of speech ({frames} frames)")
    print("| sampler | sampling (s) | decode (s) | real-time factor |")
    print("|---|---|---|---|")
    for setting in args.settings.split(","):
        sampler, steps = setting.split(":")
        run = lambda n: generate_features(lm, feats[:n], ["neutral"], np.ones(1), sampler=sampler,  # noqa: E731
                                          steps=int(steps))
        run(lm.window)  # warm-up: kernels, allocator
        if lm.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        motion = run(frames)
        if lm.device.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        features_to_output(lm, motion)
        t2 = time.perf_counter()
        print(f"| {setting} | {t1 - t0:.2f} | {t2 - t1:.2f} | {args.seconds / (t2 - t0):.0f}x |", flush=True)


if __name__ == "__main__":
    main()
