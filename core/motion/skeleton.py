"""Skeleton and motion containers shared by every part of the core.

Conventions (used everywhere in the project):
- Quaternions are (w, x, y, z), float64 in data code, unit length.
- Rotations are local (relative to the parent joint), applied as
  world_rot[j] = world_rot[parent] * local_rot[j].
- Positions are in the file's units (centimetres for ZEGGS and Bandai), Y up.
- ``local_translations[f, j]`` is joint j's translation in its parent's frame at
  frame f: the BVH position channels where the file has them, else the OFFSET.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Skeleton:
    name: str
    joint_names: list[str]
    parents: np.ndarray  # (J,) int, -1 for the root; parents[j] < j
    offsets: np.ndarray  # (J, 3) rest translations from the BVH OFFSETs
    # BVH channel names per joint, e.g. ["Xposition", ..., "Zrotation", "Yrotation", "Xrotation"]
    channels: list[list[str]] = field(default_factory=list)
    # End Site offsets, keyed by joint index (only joints that have one)
    end_sites: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, name: str) -> int:
        return self.joint_names.index(name)


@dataclass
class Motion:
    skeleton: Skeleton
    rotations: np.ndarray  # (F, J, 4) local quaternions (w, x, y, z)
    local_translations: np.ndarray  # (F, J, 3)
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def skeleton_to_dict(skeleton: Skeleton) -> dict:
    """JSON-ready description (checkpoint metadata, the add-on's armature builder)."""
    return {
        "name": skeleton.name,
        "joint_names": list(skeleton.joint_names),
        "parents": [int(p) for p in skeleton.parents],
        "offsets": np.asarray(skeleton.offsets, dtype=float).round(6).tolist(),
        "channels": [list(c) for c in skeleton.channels],
        "end_sites": {str(k): np.asarray(v, dtype=float).round(6).tolist() for k, v in skeleton.end_sites.items()},
    }


def skeleton_from_dict(data: dict) -> Skeleton:
    return Skeleton(
        name=data["name"],
        joint_names=list(data["joint_names"]),
        parents=np.asarray(data["parents"], dtype=np.int64),
        offsets=np.asarray(data["offsets"], dtype=np.float64),
        channels=[list(c) for c in data.get("channels", [])],
        end_sites={int(k): np.asarray(v, dtype=np.float64) for k, v in data.get("end_sites", {}).items()},
    )
