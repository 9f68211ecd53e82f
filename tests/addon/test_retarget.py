"""Retargeting onto rigs with other names, rest poses, rolls and axes, with the real bpy
module; rigs are built in code, expected directions come from an independent scipy FK."""

import json
import time

import bpy
import numpy as np
import pytest
from mathutils import Matrix

import ohgesture.ohgesture_addon as addon
from ohgesture.core.motion.bvh import read_bvh, write_bvh
from ohgesture.core.motion.skeleton import Motion, Skeleton
from synthetic import make_synthetic_take
from ohgesture.ohgesture_addon import armature, bone_presets, keyframes, retarget
from blender_util import AXIS_MAP, fk_at_times, reset_blender, write_metadata_only_checkpoint

CHECK_FRAMES = [1, 9, 23, 47, 88]


@pytest.fixture
def scene():
    return reset_blender()


def motion_dict(motion: Motion, root_joint: int = 0) -> dict:
    sk = motion.skeleton
    return {
        "rotations": motion.rotations.astype(np.float32),
        "root_translation": motion.local_translations[:, root_joint].astype(np.float32),
        "joint_names": np.array(sk.joint_names), "parents": np.asarray(sk.parents, dtype=np.int32),
        "offsets": np.asarray(sk.offsets, dtype=np.float32), "root_joint": np.int64(root_joint),
        "fps": np.float64(motion.fps), "meta": np.array("{}"),
    }


def lively_take(seconds: float = 4.0, seed: int = 0) -> Motion:
    """The synthetic gesture take with extra smooth turns on every joint (up to ~40 deg)."""
    from scipy.spatial.transform import Rotation

    take = make_synthetic_take(seconds, seed=seed).motion
    rng = np.random.default_rng(seed)
    n, j = take.rotations.shape[:2]
    t = np.arange(n)[:, None, None] / take.fps
    rotvec = 0.7 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0, (1, j, 3)) * t + rng.uniform(0, 6, (1, j, 3)))
    extra = Rotation.from_rotvec(rotvec.reshape(-1, 3))
    base = Rotation.from_quat(take.rotations.reshape(-1, 4)[:, [1, 2, 3, 0]])
    q = (base * extra).as_quat()[:, [3, 0, 1, 2]].reshape(n, j, 4)
    return Motion(take.skeleton, q, take.local_translations, take.fps)


def source_directions(motion: dict, times, pairs, arm_obj, model_to_rig=AXIS_MAP):
    """Expected armature-space directions of every mapped bone: the source joint's offset
    to its child towards the next mapped joint (own offset for leaves), posed by scipy FK."""
    world_rot, world_pos = fk_at_times(motion, np.asarray(times))
    names = [str(n) for n in motion["joint_names"]]
    parents = [int(p) for p in motion["parents"]]
    offsets = np.asarray(motion["offsets"], dtype=np.float64)
    joint_of = {t: names.index(s) for s, t in pairs}
    expected = {}
    for bone_name, j in joint_of.items():
        bone = arm_obj.data.bones[bone_name]
        below, stack = [], list(bone.children)
        while stack:
            c = stack.pop()
            if c.name in joint_of:
                below.append(c)
            else:
                stack.extend(c.children)
        if below:
            axis = np.array(bone.tail_local) - np.array(bone.head_local)

            def along(k):
                v = np.array(k.head_local) - np.array(bone.head_local)
                return np.dot(v, axis) / (np.linalg.norm(v) * np.linalg.norm(axis))
            c = max(below, key=along)
            k = joint_of[c.name]
            while parents[k] != j:
                k = parents[k]
            rest = offsets[k]
        else:
            kids = [k for k, p in enumerate(parents) if p == j]
            rest = offsets[kids].mean(axis=0) if kids else offsets[j]
        expected[bone_name] = np.einsum("tij,j->ti", world_rot[:, j], rest) @ model_to_rig.T
    return expected


def angle_errors(scene, arm_obj, expected, frames) -> dict:
    errors = {}
    for k, frame in enumerate(frames):
        scene.frame_set(frame)
        for name, directions in expected.items():
            posed = np.array(arm_obj.pose.bones[name].matrix)[:3, 1]
            want = directions[k] / np.linalg.norm(directions[k])
            angle = np.degrees(np.arccos(np.clip(np.dot(posed, want) / np.linalg.norm(posed), -1, 1)))
            errors[name] = max(errors.get(name, 0.0), angle)
    return errors


