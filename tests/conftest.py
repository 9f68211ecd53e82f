"""Load the repository root as the package ``ohgesture``, whatever the checkout
folder is called, and give tests the shared data paths."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

if "ohgesture" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "ohgesture", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["ohgesture"] = _module
    _spec.loader.exec_module(_module)

os.environ.setdefault("OMP_NUM_THREADS", "2")

ZEGGS_DIR = SHARED_DATA / "zeggs-sample"
BANDAI_DIR = SHARED_DATA / "bandai-namco"
SPEECH_DIR = SHARED_DATA / "speech"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (../shared/data is absent in a fresh clone)")
    return path


@pytest.fixture
def zeggs_bvh() -> Path:
    return _require(ZEGGS_DIR / "067_Speech_2_x_1_0.bvh")


@pytest.fixture
def zeggs_wav() -> Path:
    return _require(ZEGGS_DIR / "067_Speech_2_x_1_0.wav")


@pytest.fixture
def bandai_dir() -> Path:
    return _require(BANDAI_DIR)


@pytest.fixture
def speech_wavs() -> list[Path]:
    _require(SPEECH_DIR)
    return sorted(SPEECH_DIR.glob("*.wav"))
