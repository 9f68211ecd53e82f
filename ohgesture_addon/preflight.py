"""What is checked before a generation starts, so that anything the animator can fix is said
in one sentence before minutes of work: the target armature (its keys would be saved, some of
its bones can follow the model, no IK constraint holds the bones it keys) and the audio (there,
not empty, in a format the generator reads; a sound packed into the .blend is read from its
packed data). Mute IK Constraints (``OHGESTURE_OT_mute_ik``) is the one-click fix for IK."""

from __future__ import annotations

import os

import bpy

from ..core.audio.features import ffmpeg_missing_for
from . import common, layering, retarget, rigify
from .armature import skeleton_hierarchy

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


def holding_ik(arm_obj, metadata: dict, *, upper_body_only: bool = False) -> list:
    """The armature's IK constraints (pose bone, constraint) that would hold a bone the take keys:
    working (not muted, some influence, a valid target) and with a keyed bone in their chain (the
    constrained bone and ``chain_count`` - 1 parents, all of them for 0). Their keys would be
    overridden by IK aimed at targets the take does not move, so those limbs would stand still.
    A generated Rigify rig's IK is switched to FK by its own keys, so it has none here."""
    if arm_obj is None or arm_obj.type != "ARMATURE" or rigify.is_generated_rig(arm_obj):
        return []
    working = [(b, c) for b in arm_obj.pose.bones for c in b.constraints
               if c.type == "IK" and not c.mute and c.influence > 0 and c.is_valid]
    skeleton = common.skeleton_metadata(metadata)
    if not working or skeleton is None:
        return []
    keyed = _keyed_bones(arm_obj, skeleton)
    if upper_body_only:
        try:
            keyed &= layering.upper_body_bones(arm_obj)
        except common.SettingsError:
            pass  # the layer will refuse the rig itself, with its own sentence
    found = []
    for bone, constraint in working:
        chain = [bone] + list(bone.parent_recursive)
        chain = chain[:constraint.chain_count] if constraint.chain_count > 0 else chain
        if not constraint.use_tail:
            chain = chain[1:]
        if any(b.name in keyed for b in chain):
            found.append((bone, constraint))
    return found


def _keyed_bones(arm_obj, skeleton) -> set:
    """The bones a take puts keys on: those the bone map pairs with a joint, or on the model's own
    armature, those named like its joints."""
    names, _ = skeleton_hierarchy(skeleton)
    pairs, _, _ = retarget.resolve_map(arm_obj, skeleton, store=False)
    bones = arm_obj.data.bones
    if pairs is None:
        return {n for n in names if n in bones}
    return {t for s, t in pairs if s in names and t in bones}


def ik_sentence(arm_obj, found) -> str:
    """One sentence naming the IK constraints that hold the keyed bones, and the fix."""
    shown = [f"'{b.name}'" for b, _ in found[:4]]
    if len(found) > 4:
        names = ", ".join(shown) + f" and {len(found) - 4} more"
    else:
        names = " and ".join([", ".join(shown[:-1]), shown[-1]] if len(shown) > 1 else shown)
    return (f"The IK constraints on {names} of '{arm_obj.name}' would hold bones the take keys, so they "
            f"would not move; press Mute IK Constraints in the OHGesture panel (Ctrl+Z brings them back) and "
            f"generate again.")


def check_ik(arm_obj, metadata: dict, *, upper_body_only: bool = False) -> None:
    found = holding_ik(arm_obj, metadata, upper_body_only=upper_body_only)
    if found:
        raise common.SettingsError(ik_sentence(arm_obj, found))


class OHGESTURE_OT_mute_ik(bpy.types.Operator):
    """Mute the IK constraints that would hold the bones a take keys (their Mute switch, not
    keyed, so they stay muted on every frame until unmuted in Bone Constraints; Ctrl+Z undoes it)"""

    bl_idname = "ohgesture.mute_ik"
    bl_label = "Mute IK Constraints"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.ohgesture
        arm_obj = settings.armature
        try:
            found = holding_ik(arm_obj, common.model_metadata(common.model_path(context)),
                               upper_body_only=bool(settings.layer_upper_body))
        except common.SettingsError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if not found:
            self.report({"INFO"}, "No IK constraint holds the bones a take keys.")
            return {"CANCELLED"}
        for _, constraint in found:
            constraint.mute = True
        names = ", ".join(f"'{b.name}'" for b, _ in found)
        self.report({"INFO"}, f"Muted the IK constraints on {names} (unmute them in Bone Constraints to use IK again).")
        return {"FINISHED"}


classes = (OHGESTURE_OT_mute_ik,)


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
