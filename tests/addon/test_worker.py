"""The add-on's and the batch script's takes with the shipped model: the same keys, bit for
bit, as the command line's recorded ones (tests/core/generation_checksums.json,
support.check_checksums)."""

import hashlib
import os
import subprocess
import sys

import bpy
import numpy as np
import pytest

import ohgesture.ohgesture_addon as addon
from ohgesture.core.generation.settings import DEFAULT_MODEL
from ohgesture.ohgesture_addon import takes
from blender_util import add_sound_strip, reset_blender
from support import HAS_TORCH, ROOT, SAMPLES, TORCH_PYTHON, check_checksums

needs_generator = pytest.mark.skipif(not (HAS_TORCH or TORCH_PYTHON != sys.executable) or not DEFAULT_MODEL.is_file(),
                                     reason="needs torch and the shipped model")


def action_digest(action) -> str:
    """sha256 of every fcurve's keys (data path, index, then the (frame, value) pairs)."""
    digest = hashlib.sha256()
    for fcurve in sorted(takes.action_fcurves(action), key=lambda f: (f.data_path, f.array_index)):
        keys = np.zeros(2 * len(fcurve.keyframe_points), dtype=np.float32)
        fcurve.keyframe_points.foreach_get("co", keys)
        digest.update(f"{fcurve.data_path}{fcurve.array_index}".encode())
        digest.update(keys.tobytes())
    return digest.hexdigest()


@pytest.fixture
def shipped_scene(tmp_path, monkeypatch):
    monkeypatch.setenv("OHGESTURE_TAKES_DIR", str(tmp_path / "takes"))
    monkeypatch.delenv("OHGESTURE_MODEL", raising=False)
    addon.register()
    scene = reset_blender()
    scene.render.fps = 30
    add_sound_strip(scene, SAMPLES / "speech_en.wav", name="speech", frame_start=1)
    assert bpy.ops.ohgesture.create_armature() == {"FINISHED"}
    settings = scene.ohgesture
    settings.source, settings.sound_strip, settings.seed = "STRIP", "speech", 2
    yield scene
    addon.unregister()


@needs_generator
def test_the_panel_and_the_batch_give_the_recorded_keys(shipped_scene, tmp_path):
    arm = bpy.data.objects["OHGesture Armature"]
    assert bpy.ops.ohgesture.generate() == {"FINISHED"}
    got = {"addon/generate": action_digest(arm.animation_data.action)}
    shipped_scene.ohgesture.seed, shipped_scene.ohgesture.emotion = 4, "angry"
    assert bpy.ops.ohgesture.generate() == {"FINISHED"}
    got["addon/generate_angry"] = action_digest(arm.animation_data.action)
    blend, out = tmp_path / "scene.blend", tmp_path / "batch.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    proc = subprocess.run([sys.executable, str(ROOT / "ohgesture_addon" / "batch.py"), "--open", str(blend), "--strip",
                           "speech", "--armature", "OHGesture Armature", "--seed", "7", "--emotion", "happy", "--out",
                           str(out)], capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-2000:]
    bpy.ops.wm.open_mainfile(filepath=str(out))
    got["batch/strip"] = action_digest(bpy.data.objects["OHGesture Armature"].animation_data.action)
    check_checksums(got)


# --- the warm worker (ohgesture serve) driven the modal way: session.step by hand ---------------

def _alive(pid) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie left for its parent to reap is gone too
        return stat.read().split(")")[-1].split()[0] != "Z"


