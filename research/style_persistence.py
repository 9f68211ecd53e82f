"""Does each emotion keep moving like itself over a long take, or fade into stillness?

    python research/style_persistence.py SPEECH.wav [--model CKPT] [--emotions angry,happy,...]

For each emotion: sample the first ``--seconds`` of the speech with dpmpp_2m:20 (re-timing
off, so the sampler's own motion is measured) and print the mean wrist speed (faster wrist,
cm/s) in consecutive 80-frame blocks; then the same emotion's single windows sampled with
the null seed (no earlier motion to continue), and the real training clips' mean. A style
whose chained windows fall far below its single windows is carried by its seed into a
held pose, which is what padding short training clips taught (datasets.chain_short_clips).
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

BLOCK = 80


def main() -> None:
    import torch

    from ohgesture.core.evaluation import measures as E
    from ohgesture.core.evaluation.pack_sections import heldout_split
    from ohgesture.core.training.datasets import load_pack
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, load_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("speech", type=Path)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--emotions", help="comma-separated labels (default: all the model's)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--pack", type=Path, help="the model's training pack, for the real clips' speeds")
    args = p.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model, "cpu")
    wrists = E.joint_groups(lm.skeleton)["wrists"]
    emotions = args.emotions.split(",") if args.emotions else lm.labels
    inp = E.speech_inputs(lm, args.speech, args.seconds)
    real = {}
    if args.pack:
        train, _, _ = heldout_split(load_pack(args.pack), lm.metadata)
        for c in train:
            speed = E.wrist_speed_from_positions(E.motion_positions(lm, c.motion), wrists, lm.fps)
            real.setdefault(c.label, []).append(speed)

    def speed_of(features):
        return E.wrist_speed_from_positions(E.motion_positions(lm, features), wrists, lm.fps)

    print(f"{'emotion':13s} chained windows, cm/s per {BLOCK / lm.fps:.1f} s block | single windows | real")
    for e in emotions:
        chained = speed_of(E.generate(lm, inp["audio"], [e], [1.0], "dpmpp_2m", 20, 1.0, 0, False))
        blocks = [chained[i:i + BLOCK].mean() for i in range(0, len(chained), BLOCK)]
        single = [speed_of(E.generate(lm, inp["audio"][k * lm.window:(k + 1) * lm.window], [e], [1.0],
                                      "dpmpp_2m", 20, 1.0, k, False)).mean()
                  for k in range(min(4, len(inp["audio"]) // lm.window))]
        own = f"{np.concatenate(real[e]).mean():5.0f}" if e in real else "    -"
        print(f"{e:13s} {' '.join(f'{b:4.0f}' for b in blocks)} | {' '.join(f'{s:4.0f}' for s in single)} | {own}")


if __name__ == "__main__":
    main()
