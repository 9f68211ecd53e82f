"""``ohgesture info``: describe a BVH, audio or checkpoint file as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from .common import CliError


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="describe a BVH, audio or checkpoint file as JSON")
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
    else:
        from ..audio.features import audio_info

        info = dict(kind="audio", path=str(path), **audio_info(path))
    print(json.dumps(info, indent=2, default=str))
    return 0
