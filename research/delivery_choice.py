"""The default delivery, chosen on the two training recordings (issue 28): for each delivery, the
repertoire measures of whole takes (core/evaluation/take_repertoire.py) per emotion, averaged
over both recordings and the seeds; and each recording pitched +6 semitones, to see the voice
does not move the repertoire.

    OMP_NUM_THREADS=1 python research/delivery_choice.py --model CKPT [--deliveries 0,0.5,1]
        [--emotions neutral,sad,happy] [--seeds 1,2] [--energies 1.75] [--pitched]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from ohgesture.core.audio.features import audio_features_from_file, load_audio
from ohgesture.core.evaluation import take_fingers as H
from ohgesture.core.evaluation import take_repertoire as R
from ohgesture.core.evaluation.takes import block_means, gesture_space, take_from_motion, wrist_speeds
from ohgesture.core.generation.pipeline import features_to_output, generate_features, load_model
from ohgesture.core.generation.settings import DEFAULT_ENERGY

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAINING_SPEECH = (DATA / "zeggs-sample" / "067_Speech_2_x_1_0.wav", DATA / "beat-sample" / "2_scott_0_1_1.wav")


def measure(lm, wav: Path, emotion: str, seed: int, delivery: float, energy: float) -> dict:
    audio = audio_features_from_file(wav, lm.fps, config=lm.audio_config)
    samples, sr = load_audio(wav)
    motion = features_to_output(lm, generate_features(lm, audio, [emotion], np.ones(1), seed=seed,
                                                      delivery=delivery, energy=energy))
    take = take_from_motion(motion, wav.stem, samples, sr, label=emotion, seed=seed, speech=wav.name)
    speed = wrist_speeds(take).mean(axis=1)
    row = R.repertoire(take)
    blocks = block_means(speed, take.fps)
    row.update(mean_speed=float(speed.mean()), slowest_block=float(min(blocks)), fastest_block=float(max(blocks)),
               **gesture_space(take))
    fingers = H.finger_measures(take)
    row.update(finger_mean=fingers.get("flexion_mean"), finger_std=fingers.get("flexion_std"))
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--deliveries", default="0,0.5,1")
    ap.add_argument("--emotions", default="neutral,sad,happy")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--energies", default=str(DEFAULT_ENERGY))
    ap.add_argument("--pitched", action="store_true", help="also each recording pitched +6 semitones")
    args = ap.parse_args()
    lm = load_model(args.model, "cpu")
    keys = ("wrist_above_hips", "high_wrist_pct", "above_head_pct", "above_shoulder_pct", "knee_std", "sway_range",
            "hip_speed", "mean_speed", "slowest_block", "fastest_block", "finger_mean", "finger_std")
    print("| energy | delivery | emotion | speech | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 4))
    with tempfile.TemporaryDirectory() as tmp:
        speeches = [(wav, wav.stem[:12]) for wav in TRAINING_SPEECH]
        if args.pitched:
            speeches += [(R.pitched_copy(wav, 6, tmp), wav.stem[:12] + " +6 st") for wav in TRAINING_SPEECH]
        for energy in map(float, args.energies.split(",")):
            for delivery in map(float, args.deliveries.split(",")):
                for emotion in args.emotions.split(","):
                    for wav, name in speeches:
                        rows = [measure(lm, wav, emotion, int(s), delivery, energy) for s in args.seeds.split(",")]
                        values = [np.mean([r[k] for r in rows if r.get(k) is not None] or [np.nan]) for k in keys]
                        print(f"| {energy:g} | {delivery:g} | {emotion} | {name} | "
                              + " | ".join(f"{v:.1f}" for v in values) + " |", flush=True)


if __name__ == "__main__":
    main()
