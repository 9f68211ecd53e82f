"""Put model motion onto any humanoid armature: bone map (stored on the object, JSON
import/export, automatic matching) and rest-pose-aware rotation transfer.

Transfer, per mapped bone b driven by joint j, all in the target's armature space:
- D_j(f): the joint's world rotation relative to its rest (BVH rest = identity), carried
  from the model's axes (left +X, up +Y) onto the rig's left/up directions, so Y-up FBX
  rigs, Z-up rigs and rigs facing either way all work;
- G_b: the rest alignment taking the source rest bone (offset to the child towards the
  next mapped joint) onto the target rest bone (head to the next mapped bone's head, else
  head to tail). Its twist keeps the body's left-right axis for torso and leg bones
  (measured in the joint's own frame over the motion, because a BVH rest such as
  Bandai's, with every bone collapsed along X, says nothing about it) and is the
  smallest rotation for arm bones (so T-pose/A-pose differences add no twist);
- the target bone's world rotation is D_j(f) G_b^-1 Q_b, so it points where the source
  bone points in every frame, whatever either rest pose and the bone rolls are.
Unmapped target bones keep their rest; source joints without a bone still turn their
mapped descendants (world-space transfer). Root translation scales with the ratio of
leg lengths (hip heights).
"""

from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from . import bone_presets, keyframes, posemath

MAP_PROPERTY = "ohgesture_bone_map"
MAP_INDEX_PROPERTY = "ohgesture_bone_map_index"
JSON_FORMAT = "ohgesture-bone-map"
MATCHING_TOLERANCE_DEG = 1.0


class BoneMapError(ValueError):
    """The bone map is unusable or its file is malformed."""


# --- hierarchies -----------------------------------------------------------------------

def armature_hierarchy(arm_obj) -> tuple[list[str], list[int]]:
    """Bone names (parents first) and parent indices."""
    bones = keyframes._bones_parents_first(arm_obj)
    index = {bone.name: i for i, bone in enumerate(bones)}
    return [b.name for b in bones], [index[b.parent.name] if b.parent else -1 for b in bones]


def skeleton_hierarchy(skeleton) -> tuple[list[str], list[int]]:
    names = [str(n) for n in np.asarray(skeleton["joint_names"]).tolist()]
    parents = [int(p) for p in np.asarray(skeleton["parents"]).reshape(-1)]
    return names, parents


def auto_map_armature(arm_obj, skeleton, target_preset: str | None = None) -> list[tuple[str, str]]:
    source_names, source_parents = skeleton_hierarchy(skeleton)
    target_names, target_parents = armature_hierarchy(arm_obj)
    return bone_presets.auto_map(source_names, source_parents, target_names, target_parents,
                                 target_preset=target_preset)


def is_matching_armature(arm_obj, skeleton) -> bool:
    """True when the armature has a bone per joint with the model's rest pose (bone heads
    along the joints' offsets), so the exact same-skeleton path applies."""
    names, parents = skeleton_hierarchy(skeleton)
    bones = arm_obj.data.bones
    if any(name not in bones for name in names):
        return False
    offsets = np.asarray(skeleton["offsets"], dtype=np.float64)
    cos_tolerance = np.cos(np.radians(MATCHING_TOLERANCE_DEG))
    for j, p in enumerate(parents):
        if p < 0:
            continue
        expected = posemath._unit(posemath.AXIS_MAP @ offsets[j])
        actual = posemath._unit(np.array(bones[names[j]].head_local) - np.array(bones[names[p]].head_local))
        if expected is None and actual is None:
            continue
        if expected is None or actual is None or np.dot(expected, actual) < cos_tolerance:
            return False
    return True


# --- the map stored on the object ------------------------------------------------------

def _clean_pairs(pairs) -> list[tuple[str, str]]:
    return [(str(s), str(t)) for s, t in pairs if str(s) and str(t)]


def stored_pairs(arm_obj) -> list[tuple[str, str]]:
    """The object's map; read from the raw ID property when the add-on's property is not
    registered (batch runs), which holds the same data."""
    collection = getattr(arm_obj, MAP_PROPERTY, None)
    if collection is None:
        raw = arm_obj.get(MAP_PROPERTY) or []
        return _clean_pairs((item.get("source", ""), item.get("target", "")) for item in raw)
    return _clean_pairs((item.source, item.target) for item in collection)


