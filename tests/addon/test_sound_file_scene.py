"""A Sound File take leaves a scene an animator can play (issue 33, items 13 and 14): the
speech as a sound strip where the keys start (optional, on by default; once per file and
place) and a frame range that covers the take, from the panel and from ``batch.py --sound``;
and the batch script's report has one whole sentence per line. The fake generator
(fake_generate.py) keys as many frames as the WAV file lasts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import bpy
import numpy as np
import pytest

from ohgesture.ohgesture_addon import armature, takes
from ohgesture.ohgesture_addon.strips import sound_strips, strip_timing
from blender_util import JOINT_NAMES, OFFSETS, PARENTS, add_sound_strip, model_and_scene, write_wav
from support import ROOT

BATCH = ROOT / "ohgesture_addon" / "batch.py"
FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")
SKELETON = {"joint_names": JOINT_NAMES, "parents": PARENTS.tolist(), "offsets": OFFSETS.tolist(), "root_joint": 0}
SECONDS = 60


@pytest.fixture
def studio(registered, tmp_path, monkeypatch):
    """A metadata-only model, a 30 fps scene with Blender's default range 1-250, 60 s of
    speech in a file, the model's own armature as the target."""
    model, scene = model_and_scene(tmp_path, monkeypatch)
    scene.frame_start, scene.frame_end = 1, 250
    wav = tmp_path / "speech.wav"
    write_wav(wav, SECONDS, sample_rate=8000)
    rig = armature.create_matching_armature(bpy.context, SKELETON, name="Rig")
    rig.name = "Rig"
    settings = scene.ohgesture
    settings.source, settings.sound_file, settings.armature = "FILE", str(wav), rig
    return SimpleNamespace(tmp=tmp_path, model=model, wav=wav, scene=scene, settings=settings, rig=rig)


def strips_of(scene, wav) -> list[tuple[int, int]]:
    """(first frame, channel) of the scene's sound strips playing ``wav``."""
    return sorted((int(strip_timing(s)[2]), s.channel) for s in sound_strips(scene)
                  if os.path.samefile(bpy.path.abspath(s.sound.filepath), wav))


def keyed_range(action) -> tuple[int, int]:
    return tuple(int(round(f)) for f in action.frame_range)


def test_a_sound_file_take_adds_its_strip_once_and_the_range_covers_it(studio):
    scene = studio.scene
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    action = takes.generated_action(studio.rig)
    assert keyed_range(action) == (1, SECONDS * 30)
    assert strips_of(scene, studio.wav) == [(1, 1)]
    strip = next(iter(sound_strips(scene)))
    assert strip_timing(strip)[1] >= SECONDS * 30  # the whole speech plays
    assert (scene.frame_start, scene.frame_end) == (1, SECONDS * 30)
    # The same file again: no second strip.
    studio.settings.seed = 4
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert takes.generated_action(studio.rig) != action
    assert strips_of(scene, studio.wav) == [(1, 1)]
    # A range that covers the take already is never shrunk.
    scene.frame_end = 5000
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end) == (1, 5000)


def test_the_strip_goes_where_the_keys_start_and_the_animators_strips_stay(studio):
    scene = studio.scene
    other = studio.tmp / "music.wav"
    write_wav(other, 5.0)
    add_sound_strip(scene, other, name="music", frame_start=100, channel=1)  # in the way on channel 1
    mine = add_sound_strip(scene, studio.wav, name="my speech", frame_start=3000, channel=3)  # the animator's own
    scene.frame_start, scene.frame_end = 100, 400
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert keyed_range(takes.generated_action(studio.rig)) == (100, 99 + SECONDS * 30)
    assert strips_of(scene, studio.wav) == [(100, 2), (3000, 3)]  # channel 1 is taken at frame 100
    assert (scene.frame_start, scene.frame_end) == (100, 99 + SECONDS * 30)
    # Keys from another frame: the strip Generate added moves with them; the animator's stays.
    scene.frame_start = 40
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert strips_of(scene, studio.wav) == [(40, 2), (3000, 3)] and strip_timing(mine)[2] == 3000
    # Where a strip of the file starts already, none is added.
    scene.frame_start = 3000
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert strips_of(scene, studio.wav) == [(40, 2), (3000, 3)]
    assert (scene.frame_start, scene.frame_end) == (3000, 2999 + SECONDS * 30)


def test_without_the_strip_option_only_the_range_grows(studio):
    studio.settings.add_sound_strip = False
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert sound_strips(studio.scene) == [] and studio.scene.frame_end == SECONDS * 30


