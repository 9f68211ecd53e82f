"""Emotion styles learnt from the Bandai Namco grid and put onto real co-speech takes.

The Bandai Namco clips perform the same contents (bow, bye, byebye, guide, walk) in fifteen
styles, so they show how a style changes a motion, not what speaking hands do. For every
style and body part this module measures, against the normal style of the same content,
in the character's own frame (heading removed, skeleton-agnostic because it uses joint
positions only):
- ``posture``: the rotation taking the part's mean direction in normal onto its mean
  direction in the style (a sad head hangs, an old spine stoops, a proud chest lifts);
- ``amplitude``: the ratio of the part's angular speed (sad and tired move less, happy more).
The ratios are the median over contents, so what a content does cancels out.

``apply_style`` then changes a real speech take the same way: each joint's local rotation
swings around its mean by ``amplitude`` times as much, and each part is turned, top down,
so that its mean direction moves by ``posture``. Timing stays the speech's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..motion.bvh import read_bvh
from ..motion.kinematics import forward_kinematics_matrices
from ..motion.retarget import rotation_between
from ..motion.rotations import matrix_to_quat, yaw_matrix
from ..motion.skeleton import Motion

# part -> (Bandai start joint, end joint), (speech start, end), speech joints whose swing it scales
PARTS = {
    "spine": (("Spine", "Neck"), ("Spine", "Neck"), ("Spine", "Spine1", "Spine2", "Spine3")),
    "neck": (("Neck", "Head"), ("Neck", "Head"), ("Neck", "Neck1", "Head")),
    "shoulder_l": (("Shoulder_L", "UpperArm_L"), ("LeftShoulder", "LeftArm"), ("LeftShoulder",)),
    "shoulder_r": (("Shoulder_R", "UpperArm_R"), ("RightShoulder", "RightArm"), ("RightShoulder",)),
    "upper_arm_l": (("UpperArm_L", "LowerArm_L"), ("LeftArm", "LeftForeArm"), ("LeftArm",)),
    "upper_arm_r": (("UpperArm_R", "LowerArm_R"), ("RightArm", "RightForeArm"), ("RightArm",)),
    "forearm_l": (("LowerArm_L", "Hand_L"), ("LeftForeArm", "LeftHand"), ("LeftForeArm", "LeftHand")),
    "forearm_r": (("LowerArm_R", "Hand_R"), ("RightForeArm", "RightHand"), ("RightForeArm", "RightHand")),
}
HIPS = {"bandai": ("UpperLeg_L", "UpperLeg_R"), "speech": ("LeftUpLeg", "RightUpLeg")}
STYLE_CONTENTS = ("bow", "bye", "byebye", "guide", "walk")
# Where the arms rest: in the gesture contents the arm's posture is the content's (a wave, a
# bow), so the arms' posture change is read from walking only; the spine and neck use all.
ARM_POSTURE_CONTENTS = ("walk",)
# Held inside what still looks like speech gesture (the quality bar's 25-140 cm/s wrists);
# ``train --style-swing`` sets it per run (docs/model-card.md, training run).
AMPLITUDE_RANGE = (0.45, 1.15)
MAX_POSTURE_DEGREES = {"spine": 25.0, "neck": 25.0, "arm": 15.0}


class StyleError(ValueError):
    """The style grid is missing or incomplete."""


@dataclass
class StyleChange:
    """How one style differs from normal, per part: a posture rotation (3x3) and a swing factor."""

    posture: dict[str, np.ndarray]
    amplitude: dict[str, float]


def heading_frames(positions: np.ndarray, left_hip: int, right_hip: int) -> np.ndarray:
    """(F, 3, 3) rotations about Y taking the character's frame (left +X, up +Y, front +Z) to the world."""
    left = positions[:, left_hip] - positions[:, right_hip]
    return yaw_matrix(np.arctan2(-left[:, 2], left[:, 0]))  # the yaw that turns +X onto the left axis


def _directions(positions: np.ndarray, heading: np.ndarray, start: int, end: int) -> np.ndarray:
    """(F, 3) unit directions of a part in the character's frame."""
    d = np.einsum("fji,fj->fi", heading, positions[:, end] - positions[:, start])
    return d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)


def _mean_direction(directions: np.ndarray) -> np.ndarray:
    m = directions.mean(axis=0)
    return m / max(np.linalg.norm(m), 1e-9)


def _angular_speed(directions: np.ndarray, fps: float) -> float:
    cos = np.clip(np.sum(directions[1:] * directions[:-1], axis=-1), -1.0, 1.0)
    return float(np.arccos(cos).mean() * fps)


def part_statistics(motion: Motion, family: str) -> dict[str, tuple[np.ndarray, float]]:
    """Per part: (mean direction in the character's frame, angular speed in rad/s)."""
    sk = motion.skeleton
    positions, _ = forward_kinematics_matrices(motion.rotations, motion.local_translations, sk.parents)
    heading = heading_frames(positions, *(sk.index(n) for n in HIPS[family]))
    column = 0 if family == "bandai" else 1
    stats = {}
    for part, spec in PARTS.items():
        start, end = (sk.index(n) for n in spec[column])
        d = _directions(positions, heading, start, end)
        stats[part] = (_mean_direction(d), _angular_speed(d, motion.fps))
    return stats


def _mean_rotation(rotations: list[np.ndarray]) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(np.stack(rotations)).mean().as_matrix()