def rotate_chain(arm_obj, bone_names, pivot_bone, axis, degrees):
    rot = Matrix.Rotation(np.radians(degrees), 4, axis)
    bpy.context.view_layer.objects.active = arm_obj
    bpy.ops.object.mode_set(mode="EDIT")
    edit = arm_obj.data.edit_bones
    pivot = edit[pivot_bone].head.copy()
    for name in bone_names:
        bone = edit[name]
        roll = bone.roll
        bone.head = pivot + (rot @ (bone.head - pivot))
        bone.tail = pivot + (rot @ (bone.tail - pivot))
        bone.roll = roll
    bpy.ops.object.mode_set(mode="OBJECT")


def build_rig(name, bones, up_axis="Z"):
    """bones: (name, parent or None, head, tail) in a Z-up T-pose; 'Y' builds the same rig
    with Y-up armature data and an object rotation, as FBX imports do."""
    arm_data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm_data)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    to_data = np.eye(3) if up_axis == "Z" else np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
    for bone_name, parent, head, tail in bones:
        bone = arm_data.edit_bones.new(bone_name)
        bone.head = (to_data @ np.asarray(head, dtype=float)).tolist()
        bone.tail = (to_data @ np.asarray(tail, dtype=float)).tolist()
        if parent:
            bone.parent = arm_data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    if up_axis == "Y":
        obj.rotation_euler = (np.pi / 2, 0.0, 0.0)
    bpy.context.view_layer.update()
    return obj


def humanoid_bones(hips, spine, neck, head, limbs, root=None, extra=()):
    """A T-pose humanoid (metres, Z up, facing -Y). spine/neck: lists of names bottom-up;
    limbs: {slot: name} for the sided slots of bone_presets.LIMB_SLOTS."""
    bones = []
    if root:
        bones.append((root, None, (0, 0, 0), (0, 0.2, 0)))
    bones.append((hips, root, (0, 0, 1.0), (0, 0, 1.1)))
    column = [hips] + list(spine) + list(neck) + [head]
    heights = np.linspace(1.0, 1.62, len(column))
    for k, bone_name in enumerate(column[1:], start=1):
        top = heights[k + 1] if k + 1 < len(column) else heights[k] + 0.15
        bones.append((bone_name, column[k - 1], (0, 0, heights[k]), (0, 0, top)))
    chest = spine[-1] if spine else hips
    for side, sign in (("L", 1.0), ("R", -1.0)):
        def x(v):
            return sign * v
        arm = [("shoulder", chest, (x(0.02), 0, 1.45), (x(0.15), 0, 1.45)),
               ("upper_arm", "shoulder", (x(0.15), 0, 1.45), (x(0.42), 0, 1.45)),
               ("forearm", "upper_arm", (x(0.42), 0, 1.45), (x(0.67), 0, 1.45)),
               ("hand", "forearm", (x(0.67), 0, 1.45), (x(0.77), 0, 1.45)),
               ("thigh", hips, (x(0.1), 0, 0.95), (x(0.1), 0, 0.52)),
               ("shin", "thigh", (x(0.1), 0, 0.52), (x(0.1), 0, 0.1)),
               ("foot", "shin", (x(0.1), 0, 0.1), (x(0.1), -0.12, 0.02)),
               ("toe", "foot", (x(0.1), -0.12, 0.02), (x(0.1), -0.18, 0.02))]
        for slot, parent, h, t in arm:
            parent_name = limbs.get(f"{parent}.{side}", parent)
            bones.append((limbs[f"{slot}.{side}"], parent_name, h, t))
    bones.extend(extra)
    return bones


def mixamo_rig(prefix="mixamorig:", up_axis="Z", extra=()):
    names = bone_presets.PRESETS["MIXAMO"]
    limbs = {s: prefix + names[s] for s in bone_presets.SLOTS if "." in s}
    spine = [prefix + n for n in ("Spine", "Spine1", "Spine2")]
    return build_rig("Mixamo", humanoid_bones(prefix + "Hips", spine, [prefix + "Neck"], prefix + "Head", limbs,
                                              extra=extra), up_axis)


def bandai_like_source(seconds=3.0):
    """The synthetic take: its joint names are the Bandai ones (no toes, no joint_Root)."""
    motion = motion_dict(lively_take(seconds, seed=3))
    assert {"Hips", "Chest", "UpperArm_L", "LowerLeg_R"} <= set(motion["joint_names"].tolist())
    return motion


