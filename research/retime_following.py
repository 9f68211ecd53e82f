"""Does re-timing make the hands follow the activity the audio encoder asks for?

    python research/retime_following.py [--model CKPT] SPEECH.wav [SPEECH.wav ...]

For each speech file (first 40 s) and two seeds: sample neutral motion with dpmpp_2m:20
without re-timing, then show it through ``core.timing.activity_time_map``. Printed: the
correlation of the faster wrist's speed with the encoder's activity and with the speech
loudness (both smoothed over 0.5 s), before and after, the playback-rate range and the
largest drift from real time. Meant for speech the model was trained on (tuning the
re-timing on the evaluation clips would flatter the report).
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

    from ohgesture.core.evaluation import measures as M
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, activity_positions, load_model, predicted_activity
    from ohgesture.core.generation.retiming import retime_features

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("speech", nargs="+", type=Path)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--seconds", type=float, default=40.0)
    args = p.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model, "cpu")
    if lm.model.activity_predictor is None:
        sys.exit(f"{args.model} has no activity encoder: nothing to re-time to.")
    wrists = M.joint_groups(lm.skeleton)["wrists"]
    neutral = lm.labels.index("neutral") if "neutral" in lm.labels else 0
    rows = []
    for wav in args.speech:
        inp = M.speech_inputs(lm, wav, args.seconds)
        audio = (inp["audio"] - lm.stats.audio_mean) / lm.stats.audio_std
        for seed in (0, 1):
            motion = M.generate(lm, inp["audio"], [lm.labels[neutral]], [1.0], "dpmpp_2m", 20, 1.0, seed, False)
            activity = predicted_activity(lm, audio[:len(motion)], [neutral], np.ones((1, len(motion))))
            positions = activity_positions(lm, motion, activity)
            for name, frames in (("before", np.arange(len(motion), dtype=float)), ("after", positions)):
                shown = retime_features(motion, frames, lm.layout)
                speed = M.wrist_speed_from_positions(M.motion_positions(lm, shown), wrists, lm.fps)
                rows.append(dict(
                    wav=wav.name, seed=seed, name=name,
                    r_activity=M.pearson(M.smooth(activity[:len(speed)], lm.fps, 0.5), M.smooth(speed, lm.fps, 0.5)),
                    r_loudness=M.loudness_motion_correlation(inp["loudness"], speed, lm.fps),
                    rate=np.diff(frames), drift=np.abs(frames - np.arange(len(frames))).max()))
    for name in ("before", "after"):
        sel = [r for r in rows if r["name"] == name]
        rates = np.concatenate([r["rate"] for r in sel])
        print(f"{name:6s} hands-activity r {np.mean([r['r_activity'] for r in sel]):.3f}  "
              f"loudness-hands r {np.mean([r['r_loudness'] for r in sel]):.3f}  "
              f"rate {rates.min():.2f}-{rates.max():.2f}  drift up to {max(r['drift'] for r in sel) / lm.fps:.1f} s")


if __name__ == "__main__":
    main()
