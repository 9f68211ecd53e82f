"""The ohgesture CLI end to end: train a tiny model, generate, read the result back."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import TINY_MODEL_CONFIG, run_cli, unwritable_folder


def _one_line_error(proc):
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_info_describes_bvh_audio_and_checkpoint(zeggs_bvh, zeggs_wav, tiny_checkpoint):
    bvh = json.loads(run_cli("info", zeggs_bvh).stdout)
    assert (bvh["skeleton"], bvh["joints"], bvh["frames"], bvh["fps"]) == ("zeggs", 75, 2065, 30.0)
    assert bvh["duration"] == pytest.approx(68.83, abs=0.01)
    audio = json.loads(run_cli("info", zeggs_wav).stdout)
    assert audio["sample_rate"] == 16000 and audio["channels"] == 1
    assert audio["duration"] == pytest.approx(68.83, abs=0.01)
    model = json.loads(run_cli("info", tiny_checkpoint).stdout)
    assert model["emotions"] == ["calm", "lively"] and model["fps"] == 30.0
    assert model["sizes"]["window"] == 40


@pytest.mark.parametrize("content", ["", "HIERARCHY\nROOT Hips\n{\n", "not a file at all \x00\x01"])
def test_info_on_bad_files_is_one_line(tmp_path, content):
    for suffix in (".bvh", ".wav", ".safetensors"):
        path = tmp_path / f"bad{suffix}"
        path.write_text(content)
        _one_line_error(run_cli("info", path, check=False))
    _one_line_error(run_cli("info", tmp_path / "missing.bvh", check=False))


def test_generate_npz_contract_and_determinism(tiny_checkpoint, speech_wav, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for out in (a, b):
        run_cli("generate", speech_wav, "--out", out, "--model", tiny_checkpoint, "--steps", 4, "--seed", 11,
                "--emotion", "lively")
    with np.load(a, allow_pickle=False) as x, np.load(b, allow_pickle=False) as y:
        assert set(x.files) >= {"rotations", "root_translation", "joint_names", "parents", "offsets", "root_joint",
                                "fps", "meta"}
        F, J = x["rotations"].shape[:2]
        assert x["root_translation"].shape == (F, 3) and x["offsets"].shape == (J, 3)
        assert len(x["joint_names"]) == J and float(x["fps"]) == 30.0
        np.testing.assert_allclose(np.linalg.norm(x["rotations"], axis=-1), 1.0, atol=1e-5)
        assert np.array_equal(x["rotations"], y["rotations"])  # same seed, same bits
        assert json.loads(str(x["meta"]))["emotions"] == [["lively", 1.0]]


def test_smoothing_and_foot_lock_can_be_turned_off_and_say_so(tiny_checkpoint, speech_wav, tmp_path):
    def take(*extra):
        out = tmp_path / f"t{len(list(tmp_path.iterdir()))}.npz"
        run_cli("generate", speech_wav, "--out", out, "--model", tiny_checkpoint, "--steps", 4, "--seed", 3, *extra)
        with np.load(out, allow_pickle=False) as data:
            return data["rotations"], list(data["joint_names"]), json.loads(str(data["meta"]))

    finished, names, meta = take()
    unlocked, _, meta_unlocked = take("--no-foot-lock")
    raw, _, meta_raw = take("--no-foot-lock", "--smooth-hz", "0")
    from ohgesture.core.generation.settings import DEFAULT_SMOOTHING_HZ

    assert (meta["smoothing_hz"], meta["foot_lock"]) == (DEFAULT_SMOOTHING_HZ, True)
    assert (meta_unlocked["foot_lock"], meta_raw["smoothing_hz"]) == (False, 0.0)
    moved = {names[j] for j in np.flatnonzero(np.abs(finished - unlocked).max(axis=(0, 2)) > 1e-6)}
    assert moved and all("Leg" in n or "Foot" in n for n in moved), moved  # the lock turns legs only
    jerk = [np.abs(np.diff(r, n=3, axis=0)).mean() for r in (raw, unlocked)]
    assert jerk[1] < jerk[0]  # the low-pass takes out frame-to-frame noise


def test_blend_weights_follow_the_documented_convention(tiny_checkpoint, speech_wav, tmp_path):
    def rotations(*extra):
        out = tmp_path / f"r{len(list(tmp_path.iterdir()))}.npz"
        run_cli("generate", speech_wav, "--out", out, "--model", tiny_checkpoint, "--steps", 4, "--seed", 5, *extra)
        with np.load(out, allow_pickle=False) as data:
            return data["rotations"], json.loads(str(data["meta"]))

    calm, _ = rotations("--emotion", "calm")
    lively, _ = rotations("--emotion", "lively")
    zero_share, _ = rotations("--emotion", "calm", "--blend", "lively:0")
    full_share, _ = rotations("--emotion", "calm", "--blend", "lively:1")
    mixed, meta = rotations("--emotion", "calm", "--blend", "lively:0.3")
    assert meta["emotions"] == [["calm", 0.7], ["lively", 0.3]]
    np.testing.assert_allclose(zero_share, calm, atol=1e-5)  # gamma = 1 on e1 is e1
    np.testing.assert_allclose(full_share, lively, atol=1e-5)
    assert not np.allclose(calm, lively, atol=1e-3)
    assert not np.allclose(mixed, calm, atol=1e-4)


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--emotion", "furious"], "valid emotions: calm, lively"),
        (["--blend", "lively:1.5"], "between 0 and 1"),
        (["--blend", "lively"], "LABEL:WEIGHT"),
        (["--steps", "0"], "--steps"),
        (["--steps", "-3"], "--steps"),
        (["--guidance", "-1"], "--guidance"),
        (["--energy", "nan"], "--energy"),
        (["--energy", "9"], "from -5 to 5"),
        (["--seed", "1.5"], "--seed"),
    ],
)
def test_bad_arguments_get_one_line(tiny_checkpoint, speech_wav, tmp_path, extra, needle):
    out = tmp_path / "x.bvh"
    line = _one_line_error(run_cli("generate", speech_wav, "--out", out, "--model", tiny_checkpoint, *extra,
                                   check=False))
    assert needle in line
    assert not out.exists()


def test_outputs_are_never_clobbered_or_misplaced(tiny_checkpoint, speech_wav, tmp_path):
    existing = tmp_path / "keep.bvh"
    existing.write_text("precious")
    line = _one_line_error(run_cli("generate", speech_wav, "--out", existing, "--model", tiny_checkpoint,
                                   check=False))
    assert "--overwrite" in line and existing.read_text() == "precious"
    _one_line_error(run_cli("generate", speech_wav, "--out", tmp_path / "no" / "dir.bvh", "--model",
                            tiny_checkpoint, check=False))
    run_cli("generate", speech_wav, "--out", existing, "--model", tiny_checkpoint, "--steps", 2, "--overwrite")
    assert existing.read_text().startswith("HIERARCHY")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bvh"]  # no temp files left behind


def test_an_output_that_is_a_folder_or_in_an_unwritable_folder_is_refused_before_generating(speech_wav, tmp_path):
    """`--out x.bvh --overwrite` where x.bvh is a folder once generated first and then printed
    `[Errno 21] Is a directory` over the progress bar. The model given does not exist: the
    output is refused before anything is loaded."""
    from ohgesture.core.cli.common import CliError, check_output

    folder = tmp_path / "x.bvh"
    folder.mkdir()
    line = _one_line_error(run_cli("generate", speech_wav, "--out", folder, "--overwrite", "--model",
                                   tmp_path / "nope.safetensors", check=False))
    assert "is a folder" in line and str(folder) in line
    assert [p.name for p in folder.iterdir()] == []
    with pytest.raises(CliError, match="not writable"):
        check_output(unwritable_folder(tmp_path) / "m.bvh", True, (".bvh",))


def test_missing_or_unsafe_models_are_refused(speech_wav, tmp_path):
    _one_line_error(run_cli("generate", speech_wav, "--out", tmp_path / "a.bvh", "--model", tmp_path / "nope.safetensors",
                            check=False))
    pickle_pt = tmp_path / "model.pt"
    import pickle

    pickle_pt.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    line = _one_line_error(run_cli("generate", speech_wav, "--out", tmp_path / "a.bvh", "--model", pickle_pt,
                                   check=False))
    assert "pickle" in line.lower()


def test_progress_lines_for_the_addon(tiny_checkpoint, speech_wav, tmp_path):
    proc = run_cli("generate", speech_wav, "--out", tmp_path / "p.npz", "--model", tiny_checkpoint, "--steps", 3,
                   "--progress-lines")
    fractions = [float(l.split()[1]) for l in proc.stderr.splitlines() if l.startswith("OHG_PROGRESS ")]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)


def test_long_audio_is_windowed_with_seamless_joins(tiny_checkpoint, tmp_path):
    import soundfile as sf

    from synthetic import make_synthetic_take

    take = make_synthetic_take(9.0, seed=4)
    wav = tmp_path / "long.wav"
    sf.write(wav, take.waveform, take.sample_rate)
    out = tmp_path / "long.npz"
    run_cli("generate", wav, "--out", out, "--model", tiny_checkpoint, "--steps", 4)
    with np.load(out) as data:
        q = data["rotations"].astype(np.float64)
    assert abs(len(q) - 270) <= 1
    # angular step between frames: no pop at the window joins (window 40, overlap 8 -> stride 32)
    dots = np.abs((q[1:] * q[:-1]).sum(-1)).clip(0, 1)
    step = 2 * np.arccos(dots).max(axis=1)
    joins = [32 * k + d for k in range(1, 8) for d in range(-1, 9) if 32 * k + d < len(step)]
    inside = np.setdiff1d(np.arange(len(step)), joins)
    assert step[joins].max() <= 1.5 * np.percentile(step[inside], 99) + 1e-3


def test_a_float16_pack_is_half_the_size_and_trains_the_same_clips(synthetic_pairs, tmp_path):
    from ohgesture.core.training.datasets import load_pack

    full, half = tmp_path / "full.npz", tmp_path / "half.npz"
    run_cli("prepare", "--data", synthetic_pairs, "--format", "pairs", "--out", full)
    run_cli("prepare", "--data", full, "--format", "pack", "--out", half, "--float16")
    assert half.stat().st_size < 0.7 * full.stat().st_size
    a, b = load_pack(full), load_pack(half)
    assert [c.name for c in a.clips] == [c.name for c in b.clips] and a.labels == b.labels
    for x, y in zip(a.clips, b.clips):
        assert y.motion.dtype == np.float32 and y.audio.dtype == np.float32
        np.testing.assert_allclose(y.motion, x.motion, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(y.audio, x.audio, rtol=1e-3, atol=1e-2)


def test_a_damaged_pack_is_refused_in_one_line(synthetic_pairs, tmp_path):
    import json as json_module

    pack, bad = tmp_path / "pack.npz", tmp_path / "bad.npz"
    run_cli("prepare", "--data", synthetic_pairs, "--format", "pairs", "--out", pack)
    with np.load(pack) as data:
        parts = {k: data[k] for k in data.files}
    header = json_module.loads(str(parts["header"]))
    header["clips"][-1]["frames"] += 50  # more frames than the arrays hold
    np.savez_compressed(bad, **(parts | {"header": np.array(json_module.dumps(header))}))
    for damaged in (bad, tmp_path / "bytes.npz"):
        if not damaged.exists():
            damaged.write_bytes(np.random.default_rng(0).bytes(4000))
        message = _one_line_error(run_cli("train", "--data", damaged, "--format", "pack", "--out",
                                          tmp_path / "m.safetensors", "--steps", 2, check=False))
        assert "is not a readable OHGesture dataset pack" in message
    assert not (tmp_path / "m.safetensors").exists()


def test_training_resumes_from_its_checkpoint(synthetic_pairs, tmp_path):
    import torch

    from ohgesture.core.model.checkpoint import load_checkpoint

    out = tmp_path / "m.safetensors"
    common = ["--data", synthetic_pairs, "--format", "pairs", "--out", out, "--batch", 8,
              "--model-config", TINY_MODEL_CONFIG, "--quiet", "--eval-every", 10, "--checkpoint-every", 10]
    run_cli("train", *common, "--steps", 10)
    from ohgesture.core.model.checkpoint import read_metadata

    assert read_metadata(out)["training"]["steps"] == 10
    before = load_checkpoint(out)[0]
    proc = run_cli("train", *common, "--steps", 20, "--resume", out, "--seed-drop", 0.2)
    assert "resumed" in proc.stderr
    after, meta = load_checkpoint(out)
    assert meta["training"]["steps"] == 20 and meta["training"]["held_out_loss"] is not None
    assert meta["training"]["config"]["seed_drop"] == 0.2
    shared = [k for k in before if k.startswith("model.")]
    assert len(shared) > 10 and all(torch.allclose(before[k], after[k], atol=0.05) for k in shared)
    _one_line_error(run_cli("train", *common, "--steps", 30, "--seed-drop", "nan", check=False))
    assert read_metadata(out)["training"]["steps"] == 20  # the refused run left the checkpoint alone
    assert meta["training"]["held_out_takes"]  # the split is by take and recorded


def test_time_warped_activity_model_stops_at_its_time_limit_and_generates(synthetic_pairs, speech_wav, tmp_path):
    out = tmp_path / "w.safetensors"
    config = json.dumps(json.loads(TINY_MODEL_CONFIG) | {"activity_conditioning": True})
    common = ["--data", synthetic_pairs, "--format", "pairs", "--out", out, "--batch", 8,
              "--model-config", config, "--quiet", "--eval-every", 1000, "--checkpoint-every", 1000]
    proc = run_cli("train", *common, "--steps", 100000, "--time-warp", 1.5, "--max-minutes", 0.05,
                   "--predicted-activity", 0.5, "--label-balance", 0.8)
    assert "time limit" in proc.stderr
    from ohgesture.core.model.checkpoint import read_metadata

    meta = read_metadata(out)
    assert meta["model_config"]["activity_conditioning"]
    meta = meta["training"]
    assert 0 < meta["steps"] < 100000 and meta["held_out_loss"] is not None
    assert meta["config"]["time_warp"] == 1.5 and meta["config"]["max_seconds"] == 3.0
    assert meta["config"]["predicted_activity_share"] == 0.5 and meta["config"]["label_balance"] == 0.8
    bvh, redo = tmp_path / "take.bvh", tmp_path / "redo.bvh"
    run_cli("generate", speech_wav, "--model", out, "--out", bvh)
    run_cli("generate", speech_wav, "--model", out, "--out", redo, "--keep", bvh, "--range", "30:60", "--seed", 3)
    from ohgesture.core.motion.bvh import read_bvh

    take, again = read_bvh(bvh), read_bvh(redo)
    assert take.rotations.shape == again.rotations.shape and take.rotations.shape[0] > 60
    np.testing.assert_array_equal(take.rotations[:30], again.rotations[:30])  # kept outside the range
    assert not np.allclose(take.rotations[35:55], again.rotations[35:55])
    for bad in (["--time-warp", 0.5], ["--max-minutes", -1], ["--predicted-activity", 1.5],
                ["--label-balance", -0.1]):
        assert "must" in _one_line_error(run_cli("train", *common, "--steps", 5, *bad, check=False))
    assert read_metadata(out)["training"]["steps"] == meta["steps"]  # refused runs left it alone


def test_two_process_ddp_training_writes_one_checkpoint(synthetic_pairs, tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / "ddp.safetensors"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "--master_port", "29533", "-m", "ohgesture.core.cli.main", "train",
         "--data", str(synthetic_pairs), "--format", "pairs", "--out", str(out), "--steps", "6", "--batch", "4",
         "--model-config", TINY_MODEL_CONFIG, "--device", "cpu", "--quiet", "--eval-every", "3",
         "--checkpoint-every", "3"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    from ohgesture.core.model.checkpoint import read_metadata

    meta = read_metadata(out)
    assert meta["training"]["processes"] == 2 and meta["training"]["steps"] == 6
    assert [p.name for p in tmp_path.iterdir()] == ["ddp.safetensors"]


def test_regenerating_a_range_keeps_every_other_frame_and_joins_smoothly(tiny_checkpoint, tmp_path):
    """On the shipped model when present: the tiny test model's own motion is so jittery that
    the untouched parts' 99th percentile says little about a join."""
    import soundfile as sf

    from ohgesture.core.generation.pipeline import DEFAULT_MODEL

    from ohgesture.core.motion.bvh import _frame_lines, read_bvh
    from ohgesture.core.motion.kinematics import forward_kinematics
    from synthetic import make_synthetic_take

    wav = tmp_path / "ten.wav"
    sf.write(wav, make_synthetic_take(10.0, seed=7).waveform, 16000)
    take, redo = tmp_path / "take.bvh", tmp_path / "redo.bvh"
    model = DEFAULT_MODEL if DEFAULT_MODEL.exists() else tiny_checkpoint
    run_cli("generate", wav, "--out", take, "--model", model, "--steps", 6)
    run_cli("generate", wav, "--out", redo, "--model", model, "--steps", 6, "--keep", take,
            "--range", "100:160", "--seed", 9)
    old, new = _frame_lines(take)[1], _frame_lines(redo)[1]
    assert len(old) == len(new) == 300
    assert [i for i in range(300) if old[i] != new[i] and not 100 <= i < 160] == []  # bit-identical outside
    assert sum(old[i] != new[i] for i in range(100, 160)) == 60
    def jumps(path):  # jump[i]: the largest velocity change of any joint at frame i + 1
        positions, _ = forward_kinematics(read_bvh(path))
        return np.linalg.norm(np.diff(positions, n=2, axis=0), axis=-1).max(-1)

    jump, own = jumps(redo), jumps(take)
    limit = np.percentile(np.r_[jump[5:95], jump[165:290]], 99)
    for border in (slice(98, 101), slice(158, 161)):  # no pop beyond the motion's usual, or the take's own there
        assert jump[border].max() <= max(limit, 1.1 * own[border].max()), (border, jump[border], own[border], limit)
    bad = run_cli("generate", wav, "--out", tmp_path / "x.bvh", "--model", tiny_checkpoint, "--keep", take,
                  "--range", "250:400", check=False)
    assert _one_line_error(bad) and not (tmp_path / "x.bvh").exists()