# --- (1) same skeleton, other rest pose and rolls ------------------------------------

def test_a_pose_rolled_rig_points_every_bone_where_the_source_points(scene):
    motion = motion_dict(lively_take(4.0))
    obj = armature.create_matching_armature(bpy.context, motion)
    for side, sign in (("L", 1), ("R", -1)):
        rotate_chain(obj, [f"UpperArm_{side}", f"LowerArm_{side}", f"Hand_{side}"], f"UpperArm_{side}", "Y",
                     45 * sign)
    bpy.ops.object.mode_set(mode="EDIT")
    for k, bone in enumerate(obj.data.edit_bones):
        bone.roll = 0.7 * (k + 1)
    bpy.ops.object.mode_set(mode="OBJECT")
    hand = obj.data.bones["Hand_L"]
    assert (np.array(hand.tail_local) - np.array(hand.head_local))[2] < -0.05  # arms hang at 45 degrees
    assert not retarget.is_matching_armature(obj, motion)

    pairs = [(n, n) for n in motion["joint_names"]]
    retarget.write_retargeted_motion(obj, motion, pairs, frame_start=1, scene_fps=30.0, action_name="apose")
    expected = source_directions(motion, (np.array(CHECK_FRAMES) - 1) / 30.0, pairs, obj)
    errors = angle_errors(scene, obj, expected, CHECK_FRAMES)
    print("max angle error (deg) per bone:", {k: round(v, 5) for k, v in errors.items()})
    assert len(errors) == len(motion["joint_names"])
    assert max(errors.values()) < 1.0

    # The hips follow the root translation (same leg lengths: scale cm -> m).
    _, world_pos = fk_at_times(motion, np.array([22 / 30.0]))
    scene.frame_set(23)
    np.testing.assert_allclose(np.array(obj.pose.bones["Hips"].head), AXIS_MAP @ world_pos[0, 0] * 0.01, atol=1e-4)


def test_matching_armature_keeps_the_exact_path(scene):
    motion = motion_dict(lively_take(1.0))
    obj = armature.create_matching_armature(bpy.context, motion)
    assert retarget.is_matching_armature(obj, motion)
    pairs, mapped, total = retarget.resolve_map(obj, motion)
    assert pairs is None and mapped == total == len(motion["joint_names"])


def test_y_up_fbx_style_rig_with_other_names_and_proportions(scene):
    """Mixamo names, Y-up armature data under a rotated object, 3 spine bones for 2
    source joints, other proportions: directions still match in world space."""
    motion = bandai_like_source()
    obj = mixamo_rig(up_axis="Y")
    action, message = retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="fbx",
                                            store_map=False)
    names = [str(n) for n in motion["joint_names"]]
    pairs = retarget.auto_map_armature(obj, motion)
    assert message == f"Mapped {len({s for s, _ in pairs})} of {len(names)} bones"
    world_axes = np.array(obj.matrix_world)[:3, :3] @ np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])
    expected = source_directions(motion, (np.array(CHECK_FRAMES) - 1) / 30.0, pairs, obj,
                                 model_to_rig=np.linalg.inv(np.array(obj.matrix_world)[:3, :3]) @ AXIS_MAP)
    del world_axes
    errors = angle_errors(scene, obj, expected, CHECK_FRAMES)
    print("Mixamo Y-up max angle error (deg):", round(max(errors.values()), 5))
    assert max(errors.values()) < 1.0


# --- (2) automatic matching ------------------------------------------------------------

BANDAI_NAMES = ["joint_Root", "Hips", "Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L",
                "Hand_L", "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R", "UpperLeg_L", "LowerLeg_L", "Foot_L",
                "Toes_L", "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R"]
BANDAI_PARENTS = [-1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 1, 14, 15, 16, 1, 18, 19, 20]
REQUIRED = ["neck", "head"] + [f"{s}.{side}" for side in "LR" for s in ("shoulder", "upper_arm", "forearm", "hand")]


def _limb_names(pattern):
    words = {"shoulder": "Shoulder", "upper_arm": "Arm", "forearm": "Forearm", "hand": "Hand", "thigh": "Thigh",
             "shin": "Shin", "foot": "Foot", "toe": "Toe"}
    return {f"{slot}.{side}": pattern(words[slot], side) for slot in bone_presets.LIMB_SLOTS for side in "LR"}


