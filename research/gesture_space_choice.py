"""The gesture-space limit (core/generation/gesture_space.py), chosen on the two training recordings and
the validation recording 2_scott_0_55_55 (never on reported speech): every emotion, seeds 1 and 2,
default settings; each take sampled once and finished with and without the limit; per emotion the
share of frames with the higher wrist above its shoulder (worst take and mean), above the head,
the wrist height above the hips, the share over 25 cm, the jitter and the wrist speed.

    OMP_NUM_THREADS=1 python research/gesture_space_choice.py [--model CKPT] [--seeds 1,2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import ohgesture.core.generation.sampling as S
from ohgesture.core.audio.features import audio_features_from_file
from ohgesture.core.evaluation import take_repertoire as R
from ohgesture.core.evaluation.takes import gesture_space, plausibility, take_from_motion, wrist_speeds
from ohgesture.core.generation import finishing
from ohgesture.core.generation.pipeline import DEFAULT_MODEL, features_to_output, load_model
from ohgesture.core.generation.settings import DEFAULT_SMOOTHING_HZ

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPEECH = (DATA / "speech" / "2_scott_0_55_55.wav", DATA / "beat-sample" / "2_scott_0_1_1.wav",
          DATA / "zeggs-sample" / "067_Speech_2_x_1_0.wav")
EMOTIONS = ("neutral", "sad", "happy", "old", "angry", "tired")


def sampled(lm, seeds) -> list:
    """(speech, emotion, seed, re-timed motion before finishing, loudness) of every take."""
    caught = {}

    def catch(lm_, motion, mask, known, hz, foot_lock, **kw):  # generate_features' finishing, skipped
        caught.update(motion=motion.copy(), loudness=kw["loudness"])
        return motion

    real, S.finish = S.finish, catch
    try:
        out = []
        for wav in SPEECH:
            audio = audio_features_from_file(wav, lm.fps, config=lm.audio_config)
            for emotion in EMOTIONS:
                for seed in seeds:
                    S.generate_features(lm, audio, [emotion], np.ones(1), seed=seed)
                    out.append((wav.stem, emotion, seed, caught["motion"], caught["loudness"]))
        return out
    finally:
        S.finish = real


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--seeds", default="1,2")
    args = ap.parse_args()
    lm = load_model(args.model, "cpu")
    takes = sampled(lm, [int(s) for s in args.seeds.split(",")])
    print("| limit | emotion | above the shoulder, worst take / mean (%) | above the head, worst (%) | wrist above "
          "the hips (cm) | higher wrist > 25 cm (%) | jitter, worst | wrist speed (cm/s) |")
    print("|---|---|---|---|---|---|---|---|")
    for on in (False, True):
        rows = {}
        for speech, emotion, seed, motion, loudness in takes:
            finished = finishing.finish(lm, motion, None, None, DEFAULT_SMOOTHING_HZ, True, loudness=loudness,
                                        gesture_space=on)
            take = take_from_motion(features_to_output(lm, finished), speech, label=emotion, seed=seed, speech=speech)
            space, rep = gesture_space(take), R.repertoire(take)
            rows.setdefault(emotion, []).append((space["above_shoulder_pct"], space["above_head_pct"],
                                                 rep["wrist_above_hips"], rep["high_wrist_pct"],
                                                 plausibility(take)["jerk_per_speed"], float(wrist_speeds(take).mean())))
        for emotion, values in rows.items():
            a = np.array(values)
            print(f"| {'on' if on else 'off'} | {emotion} | {a[:, 0].max():.1f} / {a[:, 0].mean():.1f} | "
                  f"{a[:, 1].max():.1f} | {a[:, 2].mean():.1f} | {a[:, 3].mean():.1f} | {a[:, 4].max():.0f} | "
                  f"{a[:, 5].mean():.1f} |", flush=True)


if __name__ == "__main__":
    main()
