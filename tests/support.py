"""What the tests share besides fixtures: paths, the tiny model's size, the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
ZEGGS_DIR = SHARED_DATA / "zeggs-sample"
BANDAI_DIR = SHARED_DATA / "bandai-namco"
SPEECH_DIR = SHARED_DATA / "speech"
SAMPLES = ROOT / "samples"
ENTRY = ROOT / "core" / "cli" / "_entry.py"

VENV_BIN = Path(sys.executable).parent
TINY_MODEL_CONFIG = '{"latent": 64, "layers": 1, "heads": 2, "ff": 128, "window": 40, "n_seed": 8, "local_window": 8}'


def run_cli(*args, timeout=600, check=True, **kwargs):
    """Run the real ``ohgesture`` console script; returns the CompletedProcess."""
    exe = VENV_BIN / "ohgesture"
    cmd = [str(exe), *map(str, args)] if exe.exists() else [sys.executable, "-m", "ohgesture.core.cli.main", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc
