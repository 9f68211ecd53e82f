"""The Blender side of OHGesture: everything that imports bpy lives here."""


def register():
    pass


def unregister():
    pass