def store_pairs(arm_obj, pairs) -> None:
    """Replace the object's stored map (saved with the .blend)."""
    pairs = _clean_pairs(pairs)
    collection = getattr(arm_obj, MAP_PROPERTY, None)
    if collection is None:
        arm_obj[MAP_PROPERTY] = [{"source": s, "target": t} for s, t in pairs]
        return
    collection.clear()
    for source, target in pairs:
        item = collection.add()
        item.source, item.target = source, target


def map_to_json_text(pairs, source_skeleton_name: str = "") -> str:
    data = {"format": JSON_FORMAT, "version": 1, "source_skeleton": source_skeleton_name,
            "pairs": [{"source": s, "target": t} for s, t in _clean_pairs(pairs)]}
    return json.dumps(data, indent=2) + "\n"


def write_map_json(path, pairs, source_skeleton_name: str = "") -> None:
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ohgesture_map_", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(map_to_json_text(pairs, source_skeleton_name))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_map_json(path) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise BoneMapError(f"Cannot read the bone map {path}: {exc}") from None
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if isinstance(data, dict) and pairs is None and all(isinstance(v, str) for v in data.values()):
        pairs = [{"source": k, "target": v} for k, v in data.items()]  # plain {joint: bone}
    if not isinstance(pairs, list) or not all(
            isinstance(p, dict) and isinstance(p.get("source"), str) and isinstance(p.get("target"), str)
            for p in pairs):
        raise BoneMapError(f"The bone map {path} does not hold a list of source/target pairs.")
    return _clean_pairs((p["source"], p["target"]) for p in pairs)


def resolve_map(arm_obj, skeleton, *, store: bool = True):
    """(pairs or None for the exact same-skeleton path, mapped joint count, joint count).
    A stored map wins; else a matching armature needs none; else auto-map (and store)."""
    names, _ = skeleton_hierarchy(skeleton)
    pairs = stored_pairs(arm_obj)
    if not pairs:
        if is_matching_armature(arm_obj, skeleton):
            return None, len(names), len(names)
        pairs = auto_map_armature(arm_obj, skeleton)
        if store:
            store_pairs(arm_obj, pairs)
    elif all(s == t for s, t in pairs) and is_matching_armature(arm_obj, skeleton):
        return None, len(names), len(names)
    bones = arm_obj.data.bones
    mapped = {s for s, t in pairs if s in names and t in bones}
    return pairs, len(mapped), len(names)


# --- rotation transfer -----------------------------------------------------------------

def _mapped_descendants(b, children, bone_joint) -> list[int]:
    found, stack = [], list(children[b])
    while stack:
        c = stack.pop()
        if bone_joint[c] >= 0:
            found.append(c)
        else:
            stack.extend(children[c])
    return found


def _chain_child(candidates, heads, head, tail) -> int:
    """The mapped descendant lying most nearly along the bone (hips: the spine, not a thigh)."""
    axis = posemath._unit(tail - head)

    def alignment(k):
        towards = posemath._unit(heads[k] - head)
        return -2.0 if towards is None or axis is None else float(np.dot(towards, axis))
    return max(candidates, key=alignment)


def _child_towards(j, descendant, parents) -> int | None:
    k = descendant
    while k >= 0 and parents[k] != j:
        k = parents[k]
    return k if k >= 0 else None


def _joint_subtree(roots, parents) -> set:
    inside = set(roots)
    for j, p in enumerate(parents):
        if p in inside:
            inside.add(j)
    return inside


