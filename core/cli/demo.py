"""``make demo``: the main job on the shipped default model.

Generates gestures for the bundled speech sample with three emotions and writes
BVH files (and the add-on's .npz) under ``out/``. If no default model is installed
(a source checkout before the model was trained), it says so and trains a tiny
model on generated data for a few seconds instead.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from .generate import WARM_UP
from .main import main as cli
from ..generation.settings import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "speech_en.wav"


def _fallback_model(workdir: Path) -> Path:
    from ..training.synthetic import write_pairs_folder

    print("No default model is installed: training a tiny demonstration model on generated data "
          "(about a minute; its motion is NOT representative).", file=sys.stderr)
    data = workdir / "synthetic"
    write_pairs_folder(data, takes_per_label=2, seconds=8.0)
    model = workdir / "tiny.safetensors"
    cli(["train", "--data", str(data), "--format", "pairs", "--out", str(model), "--steps", "150", "--batch", "16",
         "--lr", "1e-3", "--quiet", "--model-config",
         '{"latent": 64, "layers": 1, "heads": 2, "ff": 128, "window": 40, "n_seed": 8, "local_window": 8}'])
    return model


def main() -> int:
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = DEFAULT_MODEL if DEFAULT_MODEL.exists() else _fallback_model(Path(tmp))
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
