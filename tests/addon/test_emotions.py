"""The emotion menus keep their meaning when the user switches to a model whose labels
come in another order (the stored enum value is derived from the label, not its slot)."""

import bpy
import pytest

import ohgesture.ohgesture_addon as addon
from blender_util import reset_blender, write_metadata_only_checkpoint


def test_chosen_emotion_survives_a_model_with_reordered_labels(registered, tmp_path, monkeypatch):
    first, second = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    write_metadata_only_checkpoint(first, labels=["neutral", "happy", "sad"])
    write_metadata_only_checkpoint(second, labels=["sleepy", "sad", "neutral", "happy"])
    monkeypatch.setenv("OHGESTURE_MODEL", str(first))
    scene = reset_blender()
    scene.ohgesture.emotion = "happy"
    scene.ohgesture.emotion_2 = "sad"
    monkeypatch.setenv("OHGESTURE_MODEL", str(second))
    assert scene.ohgesture.emotion == "happy"
    assert scene.ohgesture.emotion_2 == "sad"
