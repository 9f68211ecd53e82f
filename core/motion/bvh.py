"""BVH reading and writing.

Semantics follow the BVH convention that Blender's importer also uses:
- A joint's position channels, where it has them, *replace* the OFFSET on those
  axes (Bandai Namco files carry position channels on every joint; ignoring them
  puts the character metres away from where it is).
- Rotation channels compose in the order listed: ``Zrotation Xrotation Yrotation``
  means R = Rz * Rx * Ry (intrinsic), whatever the position channels do.
- Any subset and order of the six channels is accepted on any joint.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .rotations import euler_to_quat, quat_to_euler
from .skeleton import Motion, Skeleton

CHANNEL_NAMES = [f"{axis}{kind}" for kind in ("position", "rotation") for axis in "XYZ"]
_CANONICAL = {name.lower(): name for name in CHANNEL_NAMES}
DEFAULT_ROOT_CHANNELS = ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
DEFAULT_JOINT_CHANNELS = ["Zrotation", "Xrotation", "Yrotation"]

ZEGGS_JOINTS = (
    "Hips Spine Spine1 Spine2 Spine3 Neck Neck1 Head HeadEnd RightShoulder RightArm RightForeArm RightHand "
    "RightHandThumb1 RightHandThumb2 RightHandThumb3 RightHandThumb4 RightHandIndex1 RightHandIndex2 "
    "RightHandIndex3 RightHandIndex4 RightHandMiddle1 RightHandMiddle2 RightHandMiddle3 RightHandMiddle4 "
    "RightHandRing1 RightHandRing2 RightHandRing3 RightHandRing4 RightHandPinky1 RightHandPinky2 RightHandPinky3 "
    "RightHandPinky4 RightForeArmEnd RightArmEnd LeftShoulder LeftArm LeftForeArm LeftHand LeftHandThumb1 "
    "LeftHandThumb2 LeftHandThumb3 LeftHandThumb4 LeftHandIndex1 LeftHandIndex2 LeftHandIndex3 LeftHandIndex4 "
    "LeftHandMiddle1 LeftHandMiddle2 LeftHandMiddle3 LeftHandMiddle4 LeftHandRing1 LeftHandRing2 LeftHandRing3 "
    "LeftHandRing4 LeftHandPinky1 LeftHandPinky2 LeftHandPinky3 LeftHandPinky4 LeftForeArmEnd LeftArmEnd "
    "RightUpLeg RightLeg RightFoot RightToeBase RightToeBaseEnd RightLegEnd RightUpLegEnd LeftUpLeg LeftLeg "
    "LeftFoot LeftToeBase LeftToeBaseEnd LeftLegEnd LeftUpLegEnd"
).split()
BANDAI_JOINTS = (
    "joint_Root Hips Spine Chest Neck Head Shoulder_L UpperArm_L LowerArm_L Hand_L Shoulder_R UpperArm_R "
    "LowerArm_R Hand_R UpperLeg_L LowerLeg_L Foot_L Toes_L UpperLeg_R LowerLeg_R Foot_R Toes_R"
).split()


class BVHError(ValueError):
    """A BVH file that cannot be read or a motion that cannot be written as BVH."""


def skeleton_name(joint_names: list[str]) -> str:
    if list(joint_names) == ZEGGS_JOINTS:
        return "zeggs"
    if list(joint_names) == BANDAI_JOINTS:
        return "bandai"
    return joint_names[0] if joint_names else ""


# ----------------------------------------------------------------------------- reading


class _Tokens:
    """Whitespace tokens of the HIERARCHY part with their 1-based line numbers."""

    def __init__(self, lines: list[str], path: Path):
        self.items = [(token, number) for number, line in enumerate(lines, 1) for token in line.split()]
        self.position = 0
        self.path = path
        self.last_line = max(len(lines), 1)

    def error(self, message: str, line: int | None = None) -> BVHError:
        if line is None:
            line = self.items[self.position][1] if self.position < len(self.items) else self.last_line
        return BVHError(f"{self.path}, line {line}: {message}")

    def peek(self) -> str | None:
        return self.items[self.position][0] if self.position < len(self.items) else None

    def next(self, what: str) -> tuple[str, int]:
        if self.position >= len(self.items):
            raise self.error(f"file ends where {what} was expected")
        item = self.items[self.position]
        self.position += 1
        return item

    def expect(self, keyword: str) -> int:
        token, line = self.next(repr(keyword))
        if token != keyword:
            raise self.error(f"expected {keyword!r}, found {token!r}", line)
        return line

    def number(self, what: str) -> float:
        token, line = self.next(what)
        try:
            value = float(token)
        except ValueError:
            raise self.error(f"{what} {token!r} is not a number", line) from None
        if not np.isfinite(value):
            raise self.error(f"{what} {token!r} is not a finite number", line)
        return value

    def integer(self, what: str) -> int:
        token, line = self.next(what)
        if not re.fullmatch(r"\+?\d{1,9}", token):
            raise self.error(f"{what} {token!r} is not a non-negative whole number", line)
        return int(token)


_NAME_KEYWORDS = {"{", "}", "OFFSET", "CHANNELS", "JOINT", "End", "ROOT", "MOTION", "HIERARCHY"}


def _parse_hierarchy(tokens: _Tokens):
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}

    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    # Each stack entry is the joint whose "{ ... }" block is open; iterative so
    # that a deeply nested (or hostile) file cannot exhaust Python's recursion.
    stack: list[int] = []

    def open_joint(parent: int) -> None:
        name, line = tokens.next("a joint name")
        if name in _NAME_KEYWORDS:
            raise tokens.error(f"joint name expected, found {name!r}", line)
        if name in names:
            raise tokens.error(f"joint name {name!r} is used twice", line)
        tokens.expect("{")
        names.append(name)
        parents.append(parent)
        offsets.append(None)
        channels.append(None)
        stack.append(len(names) - 1)

    open_joint(-1)
    while stack:
        joint = stack[-1]
        token, line = tokens.next("'}' closing joint " + repr(names[joint]))
        if token == "OFFSET":
            if offsets[joint] is not None:
                raise tokens.error(f"joint {names[joint]!r} has two OFFSET lines", line)
            offsets[joint] = [tokens.number("OFFSET value") for _ in range(3)]
        elif token == "CHANNELS":
            if channels[joint] is not None:
                raise tokens.error(f"joint {names[joint]!r} has two CHANNELS lines", line)
            count = tokens.integer("channel count")
            if count > 6:
                raise tokens.error(f"CHANNELS declares {count} channels; a joint has at most 6", line)
            joint_channels = []
            for _ in range(count):
                name, name_line = tokens.next("a channel name")
                canonical = _CANONICAL.get(name.lower())
                if canonical is None:
                    raise tokens.error(
                        f"CHANNELS declares {count} channels but {name!r} is not a channel name", name_line
                    )
                if canonical in joint_channels:
                    raise tokens.error(f"channel {canonical!r} is listed twice", name_line)
                joint_channels.append(canonical)
            channels[joint] = joint_channels
        elif token == "JOINT":
            _require_offset(tokens, joint, names, offsets, line)
            open_joint(joint)
        elif token == "End":
            _require_offset(tokens, joint, names, offsets, line)
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            end_sites[joint] = np.array([tokens.number("End Site OFFSET value") for _ in range(3)])
            tokens.expect("}")
        elif token == "}":
            _require_offset(tokens, joint, names, offsets, line)
            if channels[joint] is None:
                channels[joint] = []
            stack.pop()
        else:
            raise tokens.error(f"unexpected {token!r} inside joint {names[joint]!r}", line)

    following = tokens.peek()
    if following is not None:
        if following == "ROOT":
            raise tokens.error("a second ROOT is not supported; the skeleton must have one root")
        raise tokens.error(f"expected 'MOTION' after the hierarchy, found {following!r}")
    return names, np.array(parents, dtype=np.int64), np.array(offsets, dtype=np.float64), channels, end_sites


def _require_offset(tokens, joint, names, offsets, line):
    if offsets[joint] is None:
        raise tokens.error(f"joint {names[joint]!r} has no OFFSET before its children or '}}'", line)


def _header_value(lines: list[str], index: int, pattern: str, what: str, path: Path) -> tuple[str, int]:
    """Find the next non-blank line from ``index`` and match ``pattern`` on it."""
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines):
        raise BVHError(f"{path}, line {max(len(lines), 1)}: file ends where the {what!r} line was expected")
    match = re.fullmatch(pattern, lines[index].strip())
    if match is None:
        raise BVHError(f"{path}, line {index + 1}: expected a {what!r} line, found {lines[index].strip()[:60]!r}")
    return match.group(1), index


def _parse_frames(lines, first, frame_count, channel_count, path) -> np.ndarray:
    numbered = [(number, line) for number, line in enumerate(lines[first:], first + 1) if line.strip()]
    if len(numbered) < frame_count:
        last = numbered[-1][0] if numbered else first
        raise BVHError(
            f"{path}, line {last}: the header says {frame_count} frames but the file ends after {len(numbered)}"
        )
    if len(numbered) > frame_count:
        raise BVHError(
            f"{path}, line {numbered[frame_count][0]}: more frame lines than the {frame_count} the header declares"
        )
    if frame_count == 0:
        return np.zeros((0, channel_count))
    values = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = np.loadtxt([line for _, line in numbered], dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        values = None
    if values is not None and values.shape == (frame_count, channel_count) and np.all(np.isfinite(values)):
        return values
    for number, line in numbered:
        count = len(line.split())
        if count != channel_count:
            raise BVHError(f"{path}, line {number}: frame has {count} values, the hierarchy declares {channel_count}")
    # Slow path only to say exactly where the bad value is.
    rows = []
    for number, line in numbered:
        row = []
        for token in line.split():
            try:
                value = float(token)
            except ValueError:
                raise BVHError(f"{path}, line {number}: {token[:40]!r} is not a number") from None
            if not np.isfinite(value):
                raise BVHError(f"{path}, line {number}: {token[:40]!r} is not a finite number")
            row.append(value)
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(frame_count, channel_count)


def _snap_fps(frame_time: float) -> float:
    # Headers store 1/30 as 0.0333333; report the integer rate the file means.
    fps = 1.0 / frame_time
    nearest = round(fps)
    return float(nearest) if nearest > 0 and abs(fps - nearest) <= 1e-4 * fps else fps


def read_bvh(path: str | os.PathLike) -> Motion:
    """Read a BVH file into a Motion (local quaternions w,x,y,z; translations in file units)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise BVHError(f"{path}: cannot read the file ({error.strerror or error}).") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the newline ending the last line does not start another

    motion_index = next((i for i, line in enumerate(lines) if line.strip() == "MOTION"), None)
    tokens = _Tokens(lines if motion_index is None else lines[:motion_index], path)
    names, parents, offsets, channels, end_sites = _parse_hierarchy(tokens)
    if motion_index is None:
        raise BVHError(f"{path}, line {max(len(lines), 1)}: the file has no MOTION section")

    frames_text, index = _header_value(lines, motion_index + 1, r"Frames\s*:\s*(\S+)", "Frames:", path)
    if not re.fullmatch(r"\+?\d{1,9}", frames_text):
        raise BVHError(f"{path}, line {index + 1}: frame count {frames_text!r} is not a whole number")
    frame_count = int(frames_text)
    time_text, index = _header_value(lines, index + 1, r"Frame\s+Time\s*:\s*(\S+)", "Frame Time:", path)
    try:
        frame_time = float(time_text)
    except ValueError:
        frame_time = float("nan")
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise BVHError(f"{path}, line {index + 1}: frame time {time_text!r} is not a positive number")

    channel_count = sum(len(c) for c in channels)
    data = _parse_frames(lines, index + 1, frame_count, channel_count, path)
    return _motion_from_channels(names, parents, offsets, channels, end_sites, data, _snap_fps(frame_time))


