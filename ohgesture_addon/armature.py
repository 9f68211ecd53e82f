"""Armatures: read one's bones and rest pose into plain arrays (``RigRest``), and create
one whose bones match a model skeleton (the Create Matching Armature operator).

Created bones get the same convention as ``keyframes.write_motion_to_armature``: model
space (Y up, centimetres) maps to Blender (Z up, metres) through
``core.motion.retarget.AXIS_MAP`` and ``CENTIMETRES_TO_METRES``. Heads sit at the joints'
world rest positions, tails point at the first child (or along the joint's own offset for
leaves), roll is 0.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core.motion.kinematics import rest_positions
from ..core.motion.retarget import RigRest, to_blender_vectors
from . import common

MIN_BONE_LENGTH = 0.01  # metres; Blender removes zero-length bones
LEAF_LENGTH_FACTOR = 0.5


class SkeletonError(ValueError):
    """The skeleton description is unusable."""


# --- reading an armature -----------------------------------------------------------------

def bones_parents_first(arm_obj) -> list:
    bones = list(arm_obj.data.bones)
    depth = {}
    for bone in bones:
        d, parent = 0, bone.parent
        while parent is not None:
            d, parent = d + 1, parent.parent
        depth[bone.name] = d
    return sorted(bones, key=lambda b: depth[b.name])


def armature_hierarchy(arm_obj) -> tuple[list[str], list[int]]:
    """Bone names (parents first) and parent indices."""
    bones = bones_parents_first(arm_obj)
    index = {bone.name: i for i, bone in enumerate(bones)}
    return [b.name for b in bones], [index[b.parent.name] if b.parent else -1 for b in bones]


def skeleton_hierarchy(skeleton) -> tuple[list[str], list[int]]:
    """A model skeleton's (or motion's) joint names and parent indices."""
    names = [str(n) for n in np.asarray(skeleton["joint_names"]).tolist()]
    parents = [int(p) for p in np.asarray(skeleton["parents"]).reshape(-1)]
    return names, parents


def rig_rest(arm_obj) -> RigRest:
    """The armature's bones (parents first) and rest pose in armature space."""
    bones = bones_parents_first(arm_obj)
    index = {bone.name: i for i, bone in enumerate(bones)}
    return RigRest.from_matrices(
        [bone.name for bone in bones], [index[bone.parent.name] if bone.parent else -1 for bone in bones],
        [np.array(bone.matrix_local) for bone in bones], [np.array(bone.tail_local) for bone in bones])


# --- creating a matching armature --------------------------------------------------------

def skeleton_from_mapping(data) -> dict:
    """Normalise a skeleton from an npz dict or checkpoint metadata (optionally nested
    under "skeleton") into joint_names, parents, offsets, root_joint."""
    if isinstance(data, dict) and "skeleton" in data and "joint_names" not in data:
        data = data["skeleton"]
    try:
        names = [str(n) for n in np.asarray(data["joint_names"]).tolist()]
        parents = np.asarray(data["parents"], dtype=np.int64).reshape(-1)
        offsets = np.asarray(data["offsets"], dtype=np.float64).reshape(-1, 3)
    except (KeyError, TypeError, ValueError) as exc:
        raise SkeletonError(f"The skeleton lacks joint names, parents or offsets ({exc}).") from None
    root_joint = int(np.asarray(data.get("root_joint", 0)).reshape(-1)[0]) if hasattr(data, "get") else 0
    if not (len(names) == len(parents) == len(offsets)) or len(names) == 0:
        raise SkeletonError("The skeleton's joint names, parents and offsets differ in length.")
    if any(p >= j for j, p in enumerate(parents)) or parents[0] != -1:
        raise SkeletonError("The skeleton's parents must come before their children.")
    if not 0 <= root_joint < len(names):
        raise SkeletonError("The skeleton's root joint index is out of range.")
    return {"joint_names": names, "parents": parents, "offsets": offsets, "root_joint": root_joint}


def bone_segments(skeleton: dict) -> tuple[np.ndarray, np.ndarray]:
    """Heads and tails (J, 3) in Blender armature space, metres."""
    parents, offsets = skeleton["parents"], skeleton["offsets"]
    heads = to_blender_vectors(rest_positions(parents, offsets))
    tails = np.empty_like(heads)
    for j in range(len(parents)):
        tail = None
        for child in np.flatnonzero(parents == j):
            if np.linalg.norm(heads[child] - heads[j]) >= MIN_BONE_LENGTH:
                tail = heads[child]
                break
        if tail is None:
            own = to_blender_vectors(offsets[j]) if parents[j] >= 0 else np.zeros(3)
            length = np.linalg.norm(own)
            if length < 1e-9:
                direction, length = np.array([0.0, 0.0, 1.0]), MIN_BONE_LENGTH * 5
            else:
                direction = own / length
            tail = heads[j] + direction * max(length * LEAF_LENGTH_FACTOR, MIN_BONE_LENGTH)
        tails[j] = tail
    return heads, tails


def _new_armature_object(context, name: str):
    """A new armature object linked to the context's collection, alone selected and active."""
    arm_data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm_data)
    collection = getattr(context, "collection", None) or context.scene.collection
    collection.objects.link(obj)
    view_layer = context.view_layer
    if context.object is not None and context.object.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    for other in view_layer.objects:
        other.select_set(False)
    view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def create_matching_armature(context, skeleton, name: str = "OHGesture Armature"):
    """Add an armature object with one bone per joint to the context's collection."""
    skeleton = skeleton_from_mapping(skeleton)
    heads, tails = bone_segments(skeleton)
    obj = _new_armature_object(context, name)
    bpy.ops.object.mode_set(mode="EDIT")
    try:
        edit_bones = obj.data.edit_bones
        created = []
        for j, joint_name in enumerate(skeleton["joint_names"]):
            bone = edit_bones.new(joint_name)
            bone.head = heads[j].tolist()
            bone.tail = tails[j].tolist()
            bone.roll = 0.0
            bone.use_connect = False
            parent = skeleton["parents"][j]
            if parent >= 0:
                bone.parent = created[parent]
            created.append(bone)
    finally:
        bpy.ops.object.mode_set(mode="OBJECT")
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    obj["ohgesture_root_joint"] = skeleton["joint_names"][skeleton["root_joint"]]
    return obj


def model_skeleton(context):
    """The skeleton the current model file describes; SettingsError when it has none."""
    skeleton = common.skeleton_metadata(common.model_metadata(common.model_path(context)))
    if skeleton is None:
        raise common.SettingsError("The model file does not describe its skeleton.")
    return skeleton


class OHGESTURE_OT_create_armature(bpy.types.Operator):
    """Add an armature matching the model's skeleton and make it the target"""

    bl_idname = "ohgesture.create_armature"
    bl_label = "Create Matching Armature"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        try:
            obj = create_matching_armature(context, model_skeleton(context))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.scene.ohgesture.armature = obj
        return {"FINISHED"}


classes = (OHGESTURE_OT_create_armature,)
