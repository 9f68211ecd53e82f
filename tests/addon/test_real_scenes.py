"""Real scenes (issue 24): linked rigs, meta strips, packed sounds, a folder with a bad file,
outputs checked before the work, cancelling a batch, 60 fps, short strips, formats that need
ffmpeg. Each case builds real .blend files (library linking, ``move_to_meta``,
``sound.pack()``) and runs the batch script as a subprocess and, where it applies, the
Generate and Regenerate operators; the fake generator (fake_generate.py) stands in for the
model except where the generator's own output is the point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import bpy
import pytest

from ohgesture.ohgesture_addon import armature, batch, common, takes
from ohgesture.ohgesture_addon import session as generation_session
from ohgesture.ohgesture_addon.strips import (chosen_strip_label, strip_timing, strips_property, visible_range)
from blender_util import (JOINT_NAMES, OFFSETS, PARENTS, add_sound_strip, reset_blender, write_metadata_only_checkpoint,
                          write_wav)
from support import ROOT, unwritable_folder

BATCH = ROOT / "ohgesture_addon" / "batch.py"
FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")
SKELETON = {"joint_names": JOINT_NAMES, "parents": PARENTS.tolist(), "offsets": OFFSETS.tolist(), "root_joint": 0}


# ----------------------------------------------------------------------------- helpers


@pytest.fixture
def studio(registered, tmp_path, monkeypatch):
    """A metadata-only model, the takes and temporary files kept under tmp_path, a 30 fps
    scene; the fake generator logs every call to ``calls``."""
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    for folder in ("takes", "tmp"):
        (tmp_path / folder).mkdir()
    env = {"OHGESTURE_MODEL": str(model), "OHGESTURE_TAKES_DIR": str(tmp_path / "takes"),
           "FAKE_CALLS_LOG": str(tmp_path / "calls.jsonl"), "TMPDIR": str(tmp_path / "tmp")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(generation_session.tempfile, "tempdir", None)  # TMPDIR is read again
    scene = reset_blender()
    scene.render.fps = 30
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    return SimpleNamespace(tmp=tmp_path, model=model, wav=wav, scene=scene, calls=tmp_path / "calls.jsonl")


def calls(studio) -> list[dict]:
    """The fake generator's calls so far."""
    if not studio.calls.exists():
        return []
    return [json.loads(line) for line in studio.calls.read_text().splitlines()]


def leftovers(studio) -> list[str]:
    """What is left in the temporary folder, besides this test process's own Blender folder."""
    own = os.path.basename(bpy.app.tempdir.rstrip("/"))
    return sorted(p.name for p in (studio.tmp / "tmp").iterdir() if p.name != own)


def rig(name="Rig", skeleton=SKELETON):
    obj = armature.create_matching_armature(bpy.context, skeleton, name=name)
    obj.name = name
    return obj


def save(path) -> Path:
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return Path(path)


