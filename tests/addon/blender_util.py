"""Shared helpers for the add-on tests: synthetic motion files, an independent FK and
a clean Blender scene."""

from __future__ import annotations

import json

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

JOINT_NAMES = ["Hips", "Spine", "Head", "LeftArm", "LeftHand", "RightArm", "RightHand"]
PARENTS = np.array([-1, 0, 1, 1, 3, 1, 5], dtype=np.int32)
OFFSETS = np.array([
    [0.0, 95.0, 0.0],
    [0.0, 20.0, 2.0],
    [0.0, 30.0, 0.0],
    [15.0, 22.0, 0.0],
    [28.0, 0.0, 0.0],
    [-15.0, 22.0, 0.0],
    [-28.0, 0.0, 0.0],
], dtype=np.float32)
# Model space -> Blender: (x, y, z) -> (x, -z, y), centimetres -> metres.
AXIS_MAP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


def synthetic_motion(num_frames: int = 61, fps: float = 30.0, seed: int = 0) -> dict:
    """Smooth random local rotations (up to ~70 degrees) and a wandering root."""
    rng = np.random.default_rng(seed)
    num_joints = len(JOINT_NAMES)
    t = np.arange(num_frames) / fps
    freq = rng.uniform(0.3, 1.5, size=(num_joints, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(num_joints, 3))
    amp = rng.uniform(0.3, 1.2, size=(num_joints, 3))
    rotvec = amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])
    quat_xyzw = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat().reshape(num_frames, num_joints, 4)
    rotations = np.concatenate([quat_xyzw[..., 3:], quat_xyzw[..., :3]], axis=-1).astype(np.float32)
    root = np.stack([20 * np.sin(t), 95 + 3 * np.sin(3 * t), 15 * t], axis=1).astype(np.float32)
    return {
        "rotations": rotations,
        "root_translation": root,
        "joint_names": np.array(JOINT_NAMES),
        "parents": PARENTS,
        "offsets": OFFSETS,
        "root_joint": np.int64(0),
        "fps": np.float64(fps),
        "meta": np.array(json.dumps({"emotions": {"neutral": 1.0}, "seed": seed})),
    }


def save_motion(path, motion: dict) -> None:
    np.savez(path, **motion)


def _rotation(wxyz: np.ndarray) -> Rotation:
    return Rotation.from_quat(np.concatenate([wxyz[..., 1:], wxyz[..., :1]], axis=-1))


def fk_at_times(motion: dict, times: np.ndarray):
    """World rotation matrices (T, J, 3, 3) and positions (T, J, 3) in model space at the
    given times, slerping local rotations between motion frames (scipy, independent of
    the add-on's own math)."""
    fps = float(motion["fps"])
    rotations = np.asarray(motion["rotations"], dtype=np.float64)
    num_frames, num_joints = rotations.shape[:2]
    key_times = np.arange(num_frames) / fps
    local = np.empty((len(times), num_joints, 3, 3))
    for j in range(num_joints):
        local[:, j] = Slerp(key_times, _rotation(rotations[:, j]))(times).as_matrix()
    root = np.stack([np.interp(times, key_times, motion["root_translation"][:, k]) for k in range(3)], axis=1)
    world_rot = np.empty_like(local)
    world_pos = np.empty((len(times), num_joints, 3))
    for j, parent in enumerate(motion["parents"]):
        translation = root if j == int(motion["root_joint"]) else np.broadcast_to(motion["offsets"][j], root.shape)
        if parent < 0:
            world_rot[:, j], world_pos[:, j] = local[:, j], translation
        else:
            world_rot[:, j] = world_rot[:, parent] @ local[:, j]
            world_pos[:, j] = world_pos[:, parent] + np.einsum("tij,tj->ti", world_rot[:, parent], translation)
    return world_rot, world_pos


def reset_blender():
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


EMOTIONS = ["neutral", "happy", "angry", "sad"]


def write_wav(path, seconds: float = 2.0, sample_rate: int = 16000) -> None:
    import wave

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(samples.tobytes())


def write_metadata_only_checkpoint(path, labels=EMOTIONS) -> None:
    """A safetensors file with no tensors and OHGesture metadata (labels, skeleton): enough
    for everything the add-on reads inside Blender."""
    import struct

    metadata = {
        "format_version": 1,
        "emotion_labels": list(labels),
        "fps": 30.0,
        "skeleton": {"joint_names": JOINT_NAMES, "parents": PARENTS.tolist(), "offsets": OFFSETS.tolist(),
                     "root_joint": 0},
    }
    header = json.dumps({"__metadata__": {"ohgesture": json.dumps(metadata)}}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)


def model_and_scene(tmp_path, monkeypatch, fps: int = 30):
    """A metadata-only model as $OHGESTURE_MODEL, the takes kept under ``tmp_path`` and an
    empty scene at ``fps``: (model path, scene)."""
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    scene = reset_blender()
    scene.render.fps = fps
    return model, scene


def add_sound_strip(scene, wav_path, name="speech", frame_start=1, channel=1):
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    return strips.new_sound(name, str(wav_path), channel, frame_start)


def trim_strip(strip, start=None, end=None) -> None:
    """Trim ``start``/``end`` frames off a strip's content, with Blender 5.2's names where they
    exist (the old frame_offset_* warn there) and 4.5's otherwise."""
    new = hasattr(strip, "left_handle_offset")
    if start is not None:
        setattr(strip, "left_handle_offset" if new else "frame_offset_start", start)
    if end is not None:
        setattr(strip, "right_handle_offset" if new else "frame_offset_end", end)
