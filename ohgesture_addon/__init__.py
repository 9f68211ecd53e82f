"""The Blender side of OHGesture: everything that imports bpy lives here, one module per
Blender concept (the maths they call is in ``core.motion``).

The extension root package calls register()/unregister(); scripts and tests may call
them directly on this subpackage.
"""

_registered = []


def _class_lists():
    from . import (armature, bone_map_operators, emotion_mix, generate_operators, hand_keys, install, panel,
                   preferences, preflight, properties, takes)

    return [properties.classes, preferences.classes, generate_operators.classes, armature.classes,
            install.classes, bone_map_operators.classes, emotion_mix.classes, preflight.classes, hand_keys.classes,
            takes.classes, panel.classes]


def register():
    import bpy

    from . import properties

    if _registered:
        return
    for group in _class_lists():
        for cls in group:
            bpy.utils.register_class(cls)
            _registered.append(cls)
    properties.register_properties()


def unregister():
    import bpy

    from . import job, properties, session

    if not _registered:
        return
    session.cancel_active_session()
    job.stop_worker()  # the warm generator goes with the add-on
    properties.unregister_properties()
    for cls in reversed(_registered):
        bpy.utils.unregister_class(cls)
    _registered.clear()