def _motion_from_channels(names, parents, offsets, channels, end_sites, data, fps) -> Motion:
    frames, joints = data.shape[0], len(names)
    translations = np.broadcast_to(offsets, (frames, joints, 3)).copy()
    rotations = np.zeros((frames, joints, 4))
    by_order: dict[str, tuple[list[int], list[list[int]]]] = {}
    column = 0
    for joint, joint_channels in enumerate(channels):
        rotation_columns, order = [], ""
        for name in joint_channels:
            axis = "XYZ".index(name[0])
            if name.endswith("position"):
                translations[:, joint, axis] = data[:, column]
            else:
                rotation_columns.append(column)
                order += name[0]
            column += 1
        group = by_order.setdefault(order, ([], []))
        group[0].append(joint)
        group[1].append(rotation_columns)
    for order, (joint_list, columns) in by_order.items():
        angles = data[:, np.array(columns, dtype=np.int64).reshape(len(joint_list), len(order))]
        rotations[:, joint_list] = euler_to_quat(angles, order)
    skeleton = Skeleton(
        name=skeleton_name(names),
        joint_names=list(names),
        parents=parents,
        offsets=offsets,
        channels=[list(c) for c in channels],
        end_sites=end_sites,
    )
    return Motion(skeleton=skeleton, rotations=rotations, local_translations=translations, fps=fps)


