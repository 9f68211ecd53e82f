"""Hands at rest in pauses and the hand's roll about the forearm (core/generation/rest.py,
core/generation/hand_roll.py; docs/experiments/hand-roll.md).

    .venv/bin/python research/hands_at_rest.py real
    .venv/bin/python research/hands_at_rest.py takes TAKE.bvh[:SPEECH] ... [--silent-from S]
    .venv/bin/python research/hands_at_rest.py pauses SPEECH ...
    .venv/bin/python research/hands_at_rest.py depth TAKE_WITHOUT_REST.bvh:SPEECH ...

``real``: on the two real co-speech takes on the model body (core.training.speech_takes): each
hand's twist about the forearm-to-hand direction (percentiles, the left hand's sign mirrored so
both sides read alike), the relaxed arms of the frames where the hands hang lowest (the table
rest.py bakes), and what the pause detector finds in the takes' own speech (training speech).
``takes``: per generated take, the hand roll range, the wrists' height above the hips, the hips'
horizontal drift, foot sliding, and with its speech the mean wrist speed and the loudness-wrist r
(core.evaluation.takes, as docs/evaluation.md measures them); with ``--silent-from S`` only the
frames from S seconds on count for height, roll and drift, and the wrists' fastest step in the
ramp in (S to S + 1.5 s) is set beside the 99th percentile of their steps before S.
``pauses``: how much of each speech file the pause detector rests in (core.generation.rest).
``depth``: how deep short pauses rest (rest.SHORT_PAUSE_DEPTH, FULL_REST_SECONDS), on takes made
without the rest step, against how far the real performers lower their hands in the same pauses.
"""

import argparse
from pathlib import Path

import numpy as np

from ohgesture.core.motion.bvh import read_bvh
from ohgesture.core.motion.kinematics import forward_kinematics
from ohgesture.core.motion.rotations import quat_normalize, swing_twist

DATA = Path("../shared/data")
ARM = ("Shoulder", "Arm", "ForeArm", "Hand")
LOWEST_SHARE = 0.05  # the share of each take's frames, lowest hands first, the rest pose is averaged over


def hand_roll_degrees(motion) -> np.ndarray:
    """(F, 2) left/right hand twist about the forearm-to-hand direction, degrees, unwrapped over
    time, the left one's sign mirrored (core.generation.hand_roll.hand_roll)."""
    from ohgesture.core.generation.hand_roll import hand_roll

    return np.degrees(hand_roll(motion.rotations, motion.skeleton))


def wrist_above_hips(motion) -> np.ndarray:
    """(F, 2) left/right wrist height above the hips, cm."""
    positions, _ = forward_kinematics(motion)
    sk = motion.skeleton
    hips = positions[:, sk.index("Hips"), 1]
    return np.stack([positions[:, sk.index(f"{s}Hand"), 1] - hips for s in ("Left", "Right")], axis=1)


def in_pauses(height: np.ndarray, weight: np.ndarray) -> str:
    """The wrists' mean height (F, 2) in the pauses (rest ``weight`` > 0) and elsewhere."""
    inside = weight > 0
    there = np.round(height[inside].mean(axis=0), 1) if inside.any() else "-"
    return (f"pauses: {inside.mean():.1%} of frames; wrists there {there} cm above the hips, elsewhere "
            f"{np.round(height[~inside].mean(axis=0), 1)}")


def mean_quaternion(q: np.ndarray) -> np.ndarray:
    """The principal eigenvector of sum q q^T (sign-free mean of unit quaternions (N, 4))."""
    _, vectors = np.linalg.eigh(np.einsum("ni,nj->ij", q, q))
    mean = vectors[:, -1]
    return mean if mean[0] >= 0 else -mean