def test_mix_of_three_with_one_weight_equals_the_single_emotion(tiny_checkpoint, speech_wav, tmp_path):
    def rotations(*extra):
        out = tmp_path / f"m{len(list(tmp_path.iterdir()))}.npz"
        run_cli("generate", speech_wav, "--out", out, "--model", tiny_checkpoint, "--steps", 3, "--seed", 2, *extra)
        with np.load(out) as data:
            return data["rotations"]

    single = rotations("--emotion", "lively")
    mixed = rotations("--mix", "lively:1,calm:0,lively:0")
    # float32 blending (1 x + 0 y) differs in the last bits, which re-timing carries: 1e-5 is 0.001 degrees
    np.testing.assert_allclose(mixed, single, atol=1e-5)
    _one_line_error(run_cli("generate", speech_wav, "--out", tmp_path / "bad.npz", "--model", tiny_checkpoint,
                            "--mix", "lively:0.5,calm:0.2", check=False))


def test_export_strips_training_state(tiny_checkpoint, tmp_path):
    import shutil

    import torch

    from ohgesture.core.model.checkpoint import load_checkpoint

    start = tmp_path / "start.safetensors"
    shutil.copy(tiny_checkpoint, start)
    plain = tmp_path / "plain.safetensors"
    run_cli("export", start, "--out", plain)
    a, _ = load_checkpoint(start)
    stripped, _ = load_checkpoint(plain)
    assert any(k.startswith("train.") for k in a) and not any(k.startswith("train.") for k in stripped)
    assert all(torch.equal(stripped[k], a[k]) for k in stripped)


