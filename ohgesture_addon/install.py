"""Install Dependencies: a private Python environment with torch and the audio libraries,
made by a chain of subprocesses (``job.ChainJob``) so Blender stays responsive."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import sys
import time
from pathlib import Path

import bpy

from . import common
from .job import FINISHED, RUNNING, ChainJob, venv_python

DEPENDENCIES = ["numpy<2", "scipy", "librosa", "soundfile", "safetensors", "tqdm"]
TORCH = "torch==2.13.0"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# PyTorch 2.13's stable CUDA builds are 12.6 and 13.0 (pytorch/pytorch RELEASE.md, PR #187075); 12.6 also runs
# on drivers too old for 13.0. On Windows PyPI has only the CPU build, so CUDA always comes from this index.
CUDA_INDEX = "https://download.pytorch.org/whl/cu126"
OFFLINE = ("Online access is off, so Install Dependencies cannot download anything: allow it in Preferences > "
           "System > Network > Allow Online Access, or set Python Interpreter in the OHGesture preferences to a "
           "Python that already has torch.")


def nvidia_gpu_present(nvidia_smi: str | None) -> bool:
    """Whether an NVIDIA GPU is there, from the probe ``shutil.which("nvidia-smi")``: the
    driver installs nvidia-smi on PATH on Windows and Linux."""
    return bool(nvidia_smi)


def torch_build(target_device: str, platform: str, nvidia_smi: str | None) -> str:
    """Which PyTorch build to install: "cuda" (CUDA chosen, or Auto with an NVIDIA GPU, on
    Windows and Linux), "default" (macOS: PyPI's build, there is no CUDA) or "cpu"."""
    if platform == "darwin":
        return "default"
    if target_device == "CUDA" or (target_device == "AUTO" and nvidia_gpu_present(nvidia_smi)):
        return "cuda"
    return "cpu"


def torch_requirement(build: str) -> list[str]:
    return {"cuda": [TORCH, "--index-url", CUDA_INDEX], "cpu": [TORCH, "--index-url", CPU_INDEX],
            "default": [TORCH]}[build]


def install_steps(target_device: str, venv_dir, *, venv_exists: bool, platform: str = sys.platform,
                  base_python: str = sys.executable, nvidia_smi: str | None = None) -> list[tuple[str, list[str]]]:
    """(description, command) of every step: create the environment (unless it exists)
    with ``base_python``, then install PyTorch (``torch_build``) and the other libraries."""
    python = venv_python(venv_dir, platform)
    steps = []
    if not venv_exists:
        steps.append(("Creating the Python environment", [base_python, "-m", "venv", str(venv_dir)]))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    build = torch_build(target_device, platform, nvidia_smi)
    steps.append((f"Installing PyTorch ({'CUDA' if build == 'cuda' else 'CPU'} build)", pip + torch_requirement(build)))
    steps.append(("Installing audio and model libraries", pip + DEPENDENCIES))
    return steps


def installed_torch(python: str) -> str | None:
    """The version of torch installed for ``python`` (e.g. "2.13.0+cu126"), read from its
    site-packages without importing it; None when it has none or it cannot be told."""
    if os.path.normcase(os.path.abspath(python)) == os.path.normcase(os.path.abspath(sys.executable)):
        try:
            return importlib.metadata.version("torch")
        except importlib.metadata.PackageNotFoundError:
            return None
    if not os.path.isfile(python):
        return None
    root = Path(python).absolute().parent.parent  # a venv's bin/python (Scripts\\python.exe); not resolved
    found = [*root.glob("lib/python3*/site-packages/torch-*.dist-info"), *root.glob("Lib/site-packages/torch-*.dist-info")]
    return sorted(found)[-1].name[len("torch-"):-len(".dist-info")] if found else None


def generation_device(target_device: str, platform: str, nvidia_smi: str | None, torch_version: str | None) -> str:
    """The sentence the panel shows: where generation will run (the CLI's "auto" takes CUDA
    when its torch sees a GPU, else the CPU)."""
    gpu = nvidia_gpu_present(nvidia_smi) and platform != "darwin"
    cuda_torch = torch_version is None or "+cu" in torch_version or (
        "+" not in torch_version and platform.startswith("linux"))  # PyPI's Linux build is the CUDA one
    if target_device == "CPU" or (target_device == "AUTO" and not gpu):
        return "Generation runs on the CPU" + ("" if target_device == "CPU" else " (no NVIDIA GPU found)") + "."
    if not gpu:
        return "Device is CUDA but no NVIDIA GPU was found (no nvidia-smi on PATH): choose Auto or CPU."
    if not cuda_torch:
        return (f"Generation runs on the CPU: the installed PyTorch ({torch_version}) has no CUDA; run Install "
                f"Dependencies again to use the NVIDIA GPU.")
    return "Generation runs on the NVIDIA GPU (CUDA)."


def device_sentence(context=None) -> str:
    """``generation_device`` for the preferences' device and interpreter (probes cached)."""
    return generation_device(common.device(context).upper(), sys.platform, _nvidia_smi(),
                             _installed_torch_cached(common.python_interpreter(context)))


@functools.lru_cache(maxsize=1)
def _nvidia_smi():
    return shutil.which("nvidia-smi")


@functools.lru_cache(maxsize=8)
def _installed_torch_cached(python: str):
    return installed_torch(python)


class OHGESTURE_OT_install_dependencies(bpy.types.Operator):
    """Create a private Python environment with torch and the audio libraries"""

    bl_idname = "ohgesture.install_dependencies"
    bl_label = "Install Dependencies"

    _timer = None
    _job = None

    def _begin(self, context) -> bool:
        """Start the steps; False (reported) when nothing may be downloaded."""
        if not getattr(bpy.app, "online_access", True):
            self.report({"ERROR"}, OFFLINE)
            return False
        prefs = common.preferences(context)
        venv_dir = common.managed_venv_dir()
        os.makedirs(venv_dir.parent, exist_ok=True)
        steps = install_steps(getattr(prefs, "device", "AUTO"), venv_dir,
                              venv_exists=os.path.isfile(venv_python(venv_dir)), nvidia_smi=shutil.which("nvidia-smi"))
        self._job = ChainJob(steps).start()
        return True

    def _result(self, context):
        common.set_status(context, False)
        _installed_torch_cached.cache_clear()
        if self._job.state == FINISHED:
            self.report({"INFO"}, f"Dependencies installed in {common.managed_venv_dir()}.")
            return {"FINISHED"}
        self.report({"ERROR"}, f"Installing dependencies failed: {self._job.error}")
        return {"CANCELLED"}

    def execute(self, context):
        if not self._begin(context):
            return {"CANCELLED"}
        while self._job.poll() == RUNNING:
            time.sleep(0.2)
        return self._result(context)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        if not self._begin(context):
            return {"CANCELLED"}
        self._timer = context.window_manager.event_timer_add(0.5, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
        if event.type not in ("TIMER", "ESC"):
            return {"PASS_THROUGH"}
        if self._job.poll() == RUNNING:
            common.set_status(context, True, self._job.progress, self._job.message)
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._result(context)


classes = (OHGESTURE_OT_install_dependencies,)
