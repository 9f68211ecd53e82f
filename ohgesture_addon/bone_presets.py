"""Humanoid slots, built-in skeleton presets and automatic bone matching (pure Python).

A skeleton's joints are matched to canonical humanoid *slots* (hips, spine, neck,
upper_arm.L, ...). Two skeletons are then paired slot by slot; the spine chain (the
joints between the hips and the neck) is paired by relative position along the chain,
so a 2-joint spine drives a 4-bone spine and the other way round.

Slot detection tries the built-in presets first (exact names after dropping a
``namespace:``), then a generic matcher that normalises names: prefixes such as
``mixamorig:``, ``DEF-``, ``ORG-``, ``MCH-``, ``J_Bip_``, ``Bip01``; side markers Left/L/.L/
_l/l_/Right/...; case and camelCase; synonyms (clavicle = shoulder, calf = shin, ...).

The fingers have slots of their own (``FINGER_SLOTS``, three segments per finger, thumb to
little finger) with presets apart from the body's (``FINGER_PRESETS``), so a rig or a
take without fingers still matches its preset and simply pairs no finger.
"""

from __future__ import annotations

import re

CENTRE_SLOTS = ("hips", "spine", "chest", "upper_chest", "neck", "head")
LIMB_SLOTS = ("shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe")
SLOTS = CENTRE_SLOTS + tuple(f"{limb}.{side}" for side in "LR" for limb in LIMB_SLOTS)
SPINE_SLOTS = ("spine", "chest", "upper_chest")
# The fingers: three segments each (no metacarpals, no end joints), "index1.L" .. "pinky3.R".
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
FINGER_SLOTS = tuple(f"{finger}{k}.{side}" for side in "LR" for finger in FINGERS for k in (1, 2, 3))


def _sided(left: dict, right_of) -> dict:
    """A preset's left-side names plus the right side made by ``right_of``."""
    slots = dict(left)
    for slot, name in left.items():
        if slot.endswith(".L"):
            slots[slot[:-2] + ".R"] = right_of(name)
    return slots


def _limbs(names, suffix_l):
    return {f"{limb}.L": name + suffix_l for limb, name in zip(LIMB_SLOTS, names)}