RIGS = {
    "mixamo": lambda: mixamo_rig(),
    "rigify_def": lambda: build_rig("Rigify", humanoid_bones(
        "DEF-spine", ["DEF-spine.001", "DEF-spine.002", "DEF-spine.003"], ["DEF-spine.004", "DEF-spine.005"],
        "DEF-spine.006", {f"{s}.{side}": f"DEF-{s}.{side}" for s in bone_presets.LIMB_SLOTS for side in "LR"},
        root="root", extra=[("torso", "root", (0, 0.3, 1.0), (0, 0.5, 1.0)), ("hips", "torso", (0, 0.3, 1.0),
                                                                              (0, 0.3, 0.9)),
                            ("chest", "torso", (0, 0.3, 1.3), (0, 0.3, 1.4)),
                            ("ORG-upper_arm.L", "root", (0.15, 0.3, 1.45), (0.42, 0.3, 1.45)),
                            ("MCH-forearm_ik.L", "root", (0.42, 0.3, 1.45), (0.6, 0.3, 1.45)),
                            ("DEF-upper_arm.L.001", "DEF-upper_arm.L", (0.3, 0.0, 1.45), (0.42, 0, 1.45))])),
    "arm_left": lambda: build_rig("Custom", humanoid_bones(
        "Pelvis", ["Torso_Lower", "Torso_Upper"], ["Neck"], "Head", _limb_names(lambda w, s: f"{w}_{'Left' if s == 'L' else 'Right'}"))),
    "l_arm": lambda: build_rig("Custom2", humanoid_bones(
        "hip", ["spine1", "spine2"], ["neck"], "head", _limb_names(lambda w, s: f"{s.lower()}_{w.lower()}"))),
    "unreal": lambda: build_rig("Unreal", humanoid_bones(
        "pelvis", [f"spine_0{k}" for k in range(1, 6)], ["neck_01", "neck_02"], "head",
        {s: n for s, n in bone_presets.PRESETS["UNREAL"].items() if "." in s},
        root="root", extra=[("upperarm_twist_01_l", "upperarm_l", (0.3, 0, 1.45), (0.4, 0, 1.45))])),
    "vrm": lambda: build_rig("VRoid", humanoid_bones(
        "J_Bip_C_Hips", ["J_Bip_C_Spine", "J_Bip_C_Chest", "J_Bip_C_UpperChest"], ["J_Bip_C_Neck"], "J_Bip_C_Head",
        {s: n for s, n in bone_presets.PRESETS["VRM"].items() if "." in s}, root="Root")),
}


@pytest.mark.parametrize("rig", sorted(RIGS))
def test_auto_map_needs_no_user_input(scene, rig):
    obj = RIGS[rig]()
    target_names, target_parents = armature.armature_hierarchy(obj)
    target_slots = bone_presets.detect_slots(target_names, target_parents)
    pairs = dict(bone_presets.auto_map(BANDAI_NAMES, BANDAI_PARENTS, target_names, target_parents))
    source_slots = bone_presets.PRESETS["BANDAI"]
    for slot in REQUIRED + ["hips", "thigh.L", "shin.R", "foot.L"]:
        assert pairs.get(source_slots[slot]) == target_slots[slot], (rig, slot, pairs)
    # Hand-written expectations for the names that tell the schemes apart.
    spot = {"mixamo": ("UpperArm_L", "mixamorig:LeftArm"), "rigify_def": ("Hips", "DEF-spine"),
            "arm_left": ("UpperArm_R", "Arm_Right"), "l_arm": ("LowerArm_L", "l_forearm"),
            "unreal": ("LowerLeg_R", "calf_r"), "vrm": ("Hand_R", "J_Bip_R_Hand")}[rig]
    assert pairs[spot[0]] == spot[1]
    # Both spine joints land on the target's spine chain, bottom to bottom.
    chain = bone_presets.spine_chain(target_names, target_parents, target_slots)
    assert pairs["Spine"] == chain[0] and pairs["Chest"] == chain[-1]
    assert "joint_Root" not in pairs