def speech_loudness_of(path, frames: int | None = None) -> np.ndarray:
    """The loudness generation's re-timing and rest follow (finishing.speech_loudness), with the
    shipped checkpoint's audio settings, read without torch."""
    from types import SimpleNamespace

    from ohgesture.core.audio.features import AudioFeatureConfig, audio_features_from_file
    from ohgesture.core.generation.finishing import speech_loudness
    from ohgesture.core.model.checkpoint import read_metadata

    meta = read_metadata(Path(__file__).resolve().parent.parent / "core" / "weights" / "default.safetensors")
    config = AudioFeatureConfig.from_dict(meta["audio_config"])
    features = audio_features_from_file(path, float(meta["fps"]), config=config, n_frames=frames)
    return speech_loudness(SimpleNamespace(audio_config=config), features)


def pauses(paths: list[str]) -> None:
    from ohgesture.core.generation.rest import pause_weight

    for path in paths:
        weight = pause_weight(speech_loudness_of(path), 30.0)
        starts = np.flatnonzero(np.diff(np.r_[0.0, weight > 0].astype(int)) == 1)
        print(f"{Path(path).name}: {len(starts)} pauses, {np.mean(weight > 0):.1%} of frames resting, "
              f"{np.mean(weight > 0.99):.1%} at full rest")


def real() -> None:
    from scipy.ndimage import label

    from ohgesture.core.generation.rest import pause_weight
    from ohgesture.core.training.speech_takes import load_speech_takes

    takes = load_speech_takes(DATA)
    chosen, rolls = [], []
    for take in takes:
        m = take.motion
        roll = hand_roll_degrees(m)
        print(f"{take.name}: hand roll, degrees (left mirrored), percentiles 1/2.5/5/50/95/97.5/99")
        for side, column in (("left", 0), ("right", 1)):
            print(f"  {side}: {np.round(np.percentile(roll[:, column], [1, 2.5, 5, 50, 95, 97.5, 99]), 1)}")
        height = wrist_above_hips(m)
        low = np.argsort(height.mean(axis=1))[:max(1, int(LOWEST_SHARE * m.num_frames))]
        print(f"  lowest {LOWEST_SHARE:.0%} frames: wrists {np.round(height[low].mean(axis=0), 1)} cm above the hips "
              f"(take mean {np.round(height.mean(axis=0), 1)})")
        chosen.append(m.rotations[low])
        weight = pause_weight(speech_loudness_of(take.audio, m.num_frames), m.fps)
        runs, count = label(weight > 0)
        for k in range(1, count + 1):
            where = runs == k
            print(f"  pause of {where.sum() / m.fps:.1f} s at {np.flatnonzero(where)[0] / m.fps:.1f} s: wrists "
                  f"{np.round(height[where].mean(axis=0), 1)} cm above the hips")
        print(f"  {in_pauses(height, weight)}")
        rolls.append(roll.ravel())
    pooled = [np.percentile(r, [2.5, 97.5]) for r in rolls]
    print(f"hand roll range (both hands, 2.5th-97.5th percentiles): {min(p[0] for p in pooled):.1f} .. "
          f"{max(p[1] for p in pooled):.1f} deg (the wider of the two takes at each end)")
    rotations = np.concatenate(chosen)
    sk = takes[0].motion.skeleton
    print("REST_POSE = {  # local rotations (w, x, y, z)")
    for side in ("Left", "Right"):
        for part in ARM:
            q = mean_quaternion(quat_normalize(rotations[:, sk.index(side + part)]))
            print(f'    "{side}{part}": ({", ".join(f"{v:.4f}" for v in q)}),')
    print("}")
    rest = takes[0].motion
    from ohgesture.core.generation.rest import REST_POSE

    posed = rest.rotations[:1].copy()
    for name, q in REST_POSE.items():
        posed[:, sk.index(name)] = q
    from dataclasses import replace

    still = replace(rest, rotations=posed, local_translations=rest.local_translations[:1])
    print(f"baked rest pose: wrists {np.round(wrist_above_hips(still)[0], 1)} cm above the hips, "
          f"hand roll {np.round(hand_roll_degrees(still)[0], 1)} deg (first ZEGGS frame's body)")


