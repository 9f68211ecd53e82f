"""The OHGesture tab in the 3D viewport's sidebar."""

from __future__ import annotations

import bpy

from . import common, hand_keys, install, preflight, rigify, session
from .strips import chosen_strip_label, strips_collection, strips_property


class OHGESTURE_PT_main(bpy.types.Panel):
    bl_idname = "OHGESTURE_PT_main"
    bl_label = "OHGesture"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "OHGesture"

    _warmed_up = False  # the generator was started for Start Generator With the Panel

    def draw(self, context):
        layout = self.layout
        settings = context.scene.ohgesture
        prefs = common.preferences(context)
        if getattr(prefs, "warm_up_with_panel", False) and not OHGESTURE_PT_main._warmed_up:
            OHGESTURE_PT_main._warmed_up = True  # one try: draw() runs at every redraw
            session.warm_up(context)
        _draw_source(layout, context.scene, settings)
        row = layout.row(align=True)
        row.prop(settings, "armature")
        row.operator("ohgesture.create_armature", text="", icon="ARMATURE_DATA")
        layout.operator("ohgesture.create_armature")
        try:
            common.model_metadata(common.model_path(context))
        except common.SettingsError as exc:
            layout.label(text=str(exc), icon="ERROR")
        layout.label(text=install.device_sentence(context), icon="PREFERENCES")
        _draw_emotions(layout, settings)
        for name in ("delivery", "energy", "guidance", "quality", "follow_speech", "rest_in_pauses", "lock_feet"):
            layout.prop(settings, name)
        row = layout.row(align=True)
        row.prop(settings, "seed")
        row.operator("ohgesture.reroll_seed", text="", icon="FILE_REFRESH")
        _draw_actions(layout, settings, context.window_manager.ohgesture_status)


def _draw_source(layout, scene, settings) -> None:
    layout.prop(settings, "source", expand=True)
    if settings.source != "STRIP":
        layout.prop(settings, "sound_file")
        layout.prop(settings, "add_sound_strip")
    elif strips_collection(scene) is not None:
        layout.prop_search(settings, "sound_strip", scene.sequence_editor, strips_property(scene), icon="SOUND")
        layout.label(**chosen_strip_label(scene, settings.sound_strip))
    else:
        layout.label(text="Add a sound strip in the Video Sequencer", icon="INFO")


def _draw_emotions(layout, settings) -> None:
    layout.prop(settings, "mix_emotions")
    if settings.mix_emotions:
        column = layout.column(align=True)
        for item in settings.emotion_mix:
            column.prop(item, "weight", text=item.label.replace("_", " ").title(), slider=True)
        column.operator("ohgesture.sync_emotion_mix", icon="FILE_REFRESH")
    else:
        layout.prop(settings, "emotion")
        layout.prop(settings, "emotion_2")
        sub = layout.row()
        sub.enabled = settings.emotion_2 != "NONE"
        sub.prop(settings, "blend", slider=True)


def _draw_actions(layout, settings, status) -> None:
    """The progress bar and Cancel while generating, else the options and Generate."""
    if status.running:
        progress = getattr(layout, "progress", None)
        if progress is not None:
            progress(factor=status.progress, type="BAR", text=f"{status.message} {status.progress:.0%}")
        else:
            layout.label(text=f"{status.message} {status.progress:.0%}")
        layout.operator("ohgesture.cancel", icon="CANCEL")
        return
    layout.prop(settings, "use_hand_keys")
    if settings.use_hand_keys:
        hand_keys.draw_kept_keys(layout, settings.armature)
    row = layout.row(align=True)
    row.prop(settings, "layer_upper_body")
    sub = row.row(align=True)
    sub.enabled = settings.layer_upper_body
    sub.prop(settings, "layer_blend_frames", text="Blend")
    _draw_ik(layout, settings)
    layout.operator("ohgesture.generate", icon="PLAY")
    layout.operator("ohgesture.regenerate_selection", icon="SEQ_PREVIEW")
    layout.operator("ohgesture.clean_up_takes", icon="TRASH")


def _draw_ik(layout, settings) -> None:
    """IK constraints that would hold the keyed bones, and the button that mutes them."""
    arm_obj = settings.armature
    if arm_obj is None or arm_obj.type != "ARMATURE" or not any(
            c.type == "IK" and not c.mute for b in arm_obj.pose.bones for c in b.constraints):
        return  # the cheap test first: this runs on every redraw
    try:
        found = preflight.holding_ik(arm_obj, common.model_metadata(common.model_path(bpy.context)),
                                     upper_body_only=settings.layer_upper_body)
    except common.SettingsError:
        return
    if found:
        layout.label(text=f"IK on {len(found)} bone{'s' if len(found) > 1 else ''} would hold the keys", icon="ERROR")
        layout.operator("ohgesture.mute_ik", icon="CONSTRAINT_BONE")


class OHGESTURE_UL_bone_map(bpy.types.UIList):
    """One row per (model joint, armature bone) pair."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "source", text="", emboss=False, icon="GROUP_BONE")
        if data.type == "ARMATURE" and data.data is not None:
            row.prop_search(item, "target", data.data, "bones", text="", icon="BONE_DATA")
        else:
            row.prop(item, "target", text="")

    def filter_items(self, context, data, propname):
        items = getattr(data, propname)
        flags = [self.bitflag_filter_item] * len(items)
        if self.filter_name:
            needle = self.filter_name.lower()
            flags = [self.bitflag_filter_item if needle in (i.source + " " + i.target).lower() else 0 for i in items]
        return flags, []


class OHGESTURE_PT_bone_map(bpy.types.Panel):
    bl_idname = "OHGESTURE_PT_bone_map"
    bl_label = "Bone Map"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "OHGesture"
    bl_parent_id = "OHGESTURE_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        obj = context.scene.ohgesture.armature
        if obj is None:
            layout.label(text="Pick a target armature", icon="INFO")
            return
        pairs = getattr(obj, "ohgesture_bone_map", None)
        if pairs is None:
            return
        if not len(pairs):
            layout.label(text="No map: matched automatically on Generate", icon="INFO")
        row = layout.row()
        row.template_list("OHGESTURE_UL_bone_map", "", obj, "ohgesture_bone_map", obj, "ohgesture_bone_map_index",
                          rows=6)
        column = row.column(align=True)
        column.operator("ohgesture.bone_map_add", text="", icon="ADD")
        column.operator("ohgesture.bone_map_remove", text="", icon="REMOVE")
        column.separator()
        column.operator("ohgesture.bone_map_clear", text="", icon="X")
        row = layout.row(align=True)
        row.operator("ohgesture.bone_map_auto", icon="AUTOMERGE_ON")
        row = layout.row(align=True)
        row.operator("ohgesture.bone_map_import", text="Import JSON", icon="IMPORT")
        row.operator("ohgesture.bone_map_export", text="Export JSON", icon="EXPORT")
        if rigify.is_generated_rig(obj):
            layout.label(text="Rigify: keys on the FK controls, limbs switched to FK", icon="INFO")


classes = (OHGESTURE_PT_main, OHGESTURE_UL_bone_map, OHGESTURE_PT_bone_map)