def test_zeggs_spine_and_neck_chains_map_by_position():
    zeggs = ["Hips", "Spine", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head", "LeftShoulder", "LeftArm",
             "LeftForeArm", "LeftHand", "RightShoulder", "RightArm", "RightForeArm", "RightHand"]
    parents = [-1, 0, 1, 2, 3, 4, 5, 6, 4, 8, 9, 10, 4, 12, 13, 14]
    pairs = dict(bone_presets.auto_map(zeggs, parents, BANDAI_NAMES, BANDAI_PARENTS))
    assert pairs["Spine"] == "Spine" and pairs["Spine3"] == "Chest" and "Spine1" not in pairs
    assert pairs["Neck"] == "Neck" and pairs["Head"] == "Head" and "Neck1" not in pairs
    assert pairs["LeftForeArm"] == "LowerArm_L" and pairs["RightHand"] == "Hand_R"


# --- (3) a BVH imported by Blender's own importer -------------------------------------

def test_blender_imported_bvh_of_another_skeleton_is_a_target(scene, tmp_path):
    """An A-posed skeleton with ZEGGS/Mixamo-style names, written with core.bvh and imported
    with bpy.ops.import_anim.bvh (centimetre units, its own bone tails)."""
    take = make_synthetic_take(2.0, seed=5).motion
    sk = take.skeleton
    zeggs_names = {"Chest": "Spine1", "Shoulder_L": "LeftShoulder", "UpperArm_L": "LeftArm",
                   "LowerArm_L": "LeftForeArm", "Hand_L": "LeftHand", "UpperLeg_L": "LeftUpLeg",
                   "LowerLeg_L": "LeftLeg", "Foot_L": "LeftFoot"}
    zeggs_names.update({k[:-1] + "R": "Right" + v[4:] for k, v in list(zeggs_names.items()) if k.endswith("_L")})
    offsets = sk.offsets.copy()
    c, s = np.cos(np.radians(40)), np.sin(np.radians(40))
    for name in ("LowerArm_L", "Hand_L", "LowerArm_R", "Hand_R"):
        x = offsets[sk.index(name), 0]
        offsets[sk.index(name)] = (x * c, -abs(x) * s, 0.0)
    target_sk = Skeleton("zeggs-like", [zeggs_names.get(n, n) for n in sk.joint_names], sk.parents, offsets * 1.1,
                         sk.channels, {})
    bvh_path = tmp_path / "apose.bvh"
    translations = np.broadcast_to(target_sk.offsets, (2,) + offsets.shape).copy()
    write_bvh(bvh_path, Motion(target_sk, take.rotations[:2], translations, take.fps))
    assert read_bvh(bvh_path).skeleton.joint_names == target_sk.joint_names
    bpy.ops.import_anim.bvh(filepath=str(bvh_path))
    obj = bpy.context.object
    assert obj.type == "ARMATURE" and "LeftForeArm" in obj.data.bones

    motion = motion_dict(lively_take(3.0, seed=1))
    action, message = retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="bvh",
                                            store_map=False)
    assert message == f"Mapped {len(sk.joint_names)} of {len(sk.joint_names)} bones"
    pairs = retarget.auto_map_armature(obj, motion)
    expected = source_directions(motion, (np.array(CHECK_FRAMES) - 1) / 30.0, pairs, obj)
    errors = angle_errors(scene, obj, expected, CHECK_FRAMES)
    print("imported BVH max angle error (deg):", round(max(errors.values()), 5))
    assert max(errors.values()) < 1.0
    # Root translation scaled by the leg-length (hip height) ratio 1.1 into the rig's centimetres.
    _, world_pos = fk_at_times(motion, np.array([0.0, 2.0]))
    scene.frame_set(1)
    first = np.array(obj.pose.bones["Hips"].head)
    scene.frame_set(61)
    moved = np.array(obj.pose.bones["Hips"].head) - first
    np.testing.assert_allclose(moved, 1.1 * AXIS_MAP @ (world_pos[1, 0] - world_pos[0, 0]), atol=1e-3)


# --- the real Bandai rest pose (every bone collapsed along X, frames twisted) ---------

def _bandai_motion(path, frames=120) -> dict:
    clip = read_bvh(path)
    sk = clip.skeleton
    hips = sk.index("Hips")
    offsets = clip.local_translations[0].copy()
    trimmed = Motion(Skeleton(sk.name, sk.joint_names, sk.parents, offsets), clip.rotations[:frames],
                     clip.local_translations[:frames], clip.fps)
    return motion_dict(trimmed, root_joint=hips)