def bandai_clips(root: Path, contents, styles) -> list[dict]:
    """The Bandai Namco clips under ``root`` of these contents and styles: path, content, style
    (read from the dataset's own label files)."""
    rows = []
    for cfg in sorted(Path(root).rglob("cfg")):
        content_labels = (cfg / "content_label.txt").read_text().split()
        style_labels = (cfg / "style_label.txt").read_text().split()
        for js in sorted((cfg.parent / "data").glob("*.json")):
            bvh = js.with_suffix(".bvh")
            if not bvh.exists():
                continue
            label = json.loads(js.read_text())
            content = content_labels[label["content"]].split("_", 1)[1]
            style = style_labels[label["style"]].split("_", 1)[1]
            if content in contents and style in styles:
                rows.append(dict(path=bvh, content=content, style=style))
    return rows


def learn_style_changes(bandai_root: Path, styles: dict[str, str], contents=STYLE_CONTENTS,
                        swing: tuple[float, float] = AMPLITUDE_RANGE) -> dict[str, StyleChange]:
    """``styles`` maps an emotion label to its Bandai style ("normal" for the baseline);
    ``swing`` holds each part's swing ratio (low, high)."""
    from ..motion.resample import resample_motion

    rows = bandai_clips(bandai_root, set(contents), set(styles.values()))
    stats: dict[tuple[str, str], list] = {}
    for row in rows:
        motion = read_bvh(row["path"])
        motion = resample_motion(motion, 30.0) if abs(motion.fps - 30.0) > 1e-6 else motion
        stats.setdefault((row["style"], row["content"]), []).append(part_statistics(motion, "bandai"))
    changes = {}
    for label, style in styles.items():
        shared = [c for c in contents if (style, c) in stats and ("normal", c) in stats]
        if not shared:
            raise StyleError(f"the Bandai Namco grid under {bandai_root} has no {style!r} clip beside a normal one.")
        posture, amplitude = {}, {}
        for part in PARTS:
            arm = part not in ("spine", "neck")
            turns, ratios = [], []
            for c in shared:
                (mn, wn), (ms, ws) = stats[("normal", c)][0][part], stats[(style, c)][0][part]
                if not arm or c in ARM_POSTURE_CONTENTS:
                    turns.append(rotation_between(mn, ms))
                ratios.append(ws / max(wn, 1e-6))
            limit = MAX_POSTURE_DEGREES["arm" if arm else part]
            posture[part] = _limited(_mean_rotation(turns), limit) if turns else np.eye(3)
            amplitude[part] = float(np.clip(np.median(ratios), *swing))
        changes[label] = StyleChange(posture, amplitude)
    return changes


def _limited(rotation: np.ndarray, degrees: float) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    rotvec = Rotation.from_matrix(rotation).as_rotvec()
    angle = np.linalg.norm(rotvec)
    limit = np.radians(degrees)
    return Rotation.from_rotvec(rotvec * min(1.0, limit / angle)).as_matrix() if angle > limit else rotation


def _scaled_swing(rotations: np.ndarray, factor: float) -> np.ndarray:
    """Local quaternions (F, 4) swinging ``factor`` times as far around their mean rotation."""
    from scipy.spatial.transform import Rotation

    r = Rotation.from_quat(rotations[:, [1, 2, 3, 0]])
    mean = r.mean()
    swung = mean * Rotation.from_rotvec((mean.inv() * r).as_rotvec() * factor)
    q = swung.as_quat()[:, [3, 0, 1, 2]]
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def apply_style(motion: Motion, change: StyleChange) -> Motion:
    """A speech take (on the speech body skeleton) in another style; its timing is kept."""
    sk = motion.skeleton
    rotations = motion.rotations.copy()
    for part, (_, _, joints) in PARTS.items():
        for name in joints:
            j = sk.index(name)
            rotations[:, j] = _scaled_swing(rotations[:, j], change.amplitude[part])
    positions, _ = forward_kinematics_matrices(motion.rotations, motion.local_translations, sk.parents)
    heading = heading_frames(positions, *(sk.index(n) for n in HIPS["speech"]))
    original = {part: _mean_direction(_directions(positions, heading, sk.index(s), sk.index(e)))
                for part, (_, (s, e), _) in PARTS.items()}
    for part, (_, (start_name, end_name), _) in PARTS.items():
        start, end = sk.index(start_name), sk.index(end_name)
        positions, world = forward_kinematics_matrices(rotations, motion.local_translations, sk.parents)
        current = _mean_direction(_directions(positions, heading, start, end))
        turn = rotation_between(current, change.posture[part] @ original[part])
        turn_world = heading @ turn @ np.swapaxes(heading, -1, -2)
        parent = int(sk.parents[start])
        parent_world = world[:, parent] if parent >= 0 else np.eye(3)
        local = np.swapaxes(parent_world, -1, -2) @ turn_world @ world[:, start]
        rotations[:, start] = matrix_to_quat(local)
    return Motion(sk, rotations, motion.local_translations.copy(), motion.fps)


def describe(change: StyleChange) -> dict:
    """JSON-ready summary (degrees of posture turn, swing factors) for the model card."""
    from scipy.spatial.transform import Rotation

    return {part: dict(posture_degrees=round(float(np.degrees(np.linalg.norm(
        Rotation.from_matrix(change.posture[part]).as_rotvec()))), 1), amplitude=round(change.amplitude[part], 2))
        for part in PARTS}