# ----------------------------------------------------------------------------- writing


def default_channels(skeleton: Skeleton, motion: Motion | None = None) -> list[list[str]]:
    """Six channels on the root, and on every joint whose translation in ``motion``
    leaves its OFFSET (e.g. Bandai's Hips below joint_Root); Z-X-Y rotations elsewhere."""
    moving = set()
    if motion is not None and motion.num_frames:
        drift = np.abs(motion.local_translations - skeleton.offsets[None]).max(axis=(0, 2))
        moving = set(np.flatnonzero(drift > 1e-6 * (1.0 + np.abs(skeleton.offsets).max())).tolist())
    return [
        list(DEFAULT_ROOT_CHANNELS if parent < 0 or joint in moving else DEFAULT_JOINT_CHANNELS)
        for joint, parent in enumerate(skeleton.parents)
    ]


def _checked_channels(channels, joint_count: int) -> list[list[str]]:
    if len(channels) != joint_count:
        raise BVHError(f"channels lists {len(channels)} joints but the skeleton has {joint_count}.")
    checked = []
    for joint_channels in channels:
        canonical = [_CANONICAL.get(str(name).lower()) for name in joint_channels]
        if None in canonical or len(set(canonical)) != len(canonical):
            raise BVHError(f"invalid or repeated BVH channel names {list(joint_channels)!r}.")
        checked.append(canonical)
    return checked


