"""Model checkpoints: one safetensors file, never pickle.

All metadata is one JSON string stored under the safetensors header's ``__metadata__``
key ``"ohgesture"`` (safetensors metadata values must be strings); it always holds
``format_version``. read_metadata() is pure Python (no torch, no safetensors) so Blender's
Python can read labels and the skeleton; torch and safetensors are imported lazily.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

FORMAT_VERSION = 1
METADATA_KEY = "ohgesture"
_MAX_HEADER_BYTES = 100 * 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(ValueError):
    """A file that is not a usable OHGesture checkpoint."""


def _read_header(path) -> tuple[dict, int]:
    """(safetensors header dict, file size) after checking the file's structure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist.")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        # zip = torch.save's default format; b"\x80" + protocol byte = a raw pickle stream
        looks_pickled = head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
        refuse_pickle = CheckpointError(
            f"{path} is a pickle-based checkpoint; pickle-based checkpoints are refused: the project never unpickles."
        )
        if head.startswith(_ZIP_MAGIC):
            raise refuse_pickle
        if len(head) < 8:
            raise CheckpointError(f"{path} is not a safetensors file (it is shorter than a safetensors header).")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > size - 8:
            if looks_pickled:
                raise refuse_pickle
            if header_len > _MAX_HEADER_BYTES:
                raise CheckpointError(f"{path} is not a safetensors file (its header length is implausible).")
            raise CheckpointError(f"{path} is truncated: its header runs past the end of the file.")
        raw = f.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        if looks_pickled:
            raise refuse_pickle from None
        raise CheckpointError(f"{path} is not a safetensors file (its header is not JSON).") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not a JSON object).")
    data_size = size - 8 - header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CheckpointError(f"{path} is not a safetensors file (tensor {name!r} has no valid data offsets).")
        if offsets[1] > data_size:
            raise CheckpointError(f"{path} is truncated: the data of tensor {name!r} runs past the end of the file.")
    return header, size


def _metadata_from_header(path, header: dict) -> dict:
    stored = header.get("__metadata__") or {}
    if METADATA_KEY not in stored:
        raise CheckpointError(f"{path} is a safetensors file but not an OHGesture checkpoint (no '{METADATA_KEY}' metadata).")
    try:
        metadata = json.loads(stored[METADATA_KEY])
    except (TypeError, json.JSONDecodeError):
        raise CheckpointError(f"{path} has unreadable OHGesture metadata (not valid JSON).") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path} has OHGesture metadata that is not a JSON object.")
    version = metadata.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format version {version!r}; this version of OHGesture reads version {FORMAT_VERSION}."
        )
    return metadata


def read_metadata(path) -> dict:
    """The checkpoint's metadata dict, read with json + struct only (no torch)."""
    header, _ = _read_header(path)
    return _metadata_from_header(path, header)


def save_checkpoint(path, tensors: dict, metadata: dict) -> None:
    """Write tensors and JSON-serialisable metadata atomically (temp file + os.replace)."""
    from safetensors.torch import save_file

    try:
        text = json.dumps({**metadata, "format_version": FORMAT_VERSION}, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint metadata must be plain JSON data: {exc}.") from None
    cpu_tensors = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    from ..atomic import atomic_path  # imported here: read_metadata must load standalone inside Blender

    with atomic_path(path) as tmp:
        save_file(cpu_tensors, str(tmp), metadata={METADATA_KEY: text})


def load_checkpoint(path, device="cpu") -> tuple[dict, dict]:
    """(tensors on device, metadata) after validating the file structure."""
    header, _ = _read_header(path)
    metadata = _metadata_from_header(path, header)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path), device=str(device))
    except SafetensorError as exc:
        raise CheckpointError(f"{path} is not a valid safetensors file: {exc}.") from None
    return tensors, metadata


def validate_state_dict(model, tensors: dict) -> None:
    """Raise CheckpointError when tensors do not match model.state_dict() key-for-key and shape-for-shape."""
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mismatched = sorted(
        f"{name} {tuple(tensors[name].shape)} vs {expected[name]}"
        for name in set(expected) & set(tensors)
        if tuple(tensors[name].shape) != expected[name]
    )

    def few(names):
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    problems = []
    if missing:
        problems.append(f"missing tensors {few(missing)}")
    if unexpected:
        problems.append(f"unexpected tensors {few(unexpected)}")
    if mismatched:
        problems.append(f"shape mismatches {few(mismatched)}")
    if problems:
        raise CheckpointError("the checkpoint's tensors do not match the model: " + "; ".join(problems) + ".")