def _gone(pid, seconds=10.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _state():
    arm = bpy.data.objects["OHGesture Armature"]
    return sorted(bpy.data.actions.keys()), arm.animation_data.action.name if arm.animation_data else None


def _run_until(session, fraction, reports):
    import time

    deadline = time.monotonic() + 300
    while session.progress < fraction:
        result = session.step(lambda kind, text: reports.append(text))
        assert result == {"RUNNING_MODAL"}, (result, reports)
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _finish(session, reports):
    import time

    deadline = time.monotonic() + 300
    while (result := session.step(lambda kind, text: reports.append(text))) == {"RUNNING_MODAL"}:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return result


@needs_generator
def test_the_worker_stays_warm_and_goes_with_the_addon(shipped_scene):
    from ohgesture.ohgesture_addon import session as generation_session

    shipped_scene.ohgesture.quality = "FAST"
    first = generation_session.start_session(bpy.context)
    assert first.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"}
    shipped_scene.ohgesture.seed = 9
    second = generation_session.start_session(bpy.context)
    assert second.job.message == "Generator warm"
    assert second.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"}
    assert first.job.pid == second.job.pid and _alive(second.job.pid)
    addon.unregister()
    assert _gone(second.job.pid)
    addon.register()


def _interrupted(interrupt):
    """A Generate interrupted while sampling: (session, its reports, the scene before);
    then the next Generate must work."""
    from ohgesture.ohgesture_addon import session as generation_session

    before = _state()
    session = generation_session.start_session(bpy.context)
    reports = []
    _run_until(session, 0.1, reports)  # sampling
    interrupt(session)
    assert _finish(session, reports) == {"CANCELLED"}
    assert _state() == before and not os.path.exists(session.workdir)
    again = generation_session.start_session(bpy.context)
    assert again.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"} and _state() != before
    return session, reports, again


@needs_generator
def test_a_killed_worker_is_one_sentence_and_the_next_generate_starts_a_new_one(shipped_scene):
    import signal

    shipped_scene.ohgesture.quality = "FAST"
    session, reports, again = _interrupted(lambda running: os.kill(running.job.pid, signal.SIGKILL))
    assert reports == ["Gesture generation failed: The generator was killed (SIGKILL) before it finished; the next "
                       "Generate starts a new one."]
    assert again.job.pid != session.job.pid


@needs_generator
def test_cancel_mid_request_leaves_the_scene_and_the_next_request_works(shipped_scene):
    shipped_scene.ohgesture.quality = "FAST"
    session, reports, again = _interrupted(lambda running: bpy.ops.ohgesture.cancel())
    assert reports == ["Gesture generation cancelled; the scene is unchanged."]
    assert again.job.pid == session.job.pid  # the worker dropped the request and stayed warm


@needs_generator
def test_a_model_file_changed_on_disk_starts_a_fresh_worker(shipped_scene, tmp_path, monkeypatch):
    import shutil

    from ohgesture.ohgesture_addon import session as generation_session

    model = tmp_path / "model.safetensors"
    shutil.copy(DEFAULT_MODEL, model)
    monkeypatch.setenv("OHGESTURE_MODEL", str(model))
    shipped_scene.ohgesture.quality = "FAST"
    first = generation_session.start_session(bpy.context)
    assert first.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"}
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # saved again, e.g. a new export
    second = generation_session.start_session(bpy.context)
    assert second.job.message.startswith("Starting the generator")
    assert second.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"}
    assert second.job.pid != first.job.pid and _gone(first.job.pid)


@needs_generator
def test_worker_takes_are_the_command_lines_bit_for_bit(shipped_scene, tmp_path):
    """A Generate and two Regenerate Selections (the second with the energy and audio the worker
    cached) against ``ohgesture generate`` run with the same arguments."""
    from ohgesture.ohgesture_addon import session as generation_session, takes

    sys.path.insert(0, str(ROOT / "tests" / "core"))
    from test_settings import npz_digest

    shipped_scene.ohgesture.quality = "FAST"
    arm = bpy.data.objects["OHGesture Armature"]
    placement = generation_session.panel_placement(shipped_scene.ohgesture)
    made = []  # (session, the take it kept)
    for seed in (None, 5, 6):
        request = None
        if seed is not None:
            shipped_scene.ohgesture.seed = seed
            request = generation_session.regenerate_request(bpy.context, placement, arm.animation_data.action,
                                                            (31, 120))
        session = generation_session.start_session(bpy.context, request=request)
        assert session.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"}
        made.append((session, takes.generated_info(arm.animation_data.action)["take"]))
    assert len({session.job.pid for session, _ in made}) == 1
    for k, (session, take) in enumerate(made):
        argv = session.command[2:]
        argv[argv.index("--out") + 1] = str(tmp_path / f"cli{k}.npz")
        proc = subprocess.run([TORCH_PYTHON, str(ROOT / "core" / "cli" / "_entry.py"), *argv], capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert npz_digest(take) == npz_digest(tmp_path / f"cli{k}.npz"), k


@needs_generator
def test_warm_up_starts_the_worker_the_first_generate_uses(shipped_scene):
    """Start Generator With the Panel: panel.draw calls session.warm_up once."""
    from ohgesture.ohgesture_addon import job, session as generation_session

    job.stop_worker()
    assert generation_session.warm_up(bpy.context) and job._worker is not None
    pid = job._worker.pid
    shipped_scene.ohgesture.quality = "FAST"
    first = generation_session.start_session(bpy.context)
    assert first.job.message == "Generator warm" and first.job.pid == pid
    assert first.run_blocking(lambda *a: None, timeout=300) == {"FINISHED"}
