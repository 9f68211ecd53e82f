"""Motion I/O, kinematics, features and resampling, on the real ZEGGS and Bandai
Namco files where present, checked against Blender's own BVH importer."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ohgesture.core.motion.bvh import BVHError, read_bvh, write_bvh
from ohgesture.core.motion.features import (
    FeatureLayout,
    FeatureError,
    features_to_motion,
    initial_root_state,
    model_skeleton,
    motion_to_features,
    root_motion_joint,
    smooth_features,
)
from ohgesture.core.motion.kinematics import forward_kinematics
from ohgesture.core.motion.resample import frames_within, resample_motion, resample_motion_arrays
from ohgesture.core.motion.rotations import euler_to_quat, quat_multiply, quat_to_euler, yaw_quat
from ohgesture.core.motion.skeleton import Motion

# A Bandai clip whose Hips OFFSET (z = -427) is nowhere near where its position
# channels put the hips: only a reader that honours those channels gets it right.
BANDAI_FAR_OFFSET = "Bandai-Namco-Research-Motiondataset-2/data/dataset-2_wave-both-hands_active_001.bvh"
BANDAI_WALK = "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_walk_happy_001.bvh"
BANDAI_MOVING_ROOT = "dataset-1_run_normal_001.bvh"
BANDAI_ROUND_TRIP = [
    "Bandai-Namco-Research-Motiondataset-1/data/" + BANDAI_MOVING_ROOT,
    BANDAI_FAR_OFFSET,
    BANDAI_WALK,
    "Bandai-Namco-Research-Motiondataset-1/data/dataset-1_bye_feminine_001.bvh",
    "Bandai-Namco-Research-Motiondataset-2/data/dataset-2_wave-both-hands_youthful_010.bvh",
]

# Line numbers matter: the malformed-input tests name them.
SMALL_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 5 0
    }
  }
  JOINT Leg
  {
    OFFSET 10 -5 0
    CHANNELS 2 Yrotation Xposition
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
1 90 2 10 20 30 5 6 7 45 12
2 91 3 11 21 31 6 7 8 46 13
3 92 4 12 22 32 7 8 9 47 14
"""


def skeleton_scale(positions: np.ndarray) -> float:
    """Height of the first frame's pose: the length that tolerances scale with."""
    return float(np.ptp(positions[0, :, 1]))


def write_text(tmp_path: Path, text: str, name: str = "clip.bvh") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# ----------------------------------------------------------------------------- reading real files


