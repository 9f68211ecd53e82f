"""The scene's sound strips (Video Sequencer), on both the 4.x and the 5.x API, including
strips inside meta strips (found at their place on the timeline, cut by the metas' handles)."""

from __future__ import annotations

from . import common


def strips_collection(scene):
    """The top level of the sequencer (None without a sequence editor)."""
    editor = scene.sequence_editor
    if editor is None:
        return None
    return editor.strips if hasattr(editor, "strips") else editor.sequences


def all_strips(scene):
    """Every strip, those inside meta strips too (None without a sequence editor)."""
    editor = scene.sequence_editor
    if editor is None:
        return None
    return editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all


def strips_property(scene) -> str:
    """The name of the sequence editor's collection of every strip, for ``prop_search``."""
    return "strips_all" if hasattr(scene.sequence_editor, "strips_all") else "sequences_all"


def sound_strips(scene) -> list:
    strips = all_strips(scene)
    return [s for s in strips if s.type == "SOUND"] if strips is not None else []


def strip_timing(strip):
    """(left handle, right handle, content start, content length) in scene frames. Blender 5.2
    renamed frame_final_start/_end, frame_start and frame_duration (the old names warn and are
    to go in 6.0); 4.5 has only the old ones."""
    if hasattr(strip, "left_handle"):
        return strip.left_handle, strip.right_handle, strip.content_start, strip.content_duration
    return strip.frame_final_start, strip.frame_final_end, strip.frame_start, strip.frame_duration


def _parent_meta(strip):
    return strip.parent_meta() if hasattr(strip, "parent_meta") else None


def visible_range(strip) -> tuple[int, int]:
    """(first frame, end frame) of the strip as it plays: a strip inside a meta strip keeps its
    own timeline frames, and only the part inside every enclosing meta's handles plays."""
    left, right = strip_timing(strip)[:2]
    parent = _parent_meta(strip)
    while parent is not None:
        parent_left, parent_right = strip_timing(parent)[:2]
        left, right = max(left, parent_left), min(right, parent_right)
        parent = _parent_meta(parent)
    return int(left), int(right)


def is_muted(scene, strip) -> bool:
    """Whether the strip is silent on playback: muted itself, in a muted channel, or inside a
    muted meta strip (or a muted channel of one)."""
    while strip is not None:
        parent = _parent_meta(strip)
        container = parent if parent is not None else scene.sequence_editor
        channels = getattr(container, "channels", None)
        if strip.mute or (channels is not None and strip.channel < len(channels) and channels[strip.channel].mute):
            return True
        strip = parent
    return False


def strip_place(strip) -> str:
    """Where the strip plays, for the panel: its frames and the meta strip holding it."""
    left, right = visible_range(strip)
    parent = _parent_meta(strip)
    inside = f" inside meta strip '{parent.name}'" if parent is not None else ""
    if right <= left:
        return f"'{strip.name}'{inside} has no visible frames"
    return f"'{strip.name}': frames {left}-{right - 1}{inside}"


def chosen_strip_label(scene, name: str) -> dict:
    """The panel's line under the strip field: where the strip Generate would use plays."""
    try:
        return {"text": strip_place(resolve_strip(scene, name)), "icon": "SOUND"}
    except common.SettingsError as exc:
        return {"text": str(exc), "icon": "ERROR"}


def resolve_strip(scene, name: str):
    """The named sound strip, else the active one if it is a sound strip, else the first on
    the timeline (meta strips' contents included). A muted strip is never used: named, it is
    refused in one sentence; otherwise the first unmuted one is taken."""
    strips = all_strips(scene)
    if name:
        strip = strips.get(name) if strips is not None else None
        if strip is None:
            raise common.SettingsError(f"There is no strip named '{name}' in the sequencer.")
        if strip.type != "SOUND":
            raise common.SettingsError(f"The strip '{name}' is not a sound strip.")
        if is_muted(scene, strip):
            raise common.SettingsError(f"The sound strip '{name}' is muted; unmute it or pick another strip.")
        return strip
    active = scene.sequence_editor.active_strip if scene.sequence_editor else None
    if active is not None and active.type == "SOUND" and not is_muted(scene, active):
        return active
    found = sound_strips(scene)
    if not found:
        raise common.SettingsError("The scene has no sound strip; add one in the Video Sequencer or pick a sound file.")
    candidates = sorted((s for s in found if not is_muted(scene, s)), key=lambda s: (visible_range(s)[0], s.channel))
    if not candidates:
        raise common.SettingsError("Every sound strip of the scene is muted; unmute the one to animate to.")
    return candidates[0]