USAGE_SCRIPT = """
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
import _entry
_entry.load_package()
from ohgesture.core.cli.main import main
results = []
for argv in json.loads(sys.argv[2]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    results.append([code, err.getvalue(), "torch" in sys.modules])
print(json.dumps(results))
"""


def test_usage_mistakes_exit_2_and_bad_audio_1_before_torch_loads(tiny_checkpoint, speech_wav, tmp_path):
    """Each refusal is made in-process and torch is asserted not imported at that point: a
    usage error used to wait 2.6-3.9 s for torch and exited 1 where docs/cli.md says 2."""
    import soundfile as sf

    existing, blip = tmp_path / "there.bvh", tmp_path / "blip.wav"
    existing.write_text("precious")
    sf.write(blip, np.zeros(320, np.float32), 16000)  # 0.02 s: under one frame at 30 fps
    base = ["generate", str(speech_wav), "--model", str(tiny_checkpoint)]
    usage = {
        "--energy": ["--energy", "9"], "LABEL:WEIGHT": ["--blend", "lively"], "between 0 and 1": ["--blend", "lively:1.5"],
        "valid emotions: calm, lively": ["--mix", "calm:0.5,furious:0.5"], "sum to 1": ["--mix", "calm:0.5,lively:0.3"],
        "--device": ["--device", "gpu"], "below 15 Hz": ["--smooth-hz", "20"], "go together": ["--keep", str(existing)],
        "runs all 1000 steps": ["--sampler", "ddpm", "--steps", "10"], "START:END": ["--keep", str(existing), "--range", "9"],
    }
    cases = [base + ["--out", str(tmp_path / "x.bvh")] + extra for extra in usage.values()]
    cases += [base + ["--out", str(existing)], base + ["--out", str(tmp_path / "missing" / "x.bvh")],
              ["train", "--data", str(tmp_path), "--format", "pairs", "--out", str(tmp_path / "m.safetensors"),
               "--time-warp", "9"]]
    failed = [["generate", str(tmp_path / "none.wav"), "--out", str(tmp_path / "y.bvh"), "--model", str(tiny_checkpoint)],
              ["generate", str(blip), "--out", str(tmp_path / "y.bvh"), "--model", str(tiny_checkpoint)]]
    from support import ENTRY, TORCH_PYTHON

    proc = subprocess.run([TORCH_PYTHON, "-c", USAGE_SCRIPT, str(ENTRY.parent), json.dumps(cases + failed)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    needles = [*usage, "--overwrite", "does not exist", "--time-warp", "does not exist", "shorter than one motion frame"]
    assert len(results) == len(needles)
    for i, ((code, stderr, torch_loaded), needle) in enumerate(zip(results, needles)):
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (needle, stderr)
        if i < len(cases):
            assert code == 2 and lines[0].endswith(f"(see ohgesture {cases[i][0]} --help)."), (needle, code)
        else:
            assert code == 1, (needle, code)
        assert not torch_loaded, needle
    assert existing.read_text() == "precious" and not (tmp_path / "x.bvh").exists()


def test_a_closed_pipe_ends_quietly(speech_wav):
    """`ohgesture info X | head -1` printed `error: [Errno 32] Broken pipe`."""
    from support import ENTRY, TORCH_PYTHON

    proc = subprocess.Popen([TORCH_PYTHON, str(ENTRY), "info", str(speech_wav)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader is gone before anything is written
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) in (0, 1)
    assert stderr == "", stderr


def test_progress_in_a_log_is_a_line_per_step_and_the_last_line_says_what_was_made(tiny_checkpoint, speech_wav,
                                                                                   tmp_path):
    """stderr captured (not a terminal): no carriage-return bar; 'wrote' tells the clip's length
    from the compute time."""
    import re

    proc = run_cli("generate", speech_wav, "--out", tmp_path / "t.bvh", "--model", tiny_checkpoint, "--steps", 4)
    assert "\r" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert 3 <= len(lines) <= 20 and all(re.fullmatch(r"generate: +\d+% .+", line) for line in lines[:-1]), lines
    assert lines[-2] == "generate: 100% done"
    assert re.fullmatch(r"wrote \S+t\.bvh: 5\.0 s of motion \(150 frames at 30 fps\), made in \d+\.\d s", lines[-1])


def test_info_reads_every_file_the_tool_writes(tiny_checkpoint, speech_wav, synthetic_pairs, tmp_path):
    """A take as .npz was refused as 'not a readable audio format ... install ffmpeg'."""
    from ohgesture.core.motion.motion_file import write_constraints

    take = tmp_path / "take.npz"
    run_cli("generate", speech_wav, "--out", take, "--model", tiny_checkpoint, "--steps", 2, "--emotion", "calm")
    write_constraints(tmp_path / "keys.npz", dict(frames=np.array([3, 40]), joints=np.array([5, 7]),
                                                  rotations=np.tile([1.0, 0, 0, 0], (2, 1))))
    run_cli("prepare", "--data", synthetic_pairs, "--format", "pairs", "--out", tmp_path / "pack.npz")
    (tmp_path / "metrics.json").write_text(json.dumps({"fgd": 1.5}))

    def info(name):
        return json.loads(run_cli("info", tmp_path / name if isinstance(name, str) else name).stdout)

    motion = info("take.npz")
    assert (motion["kind"], motion["frames"], motion["fps"], motion["duration"]) == ("motion", 150, 30.0, 5.0)
    assert motion["meta"]["emotions"] == [["calm", 1.0]]
    keys = info("keys.npz")
    assert (keys["kind"], keys["poses"], keys["joints"], keys["frames"]) == ("constraints", 2, [5, 7], [3, 40])
    pack = info("pack.npz")
    assert pack["kind"] == "dataset pack" and pack["labels"] == ["calm", "lively"] and pack["clips"] == 6
    assert info("metrics.json") == {"kind": "json", "path": str(tmp_path / "metrics.json"), "content": {"fgd": 1.5}}
    assert info(tiny_checkpoint)["kind"] == "model" and info(speech_wav)["kind"] == "audio"
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    assert "holds a" in _one_line_error(run_cli("info", tmp_path / "other.npz", check=False))
