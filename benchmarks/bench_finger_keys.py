"""What the fingers cost when keying a take: the real ZEGGS capture (68.8 s, 2065 frames)
onto a rig Rigify generates from Blender's human metarig and onto a Mixamo-named rig with
finger bones, body only (the shipped model's 24 joints) against all 75 joints.

    .venv/bin/python benchmarks/bench_finger_keys.py

Prints ``retarget.apply_motion`` (maths and F-curve writing), best of 3 runs each. Needs
../shared/data (the ZEGGS take).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "addon"))
import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)

ZEGGS = ROOT.parent / "shared" / "data" / "zeggs-sample" / "067_Speech_2_x_1_0.bvh"


def best_of(runs: int, make_rig, motion) -> float:
    from ohgesture.ohgesture_addon import retarget

    times = []
    for _ in range(runs):
        rig = make_rig()
        start = time.perf_counter()
        retarget.apply_motion(rig, motion, frame_start=1, scene_fps=30.0, action_name="bench")
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    if not ZEGGS.is_file():
        sys.exit(f"{ZEGGS} is missing: this benchmark needs ../shared/data.")
    import bpy

    from ohgesture.core.motion.bvh import read_bvh
    from ohgesture.core.motion.motion_file import motion_arrays
    from ohgesture.core.training.speech_takes import body_joints
    from test_retarget import mixamo_finger_bones, mixamo_rig
    from test_rigify import RIG_SCRIPT

    take = read_bvh(ZEGGS)
    motions = {"body only (24 joints)": motion_arrays(body_joints(take), 0, {}),
               "with fingers (75 joints)": motion_arrays(take, 0, {})}
    with tempfile.TemporaryDirectory() as folder:
        blend = os.path.join(folder, "rigify.blend")
        subprocess.run([sys.executable, "-c", RIG_SCRIPT, blend], check=True, capture_output=True, timeout=600)

        def rigify_rig():
            bpy.ops.wm.open_mainfile(filepath=blend)
            return bpy.data.objects["rig"]

        def mixamo():
            bpy.ops.wm.read_factory_settings(use_empty=True)
            return mixamo_rig(extra=mixamo_finger_bones())

        for rig_label, make_rig in (("Rigify", rigify_rig), ("Mixamo-named", mixamo)):
            for label, motion in motions.items():
                seconds = best_of(3, make_rig, motion)
                print(f"{rig_label} rig, {label}, {take.num_frames} frames: {seconds:.2f} s", flush=True)


if __name__ == "__main__":
    main()
