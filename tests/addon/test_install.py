"""Install Dependencies: the commands built for each platform and device (pure functions),
the device the panel announces, Blender's "Allow Online Access", and a failed step named with
the last line of pip's error. The environment is created for real (``python -m venv``); the
installs themselves need the network, so a stand-in pip command that fails like pip takes
their place."""

from __future__ import annotations

import sys
from pathlib import Path

import bpy
import pytest

from ohgesture.ohgesture_addon import common, install

TORCH = "torch==2.13.0"
CUDA = [TORCH, "--index-url", "https://download.pytorch.org/whl/cu126"]
CPU = [TORCH, "--index-url", "https://download.pytorch.org/whl/cpu"]


@pytest.mark.parametrize("device, platform, nvidia_smi, torch, build", [
    ("CUDA", "win32", None, CUDA, "CUDA"),  # PyPI's Windows torch is CPU-only: the CUDA index, always
    ("CUDA", "linux", "/usr/bin/nvidia-smi", CUDA, "CUDA"),
    ("AUTO", "win32", r"C:\Windows\System32\nvidia-smi.exe", CUDA, "CUDA"),
    ("AUTO", "linux", "/usr/bin/nvidia-smi", CUDA, "CUDA"),
    ("AUTO", "win32", None, CPU, "CPU"),
    ("AUTO", "linux", None, CPU, "CPU"),
    ("CPU", "linux", "/usr/bin/nvidia-smi", CPU, "CPU"),
    ("CPU", "win32", None, CPU, "CPU"),
    ("AUTO", "darwin", None, [TORCH], "CPU"),  # macOS: PyPI's build (no CUDA there)
    ("CUDA", "darwin", None, [TORCH], "CPU"),
])
def test_install_commands_for_each_platform_and_device(tmp_path, device, platform, nvidia_smi, torch, build):
    venv = tmp_path / "venv"
    python = str(venv / ("Scripts/python.exe" if platform == "win32" else "bin/python"))
    steps = install.install_steps(device, venv, venv_exists=False, platform=platform, base_python="/opt/py/python3",
                                  nvidia_smi=nvidia_smi)
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    assert steps == [("Creating the Python environment", ["/opt/py/python3", "-m", "venv", str(venv)]),
                     (f"Installing PyTorch ({build} build)", pip + torch),
                     ("Installing audio and model libraries", pip + install.DEPENDENCIES)]
    again = install.install_steps(device, venv, venv_exists=True, platform=platform, nvidia_smi=nvidia_smi)
    assert again == steps[1:]  # an existing environment is kept


def test_an_nvidia_gpu_is_found_from_the_nvidia_smi_probe():
    assert install.nvidia_gpu_present("/usr/bin/nvidia-smi") and not install.nvidia_gpu_present(None)


@pytest.mark.parametrize("device, platform, nvidia_smi, torch, sentence", [
    ("CPU", "linux", "/usr/bin/nvidia-smi", "2.13.0+cu126", "Generation runs on the CPU."),
    ("AUTO", "linux", None, "2.13.0+cpu", "Generation runs on the CPU (no NVIDIA GPU found)."),
    ("AUTO", "darwin", None, "2.13.0", "Generation runs on the CPU (no NVIDIA GPU found)."),
    ("AUTO", "win32", "nvidia-smi.exe", "2.13.0+cu126", "Generation runs on the NVIDIA GPU (CUDA)."),
    ("AUTO", "linux", "/usr/bin/nvidia-smi", "2.13.0", "Generation runs on the NVIDIA GPU (CUDA)."),  # PyPI Linux
    ("CUDA", "linux", "/usr/bin/nvidia-smi", None, "Generation runs on the NVIDIA GPU (CUDA)."),
    ("AUTO", "win32", "nvidia-smi.exe", "2.13.0+cpu",
     "Generation runs on the CPU: the installed PyTorch (2.13.0+cpu) has no CUDA; run Install Dependencies again "
     "to use the NVIDIA GPU."),
    ("AUTO", "win32", "nvidia-smi.exe", "2.13.0",  # PyPI's Windows build has no CUDA
     "Generation runs on the CPU: the installed PyTorch (2.13.0) has no CUDA; run Install Dependencies again "
     "to use the NVIDIA GPU."),
    ("CUDA", "linux", None, "2.13.0+cu126",
     "Device is CUDA but no NVIDIA GPU was found (no nvidia-smi on PATH): choose Auto or CPU."),
])
def test_the_panel_says_which_device_generation_runs_on(device, platform, nvidia_smi, torch, sentence):
    assert install.generation_device(device, platform, nvidia_smi, torch) == sentence


