"""Procedurally generated speech-and-gesture pairs.

A test fixture, for the always-on end-to-end tests where no real data may be assumed. The
link is simple and learnable: voiced bursts drive arm swings, and the label scales how big
they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from ohgesture.core.motion.skeleton import Motion, Skeleton

SYNTHETIC_LABELS = ("calm", "lively")

_JOINTS = [
    # name, parent, offset (cm, Y up)
    ("Hips", -1, (0.0, 95.0, 0.0)),
    ("Spine", 0, (0.0, 12.0, 0.0)),
    ("Chest", 1, (0.0, 15.0, 0.0)),
    ("Neck", 2, (0.0, 18.0, 0.0)),
    ("Head", 3, (0.0, 10.0, 0.0)),
    ("Shoulder_L", 2, (4.0, 14.0, 0.0)),
    ("UpperArm_L", 5, (14.0, 0.0, 0.0)),
    ("LowerArm_L", 6, (27.0, 0.0, 0.0)),
    ("Hand_L", 7, (25.0, 0.0, 0.0)),
    ("Shoulder_R", 2, (-4.0, 14.0, 0.0)),
    ("UpperArm_R", 9, (-14.0, 0.0, 0.0)),
    ("LowerArm_R", 10, (-27.0, 0.0, 0.0)),
    ("Hand_R", 11, (-25.0, 0.0, 0.0)),
    ("UpperLeg_L", 0, (9.0, -5.0, 0.0)),
    ("LowerLeg_L", 13, (0.0, -42.0, 0.0)),
    ("Foot_L", 14, (0.0, -42.0, 0.0)),
    ("UpperLeg_R", 0, (-9.0, -5.0, 0.0)),
    ("LowerLeg_R", 16, (0.0, -42.0, 0.0)),
    ("Foot_R", 17, (0.0, -42.0, 0.0)),
]


def synthetic_skeleton() -> Skeleton:
    names = [j[0] for j in _JOINTS]
    channels = [
        ["Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"]
        if parent < 0
        else ["Zrotation", "Yrotation", "Xrotation"]
        for _, parent, _ in _JOINTS
    ]
    return Skeleton(
        name="synthetic",
        joint_names=names,
        parents=np.array([j[1] for j in _JOINTS], dtype=np.int64),
        offsets=np.array([j[2] for j in _JOINTS], dtype=np.float64),
        channels=channels,
        end_sites={4: np.array([0.0, 10.0, 0.0]), 8: np.array([8.0, 0.0, 0.0]), 12: np.array([-8.0, 0.0, 0.0])},
    )


@dataclass
class SyntheticTake:
    motion: Motion
    waveform: np.ndarray  # float32 mono
    sample_rate: int
    label: str


def _speech_envelope(n_frames: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Syllable-like bursts: a 0..1 curve with phrases and pauses."""
    env = np.zeros(n_frames)
    t = 0
    while t < n_frames:
        phrase = int(rng.uniform(0.8, 2.5) * fps)
        for s in range(t, min(t + phrase, n_frames), max(1, int(fps * rng.uniform(0.15, 0.3)))):
            width = rng.uniform(0.08, 0.2) * fps
            idx = np.arange(n_frames)
            env += rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((idx - s) / width) ** 2)
        t += phrase + int(rng.uniform(0.3, 1.0) * fps)
    return np.clip(env, 0.0, 1.0)


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    kernel = np.hanning(2 * frames + 1)
    kernel /= kernel.sum()
    return np.convolve(x, kernel, mode="same")


def make_synthetic_take(
    seconds: float, fps: float = 30.0, label: str = "lively", seed: int = 0, sample_rate: int = 16000
) -> SyntheticTake:
    rng = np.random.default_rng(seed)
    skeleton = synthetic_skeleton()
    n = int(round(seconds * fps))
    envelope = _speech_envelope(n, fps, rng)
    gain = 1.0 if label == "lively" else 0.35
    drive = _smooth(envelope, int(fps * 0.1)) * gain

    euler = np.zeros((n, skeleton.num_joints, 3))
    phase = np.cumsum(0.25 + 0.6 * drive) * 2 * np.pi / fps
    for side, sign in (("L", 1.0), ("R", -1.0)):
        up = skeleton.index(f"UpperArm_{side}")
        low = skeleton.index(f"LowerArm_{side}")
        euler[:, up, 2] = sign * (-70.0 + 35.0 * drive)  # lift the arm from hanging down
        euler[:, up, 1] = 25.0 * drive * np.sin(phase + (0.0 if side == "L" else 1.3))
        euler[:, low, 1] = sign * (20.0 + 45.0 * drive * (0.5 + 0.5 * np.sin(1.7 * phase)))
    euler[:, skeleton.index("Head"), 0] = 6.0 * drive * np.sin(0.9 * phase)
    euler[:, skeleton.index("Spine"), 1] = 4.0 * np.sin(0.3 * phase)
    rotations = Rotation.from_euler("ZYX", euler.reshape(-1, 3)[:, ::-1], degrees=True).as_quat()
    rotations = rotations[:, [3, 0, 1, 2]].reshape(n, skeleton.num_joints, 4)

    translations = np.broadcast_to(skeleton.offsets, (n, skeleton.num_joints, 3)).copy()
    translations[:, 0, 0] += 2.0 * np.sin(0.2 * phase)

    samples = int(round(n / fps * sample_rate))
    t = np.arange(samples) / sample_rate
    env_audio = np.interp(t, np.arange(n) / fps, envelope)
    pitch = 120.0 + 40.0 * np.sin(2 * np.pi * 0.3 * t) + rng.normal(0, 1.0)
    carrier = sum(np.sin(2 * np.pi * np.cumsum(pitch * k) / sample_rate) / k for k in (1, 2, 3, 4))
    waveform = 0.3 * env_audio * carrier + 0.002 * rng.standard_normal(samples)
    motion = Motion(skeleton=skeleton, rotations=rotations, local_translations=translations, fps=fps)
    return SyntheticTake(motion=motion, waveform=waveform.astype(np.float32), sample_rate=sample_rate, label=label)


def write_pairs_folder(folder, takes_per_label: int = 3, seconds: float = 12.0, fps: float = 30.0) -> None:
    """A ``pairs``-layout dataset (BVH + WAV + labels.csv) of synthetic takes."""
    from pathlib import Path

    import soundfile as sf

    from ohgesture.core.motion.bvh import write_bvh

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["motion,audio,emotion"]
    for li, label in enumerate(SYNTHETIC_LABELS):
        for k in range(takes_per_label):
            take = make_synthetic_take(seconds, fps=fps, label=label, seed=100 * li + k)
            name = f"{label}_{k:02d}"
            write_bvh(folder / f"{name}.bvh", take.motion)
            sf.write(folder / f"{name}.wav", take.waveform, take.sample_rate)
            rows.append(f"{name}.bvh,{name}.wav,{label}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