PRESETS = {
    "BANDAI": _sided({
        "hips": "Hips", "spine": "Spine", "chest": "Chest", "neck": "Neck", "head": "Head",
        **_limbs(["Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes"], "_L"),
    }, lambda n: n[:-2] + "_R"),
    "ZEGGS": _sided({
        "hips": "Hips", "spine": "Spine", "chest": "Spine2", "upper_chest": "Spine3", "neck": "Neck", "head": "Head",
        **{f"{limb}.L": "Left" + n for limb, n in zip(LIMB_SLOTS, [
            "Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase"])},
    }, lambda n: "Right" + n[4:]),
    "MIXAMO": _sided({
        "hips": "Hips", "spine": "Spine", "chest": "Spine1", "upper_chest": "Spine2", "neck": "Neck", "head": "Head",
        **{f"{limb}.L": "Left" + n for limb, n in zip(LIMB_SLOTS, [
            "Shoulder", "Arm", "ForeArm", "Hand", "UpLeg", "Leg", "Foot", "ToeBase"])},
    }, lambda n: "Right" + n[4:]),
    "RIGIFY_DEF": _sided({
        "hips": "DEF-spine", "spine": "DEF-spine.001", "chest": "DEF-spine.002", "upper_chest": "DEF-spine.003",
        "neck": "DEF-spine.004", "head": "DEF-spine.006",
        **{f"{limb}.L": f"DEF-{limb}.L" for limb in LIMB_SLOTS},
    }, lambda n: n[:-2] + ".R"),
    "RIGIFY_METARIG": _sided({
        "hips": "spine", "spine": "spine.001", "chest": "spine.002", "upper_chest": "spine.003",
        "neck": "spine.004", "head": "spine.006",
        **{f"{limb}.L": f"{limb}.L" for limb in LIMB_SLOTS},
    }, lambda n: n[:-2] + ".R"),
    "UNREAL": _sided({
        "hips": "pelvis", "spine": "spine_01", "chest": "spine_02", "upper_chest": "spine_03", "neck": "neck_01",
        "head": "head",
        **_limbs(["clavicle", "upperarm", "lowerarm", "hand", "thigh", "calf", "foot", "ball"], "_l"),
    }, lambda n: n[:-2] + "_r"),
    "VRM": _sided({
        "hips": "J_Bip_C_Hips", "spine": "J_Bip_C_Spine", "chest": "J_Bip_C_Chest",
        "upper_chest": "J_Bip_C_UpperChest", "neck": "J_Bip_C_Neck", "head": "J_Bip_C_Head",
        **{f"{limb}.L": "J_Bip_L_" + n for limb, n in zip(LIMB_SLOTS, [
            "Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "ToeBase"])},
    }, lambda n: n.replace("J_Bip_L_", "J_Bip_R_")),
    "VRM_HUMANOID": _sided({
        "hips": "hips", "spine": "spine", "chest": "chest", "upper_chest": "upperChest", "neck": "neck",
        "head": "head",
        **{f"{limb}.L": "left" + n for limb, n in zip(LIMB_SLOTS, [
            "Shoulder", "UpperArm", "LowerArm", "Hand", "UpperLeg", "LowerLeg", "Foot", "Toes"])},
    }, lambda n: "right" + n[4:]),
}


def _finger_preset(name_of, right_of) -> dict:
    """A preset's finger names, ``name_of(finger, segment)`` naming the left hand's."""
    return _sided({f"{finger}{k}.L": name_of(finger, k) for finger in FINGERS for k in (1, 2, 3)}, right_of)


def _rigify_finger(finger: str, k: int) -> str:
    return f"{'thumb' if finger == 'thumb' else 'f_' + finger}.0{k}.L"


_VRM_FINGER = {"thumb": "Thumb", "index": "Index", "middle": "Middle", "ring": "Ring", "pinky": "Little"}
_VRM_SEGMENT = {1: "Proximal", 2: "Intermediate", 3: "Distal"}
# Finger names by preset, apart from ``PRESETS`` so a rig without fingers still matches its preset.
FINGER_PRESETS = {
    "ZEGGS": _finger_preset(lambda f, k: f"LeftHand{f.title()}{k}", lambda n: "Right" + n[4:]),
    "MIXAMO": _finger_preset(lambda f, k: f"LeftHand{f.title()}{k}", lambda n: "Right" + n[4:]),
    "RIGIFY_DEF": _finger_preset(lambda f, k: "DEF-" + _rigify_finger(f, k), lambda n: n[:-2] + ".R"),
    "RIGIFY_METARIG": _finger_preset(_rigify_finger, lambda n: n[:-2] + ".R"),
    "UNREAL": _finger_preset(lambda f, k: f"{f}_0{k}_l", lambda n: n[:-2] + "_r"),
    "VRM": _finger_preset(lambda f, k: f"J_Bip_L_{_VRM_FINGER[f]}{k}", lambda n: n.replace("J_Bip_L_", "J_Bip_R_")),
    "VRM_HUMANOID": _finger_preset(lambda f, k: f"left{_VRM_FINGER[f]}{_VRM_SEGMENT[k]}",
                                   lambda n: "right" + n[4:]),
}
PRESET_LABELS = {
    "BANDAI": "Bandai Namco", "ZEGGS": "ZEGGS", "MIXAMO": "Mixamo", "RIGIFY_DEF": "Rigify (DEF bones)",
    "RIGIFY_METARIG": "Rigify metarig", "UNREAL": "Unreal mannequin", "VRM": "VRoid / VRM (J_Bip)",
    "VRM_HUMANOID": "VRM humanoid names",
}
# A preset is used when at least this share of its slots name existing joints.
PRESET_MIN_SHARE = 0.8

_PREFIXES = ("def-", "org-", "mch-", "def_", "org_", "mch_", "j_bip_", "bip001", "bip01", "bip")
_PREFIX_PENALTY = {"def-": 0, "def_": 0, "org-": 2, "org_": 2, "mch-": 3, "mch_": 3}
_CENTRE_TOKENS = {"c", "center", "centre", "mid", "m"}
_SIDE_TOKENS = {"l": "L", "left": "L", "r": "R", "right": "R"}
_SYNONYMS = {
    "hips": {"hips", "hip", "pelvis"},
    "neck": {"neck"},
    "head": {"head"},
    "shoulder": {"shoulder", "clavicle", "collar", "collarbone", "clav"},
    "upper_arm": {"upperarm", "arm", "uparm"},
    "forearm": {"forearm", "lowerarm", "lowarm", "elbow"},
    "hand": {"hand", "wrist"},
    "thigh": {"thigh", "upleg", "upperleg"},
    "shin": {"shin", "calf", "lowerleg", "leg", "lowleg", "knee"},
    "foot": {"foot", "ankle"},
    "toe": {"toe", "toes", "toebase", "ball"},
}
_SLOT_OF_CORE = {core: slot for slot, cores in _SYNONYMS.items() for core in cores}
# A finger segment's core: LeftHandIndex1 -> "handindex1", DEF-f_index.01.L -> "findex01", index_01_l -> "index01",
# leftLittleProximal -> "littleproximal"; metacarpals (BEAT's RightHandIndex) and end joints (...4) do not match.
_FINGER_CORE = re.compile(r"^(?:hand|finger|f)?(thumb|index|middle|ring|pinky|little)(?:finger)?"
                          r"(?:0*([123])|(proximal|intermediate|distal))$")
_FINGER_OF_WORD = {"little": "pinky"}
_SEGMENT_OF_WORD = {"proximal": "1", "intermediate": "2", "distal": "3"}
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def strip_namespace(name: str) -> str:
    return re.split(r"[:|]", name)[-1]


def normalise(name: str) -> tuple[str | None, str, int]:
    """(side 'L'/'R'/None, lower-case core without separators, side or digits, prefix penalty).

    'mixamorig:LeftForeArm' -> ('L', 'forearm', 1); 'DEF-upper_arm.L.001' -> ('L', 'upperarm001', 0)."""
    base = strip_namespace(name).strip()
    lowered = base.lower()
    penalty = 1
    for prefix in _PREFIXES:
        if lowered.startswith(prefix) and len(lowered) > len(prefix):
            penalty = _PREFIX_PENALTY.get(prefix, 1)
            base = base[len(prefix):]
            break
    tokens = [t.lower() for part in re.split(r"[\s_.\-]+", base) for t in _CAMEL.findall(part)]
    side = None
    core_tokens = []
    for token in tokens:
        if token in _SIDE_TOKENS and side is None:
            side = _SIDE_TOKENS[token]
        elif token in _CENTRE_TOKENS:
            continue
        else:
            core_tokens.append(token)
    core = "".join(core_tokens)
    if side is None:
        for word, marker in (("left", "L"), ("right", "R")):
            if core.startswith(word) and len(core) > len(word):
                side, core = marker, core[len(word):]
                break
    return side, core, penalty


def _depths(parents) -> list[int]:
    depth = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    return depth


def _generic_slots(names, parents) -> dict:
    depth = _depths(parents)
    best: dict = {}
    for i, name in enumerate(names):
        side, core, penalty = normalise(name)
        slot = _SLOT_OF_CORE.get(core) or _SLOT_OF_CORE.get(re.sub(r"\d+$", "", core))
        if slot is None:
            continue
        exact = 0 if slot == _SLOT_OF_CORE.get(core) else 1
        if slot in CENTRE_SLOTS:
            if side is not None:
                continue
            key = slot
        else:
            if side is None:
                continue
            key = f"{slot}.{side}"
        rank = (penalty, exact, depth[i], i)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, name)
    return {slot: name for slot, (_, name) in best.items()}


def _generic_finger_slots(names, parents) -> dict:
    depth = _depths(parents)
    best: dict = {}
    for i, name in enumerate(names):
        side, core, penalty = normalise(name)
        found = _FINGER_CORE.match(core) if side is not None else None
        if found is None:
            continue
        finger, digit, word = found.groups()
        key = f"{_FINGER_OF_WORD.get(finger, finger)}{digit or _SEGMENT_OF_WORD[word]}.{side}"
        rank = (penalty, depth[i], i)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, name)
    return {slot: name for slot, (_, name) in best.items()}


def preset_scores(names) -> dict:
    present = {strip_namespace(n) for n in names}
    return {key: sum(n in present for n in preset.values()) / len(preset) for key, preset in PRESETS.items()}


def detect_slots(names, parents, preset: str | None = None) -> dict:
    """Slot -> joint/bone name. ``preset`` forces one preset (else the best-scoring preset
    when it names at least PRESET_MIN_SHARE of its slots); the generic matcher fills gaps."""
    names = list(names)
    by_plain = {}
    for name in names:
        by_plain.setdefault(strip_namespace(name), name)
    slots = {}
    if preset is None:
        scores = preset_scores(names)
        best = max(scores, key=scores.get)
        preset = best if scores[best] >= PRESET_MIN_SHARE else None
    if preset is not None:
        slots = {slot: by_plain[n] for slot, n in (PRESETS[preset] | FINGER_PRESETS.get(preset, {})).items()
                 if n in by_plain}
    for slot, name in (_generic_slots(names, parents) | _generic_finger_slots(names, parents)).items():
        if slot not in slots and name not in slots.values():
            slots[slot] = name
    return slots


def finger_names(names, parents) -> set[str]:
    """The joints or bones of ``names`` that are finger segments (``FINGER_SLOTS``)."""
    slots = detect_slots(names, parents)
    return {slots[slot] for slot in FINGER_SLOTS if slot in slots}


def slot_indices(names, parents, preset: str | None = None) -> dict:
    """Slot -> index into ``names`` (``detect_slots``)."""
    index = {name: i for i, name in enumerate(names)}
    return {slot: index[name] for slot, name in detect_slots(names, parents, preset).items()}


def _ancestors(index: int, parents) -> list[int]:
    chain = []
    p = parents[index]
    while p >= 0:
        chain.append(p)
        p = parents[p]
    return chain


def spine_chain(names, parents, slots) -> list[str]:
    """Joints strictly between the hips and the neck (or head, or the left shoulder),
    bottom to top."""
    index = {n: i for i, n in enumerate(names)}
    hips = index.get(slots.get("hips"))
    top = next((index[slots[s]] for s in ("neck", "head", "shoulder.L", "upper_arm.L") if s in slots), None)
    if hips is None or top is None:
        return [slots[s] for s in SPINE_SLOTS if s in slots]
    up = _ancestors(top, parents)
    if hips not in up:
        return [slots[s] for s in SPINE_SLOTS if s in slots]
    chain = up[:up.index(hips)]
    return [names[i] for i in reversed(chain)]


def pair_chains(source: list[str], target: list[str]) -> list[tuple[str, str]]:
    """Pair the shorter chain's members with the nearest relative positions on the longer
    one; the ends meet the ends."""
    if not source or not target:
        return []

    def position(k, n):
        return k / (n - 1) if n > 1 else 0.0

    if len(source) <= len(target):
        return [(s, target[round(position(k, len(source)) * (len(target) - 1))]) for k, s in enumerate(source)]
    return [(source[round(position(k, len(target)) * (len(source) - 1))], t) for k, t in enumerate(target)]


def auto_map(source_names, source_parents, target_names, target_parents,
             source_preset: str | None = None, target_preset: str | None = None) -> list[tuple[str, str]]:
    """(source joint, target bone) pairs for every slot both skeletons have."""
    source_slots = detect_slots(source_names, source_parents, source_preset)
    target_slots = detect_slots(target_names, target_parents, target_preset)
    pairs = []
    for slot in SLOTS + FINGER_SLOTS:
        if slot in SPINE_SLOTS:
            continue
        if slot in source_slots and slot in target_slots:
            pairs.append((source_slots[slot], target_slots[slot]))
    pairs += pair_chains(spine_chain(source_names, source_parents, source_slots),
                         spine_chain(target_names, target_parents, target_slots))
    order = {n: i for i, n in enumerate(source_names)}
    return sorted(pairs, key=lambda p: order.get(p[0], len(order)))
