"""``ohgesture generate``: speech in, motion out, and regenerating part of an earlier take."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ..generation.settings import DEFAULT_MODEL, GenerationSettings
from .common import CliError, ProgressReporter, UsageError, check_output


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
        if any(v is not None for v in (args.fps, args.gamma_curve)):
            raise UsageError("--keep/--range cannot be combined with --fps or --gamma-curve.")
        _parse_range(args.range, None)


def _check_audio(path: Path, fps: float) -> None:
    """A missing, unreadable or too short recording, refused from its header before torch loads."""
    from ..audio.features import audio_info

    duration = audio_info(path)["duration"]
    if fps and duration * fps < 1:
        raise CliError(f"{path} is {duration:.3f} s long, shorter than one motion frame ({1 / fps:.3f} s); "
                       f"nothing to animate.")


def _selected_audio(args, lm, audio_path: Path):
    """The audio features of the part of the file to animate, and a note if it had to be padded."""
    from ..audio.features import audio_features_from_file

    features = audio_features_from_file(audio_path, lm.fps, config=lm.audio_config)
    if len(features) == 0:
        raise CliError(f"{audio_path} is shorter than one motion frame ({1 / lm.fps:.3f} s); nothing to animate.")
    first = int(round((args.start_seconds or 0.0) * lm.fps))
    last = len(features) if args.duration_seconds is None else first + int(round(args.duration_seconds * lm.fps))
    if first < 0 or first >= len(features) or last <= first:
        raise CliError("--start-seconds/--duration-seconds select no audio inside the file.")
    features = features[first:min(last, len(features))]
    note = None
    if len(features) < lm.n_seed:
        note = f"the audio is shorter than {lm.n_seed / lm.fps:.2f} s; it was padded with silence"
        print(f"note: {note}", file=sys.stderr)
    return features, note


def _frame_weights(args, mix, frames: int):
    """(K, F) emotion weights per frame: constant, or the --gamma-curve spread over the clip."""
    import numpy as np

    from ..generation.pipeline import emotion_weights

    if not args.gamma_curve:
        return emotion_weights(mix)[:, None].repeat(frames, axis=1)
    try:
        curve = np.asarray(np.load(args.gamma_curve, allow_pickle=False), dtype=np.float64).reshape(-1)
    except (OSError, ValueError) as exc:
        raise CliError(f"--gamma-curve {args.gamma_curve} is not a readable .npy array ({exc}).") from None
    if curve.size == 0 or not np.all(np.isfinite(curve)) or curve.min() < 0 or curve.max() > 1:
        raise CliError("--gamma-curve values must lie between 0 and 1.")
    share = np.interp(np.linspace(0, 1, frames), np.linspace(0, 1, curve.size), curve)
    return np.stack([1.0 - share, share])


def _write_take(out: Path, motion, root_joint: int, meta: dict) -> None:
    from ..motion.bvh import write_bvh
    from ..motion.motion_file import write_motion

    if out.suffix.lower() == ".npz":
        write_motion(out, motion, root_joint, meta)
    else:
        write_bvh(out, motion)


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


def cmd_generate(args) -> int:
    out = check_output(Path(args.out), args.overwrite, (".bvh", ".npz"))
    audio_path = Path(args.audio)
    settings = GenerationSettings.from_args(args).validate()
    _check_inputs(args, settings)
    metadata = _model_metadata(settings)
    settings.check_model(metadata)
    if not args.keep:  # with --keep the take sets the length
        _check_audio(audio_path, float(metadata.get("fps") or 0))
    report = ProgressReporter(args.progress_lines)
    try:
        return _generate(args, settings, out, audio_path, report)
    finally:
        report.close()


def _generate(args, settings: GenerationSettings, out: Path, audio_path: Path, report) -> int:
    started = time.time()
    report(0.0, WARM_UP)
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    from ..generation.pipeline import ease_to_constraints, features_to_output, generate_features, load_model
    from ..motion.resample import resample_motion

    report(0.01, WARM_UP)
    lm = load_model(settings.model, settings.device)
    mix = settings.emotions(lm.labels)
    labels = [label for label, _ in mix]
    for label in labels:
        lm.emotion_index(label)
    if args.keep or args.range:
        return _regenerate_range(args, settings, lm, mix, out, report, started)
    report(0.02, f"reading audio {FIRST_RUN}")
    features, note = _selected_audio(args, lm, audio_path)
    weights = _frame_weights(args, mix, len(features))
    known, known_mask = _load_constraints(args.constraints, lm, len(features))
    motion_features = generate_features(
        lm, features, labels, weights, progress=lambda f, msg: report(0.05 + 0.9 * f, msg), known=known,
        known_mask=known_mask, retime=settings.retime, **settings.pipeline_arguments(lm.schedule.T))
    if known is not None:
        motion_features = ease_to_constraints(motion_features, known, known_mask, lm.layout)
    motion = features_to_output(lm, motion_features)
    if args.fps is not None and abs(args.fps - lm.fps) > 1e-6:
        motion = resample_motion(motion, args.fps)
    report(0.97, "writing")
    meta = dict(emotions=mix, guidance=settings.guidance, energy=settings.energy, sampler=settings.sampler,
                steps=settings.sampling_steps(lm.schedule.T), seed=settings.seed, smoothing_hz=settings.smooth_hz,
                foot_lock=settings.foot_lock, retimed=bool(known is None and settings.retime),
                model=str(lm.path.name), audio=audio_path.name, start_seconds=args.start_seconds or 0.0,
                note=note)
    _write_take(out, motion, lm.layout.root_joint, meta)
    report(1.0, "done")
    report.close()
    print(f"wrote {out}: {motion.num_frames / motion.fps:.1f} s of motion ({motion.num_frames} frames at "
          f"{motion.fps:g} fps), made in {time.time() - started:.1f} s", file=sys.stderr)
    return 0


def _load_constraints(path, lm, n_frames: int):
    """(known (F, D), mask (F, D)) from a --constraints file, or (None, None) without one."""
    if not path:
        return None, None
    from ..generation.pipeline import constraints_to_known
    from ..motion.motion_file import MotionFileError, read_constraints

    try:
        arrays = read_constraints(path)
    except MotionFileError as exc:
        raise CliError(f"--constraints {path}: {exc}") from None
    return constraints_to_known(lm, arrays["frames"], arrays["joints"], arrays["rotations"], n_frames)


def _parse_range(text: str, frames: int | None) -> tuple[int, int]:
    """--range START:END; without ``frames`` (before the kept take is read) only its form is checked."""
    try:
        start, end = (int(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--range must look like START:END in frames (for example 100:160), got {text!r}.") from None
    if frames is None:
        if not 0 <= start < end:
            raise UsageError(f"--range {start}:{end} must have 0 <= START < END.")
    elif not 0 <= start < end <= frames:
        raise CliError(f"--range {start}:{end} must lie inside the kept take's {frames} frames, START < END.")
    return start, end


def _spliced(existing, decoded, start: int, end: int, root: int):
    """``existing`` with frames [start, end) from ``decoded``; the new root path is shifted so it
    leaves the kept frame before START and arrives at the kept frame at END."""
    import numpy as np

    from ..motion.skeleton import Motion

    frames = existing.num_frames
    rotations = existing.rotations.copy()
    rotations[start:end] = decoded.rotations[start:end]
    translations = existing.local_translations.copy()
    before = existing.local_translations[max(start - 1, 0), root] - decoded.local_translations[max(start - 1, 0), root]
    after = (existing.local_translations[end, root] - decoded.local_translations[end, root]) if end < frames else before
    ramp = ((np.arange(start, end) - start + 1) / (end - start + 1))[:, None]
    translations[start:end, root] = decoded.local_translations[start:end, root] + before + ramp * (after - before)
    return Motion(existing.skeleton, rotations, translations, existing.fps)


def _regenerate_range(args, settings: GenerationSettings, lm, mix, out: Path, report, started: float) -> int:
    """--keep EXISTING.bvh --range S:E: resample frames [S, E) and keep every other frame exactly."""
    from ..audio.features import audio_features_from_file
    from ..generation.pipeline import emotion_weights, regenerate_range
    from ..motion.bvh import read_bvh, splice_frames, write_bvh
    from ..motion.features import features_to_motion, motion_to_features
    from ..motion.motion_file import read_motion, write_motion

    keep_npz = Path(args.keep).suffix.lower() == ".npz"
    existing = read_motion(Path(args.keep), lm.skeleton) if keep_npz else read_bvh(Path(args.keep))
    if existing.skeleton.joint_names != lm.skeleton.joint_names:
        raise CliError(f"{args.keep} is not on the model's {lm.skeleton.name} skeleton.")
    if abs(existing.fps - lm.fps) > 1e-6:
        raise CliError(f"{args.keep} is at {existing.fps:g} fps; --keep needs the model's {lm.fps:g} fps.")
    frames = existing.num_frames
    start, end = _parse_range(args.range, frames)
    root = lm.layout.root_joint
    report(0.02, f"reading audio {FIRST_RUN}")
    # --start-seconds: where the take starts in the audio (a trimmed strip); the take sets the length.
    skip = int(round((args.start_seconds or 0.0) * lm.fps))
    audio = audio_features_from_file(Path(args.audio), lm.fps, config=lm.audio_config, n_frames=skip + frames)[skip:]
    constraints = _load_constraints(args.constraints, lm, frames) if args.constraints else None
    labels = [label for label, _ in mix]
    features = regenerate_range(
        lm, audio, motion_to_features(existing, root_joint=root), start, end, labels, emotion_weights(mix),
        constraints=constraints, progress=lambda f, msg: report(0.05 + 0.9 * f, msg),
        **settings.pipeline_arguments(lm.schedule.T))
    result = _spliced(existing, features_to_motion(features, lm.skeleton, lm.fps, root_joint=root), start, end, root)
    report(0.97, "writing")
    if out.suffix.lower() == ".npz":
        meta = dict(emotions=mix, seed=settings.seed, kept=Path(args.keep).name, range=[start, end],
                    model=str(lm.path.name), audio=Path(args.audio).name, start_seconds=args.start_seconds or 0.0)
        write_motion(out, result, root, meta)
    elif keep_npz:
        write_bvh(out, result)
    else:
        scratch = out.with_name(f".{out.name}.new.tmp")
        try:
            write_bvh(scratch, result)
            splice_frames(Path(args.keep), scratch, start, end, out)
        finally:
            scratch.unlink(missing_ok=True)
    report(1.0, "done")
    report.close()
    print(f"wrote {out}: frames {start}-{end - 1} regenerated, {frames - (end - start)} kept, made in "
          f"{time.time() - started:.1f} s", file=sys.stderr)
    return 0
