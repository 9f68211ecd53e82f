"""The Blender side of OHGesture: everything that imports bpy lives here.

The extension root package calls register()/unregister(); scripts and tests may call
them directly on this subpackage.
"""

_registered = []


def _class_lists():
    from . import operators, panel, preferences, properties

    return [properties.classes, preferences.classes, operators.classes, panel.classes]


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

    from . import operators, properties

    if not _registered:
        return
    operators.cancel_active_session()
    properties.unregister_properties()
    for cls in reversed(_registered):
        bpy.utils.unregister_class(cls)
    _registered.clear()
