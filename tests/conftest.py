"""Load the repository root as the package ``ohgesture``, whatever the checkout
folder is called, and give tests the shared data paths."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from support import BANDAI_DIR, HAS_TORCH, ROOT, SPEECH_DIR, TINY_MODEL_CONFIG, TORCH_PYTHON, ZEGGS_DIR, run_cli

if "ohgesture" not in sys.modules:
    _spec = importlib.util.spec_from_file_location(
        "ohgesture", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["ohgesture"] = _module
    _spec.loader.exec_module(_module)

# Tiny test models run fastest single-threaded, and CI shares 2 cores with the test runner itself.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_torch: imports torch in the test process (skipped in a venv "
                                       "without torch, e.g. the Blender 5.2 pass; the 4.5 pass runs it)")
    if not HAS_TORCH and not os.environ.get("OHGESTURE_PYTHON"):
        raise pytest.UsageError(f"{sys.executable} has no torch: set OHGESTURE_PYTHON to a Python with torch "
                                "(the generator's interpreter), e.g. OHGESTURE_PYTHON=.venv/bin/python")


def pytest_report_header(config):
    return f"generator Python: {TORCH_PYTHON}"


def pytest_collection_modifyitems(config, items):
    if HAS_TORCH:
        return
    skip = pytest.mark.skip(reason="imports torch in-process; this Python has none (the 4.5 pass runs it)")
    for item in items:
        if item.get_closest_marker("requires_torch"):
            item.add_marker(skip)



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


@pytest.fixture(scope="session")
def synthetic_pairs(tmp_path_factory) -> Path:
    from synthetic import write_pairs_folder

    folder = tmp_path_factory.mktemp("synthetic_pairs")
    write_pairs_folder(folder, takes_per_label=3, seconds=10.0)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, synthetic_pairs) -> Path:
    """A tiny model trained for a few hundred steps on generated data by the real CLI."""
    out = tmp_path_factory.mktemp("tiny_model") / "tiny.safetensors"
    run_cli("train", "--data", synthetic_pairs, "--format", "pairs", "--out", out, "--steps", 300,
            "--batch", 16, "--lr", 1e-3, "--model-config", TINY_MODEL_CONFIG, "--eval-every", 100,
            "--checkpoint-every", 300, "--quiet", timeout=900)
    return out


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """5 s of generated speech-like audio (ours, always present)."""
    import soundfile as sf

    from synthetic import make_synthetic_take

    take = make_synthetic_take(5.0, label="lively", seed=999)
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, take.waveform, take.sample_rate)
    return path
