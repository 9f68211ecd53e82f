"""How far pitching the voice moves a take, against how far a re-roll does (issue 28): on the
validation recording 2_scott_0_55_55 and the two training recordings, as given and pitched +6
semitones, each emotion and seed; the change of each take's mean wrist height above the hips
against the recording as given (same emotion and seed), and the difference between two seeds
of one emotion on the speech as given. Read in docs/evaluation.md (the voice's bar).

    OMP_NUM_THREADS=1 python research/voice_vs_seed.py [--model CKPT] [--emotions neutral,happy,angry,tired]
        [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ohgesture.core.audio.features import audio_features_from_file
from ohgesture.core.evaluation import take_repertoire as R
from ohgesture.core.evaluation.takes import take_from_motion, wrist_speeds
from ohgesture.core.generation.pipeline import DEFAULT_MODEL, features_to_output, generate_features, load_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPEECH = (DATA / "speech" / "2_scott_0_55_55.wav", DATA / "beat-sample" / "2_scott_0_1_1.wav",
          DATA / "zeggs-sample" / "067_Speech_2_x_1_0.wav")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--emotions", default="neutral,happy,angry,tired")
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()
    lm = load_model(args.model, "cpu")
    emotions, seeds = args.emotions.split(","), [int(s) for s in args.seeds.split(",")]
    height = {}
    print("| recording | voice | emotion | seed | wrist above the hips (cm) | wrist speed (cm/s) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for wav in SPEECH:
            for voice, path in (("as given", wav), ("+6 st", R.pitched_copy(wav, 6, tmp))):
                audio = audio_features_from_file(path, lm.fps, config=lm.audio_config)
                for emotion in emotions:
                    for seed in seeds:
                        motion = features_to_output(lm, generate_features(lm, audio, [emotion], np.ones(1), seed=seed))
                        take = take_from_motion(motion, wav.stem, label=emotion, seed=seed, speech=wav.name)
                        height[wav.stem, voice, emotion, seed] = R.repertoire(take)["wrist_above_hips"]
                        print(f"| {wav.stem} | {voice} | {emotion} | {seed} | {height[wav.stem, voice, emotion, seed]:.1f} | "
                              f"{float(wrist_speeds(take).mean()):.1f} |", flush=True)
    given = [k for k in height if k[1] == "as given"]
    pitched = np.array([height[w, "+6 st", e, s] - height[w, v, e, s] for w, v, e, s in given])
    reroll = np.array([height[w, v, e, s] - height[w, v, e, t] for w, v, e, s in given for t in seeds if t > s])
    for name, d in (("+6 st vs as given, same seed", pitched), ("two seeds, as given", reroll)):
        print(f"- {name}: mean {d.mean():+.2f} cm, mean |change| {np.abs(d).mean():.2f}, largest {np.abs(d).max():.2f}, "
              f"over 5 cm in {int((np.abs(d) > 5).sum())} of {len(d)}")


if __name__ == "__main__":
    main()