def test_the_installed_torch_is_read_without_importing_it(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    assert install.installed_torch(str(venv / "bin" / "python")) is None
    (venv / "lib" / "python3.11" / "site-packages" / "torch-2.13.0+cu126.dist-info").mkdir(parents=True)
    assert install.installed_torch(str(venv / "bin" / "python")) == "2.13.0+cu126"
    assert install.installed_torch(str(tmp_path / "missing" / "python")) is None


def test_the_panel_shows_the_device_sentence(registered):
    from test_operators import _RecordingLayout
    from types import SimpleNamespace

    from ohgesture.ohgesture_addon import panel

    calls = []
    panel.OHGESTURE_PT_main.draw(SimpleNamespace(layout=_RecordingLayout(calls)), bpy.context)
    shown = {value for _, value in calls}
    assert install.device_sentence(bpy.context) in shown
    assert install.device_sentence(bpy.context).startswith(("Generation runs on", "Device is CUDA"))


@pytest.fixture
def online(registered, tmp_path, monkeypatch):
    """Online access allowed (restored afterwards), the managed environment under tmp_path."""
    system = bpy.context.preferences.system
    before = system.use_online_access
    monkeypatch.setattr(common, "managed_venv_dir", lambda: tmp_path / "ohgesture" / "venv")
    system.use_online_access = True
    yield tmp_path / "ohgesture" / "venv"
    system.use_online_access = before


def test_with_online_access_off_install_says_how_to_allow_it_or_use_a_python(registered, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "managed_venv_dir", lambda: tmp_path / "ohgesture" / "venv")
    bpy.context.preferences.system.use_online_access = False
    assert not bpy.app.online_access
    with pytest.raises(RuntimeError) as info:
        bpy.ops.ohgesture.install_dependencies()
    message = str(info.value).strip()
    assert "Allow Online Access" in message and "Python Interpreter" in message and len(message.splitlines()) == 1
    assert not (tmp_path / "ohgesture").exists()


PIP_FAILS = ("import sys; print('Collecting torch==2.13.0'); "
             "print('ERROR: Could not find a version that satisfies the requirement torch==2.13.0 (from versions: "
             "none)', file=sys.stderr); print('ERROR: No matching distribution found for torch==2.13.0', "
             "file=sys.stderr); sys.exit(1)")


def test_a_failed_step_is_named_with_the_last_line_of_pips_error(online, monkeypatch):
    """The environment is made for real; the PyTorch step is a stand-in that fails like pip."""
    real_steps = install.install_steps

    def steps(*args, **kwargs):
        made = real_steps(*args, **kwargs)
        return [made[0], (made[1][0], [sys.executable, "-c", PIP_FAILS]), made[2]]
    monkeypatch.setattr(install, "install_steps", steps)
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/bin/nvidia-smi")  # Auto finds a GPU
    with pytest.raises(RuntimeError) as info:
        bpy.ops.ohgesture.install_dependencies()
    assert str(info.value).strip() == ("Error: Installing dependencies failed: Installing PyTorch (CUDA build) failed: "
                                       "No matching distribution found for torch==2.13.0")
    assert Path(install.venv_python(online)).exists()  # the environment was created before the failing step
