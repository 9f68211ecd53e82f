"""Install Dependencies: a private Python environment with torch and the audio libraries,
made by a chain of subprocesses (``job.ChainJob``) so Blender stays responsive."""

from __future__ import annotations

import os
import sys
import time

import bpy

from . import common
from .job import FINISHED, RUNNING, ChainJob, venv_python

DEPENDENCIES = ["numpy<2", "scipy", "librosa", "soundfile", "safetensors", "tqdm"]
TORCH_CPU = ["torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cpu"]
TORCH_DEFAULT = ["torch==2.13.0"]


def install_steps(target_device: str, venv_dir, *, venv_exists: bool, platform: str = sys.platform,
                  base_python: str = sys.executable) -> list[tuple[str, list[str]]]:
    """(description, command) of every step: create the environment (unless it exists)
    with ``base_python``, then install PyTorch (the CPU build, except for CUDA and macOS)
    and the other libraries into it."""
    python = venv_python(venv_dir)
    steps = []
    if not venv_exists:
        steps.append(("Creating the Python environment", [base_python, "-m", "venv", str(venv_dir)]))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    torch = TORCH_DEFAULT if target_device == "CUDA" or platform == "darwin" else TORCH_CPU
    steps.append(("Installing PyTorch", pip + torch))
    steps.append(("Installing audio and model libraries", pip + DEPENDENCIES))
    return steps


class OHGESTURE_OT_install_dependencies(bpy.types.Operator):
    """Create a private Python environment with torch and the audio libraries"""

    bl_idname = "ohgesture.install_dependencies"
    bl_label = "Install Dependencies"

    _timer = None
    _job = None

    def _begin(self, context):
        prefs = common.preferences(context)
        venv_dir = common.managed_venv_dir()
        os.makedirs(venv_dir.parent, exist_ok=True)
        steps = install_steps(getattr(prefs, "device", "AUTO"), venv_dir,
                              venv_exists=os.path.isfile(venv_python(venv_dir)))
        self._job = ChainJob(steps).start()

    def _result(self, context):
        common.set_status(context, False)
        if self._job.state == FINISHED:
            self.report({"INFO"}, f"Dependencies installed in {common.managed_venv_dir()}.")
            return {"FINISHED"}
        self.report({"ERROR"}, f"Installing dependencies failed: {self._job.error}")
        return {"CANCELLED"}

    def execute(self, context):
        self._begin(context)
        while self._job.poll() == RUNNING:
            time.sleep(0.2)
        return self._result(context)

    def invoke(self, context, event):
        if context.window is None:
            return self.execute(context)
        self._begin(context)
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