def _frame_columns(motion: Motion, channels: list[list[str]]) -> np.ndarray:
    skeleton = motion.skeleton
    columns = []
    for joint, joint_channels in enumerate(channels):
        position_axes = {"XYZ".index(name[0]) for name in joint_channels if name.endswith("position")}
        for axis in set(range(3)) - position_axes:
            drift = np.abs(motion.local_translations[:, joint, axis] - skeleton.offsets[joint, axis])
            if drift.size and drift.max() > 1e-4 * (1.0 + np.abs(skeleton.offsets[joint]).max()):
                raise BVHError(
                    f"joint {skeleton.joint_names[joint]!r} moves along {'XYZ'[axis]} but has no "
                    f"{'XYZ'[axis]}position channel to store it."
                )
        order = "".join(name[0] for name in joint_channels if name.endswith("rotation"))
        try:
            angles = quat_to_euler(motion.rotations[:, joint], order)
        except ValueError as error:
            raise BVHError(f"joint {skeleton.joint_names[joint]!r}: {error}") from None
        rotation_index = 0
        for name in joint_channels:
            if name.endswith("position"):
                columns.append(motion.local_translations[:, joint, "XYZ".index(name[0])])
            else:
                columns.append(angles[:, rotation_index])
                rotation_index += 1
    if not columns:
        return np.zeros((motion.num_frames, 0))
    return np.stack(columns, axis=1)


