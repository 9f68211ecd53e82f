"""``make demo``: the main job on the shipped default model.

Generates gestures for the bundled speech sample with three emotions and writes
BVH files (and the add-on's .npz) under ``out/``. Without the default model it says
so in one sentence and exits 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .generate import WARM_UP
from .main import main as cli
from ..generation.settings import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "speech_en.wav"


def main() -> int:
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    if not DEFAULT_MODEL.exists():
        print(f"error: the default model {DEFAULT_MODEL} is missing; reinstall ohgesture or pass a model to "
              "ohgesture generate --model.", file=sys.stderr)
        return 1
    model = DEFAULT_MODEL
    from ..model.checkpoint import read_metadata

    labels = read_metadata(model)["emotions"]
    wanted = [e for e in ("neutral", "happy", "angry", "sad", "calm", "lively") if e in labels][:3]
    takes = [(f"demo_{emotion}.bvh", emotion, []) for emotion in wanted]
    if len(wanted) >= 2:
        takes.append(("demo_blend.npz", wanted[0], ["--blend", f"{wanted[1]}:0.5"]))
    print(f"{len(takes)} takes of {SAMPLE.relative_to(ROOT)} into out/; the first one also spends time "
          f"{WARM_UP}.", file=sys.stderr)
    for name, emotion, extra in takes:  # the CLI's own line names each file it wrote
        if extra:
            print(f"{name}: {wanted[0]} and {wanted[1]}, half each", file=sys.stderr)
        code = cli(["generate", str(SAMPLE), "--out", str(out / name), "--model", str(model), "--emotion", emotion,
                    *extra, "--overwrite"])
        if code:
            return code
    print("Open the BVH files in Blender (File > Import > Motion Capture) or any BVH viewer.")
    tool = Path(sys.executable).parent / "ohgesture"
    if tool.exists():  # make demo's venv is not on PATH
        shown = os.path.relpath(tool) if tool.is_relative_to(Path.cwd()) else str(tool)
        print(f"The command-line tool: {shown} --help (or `source {Path(shown).parent}/activate` first).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
