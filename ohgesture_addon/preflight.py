"""What is checked before a generation starts, so that anything the animator can fix is said
in one sentence before minutes of work: the target armature (its keys would be saved, some of
its bones can follow the model) and the audio (there, not empty, in a format the generator
reads; a sound packed into the .blend is read from its packed data)."""

from __future__ import annotations

import os

import bpy

from ..core.audio.features import ffmpeg_missing_for
from . import common, retarget

OVERRIDE_HINT = "make it editable with Object > Library Override > Make and generate on the override"


def check_armature(arm_obj, metadata: dict) -> None:
    """Refuse an armature whose keys would not be saved (linked from another file) or none of
    whose bones can follow the model's skeleton."""
    if arm_obj is None or arm_obj.type != "ARMATURE":
        raise common.SettingsError("Pick a target armature (or create a matching one).")
    if not getattr(arm_obj, "is_editable", arm_obj.library is None):
        raise common.SettingsError(f"The armature '{arm_obj.name}' is linked from {_library_of(arm_obj)}, so keys "
                                   f"put on it would not be saved; {OVERRIDE_HINT}.")
    skeleton = common.skeleton_metadata(metadata)
    if skeleton is None:
        return
    pairs, mapped, _ = retarget.resolve_map(arm_obj, skeleton, store=False)
    if pairs is not None and mapped == 0:
        raise common.SettingsError(f"No bone of '{arm_obj.name}' could be matched to the model's skeleton; "
                                   f"edit the bone map in the OHGesture panel.")


def _library_of(id_data) -> str:
    library = id_data.library
    if library is None and id_data.override_library is not None:  # a system (non-editable) override
        library = id_data.override_library.reference.library
    return f"'{bpy.path.basename(library.filepath)}'" if library is not None else "another file"


def audio_file_problem(path: str) -> str | None:
    """One sentence on an audio file the generator could not read, where that is known before
    it starts (missing, a folder, empty, a format that needs ffmpeg without ffmpeg), else None."""
    if os.path.isdir(path):
        return f"The audio path {path} is a folder, not a file."
    if not os.path.isfile(path):
        return f"The audio file {path} does not exist."
    if os.path.getsize(path) == 0:
        return f"The audio file {path} is empty (0 bytes)."
    return ffmpeg_missing_for(path)


def check_audio_file(path: str) -> None:
    problem = audio_file_problem(path)
    if problem:
        raise common.SettingsError(problem)


def packed_sound_key(sound) -> list | None:
    """How a take records a packed sound: [name, library path or None]; None when not packed."""
    if sound is None or sound.packed_file is None:
        return None
    return [sound.name, sound.library.filepath if sound.library is not None else None]


def packed_sound(key):
    """The sound a ``packed_sound_key`` names, if it is still there and packed, else None."""
    if not key:
        return None
    name, library = key
    sound = bpy.data.sounds.get((name, library) if library else name)
    return sound if sound is not None and sound.packed_file is not None else None


def check_packed_sound(sound, path: str) -> None:
    """A packed sound must hold data in a format the generator reads (named by its file path)."""
    if sound.packed_file.size == 0:
        raise common.SettingsError(f"The packed sound '{sound.name}' holds no data (0 bytes).")
    problem = ffmpeg_missing_for(path)
    if problem:
        raise common.SettingsError(problem)


def write_packed_sound(key, audio_path: str, folder: str) -> str:
    """Write the packed data of the sound ``key`` names into ``folder`` (a generation's
    temporary folder, removed with it) and return the file, which keeps the extension of
    ``audio_path`` so the generator knows the format."""
    sound = packed_sound(key)
    if sound is None:
        raise common.SettingsError(f"The packed sound '{key[0]}' was removed or unpacked; generate again.")
    path = os.path.join(folder, "packed_sound" + (os.path.splitext(audio_path)[1].lower() or ".wav"))
    with open(path, "wb") as handle:
        handle.write(sound.packed_file.data)
    return path
