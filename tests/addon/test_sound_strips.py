"""Sound strips and what the report calls the armature's animation: a muted strip is refused
in one sentence (an unmuted one is taken instead where none is named); an mp3 strip is keyed
to its last frame; an existing animation on a retargeted rig is called that, not hand keys,
in Generate's report and the batch script's. Real bpy module, real .blend and mp3 files."""

import shutil
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

import ohgesture.ohgesture_addon as addon
from ohgesture.ohgesture_addon import strips
from ohgesture.ohgesture_addon import session as generation_session
from ohgesture.ohgesture_addon.common import DEFAULT_MODEL
from blender_util import add_sound_strip, model_and_scene, reset_blender, write_wav
from support import ROOT, SAMPLES

FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")
BATCH = ROOT / "ohgesture_addon" / "batch.py"


@pytest.fixture
def fake_scene(tmp_path, monkeypatch):
    """30 fps, a 2-s strip at frame 1, the metadata-only model's own armature."""
    addon.register()
    model, scene = model_and_scene(tmp_path, monkeypatch)
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    strip = add_sound_strip(scene, wav, name="speech", frame_start=1)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    yield {"scene": scene, "strip": strip, "wav": wav, "tmp": tmp_path, "model": model}
    addon.unregister()


def _generate():
    session = generation_session.start_session(bpy.context, entry_script=FAKE)
    reports = []
    assert session.run_blocking(lambda kind, text: reports.append(text), timeout=300) == {"FINISHED"}, reports
    return session.action, reports


def test_a_muted_strip_is_refused_in_one_sentence(fake_scene):
    scene, strip = fake_scene["scene"], fake_scene["strip"]
    actions = len(bpy.data.actions)
    strip.mute = True
    with pytest.raises(RuntimeError, match=r"Every sound strip of the scene is muted; unmute the one to animate to\."):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    scene.ohgesture.sound_strip = "speech"
    with pytest.raises(RuntimeError, match=r"The sound strip 'speech' is muted; unmute it or pick another strip\."):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert strips.chosen_strip_label(scene, "speech")["icon"] == "ERROR"
    assert len(bpy.data.actions) == actions  # nothing was made
    # A muted channel counts too; with no strip named, an unmuted strip elsewhere is used.
    strip.mute = False
    scene.sequence_editor.channels[strip.channel].mute = True
    assert strips.is_muted(scene, strip)
    other = add_sound_strip(scene, fake_scene["wav"], name="other", frame_start=40, channel=3)
    scene.ohgesture.sound_strip = ""
    scene.sequence_editor.active_strip = strip
    assert strips.resolve_strip(scene, "") == other
    action, _ = _generate()
    assert tuple(action.frame_range)[0] == 40


def test_existing_animation_on_a_retargeted_rig_is_not_called_hand_keys(fake_scene):
    scene = fake_scene["scene"]
    rig = scene.ohgesture.armature
    for bone in rig.data.bones:  # Mixamo's names: retargeted through an automatic bone map
        bone.name = f"mixamorig:{bone.name}"
    rig.name = "Walker"
    walk = bpy.data.actions.new("walk")
    rig.animation_data_create().action = walk
    hips = rig.pose.bones["mixamorig:Hips"]
    for frame in range(1, 61, 10):
        hips.location = (0.0, 0.0, 0.05 * np.sin(frame))
        hips.keyframe_insert("location", frame=frame)
    expected = "its existing animation is not passed through (it stays on a muted NLA track)"
    _, reports = _generate()
    report = " ".join(reports)
    assert expected in report and "hand key" not in report.lower()
    assert walk.name in bpy.data.actions and walk.use_fake_user

    # The batch script says the same.
    rig.animation_data.action = walk
    blend = fake_scene["tmp"] / "walker.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = subprocess.run([sys.executable, str(BATCH), "--open", blend, "--strip", "speech", "--armature", "Walker",
                           "--model", fake_scene["model"], "--entry-script", FAKE,
                           "--out", fake_scene["tmp"] / "out.blend"], capture_output=True, text=True, timeout=300,
                          cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"ohgesture: 'Walker' is retargeted, so {expected}" in proc.stdout
    assert "hand key" not in proc.stdout.lower()


def _mp3(tmp_path) -> Path:
    """speech_en.wav as a 48 kHz stereo mp3: libsndfile's encoder (it writes the encoder's delay
    and padding, which the generator's decoder drops and Blender counts), else sox's."""
    import soundfile as sf
    from scipy.signal import resample_poly

    samples, rate = sf.read(str(SAMPLES / "speech_en.wav"))
    wav = tmp_path / "speech48.wav"
    sf.write(str(wav), np.stack([resample_poly(samples, 48000, rate)] * 2, axis=1), 48000)
    mp3 = tmp_path / "speech48.mp3"
    if "MP3" in sf.available_formats():
        data, _ = sf.read(str(wav))
        sf.write(str(mp3), data, 48000, format="MP3")
    elif shutil.which("sox") and "mp3" in subprocess.run(["sox", "-h"], capture_output=True, text=True).stdout:
        subprocess.run(["sox", str(wav), str(mp3)], check=True)
    else:
        pytest.skip("no mp3 encoder here (libsndfile without MP3, no sox with mp3)")
    return mp3


def test_an_mp3_strip_is_keyed_to_its_last_frame(tmp_path, monkeypatch):
    import soundfile as sf

    addon.register()
    try:
        monkeypatch.setenv("OHGESTURE_MODEL", str(DEFAULT_MODEL))
        monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
        scene = reset_blender()
        scene.render.fps = 60
        mp3 = _mp3(tmp_path)
        strip = add_sound_strip(scene, mp3, name="voice", frame_start=1)
        first, end = strips.visible_range(strip)
        decoded = sf.info(str(mp3))
        print(f"mp3 strip: {end - first} frames at 60 fps; decoded {decoded.frames / decoded.samplerate * 60:.1f}")
        assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
        scene.ohgesture.quality = "FAST"
        scene.ohgesture.sound_strip = "voice"
        session = generation_session.start_session(bpy.context)
        reports = []
        assert session.run_blocking(lambda kind, text: reports.append(text), timeout=600) == {"FINISHED"}, reports
        assert tuple(session.action.frame_range) == (first, end - 1)
    finally:
        addon.unregister()
