"""``ohgesture info``: describe, as JSON, any file the tool reads or writes: a BVH, a motion or
constraints ``.npz``, a dataset pack, a checkpoint, a JSON report, or audio."""

from __future__ import annotations

import json
from pathlib import Path

from .common import CliError


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="describe a file as JSON: .bvh, .npz (take, constraints, pack), checkpoint, "
                                       ".json, audio")
    info.add_argument("path")
    info.set_defaults(func=cmd_info)


def cmd_info(args) -> int:
    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        from ..motion.bvh import read_bvh

        motion = read_bvh(path)
        info = dict(kind="motion", path=str(path), skeleton=motion.skeleton.name,
                    joints=motion.skeleton.num_joints, frames=motion.num_frames, fps=motion.fps,
                    duration=round(motion.duration, 4))
    elif suffix in (".safetensors", ".pt", ".pth", ".ckpt", ".bin"):
        from ..model.checkpoint import read_metadata

        meta = read_metadata(path)
        cfg = meta.get("model_config", {})
        info = dict(kind="model", path=str(path), emotions=meta.get("emotions"),
                    skeleton=meta.get("skeleton", {}).get("name"),
                    joints=len(meta.get("skeleton", {}).get("joint_names", [])), fps=meta.get("fps"),
                    sizes={k: cfg.get(k) for k in ("latent", "layers", "heads", "ff", "window", "n_seed")},
                    metadata=meta)
    elif suffix == ".npz":
        info = _npz_info(path)
    elif suffix == ".json":
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise CliError(f"{path} is not a JSON file ({exc}).") from None
        info = dict(kind="json", path=str(path), content=content)
    else:
        from ..audio.features import audio_info

        info = dict(kind="audio", path=str(path), **audio_info(path))
    print(json.dumps(info, indent=2, default=str))
    return 0


def _npz_info(path: Path) -> dict:
    """A take (``generate --out X.npz``), poses to pass through (``--constraints``, written by the
    add-on's Keep My Keys) or a dataset pack (``ohgesture prepare``)."""
    from ..motion.motion_file import CONSTRAINT_KEYS, MOTION_KEYS, read_constraints, read_motion_arrays
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            header = json.loads(str(data["header"])) if "header" in keys else None
    except (OSError, ValueError, EOFError) as exc:
        raise CliError(f"{path} is not a readable .npz file ({exc}).") from None
    if keys >= set(MOTION_KEYS):
        arrays = read_motion_arrays(path)
        frames, joints = arrays["rotations"].shape[:2]
        fps = float(arrays["fps"])
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        return dict(kind="motion", path=str(path), joints=int(joints), frames=int(frames), fps=fps,
                    duration=round(frames / fps, 4), root_joint=str(arrays["joint_names"][int(arrays["root_joint"])]),
                    meta=meta)
    if keys >= set(CONSTRAINT_KEYS):
        arrays = read_constraints(path)
        frames = arrays["frames"]
        return dict(kind="constraints", path=str(path), poses=int(len(frames)),
                    joints=sorted({int(j) for j in arrays["joints"]}),
                    frames=[int(frames.min()), int(frames.max())] if len(frames) else [])
    if isinstance(header, dict) and "clips" in header:
        return dict(kind="dataset pack", path=str(path), clips=len(header["clips"]), labels=header.get("labels"),
                    fps=header.get("fps"), minutes=round(sum(c["frames"] for c in header["clips"])
                                                         / float(header.get("fps") or 30) / 60, 2),
                    held_out_takes=header.get("held_out_takes"), source=header.get("source"),
                    license=header.get("license"))
    raise CliError(f"{path} is not a take, constraints or dataset pack of ohgesture (it holds "
                   f"{', '.join(sorted(keys)) or 'no arrays'}).")
