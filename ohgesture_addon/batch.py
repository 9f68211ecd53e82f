"""Generate gestures without the UI.

    blender -b scene.blend -P ohgesture_addon/batch.py -- ARGS
    python ohgesture_addon/batch.py --open scene.blend ARGS      (with the bpy module)

Sources: --sound FILE, --strip NAME (a sound strip of the scene) or --sound-dir DIR (one
action per audio file). Target: --armature NAME or --create-armature (skeleton from the
model); any other rig goes through the bone map stored on it, or an automatic one
(--bone-map FILE.json loads one first). The generation settings are the command line's
(``ohgesture generate``: --emotion, --blend, --mix, --seed, --no-foot-lock ...; one declaration,
core/generation/settings.py), --quality picks the panel's sampler and steps. The result is saved with --out OUT.blend, optionally exported with --bvh OUT.bvh
(Blender's BVH exporter, centimetres). Any error ends the run with one line on stderr and
a non-zero exit code; with --sound-dir every file is its own job: a bad file is named in one
line, the good takes are saved, and the exit code is 1 if any failed. The outputs are checked
before any generation; Ctrl-C or SIGTERM cancels (exit 130) and writes nothing more. Nothing
is registered with Blender, so the process exits cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import re
import runpy
import shutil
import signal
import sys
import traceback
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".aiff", ".aif"}
EXIT_FAILED, EXIT_UNEXPECTED, EXIT_CANCELLED = 1, 2, 130


def _package_module(name: str):
    """A module of the ``ohgesture`` package, loading the extension root as ``ohgesture``
    when run as a plain script (core/cli/_entry.py's loader, the generator's own)."""
    if __package__:
        return importlib.import_module(f"{__package__.rpartition('.')[0]}.{name}")
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "core" / "cli" / "_entry.py"))["load_package"]()
    return importlib.import_module(f"ohgesture.{name}")


def _addon_package():
    """The add-on subpackage."""
    return _package_module("ohgesture_addon")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="ohgesture_addon/batch.py", description=__doc__.split("\n\n")[0])
    parser.error = lambda message: parser.exit(2, f"error: {message} (see --help)\n")  # one line, like the CLI
    parser.add_argument("--open", metavar="SCENE.blend", help="open this .blend first (when run with the bpy module)")
    source = parser.add_mutually_exclusive_group()  # required unless --range (the take knows its audio)
    source.add_argument("--sound", help="audio file")
    source.add_argument("--strip", help="name of a sound strip in the scene")
    source.add_argument("--sound-dir", help="folder of audio files, one action each")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--armature", help="name of the armature object to animate")
    target.add_argument("--create-armature", action="store_true", help="add an armature matching the model")
    settings = _package_module("core.generation.settings")
    settings.GenerationSettings.add_arguments(parser)
    parser.add_argument("--quality", choices=list(settings.QUALITY_PRESETS), default="BALANCED",
                        help="the panel's Quality: the sampler and its steps, where --sampler and --steps are not given")
    parser.add_argument("--python", default="", help="interpreter with torch (default: as the add-on)")
    parser.add_argument("--bone-map", help="JSON bone map (Export JSON in the panel) for --armature")
    parser.add_argument("--frame-start", type=int, help="first frame for --sound/--sound-dir (default: scene start; "
                                                        "the scene's frame range only grows to cover the take)")
    parser.add_argument("--no-sound-strip", action="store_true",
                        help="with --sound, do not add the audio as a sound strip where the keys start")
    parser.add_argument("--out", required=True, help="output .blend")
    parser.add_argument("--bvh", help="also export the (last) action as BVH")
    parser.add_argument("--entry-script", default="", help=argparse.SUPPRESS)  # tests: a stand-in generator
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per generation")
    parser.add_argument("--overwrite", action="store_true", help="replace --out/--bvh files that exist")
    parser.add_argument("--range", metavar="START:END", help="regenerate scene frames START..END of the "
                        "armature's generated action (keys outside stay as they are); no sound option needed")
    parser.add_argument("--layer-upper-body", action="store_true",
                        help="key only spine, neck, head and arms, as an NLA layer over the existing animation")
    parser.add_argument("--layer-blend-frames", type=int, default=6, help="fade in/out of the layer, in frames")
    parser.add_argument("--no-finger-keys", action="store_true",
                        help="leave the rig's finger bones unkeyed (for hands you pose yourself)")
    parser.add_argument("--ignore-hand-keys", action="store_true",
                        help="do not pass through the rotation keys already on the armature")
    args = parser.parse_args(argv)
    if not (args.sound or args.strip or args.sound_dir or args.range):
        parser.error("one of the arguments --sound --strip --sound-dir is required (or --range)")
    return args


def _script_args():
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


def _parse_range(text):
    try:
        first, last = (int(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--range must look like START:END in scene frames (for example 100:160), got {text!r}.") \
            from None
    if last < first:
        raise ValueError(f"--range {text}: END must not come before START.")
    return first, last


def _audio_files(folder) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"The sound folder {folder} does not exist.")
    files = sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise ValueError(f"The sound folder {folder} holds no audio files.")
    return files


def check_arguments(args) -> None:
    """Refuse bad numbers, combinations and output paths before minutes of generation, as the
    CLI does."""
    if args.frame_start is not None and (args.strip or args.range):
        where = "where the strip starts (move the strip to move them)" if args.strip else "where the take lies"
        raise ValueError(f"--frame-start applies to --sound and --sound-dir only; with {'--strip' if args.strip else '--range'}"
                         f" the keys go {where}.")
    if args.no_sound_strip and (args.strip or args.range):
        raise ValueError(f"--no-sound-strip applies to --sound only; with {'--strip' if args.strip else '--range'} no "
                         f"sound strip is added.")
    generation_settings(args).validate()
    if args.timeout is not None and not args.timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds, got {args.timeout:g}.")
    check_output = _package_module("core.cli.common").check_output  # the CLI's check; missing folders are made
    for flag, path, suffix in (("--out", args.out, ".blend"), ("--bvh", args.bvh, ".bvh")):
        if path:
            try:
                check_output(Path(os.path.abspath(path)), args.overwrite, (suffix,), make_folders=True)
            except ValueError as exc:
                raise ValueError(f"{flag}: {exc}") from None


def _addon_module(name: str):
    return importlib.import_module(f"{_addon_package().__name__}.{name}")


def _target_armature(args, context, metadata):
    import bpy

    if args.create_armature:
        skeleton = _addon_module("common").skeleton_metadata(metadata)
        if skeleton is None:
            raise ValueError("The model file does not describe its skeleton, so no armature can be created.")
        arm_obj = _addon_module("armature").create_matching_armature(context, skeleton)
    else:
        arm_obj = bpy.data.objects.get(args.armature)
        if arm_obj is None or arm_obj.type != "ARMATURE":
            raise ValueError(f"There is no armature object named '{args.armature}'.")
    if args.bone_map:
        retarget = _addon_module("retarget")
        retarget.store_pairs(arm_obj, retarget.read_map_json(args.bone_map))
    return arm_obj


def generation_settings(args):
    """The generation settings the flags give; --quality fills the sampler and steps where
    --sampler and --steps are not given."""
    settings = _package_module("core.generation.settings")
    generation = settings.GenerationSettings.from_args(args)
    sampler, steps = settings.QUALITY_PRESETS[args.quality]
    if args.sampler == settings.DEFAULT_SAMPLER and args.steps is None:  # no --sampler (or the default's)
        generation = generation.replace(sampler=sampler, steps=None if sampler == "ddpm" else steps)
    return generation.replace(model=os.path.abspath(args.model) if args.model else None)


def _placement(args, arm_obj):
    """Where the takes go (session.Placement)."""
    return _addon_module("session").Placement(
        armature=arm_obj, sound_strip=args.strip, frame_start=args.frame_start,
        use_hand_keys=not args.ignore_hand_keys, layer_upper_body=args.layer_upper_body,
        key_fingers=not args.no_finger_keys,
        layer_blend_frames=args.layer_blend_frames,
        add_sound_strip=not (args.no_sound_strip or args.sound_dir))  # a folder's takes share their frames


class Made:
    """What a run has made so far: the generated actions and the outputs written, so a
    failed or cancelled run can say what was saved and drop the takes of unsaved actions."""

    def __init__(self):
        self.actions = []
        self.written = []

    def saved(self) -> str:
        if not self.written:
            return "nothing was saved"
        return f"{' and '.join(self.written)} {'was' if len(self.written) == 1 else 'were'} written"

    def blend(self) -> str | None:
        return next((path for path in self.written if path.lower().endswith(".blend")), None)

    def discard_unsaved_takes(self) -> None:
        """The motion files kept for actions that no saved .blend holds."""
        if self.blend() is not None:
            return
        takes = _addon_module("takes")
        for action in self.actions:
            info = takes.generated_info(action)
            if info and info.get("take"):
                Path(info["take"]).unlink(missing_ok=True)


def _request(args, context, placement, regenerate):
    """The generation request for the flags and ``placement`` (one sentence on any problem)."""
    session_module = _addon_module("session")
    if regenerate is not None:
        return session_module.regenerate_request(context, placement, regenerate, _parse_range(args.range),
                                                 generation=generation_settings(args), entry_script=args.entry_script,
                                                 python=args.python)
    return session_module.build_request(context, generation=generation_settings(args), placement=placement,
                                        python=args.python, entry_script=args.entry_script)


def _generate(args, request, arm_obj, made: Made):
    """Run one generation to its end and record its action (ValueError on failure). An
    interrupt stops the generator and removes its temporary folder."""
    session = _addon_module("session").GenerationSession(request)
    errors = []

    def report(kind, text):
        if "ERROR" in kind:
            errors.append(text.removeprefix("Gesture generation failed: "))
        elif "WARNING" in kind:
            print(f"ohgesture: {text}", flush=True)
    try:
        session.start()
        result = session.run_blocking(report, timeout=args.timeout)
    except BaseException:
        session.cancel()
        session.cleanup()
        raise
    if "FINISHED" not in result:
        raise ValueError(errors[-1] if errors else "Gesture generation did not finish.")
    for message in session.messages:  # one line each: a note may hold a semicolon of its own
        print(f"ohgesture: {message}" + (f" of '{arm_obj.name}'" if message.startswith("Mapped ") else ""), flush=True)
    made.actions.append(session.action)
    print(f"ohgesture: action '{session.action.name}' on '{arm_obj.name}'", flush=True)
    return session.action


def _generate_folder(args, context, placement, arm_obj, made: Made) -> list[str]:
    """Every audio file of --sound-dir as its own job. The requests are all made first, so an
    unreadable file is named before any generation; any other problem stops the run there.
    Returns the names of the files that failed (each named on stderr in one line)."""
    preflight = _addon_module("preflight")
    requests, failed = [], []
    for sound in _audio_files(args.sound_dir):
        problem = preflight.audio_file_problem(os.path.abspath(sound))
        if problem:
            failed.append(_skipped(sound, problem))
            continue
        placement.sound_file = os.path.abspath(sound)
        requests.append((sound, _request(args, context, placement, None)))
    for sound, request in requests:
        try:
            _generate(args, request, arm_obj, made)
        except ValueError as exc:
            failed.append(_skipped(sound, str(exc)))
    return failed


def _skipped(sound: str, reason: str) -> str:
    name = os.path.basename(sound)
    print(f"error: {name} skipped: {reason}", file=sys.stderr, flush=True)
    return name


def open_blend(path: str) -> None:
    import bpy

    if not os.path.isfile(path):
        raise ValueError(f"The blend file {path} does not exist.")
    try:
        bpy.ops.wm.open_mainfile(filepath=os.path.abspath(path))
    except RuntimeError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown error"
        reason = re.sub(r' in file ".*"$', "", reason.removeprefix("Error: ")).rsplit(": ", 1)[-1].rstrip(".")
        raise ValueError(f"{path} is not a .blend file Blender can open ({reason}).") from None


def _regenerated_action(args, arm_obj):
    """The armature's generated action for --range, else None."""
    if not args.range:
        return None
    takes = _addon_module("takes")
    action = takes.generated_action(arm_obj)
    if action is None:
        raise ValueError(f"'{arm_obj.name}' has no action generated by OHGesture to regenerate a range of.")
    return action


