"""Add-on preferences: model file, device, Python interpreter with torch."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from . import common, install


class OHGesturePreferences(bpy.types.AddonPreferences):
    # The add-on is the extension root package, not this subpackage.
    bl_idname = common.ROOT_PACKAGE

    model_path: StringProperty(
        name="Model File", subtype="FILE_PATH",
        description="OHGesture checkpoint (.safetensors); empty uses the model shipped with the extension")
    device: EnumProperty(
        name="Device",
        items=[("AUTO", "Auto", "CUDA when available, else CPU"), ("CPU", "CPU", "Always the CPU"),
               ("CUDA", "CUDA", "An NVIDIA GPU")],
        default="AUTO")
    python_path: StringProperty(
        name="Python Interpreter", subtype="FILE_PATH",
        description="Python with torch that runs generation; empty: Blender's own Python if it has torch, "
                    "else the environment made by Install Dependencies")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "model_path")
        if not self.model_path:
            layout.label(text=f"Using {common.DEFAULT_MODEL}")
        layout.prop(self, "device")
        layout.label(text=install.device_sentence(context))
        layout.prop(self, "python_path")
        if not self.python_path:
            layout.label(text=f"Using {common.python_interpreter(context)}")
        row = layout.row()
        status = getattr(context.window_manager, "ohgesture_status", None)
        if status is not None and status.running:
            row.label(text=f"{status.message} ({status.progress:.0%})")
        else:
            row.operator("ohgesture.install_dependencies", icon="CONSOLE")


classes = (OHGesturePreferences,)
