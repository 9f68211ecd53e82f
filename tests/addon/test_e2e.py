"""End to end with the real command-line generator and a tiny trained checkpoint:
Generate from a sound strip, a failing generation, and the batch script."""

import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import session as generation_session
from ohgesture.ohgesture_addon.strips import strip_timing
from blender_util import add_sound_strip, reset_blender, trim_strip, write_wav

from support import ROOT
CLI_PRESENT = (ROOT / "core" / "cli" / "main.py").is_file()
pytestmark = pytest.mark.skipif(not CLI_PRESENT, reason="needs the generate command-line tool (core/cli/main.py)")


@pytest.fixture(scope="session")
def real_model(request, tmp_path_factory):
    """The LEAD's tiny_checkpoint fixture when conftest has one, else a 3-step model
    trained here on synthetic pairs."""
    try:
        return Path(request.getfixturevalue("tiny_checkpoint"))
    except pytest.FixtureLookupError:
        pass
    from synthetic import write_pairs_folder

    folder = tmp_path_factory.mktemp("tiny_model")
    write_pairs_folder(folder / "pairs", takes_per_label=1, seconds=4.0)
    out = folder / "tiny.safetensors"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "core" / "cli" / "_entry.py"), "train", "--data", str(folder / "pairs"), "--format",
         "pairs", "--out", str(out), "--steps", "3", "--batch", "2", "--model-config",
         '{"layers": 1, "latent": 32}', "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture
def studio(real_model, tmp_path, monkeypatch):
    addon.register()
    monkeypatch.setenv("OHGESTURE_MODEL", str(real_model))
    scene = reset_blender()
    scene.render.fps = 25
    wav = tmp_path / "speech.wav"
    write_wav(wav, 3.0)
    strip = add_sound_strip(scene, wav, name="speech", frame_start=20)
    trim_strip(strip, start=25)  # the first second is trimmed away
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    settings = scene.ohgesture
    settings.quality = "FAST"
    settings.seed = 3
    yield {"scene": scene, "strip": strip, "wav": wav, "tmp": tmp_path, "model": real_model}
    addon.unregister()


def test_generate_from_trimmed_strip_with_the_real_model(studio):
    scene, strip = studio["scene"], studio["strip"]
    settings = scene.ohgesture
    from ohgesture.ohgesture_addon import common

    labels = common.emotion_labels(common.model_metadata(studio["model"]))
    assert len(labels) >= 2
    settings.emotion, settings.emotion_2, settings.blend = labels[0], labels[1], 0.3
    arm = settings.armature
    assert bpy.ops.ohgesture.generate() == {"FINISHED"}
    action = arm.animation_data.action
    first, last = action.frame_range
    left, right = strip_timing(strip)[:2]
    assert first == left == 45
    assert right - 3 <= last <= right - 1
    # The keys move the rig: the root travels or the spine turns during the clip.
    scene.frame_set(int(first))
    start = [np.array(pb.matrix) for pb in arm.pose.bones]
    scene.frame_set(int(last))
    end = [np.array(pb.matrix) for pb in arm.pose.bones]
    assert max(np.abs(a - b).max() for a, b in zip(start, end)) > 1e-4
    assert all(np.isfinite(np.array(pb.matrix)).all() for pb in arm.pose.bones)


def test_bad_audio_reports_the_cli_error_and_changes_nothing(studio):
    studio["wav"].write_bytes(b"RIFF....WAVEthis is not audio at all")
    arm = studio["scene"].ohgesture.armature
    actions_before = set(bpy.data.actions.keys())
    with pytest.raises(RuntimeError, match="Gesture generation failed"):
        bpy.ops.ohgesture.generate()
    assert set(bpy.data.actions.keys()) == actions_before and arm.animation_data is None
    assert generation_session.active_session() is None


def test_batch_script_with_the_real_model(studio):
    blend = studio["tmp"] / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    out = studio["tmp"] / "out.blend"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "ohgesture_addon" / "batch.py"), "--open", str(blend), "--strip", "speech",
         "--armature", "OHGesture Armature", "--model", str(studio["model"]), "--steps", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bpy.ops.wm.open_mainfile(filepath=str(out))
    action = bpy.data.objects["OHGesture Armature"].animation_data.action
    assert action is not None and action.frame_range[0] == 45
