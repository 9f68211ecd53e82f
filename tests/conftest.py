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

# Tiny test models run fastest single-threaded, and CI shares 2 cores with the test runner itself.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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
def bandai_subset(bandai_dir, tmp_path):
    """A function: names of dataset-1 clips -> a folder holding only those (linked), laid out
    like the Bandai dataset (data/*.bvh + *.json, cfg/)."""

    def make(names: list[str]) -> Path:
        subset = tmp_path / "bandai" / "Bandai-Namco-Research-Motiondataset-1"
        (subset / "data").mkdir(parents=True)
        source = bandai_dir / "Bandai-Namco-Research-Motiondataset-1"
        (subset / "cfg").symlink_to(source / "cfg")
        for name in names:
            for suffix in (".bvh", ".json"):
                (subset / "data" / f"{name}{suffix}").symlink_to(source / "data" / f"{name}{suffix}")
        return tmp_path / "bandai"

    return make


@pytest.fixture
def speech_wavs() -> list[Path]:
    _require(SPEECH_DIR)
    return sorted(SPEECH_DIR.glob("*.wav"))


VENV_BIN = Path(sys.executable).parent
TINY_MODEL_CONFIG = '{"latent": 64, "layers": 1, "heads": 2, "ff": 128, "window": 40, "n_seed": 8, "local_window": 8}'


def run_cli(*args, timeout=600, check=True, **kwargs):
    """Run the real ``ohgesture`` console script; returns the CompletedProcess."""
    import subprocess

    exe = VENV_BIN / "ohgesture"
    cmd = [str(exe), *map(str, args)] if exe.exists() else [sys.executable, "-m", "ohgesture.core.cli.main", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def synthetic_pairs(tmp_path_factory) -> Path:
    from ohgesture.core.training.synthetic import write_pairs_folder

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

    from ohgesture.core.training.synthetic import make_synthetic_take

    take = make_synthetic_take(5.0, label="lively", seed=999)
    path = tmp_path_factory.mktemp("audio") / "speech.wav"
    sf.write(path, take.waveform, take.sample_rate)
    return path
