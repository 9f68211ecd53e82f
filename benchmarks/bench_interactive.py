"""The interactive loop with the warm generator: what an animator pressing Generate, Re-roll
and Regenerate Selection waits for, in-process with the bpy module and the add-on registered.

    python benchmarks/bench_interactive.py [--speech WAV] [--requests 100] [--repeats 3]

The model's own armature, the shipped model, Balanced quality, strips of 10 s and 60 s cut
from ../shared/data/speech/2_scott_0_55_55.wav (else samples/speech_en_long.flac; a recording
shorter than a strip is played again after itself). Prints, per strip: the first Generate (a cold
worker: torch, audio stack and model loading), the median of later Generates with a new
seed, the median of Regenerate Selection of 4 s, each from the press to the keys on the rig;
then the worker's resident memory over ``--requests`` Generates of the 10-s strip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "addon"))
    import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)

SPEECH = [ROOT.parent / "shared" / "data" / "speech" / "2_scott_0_55_55.wav", ROOT / "samples" / "speech_en_long.flac"]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _generate(session_module, context, request=None) -> tuple[float, object]:
    started = time.perf_counter()
    session = session_module.start_session(context, request=request)
    result = session.run_blocking(lambda kind, text: None, timeout=600)
    seconds = time.perf_counter() - started
    if result != {"FINISHED"}:
        raise SystemExit(f"generation failed: {session.error}")
    return seconds, session


def _strip_scene(path: Path, seconds: float, folder: Path):
    import bpy
    import soundfile as sf

    from blender_util import add_sound_strip, reset_blender

    import numpy as np

    audio, rate = sf.read(str(path), always_2d=False)
    if len(audio) < seconds * rate:  # the recording again after itself, as a longer speech
        audio = np.concatenate([audio] * int(np.ceil(seconds * rate / len(audio))))
    clip = folder / f"speech_{seconds:g}s.wav"
    sf.write(str(clip), audio[: int(seconds * rate)], rate)
    scene = reset_blender()
    scene.render.fps = 30
    add_sound_strip(scene, clip, name="speech", frame_start=1)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    settings = scene.ohgesture
    settings.source, settings.sound_strip, settings.quality = "STRIP", "speech", "BALANCED"
    return scene


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech", help="a speech recording (default: the shared BEAT recording, else the sample)")
    parser.add_argument("--requests", type=int, default=100, help="Generates for the memory figure")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    speech = Path(args.speech) if args.speech else next((p for p in SPEECH if p.is_file()), None)
    if speech is None or not speech.is_file():
        print("no speech recording found; skipped", file=sys.stderr)
        return 0
    os.environ.setdefault("OHGESTURE_TAKES_DIR", tempfile.mkdtemp(prefix="ohg_bench_takes_"))
    import bpy

    import ohgesture.ohgesture_addon as addon
    from ohgesture.ohgesture_addon import job, session as session_module

    addon.register()
    folder = Path(tempfile.mkdtemp(prefix="ohg_bench_"))
    print(f"speech: {speech.name}; {os.cpu_count()} CPUs; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}")
    print("| strip | first Generate | later Generate (median) | Regenerate Selection 4 s (median) |")
    print("|---|---|---|---|")
    try:
        for seconds in (10.0, 60.0):
            scene = _strip_scene(speech, seconds, folder)
            job.stop_worker()  # cold: the first Generate of a Blender session
            first, _ = _generate(session_module, bpy.context)
            later = []
            for seed in range(1, args.repeats + 1):
                scene.ohgesture.seed = seed
                later.append(_generate(session_module, bpy.context)[0])
            arm = scene.ohgesture.armature
            action = arm.animation_data.action
            placement = session_module.panel_placement(scene.ohgesture)
            regen = []
            for k in range(args.repeats):
                scene.ohgesture.seed = 100 + k
                request = session_module.regenerate_request(bpy.context, placement, action, (91, 210))
                regen.append(_generate(session_module, bpy.context, request)[0])
            print(f"| {seconds:g} s | {first:.2f} s | {statistics.median(later):.2f} s | "
                  f"{statistics.median(regen):.2f} s |", flush=True)
        scene = _strip_scene(speech, 10.0, folder)
        rss = []
        for seed in range(args.requests):
            scene.ohgesture.seed = seed
            _, session = _generate(session_module, bpy.context)
            if seed in (0, 9, args.requests // 2 - 1, args.requests - 1):
                rss.append((seed + 1, _rss_mb(session.job.pid)))
            for action in [a for a in bpy.data.actions if a.users == 0 or a.use_fake_user]:
                bpy.data.actions.remove(action)  # keep Blender's side small; the worker is measured
        print("worker memory (resident) after N Generates of the 10-s strip: "
              + ", ".join(f"{n}: {mb:.0f} MB" for n, mb in rss))
    finally:
        addon.unregister()
    return 0


if __name__ == "__main__":
    sys.exit(main())