def run(args, made: Made) -> int:
    """The whole run; returns the exit code (EXIT_FAILED when a file of --sound-dir failed)."""
    import bpy

    check_arguments(args)
    common = _addon_module("common")
    if args.open:
        open_blend(args.open)
    if args.model:
        os.environ["OHGESTURE_MODEL"] = os.path.abspath(args.model)
    context = bpy.context
    metadata = common.model_metadata(common.model_path(context))
    arm_obj = _target_armature(args, context, metadata)
    _addon_module("preflight").check_armature(arm_obj, metadata)
    placement = _placement(args, arm_obj)
    failed = []
    if args.sound_dir and not args.range:
        failed = _generate_folder(args, context, placement, arm_obj, made)
    else:
        if args.sound:
            placement.sound_file = os.path.abspath(args.sound)
        regenerate = _regenerated_action(args, arm_obj)
        _generate(args, _request(args, context, placement, regenerate), arm_obj, made)
    if not made.actions:
        raise ValueError(f"every audio file failed ({', '.join(failed)}); nothing was saved.")
    errors = save_outputs(args, context, arm_obj, made)
    for error in errors:
        print(f"error: {error}", file=sys.stderr, flush=True)
    _summary(made, failed)
    return EXIT_FAILED if errors or failed else 0


def _summary(made: Made, failed: list[str]) -> None:
    """The last line: what was saved, and with --sound-dir which files failed."""
    count = len(made.actions)
    saved = f"saved in {made.blend()}" if made.blend() else "not saved"
    if not failed:
        print(f"ohgesture: {count} action{'s' if count != 1 else ''} {saved}", flush=True)
        return
    print(f"error: {len(failed)} of {count + len(failed)} audio files failed ({', '.join(failed)}); the other "
          f"{count} action{'s were' if count != 1 else ' was'} {saved}.", file=sys.stderr, flush=True)


