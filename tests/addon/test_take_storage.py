"""Take storage: Generate keeps only the newest earlier takes of an armature (Earlier Takes
Kept, default 3), removing older ones with their NLA tracks and motion files so the saved
.blend stops growing; the animator's own action and a take whose keys were changed stay;
Clean Up Takes applies the preference at once; the takes folder is bounded, oldest first,
never deleting a file an action of the open file uses. Real bpy module, real .blend files,
the stand-in generator (a real subprocess)."""

import os
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import takes
from blender_util import add_sound_strip, model_and_scene, write_wav

FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")


@pytest.fixture
def studio(tmp_path, monkeypatch):
    """30 fps, 20 s of sound on a strip, the model's own armature with the animator's pose."""
    addon.register()
    for variable in ("OHGESTURE_TAKES_KEPT", "OHGESTURE_TAKES_FOLDER_MB"):
        monkeypatch.delenv(variable, raising=False)
    _, scene = model_and_scene(tmp_path, monkeypatch)
    wav = tmp_path / "speech.wav"
    write_wav(wav, 20.0)
    add_sound_strip(scene, wav, frame_start=1)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    arm = scene.ohgesture.armature
    arm.animation_data_create().action = bpy.data.actions.new("my pose")
    arm.pose.bones["Spine"].rotation_quaternion = (0.9, 0.1, 0.0, 0.0)
    arm.pose.bones["Spine"].keyframe_insert("rotation_quaternion", frame=1)
    yield {"scene": scene, "arm": arm, "tmp": tmp_path, "takes": tmp_path / "takes"}
    addon.unregister()


def _generate(seed: int):
    bpy.context.scene.ohgesture.seed = seed
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    return bpy.context.scene.ohgesture.armature.animation_data.action


def _generated() -> list[str]:
    return sorted(a.name for a in bpy.data.actions if takes.generated_info(a))


def _saved_size(path: Path) -> int:
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True, compress=False)
    return path.stat().st_size


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("take_*.npz"))


def test_ten_generates_keep_the_blend_and_the_takes_folder_bounded(studio):
    arm, folder, tmp = studio["arm"], studio["takes"], studio["tmp"]
    made, sizes = [], {}
    for k in range(1, 11):
        made.append(_generate(seed=k).name)
        if k == 2:  # the animator changes a key of the second take: it is never removed by itself
            curve = takes.bone_fcurves(bpy.data.actions[made[1]])[("LeftArm", "rotation_quaternion")][1]
            curve.keyframe_points[40].co.y += 0.3
            scene = bpy.context.scene  # a Regenerate elsewhere in it leaves it marked as changed
            scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 100, 120
            assert bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE) == {"FINISHED"}
            scene.use_preview_range = False
            assert takes.take_changed(bpy.data.actions[made[1]])
        if k in (6, 10):
            sizes[k] = _saved_size(tmp / f"after_{k}.blend")
    # The take in use, the three newest earlier ones and the changed one; the animator's pose stays.
    assert _generated() == sorted([made[1], *made[6:]])
    assert "my pose" in bpy.data.actions
    tracks = [t.strips[0].action.name for t in arm.animation_data.nla_tracks]
    assert tracks == ["my pose", made[1], *made[6:9]] and arm.animation_data.action.name == made[9]
    print(f"saved .blend after 6 and 10 Generates: {sizes[6]} and {sizes[10]} bytes")
    # The .blend stopped growing once the earlier takes were at the preference.
    assert sizes[10] <= sizes[6] * 1.02 + 4096, sizes
    # The motion files of the takes still in the file are left, and the one the Regenerate
    # replaced (an undo brings its record back); the removed takes' files are gone.
    left = {os.path.realpath(p) for p in folder.glob("take_*.npz")}
    assert takes.referenced_takes() <= left and len(takes.referenced_takes()) == 5 and len(left) == 6

    # Clean Up Takes with the preference lowered to 1: one earlier take left, and the changed one.
    os.environ["OHGESTURE_TAKES_KEPT"] = "1"
    try:
        assert bpy.ops.ohgesture.clean_up_takes() == {"FINISHED"}
    finally:
        del os.environ["OHGESTURE_TAKES_KEPT"]
    assert _generated() == sorted([made[1], made[8], made[9]])
    assert len(list(folder.glob("take_*.npz"))) == 4
    reopened = tmp / "cleaned.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(reopened), compress=False)
    assert reopened.stat().st_size < sizes[10]


def test_the_takes_folder_is_bounded_oldest_first_keeping_what_the_file_uses(studio, monkeypatch):
    folder = studio["takes"]
    first = _generate(seed=1)
    in_use = Path(takes.generated_info(first)["take"])
    # Motion files of other .blend files, 300 kB each, older than anything of this file.
    folder.mkdir(exist_ok=True)
    foreign = []
    for k in range(8):
        path = folder / f"take_foreign{k}.npz"
        path.write_bytes(np.random.default_rng(k).bytes(300_000))
        os.utime(path, (time.time() - 3600 + k, time.time() - 3600 + k))
        foreign.append(path)
    os.utime(in_use, (time.time() - 7200, time.time() - 7200))  # the oldest of all, but in use
    monkeypatch.setenv("OHGESTURE_TAKES_FOLDER_MB", "1")
    second = _generate(seed=2)
    assert _folder_bytes(folder) <= 1024 * 1024
    assert in_use.is_file() and Path(takes.generated_info(second)["take"]).is_file()
    left = [p.exists() for p in foreign]
    assert left == sorted(left) and not left[0] and left[-1]  # the oldest went first
