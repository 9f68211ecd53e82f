"""What the tests share besides fixtures: paths, the tiny model's size, the real CLI."""

from __future__ import annotations

import functools
import importlib.util
import os
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
# Where the generator (torch) runs: this Python, or $OHGESTURE_PYTHON, which the add-on reads too
# (common.python_interpreter). Blender 5.2's bpy module needs Python 3.13 and its venv has no
# torch: its pass sets OHGESTURE_PYTHON to the 3.11 venv's python.
HAS_TORCH = importlib.util.find_spec("torch") is not None
if os.environ.get("OHGESTURE_PYTHON"):  # absolute (not resolved: a venv's python is a symlink), for any cwd
    os.environ["OHGESTURE_PYTHON"] = os.path.abspath(os.environ["OHGESTURE_PYTHON"])
TORCH_PYTHON = os.environ.get("OHGESTURE_PYTHON") or sys.executable
TINY_MODEL_CONFIG = '{"latent": 64, "layers": 1, "heads": 2, "ff": 128, "window": 40, "n_seed": 8, "local_window": 8}'


def run_cli(*args, timeout=600, check=True, **kwargs):
    """Run the real ``ohgesture`` console script; returns the CompletedProcess."""
    exe = VENV_BIN / "ohgesture"
    if TORCH_PYTHON != sys.executable:  # the checkout's own code, whatever that venv has installed
        cmd = [TORCH_PYTHON, str(ENTRY), *map(str, args)]
    elif exe.exists():
        cmd = [str(exe), *map(str, args)]
    else:
        cmd = [sys.executable, "-m", "ohgesture.core.cli.main", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@functools.cache
def generator_has_cuda() -> bool:
    """Whether the generator's torch sees a CUDA device (asked in its own process where that
    is another Python)."""
    if TORCH_PYTHON == sys.executable:
        import torch

        return torch.cuda.is_available()
    probe = subprocess.run([TORCH_PYTHON, "-c", "import torch; print(torch.cuda.is_available())"],
                           capture_output=True, text=True, timeout=120)
    return probe.stdout.strip() == "True"


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder no file can be created in, even by root (who ignores permission bits): a
    read-only folder under tmp_path, else /proc."""
    from ohgesture.core.atomic import folder_writable

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    return locked if not folder_writable(locked) else Path("/proc")


CHECKSUMS_FILE = ROOT / "tests" / "core" / "generation_checksums.json"


def check_checksums(got: dict) -> None:
    """The shipped model's motion, bit for bit (sha256 per output, recorded on this project's
    2-core CPU machine with torch CPU; another platform's torch may round differently). When the
    shipped model or the finishing changes on purpose, record them again with
    ``OHGESTURE_RECORD_CHECKSUMS=1`` on the two tests that call this (test_settings, test_worker)."""
    import json

    recorded = json.loads(CHECKSUMS_FILE.read_text())
    if os.environ.get("OHGESTURE_RECORD_CHECKSUMS") == "1":
        recorded.update(got)
        CHECKSUMS_FILE.write_text(json.dumps(dict(sorted(recorded.items())), indent=1) + "\n")
        return
    assert got == {key: recorded[key] for key in got}
