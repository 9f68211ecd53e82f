"""Where happy's and angry's hands above the shoulder come from (docs/experiments/gesture-space.md):

    OMP_NUM_THREADS=1 python research/shoulder_sources.py deliveries [--model CKPT]
        each delivery (0, 0.35, 1) and energy (1.75, 1, 0), seeds 1 and 2, on the validation recording
        2_scott_0_55_55 and the BEAT training recording: the share of frames with the higher wrist
        above its shoulder, the wrist height above the hips and the wrist speed
    OMP_NUM_THREADS=1 python research/shoulder_sources.py styles
        the ZEGGS training take styled neutral, happy and angry with several swing ranges and arm
        posture limits (core/training/styles.py): the same measures of the training motion itself
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ohgesture.core.evaluation import take_repertoire as R
from ohgesture.core.evaluation.takes import gesture_space, take_from_motion, wrist_speeds

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _row(take) -> str:
    return (f"{gesture_space(take)['above_shoulder_pct']:.1f} | {R.repertoire(take)['wrist_above_hips']:.1f} | "
            f"{float(wrist_speeds(take).mean()):.1f}")


def deliveries(model: str) -> None:
    from ohgesture.core.audio.features import audio_features_from_file
    from ohgesture.core.generation.pipeline import features_to_output, generate_features, load_model

    lm = load_model(model, "cpu")
    print("| speech | emotion | delivery | energy | seed | above the shoulder (%) | wrist above the hips (cm) | wrist speed |")
    print("|---|---|---|---|---|---|---|---|")
    for wav in (DATA / "speech" / "2_scott_0_55_55.wav", DATA / "beat-sample" / "2_scott_0_1_1.wav"):
        audio = audio_features_from_file(wav, lm.fps, config=lm.audio_config)
        for emotion in ("angry", "happy", "neutral"):
            for delivery in (0.0, 0.35, 1.0):
                for energy in (1.75, 1.0, 0.0):
                    for seed in (1, 2):
                        motion = generate_features(lm, audio, [emotion], np.ones(1), seed=seed, delivery=delivery,
                                                   energy=energy)
                        take = take_from_motion(features_to_output(lm, motion), wav.stem)
                        print(f"| {wav.stem} | {emotion} | {delivery:g} | {energy:g} | {seed} | {_row(take)} |", flush=True)


def styles() -> None:
    from ohgesture.core.training import styles as S
    from ohgesture.core.training.speech_takes import SPEECH_STYLES, load_speech_takes

    zeggs = load_speech_takes(DATA, 30.0, fingers=True)[0]
    print("| swing | arm posture limit (deg) | emotion | above the shoulder (%) | wrist above the hips (cm) | wrist speed |")
    print("|---|---|---|---|---|---|")
    for swing, arm in (((0.45, 1.15), 15.0), ((0.45, 1.1), 15.0), ((0.45, 1.15), 10.0), ((0.45, 1.1), 10.0),
                       ((0.45, 1.05), 7.5)):
        S.MAX_POSTURE_DEGREES["arm"] = arm
        changes = S.learn_style_changes(DATA / "bandai-namco", {k: SPEECH_STYLES[k] for k in ("neutral", "happy", "angry")},
                                        swing=swing)
        for emotion, change in changes.items():
            take = take_from_motion(S.apply_style(zeggs.motion, change), zeggs.name)
            print(f"| {swing[0]:g}-{swing[1]:g} | {arm:g} | {emotion} | {_row(take)} |", flush=True)


def main() -> None:
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL

    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("deliveries", "styles"))
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    args = ap.parse_args()
    deliveries(args.model) if args.what == "deliveries" else styles()


if __name__ == "__main__":
    main()
