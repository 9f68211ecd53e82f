"""Safetensors checkpoints: round trip, torch-free metadata reading and every refusal."""

import json
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ohgesture.core.model.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    read_metadata,
    save_checkpoint,
    validate_state_dict,
)
from ohgesture.core.model.denoiser import DenoiserConfig, GestureDenoiser

from support import ROOT  # noqa: E402

CHECKPOINT_MODULE = ROOT / "core" / "model" / "checkpoint.py"


def tiny_model():
    torch.manual_seed(0)
    return GestureDenoiser(DenoiserConfig(motion_dim=7, audio_dim=5, num_emotions=3, latent=16, layers=1, heads=2, ff=32))


METADATA = {
    "emotions": ["happy", "sad", "angry"],
    "fps": 30.0,
    "model": {"latent": 16},
    "skeleton": {"joint_names": ["Hips", "Spine"], "parents": [-1, 0]},
    "license": "CC BY-NC 4.0 data",
}


@pytest.fixture
def checkpoint(tmp_path):
    model = tiny_model()
    tensors = {**model.state_dict(), "norm.mean": torch.arange(7.0), "norm.std": torch.ones(7)}
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, tensors, METADATA)
    return path, tensors


def test_round_trip(checkpoint):
    path, tensors = checkpoint
    loaded, metadata = load_checkpoint(path)
    assert metadata == {**METADATA, "format_version": FORMAT_VERSION}
    assert read_metadata(path) == metadata
    assert loaded.keys() == tensors.keys()
    for name, value in tensors.items():
        assert torch.equal(loaded[name], value), name
    model = tiny_model()
    state = {k: v for k, v in loaded.items() if not k.startswith("norm.")}
    validate_state_dict(model, state)
    model.load_state_dict(state)
    assert [p for p in os.listdir(path.parent) if p != path.name] == []  # no temp files left behind


def test_metadata_is_one_json_string_in_the_safetensors_header(checkpoint):
    path, _ = checkpoint
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    assert list(header["__metadata__"]) == ["ohgesture"]
    assert json.loads(header["__metadata__"]["ohgesture"])["emotions"] == METADATA["emotions"]


def test_read_metadata_needs_neither_torch_nor_safetensors(checkpoint):
    path, _ = checkpoint
    code = (
        "import sys, importlib.util, json\n"
        "sys.modules['torch'] = None\nsys.modules['safetensors'] = None\nsys.modules['numpy'] = None\n"
        f"spec = importlib.util.spec_from_file_location('ckpt', {str(CHECKPOINT_MODULE)!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"print(json.dumps(m.read_metadata({str(path)!r})['emotions']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == METADATA["emotions"]


def test_save_overwrites_atomically_and_refuses_non_json_metadata(checkpoint):
    path, tensors = checkpoint
    save_checkpoint(path, {"w": torch.zeros(2)}, {"fps": 60.0})
    assert read_metadata(path)["fps"] == 60.0
    with pytest.raises(CheckpointError, match="plain JSON"):
        save_checkpoint(path, {"w": torch.zeros(2)}, {"fps": object()})
    assert read_metadata(path)["fps"] == 60.0  # the failed save left the old file intact


def refuses(path, match):
    with pytest.raises(CheckpointError, match=match) as first:
        read_metadata(path)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(path)
    message = str(first.value)
    assert "\n" not in message and message.endswith(".")


def test_missing_file(tmp_path):
    refuses(tmp_path / "nope.safetensors", "does not exist")


def test_random_bytes(tmp_path):
    path = tmp_path / "random.safetensors"
    path.write_bytes(torch.randint(0, 256, (5000,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8).numpy().tobytes())
    refuses(path, "not a safetensors file")


def test_text_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("hello")
    refuses(path, "not a safetensors file")


def test_torch_save_zip_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(3)}, path)
    refuses(path, "pickle-based checkpoints are refused: the project never unpickles")


def test_legacy_torch_save_and_raw_pickle_are_refused(tmp_path):
    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.zeros(3)}, legacy, _use_new_zipfile_serialization=False)
    refuses(legacy, "pickle-based")
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": list(range(100))}, protocol=4))
    refuses(raw, "pickle-based")


def test_truncated_in_the_data(checkpoint):
    path, _ = checkpoint
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 100])
    refuses(path, "truncated")


def test_truncated_in_the_header(checkpoint):
    path, _ = checkpoint
    path.write_bytes(path.read_bytes()[:50])
    refuses(path, "truncated")


def test_other_format_version(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "future.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"ohgesture": json.dumps({"format_version": 2})})
    refuses(path, "format version 2")


def test_plain_safetensors_without_our_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    refuses(path, "not an OHGesture checkpoint")


def test_header_length_with_low_byte_0x80_is_not_taken_for_pickle(tmp_path):
    # a safetensors header whose length is e.g. 0x180 starts with the byte 0x80, like a pickle stream
    for pad in range(0, 400):
        path = tmp_path / "odd.safetensors"
        save_checkpoint(path, {"w": torch.zeros(2)}, {"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    else:
        pytest.fail("no padding gave a header length with low byte 0x80")
    assert read_metadata(path)["pad"] == "x" * pad


def test_validate_state_dict_names_the_problems():
    model = tiny_model()
    state = dict(model.state_dict())
    validate_state_dict(model, state)
    missing = {k: v for k, v in state.items() if k != "head.bias"}
    with pytest.raises(CheckpointError, match="missing tensors head.bias"):
        validate_state_dict(model, missing)
    with pytest.raises(CheckpointError, match="unexpected tensors extra.w"):
        validate_state_dict(model, {**state, "extra.w": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"shape mismatches head.weight \(3, 16\) vs \(7, 16\)"):
        validate_state_dict(model, {**state, "head.weight": torch.zeros(3, 16)})