def retarget_channels(arm_obj, motion: dict, pairs, *, scene_fps: float, max_frames=None):
    """``keyframes.pose_channels``-style channels putting the motion on a rig with its own
    rest pose through the (source joint, target bone) pairs."""
    motion = keyframes.validate_motion(motion)
    joint_names, parent_list = skeleton_hierarchy(motion)
    parents = np.array(parent_list, dtype=np.int64)
    offsets = np.asarray(motion["offsets"], dtype=np.float64)
    root_joint = int(motion["root_joint"])
    joint_index = {n: j for j, n in enumerate(joint_names)}

    bones = keyframes._bones_parents_first(arm_obj)
    names = [bone.name for bone in bones]
    index_of = {name: b for b, name in enumerate(names)}
    bone_parent = [index_of[bone.parent.name] if bone.parent else -1 for bone in bones]
    children = [[] for _ in bones]
    for b, pb in enumerate(bone_parent):
        if pb >= 0:
            children[pb].append(b)
    rest = np.array([np.array(bone.matrix_local) for bone in bones])
    rest_rot = rest[:, :3, :3] / np.linalg.norm(rest[:, :3, :3], axis=1, keepdims=True)
    rest_head = rest[:, :3, 3]
    rest_tail = np.array([np.array(bone.tail_local) for bone in bones])

    bone_joint = [-1] * len(bones)
    for source, target in _clean_pairs(pairs):
        if source in joint_index and target in index_of:
            bone_joint[index_of[target]] = joint_index[source]
    if not any(j >= 0 for j in bone_joint):
        raise BoneMapError(f"No pair of the bone map names both a joint of the motion and a bone of "
                           f"'{arm_obj.name}'; run Auto-Map or edit the map.")
    bone_of_joint = {}
    for b, j in enumerate(bone_joint):
        bone_of_joint.setdefault(j, b)

    source_slots = bone_presets.detect_slots(joint_names, parent_list)
    slot_joint = {slot: joint_index[name] for slot, name in source_slots.items()}
    rest_source = posemath.rest_positions(parents, offsets)

    def target_vector(slot_a, slot_b):
        a, b = bone_of_joint.get(slot_joint.get(slot_a)), bone_of_joint.get(slot_joint.get(slot_b))
        return None if a is None or b is None else rest_head[a] - rest_head[b]

    def first_vector(candidates):
        return next((v for v in (target_vector(a, b) for a, b in candidates) if v is not None), None)

    lower_pairs = [("thigh.L", "thigh.R"), ("shin.L", "shin.R"), ("foot.L", "foot.R")]
    upper_pairs = [("upper_arm.L", "upper_arm.R"), ("shoulder.L", "shoulder.R"), ("forearm.L", "forearm.R")]
    target_left_lower = first_vector(lower_pairs)
    target_left_upper = first_vector(upper_pairs)
    target_up = first_vector([("neck", "hips"), ("head", "hips"), ("chest", "hips"), ("head", "spine")])
    frame = posemath.character_frame(
        target_left_upper if target_left_upper is not None else target_left_lower, target_up)
    model_to_rig = frame if frame is not None else posemath.AXIS_MAP

    positions = posemath.resample_times(len(motion["rotations"]), float(motion["fps"]), scene_fps, max_frames)
    rotations, root_translation = posemath.resample_motion_arrays(
        posemath.normalize_quats(motion["rotations"]),
        np.asarray(motion["root_translation"], dtype=np.float64), positions)
    world_rot, world_pos = posemath.forward_kinematics(rotations, parents, offsets, root_joint, root_translation)
    source_delta = model_to_rig @ world_rot @ model_to_rig.T
    world_pos_rig = world_pos @ model_to_rig.T
    rest_source_rig = rest_source @ model_to_rig.T

    def source_left(candidates):
        for a, b in candidates:
            if a in slot_joint and b in slot_joint:
                return world_pos_rig[:, slot_joint[a]] - world_pos_rig[:, slot_joint[b]]
        return None

    source_left_lower, source_left_upper = source_left(lower_pairs), source_left(upper_pairs)
    lower_joints = _joint_subtree([slot_joint[s] for s in ("thigh.L", "thigh.R") if s in slot_joint], parent_list)
    lower_joints |= {slot_joint["hips"]} if "hips" in slot_joint else set()
    # Arms swing far from the body's axes, so their twist comes from the smallest rotation.
    arm_joints = _joint_subtree([slot_joint[f"{s}.{side}"] for s in ("shoulder", "upper_arm") for side in "LR"
                                 if f"{s}.{side}" in slot_joint], parent_list)

    align = np.repeat(np.eye(3)[None], len(bones), axis=0)
    for b, j in enumerate(bone_joint):
        if j < 0:
            continue
        descendants = _mapped_descendants(b, children, bone_joint)
        target_dir = source_vec = None
        if descendants:
            c = _chain_child(descendants, rest_head, rest_head[b], rest_tail[b])
            target_dir = rest_head[c] - rest_head[b]
            child = _child_towards(j, bone_joint[c], parent_list)
            if child is not None:
                source_vec = offsets[child] if np.linalg.norm(offsets[child]) > 1e-6 else \
                    rest_source[bone_joint[c]] - rest_source[j]
        if target_dir is None or np.linalg.norm(target_dir) < 1e-9:
            target_dir = rest_tail[b] - rest_head[b]
        if source_vec is None or np.linalg.norm(source_vec) < 1e-9:
            kids = np.flatnonzero(parents == j)
            mean_child = offsets[kids].mean(axis=0) if len(kids) else np.zeros(3)
            source_vec = mean_child if np.linalg.norm(mean_child) > 1e-6 else (
                offsets[j] if parents[j] >= 0 else np.array([0.0, 1.0, 0.0]))
        lower = j in lower_joints
        src_left = source_left_lower if lower else source_left_upper
        tgt_left = target_left_lower if lower else target_left_upper
        if src_left is None or tgt_left is None:
            src_left, tgt_left = (source_left_upper, target_left_upper) if lower else \
                (source_left_lower, target_left_lower)
        source_side = None
        if src_left is not None and tgt_left is not None and j not in arm_joints:
            unit_left = src_left / np.maximum(np.linalg.norm(src_left, axis=1, keepdims=True), 1e-12)
            # The body's left axis seen from the joint's rest frame, averaged over the motion.
            source_side = np.einsum("fji,fj->i", source_delta[:, j], unit_left) / len(unit_left)
        align[b] = posemath.rest_alignment(model_to_rig @ source_vec, target_dir, source_side, tgt_left)

    scale = _translation_scale(slot_joint, bone_of_joint, rest_head, rest_source, bone_joint, children)
    root_heads = {}
    for b, j in enumerate(bone_joint):
        if j < 0:
            continue
        ancestor = bone_parent[b]
        while ancestor >= 0 and bone_joint[ancestor] < 0:
            ancestor = bone_parent[ancestor]
        if ancestor < 0:
            root_heads[b] = scale * (world_pos_rig[:, j] - rest_source_rig[j])
    basis_q, basis_loc = posemath.retarget_pose_basis(
        source_delta, bone_joint, bone_parent, align, rest_rot, root_heads)
    keyed = [j >= 0 for j in bone_joint]
    keyed_location = [b in root_heads for b in range(len(bones))]
    return names, basis_q, basis_loc, keyed, keyed_location, len(positions)