def _angle(a, b) -> float:
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1))))


def test_real_bandai_clip_on_a_t_pose_rig_keeps_torso_and_hips_facing(scene, bandai_dir):
    """Bandai's identity pose is not a T-pose (the spine's frame is the hips' turned 90
    degrees about the bone): directions must match, and the rig's shoulder and hip lines
    must follow the source's (no 90 degree torso twist)."""
    clip = next(iter(sorted(bandai_dir.glob("**/dataset-1_bow_normal_001.bvh"))), None) or \
        next(iter(sorted(bandai_dir.glob("**/*.bvh"))))
    motion = _bandai_motion(clip)
    obj = mixamo_rig()
    action, message = retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="bandai",
                                            store_map=False)
    print(message)
    pairs = retarget.auto_map_armature(obj, motion)
    frames = [1, 30, 60, 90, 120]
    expected = source_directions(motion, (np.array(frames) - 1) / 30.0, pairs, obj)
    errors = angle_errors(scene, obj, expected, frames)
    print("Bandai max angle error (deg):", round(max(errors.values()), 5))
    assert max(errors.values()) < 1.0

    _, world_pos = fk_at_times(motion, (np.array(frames) - 1) / 30.0)
    names = [str(n) for n in motion["joint_names"]]
    worst = {"chest": 0.0, "spine": 0.0, "hips": 0.0, "feet": 0.0}
    for k, frame in enumerate(frames):
        scene.frame_set(frame)

        def src(a, b):
            return AXIS_MAP @ (world_pos[k, names.index(a)] - world_pos[k, names.index(b)])

        def posed_left(bone_name):
            """Where the bone's pose has turned the rig's rest left axis (+X)."""
            rest = np.array(obj.data.bones[bone_name].matrix_local)[:3, :3]
            return np.array(obj.pose.bones[bone_name].matrix)[:3, :3] @ rest.T @ np.array([1.0, 0, 0])
        shoulders, thighs = src("UpperArm_L", "UpperArm_R"), src("UpperLeg_L", "UpperLeg_R")
        for key, bone_name, line in (("chest", "mixamorig:Spine2", shoulders), ("spine", "mixamorig:Spine", shoulders),
                                     ("hips", "mixamorig:Hips", thighs), ("feet", "mixamorig:LeftFoot", thighs)):
            worst[key] = max(worst[key], _angle(posed_left(bone_name), line))
    print("Bandai worst left-axis angles (deg):", {k: round(v, 2) for k, v in worst.items()})
    assert worst["chest"] < 20 and worst["spine"] < 25 and worst["hips"] < 20 and worst["feet"] < 35


# --- (4) long motion, big rig: the bulk keyframe path ----------------------------------

def mixamo_finger_bones(preset: str = "MIXAMO", prefix: str = "mixamorig:") -> list:
    """Three segments per finger after each hand, spread front to back (metres, Z up),
    named as ``preset`` names them (bone_presets.FINGER_PRESETS)."""
    body, fingers = bone_presets.PRESETS[preset], bone_presets.FINGER_PRESETS[preset]
    extra = []
    for side, sign in (("L", 1), ("R", -1)):
        for f, finger in enumerate(bone_presets.FINGERS):
            parent = prefix + body[f"hand.{side}"]
            for k in range(1, 4):
                name = prefix + fingers[f"{finger}{k}.{side}"]
                x0 = sign * (0.77 + 0.03 * (k - 1))
                extra.append((name, parent, (x0, 0.02 * f - 0.04, 1.45), (x0 + sign * 0.03, 0.02 * f - 0.04, 1.45)))
                parent = name
    return extra