def _hierarchy_lines(skeleton: Skeleton, channels: list[list[str]]) -> list[str]:
    children: dict[int, list[int]] = {j: [] for j in range(skeleton.num_joints)}
    for joint, parent in enumerate(skeleton.parents):
        if parent >= 0:
            children[int(parent)].append(joint)
    lines = ["HIERARCHY"]

    def number(value: float) -> str:
        return f"{value:.6f}"

    def emit(joint: int, depth: int) -> None:
        indent = "\t" * depth
        keyword = "ROOT" if skeleton.parents[joint] < 0 else "JOINT"
        lines.append(f"{indent}{keyword} {skeleton.joint_names[joint]}")
        lines.append(f"{indent}{{")
        lines.append(f"{indent}\tOFFSET " + " ".join(number(v) for v in skeleton.offsets[joint]))
        lines.append(f"{indent}\tCHANNELS {len(channels[joint])}" + "".join(f" {c}" for c in channels[joint]))
        for child in children[joint]:
            emit(child, depth + 1)
        if joint in skeleton.end_sites:
            lines.append(f"{indent}\tEnd Site")
            lines.append(f"{indent}\t{{")
            lines.append(f"{indent}\t\tOFFSET " + " ".join(number(v) for v in skeleton.end_sites[joint]))
            lines.append(f"{indent}\t}}")
        lines.append(f"{indent}}}")

    roots = [j for j, parent in enumerate(skeleton.parents) if parent < 0]
    if len(roots) != 1:
        raise BVHError(f"the skeleton has {len(roots)} roots; BVH output needs exactly one.")
    emit(roots[0], 0)
    return lines


def _depth_first_order(skeleton: Skeleton) -> list[int]:
    children: dict[int, list[int]] = {j: [] for j in range(skeleton.num_joints)}
    for joint, parent in enumerate(skeleton.parents):
        if parent >= 0:
            children[int(parent)].append(joint)
    order, stack = [], [j for j, p in enumerate(skeleton.parents) if p < 0][::-1]
    while stack:
        joint = stack.pop()
        order.append(joint)
        stack.extend(children[joint][::-1])
    return order


def write_bvh(path: str | os.PathLike, motion: Motion, *, channels: list[list[str]] | None = None) -> None:
    """Write ``motion`` as BVH, atomically (temp file in the same folder, then rename).

    ``channels`` (one list of BVH channel names per joint) defaults to the
    skeleton's own layout, or ``default_channels(skeleton, motion)`` when the
    skeleton has none. Raises BVHError when the layout cannot hold the
    motion (e.g. a joint translates but has no position channels).
    """
    path = Path(path)
    skeleton = motion.skeleton
    if channels is None:
        channels = skeleton.channels if skeleton.channels else default_channels(skeleton, motion)
    channels = _checked_channels(channels, skeleton.num_joints)
    if _depth_first_order(skeleton) != list(range(skeleton.num_joints)):
        raise BVHError("the skeleton's joints are not in depth-first order, so BVH columns would not match.")
    if not (np.isfinite(motion.fps) and motion.fps > 0):
        raise BVHError(f"fps must be a positive number, got {motion.fps!r}.")
    data = _frame_columns(motion, channels)
    if not np.all(np.isfinite(data)):
        raise BVHError("the motion contains NaN or infinite values.")
    header = _hierarchy_lines(skeleton, channels)
    header += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {1.0 / motion.fps!r}"]

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(header) + "\n")
        if data.size:
            np.savetxt(handle, data, fmt="%.6f", delimiter=" ")


def _frame_lines(path: Path) -> tuple[list[str], list[str]]:
    """(header lines up to and including 'Frame Time:', frame lines) of a BVH file."""
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    index = next((i for i, line in enumerate(lines) if re.match(r"\s*Frame\s+Time\s*:", line)), None)
    if index is None:
        raise BVHError(f"{path}: the file has no 'Frame Time:' line")
    return lines[:index + 1], [line for line in lines[index + 1:] if line.strip()]


def splice_frames(original: str | os.PathLike, replacement: str | os.PathLike, start: int, end: int,
                  out: str | os.PathLike) -> None:
    """Write ``original`` with frames [start, end) taken from ``replacement`` (same
    skeleton and frame count), atomically. Frames outside the range are copied as text,
    so they stay bit-identical."""
    header, kept = _frame_lines(Path(original))
    _, new = _frame_lines(Path(replacement))
    if len(kept) != len(new):
        raise BVHError(f"{replacement} has {len(new)} frames where {original} has {len(kept)}")
    lines = header + kept[:start] + new[start:end] + kept[end:]
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(lines) + "\n")
