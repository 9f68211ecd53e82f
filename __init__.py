"""OHGesture: speech-driven, emotion-controllable gesture animation for Blender.

The repository root is both the Blender extension and the Python package
``ohgesture``. Nothing here imports ``bpy`` at import time, so ``ohgesture.core``
and the command-line tool work without Blender.
"""


def register():
    from .ohgesture_addon import register as _register

    _register()


def unregister():
    from .ohgesture_addon import unregister as _unregister

    _unregister()
