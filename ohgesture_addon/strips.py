"""The scene's sound strips (Video Sequencer), on both the 4.x and the 5.x API."""

from __future__ import annotations

from . import common


def strips_collection(scene):
    editor = scene.sequence_editor
    if editor is None:
        return None
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def strips_property(scene) -> str:
    """The name of the sequence editor's collection of strips, for ``prop_search``."""
    return "strips" if hasattr(scene.sequence_editor, "strips") else "sequences"


def sound_strips(scene) -> list:
    strips = strips_collection(scene)
    return [s for s in strips if s.type == "SOUND"] if strips is not None else []


def resolve_strip(scene, name: str):
    """The named sound strip, else the active one if it is a sound strip, else the first."""
    strips = strips_collection(scene)
    if name:
        strip = strips.get(name) if strips is not None else None
        if strip is None:
            raise common.SettingsError(f"There is no strip named '{name}' in the sequencer.")
        if strip.type != "SOUND":
            raise common.SettingsError(f"The strip '{name}' is not a sound strip.")
        return strip
    active = scene.sequence_editor.active_strip if scene.sequence_editor else None
    if active is not None and active.type == "SOUND":
        return active
    candidates = sorted(sound_strips(scene), key=lambda s: (s.frame_final_start, s.channel))
    if not candidates:
        raise common.SettingsError("The scene has no sound strip; add one in the Video Sequencer or pick a sound file.")
    return candidates[0]
