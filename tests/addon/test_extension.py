"""The extension zip built by Blender's own tool installs into a user repository,
enables, shows its panel and disables cleanly (run in a fresh Blender process), and
generates from its unpacked folder without the training and evaluation code."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support import HAS_TORCH, ROOT, SAMPLES, TORCH_PYTHON

INSTALL_SCRIPT = textwrap.dedent("""
    import json, os, sys, zipfile
    import bpy
    result = {}
    code = 1
    try:
        zip_path, repo_dir = sys.argv[-2], sys.argv[-1]
        repo = bpy.context.preferences.extensions.repos.new(
            name="ohgtest", module="ohgtest", custom_directory=repo_dir)
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(os.path.join(repo_dir, "ohgesture"))
        bpy.ops.preferences.addon_enable(module="bl_ext.ohgtest.ohgesture")
        addon = bpy.context.preferences.addons.get("bl_ext.ohgtest.ohgesture")
        result["enabled"] = addon is not None
        result["has_preferences"] = addon is not None and addon.preferences is not None
        result["panel"] = hasattr(bpy.types, "OHGESTURE_PT_main")
        result["generate"] = hasattr(bpy.types, "OHGESTURE_OT_generate")
        result["scene_props"] = hasattr(bpy.types.Scene, "ohgesture")
        result["presets"] = [p.identifier for p in bpy.types.Scene.bl_rna.properties if p.identifier == "ohgesture"]
        import bl_ext.ohgtest.ohgesture.ohgesture_addon.common as common
        result["interpreter"] = common.python_interpreter(bpy.context)
        result["venv"] = str(common.managed_venv_dir())
        bpy.ops.preferences.addon_disable(module="bl_ext.ohgtest.ohgesture")
        result["panel_after"] = hasattr(bpy.types, "OHGESTURE_PT_main")
        result["scene_props_after"] = hasattr(bpy.types.Scene, "ohgesture")
        code = 0
    except Exception as exc:
        result["error"] = repr(exc)
    print("RESULT " + json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(code)
""")


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory):
    import bpy

    tool = os.path.join(bpy.utils.resource_path("LOCAL"), "scripts/addons_core/bl_pkg/cli/blender_ext.py")
    out = tmp_path_factory.mktemp("ext")
    validate = subprocess.run([sys.executable, tool, "validate", str(ROOT)], capture_output=True, text=True,
                              timeout=120)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    build = subprocess.run([sys.executable, tool, "build", "--source-dir", str(ROOT), "--output-dir", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stdout + build.stderr
    zips = list(out.glob("*.zip"))
    assert len(zips) == 1
    return zips[0]


def test_zip_holds_the_addon_and_core_but_not_tests(built_zip):
    import zipfile

    names = zipfile.ZipFile(built_zip).namelist()
    assert "blender_manifest.toml" in names and "__init__.py" in names and "LICENSE" in names
    assert "ohgesture_addon/generate_operators.py" in names and "core/cli/_entry.py" in names
    assert not any(n.startswith(("tests/", ".venv/", ".git/")) or ".egg-info" in n for n in names)
    assert not any(n.startswith(("core/training/", "core/evaluation/", "research/")) for n in names)
    assert "core/weights/default.safetensors" in names


@pytest.mark.skipif(not HAS_TORCH and TORCH_PYTHON == sys.executable, reason="generation needs torch")
def test_the_unpacked_zip_generates_what_the_checkout_generates(built_zip, tmp_path):
    """The add-on's command line (core/cli/_entry.py generate) run from the unpacked zip, which
    holds no core/training or core/evaluation: generation never imports them, and the take is
    the checkout's, array for array."""
    import zipfile

    import numpy as np

    unpacked = tmp_path / "extension"
    zipfile.ZipFile(built_zip).extractall(unpacked)
    assert not (unpacked / "core" / "training").exists() and not (unpacked / "core" / "evaluation").exists()
    takes = {}
    for name, root in (("zip", unpacked), ("checkout", ROOT)):
        out = tmp_path / f"{name}.npz"
        proc = subprocess.run([TORCH_PYTHON, str(root / "core" / "cli" / "_entry.py"), "generate",
                               str(SAMPLES / "speech_en.wav"), "--out", str(out), "--duration-seconds", "3",
                               "--emotion", "sad", "--seed", "4", "--progress-lines"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        takes[name] = np.load(out)
    assert takes["zip"]["rotations"].shape[0] == 90
    for key in ("rotations", "root_translation"):
        np.testing.assert_array_equal(takes["zip"][key], takes["checkout"][key])


def test_zip_installs_enables_and_disables_cleanly(built_zip, tmp_path):
    script = tmp_path / "install.py"
    script.write_text(INSTALL_SCRIPT)
    repo_dir = tmp_path / "repo"
    repo_dir.mkdir()
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run([sys.executable, str(script), str(built_zip), str(repo_dir)], capture_output=True,
                          text=True, timeout=180, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert proc.returncode == 0, result
    assert result["enabled"] and result["has_preferences"]
    assert result["panel"] and result["generate"] and result["scene_props"]
    assert not result["panel_after"] and not result["scene_props_after"]
    assert result["venv"].startswith(str(tmp_path / "user")) or result["interpreter"] == sys.executable
