"""Keyframe writing speed: 75 bones x 1800 frames (60 s at 30 fps) into Blender.

    .venv/bin/python benchmarks/bench_keyframes.py

Prints the pose maths (numpy) and the Blender writing (fcurves.new + keyframe_points.add
+ foreach_set) separately, best of 5 runs.
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)


def skeleton_75():
    """A ZEGGS-sized tree (75 joints): spine and head, two arms with five 5-joint fingers, two legs."""
    names, parents, offsets = ["Hips"], [-1], [[0.0, 95.0, 0.0]]

    def add(name, parent, offset):
        names.append(name)
        parents.append(parent)
        offsets.append(offset)
        return len(names) - 1

    spine = 0
    for i in range(4):
        spine = add(f"Spine{i}", spine, [0.0, 11.0, 0.0])
    neck = add("Neck", spine, [0.0, 15.0, 0.0])
    head = add("Head", add("Neck1", neck, [0.0, 5.0, 0.0]), [0.0, 6.0, 0.0])
    add("HeadEnd", head, [0.0, 12.0, 0.0])
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        arm = add(f"{side}Shoulder", spine, [sx * 4.0, 12.0, 0.0])
        arm = add(f"{side}Arm", arm, [sx * 14.0, 0.0, 0.0])
        arm = add(f"{side}ForeArm", arm, [sx * 27.0, 0.0, 0.0])
        hand = add(f"{side}Hand", arm, [sx * 25.0, 0.0, 0.0])
        for f, finger in enumerate(("Thumb", "Index", "Middle", "Ring", "Pinky")):
            j = hand
            for k in range(5):
                j = add(f"{side}Hand{finger}{k + 1}", j, [sx * 3.0, 0.0, (f - 2) * 1.5 if k == 0 else 0.0])
        leg = add(f"{side}UpLeg", 0, [sx * 9.0, -5.0, 0.0])
        leg = add(f"{side}Leg", leg, [0.0, -42.0, 0.0])
        add(f"{side}ToeBase", add(f"{side}Foot", leg, [0.0, -42.0, 0.0]), [0.0, -5.0, 12.0])
    return names, np.array(parents), np.array(offsets)


def main() -> None:
    import bpy

    from ohgesture.ohgesture_addon.armature import create_matching_armature
    from ohgesture.ohgesture_addon.keyframes import pose_channels, write_channels

    names, parents, offsets = skeleton_75()
    frames, fps = 1800, 30.0
    rng = np.random.default_rng(0)
    axis = rng.normal(size=(frames, len(names), 3)) * 0.3
    angle = np.linalg.norm(axis, axis=-1, keepdims=True)
    rotations = np.concatenate([np.cos(angle / 2), np.sin(angle / 2) * axis / np.maximum(angle, 1e-9)], -1)
    motion = dict(rotations=rotations.astype(np.float32), root_translation=np.tile(offsets[0], (frames, 1)),
                  joint_names=np.array(names), parents=parents.astype(np.int32), offsets=offsets.astype(np.float32),
                  root_joint=np.int32(0), fps=np.float64(fps))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = create_matching_armature(bpy.context, dict(joint_names=names, parents=parents.tolist(),
                                                     offsets=offsets.tolist(), root_joint=0))
    maths, writing = [], []
    for run in range(5):
        t0 = time.perf_counter()
        channels = pose_channels(arm, motion, scene_fps=fps)
        t1 = time.perf_counter()
        write_channels(arm, channels, frame_start=1, action_name=f"bench{run}")
        t2 = time.perf_counter()
        maths.append(t1 - t0)
        writing.append(t2 - t1)
    print(f"keyframes: {len(names)} bones x {frames} frames, bpy {bpy.app.version_string}")
    print(f"  pose maths (numpy):        {min(maths):.3f} s")
    print(f"  Blender F-curve writing:   {min(writing):.3f} s")
    print(f"  total:                     {min(m + w for m, w in zip(maths, writing)):.3f} s")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
