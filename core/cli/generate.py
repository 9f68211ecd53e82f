"""``ohgesture generate``: speech in, motion out, and regenerating part of an earlier take."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..generation.settings import DEFAULT_MODEL, GenerationSettings
from ..generation.take import TakeInputs, make_take
from .common import CliError, ProgressReporter, UsageError, check_output
from .protocol import note_line


def add_parser(sub) -> None:
    gen = sub.add_parser(
        "generate", help="speech in, motion out (.bvh or .npz)",
        description="Generate gesture motion for a speech recording. Emotions: --emotion E1 alone gives E1; "
                    "--emotion angry --blend sad:0.3 mixes in sad with weight 0.3 (the design's gamma on angry, "
                    "e1, is 0.7 and sad, e2, gets 0.3); --mix a:0.5,b:0.3,c:0.2 mixes any number.",
    )
    gen.add_argument("audio", help="speech recording (wav, flac, ogg, mp3; any rate, any channels)")
    gen.add_argument("--out", required=True, help="OUT.bvh or OUT.npz (written atomically)")
    gen.add_argument("--gamma-curve", metavar="FILE.npy",
                     help="per-frame share of the --blend emotion, spread evenly over the clip (animated blend)")
    gen.add_argument("--delivery-curve", metavar="FILE.npy",
                     help="per-frame delivery, 0 (conversation) to 1 (oration), spread evenly over the clip "
                          "(animated delivery; replaces --delivery)")
    GenerationSettings.add_arguments(gen)
    gen.add_argument("--fps", type=float, help="output frame rate (default: the model's)")
    gen.add_argument("--start-seconds", type=float, help="generate from this time in the audio")
    gen.add_argument("--duration-seconds", type=float, help="generate this many seconds")
    gen.add_argument("--keep", metavar="EXISTING.bvh|.npz",
                     help="a take to keep outside --range (regenerate part of it); frames outside stay bit-identical")
    gen.add_argument("--constraints", metavar="FILE.npz",
                     help="poses to pass through: arrays frames (K,), joints (K,) (model joint indices) and "
                          "rotations (K, 4) local quaternions wxyz; frames count from the first generated frame")
    gen.add_argument("--range", metavar="S:E", help="frames of --keep to regenerate, first frame 0, E exclusive")
    gen.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    gen.add_argument("--progress-lines", action="store_true", help="machine-readable progress on stderr")
    gen.set_defaults(func=cmd_generate)


def _check_inputs(args, settings: GenerationSettings) -> None:
    """Everything about the command line besides the settings that can be refused before the
    model and torch load."""
    if args.fps is not None and not args.fps > 0:
        raise UsageError(f"--fps must be positive, got {args.fps:g}.")
    if args.gamma_curve and settings.blend is None:
        raise UsageError("--gamma-curve needs --blend (two emotions).")
    if args.keep or args.range:
        if not (args.keep and args.range):
            raise UsageError("--keep and --range go together: the take to keep and the frames to regenerate.")
        if any(v is not None for v in (args.fps, args.gamma_curve, args.delivery_curve)):
            raise UsageError("--keep/--range cannot be combined with --fps, --gamma-curve or --delivery-curve.")
        _parse_range(args.range)


def _check_audio(path: Path, fps: float) -> None:
    """A missing, unreadable or too short recording, refused from its header before torch loads."""
    from ..audio.features import audio_info

    duration = audio_info(path)["duration"]
    if fps and duration * fps < 1:
        raise CliError(f"{path} is {duration:.3f} s long, shorter than one motion frame ({1 / fps:.3f} s); "
                       f"nothing to animate.")


def write_take(out: Path, take, inputs: TakeInputs, root_joint: int) -> None:
    """The take as OUT (.bvh or .npz, atomically); a regenerated BVH of a kept BVH keeps the
    kept file's text outside the range."""
    from ..motion.bvh import splice_frames, write_bvh
    from ..motion.motion_file import write_motion

    if out.suffix.lower() == ".npz":
        write_motion(out, take.motion, root_joint, take.meta)
    elif inputs.keep is None or Path(inputs.keep).suffix.lower() == ".npz":
        write_bvh(out, take.motion)
    else:
        scratch = out.with_name(f".{out.name}.new.tmp")
        try:
            write_bvh(scratch, take.motion)
            splice_frames(Path(inputs.keep), scratch, *inputs.frame_range, out)
        finally:
            scratch.unlink(missing_ok=True)


