"""The Bandai Namco motion dataset's content/style table, from its own label files."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path


class CatalogError(ValueError):
    """A dataset folder whose labels are missing or inconsistent."""


def _label_names(path: Path) -> list[str]:
    # Entries look like "dataset-1_walk"; the dataset prefix is dropped.
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as error:
        raise CatalogError(f"{path}: cannot read the label file ({error.strerror or error}).") from None
    return [re.sub(r"^dataset-\d+_", "", line.strip()) for line in lines if line.strip()]


def bvh_frame_count(path: Path) -> int:
    """The header's frame count, read without parsing the motion data."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = re.match(r"\s*Frames\s*:\s*(\d+)", line)
            if match:
                return int(match.group(1))
    raise CatalogError(f"{path}: no 'Frames:' line.")


def bandai_catalog(root: str | os.PathLike) -> list[dict]:
    """One dict per BVH clip under ``root`` (searched recursively):
    path, dataset ("dataset-1"), content ("bye"), style ("feminine"), frames.

    Labels come from each clip's JSON ({"content": i, "style": j}, 0-based) indexing
    the cfg/content_label.txt and cfg/style_label.txt of the clip's dataset folder.
    """
    root = Path(root)
    labels: dict[Path, tuple[list[str], list[str]]] = {}
    entries = []
    for bvh in sorted(root.glob("**/*.bvh")):
        dataset_dir = bvh.parent.parent
        if dataset_dir not in labels:
            cfg = dataset_dir / "cfg"
            labels[dataset_dir] = (_label_names(cfg / "content_label.txt"), _label_names(cfg / "style_label.txt"))
        contents, styles = labels[dataset_dir]
        label_path = bvh.with_suffix(".json")
        try:
            label = json.loads(label_path.read_text(encoding="utf-8"))
            content, style = contents[int(label["content"])], styles[int(label["style"])]
        except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
            raise CatalogError(f"{label_path}: missing or invalid content/style label ({error}).") from None
        match = re.match(r"(dataset-\d+)_", bvh.name)
        entries.append(
            {
                "path": bvh,
                "dataset": match.group(1) if match else dataset_dir.name,
                "content": content,
                "style": style,
                "frames": bvh_frame_count(bvh),
            }
        )
    return entries