def test_a_sound_strip_source_adds_no_strip(studio):
    scene = studio.scene
    add_sound_strip(scene, studio.wav, name="speech", frame_start=10)
    studio.settings.source, studio.settings.sound_strip = "STRIP", "speech"
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert strips_of(scene, studio.wav) == [(10, 1)]


# --------------------------------------------------------------------------- batch.py


def run_batch(studio, *args):
    proc = subprocess.run([sys.executable, str(BATCH), "--model", str(studio.model), "--entry-script", FAKE,
                           *map(str, args)], capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    return proc


def save(path) -> Path:
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return Path(path)


def test_batch_sound_adds_the_strip_once_and_covers_the_take(studio):
    blend = save(studio.tmp / "scene.blend")
    first, again = studio.tmp / "first.blend", studio.tmp / "again.blend"
    proc = run_batch(studio, "--open", blend, "--sound", studio.wav, "--armature", "Rig", "--out", first)
    assert proc.returncode == 0, proc.stderr
    assert "ohgesture: Added the sound strip 'speech' at frame 1" in proc.stdout.splitlines()
    proc = run_batch(studio, "--open", first, "--sound", studio.wav, "--armature", "Rig", "--out", again)
    assert proc.returncode == 0, proc.stderr
    bpy.ops.wm.open_mainfile(filepath=str(again))
    scene = bpy.context.scene
    assert strips_of(scene, studio.wav) == [(1, 1)]
    assert (scene.frame_start, scene.frame_end) == (1, SECONDS * 30)
    assert len([a for a in bpy.data.actions if takes.generated_info(a)]) == 2


def test_batch_no_sound_strip_and_an_earlier_frame_start(studio):
    studio.scene.frame_start = 20
    blend = save(studio.tmp / "scene.blend")
    out = studio.tmp / "out.blend"
    proc = run_batch(studio, "--open", blend, "--sound", studio.wav, "--armature", "Rig", "--frame-start", "5",
                     "--no-sound-strip", "--out", out)
    assert proc.returncode == 0, proc.stderr
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    assert sound_strips(scene) == []
    assert (scene.frame_start, scene.frame_end) == (5, 4 + SECONDS * 30)
    proc = run_batch(studio, "--open", blend, "--strip", "speech", "--armature", "Rig", "--no-sound-strip",
                     "--out", studio.tmp / "never.blend")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and lines == ["error: --no-sound-strip applies to --sound only; with --strip no sound "
                                              "strip is added."], proc.stderr


def test_batch_report_has_one_whole_sentence_per_line(studio):
    """A retargeted rig with keys of its own: the bone map and the note on the keys each get
    a line of their own (issue 33, item 14: '... is retargeted. of 'Hero'')."""
    offsets = OFFSETS.copy() * 1.2
    c, s = np.cos(np.radians(40)), np.sin(np.radians(40))
    for j in (4, 6):  # the hands' offsets turned down 40 degrees: an A-pose, another rest pose
        x = offsets[j, 0]
        offsets[j] = (x * c, -abs(x) * s, 0.0)
    hero = armature.create_matching_armature(bpy.context, dict(SKELETON, offsets=offsets.tolist()), name="Hero")
    hero.name = "Hero"
    hero.animation_data_create().action = bpy.data.actions.new("walk")
    hero.pose.bones["Spine"].keyframe_insert("rotation_quaternion", frame=1)
    blend = save(studio.tmp / "scene.blend")
    proc = run_batch(studio, "--open", blend, "--sound", studio.wav, "--armature", "Hero",
                     "--out", studio.tmp / "out.blend")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("ohgesture: ")]
    assert "ohgesture: Mapped 7 of 7 bones of 'Hero'" in lines
    note = [line for line in lines if "is retargeted" in line]  # the note on the keys already on 'Hero'
    assert len(note) == 1 and note[0].endswith(".") and "Mapped" not in note[0], lines
    assert not any(line.endswith("of 'Hero'") and "Mapped" not in line for line in lines), lines


def test_batch_sound_dir_adds_no_strip_and_covers_the_longest_take(studio):
    folder = studio.tmp / "voices"
    folder.mkdir()
    write_wav(folder / "a.wav", 12.0, sample_rate=8000)
    write_wav(folder / "b.wav", 20.0, sample_rate=8000)
    blend = save(studio.tmp / "scene.blend")
    out = studio.tmp / "crowd.blend"
    proc = run_batch(studio, "--open", blend, "--sound-dir", folder, "--armature", "Rig", "--out", out)
    assert proc.returncode == 0, proc.stderr
    bpy.ops.wm.open_mainfile(filepath=str(out))
    scene = bpy.context.scene
    assert sound_strips(scene) == []  # the takes share their frames: their speeches would play at once
    assert (scene.frame_start, scene.frame_end) == (1, 20 * 30)