def test_sixty_seconds_onto_a_sixty_bone_rig_uses_bulk_keys(scene, monkeypatch):
    extra = mixamo_finger_bones()
    for side, sign in (("Left", 1), ("Right", -1)):
        for k in range(4):
            extra.append((f"{side}Twist{k}", f"mixamorig:{side}Arm", (sign * 0.2, 0, 1.45), (sign * 0.3, 0, 1.45)))
    obj = mixamo_rig(extra=extra)
    assert len(obj.data.bones) == 60
    motion = motion_dict(lively_take(60.0, seed=2))
    assert len(motion["rotations"]) == 1800

    written = []
    bulk = keyframes._KeyBuffers.key

    def counting(buffers, fcurve, values):
        written.append(len(values))
        bulk(buffers, fcurve, values)
    monkeypatch.setattr(keyframes._KeyBuffers, "key", counting)
    start = time.perf_counter()
    action, message = retarget.apply_motion(obj, motion, frame_start=1, scene_fps=30.0, action_name="long",
                                            store_map=False)
    seconds = time.perf_counter() - start
    print(f"retargeted 1800 frames onto 60 bones in {seconds:.2f} s ({message})")
    from test_keyframes import _fcurves
    fcurves = _fcurves(action, obj)
    # Every F-curve of the action was filled by the bulk writer, all 1800 keys at once.
    assert len(written) == len(fcurves) == 4 * 19 + 3
    assert set(written) == {1800} and all(len(fc.keyframe_points) == 1800 for fc in fcurves)


# --- (5) the stored map: JSON round trip, .blend round trip, operators ----------------

def test_bone_map_json_round_trip_and_errors(tmp_path):
    pairs = [("Hips", "mixamorig:Hips"), ("UpperArm_L", "mixamorig:LeftArm"), ("Spine", "spine.001"),
             ("Spine", "spine.002")]
    path = tmp_path / "maps" / "rig.json"
    retarget.write_map_json(path, pairs, "bandai")
    assert retarget.read_map_json(path) == pairs
    assert json.loads(path.read_text())["format"] == retarget.JSON_FORMAT
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"Hips": "pelvis", "Head": "head"}))
    assert retarget.read_map_json(plain) == [("Hips", "pelvis"), ("Head", "head")]
    for bad in ("{not json", json.dumps({"pairs": [{"source": 1}]}), "[1, 2]"):
        broken = tmp_path / "broken.json"
        broken.write_text(bad)
        with pytest.raises(retarget.BoneMapError):
            retarget.read_map_json(broken)


def test_stored_map_survives_save_and_reload_and_operators_edit_it(registered, tmp_path, monkeypatch):
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    scene = reset_blender()
    obj = mixamo_rig()
    scene.ohgesture.armature = obj
    assert bpy.ops.ohgesture.bone_map_auto() == {"FINISHED"}
    auto = retarget.stored_pairs(obj)
    assert ("LeftArm", "mixamorig:LeftArm") in auto and ("Hips", "mixamorig:Hips") in auto
    obj.ohgesture_bone_map[0].target = "mixamorig:Spine1"  # a user edit in the list
    assert bpy.ops.ohgesture.bone_map_add() == {"FINISHED"}
    obj.ohgesture_bone_map[-1].source, obj.ohgesture_bone_map[-1].target = "Head", "mixamorig:Neck"
    edited = retarget.stored_pairs(obj)

    exported = tmp_path / "map.json"
    assert bpy.ops.ohgesture.bone_map_export(filepath=str(exported)) == {"FINISHED"}
    assert retarget.read_map_json(exported) == edited
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    obj = bpy.data.objects["Mixamo"]
    assert retarget.stored_pairs(obj) == edited

    assert bpy.ops.ohgesture.bone_map_clear() == {"FINISHED"}
    assert retarget.stored_pairs(obj) == []
    assert bpy.ops.ohgesture.bone_map_import(filepath=str(exported)) == {"FINISHED"}
    assert retarget.stored_pairs(obj) == edited


def test_generate_maps_a_foreign_rig_automatically_and_reports_it(registered, tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from ohgesture.ohgesture_addon import session as generation_session
    from blender_util import add_sound_strip, write_wav

    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    scene = reset_blender()
    wav = tmp_path / "speech.wav"
    write_wav(wav, 1.0)
    add_sound_strip(scene, wav, frame_start=1)
    obj = mixamo_rig()
    scene.ohgesture.armature = obj
    fake = str(Path(__file__).resolve().parent / "fake_generate.py")
    session = generation_session.start_session(bpy.context, entry_script=fake, python=sys.executable)
    reports = []
    assert session.run_blocking(lambda kind, text: reports.append(text), timeout=120) == {"FINISHED"}
    generation_session.update_status(bpy.context, None)
    assert "Mapped 7 of 7 bones" in reports
    assert len(retarget.stored_pairs(obj)) == 7  # stored for editing in the panel
    assert obj.animation_data.action is not None
    scene.frame_set(10)
    assert not np.allclose(np.array(obj.pose.bones["mixamorig:LeftArm"].matrix_basis), np.eye(4))