def run_batch(args, env=None, timeout=180):
    return subprocess.run([sys.executable, str(BATCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT), env=env)


def batch_args(studio, blend, *extra, out=None):
    return ["--open", blend, "--model", studio.model, "--entry-script", FAKE,
            "--out", out or studio.tmp / "out" / "result.blend", *extra]


def one_line(proc) -> str:
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert proc.returncode not in (0, None), proc.stderr
    assert "Traceback" not in proc.stderr and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def reopen(path):
    bpy.ops.wm.open_mainfile(filepath=str(path))
    return bpy.data.objects


def generated_actions():
    return sorted(a.name for a in bpy.data.actions if takes.generated_info(a))


def keyed_frames(obj) -> set[int]:
    return {int(round(frame)) for fc in takes.action_fcurves(obj.animation_data.action)
            for frame in takes.fcurve_keys(fc)[:, 0]}


def scene_state() -> dict:
    return {"actions": sorted(bpy.data.actions.keys()), "objects": sorted(bpy.data.objects.keys()),
            "animated": sorted((o.name, o.animation_data.action.name if o.animation_data and o.animation_data.action
                                else None) for o in bpy.data.objects)}


# --------------------------------------------------------------------------- linked rig


def _linked_scene(studio, with_take: bool):
    """lib.blend holds the rig (with a generated take if asked); the scene links it."""
    scene = studio.scene
    lib_rig = rig()
    if with_take:
        add_sound_strip(scene, studio.wav, name="speech")
        scene.ohgesture.armature = lib_rig
        assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    library = save(studio.tmp / "lib.blend")
    scene = reset_blender()
    scene.render.fps = 30
    with bpy.data.libraries.load(str(library), link=True) as (_, linked):
        linked.objects = ["Rig"]
    obj = linked.objects[0]
    scene.collection.objects.link(obj)
    add_sound_strip(scene, studio.wav, name="speech")
    scene.ohgesture.armature = obj
    return scene, obj


def test_a_linked_rig_is_refused_in_one_sentence_until_it_is_overridden(studio):
    scene, linked = _linked_scene(studio, with_take=True)
    assert linked.library is not None and linked.override_library is None
    before = scene_state()
    with pytest.raises(RuntimeError, match=r"linked from 'lib\.blend'.*Object > Library Override > Make"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 10, 20
    with pytest.raises(RuntimeError, match="linked from 'lib.blend'"):  # Regenerate on the library's own take
        bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE)
    assert scene_state() == before and len(calls(studio)) == 1  # only lib.blend's own take ran the generator
    blend = save(studio.tmp / "scene.blend")
    out = studio.tmp / "out" / "result.blend"
    line = one_line(run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig")))
    assert "linked from 'lib.blend'" in line and "Library Override > Make" in line
    assert not out.exists() and len(calls(studio)) == 1

    override = linked.override_create(remap_local_usages=True)  # what the sentence asks for
    scene.ohgesture.armature = override
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    blend = save(studio.tmp / "overridden.blend")
    proc = run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig"))
    assert proc.returncode == 0, proc.stderr
    saved = reopen(out)["Rig"]
    assert saved.library is None and saved.override_library is not None
    action = saved.animation_data.action
    assert takes.generated_info(action) and action.users >= 1 and len(generated_actions()) == 3


# ----------------------------------------------------------------------- a folder of files


def _folder(studio, files: dict) -> Path:
    folder = studio.tmp / "clips"
    folder.mkdir()
    for name, content in files.items():
        if content is None:
            write_wav(folder / name, 1.0)
        else:
            (folder / name).write_bytes(content)
    return folder


def test_a_folder_with_bad_files_keeps_the_good_takes_and_names_each_bad_file(studio):
    folder = _folder(studio, {"a.wav": None, "b.wav": b"", "c.wav": b"BROKEN" + bytes(2000), "d.wav": None})
    blend = save(studio.tmp / "scene.blend")
    out = studio.tmp / "out" / "result.blend"
    proc = run_batch(batch_args(studio, blend, "--sound-dir", folder, "--create-armature"))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("error: b.wav skipped: The audio file") and "is empty (0 bytes)" in lines[0]
    assert lines[1].startswith("error: c.wav skipped: Audio file '") and "not a readable audio format" in lines[1]
    assert lines[2] == f"error: 2 of 4 audio files failed (b.wav, c.wav); the other 2 actions were saved in {out}."
    assert len(lines) == 3
    assert [Path(c["argv"][1]).name for c in calls(studio)] == ["a.wav", "c.wav", "d.wav"]  # b.wav: never started
    reopen(out)
    names = generated_actions()
    assert len(names) == 2 and any(" a " in n for n in names) and any(" d " in n for n in names)


def test_a_folder_where_every_file_fails_saves_nothing_and_keeps_no_take(studio):
    folder = _folder(studio, {"a.wav": b"BROKEN" + bytes(100), "b.wav": b""})
    blend = save(studio.tmp / "scene.blend")
    proc = run_batch(batch_args(studio, blend, "--sound-dir", folder, "--create-armature"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "error: every audio file failed (b.wav, a.wav); nothing was saved."
    assert not (studio.tmp / "out").exists() and list((studio.tmp / "takes").iterdir()) == []


def _path_without_ffmpeg() -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if d and not os.path.exists(os.path.join(d, "ffmpeg")))


def test_m4a_without_ffmpeg_says_what_is_readable_and_what_to_install(studio, monkeypatch):
    import ohgesture.core.audio.features as features

    folder = _folder(studio, {"a.wav": None, "b.m4a": b"\x00\x00\x00\x20ftypM4A " + bytes(500)})
    monkeypatch.setattr(features.shutil, "which", lambda name: None)
    add_sound_strip(studio.scene, studio.wav)
    studio.scene.ohgesture.armature = rig()
    settings = studio.scene.ohgesture
    settings.source, settings.sound_file = "FILE", str(folder / "b.m4a")
    with pytest.raises(RuntimeError, match=r"b\.m4a' is m4a, which needs ffmpeg: install ffmpeg .*wav, flac, ogg, "
                                           r"mp3 and aiff"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert calls(studio) == []
    blend = save(studio.tmp / "scene.blend")
    proc = run_batch(batch_args(studio, blend, "--sound-dir", folder, "--armature", "Rig"),
                     env=dict(os.environ, PATH=_path_without_ffmpeg()))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 2, proc.stderr
    assert lines[0].startswith("error: b.m4a skipped:") and "install ffmpeg" in lines[0] and "wav, flac" in lines[0]
    assert [Path(c["argv"][1]).name for c in calls(studio)] == ["a.wav"]


# ------------------------------------------------------------------------- meta strips


def _strip_in_meta(scene, wav):
    """'Voice' (2 s) inside meta strip 'Meta', moved with it to frame 30; the meta's left
    handle at 45 hides the first half second."""
    voice = add_sound_strip(scene, wav, name="Voice", frame_start=10, channel=1)
    editor = scene.sequence_editor
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    meta = strips.new_meta("Meta", 2, 10)
    voice.move_to_meta(meta)
    new = hasattr(meta, "left_handle")
    setattr(meta, "right_handle" if new else "frame_final_end", 70)
    setattr(meta, "content_start" if new else "frame_start", 30)  # moves the meta and what it holds
    setattr(meta, "left_handle" if new else "frame_final_start", 45)
    assert strip_timing(voice)[:2] == (30, 90) and visible_range(voice) == (45, 90)
    return voice


def test_a_sound_strip_inside_a_meta_strip_is_listed_and_keyed_at_its_place(studio):
    scene = studio.scene
    _strip_in_meta(scene, studio.wav)
    scene.ohgesture.armature = rig()
    editor = scene.sequence_editor
    assert getattr(editor, strips_property(scene)).get("Voice") is not None  # the panel's search lists it
    assert chosen_strip_label(scene, "") == {"text": "'Voice': frames 45-89 inside meta strip 'Meta'",
                                             "icon": "SOUND"}
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}  # no name: found as the first strip
    argv = calls(studio)[-1]["argv"]
    assert argv[argv.index("--start-seconds") + 1] == "0.500000"
    assert argv[argv.index("--duration-seconds") + 1] == "1.500000"
    arm = scene.ohgesture.armature
    assert min(keyed_frames(arm)) == 45 and max(keyed_frames(arm)) == 89
    blend = save(studio.tmp / "scene.blend")
    out = studio.tmp / "out" / "result.blend"
    proc = run_batch(batch_args(studio, blend, "--strip", "Voice", "--armature", "Rig"))
    assert proc.returncode == 0, proc.stderr
    action = reopen(out)["Rig"].animation_data.action
    assert tuple(action.frame_range) == (45.0, 89.0)


# ------------------------------------------------------------------------- packed sounds


def test_a_packed_sound_whose_file_is_gone_is_read_from_the_packed_data(studio):
    scene = studio.scene
    strip = add_sound_strip(scene, studio.wav, name="speech")
    strip.sound.pack()
    size = studio.wav.stat().st_size
    scene.ohgesture.armature = rig()
    blend = save(studio.tmp / "scene.blend")
    studio.wav.unlink()
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = True, 10, 30
    assert bpy.ops.ohgesture.regenerate_selection(entry_script=FAKE) == {"FINISHED"}
    proc = run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig"))
    assert proc.returncode == 0, proc.stderr
    made = calls(studio)
    assert len(made) == 3 and all(c["audio_exists"] and c["audio_size"] == size for c in made)
    assert all(Path(c["argv"][1]).name == "packed_sound.wav" and not Path(c["argv"][1]).exists() for c in made)
    assert leftovers(studio) == []
    assert takes.generated_info(reopen(studio.tmp / "out" / "result.blend")["Rig"].animation_data.action)


# ------------------------------------------------------------------------------ outputs


@pytest.mark.parametrize("problem", ["out_unwritable", "bvh_unwritable", "out_is_a_folder", "bvh_is_a_folder"])
def test_outputs_are_checked_before_generating(studio, problem):
    add_sound_strip(studio.scene, studio.wav, name="speech")
    rig()
    blend = save(studio.tmp / "scene.blend")
    locked = unwritable_folder(studio.tmp)
    folder = studio.tmp / ("taken.blend" if problem == "out_is_a_folder" else "taken.bvh")
    folder.mkdir()
    out, bvh = studio.tmp / "result.blend", studio.tmp / "result.bvh"
    out, bvh = {"out_unwritable": (locked / "r.blend", bvh), "bvh_unwritable": (out, locked / "r.bvh"),
                "out_is_a_folder": (folder, bvh), "bvh_is_a_folder": (out, folder)}[problem]
    line = one_line(run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig", "--bvh", bvh,
                                         "--overwrite", out=out)))
    assert ("is not writable" if "unwritable" in problem else "is a folder") in line, line
    assert calls(studio) == [] and not (studio.tmp / "result.blend").exists() and not (studio.tmp / "result.bvh").exists()


@pytest.mark.parametrize("failing", ["bvh", "out"])
def test_one_failing_output_never_costs_the_other(studio, failing):
    """The checks above make this rare (a disk filling up, a folder locked while generating),
    but the .blend is saved when the BVH cannot be written, and the reverse."""
    add_sound_strip(studio.scene, studio.wav, name="speech")
    arm = studio.scene.ohgesture.armature = rig()
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    action = arm.animation_data.action
    locked = unwritable_folder(studio.tmp)
    good_out, good_bvh = studio.tmp / "r.blend", studio.tmp / "r.bvh"
    args = SimpleNamespace(out=str(locked / "r.blend" if failing == "out" else good_out),
                           bvh=str(locked / "r.bvh" if failing == "bvh" else good_bvh))
    made = batch.Made()
    made.actions.append(action)
    errors = batch.save_outputs(args, bpy.context, arm, made)
    assert len(errors) == 1 and ("BVH" if failing == "bvh" else ".blend") in errors[0]
    assert (good_out if failing == "bvh" else good_bvh).is_file()


def test_bvh_exported_names_the_final_file(studio):
    add_sound_strip(studio.scene, studio.wav, name="speech")
    rig()
    blend = save(studio.tmp / "scene.blend")
    bvh = studio.tmp / "take.bvh"
    proc = run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig", "--bvh", bvh))
    assert proc.returncode == 0, proc.stderr
    exported = [line for line in proc.stdout.splitlines() if line.startswith("BVH Exported:")]
    assert exported == [f"BVH Exported: {bvh} frames:60"] and ".tmp" not in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == f"ohgesture: 1 action saved in {studio.tmp / 'out' / 'result.blend'}"


# ------------------------------------------------------------------- rigs and arguments


def test_a_rig_whose_bones_match_nothing_is_refused_before_generating(studio):
    add_sound_strip(studio.scene, studio.wav, name="speech")
    bones = rig("Props", {"joint_names": ["Bone", "Bone.001"], "parents": [-1, 0], "offsets": OFFSETS[:2].tolist()})
    studio.scene.ohgesture.armature = bones
    before = scene_state()
    with pytest.raises(RuntimeError, match="No bone of 'Props' could be matched"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert scene_state() == before and calls(studio) == []
    blend = save(studio.tmp / "scene.blend")
    line = one_line(run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Props")))
    assert "No bone of 'Props' could be matched" in line and calls(studio) == []


@pytest.mark.parametrize("kind, reason", [("wav", "File format is not supported"), ("truncated", "Missing DNA block")])
def test_a_blend_that_is_not_a_blend_is_one_sentence(studio, kind, reason):
    rig()
    good = save(studio.tmp / "scene.blend")
    bad = studio.tmp / f"bad_{kind}.blend"
    bad.write_bytes(studio.wav.read_bytes() if kind == "wav" else good.read_bytes()[: good.stat().st_size // 2])
    line = one_line(run_batch(batch_args(studio, bad, "--sound", studio.wav, "--armature", "Rig")))
    assert line == f"error: {bad} is not a .blend file Blender can open ({reason})."


def test_frame_start_with_strip_is_refused_and_the_scene_start_is_left_alone(studio):
    studio.scene.frame_start = 7
    add_sound_strip(studio.scene, studio.wav, name="speech", frame_start=20)
    rig()
    blend = save(studio.tmp / "scene.blend")
    line = one_line(run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig", "--frame-start", 50)))
    assert "--frame-start applies to --sound and --sound-dir only" in line and calls(studio) == []
    out = studio.tmp / "out" / "result.blend"
    proc = run_batch(batch_args(studio, blend, "--sound", studio.wav, "--armature", "Rig", "--frame-start", 50))
    assert proc.returncode == 0, proc.stderr
    objects = reopen(out)
    assert bpy.context.scene.frame_start == 7 and objects["Rig"].animation_data.action.frame_range[0] == 50


# ------------------------------------------------------------------------------ cancel


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cancelling_the_batch_writes_nothing_and_leaves_no_temporary_file(studio, sig):
    folder = _folder(studio, {"a.wav": None, "b.wav": None})
    rig()
    blend = save(studio.tmp / "scene.blend")
    out = studio.tmp / "out" / "result.blend"
    env = dict(os.environ, FAKE_MODE="slow_after_first")  # a.wav is done, b.wav is cancelled
    proc = subprocess.Popen([sys.executable, str(BATCH), *map(str, batch_args(studio, blend, "--sound-dir", folder,
                                                                              "--armature", "Rig"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=env)
    deadline = time.monotonic() + 60
    while len(calls(studio)) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stderr.strip().splitlines() == ["error: cancelled; nothing was saved."]
    fake = calls(studio)[1]["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(fake, 0)
    assert len(calls(studio)) == 2 and not out.exists() and not (studio.tmp / "out").exists()
    assert leftovers(studio) == [] and list((studio.tmp / "takes").iterdir()) == []


# ----------------------------------------------------------------------- frame rates


def test_at_60_fps_every_frame_of_the_strip_is_keyed_including_the_last(studio):
    scene = studio.scene
    scene.render.fps = 60
    strip = add_sound_strip(scene, studio.wav, name="speech", frame_start=1)
    left, right = strip_timing(strip)[:2]
    assert (left, right) == (1, 121)
    scene.ohgesture.armature = rig()
    assert bpy.ops.ohgesture.generate(entry_script=FAKE) == {"FINISHED"}
    assert keyed_frames(scene.ohgesture.armature) == set(range(1, 121))
    blend = save(studio.tmp / "scene.blend")
    proc = run_batch(batch_args(studio, blend, "--strip", "speech", "--armature", "Rig"))
    assert proc.returncode == 0, proc.stderr
    assert keyed_frames(reopen(studio.tmp / "out" / "result.blend")["Rig"]) == set(range(1, 121))


# --------------------------------------------------------- short strips, the real generator


@pytest.fixture
def real_model(tiny_checkpoint, studio, monkeypatch):
    monkeypatch.setenv("OHGESTURE_MODEL", str(tiny_checkpoint))
    monkeypatch.setitem(common.QUALITY_PRESETS, "FAST", ("ddim", 2))
    common._metadata_cache.clear()
    return Path(tiny_checkpoint)


def test_a_very_short_strip_shows_the_generators_padding_note(studio, real_model):
    short = studio.tmp / "short.wav"
    write_wav(short, 0.2)
    add_sound_strip(studio.scene, short, name="short")
    studio.scene.ohgesture.armature = armature.create_matching_armature(
        bpy.context, common.skeleton_metadata(common.model_metadata(real_model)))
    studio.scene.ohgesture.quality = "FAST"
    reports = []
    session = generation_session.start_session(bpy.context)
    assert session.run_blocking(lambda kind, text: reports.append((kind, text)), timeout=300) == {"FINISHED"}, reports
    notes = [text for kind, text in reports if "WARNING" in kind]
    assert len(notes) == 1 and notes[0].startswith("note: the audio is shorter than") and "padded" in notes[0]
    blend = save(studio.tmp / "scene.blend")
    proc = run_batch(["--open", blend, "--strip", "short", "--create-armature", "--model", real_model,
                      "--steps", 2, "--out", studio.tmp / "out" / "short.blend"], timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert f"ohgesture: {notes[0]}" in proc.stdout.splitlines()
