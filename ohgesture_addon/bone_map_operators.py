"""Operators on an armature's bone map: Auto-Map, Add/Remove Bone Pair, Clear, Export and
Import JSON. Each edits the map of ``map_target`` (the panel's target armature, else the
active armature object)."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ExportHelper, ImportHelper

from . import bone_presets, retarget
from .armature import model_skeleton

_PRESET_ITEMS = [("AUTO", "Detect", "Detect the rig's naming scheme")] + [
    (key, label, f"Bone names of the {label} rig") for key, label in bone_presets.PRESET_LABELS.items()]


def map_target(context):
    """The armature whose bone map the panel edits: the target armature setting, else the
    active armature object."""
    obj = context.scene.ohgesture.armature if getattr(context.scene, "ohgesture", None) else None
    if obj is None and context.object is not None and context.object.type == "ARMATURE":
        obj = context.object
    return obj


class _BoneMapOperator:
    """What the bone-map operators share (not registered itself): find the armature, report
    when there is none (``needs_target_report``) and turn a ValueError into an error report;
    a subclass edits the map in ``edit``."""

    needs_target_report = True

    def execute(self, context):
        obj = map_target(context)
        if obj is None:
            if self.needs_target_report:
                self.report({"ERROR"}, "Pick a target armature first.")
            return {"CANCELLED"}
        try:
            return self.edit(context, obj)
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def edit(self, context, obj) -> set:
        raise NotImplementedError


class OHGESTURE_OT_bone_map_auto(_BoneMapOperator, bpy.types.Operator):
    """Match the model's joints to this armature's bones by name (presets for Rigify, Mixamo,
    Unreal, VRM, Bandai, ZEGGS; generic name matching otherwise)"""

    bl_idname = "ohgesture.bone_map_auto"
    bl_label = "Auto-Map Bones"
    bl_options = {"REGISTER", "UNDO"}

    preset: EnumProperty(name="Rig", items=_PRESET_ITEMS, default="AUTO")

    def edit(self, context, obj):
        skeleton = model_skeleton(context)
        pairs = retarget.auto_map_armature(obj, skeleton, None if self.preset == "AUTO" else self.preset)
        retarget.store_pairs(obj, pairs)
        names, _ = retarget.skeleton_hierarchy(skeleton)
        self.report({"INFO"}, f"Mapped {len({s for s, _ in pairs})} of {len(names)} bones")
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_add(_BoneMapOperator, bpy.types.Operator):
    """Add a row to the bone map"""

    bl_idname = "ohgesture.bone_map_add"
    bl_label = "Add Bone Pair"
    bl_options = {"REGISTER", "UNDO"}
    needs_target_report = False

    def edit(self, context, obj):
        obj.ohgesture_bone_map.add()
        obj.ohgesture_bone_map_index = len(obj.ohgesture_bone_map) - 1
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_remove(_BoneMapOperator, bpy.types.Operator):
    """Remove the selected row of the bone map"""

    bl_idname = "ohgesture.bone_map_remove"
    bl_label = "Remove Bone Pair"
    bl_options = {"REGISTER", "UNDO"}
    needs_target_report = False

    def edit(self, context, obj):
        if not len(obj.ohgesture_bone_map):
            return {"CANCELLED"}
        index = min(obj.ohgesture_bone_map_index, len(obj.ohgesture_bone_map) - 1)
        obj.ohgesture_bone_map.remove(index)
        obj.ohgesture_bone_map_index = max(0, index - 1)
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_clear(_BoneMapOperator, bpy.types.Operator):
    """Forget the bone map (the next generation maps automatically again)"""

    bl_idname = "ohgesture.bone_map_clear"
    bl_label = "Clear Bone Map"
    bl_options = {"REGISTER", "UNDO"}
    needs_target_report = False

    def edit(self, context, obj):
        obj.ohgesture_bone_map.clear()
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_export(_BoneMapOperator, bpy.types.Operator, ExportHelper):
    """Save the armature's bone map as JSON"""

    bl_idname = "ohgesture.bone_map_export"
    bl_label = "Export Bone Map"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def edit(self, context, obj):
        pairs = retarget.stored_pairs(obj)
        if not pairs:
            self.report({"ERROR"}, f"The armature '{obj.name}' has no bone map; run Auto-Map first.")
            return {"CANCELLED"}
        try:
            retarget.write_map_json(self.filepath, pairs)
        except OSError as exc:
            self.report({"ERROR"}, f"Cannot write {self.filepath}: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Saved {len(pairs)} bone pairs to {self.filepath}")
        return {"FINISHED"}


class OHGESTURE_OT_bone_map_import(_BoneMapOperator, bpy.types.Operator, ImportHelper):
    """Load a bone map from JSON onto the armature (replaces its current map)"""

    bl_idname = "ohgesture.bone_map_import"
    bl_label = "Import Bone Map"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def edit(self, context, obj):
        pairs = retarget.read_map_json(self.filepath)
        missing = [t for _, t in pairs if t not in obj.data.bones]
        retarget.store_pairs(obj, pairs)
        if missing:
            self.report({"WARNING"}, f"{len(missing)} mapped bones are not in '{obj.name}' "
                                     f"(first: {missing[0]}); those pairs are ignored.")
        else:
            self.report({"INFO"}, f"Loaded {len(pairs)} bone pairs.")
        return {"FINISHED"}


classes = (OHGESTURE_OT_bone_map_auto, OHGESTURE_OT_bone_map_add, OHGESTURE_OT_bone_map_remove,
           OHGESTURE_OT_bone_map_clear, OHGESTURE_OT_bone_map_export, OHGESTURE_OT_bone_map_import)
