"""Hardening: every bad input ends in one clear line (exit code != 0, no traceback, nothing
written, the scene unchanged), through the CLI, the batch script and the Generate operator;
cancels and kills leave nothing half-done behind; long inputs stay in bounded memory.

Most CLI cases run ``cli.main`` in this process (the same code path as the console script,
without a torch import per case; those that need torch are marked requires_torch); the cases
about processes, signals and interpreters run real subprocesses (the generator in TORCH_PYTHON).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import bpy
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings

import ohgesture.ohgesture_addon as addon
from ohgesture.core.cli import main as cli
from ohgesture.core.generation.settings import GenerationSettings
from ohgesture.ohgesture_addon import common
from ohgesture.ohgesture_addon import session as generation_session
from ohgesture.ohgesture_addon import job as generator_jobs
from ohgesture.ohgesture_addon.job import ProcessJob, RUNNING
from ohgesture.ohgesture_addon.strips import strip_timing
from blender_util import (JOINT_NAMES, OFFSETS, PARENTS, add_sound_strip, reset_blender, trim_strip,
                          write_metadata_only_checkpoint, write_wav)
from bvh_mutations import mutated_bvh

from support import ENTRY, ROOT, TORCH_PYTHON, generator_has_cuda
BATCH = ROOT / "ohgesture_addon" / "batch.py"
FAKE = str(Path(__file__).resolve().parent / "fake_generate.py")
SR = 16000


# ----------------------------------------------------------------------------- helpers


def run_main(*args) -> tuple[int, str]:
    """(exit code, stderr) of ``ohgesture ARGS`` run in this process."""
    err = io.StringIO()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = cli.main([str(a) for a in args])
            except SystemExit as exc:  # argparse usage errors
                code = exc.code
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code, err.getvalue()


def one_line_error(code, stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert code not in (0, None), stderr
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def speechlike(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    voice = np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 300 * t)
    return (0.25 * syllables * voice + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def angular_steps(rotations: np.ndarray) -> np.ndarray:
    dots = np.abs((rotations[1:].astype(np.float64) * rotations[:-1]).sum(-1)).clip(0, 1)
    return 2 * np.arccos(dots)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def scene_snapshot() -> dict:
    """Every data-block name of the kinds a generation could add, and each armature's action."""
    kinds = ("actions", "objects", "armatures", "meshes", "sounds", "scenes", "collections", "texts")
    snap = {kind: sorted(getattr(bpy.data, kind).keys()) for kind in kinds}
    snap["animated"] = sorted(
        (o.name, o.animation_data.action.name if o.animation_data and o.animation_data.action else None)
        for o in bpy.data.objects)
    return snap


def process_gone(pid: int) -> bool:
    for probe in (lambda: os.kill(pid, 0), lambda: os.killpg(pid, 0)):
        try:
            probe()
            return False
        except ProcessLookupError:
            pass
    return True


@pytest.fixture(scope="module")
def model(tiny_checkpoint) -> Path:
    return Path(tiny_checkpoint)


@pytest.fixture(scope="module")
def wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("hard_audio") / "speech.wav"
    sf.write(path, speechlike(2.0), SR)
    return path


# ----------------------------------------------------------------------- audio: refused