def _translation_scale(slot_joint, bone_of_joint, rest_head, rest_source, bone_joint, children) -> float:
    """Target units per source unit: the ratio of leg lengths (thigh + shin), i.e. of hip
    heights; else the median ratio of mapped segment lengths; else cm -> m."""
    ratios = []
    for side in "LR":
        joints = [slot_joint.get(f"{s}.{side}") for s in ("thigh", "shin", "foot")]
        bones = [bone_of_joint.get(j) for j in joints]
        if None in joints or None in bones:
            continue
        source = sum(np.linalg.norm(rest_source[joints[k + 1]] - rest_source[joints[k]]) for k in range(2))
        target = sum(np.linalg.norm(rest_head[bones[k + 1]] - rest_head[bones[k]]) for k in range(2))
        if source > 1e-9 and target > 1e-9:
            ratios.append(target / source)
    if not ratios:
        for b, j in enumerate(bone_joint):
            for c in (_mapped_descendants(b, children, bone_joint) if j >= 0 else []):
                source = np.linalg.norm(rest_source[bone_joint[c]] - rest_source[j])
                if source > 1e-6:
                    ratios.append(np.linalg.norm(rest_head[c] - rest_head[b]) / source)
    return float(np.median(ratios)) if ratios else posemath.CENTIMETRES_TO_METRES


def write_retargeted_motion(arm_obj, motion: dict, pairs, *, frame_start: float, scene_fps: float,
                            action_name: str, max_frames=None):
    channels = retarget_channels(arm_obj, motion, pairs, scene_fps=scene_fps, max_frames=max_frames)
    return keyframes.write_channels(arm_obj, channels, frame_start=frame_start, action_name=action_name,
                                    reset_unkeyed=True)


def apply_motion(arm_obj, motion: dict, *, frame_start: float, scene_fps: float, action_name: str,
                 max_frames=None, store_map: bool = True):
    """Key the motion onto any armature: the exact path for the model's own armature, the
    retargeting path (stored or automatic map) otherwise. Returns (action, message)."""
    motion = keyframes.validate_motion(motion)
    pairs, mapped, total = resolve_map(arm_obj, motion, store=store_map)
    if pairs is None:
        action = keyframes.write_motion_to_armature(arm_obj, motion, frame_start=frame_start, scene_fps=scene_fps,
                                                    action_name=action_name, max_frames=max_frames)
    else:
        if mapped == 0:
            raise BoneMapError(f"No bone of '{arm_obj.name}' could be matched to the model's skeleton; "
                               f"edit the bone map in the OHGesture panel.")
        action = write_retargeted_motion(arm_obj, motion, pairs, frame_start=frame_start, scene_fps=scene_fps,
                                         action_name=action_name, max_frames=max_frames)
    return action, f"Mapped {mapped} of {total} bones"
