"""Add-on preferences: model file, device, Python interpreter with torch, take storage."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import common, install, takes


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
    takes_kept: IntProperty(
        name="Earlier Takes Kept", min=0, soft_max=20, default=takes.DEFAULT_TAKES_KEPT,
        description="How many earlier takes each armature keeps on muted NLA tracks; Generate removes older ones "
                    "with their motion files (not takes whose keys you changed)")
    takes_folder_mb: IntProperty(
        name="Takes Folder Limit (MB)", min=1, default=takes.DEFAULT_FOLDER_MB,
        description="The most the add-on's folder of motion files may hold; the oldest files go first, "
                    "never one an action of the open file uses")
    generator_idle_minutes: IntProperty(
        name="Keep Generator Warm (min)", min=0, soft_max=120, default=10,
        description="How long the generator stays loaded after the last Generate, so the next one starts at once; "
                    "0 starts a new one for every Generate")
    key_fingers: BoolProperty(
        name="Key Fingers", default=True,
        description="Key the rig's finger bones when the take has fingers; off leaves the hands as you pose them")
    warm_up_with_panel: BoolProperty(
        name="Start Generator With the Panel", default=False,
        description="Start the generator when the OHGesture panel is first drawn, so even the first Generate "
                    "starts at once")

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
        row.prop(self, "takes_kept")
        row.prop(self, "takes_folder_mb")
        row = layout.row()
        row.prop(self, "generator_idle_minutes")
        row.prop(self, "warm_up_with_panel")
        layout.prop(self, "key_fingers")
        row = layout.row()
        status = getattr(context.window_manager, "ohgesture_status", None)
        if status is not None and status.running:
            row.label(text=f"{status.message} ({status.progress:.0%})")
        else:
            row.operator("ohgesture.install_dependencies", icon="CONSOLE")


classes = (OHGesturePreferences,)