def _bad_audio(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is a text file pretending to be audio\n" * 20)
    elif kind == "random_bytes":
        path.write_bytes(np.random.default_rng(3).bytes(8000))
    elif kind == "truncated_header":
        sf.write(path, speechlike(1.0), SR)
        path.write_bytes(path.read_bytes()[:30])
    elif kind == "under_one_frame":
        sf.write(path, speechlike(0.01), SR)
    elif kind == "folder":
        path.mkdir()
    return path


@pytest.mark.requires_torch
@pytest.mark.parametrize("kind, needle", [
    ("missing", "does not exist"),
    ("empty", "empty"),
    ("text", "not a readable audio format"),
    ("random_bytes", "not a readable audio format"),
    ("truncated_header", "not a readable audio format"),
    ("under_one_frame", "shorter than one motion frame"),
    ("folder", "is a folder"),
])
def test_unusable_audio_is_one_line_and_writes_nothing(model, tmp_path, kind, needle):
    audio = _bad_audio(kind, tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    line = one_line_error(*run_main("generate", audio, "--out", out_dir / "m.npz", "--model", model, "--steps", 2))
    assert needle in line and audio.name in line
    assert files_in(out_dir) == []


# ---------------------------------------------------------------------- audio: accepted


def _write_variant(kind: str, folder: Path) -> tuple[Path, float]:
    """(file, duration) of an unusual but valid recording."""
    seconds = 2.0
    if kind == "short_0.2s":
        seconds = 0.2
        path = folder / "short.wav"
        sf.write(path, speechlike(seconds), SR)
    elif kind == "silence":
        path = folder / "silence.wav"
        sf.write(path, np.zeros(int(seconds * SR), np.float32), SR)
    elif kind == "clipping":
        path = folder / "clipped.wav"
        sf.write(path, np.clip(40 * speechlike(seconds), -1, 1), SR, subtype="PCM_16")
    elif kind.startswith("rate_"):
        rate = int(kind.split("_")[1])
        path = folder / f"{kind}.wav"
        sf.write(path, speechlike(seconds, sr=rate), rate)
    elif kind in ("stereo", "6ch"):
        channels = 2 if kind == "stereo" else 6
        path = folder / f"{kind}.wav"
        sf.write(path, np.stack([speechlike(seconds, seed=c) for c in range(channels)], axis=1), SR)
    else:  # compressed formats libsndfile writes and reads
        path = folder / f"speech.{kind}"
        sf.write(path, speechlike(seconds), SR)
    return path, seconds


@pytest.mark.requires_torch
@pytest.mark.parametrize("kind", ["short_0.2s", "silence", "clipping", "rate_8000", "rate_44100", "rate_48000",
                                  "stereo", "6ch", "flac", "ogg", "mp3"])
def test_unusual_audio_gives_finite_motion_of_the_right_length(model, tmp_path, kind):
    audio, seconds = _write_variant(kind, tmp_path)
    out = tmp_path / "m.npz"
    code, stderr = run_main("generate", audio, "--out", out, "--model", model, "--steps", 2, "--seed", 5)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr
    if kind == "short_0.2s":  # shorter than the model's seed window: padded, with a note
        assert "note: the audio is shorter than" in stderr
    with np.load(out, allow_pickle=False) as data:
        rotations, root = data["rotations"], data["root_translation"]
        assert abs(len(rotations) - round(seconds * float(data["fps"]))) <= 1
        assert np.isfinite(rotations).all() and np.isfinite(root).all()
        np.testing.assert_allclose(np.linalg.norm(rotations, axis=-1), 1.0, atol=1e-4)
        if kind == "short_0.2s":
            assert "padded" in json.loads(str(data["meta"]))["note"]
    assert files_in(tmp_path) == sorted([audio.name, "m.npz"])


@pytest.mark.requires_torch
def test_silence_gives_calm_idle_motion(model, tmp_path):
    quiet, loud = tmp_path / "silence.wav", tmp_path / "speech.wav"
    sf.write(quiet, np.zeros(3 * SR, np.float32), SR)
    sf.write(loud, speechlike(3.0), SR)
    steps = {}
    for name, audio in (("silence", quiet), ("speech", loud)):
        out = tmp_path / f"{name}.npz"
        code, stderr = run_main("generate", audio, "--out", out, "--model", model, "--steps", 2, "--seed", 1)
        assert code == 0, stderr
        with np.load(out) as data:
            steps[name] = angular_steps(data["rotations"])
            root_speed = np.linalg.norm(np.diff(data["root_translation"], axis=0), axis=1)
        assert np.isfinite(steps[name]).all()
        # plausible: no joint turns faster than ~170 degrees/s, the root drifts under 30 cm/s
        assert steps[name].max() < 0.1 and root_speed.max() < 1.0, (name, steps[name].max(), root_speed.max())
    assert steps["silence"].mean() <= 1.5 * steps["speech"].mean()


# ------------------------------------------------------------------------------ models


def _bad_model(kind: str, folder: Path, model: Path) -> Path:
    if kind == "missing":
        return folder / "nope.safetensors"
    if kind == "random_bytes":
        path = folder / "random.safetensors"
        path.write_bytes(np.random.default_rng(1).bytes(4096))
    elif kind == "truncated":
        path = folder / "truncated.safetensors"
        data = model.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "pickle_pt":
        import torch

        path = folder / "model.pt"
        torch.save({"weight": torch.zeros(3)}, path)
    elif kind == "format_version":
        from safetensors.numpy import save_file

        path = folder / "future.safetensors"
        save_file({"x": np.zeros(2, np.float32)}, str(path),
                  metadata={"ohgesture": json.dumps({"format_version": 99, "emotions": ["calm"]})})
    return path


MODEL_PROBLEMS = [("missing", "does not exist"), ("random_bytes", "not a safetensors file"),
                  ("truncated", "truncated"), ("pickle_pt", "pickle"), ("format_version", "version")]


@pytest.mark.requires_torch
@pytest.mark.parametrize("kind, needle", MODEL_PROBLEMS)
def test_unusable_models_are_one_line(model, wav, tmp_path, kind, needle):
    bad = _bad_model(kind, tmp_path, model)
    out = tmp_path / "m.bvh"
    line = one_line_error(*run_main("generate", wav, "--out", out, "--model", bad, "--steps", 2))
    assert needle in line.lower()
    assert not out.exists()
    line = one_line_error(*run_main("info", bad))
    assert needle in line.lower()


@pytest.mark.requires_torch
def test_unknown_emotion_lists_the_valid_ones(model, wav, tmp_path):
    for extra in (["--emotion", "furious"], ["--emotion", "calm", "--blend", "furious:0.3"],
                  ["--mix", "calm:0.5,furious:0.5"]):
        line = one_line_error(*run_main("generate", wav, "--out", tmp_path / "m.npz", "--model", model,
                                        "--steps", 2, *extra))
        assert "furious" in line and "valid emotions: calm, lively" in line
    assert files_in(tmp_path) == []


# --------------------------------------------------------------------------- arguments


@pytest.mark.requires_torch
@pytest.mark.parametrize("extra, needle", [
    (["--blend", "lively:1.5"], "between 0 and 1"),
    (["--blend", "lively:-0.2"], "between 0 and 1"),
    (["--blend", "lively:abc"], "not a number"),
    (["--mix", "calm:0.9,lively:0.3"], "sum to 1"),
    (["--steps", "0"], "--steps"),
    (["--steps", "-3"], "--steps"),
    (["--steps", "2.5"], "--steps"),
    (["--guidance", "-0.5"], "--guidance"),
    (["--guidance", "nan"], "--guidance"),
    (["--guidance", "inf"], "--guidance"),
    (["--energy", "inf"], "--energy"),
    (["--smooth-hz", "-1"], "--smooth-hz"),
    (["--smooth-hz", "15"], "--smooth-hz"),
    (["--smooth-hz", "nan"], "--smooth-hz"),
    (["--seed", "1.5"], "--seed"),
    (["--seed", "seven"], "--seed"),
    (["--fps", "0"], "--fps"),
    (["--device", "tpu"], "unknown device"),
])
def test_bad_arguments_are_one_line(model, wav, tmp_path, extra, needle):
    out = tmp_path / "m.npz"
    line = one_line_error(*run_main("generate", wav, "--out", out, "--model", model, *extra))
    assert needle in line
    assert files_in(tmp_path) == []


@pytest.mark.requires_torch
def test_output_paths(model, wav, tmp_path):
    a_file = tmp_path / "plain.txt"
    a_file.write_text("not a folder")
    line = one_line_error(*run_main("generate", wav, "--out", tmp_path / "no" / "such" / "m.npz", "--model", model))
    assert "does not exist" in line
    line = one_line_error(*run_main("generate", wav, "--out", a_file / "m.npz", "--model", model))
    assert "is a file, not a folder" in line
    line = one_line_error(*run_main("generate", wav, "--out", tmp_path / "m.wav", "--model", model))
    assert ".bvh or .npz" in line
    kept = tmp_path / "kept.npz"
    kept.write_bytes(b"precious")
    line = one_line_error(*run_main("generate", wav, "--out", kept, "--model", model, "--steps", 2))
    assert "--overwrite" in line and kept.read_bytes() == b"precious"
    code, stderr = run_main("generate", wav, "--out", kept, "--model", model, "--steps", 2, "--overwrite")
    assert code == 0, stderr
    with np.load(kept) as data:
        assert len(data["rotations"]) == 60
    assert files_in(tmp_path) == ["kept.npz", "plain.txt"]  # no temp files left behind


@pytest.mark.requires_torch
def test_cuda_without_a_gpu_is_one_line_but_auto_falls_back(model, wav, tmp_path):
    if generator_has_cuda():
        pytest.skip("a CUDA device is present")
    line = one_line_error(*run_main("generate", wav, "--out", tmp_path / "m.npz", "--model", model,
                                    "--device", "cuda", "--steps", 2))
    assert "CUDA" in line and "--device cpu or auto" in line
    assert files_in(tmp_path) == []
    code, stderr = run_main("generate", wav, "--out", tmp_path / "m.npz", "--model", model, "--device", "auto",
                            "--steps", 2)
    assert code == 0, stderr


# ------------------------------------------------------- environment: no torch, killed


def _python_without(module: str) -> str | None:
    for candidate in ("/usr/bin/python3", shutil.which("python3") or ""):
        if candidate and os.path.isfile(candidate) and os.path.realpath(candidate) != os.path.realpath(sys.executable):
            probe = subprocess.run([candidate, "-c", f"import {module}"], capture_output=True, timeout=60)
            if probe.returncode != 0:
                return candidate
    return None


def test_cli_in_an_interpreter_without_torch_says_how_to_install(wav, tmp_path):
    python = _python_without("torch")
    if python is None:
        pytest.skip("no Python without torch on this machine")
    out = tmp_path / "m.npz"
    proc = subprocess.run([python, str(ENTRY), "generate", str(wav), "--out", str(out), "--progress-lines"],
                          capture_output=True, text=True, timeout=120)
    lines = [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith("OHG_PROGRESS")]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and "install the dependencies" in lines[0], proc.stderr
    assert not out.exists()


@pytest.fixture
def fake_scene(registered, tmp_path, monkeypatch):
    """A 2 s sound strip, an armature matching a metadata-only model, the fake generator."""
    model = tmp_path / "model.safetensors"
    write_metadata_only_checkpoint(model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    scene = reset_blender()
    scene.render.fps = 30
    wav = tmp_path / "speech.wav"
    write_wav(wav, 2.0)
    strip = add_sound_strip(scene, wav, frame_start=1)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    return {"scene": scene, "strip": strip, "wav": wav, "tmp": tmp_path, "model": model}


@pytest.fixture
def real_scene(registered, model, tmp_path, monkeypatch):
    """A sound strip and the tiny model's own armature; FAST quality runs 2 steps."""
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    monkeypatch.setitem(common.QUALITY_PRESETS, "FAST", ("ddim", 2))
    scene = reset_blender()
    scene.render.fps = 30
    wav = tmp_path / "speech.wav"
    sf.write(wav, speechlike(2.0), SR)
    strip = add_sound_strip(scene, wav, frame_start=1)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    scene.ohgesture.quality = "FAST"
    return {"scene": scene, "strip": strip, "wav": wav, "tmp": tmp_path}


def test_operator_with_an_interpreter_without_torch_says_how_to_install(real_scene):
    python = _python_without("torch")
    if python is None:
        pytest.skip("no Python without torch on this machine")
    before = scene_snapshot()
    with pytest.raises(RuntimeError, match="install the dependencies"):
        bpy.ops.ohgesture.generate(python=python)
    assert scene_snapshot() == before and generation_session.active_session() is None


def test_operator_with_a_missing_interpreter_says_how_to_install(fake_scene):
    before = scene_snapshot()
    with pytest.raises(RuntimeError, match="install the dependencies"):
        bpy.ops.ohgesture.generate(entry_script=FAKE, python=str(fake_scene["tmp"] / "no" / "python"))
    assert scene_snapshot() == before


def test_generation_killed_midway_is_reported_and_the_scene_is_unchanged(fake_scene, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "slow")
    before = scene_snapshot()
    session = generation_session.start_session(bpy.context, entry_script=FAKE)
    deadline = time.monotonic() + 30
    while session.progress <= 0.0:
        assert time.monotonic() < deadline and session.step(lambda *a: None) == {"RUNNING_MODAL"}
        time.sleep(0.02)
    os.kill(session.job.pid, signal.SIGKILL)
    reports = []
    deadline = time.monotonic() + 30
    while (result := session.step(lambda kind, text: reports.append((kind, text)))) == {"RUNNING_MODAL"}:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert result == {"CANCELLED"}
    assert reports == [({"ERROR"}, "Gesture generation failed: The process was killed (SIGKILL) before it finished.")]
    assert scene_snapshot() == before and not os.path.exists(session.workdir)
    assert process_gone(session.job.pid) and generation_session.active_session() is None


# ---------------------------------------------------------- operator and batch refusals


def _break(problem: str, setup: dict, monkeypatch) -> str:
    """Make one thing wrong; returns the message expected."""
    scene, strip, tmp = setup["scene"], setup["strip"], setup["tmp"]
    if problem == "strip_file_moved":
        setup["wav"].rename(tmp / "moved.wav")
        return "does not exist"
    if problem == "strip_zero_length":
        left, right = strip_timing(strip)[:2]
        trim_strip(strip, start=right - left)
        return "no visible frames"
    if problem == "model_missing":
        monkeypatch.setenv("OHGESTURE_MODEL", str(tmp / "nope.safetensors"))
        return "does not exist"
    if problem in ("model_random_bytes", "model_pickle", "model_format_version"):
        kind = {"model_random_bytes": "random_bytes", "model_pickle": "pickle_pt",
                "model_format_version": "format_version"}[problem]
        monkeypatch.setenv("OHGESTURE_MODEL", str(_bad_model(kind, tmp, setup["model"])))
        return {"random_bytes": "not a safetensors file", "pickle_pt": "pickle", "format_version": "version"}[kind]
    if problem == "unknown_emotion":
        write_metadata_only_checkpoint(tmp / "calm_only.safetensors", labels=["calm", "sleepy"])
        monkeypatch.setenv("OHGESTURE_MODEL", str(tmp / "calm_only.safetensors"))
        return "valid emotions: calm, sleepy"
    raise AssertionError(problem)


OPERATOR_PROBLEMS = ["strip_file_moved", "strip_zero_length", "model_missing", "model_random_bytes",
                     pytest.param("model_pickle", marks=pytest.mark.requires_torch),  # torch.save writes it
                     "model_format_version", "unknown_emotion"]


@pytest.mark.parametrize("problem", OPERATOR_PROBLEMS)
def test_generate_operator_refuses_with_one_sentence(fake_scene, monkeypatch, problem):
    fake_scene["scene"].ohgesture.emotion = "happy"
    needle = _break(problem, fake_scene, monkeypatch)
    common._metadata_cache.clear()
    before = scene_snapshot()
    with pytest.raises((RuntimeError, ValueError)) as info:
        if problem == "unknown_emotion":  # the menu cannot offer it; a script's settings can ask for it
            generation_session.build_request(bpy.context, generation=GenerationSettings(emotion="happy"))
        else:
            bpy.ops.ohgesture.generate(entry_script=FAKE)
    message = str(info.value).strip()
    assert needle.lower() in message.lower(), message
    assert len(message.splitlines()) == 1
    assert scene_snapshot() == before and generation_session.active_session() is None


def _run_batch(args, timeout=180):
    return subprocess.run([sys.executable, str(BATCH), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT))


def _batch_one_line(proc) -> str:
    return one_line_error(proc.returncode, proc.stderr)


@pytest.fixture
def batch_blend(fake_scene):
    path = fake_scene["tmp"] / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return {**fake_scene, "blend": path}


@pytest.mark.parametrize("extra, needle", [
    (["--steps", "0"], "--steps"),
    (["--steps", "-3"], "--steps"),
    (["--guidance", "-1"], "--guidance"),
    (["--energy", "nan"], "--energy"),
    (["--seed", "1.5"], "--seed"),
    (["--blend", "sad:1.5"], "between 0 and 1"),
    (["--emotion", "furious"], "valid emotions: neutral, happy, angry, sad"),
    (["--device", "tpu"], "--device"),
    (["--sound", "MISSING"], "does not exist"),
    (["--model", "RANDOM"], "not a safetensors file"),
    (["--out", "UNDER_FILE"], "is a file, not a folder"),
    (["--out", "EXISTING"], "--overwrite"),
])
def test_batch_refuses_with_one_line_and_writes_nothing(batch_blend, extra, needle):
    tmp = batch_blend["tmp"]
    (tmp / "plain.txt").write_text("x")
    (tmp / "existing.blend").write_bytes(b"keep me")
    (tmp / "random.safetensors").write_bytes(np.random.default_rng(0).bytes(1000))
    replace = {"MISSING": tmp / "missing.wav", "RANDOM": tmp / "random.safetensors",
               "UNDER_FILE": tmp / "plain.txt" / "out.blend", "EXISTING": tmp / "existing.blend"}
    extra = [str(replace.get(e, e)) for e in extra]
    args = {"--open": batch_blend["blend"], "--armature": "OHGesture Armature", "--model": batch_blend["model"],
            "--entry-script": FAKE, "--out": tmp / "result.blend"}
    if "--sound" not in extra:
        args["--strip"] = "speech"
    for key, value in zip(extra[::2], extra[1::2]):
        args[key] = value
    listing = files_in(tmp)
    proc = _run_batch([part for pair in args.items() for part in pair])
    line = _batch_one_line(proc)
    assert needle in line, line
    assert files_in(tmp) == listing and (tmp / "existing.blend").read_bytes() == b"keep me"


@pytest.mark.parametrize("problem", ["cuda_absent", "empty_audio"])
def test_batch_with_the_real_generator_fails_in_one_line(batch_blend, model, problem):
    """Errors found by the generator process itself reach the batch user as one line."""
    if problem == "cuda_absent" and generator_has_cuda():
        pytest.skip("a CUDA device is present")
    tmp = batch_blend["tmp"]
    (tmp / "empty.wav").write_bytes(b"")
    out = tmp / "result.blend"
    source = ["--strip", "speech", "--device", "cuda"] if problem == "cuda_absent" else ["--sound", tmp / "empty.wav"]
    listing = files_in(tmp)
    proc = _run_batch(["--open", batch_blend["blend"], *source, "--create-armature", "--model", model,
                       "--steps", "2", "--out", out])
    line = _batch_one_line(proc)
    assert ("CUDA" if problem == "cuda_absent" else "is empty") in line, line
    assert files_in(tmp) == listing


def _partial_armature(names_and_parents):
    skeleton = {"joint_names": [n for n, _ in names_and_parents], "parents": [p for _, p in names_and_parents],
                "offsets": OFFSETS[: len(names_and_parents)].tolist()}
    from ohgesture.ohgesture_addon import armature

    return armature.create_matching_armature(bpy.context, skeleton, name="Partial Rig")


def test_missing_bones_are_retargeted_and_counted(fake_scene):
    scene = fake_scene["scene"]
    rig = _partial_armature([("Hips", -1), ("Spine", 0), ("Head", 1)])  # no arms
    scene.ohgesture.armature = rig
    reports = []
    session = generation_session.start_session(bpy.context, entry_script=FAKE)
    assert session.run_blocking(lambda kind, text: reports.append(text)) == {"FINISHED"}
    assert f"Mapped 3 of {len(JOINT_NAMES)} bones" in reports
    action = rig.animation_data.action
    assert action is not None and np.isfinite([k.co[1] for fc in _fcurves(rig) for k in fc.keyframe_points]).all()


def _fcurves(obj):
    from bpy_extras.anim_utils import action_get_channelbag_for_slot

    anim = obj.animation_data
    bag = action_get_channelbag_for_slot(anim.action, anim.action_slot)
    return list(bag.fcurves)


def test_a_rig_with_no_matching_bone_is_refused_and_unchanged(fake_scene):
    scene = fake_scene["scene"]
    rig = _partial_armature([("Wheel", -1), ("Axle", 0)])
    scene.ohgesture.armature = rig
    before = scene_snapshot()
    with pytest.raises(RuntimeError, match="No bone of 'Partial Rig' could be matched"):
        bpy.ops.ohgesture.generate(entry_script=FAKE)
    assert scene_snapshot() == before


# ------------------------------------------------------------------- cancel and load


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_cancel_at_a_fraction_leaves_nothing_behind(real_scene, fraction):
    long_wav = real_scene["tmp"] / "long.wav"
    sf.write(long_wav, speechlike(20.0, seed=2), SR)
    add_sound_strip(real_scene["scene"], long_wav, name="long", channel=2)
    real_scene["scene"].ohgesture.sound_strip = "long"
    before = scene_snapshot()
    session = generation_session.start_session(bpy.context)
    deadline = time.monotonic() + 240
    while session.progress < fraction:
        assert session.step(lambda *a: None) == {"RUNNING_MODAL"}, f"ended before {fraction}: {session.error}"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    if fraction == 0.5:  # a second Generate while one runs is refused, and changes nothing
        with pytest.raises(RuntimeError, match="already running"):
            bpy.ops.ohgesture.generate()
    started = time.monotonic()
    assert bpy.ops.ohgesture.cancel() == {"FINISHED"}
    reports = []
    assert session.step(lambda kind, text: reports.append(text)) == {"CANCELLED"}
    assert time.monotonic() - started < 5
    assert reports == ["Gesture generation cancelled; the scene is unchanged."]
    # the generator is gone, or it is the warm worker, still running and idle (it answered the cancel)
    assert process_gone(session.job.pid) or (generator_jobs._worker is session.job.worker and session.job.worker.alive())
    assert not os.path.exists(session.workdir)
    assert scene_snapshot() == before and generation_session.active_session() is None


def _run_until(command, stop_when, sig):
    """Start ``command``, send ``sig`` at the first stderr line for which stop_when(line) holds."""
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    sent = False
    try:
        for line in proc.stderr:
            if not sent and stop_when(line):
                proc.send_signal(sig)
                sent = True
        return proc.wait(timeout=120), sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _progress_at_least(fraction):
    return lambda line: line.startswith("OHG_PROGRESS") and float(line.split()[1]) >= fraction


@pytest.mark.parametrize("suffix, fraction, sig", [
    (".npz", 0.3, signal.SIGKILL),   # mid-sampling
    (".bvh", 0.97, signal.SIGKILL),  # while writing
    (".npz", 0.97, signal.SIGTERM),  # while writing, as the add-on's Cancel does
])
def test_killed_generation_never_leaves_a_half_written_file(model, tmp_path, suffix, fraction, sig):
    audio = tmp_path / "speech.wav"
    sf.write(audio, speechlike(8.0), SR)
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / f"take{suffix}"
    command = [TORCH_PYTHON, str(ENTRY), "generate", str(audio), "--out", str(out), "--model", str(model),
               "--steps", "2", "--progress-lines"]
    code, sent = _run_until(command, _progress_at_least(fraction), sig)
    assert sent
    if out.exists():  # the write won the race: then the file is whole
        if suffix == ".npz":
            with np.load(out) as data:
                assert len(data["rotations"]) == 240
        else:
            from ohgesture.core.motion.bvh import read_bvh

            assert read_bvh(out).num_frames == 240
    else:
        assert code != 0
    leftovers = [name for name in files_in(folder) if name != out.name]
    if sig == signal.SIGTERM:
        assert leftovers == []
    else:  # SIGKILL cannot be cleaned up after; at most a hidden temp file, never the final name
        assert all(name.startswith(f".{out.name}.") and name.endswith(".tmp") for name in leftovers)


@pytest.fixture(scope="module")
def ten_minutes_48k_stereo(tmp_path_factory) -> dict:
    """10 and 1 minutes of noise at 48 kHz stereo: decoding the long one whole would take 230 MB."""
    folder = tmp_path_factory.mktemp("long_audio")
    rng = np.random.default_rng(0)
    paths = {}
    for minutes in (1, 10):
        paths[minutes] = folder / f"noise_{minutes}min.wav"
        with sf.SoundFile(paths[minutes], "w", samplerate=48000, channels=2, subtype="PCM_16") as handle:
            for _ in range(minutes * 2):
                handle.write((0.1 * rng.standard_normal((30 * 48000, 2))).astype(np.float32))
    return paths


PEAK_RSS_SCRIPT = """
import resource, sys
from ohgesture.core.audio.features import audio_features_from_file
features = audio_features_from_file(sys.argv[1], fps=30)
print(len(features), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_long_audio_features_keep_peak_memory_bounded(ten_minutes_48k_stereo):
    peaks = {}
    for minutes, path in ten_minutes_48k_stereo.items():
        proc = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, str(path)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        frames, peak_kb = map(int, proc.stdout.split())
        assert frames == minutes * 60 * 30
        peaks[minutes] = peak_kb * 1024
    growth = peaks[10] - peaks[1]
    assert growth < 60e6, f"peak RSS grew {growth / 1e6:.0f} MB from 1 to 10 minutes (whole file: 230 MB)"


def test_long_generation_can_be_cancelled_while_reading_audio(model, ten_minutes_48k_stereo, tmp_path):
    out = tmp_path / "long.npz"
    job = ProcessJob([TORCH_PYTHON, str(ENTRY), "generate", str(ten_minutes_48k_stereo[10]), "--out", str(out),
                      "--model", str(model), "--steps", "2", "--progress-lines"]).start()
    deadline = time.monotonic() + 120
    while job.poll() == RUNNING and "reading audio" not in job.message:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job.state == RUNNING, job.error
    time.sleep(1.0)  # well inside the feature extraction of 10 minutes
    started = time.monotonic()
    job.cancel()
    assert time.monotonic() - started < 3.0
    assert job.state == "CANCELLED" and process_gone(job.pid)
    assert files_in(tmp_path) == []


# ------------------------------------------------------------ malformed BVH via info, prepare


def test_prepare_with_a_truncated_bvh_in_the_dataset_is_one_line(synthetic_pairs, tmp_path):
    data = tmp_path / "pairs"
    shutil.copytree(synthetic_pairs, data)
    victim = sorted(data.glob("*.bvh"))[1]
    victim.write_bytes(victim.read_bytes()[:3000])
    line = one_line_error(*run_main("prepare", "--data", data, "--format", "pairs", "--out", tmp_path / "pack.npz"))
    assert victim.name in line and "line " in line
    assert not (tmp_path / "pack.npz").exists()


@pytest.fixture(scope="module")
def bvh_scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bvh_info") / "mutated.bvh"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=mutated_bvh)
def test_info_on_malformed_bvh_is_json_or_one_line(data, bvh_scratch):
    bvh_scratch.write_bytes(data)
    code, stderr = run_main("info", bvh_scratch)
    if code == 0:
        assert stderr == ""
    else:
        line = one_line_error(code, stderr)
        assert str(bvh_scratch) in line
