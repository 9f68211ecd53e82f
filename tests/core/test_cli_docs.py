"""Every command-line example of README.md's "Command line" section and of docs/cli.md runs as
written, in a folder holding samples/speech_en.wav as speech.wav; only the path of the shared
data is substituted. The set-up commands the README gives (make test without Python 3.13,
make extension) are checked with `make -n`."""

import json
import re
import shlex
import shutil
import subprocess

import pytest

from support import ROOT, SAMPLES, SHARED_DATA, run_cli

# `ohgesture train` on the real data takes hours: its example is checked as far as the command
# line goes (parsed by the real parser, data folder present, output writable), not run.
NOT_RUN = {"train"}


def _readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ohgesture ")]


def _cli_md_examples() -> list[str]:
    """Indented example lines (not the synopses, which hold placeholders such as AUDIO or
    [options]), and the emotion flags the Emotions section gives in backticks."""
    text = (ROOT / "docs" / "cli.md").read_text()
    examples = [line.strip() for line in text.splitlines() if line.startswith("    ohgesture ")
                and not re.search(r"\b[A-Z]{2,}\b|\[", line.split("#")[0])]
    emotions = text.split("\n### Emotions\n", 1)[1].split("\n### ", 1)[0]
    examples += [f"ohgesture generate speech.wav --out example.bvh {flags}"
                 for flags in re.findall(r"`(--(?:emotion|mix) [^`]+)`", emotions)]
    return examples


EXAMPLES = [("README.md", e) for e in _readme_examples()] + [("docs/cli.md", e) for e in _cli_md_examples()]


def test_the_docs_have_examples_of_each_kind():
    commands = {shlex.split(e)[1] for _, e in EXAMPLES}
    assert {"generate", "info", "train"} <= commands
    assert any("--keep" in e for _, e in EXAMPLES) and any("--mix" in e for _, e in EXAMPLES)


@pytest.fixture(scope="module")
def earlier_take(tmp_path_factory):
    """take.bvh, which the examples that read it find beside them, made by the first example."""
    folder = tmp_path_factory.mktemp("earlier")
    shutil.copy(SAMPLES / "speech_en.wav", folder / "speech.wav")
    run_cli("generate", "speech.wav", "--out", "take.bvh", cwd=folder)
    return folder / "take.bvh"


@pytest.mark.parametrize("source, example", EXAMPLES,
                         ids=[f"{s}:{e.split(' #')[0].strip()[10:60].strip()}" for s, e in EXAMPLES])
def test_cli_example_runs(source, example, earlier_take, tmp_path):
    words = shlex.split(example.split(" #", 1)[0])
    words = [str(SHARED_DATA) if w == "../shared/data" else w for w in words]
    assert words[0] == "ohgesture"
    args = words[1:]
    shutil.copy(SAMPLES / "speech_en.wav", tmp_path / "speech.wav")
    out = args[args.index("--out") + 1] if "--out" in args else None
    if "take.bvh" in args and out != "take.bvh":
        shutil.copy(earlier_take, tmp_path / "take.bvh")
    if args[0] in NOT_RUN:
        from ohgesture.core.cli.common import check_output
        from ohgesture.core.cli.main import build_parser

        parsed = build_parser(args[0]).parse_args(args)
        if not (tmp_path / parsed.data).exists():
            pytest.skip(f"needs {parsed.data} (../shared/data is absent in a fresh clone)")
        check_output(tmp_path / parsed.out, True, (".safetensors",))
        return
    proc = run_cli(*args, cwd=tmp_path, check=False)
    assert proc.returncode == 0, f"{source}: {example}\n{proc.stderr[-2000:]}"
    if out:
        assert (tmp_path / out).stat().st_size > 0
        assert proc.stderr.strip().splitlines()[-1].startswith(f"wrote {out}")
    if args[0] == "info":
        assert json.loads(proc.stdout)["path"] == args[1]


def _make_n(*args):
    """What `make ARGS` would run, on a PATH without pyenv (a stock Debian's)."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make on this machine")
    proc = subprocess.run([make, "-n", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_test_without_python_313_runs_the_first_pass_and_says_how_to_enable_the_second():
    """On a stock Debian 12 PY313 pointed at a pyenv path that did not exist, and both venvs
    were prerequisites, so not even the 3.11 pass ran."""
    plan = _make_n("test", "PY313=")
    assert "pytest -q tests" in plan and ".venv-bpy52" not in plan
    skipped = [line for line in plan.splitlines() if "Skipped the Blender 5.2 test pass" in line]
    assert len(skipped) == 1 and "python3.13 on PATH" in skipped[0] and "PY313=" in skipped[0]
    both = _make_n("test", "PY313=/usr/bin/python3.13")
    assert "pytest -q tests" in both and ".venv-bpy52/bin/python -m pytest -q tests/addon" in both


def test_make_extension_makes_dist_first_and_needs_no_blender_binary():
    plan = _make_n("extension", "BLENDER=")
    assert plan.index("mkdir -p dist") < plan.index("build --source-dir . --output-dir dist")
    if list(ROOT.glob(".venv/lib/python*/site-packages/bpy")):  # Blender's own build tool, from .venv's bpy
        assert "/bl_pkg/cli/blender_ext.py build --source-dir . --output-dir dist" in plan


def test_development_md_lists_every_research_script():
    text = (ROOT / "docs" / "development.md").read_text()
    scripts = [p.name for p in (ROOT / "research").iterdir() if p.suffix in (".py", ".sh")]
    assert scripts and [name for name in scripts if f"`{name}`" not in text] == []