def save_outputs(args, context, arm_obj, made: Made) -> list[str]:
    """The .blend, then the BVH of the last action: one failing never stops the other.
    Returns one sentence per output that could not be written."""
    import bpy

    errors = []
    out = os.path.abspath(args.out)
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        bpy.ops.wm.save_as_mainfile(filepath=out, check_existing=False)
        made.written.append(out)
    except (RuntimeError, OSError) as exc:
        errors.append(f"the .blend {out} could not be saved: {str(exc).strip()}")
    if args.bvh:
        try:
            export_bvh(context, arm_obj, made.actions[-1], args.bvh)
            made.written.append(os.path.abspath(args.bvh))
        except (RuntimeError, OSError) as exc:
            errors.append(f"the BVH {os.path.abspath(args.bvh)} could not be written: {str(exc).strip()}")
    return errors


def export_bvh(context, arm_obj, action, path) -> None:
    """Blender's BVH exporter, written aside and renamed, so a crash never leaves half a BVH
    under the final name; its "BVH Exported:" line names the final file."""
    from io_anim_bvh import export_bvh as exporter

    first, last = (int(round(f)) for f in action.frame_range)
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    printed = io.StringIO()
    try:
        with context.temp_override(object=arm_obj, active_object=arm_obj), contextlib.redirect_stdout(printed):
            exporter.write_armature(context, tmp, first, last, global_scale=100.0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    sys.stdout.write(printed.getvalue().replace(tmp, path))
    sys.stdout.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM cancels like Ctrl-C


def main() -> int:
    try:
        args = parse_args(_script_args())
    except SystemExit as exc:
        return int(exc.code or 0)
    made = Made()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return run(args, made)
    except KeyboardInterrupt:
        made.discard_unsaved_takes()
        print(f"error: cancelled; {made.saved()}.", file=sys.stderr, flush=True)
        return EXIT_CANCELLED
    except (ValueError, OSError) as exc:
        made.discard_unsaved_takes()
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_FAILED
    except Exception as exc:  # one line for the user, the details for a bug report
        made.discard_unsaved_takes()
        traceback.print_exc()
        print(f"error: unexpected failure: {exc}", file=sys.stderr, flush=True)
        return EXIT_UNEXPECTED
    finally:
        signal.signal(signal.SIGTERM, previous)


def remove_session_tempdir() -> None:
    """Blender's own temporary folder for this process (blender_XXXX), which Blender removes
    when it quits; ``os._exit`` below skips that."""
    import bpy

    folder = bpy.app.tempdir.rstrip("/\\")
    if os.path.basename(folder).startswith("blender_"):
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    code = main()
    remove_session_tempdir()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
