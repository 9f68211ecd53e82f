"""The one settings object (core/generation/settings.py): every setting survives the trip
through its own flags, bad values are one sentence before torch loads, and the command line
gives the same motion, bit for bit, as before the settings object (recorded checksums)."""

import argparse
import hashlib
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from ohgesture.core.cli.protocol import generate_argv, note_line, parse_note, parse_progress, progress_line
from ohgesture.core.generation.settings import DEFAULT_MODEL, GenerationSettings, SettingError, format_number
from support import ENTRY, HAS_TORCH, SAMPLES, TORCH_PYTHON, check_checksums


# Every setting away from its default, so a flag that is lost on the way shows.
CHANGED = GenerationSettings(model="/models/m.safetensors", emotion="angry", blend=("sad", 0.30000001192092896),
                             guidance=1.2345678901234567, energy=-0.1, sampler="ddim", steps=7, seed=12345,
                             retime=False, smooth_hz=0.0, foot_lock=False, rest=False, delivery=0.30000001192092896,
                             device="cuda:1", threads=0)


def _parse(argv):
    parser = argparse.ArgumentParser()
    GenerationSettings.add_arguments(parser)
    return GenerationSettings.from_args(parser.parse_args(argv))


@pytest.mark.parametrize("settings", [GenerationSettings(), CHANGED,
                                      GenerationSettings(mix=(("happy", 0.5), ("sad", 0.25), ("old", 0.25)))])
def test_every_setting_survives_its_flags(settings):
    assert _parse(settings.to_argv()) == settings


def test_the_round_trip_covers_every_field():
    defaults = GenerationSettings()
    assert all(getattr(CHANGED, f.name) != getattr(defaults, f.name) for f in fields(GenerationSettings)
               if f.name != "mix")


def test_numbers_are_written_short_and_exact():
    assert format_number(1.0) == "1" and format_number(0.25) == "0.25" and format_number(1.75) == "1.75"
    value = 0.30000001192092896  # a Blender float property's 0.3
    assert float(format_number(value)) == value


@pytest.mark.parametrize("change, flag", [
    (dict(energy=5.5), "--energy"), (dict(energy=float("nan")), "--energy"), (dict(guidance=-1.0), "--guidance"),
    (dict(steps=0), "--steps"), (dict(threads=-1), "--threads"), (dict(smooth_hz=-2.0), "--smooth-hz"),
    (dict(device="tpu"), "--device"), (dict(blend=("sad", 0.5), mix=(("a", 1.0),)), "--blend or --mix"),
    (dict(delivery=1.5), "--delivery"), (dict(delivery=float("nan")), "--delivery"),
])
def test_bad_values_are_one_sentence_naming_the_flag(change, flag):
    with pytest.raises(SettingError, match=flag) as info:
        GenerationSettings(**change).validate()
    assert "\n" not in str(info.value) and str(info.value).endswith(".")


def test_model_limits_need_only_the_metadata():
    metadata = {"fps": 30.0, "emotions": ["neutral", "sad"], "diffusion": {"T": 1000}}
    GenerationSettings(emotion="sad").check_model(metadata)
    for bad, text in ((dict(emotion="angry"), "no emotion 'angry'"), (dict(smooth_hz=15.0), "below 15 Hz"),
                      (dict(sampler="ddpm", steps=20), "all 1000 steps")):
        with pytest.raises(SettingError, match=text):
            GenerationSettings(**bad).check_model(metadata)


def test_delivery_is_named_or_a_number():
    assert _parse(["--delivery", "oration"]).delivery == 1.0
    assert _parse(["--delivery", "Conversation"]).delivery == 0.0
    assert _parse(["--delivery", "0.25"]).delivery == 0.25
    with pytest.raises(SettingError, match="--delivery must be conversation, oration or a number"):
        _parse(["--delivery", "loud"])


def test_emotions_from_blend_and_mix():
    assert GenerationSettings().emotions(["happy", "neutral"]) == [("neutral", 1.0)]
    assert GenerationSettings().emotions(["happy", "sad"]) == [("happy", 1.0)]
    assert GenerationSettings(emotion="angry", blend=("sad", 0.25)).emotions([]) == [("angry", 0.75), ("sad", 0.25)]


def test_a_bad_setting_exits_2_before_torch_loads(tmp_path):
    code = ("import sys; from ohgesture.core.cli.main import main; rc = main(sys.argv[1:]); "
            "print('torch' in sys.modules); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "generate", str(SAMPLES / "speech_en.wav"), "--out",
                           str(tmp_path / "o.bvh"), "--blend", "sad:2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout.strip() == "False"
    assert proc.stderr.strip() == "error: --blend weight must lie between 0 and 1, got 2 (see ohgesture generate --help)."


def test_the_protocol_lines_read_back():
    assert parse_progress(progress_line(0.25, "sampling window 2/3")) == (0.25, "sampling window 2/3")
    assert parse_progress("note: x") is None and parse_note(note_line("padded")) == "padded"
    argv = generate_argv(CHANGED, "a.wav", "o.npz", keep="k.npz", frame_range=(3, 9), start_seconds=1.5,
                         duration_seconds=2.0)
    assert argv[:5] == ["generate", "a.wav", "--out", "o.npz", "--progress-lines"]
    assert argv[argv.index("--range") + 1] == "3:9" and float(argv[argv.index("--start-seconds") + 1]) == 1.5


# --- bit for bit ------------------------------------------------------------------------

def npz_digest(path) -> str:
    """sha256 of a motion npz's arrays (not its metadata)."""
    digest = hashlib.sha256()
    with np.load(path, allow_pickle=False) as data:
        for key in sorted(k for k in data.files if k != "meta"):
            digest.update(key.encode())
            digest.update(np.ascontiguousarray(data[key]).tobytes())
    return digest.hexdigest()


def _generate(out: Path, *flags):
    proc = subprocess.run([TORCH_PYTHON, str(ENTRY), "generate", str(SAMPLES / "speech_en.wav"), "--out", str(out),
                           *map(str, flags)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return hashlib.sha256(out.read_bytes()).hexdigest() if out.suffix == ".bvh" else npz_digest(out)


@pytest.mark.skipif(not (HAS_TORCH or TORCH_PYTHON != sys.executable) or not DEFAULT_MODEL.is_file(),
                    reason="needs torch and the shipped model")
def test_the_command_line_gives_the_recorded_motion(tmp_path):
    """The shipped model's takes, bit for bit (support.check_checksums says how to record them)."""
    cons = tmp_path / "cons.npz"
    np.savez(cons, frames=np.array([10, 100]), joints=np.array([5, 5]),
             rotations=np.array([[1.0, 0, 0, 0], [0.9238795, 0.3826834, 0, 0]]))
    got = {
        "cli/default.bvh": _generate(tmp_path / "default.bvh"),
        "cli/angry_sad.npz": _generate(tmp_path / "angry_sad.npz", "--emotion", "angry", "--blend", "sad:0.3",
                                       "--seed", "3"),
        "cli/plain.npz": _generate(tmp_path / "plain.npz", "--no-retime", "--no-foot-lock"),
        "cli/regen.bvh": _generate(tmp_path / "regen.bvh", "--keep", tmp_path / "default.bvh", "--range", "60:150",
                                   "--seed", "5"),
        "cli/constraints.npz": _generate(tmp_path / "constraints.npz", "--constraints", cons, "--seed", "1"),
    }
    check_checksums(got)
