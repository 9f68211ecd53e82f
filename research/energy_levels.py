"""How the default energy (core/generation/settings.py DEFAULT_ENERGY) was chosen.

For each recording, energy level, emotion and seed: one whole take with the product's defaults
otherwise, and its gesture space, wrist speed (mean and slowest 10-s block), speech coupling,
jerk and foot sliding, one JSON line each. Run it on training or validation speech only
(docs/experiments/energy.md), never on the recordings a report shows:

    python research/energy_levels.py --model core/weights/default.safetensors \
        --speech ../shared/data/speech/2_scott_0_55_55.wav ../shared/data/beat-sample/2_scott_0_1_1.wav \
                 ../shared/data/zeggs-sample/067_Speech_2_x_1_0.wav \
        --levels 0,0.5,1,1.5 --seeds 0,1,2 > energy.jsonl
"""

import argparse
import json
from pathlib import Path

import numpy as np

from ohgesture.core.audio.features import audio_features_from_file, load_audio
from ohgesture.core.evaluation import measures as M
from ohgesture.core.evaluation import takes as T
from ohgesture.core.evaluation.measures import joint_groups
from ohgesture.core.generation.pipeline import activity_offset, features_to_output, generate_features, load_model


def measure(lm, audio, samples, sr, emotion, seed, energy) -> dict:
    motion = features_to_output(lm, generate_features(lm, audio, [emotion], np.ones(1), seed=seed, energy=energy))
    take = T.take_from_motion(motion, emotion, samples, sr, label=emotion, seed=seed)
    space, lively, coupling = T.gesture_space(take), T.liveliness(take), T.take_coupling(take)
    return dict(above_head=round(space["above_head_pct"], 1), above_shoulder=round(space["above_shoulder_pct"], 1),
                mean_speed=round(lively["mean_speed"], 1), block_min=round(lively["block_min"], 1), block_max=round(lively["block_max"], 1),
                r=round(coupling["true"], 2), shifted_p95=round(coupling["shifted_p95"], 2),
                jerk=round(M.jitter(take.positions, take.fps)),
                sliding=round(M.foot_sliding(take.positions, take.fps, joint_groups(motion.skeleton)["feet"]), 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--speech", nargs="+", required=True)
    parser.add_argument("--levels", default="0,0.5,1,1.5")
    parser.add_argument("--emotions", help="default: all of the model's")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    lm = load_model(args.model, "cpu")
    emotions = args.emotions.split(",") if args.emotions else list(lm.labels)
    for path in map(Path, args.speech):
        audio = audio_features_from_file(path, lm.fps, config=lm.audio_config)
        samples, sr = load_audio(path)
        level = -activity_offset(lm, audio, 0.0)  # the encoder's own mean activity on this speech
        for energy in map(float, args.levels.split(",")):
            for emotion in emotions:
                for seed in map(int, args.seeds.split(",")):
                    row = dict(speech=path.name, predicted_level=round(level, 2), energy=energy, emotion=emotion, seed=seed)
                    print(json.dumps(row | measure(lm, audio, samples, sr, emotion, seed, energy)), flush=True)


if __name__ == "__main__":
    main()