def takes(paths: list[str], silent_from: float | None) -> None:
    from ohgesture.core.evaluation.measures import foot_sliding
    from ohgesture.core.evaluation.takes import liveliness, read_reference, take_coupling
    from ohgesture.core.motion.measures import contact_joints

    for spec in paths:
        bvh, _, speech = spec.partition(":")
        m = read_bvh(bvh)
        first = 0 if silent_from is None else int(round(silent_from * m.fps))
        roll = hand_roll_degrees(m)[first:]
        height = wrist_above_hips(m)[first:]
        positions, _ = forward_kinematics(m)
        hips = positions[first:, m.skeleton.index("Hips")][:, [0, 2]]
        drift = float(np.linalg.norm(hips - hips[0], axis=1).max())
        wrists = positions[:, [m.skeleton.index("LeftHand"), m.skeleton.index("RightHand")]]
        steps = np.linalg.norm(np.diff(wrists, axis=0), axis=-1) * m.fps
        ramp = ""
        if first:
            ramp = (f"; wrist speed in the ramp in {steps[first - 1:first + int(1.5 * m.fps)].max():.0f} cm/s, "
                    f"speaking p99 {np.percentile(steps[:first - 1], 99):.0f}")
        row = (f"{Path(bvh).name}: roll left {roll[:, 0].min():.0f}..{roll[:, 0].max():.0f}, right "
               f"{roll[:, 1].min():.0f}..{roll[:, 1].max():.0f} deg; wrists above hips {height.mean():.1f} cm "
               f"(max {height.max():.1f}); hips drift {drift:.1f} cm; foot sliding "
               f"{foot_sliding(positions[first:], m.fps, contact_joints(m.skeleton)):.2f} cm/s{ramp}")
        if speech:
            from ohgesture.core.generation.rest import pause_weight

            weight = pause_weight(speech_loudness_of(speech, m.num_frames), m.fps)
            row += f"; {in_pauses(wrist_above_hips(m), weight)}"
            take = read_reference(bvh, speech)
            row += (f"; wrist speed {liveliness(take)['mean_speed']:.1f} cm/s; loudness r "
                    f"{take_coupling(take)['true']:.3f}")
        print(row)


DEPTHS = [(0.5, 4.0), (0.35, 5.0), (0.25, 6.0), (0.2, 6.0), (0.15, 8.0)]


def depth(paths: list[str]) -> None:
    """How far the rest lowers the wrists in the pauses of takes made without it (SHORT_PAUSE_DEPTH,
    FULL_REST_SECONDS): the arms slerped as rest.rest_arms does, measured as in ``real``."""
    from dataclasses import replace

    from ohgesture.core.generation import rest
    from ohgesture.core.motion.rotations import slerp

    for spec in paths:
        bvh, _, speech = spec.partition(":")
        m = read_bvh(bvh)
        loudness = speech_loudness_of(speech, m.num_frames)
        weight = rest.pause_weight(loudness, m.fps)
        print(f"{Path(bvh).name}: without rest, {in_pauses(wrist_above_hips(m), weight)}")
        for short, full in DEPTHS:
            rest.SHORT_PAUSE_DEPTH, rest.FULL_REST_SECONDS = short, full
            weight = rest.pause_weight(loudness, m.fps)
            rotations = m.rotations.copy()
            for name, q in rest.REST_POSE.items():
                j = m.skeleton.index(name)
                rotations[:, j] = slerp(rotations[:, j], np.asarray(q), rest.REST_SHARE * weight)
            rested = wrist_above_hips(replace(m, rotations=rotations))
            print(f"  depth {short} up to {full} s: {in_pauses(rested, weight)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("real", "takes", "pauses", "depth"))
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--silent-from", type=float, default=None)
    args = parser.parse_intermixed_args()
    if args.mode == "real":
        real()
    elif args.mode == "pauses":
        pauses(args.paths)
    elif args.mode == "depth":
        depth(args.paths)
    else:
        takes(args.paths, args.silent_from)


if __name__ == "__main__":
    main()
