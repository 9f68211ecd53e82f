"""The OHGesture tab in the 3D viewport's sidebar."""

from __future__ import annotations

import bpy

from . import common
from .operators import strips_collection


class OHGESTURE_PT_main(bpy.types.Panel):
    bl_idname = "OHGESTURE_PT_main"
    bl_label = "OHGesture"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "OHGesture"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.ohgesture
        status = context.window_manager.ohgesture_status

        layout.prop(settings, "source", expand=True)
        if settings.source == "STRIP":
            strips = strips_collection(context.scene)
            if strips is not None:
                collection = "strips" if hasattr(context.scene.sequence_editor, "strips") else "sequences"
                layout.prop_search(settings, "sound_strip", context.scene.sequence_editor, collection,
                                   icon="SOUND")
            else:
                layout.label(text="Add a sound strip in the Video Sequencer", icon="INFO")
        else:
            layout.prop(settings, "sound_file")

        row = layout.row(align=True)
        row.prop(settings, "armature")
        row.operator("ohgesture.create_armature", text="", icon="ARMATURE_DATA")
        layout.operator("ohgesture.create_armature")

        try:
            common.model_metadata(common.model_path(context))
        except common.SettingsError as exc:
            layout.label(text=str(exc), icon="ERROR")

        layout.prop(settings, "emotion")
        layout.prop(settings, "emotion_2")
        sub = layout.row()
        sub.enabled = settings.emotion_2 != "NONE"
        sub.prop(settings, "blend", slider=True)
        layout.prop(settings, "guidance")
        layout.prop(settings, "quality")
        row = layout.row(align=True)
        row.prop(settings, "seed")
        row.operator("ohgesture.reroll_seed", text="", icon="FILE_REFRESH")

        if status.running:
            progress = getattr(layout, "progress", None)
            if progress is not None:
                progress(factor=status.progress, type="BAR", text=f"{status.message} {status.progress:.0%}")
            else:
                layout.label(text=f"{status.message} {status.progress:.0%}")
            layout.operator("ohgesture.cancel", icon="CANCEL")
        else:
            layout.operator("ohgesture.generate", icon="PLAY")


classes = (OHGESTURE_PT_main,)