def test_zeggs_take_loads_as_75_joints_2065_frames_30_fps(zeggs_bvh):
    motion = read_bvh(zeggs_bvh)
    skeleton = motion.skeleton
    assert skeleton.name == "zeggs"
    assert skeleton.num_joints == 75 and motion.num_frames == 2065
    assert motion.fps == 30.0
    assert motion.duration == pytest.approx(68.83, abs=0.01)
    assert skeleton.channels[0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"]
    assert all(c == ["Zrotation", "Yrotation", "Xrotation"] for c in skeleton.channels[1:])
    assert len(skeleton.end_sites) > 10
    assert root_motion_joint(skeleton) == 0
    positions, _ = forward_kinematics(motion)
    head, hips = skeleton.index("Head"), skeleton.index("Hips")
    assert np.all(positions[:, head, 1] > positions[:, hips, 1] + 40)  # standing, Y up, centimetres
    assert 150 < skeleton_scale(positions) < 200


def test_every_bandai_clip_loads_on_the_bandai_skeleton(bandai_dir):
    paths = sorted(bandai_dir.glob("**/*.bvh"))
    assert len(paths) > 700
    moving_root = []
    for path in paths:
        motion = read_bvh(path)
        skeleton = motion.skeleton
        assert skeleton.name == "bandai", path
        assert skeleton.num_joints == 22 and skeleton.joint_names[:2] == ["joint_Root", "Hips"]
        assert motion.num_frames > 0 and motion.fps == 30.0
        assert all(len(c) == 6 for c in skeleton.channels)
        assert np.all(motion.rotations[:, 0, 0] == 1)  # joint_Root never rotates
        assert np.all(np.isfinite(motion.rotations))
        if np.any(motion.local_translations[:, 0] != 0):
            moving_root.append(path.name)
    assert root_motion_joint(skeleton) == 1
    # joint_Root is static zero except in a few looped locomotion cycles, where it
    # carries the forward travel (features use Hips' world transform for that reason)
    assert BANDAI_MOVING_ROOT in moving_root and len(moving_root) < 10


def test_bandai_position_channels_replace_the_offset(bandai_dir):
    motion = read_bvh(bandai_dir / BANDAI_FAR_OFFSET)
    hips = motion.skeleton.index("Hips")
    assert motion.skeleton.offsets[hips, 2] < -400
    assert np.all(np.abs(motion.local_translations[:, hips, 2]) < 100)  # the channels, not the OFFSET
    positions, _ = forward_kinematics(motion)
    feet = [motion.skeleton.index(name) for name in ("Toes_L", "Toes_R")]
    assert positions[:, feet, 1].min() > -5  # feet on the floor, not under it


# ----------------------------------------------------------------------------- features


def round_trip_positions(motion: Motion, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """World positions of the root-motion joint and everything below it, before and
    after BVH -> features -> BVH. (Bandai's joint_Root, above Hips, is decoded as
    static at its offset: it is a dummy, the features carry Hips' world motion.)"""
    features = motion_to_features(motion)
    skeleton = model_skeleton(motion)
    start_position, start_heading = initial_root_state(motion)
    decoded = features_to_motion(
        features, skeleton, motion.fps, start_position=start_position, start_heading=start_heading
    )
    write_bvh(tmp_path / "decoded.bvh", decoded)
    reread = read_bvh(tmp_path / "decoded.bvh")
    assert reread.skeleton.joint_names == motion.skeleton.joint_names
    assert reread.skeleton.channels == motion.skeleton.channels
    assert reread.num_frames == motion.num_frames and reread.fps == motion.fps
    body = slice(root_motion_joint(motion.skeleton), None)
    return forward_kinematics(motion)[0][:, body], forward_kinematics(reread)[0][:, body]


def test_features_round_trip_zeggs_through_bvh(zeggs_bvh, tmp_path):
    motion = read_bvh(zeggs_bvh)
    features = motion_to_features(motion)
    assert features.dtype == np.float32 and features.shape == (2065, 4 + 6 * 75)
    original, decoded = round_trip_positions(motion, tmp_path)
    assert np.abs(original - decoded).max() < 1e-3 * skeleton_scale(original)


@pytest.mark.parametrize("clip", BANDAI_ROUND_TRIP)
def test_features_round_trip_bandai_through_bvh(clip, bandai_dir, tmp_path):
    motion = read_bvh(bandai_dir / clip)
    original, decoded = round_trip_positions(motion, tmp_path)
    assert np.abs(original - decoded).max() < 1e-3 * skeleton_scale(original)


def test_float64_features_invert_exactly(bandai_dir):
    motion = read_bvh(bandai_dir / BANDAI_WALK)
    start_position, start_heading = initial_root_state(motion)
    decoded = features_to_motion(
        motion_to_features(motion, dtype=np.float64), model_skeleton(motion), motion.fps,
        start_position=start_position, start_heading=start_heading,
    )
    assert np.abs(forward_kinematics(motion)[0] - forward_kinematics(decoded)[0]).max() < 1e-8


def test_root_travel_carried_by_joint_root_is_kept(bandai_dir):
    # In this clip joint_Root moves 2 m forward and Hips moves only a few cm locally.
    motion = read_bvh(bandai_dir / "Bandai-Namco-Research-Motiondataset-1/data" / BANDAI_MOVING_ROOT)
    features = motion_to_features(motion, dtype=np.float64)
    travel = np.sum(features[1:, 1]) / motion.fps  # forward (heading-frame z) velocity, integrated
    hips_world = forward_kinematics(motion)[0][:, 1]
    assert travel == pytest.approx(np.linalg.norm(hips_world[-1, [0, 2]] - hips_world[0, [0, 2]]), rel=0.05)
    assert travel > 150


def turned_and_moved(motion: Motion, angle: float, shift: np.ndarray) -> Motion:
    """The same motion performed facing ``angle`` radians further left, elsewhere."""
    root = root_motion_joint(motion.skeleton)
    turn = yaw_quat(np.float64(angle))
    rotation = Rotation.from_euler("y", angle).as_matrix()
    rotations = motion.rotations.copy()
    translations = motion.local_translations.copy()
    rotations[:, root] = quat_multiply(turn, rotations[:, root])
    translations[:, root] = translations[:, root] @ rotation.T + shift
    return Motion(motion.skeleton, rotations, translations, motion.fps)


def test_features_do_not_depend_on_facing_direction_or_place(bandai_dir):
    motion = read_bvh(bandai_dir / BANDAI_WALK)
    features = motion_to_features(motion, dtype=np.float64)
    moved = turned_and_moved(motion, 2.0, np.array([300.0, 0.0, -50.0]))
    assert np.abs(motion_to_features(moved, dtype=np.float64) - features).max() < 1e-9
    # decoding from the moved clip's start state gives the moved clip
    start_position, start_heading = initial_root_state(moved)
    decoded = features_to_motion(
        features, model_skeleton(motion), motion.fps, start_position=start_position, start_heading=start_heading
    )
    assert np.abs(forward_kinematics(decoded)[0] - forward_kinematics(moved)[0]).max() < 1e-6


def test_feature_layout_describes_the_columns(zeggs_bvh):
    motion = read_bvh(zeggs_bvh)
    layout = FeatureLayout.for_skeleton(motion.skeleton)
    assert (layout.num_joints, layout.root_joint, layout.D) == (75, 0, 454)
    assert FeatureLayout.from_dict(layout.to_dict()) == layout
    features = motion_to_features(motion)
    height = features[:, layout.slices["root_height"]][:, 0]
    assert np.allclose(height, motion.local_translations[:, 0, 1], atol=1e-4)
    sixd = features[:, layout.slices["rotations"]].reshape(-1, 75, 6)
    assert np.allclose(np.linalg.norm(sixd[..., :3], axis=-1), 1, atol=1e-5)
    with pytest.raises(FeatureError):
        features_to_motion(features[:, :-1], motion.skeleton, 30.0)
    with pytest.raises(FeatureError):
        FeatureLayout.from_dict({"num_joints": 75, "root_joint": 0, "D": 10})


# ----------------------------------------------------------------------------- resampling


def test_resample_30_60_30_keeps_positions_and_repeats_no_frame(zeggs_bvh):
    motion = read_bvh(zeggs_bvh)
    motion = Motion(motion.skeleton, motion.rotations[:600], motion.local_translations[:600], motion.fps)
    up = resample_motion(motion, 60)
    assert up.fps == 60 and up.num_frames == 1200
    back = resample_motion(up, 30)
    assert back.num_frames == 600
    original = forward_kinematics(motion)[0]
    up_positions = forward_kinematics(up)[0]
    assert np.abs(forward_kinematics(back)[0] - original).max() < 1e-6 * skeleton_scale(original)
    # in-between frames lie between their neighbours: within half a step of the
    # midpoint (slerp follows arcs, so not exactly on it), and usually very near it
    midpoint = 0.5 * (original[:-1] + original[1:])
    deviation = np.linalg.norm(up_positions[1:-1:2] - midpoint, axis=-1)
    step = np.linalg.norm(original[1:] - original[:-1], axis=-1)
    assert np.all(deviation <= 0.5 * step + 0.01)
    assert np.median(deviation) < 0.01
    for resampled in (up, back, resample_motion(motion, 24), resample_motion(motion, 25.5)):
        step = np.abs(np.diff(resampled.rotations, axis=0)).max(axis=(1, 2))
        assert step.min() > 0, "a frame repeats its predecessor"
    assert resample_motion(motion, 24).num_frames == 480
    assert resample_motion(motion, 25.5).num_frames == round(600 / 30 * 25.5)


def test_resampling_keeps_the_sequence_in_time(bandai_dir):
    motion = read_bvh(bandai_dir / BANDAI_WALK)
    slow = resample_motion(motion, 20)
    original = forward_kinematics(motion)[0]
    # 20 fps frame k is 30 fps frame 1.5 k
    assert np.abs(forward_kinematics(slow)[0][::2] - original[::3][: len(slow.rotations[::2])]).max() < 1e-9


def _smooth_rotations(num_frames: int, num_joints: int = 7, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """(F, J, 4) smooth random local rotations (w, x, y, z), up to ~70 degrees, float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    freq = rng.uniform(0.3, 1.5, size=(num_joints, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(num_joints, 3))
    amp = rng.uniform(0.3, 1.2, size=(num_joints, 3))
    rotvec = amp[None] * np.sin(2 * np.pi * freq[None] * t[:, None, None] + phase[None])
    xyzw = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_quat().reshape(num_frames, num_joints, 4)
    return np.concatenate([xyzw[..., 3:], xyzw[..., :3]], axis=-1).astype(np.float32)


def test_slerp_never_repeats_frames():
    """The add-on's path: scene frames inside the motion, slerped between motion frames; the
    one scene frame inside the last motion frame's interval holds it."""
    positions = frames_within(31, 30.0, 60.0)
    assert len(positions) == 62 and np.all(np.diff(positions) > 0)
    q = _smooth_rotations(31).astype(np.float64)
    rots, _ = resample_motion_arrays(q, np.zeros((31, 3)), positions)
    inside = rots[:61]
    assert not np.any(np.all(np.isclose(inside[1:], inside[:-1]), axis=(1, 2)))
    np.testing.assert_allclose(np.abs(np.sum(inside[::2] * q, axis=-1)), 1.0, atol=1e-6)
    np.testing.assert_allclose(rots[61], rots[60])


@pytest.mark.parametrize("scene_fps", [23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 120.0])
def test_frames_within_keys_every_scene_frame_of_the_motions_duration(scene_fps):
    """A 2 s take (60 frames at 30 fps) under a 2 s strip: every scene frame of the strip
    gets a key, the last included (at 60 fps the count was 119 of 120)."""
    strip_frames = int(round(2.0 * scene_fps))
    positions = frames_within(60, 30.0, scene_fps, max_frames=strip_frames)
    assert len(positions) == strip_frames
    assert positions[-1] < 60 and np.all(np.diff(positions) > 0)
    assert len(frames_within(60, 30.0, scene_fps)) == int(np.ceil(2.0 * scene_fps - 1e-9))


# ----------------------------------------------------------------------------- synthetic files


def test_any_channel_subset_and_order_parses_and_round_trips(tmp_path):
    motion = read_bvh(write_text(tmp_path, SMALL_BVH))
    assert motion.skeleton.name == "Hips"
    assert motion.skeleton.channels[2] == ["Yrotation", "Xposition"]
    assert np.allclose(motion.local_translations[:, 2], [[12, -5, 0], [13, -5, 0], [14, -5, 0]])
    hip_rotation = Rotation.from_euler("ZXY", [10, 20, 30], degrees=True).as_quat()  # R = Rz*Rx*Ry
    assert np.allclose(motion.rotations[0, 0], np.roll(hip_rotation, 1)) or np.allclose(
        motion.rotations[0, 0], -np.roll(hip_rotation, 1)
    )
    assert np.allclose(motion.rotations[1, 2], euler_to_quat(np.array([46.0]), "Y"))
    assert motion.fps == 30.0 and 1 in motion.skeleton.end_sites

    write_bvh(tmp_path / "copy.bvh", motion)
    again = read_bvh(tmp_path / "copy.bvh")
    assert np.allclose(forward_kinematics(again)[0], forward_kinematics(motion)[0], atol=1e-5)
    assert again.skeleton.channels == motion.skeleton.channels

    other = [["Zrotation", "Yposition", "Xrotation", "Xposition", "Yrotation", "Zposition"],
             ["Yrotation", "Xrotation", "Zrotation"], ["Xposition", "Zrotation", "Yrotation", "Xrotation"]]
    write_bvh(tmp_path / "other.bvh", motion, channels=other)
    third = read_bvh(tmp_path / "other.bvh")
    assert third.skeleton.channels == other
    assert np.allclose(forward_kinematics(third)[0], forward_kinematics(motion)[0], atol=1e-5)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_skeleton_without_channels_gets_position_channels_where_joints_move(bandai_dir, tmp_path):
    motion = read_bvh(bandai_dir / BANDAI_WALK)
    decoded = features_to_motion(motion_to_features(motion), model_skeleton(motion), motion.fps)
    decoded.skeleton.channels = []  # as when the skeleton comes from a generated .npz
    write_bvh(tmp_path / "generated.bvh", decoded)
    reread = read_bvh(tmp_path / "generated.bvh")
    assert len(reread.skeleton.channels[1]) == 6 and len(reread.skeleton.channels[2]) == 3  # Hips moves, Spine not
    assert np.abs(forward_kinematics(reread)[0] - forward_kinematics(decoded)[0]).max() < 1e-3


def test_write_refuses_layouts_that_would_lose_motion(tmp_path):
    motion = read_bvh(write_text(tmp_path, SMALL_BVH))
    with pytest.raises(BVHError, match="Leg"):  # Leg translates along X every frame
        write_bvh(tmp_path / "lossy.bvh", motion, channels=motion.skeleton.channels[:2] + [["Yrotation"]])
    with pytest.raises(BVHError):
        write_bvh(tmp_path / "lossy.bvh", motion, channels=[["Bogus"], [], []])
    assert not (tmp_path / "lossy.bvh").exists()


def test_euler_conversion_matches_scipy_for_any_order():
    angles = np.random.default_rng(0).uniform(-170, 170, size=(50, 3))
    for order in ("ZXY", "ZYX", "XYZ", "YZX"):
        expected = Rotation.from_euler(order, angles, degrees=True)
        got = Rotation.from_quat(np.roll(euler_to_quat(angles, order), -1, axis=-1))
        assert np.allclose((expected.inv() * got).magnitude(), 0, atol=1e-9)
        back = quat_to_euler(euler_to_quat(angles, order), order)
        regot = Rotation.from_quat(np.roll(euler_to_quat(back, order), -1, axis=-1))
        assert np.allclose((expected.inv() * regot).magnitude(), 0, atol=1e-9)


def replace_line(text: str, number: int, new: str) -> str:
    lines = text.split("\n")
    lines[number - 1] = new
    return "\n".join(lines)


MALFORMED = {
    "truncated file": ("\n".join(SMALL_BVH.split("\n")[:25]), 25, "3 frames"),
    "truncated hierarchy": ("\n".join(SMALL_BVH.split("\n")[:12]), 12, "ends"),
    "bad number in frame": (replace_line(SMALL_BVH, 25, "2 91 3 11 21 31 6 7 8 4x6 13"), 25, "'4x6'"),
    "bad offset number": (replace_line(SMALL_BVH, 8, "    OFFSET 0 ten 0"), 8, "'ten'"),
    "missing MOTION": (SMALL_BVH.split("MOTION")[0], 20, "MOTION"),
    "too few values": (replace_line(SMALL_BVH, 26, "3 92 4 12 22 32 7 8 9 47"), 26, "10 values"),
    "channel count too high": (replace_line(SMALL_BVH, 18, "    CHANNELS 3 Yrotation Xposition"), 19, "'}'"),
    "unknown channel": (replace_line(SMALL_BVH, 9, "    CHANNELS 3 Zrotation Wrotation Yrotation"), 9, "Wrotation"),
    "bad frame count": (replace_line(SMALL_BVH, 22, "Frames: three"), 22, "three"),
    "zero frame time": (replace_line(SMALL_BVH, 23, "Frame Time: 0"), 23, "frame time"),
    "extra frame": (SMALL_BVH + "4 93 5 13 23 33 8 9 10 48 15\n", 27, "more frame lines"),
    "nan value": (replace_line(SMALL_BVH, 24, "1 90 2 10 20 30 5 6 7 nan 12"), 24, "finite"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_bvh_raises_bvherror_naming_file_and_line(case, tmp_path):
    text, line, fragment = MALFORMED[case]
    path = write_text(tmp_path, text, name=f"broken_{re.sub(r'[^a-z]+', '_', case)}.bvh")
    with pytest.raises(BVHError) as caught:
        read_bvh(path)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert str(path) in message and f"line {line}:" in message and fragment in message, message


def test_unreadable_file_is_a_bvherror(tmp_path):
    with pytest.raises(BVHError, match="missing.bvh"):
        read_bvh(tmp_path / "missing.bvh")
    os.mkdir(tmp_path / "folder.bvh")
    with pytest.raises(BVHError):
        read_bvh(tmp_path / "folder.bvh")


def test_smoothing_removes_frame_noise_and_keeps_strokes_in_place():
    fps, frames = 30.0, 300
    t = np.arange(frames) / fps
    stroke = np.sin(2 * np.pi * 1.5 * t)  # a gesture rhythm
    noise = 0.3 * np.sin(2 * np.pi * 13.0 * t)  # frame-to-frame jitter
    features = np.stack([stroke + noise, 2.0 * stroke], axis=1).astype(np.float32)
    smoothed = smooth_features(features, fps, 8.0)
    assert smoothed.shape == features.shape and smoothed.dtype == np.float32
    inner = slice(30, -30)
    assert np.abs(smoothed[inner, 0] - stroke[inner]).max() < 0.05  # the jitter is gone ...
    assert np.abs(smoothed[inner, 1] - 2.0 * stroke[inner]).max() < 0.05  # ... the stroke keeps its size
    lag = np.argmax(np.correlate(smoothed[:, 1], 2.0 * stroke, "full")) - (frames - 1)
    assert lag == 0  # zero phase: strokes stay on the audio


def test_smoothing_off_or_impossible_leaves_the_features_alone():
    features = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    for cutoff in (0.0, 15.0, 40.0):  # off, at and above the Nyquist frequency of 30 fps
        assert np.array_equal(smooth_features(features, 30.0, cutoff), features)
    for frames in (1, 2, 5):  # shorter than the filter's usual padding
        short = features[:frames]
        out = smooth_features(short, 30.0, 8.0)
        assert out.shape == short.shape and np.all(np.isfinite(out))


def test_the_arms_are_each_wrist_its_fingers_and_its_chain_up_to_the_chest(zeggs_bvh):
    from ohgesture.core.motion.features import model_skeleton
    from ohgesture.core.motion.measures import arm_joints

    skeleton = model_skeleton(read_bvh(zeggs_bvh))
    names = [skeleton.joint_names[j] for j in arm_joints(skeleton)]
    for side in ("Left", "Right"):
        assert {f"{side}Shoulder", f"{side}Arm", f"{side}ForeArm", f"{side}Hand", f"{side}HandIndex3"} <= set(names)
    assert not [n for n in names if any(k in n for k in ("Spine", "Neck", "Head", "Leg", "Foot", "Hips"))], names


def test_a_take_is_smoothed_lower_in_the_trunk_and_legs_than_in_the_arms():
    from types import SimpleNamespace

    from ohgesture.core.generation.finishing import TRUNK_SMOOTHING_SHARE, smooth_take
    from ohgesture.core.motion.features import FeatureLayout
    from ohgesture.core.motion.skeleton import Skeleton

    names = ["Hips", "Spine", "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand", "LeftHandIndex1",
             "RightShoulder", "RightArm", "RightForeArm", "RightHand", "Neck", "LeftUpLeg"]
    parents = [-1, 0, 1, 2, 3, 4, 5, 1, 7, 8, 9, 1, 0]
    skeleton = Skeleton("body", names, parents, np.zeros((len(names), 3)))
    layout = FeatureLayout.for_skeleton(skeleton)
    lm = SimpleNamespace(skeleton=skeleton, layout=layout, fps=30.0)
    t = np.arange(600) / 30.0
    wave = np.sin(2 * np.pi * 2.5 * t)  # 2.5 Hz: a beat gesture's rhythm, above the trunk's cutoff
    smoothed = smooth_take(lm, np.repeat(wave[:, None], layout.D, axis=1), 3.5)
    kept = np.abs(smoothed[60:-60]).max(axis=0)
    arm = [c for j in (3, 6, 10) for c in range(layout.joint_slice(j).start, layout.joint_slice(j).stop)]
    trunk = [0, 2, *range(layout.joint_slice(1).start, layout.joint_slice(1).stop),
             *range(layout.joint_slice(12).start, layout.joint_slice(12).stop)]
    assert kept[arm].min() > 0.6 and kept[trunk].max() < 0.3, (kept[arm].min(), kept[trunk].max())
    assert 0 < TRUNK_SMOOTHING_SHARE < 1
