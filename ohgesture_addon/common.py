"""Shared add-on settings: package names, paths, quality presets, model metadata, the
running job's status line."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import bpy

from ..core.generation.settings import QUALITY_PRESETS  # noqa: F401  (read by properties and session)
from ..core.model.checkpoint import CheckpointError, read_metadata
from .job import venv_python

# The extension root (repository root) is the add-on package; this module's package
# is its subpackage ohgesture_addon.
ROOT_PACKAGE = __package__.rpartition(".")[0]
EXTENSION_ROOT = Path(__file__).resolve().parent.parent
ENTRY_SCRIPT = EXTENSION_ROOT / "core" / "cli" / "_entry.py"
DEFAULT_MODEL = EXTENSION_ROOT / "core" / "weights" / "default.safetensors"


class SettingsError(ValueError):
    """A setting the user has to fix before generating."""


def preferences(context=None):
    """The add-on preferences, or None when the add-on is registered without being
    enabled through Blender's preferences (scripts and tests)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon else None


def model_path(context=None) -> Path:
    """The preference, else $OHGESTURE_MODEL (scripts, batch runs), else the shipped model."""
    prefs = preferences(context)
    custom = getattr(prefs, "model_path", "") if prefs else ""
    custom = custom or os.environ.get("OHGESTURE_MODEL", "")
    return Path(bpy.path.abspath(custom)) if custom else DEFAULT_MODEL


def device(context=None) -> str:
    prefs = preferences(context)
    return getattr(prefs, "device", "AUTO").lower() if prefs else "auto"


def managed_venv_dir() -> Path:
    try:
        base = bpy.utils.extension_path_user(ROOT_PACKAGE, create=True)
    except (ValueError, KeyError, RuntimeError, TypeError):
        base = os.path.join(bpy.utils.user_resource("CONFIG"), "ohgesture")
    return Path(base) / "venv"


def blender_python_has_torch() -> bool:
    return importlib.util.find_spec("torch") is not None


def python_interpreter(context=None) -> str:
    """The interpreter that runs generation: the preference, else $OHGESTURE_PYTHON
    (scripts, batch runs, tests), else Blender's own Python when it can import torch, else
    the managed venv."""
    prefs = preferences(context)
    custom = getattr(prefs, "python_path", "") if prefs else ""
    custom = custom or os.environ.get("OHGESTURE_PYTHON", "")
    if custom:
        return bpy.path.abspath(custom)
    if blender_python_has_torch():
        return sys.executable
    return venv_python(managed_venv_dir())


_metadata_cache: dict = {}


def model_metadata(path) -> dict:
    """read_metadata with a cache keyed by path and modification time."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise SettingsError(f"The model file {path} does not exist.") from None
    key = str(path)
    cached = _metadata_cache.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        metadata = read_metadata(path)
    except CheckpointError as exc:
        raise SettingsError(str(exc)) from None
    _metadata_cache[key] = (stamp, metadata)
    return metadata


def emotion_labels(metadata: dict) -> list[str]:
    for key in ("emotion_labels", "style_labels", "emotions", "labels"):
        value = metadata.get(key)
        if isinstance(value, dict):
            value = value.get("labels") or list(value)
        if isinstance(value, list) and value:
            return [str(v) for v in value]
    return []


def model_emotion_labels(context=None) -> list[str]:
    """The emotion labels of the current model file (SettingsError when it is unusable)."""
    return emotion_labels(model_metadata(model_path(context)))


def skeleton_metadata(metadata: dict):
    """The checkpoint's skeleton dict with its root-motion joint (kept in the feature layout)."""
    skeleton = metadata.get("skeleton")
    if not isinstance(skeleton, dict):
        return None
    layout = metadata.get("feature_layout")
    if "root_joint" not in skeleton and isinstance(layout, dict) and "root_joint" in layout:
        skeleton = {**skeleton, "root_joint": int(layout["root_joint"])}
    return skeleton


def model_fps(metadata: dict):
    try:
        return float(metadata["fps"])
    except (KeyError, TypeError, ValueError):
        return None


def set_status(context, running: bool, progress: float = 0.0, message: str = "", area_type: str | None = None) -> None:
    """Show a running job's progress in the panel (the window manager's status, never
    saved) and redraw the screen's areas (of ``area_type`` only, when given)."""
    status = getattr(context.window_manager, "ohgesture_status", None)
    if status is None:
        return
    status.running, status.progress, status.message = running, progress if running else 0.0, message if running else ""
    screen = getattr(context, "screen", None)
    for area in (screen.areas if screen else []):
        if area_type is None or area.type == area_type:
            area.tag_redraw()