def _model_metadata(settings: GenerationSettings) -> dict:
    """The checkpoint's metadata, read without torch (a missing or broken file fails here, fast)."""
    from ..model.checkpoint import read_metadata

    path = Path(settings.model) if settings.model else DEFAULT_MODEL
    if not settings.model and not path.exists():
        raise CliError(f"no default model is installed ({path} is missing); pass --model CKPT.")
    return read_metadata(path)


# Shown while loading: the first run after installing also compiles the audio libraries' code.
FIRST_RUN = "(the first run after installing can take ~30 s)"
WARM_UP = f"loading the model and audio libraries {FIRST_RUN}"


def parse_request(args) -> tuple[Path, GenerationSettings, TakeInputs]:
    """The output, the settings and the inputs of a generate command line, every mistake that
    can be found without torch refused (UsageError, exit 2; CliError, exit 1)."""
    out = check_output(Path(args.out), args.overwrite, (".bvh", ".npz"))
    settings = GenerationSettings.from_args(args).validate()
    _check_inputs(args, settings)
    metadata = _model_metadata(settings)
    settings.check_model(metadata)
    if not args.keep:  # with --keep the take sets the length
        _check_audio(Path(args.audio), float(metadata.get("fps") or 0))
    inputs = TakeInputs(audio=Path(args.audio), start_seconds=args.start_seconds,
                        duration_seconds=args.duration_seconds, gamma_curve=args.gamma_curve,
                        delivery_curve=args.delivery_curve,
                        constraints=args.constraints, keep=args.keep,
                        frame_range=_parse_range(args.range) if args.range else None, fps=args.fps)
    return out, settings, inputs


def cmd_generate(args) -> int:
    out, settings, inputs = parse_request(args)
    report = ProgressReporter(args.progress_lines)
    started = time.time()
    try:
        report(0.0, WARM_UP)
        lm = load_generator(settings)
        report(0.02, f"reading audio {FIRST_RUN}")
        take = make_take(lm, settings, inputs, report)
        for note in take.notes:
            print(note_line(note), file=sys.stderr)
        report(0.97, "writing")
        write_take(out, take, inputs, lm.layout.root_joint)
        report(1.0, "done")
    finally:
        report.close()
    print(done_line(out, take, started), file=sys.stderr)
    return 0


def load_generator(settings: GenerationSettings):
    """torch with the settings' threads, and the model (the slow part of a first run)."""
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    from ..generation.pipeline import load_model

    return load_model(settings.model, settings.device)


def done_line(out: Path, take, started: float) -> str:
    motion = take.motion
    if "range" in take.meta:
        start, end = take.meta["range"]
        return (f"wrote {out}: frames {start}-{end - 1} regenerated, {take.kept_frames} kept, made in "
                f"{time.time() - started:.1f} s")
    return (f"wrote {out}: {motion.num_frames / motion.fps:.1f} s of motion ({motion.num_frames} frames at "
            f"{motion.fps:g} fps), made in {time.time() - started:.1f} s")


def _parse_range(text: str) -> tuple[int, int]:
    """--range START:END, its form (the kept take's length is checked when it is read)."""
    try:
        start, end = (int(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--range must look like START:END in frames (for example 100:160), got {text!r}.") from None
    if not 0 <= start < end:
        raise UsageError(f"--range {start}:{end} must have 0 <= START < END.")
    return start, end
