"""The ``ohgesture`` command-line tool.

Every failure the user can cause ends in one line ``error: ...`` on stderr and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..generation.defaults import (DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_SMOOTHING_HZ, DEFAULT_STEPS, SAMPLER_NAMES,
                                   default_steps)

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(ValueError):
    pass


# ------------------------------------------------------------------ helpers


class ProgressReporter:
    """tqdm bar for people, or ``OHG_PROGRESS <fraction> <message>`` lines for the add-on."""

    def __init__(self, machine: bool, total_label: str = "generate"):
        self.machine = machine
        self.bar = None
        self.label = total_label
        self._last = -1.0

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self.machine:
            if fraction - self._last >= 0.005 or fraction >= 1.0:
                self._last = fraction
                print(f"OHG_PROGRESS {fraction:.4f} {message}", file=sys.stderr, flush=True)
            return
        if self.bar is None:
            if fraction < 0.05:  # no bar until sampling starts, so early errors stay one line
                return
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=self.label, unit="‰", file=sys.stderr, dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
        self.bar.n = int(fraction * 1000)
        self.bar.set_postfix_str(message, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_output(path: Path, overwrite: bool, suffixes: tuple[str, ...]) -> Path:
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise CliError(f"output {path} must end in {' or '.join(suffixes)}.")
    parent = path.parent if str(path.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise CliError(f"the output folder {parent} is a file, not a folder.")
    if not parent.is_dir():
        raise CliError(f"the output folder {parent} does not exist.")
    if not os.access(parent, os.W_OK):
        raise CliError(f"the output folder {parent} is not writable.")
    if path.exists() and not overwrite:
        raise CliError(f"{path} already exists; pass --overwrite to replace it.")
    return path


def write_npz_atomic(path: Path, **arrays) -> None:
    import numpy as np

    from ..atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def motion_npz_arrays(motion, root_joint: int, meta: dict) -> dict:
    import numpy as np

    sk = motion.skeleton
    return dict(
        rotations=motion.rotations.astype(np.float32),
        root_translation=motion.local_translations[:, root_joint].astype(np.float32),
        joint_names=np.array(sk.joint_names),
        parents=np.asarray(sk.parents, dtype=np.int32),
        offsets=np.asarray(sk.offsets, dtype=np.float32),
        root_joint=np.int32(root_joint),
        fps=np.float64(motion.fps),
        meta=np.array(json.dumps(meta)),
    )


# Sampler defaults, chosen by benchmarks/bench_sampling.py: DPM-Solver++(2M) with 20 steps matches
# the 1000-step DDPM reference within 5% on FGD, synchrony and wrist speed at 1/50 of the cost.


def _parse_label_weight(text: str, what: str) -> tuple[str, float]:
    label, sep, value = text.rpartition(":")
    if not sep or not label:
        raise CliError(f"{what} must look like LABEL:WEIGHT (for example sad:0.3), got {text!r}.")
    try:
        weight = float(value)
    except ValueError:
        raise CliError(f"{what} weight {value!r} is not a number.") from None
    if not 0.0 <= weight <= 1.0:
        raise CliError(f"{what} weight must lie between 0 and 1, got {weight:g}.")
    return label, weight


def emotion_mix(args, labels: list[str]) -> list[tuple[str, float]]:
    """--emotion E1 [--blend E2:G] -> [(E1, 1-G), (E2, G)]; --mix A:w,B:w,... for any number."""
    if args.mix:
        if args.blend:
            raise CliError("use either --blend or --mix, not both.")
        mix = [_parse_label_weight(part, "--mix") for part in args.mix.split(",") if part.strip()]
        total = sum(w for _, w in mix)
        if not mix or abs(total - 1.0) > 1e-3:
            raise CliError(f"--mix weights must sum to 1, they sum to {total:g}.")
        return [(label, w / total) for label, w in mix]
    first = args.emotion or ("neutral" if "neutral" in labels else labels[0])
    if not args.blend:
        return [(first, 1.0)]
    second, share = _parse_label_weight(args.blend, "--blend")
    return [(first, 1.0 - share), (second, share)]


# ------------------------------------------------------------------ commands


def cmd_info(args) -> int:
    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        from ..motion.bvh import read_bvh

        motion = read_bvh(path)
        info = dict(kind="motion", path=str(path), skeleton=motion.skeleton.name,
                    joints=motion.skeleton.num_joints, frames=motion.num_frames, fps=motion.fps,
                    duration=round(motion.duration, 4))
    elif suffix in (".safetensors", ".pt", ".pth", ".ckpt", ".bin"):
        from ..model.checkpoint import read_metadata

        meta = read_metadata(path)
        cfg = meta.get("model_config", {})
        info = dict(kind="model", path=str(path), emotions=meta.get("emotions"),
                    skeleton=meta.get("skeleton", {}).get("name"),
                    joints=len(meta.get("skeleton", {}).get("joint_names", [])), fps=meta.get("fps"),
                    sizes={k: cfg.get(k) for k in ("latent", "layers", "heads", "ff", "window", "n_seed")},
                    metadata=meta)
    else:
        from ..audio.features import audio_info

        info = dict(kind="audio", path=str(path), **audio_info(path))
    print(json.dumps(info, indent=2, default=str))
    return 0


def cmd_generate(args) -> int:
    import numpy as np

    from ..audio.features import audio_features_from_file
    from ..motion.bvh import write_bvh
    from ..generation.pipeline import ease_to_constraints, emotion_weights, features_to_output, generate_features, load_model
    from ..motion.resample import resample_motion

    out = _check_output(Path(args.out), args.overwrite, (".bvh", ".npz"))
    audio_path = Path(args.audio)
    if args.steps is not None and args.steps < 1:
        raise CliError(f"--steps must be a positive whole number, got {args.steps}.")
    if not 0 <= args.guidance < float("inf"):  # also refuses nan
        raise CliError(f"--guidance must be a finite number, 0 or more, got {args.guidance:g}.")
    if args.fps is not None and not args.fps > 0:
        raise CliError(f"--fps must be positive, got {args.fps:g}.")
    report = ProgressReporter(args.progress_lines)
    started = time.time()
    report(0.0, "loading model")
    lm = load_model(args.model, args.device)
    if not 0 <= args.smooth_hz < lm.fps / 2:  # also refuses nan
        raise CliError(f"--smooth-hz must be 0 (off) or a frequency below {lm.fps / 2:g} Hz (half the model's "
                       f"{lm.fps:g} fps), got {args.smooth_hz:g}.")
    mix = emotion_mix(args, lm.labels)
    labels = [label for label, _ in mix]
    for label in labels:
        lm.emotion_index(label)
    if args.keep or args.range:
        return _regenerate_range(args, lm, mix, out, report, started)
    report(0.02, "reading audio")
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
    weights = emotion_weights(mix)[:, None].repeat(len(features), axis=1)
    if args.gamma_curve:
        if len(mix) != 2:
            raise CliError("--gamma-curve needs --blend (two emotions).")
        try:
            curve = np.asarray(np.load(args.gamma_curve, allow_pickle=False), dtype=np.float64).reshape(-1)
        except (OSError, ValueError) as exc:
            raise CliError(f"--gamma-curve {args.gamma_curve} is not a readable .npy array ({exc}).") from None
        if curve.size == 0 or not np.all(np.isfinite(curve)) or curve.min() < 0 or curve.max() > 1:
            raise CliError("--gamma-curve values must lie between 0 and 1.")
        share = np.interp(np.linspace(0, 1, len(features)), np.linspace(0, 1, curve.size), curve)
        weights = np.stack([1.0 - share, share])
    steps = args.steps if args.steps is not None else default_steps(args.sampler, lm.schedule.T)
    if args.sampler == "ddpm" and steps != lm.schedule.T:
        raise CliError(f"the ddpm sampler always runs all {lm.schedule.T} steps; use --sampler ddim for fewer.")
    known, known_mask = _load_constraints(args.constraints, lm, len(features))
    motion_features = generate_features(
        lm, features, labels, weights, guidance=args.guidance, sampler=args.sampler, steps=steps, seed=args.seed,
        progress=lambda f, msg: report(0.05 + 0.9 * f, msg), known=known, known_mask=known_mask,
        retime=not args.no_retime, smoothing_hz=args.smooth_hz,
        foot_lock=not args.no_foot_lock,
    )
    if known is not None:
        motion_features = ease_to_constraints(motion_features, known, known_mask, lm.layout)
    motion = features_to_output(lm, motion_features)
    if args.fps is not None and abs(args.fps - lm.fps) > 1e-6:
        motion = resample_motion(motion, args.fps)
    report(0.97, "writing")
    meta = dict(emotions=mix, guidance=args.guidance, sampler=args.sampler, steps=steps, seed=args.seed,
                smoothing_hz=args.smooth_hz, foot_lock=not args.no_foot_lock,
                retimed=bool(lm.model.activity_predictor is not None and known is None and not args.no_retime),
                model=str(lm.path.name), audio=audio_path.name, start_seconds=args.start_seconds or 0.0,
                note=note)
    if out.suffix.lower() == ".npz":
        write_npz_atomic(out, **motion_npz_arrays(motion, lm.layout.root_joint, meta))
    else:
        write_bvh(out, motion)
    report(1.0, "done")
    report.close()
    print(f"wrote {out} ({motion.num_frames} frames at {motion.fps:g} fps, {time.time() - started:.1f} s)",
          file=sys.stderr)
    return 0


def _load_constraints(path, lm, n_frames: int):
    """(known (F, D), mask (F, D)) from a --constraints file, or (None, None) without one."""
    if not path:
        return None, None
    import numpy as np

    from ..generation.pipeline import constraints_to_known

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in ("frames", "joints", "rotations")}
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"--constraints {path} is not a readable npz with frames, joints and rotations ({exc}).") \
            from None
    return constraints_to_known(lm, arrays["frames"], arrays["joints"], arrays["rotations"], n_frames)


def _motion_from_npz(path: Path, skeleton):
    """A motion npz (what ``generate --out X.npz`` writes) as a Motion on the model's skeleton."""
    import numpy as np

    from ..motion.skeleton import Motion

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in ("rotations", "root_translation", "joint_names", "offsets",
                                                 "root_joint", "fps")}
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"{path} is not a motion npz written by ohgesture generate ({exc}).") from None
    if [str(n) for n in arrays["joint_names"].tolist()] != list(skeleton.joint_names):
        raise CliError(f"{path} is not on the model's {skeleton.name} skeleton.")
    rotations = np.asarray(arrays["rotations"], dtype=np.float64)
    frames, joints = rotations.shape[:2]
    translations = np.broadcast_to(np.asarray(arrays["offsets"], np.float64), (frames, joints, 3)).copy()
    translations[:, int(arrays["root_joint"])] = arrays["root_translation"]
    return Motion(skeleton, rotations, translations, float(arrays["fps"]))


def _parse_range(text: str, frames: int) -> tuple[int, int]:
    try:
        start, end = (int(v) for v in text.split(":"))
    except ValueError:
        raise CliError(f"--range must look like START:END in frames (for example 100:160), got {text!r}.") from None
    if not 0 <= start < end <= frames:
        raise CliError(f"--range {start}:{end} must lie inside the kept take's {frames} frames, START < END.")
    return start, end


def _regenerate_range(args, lm, mix, out: Path, report, started: float) -> int:
    """--keep EXISTING.bvh --range S:E: resample frames [S, E) and keep every other frame exactly."""
    import numpy as np

    from ..audio.features import audio_features_from_file
    from ..motion.bvh import read_bvh, splice_frames, write_bvh
    from ..motion.features import features_to_motion, motion_to_features
    from ..generation.pipeline import emotion_weights, regenerate_range
    from ..motion.skeleton import Motion

    if not (args.keep and args.range):
        raise CliError("--keep and --range go together: the take to keep and the frames to regenerate.")
    if any(v is not None for v in (args.fps, args.gamma_curve)):
        raise CliError("--keep/--range cannot be combined with --fps or --gamma-curve.")
    keep_npz = Path(args.keep).suffix.lower() == ".npz"
    existing = _motion_from_npz(Path(args.keep), lm.skeleton) if keep_npz else read_bvh(Path(args.keep))
    if existing.skeleton.joint_names != lm.skeleton.joint_names:
        raise CliError(f"{args.keep} is not on the model's {lm.skeleton.name} skeleton.")
    if abs(existing.fps - lm.fps) > 1e-6:
        raise CliError(f"{args.keep} is at {existing.fps:g} fps; --keep needs the model's {lm.fps:g} fps.")
    frames = existing.num_frames
    start, end = _parse_range(args.range, frames)
    root = lm.layout.root_joint
    report(0.02, "reading audio")
    # --start-seconds: where the take starts in the audio (a trimmed strip); the take sets the length.
    skip = int(round((args.start_seconds or 0.0) * lm.fps))
    audio = audio_features_from_file(Path(args.audio), lm.fps, config=lm.audio_config, n_frames=skip + frames)[skip:]
    constraints = _load_constraints(args.constraints, lm, frames) if args.constraints else None
    labels = [label for label, _ in mix]
    steps = args.steps if args.steps is not None else default_steps(args.sampler, lm.schedule.T)
    features = regenerate_range(
        lm, audio, motion_to_features(existing, root_joint=root), start, end, labels, emotion_weights(mix),
        constraints=constraints, guidance=args.guidance, sampler=args.sampler, steps=steps, seed=args.seed,
        smoothing_hz=args.smooth_hz, foot_lock=not args.no_foot_lock,
        progress=lambda f, msg: report(0.05 + 0.9 * f, msg),
    )
    decoded = features_to_motion(features, lm.skeleton, lm.fps, root_joint=root)
    rotations = existing.rotations.copy()
    rotations[start:end] = decoded.rotations[start:end]
    translations = existing.local_translations.copy()
    # The new root path is shifted so it leaves the kept frame before START and arrives at the kept frame at END.
    before = existing.local_translations[max(start - 1, 0), root] - decoded.local_translations[max(start - 1, 0), root]
    after = (existing.local_translations[end, root] - decoded.local_translations[end, root]) if end < frames else before
    ramp = ((np.arange(start, end) - start + 1) / (end - start + 1))[:, None]
    translations[start:end, root] = decoded.local_translations[start:end, root] + before + ramp * (after - before)
    result = Motion(existing.skeleton, rotations, translations, existing.fps)
    report(0.97, "writing")
    if out.suffix.lower() == ".npz":
        meta = dict(emotions=mix, seed=args.seed, kept=Path(args.keep).name, range=[start, end],
                    model=str(lm.path.name), audio=Path(args.audio).name, start_seconds=args.start_seconds or 0.0)
        write_npz_atomic(out, **motion_npz_arrays(result, root, meta))
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
    print(f"wrote {out}: frames {start}-{end - 1} regenerated, {frames - (end - start)} kept "
          f"({time.time() - started:.1f} s)", file=sys.stderr)
    return 0


def _default_speech_dir(data: Path) -> Path | None:
    for candidate in (data / "speech", data.parent / "speech", data.parent.parent / "speech"):
        if candidate.is_dir() and any(candidate.glob("*.wav")):
            return candidate
    return None


def load_dataset(args, log=print):
    from ..training.datasets import build_bandai, build_pairs, build_zeggs, load_pack

    data = Path(args.data)
    if not data.exists():
        raise CliError(f"the data folder {data} does not exist.")
    if args.format == "pack":
        return load_pack(data)
    if args.format == "zeggs":
        return build_zeggs(data, fps=args.fps)
    if args.format == "pairs":
        return build_pairs(data, fps=args.fps)
    if args.format == "bandai":
        import numpy as np

        from ..training.pairing import default_corpus, pair_audio_to_motion

        speech = Path(args.speech) if args.speech else _default_speech_dir(data)
        files = [f for f in sorted(speech.glob("*.wav")) if f.name not in (args.speech_exclude or [])] if speech else []
        corpus = default_corpus(files)
        log(f"audio pairing corpus: {len(corpus)} segments from {', '.join(corpus.sources) or 'synthetic babble'}")

        def pair(wrist_speed, fps, index):
            rng = np.random.default_rng(args.seed * 100003 + index)
            return pair_audio_to_motion(wrist_speed, fps, corpus, rng), corpus.sr

        return build_bandai(data, pair, fps=args.fps,
                            progress=lambda i, n: log(f"paired {i}/{n} clips") if i % 50 == 0 or i == n else None)
    raise CliError(f"unknown data format {args.format!r}.")


def cmd_prepare(args) -> int:
    from ..training.datasets import save_pack

    out = _check_output(Path(args.out), args.overwrite, (".npz",))
    dataset = load_dataset(args, log=lambda m: print(m, file=sys.stderr))
    save_pack(dataset, out, dtype="float16" if args.float16 else "float32")
    frames = sum(len(c.motion) for c in dataset.clips)
    print(f"wrote {out}: {len(dataset.clips)} clips, {frames / dataset.fps / 60:.1f} min, "
          f"labels {', '.join(dataset.labels)}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from ..generation.pipeline import resolve_device
    from ..training.train import TrainConfig, train

    out = _check_output(Path(args.out), True, (".safetensors",))
    if args.steps < 1 or args.batch < 1:
        raise CliError("--steps and --batch must be positive whole numbers.")
    if not 0 <= args.seed_drop <= 1:
        raise CliError(f"--seed-drop must be a probability between 0 and 1, got {args.seed_drop:g}.")
    if not 0 <= args.max_minutes < float("inf"):
        raise CliError(f"--max-minutes must be a finite number of minutes, 0 or more, got {args.max_minutes:g}.")
    if not 1 <= args.time_warp <= 4:
        raise CliError(f"--time-warp must be a playback-rate factor from 1 (off) to 4, got {args.time_warp:g}.")
    if not 0 <= args.predicted_activity <= 1:
        raise CliError(f"--predicted-activity must be a share between 0 and 1, got {args.predicted_activity:g}.")
    if not 0 <= args.label_balance <= 1:
        raise CliError(f"--label-balance must lie between 0 and 1, got {args.label_balance:g}.")
    device = resolve_device(args.device)
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        import torch

        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dataset = load_dataset(args, log=lambda m: print(m, file=sys.stderr))
    overrides = json.loads(args.model_config) if args.model_config else {}
    config = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                         checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, model=overrides,
                         seed_drop=args.seed_drop,
                         time_warp=args.time_warp, max_seconds=60.0 * args.max_minutes,
                         predicted_activity_share=args.predicted_activity, label_balance=args.label_balance,
                         mirror=args.mirror)
    extra = json.loads(Path(args.metadata).read_text()) if args.metadata else None
    result = train(dataset, out, config, device=device, resume=Path(args.resume) if args.resume else None,
                   extra_metadata=extra, log=lambda m: print(m, file=sys.stderr), show_progress=not args.quiet)
    held = "n/a" if result.held_out_loss is None else f"{result.held_out_loss:.4f}"
    print(f"wrote {out} after {result.steps} steps in {result.seconds:.0f} s: train loss {result.train_loss:.4f}, "
          f"held-out loss {held}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from ..training.train import strip_training_state

    out = _check_output(Path(args.out), args.overwrite, (".safetensors",))
    extra = json.loads(Path(args.metadata).read_text()) if args.metadata else None
    strip_training_state(Path(args.checkpoint), out, extra)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, inference weights only)", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ parser


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line, like every other error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ohgesture", description="Speech-driven, emotion-controllable gesture animation.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    info = sub.add_parser("info", help="describe a BVH, audio or checkpoint file as JSON")
    info.add_argument("path")
    info.set_defaults(func=cmd_info)

    gen = sub.add_parser(
        "generate", help="speech in, motion out (.bvh or .npz)",
        description="Generate gesture motion for a speech recording. Emotions: --emotion E1 alone gives E1; "
                    "--emotion angry --blend sad:0.3 mixes in sad with weight 0.3 (the design's gamma on angry, "
                    "e1, is 0.7 and sad, e2, gets 0.3); --mix a:0.5,b:0.3,c:0.2 mixes any number.",
    )
    gen.add_argument("audio", help="speech recording (wav, flac, ogg, mp3; any rate, any channels)")
    gen.add_argument("--out", required=True, help="OUT.bvh or OUT.npz (written atomically)")
    gen.add_argument("--model", help="checkpoint (.safetensors); default: the shipped model")
    gen.add_argument("--emotion", help="emotion e1 (default: neutral)")
    gen.add_argument("--blend", metavar="LABEL2:GAMMA", help="mix in LABEL2 with weight GAMMA (0..1); e1 gets 1-GAMMA")
    gen.add_argument("--mix", metavar="A:W,B:W,...", help="any number of emotions with weights that sum to 1")
    gen.add_argument("--gamma-curve", metavar="FILE.npy",
                     help="per-frame share of the --blend emotion, spread evenly over the clip (animated blend)")
    gen.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE, help="classifier-free guidance strength (1 = none)")
    gen.add_argument("--sampler", choices=SAMPLER_NAMES, default=DEFAULT_SAMPLER,
                     help=f"dpmpp_2m ({DEFAULT_STEPS['dpmpp_2m']} steps), ddim ({DEFAULT_STEPS['ddim']} steps) or ddpm (all "
                          f"the model's steps, the reference); default {DEFAULT_SAMPLER}")
    gen.add_argument("--steps", type=int, help="denoising steps for ddim/dpmpp_2m")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--no-retime", action="store_true",
                     help="keep the sampler's own timing; by default a model with an activity encoder has its "
                          "motion re-timed so the hands follow the activity it expects from the speech (README)")
    gen.add_argument("--smooth-hz", type=float, default=DEFAULT_SMOOTHING_HZ,
                     help=f"low-pass cutoff of the generated motion in Hz (default {DEFAULT_SMOOTHING_HZ:g}; 0 keeps "
                          "the sampler's frame-to-frame noise)")
    gen.add_argument("--no-foot-lock", action="store_true",
                     help="leave planted feet where the sampler put them; by default a foot that rests on the "
                          "floor is pinned there by leg IK")
    gen.add_argument("--device", default="auto", help="auto, cpu or cuda")
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

    def data_args(sp):
        sp.add_argument("--data", required=True, help="dataset folder (or a .npz pack with --format pack)")
        sp.add_argument("--format", required=True, choices=["zeggs", "bandai", "pairs", "pack"])
        sp.add_argument("--speech", help="speech recordings for --format bandai's synthetic audio pairing")
        sp.add_argument("--speech-exclude", action="append", metavar="NAME",
                        help="leave this speech file out of the pairing corpus (keep it unseen for evaluation)")
        sp.add_argument("--fps", type=float, default=30.0)
        sp.add_argument("--seed", type=int, default=0)

    prep = sub.add_parser("prepare", help="turn a dataset folder into a preprocessed .npz pack")
    data_args(prep)
    prep.add_argument("--out", required=True)
    prep.add_argument("--overwrite", action="store_true")
    prep.add_argument("--float16", action="store_true", help="store the features as float16 (half the size)")
    prep.set_defaults(func=cmd_prepare)

    tr = sub.add_parser("train", help="train a model")
    data_args(tr)
    tr.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    tr.add_argument("--steps", type=int, default=20000)
    tr.add_argument("--batch", type=int, default=64)
    tr.add_argument("--lr", type=float, default=2e-4)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--resume", help="continue from this checkpoint")
    tr.add_argument("--seed-drop", type=float, default=0.1, metavar="P",
                    help="probability of training a window without its seed gesture (default 0.1)")
    tr.add_argument("--time-warp", type=float, default=1.0, metavar="FACTOR",
                    help="play training windows at random rates between 1/FACTOR and FACTOR, so only the "
                         "audio tells when strokes come (default 1: off; see README: default model)")
    tr.add_argument("--predicted-activity", type=float, default=0.0, metavar="SHARE",
                    help="with an activity-conditioned model, condition this share of training windows on the "
                         "encoder's own prediction (what sampling sees) instead of the true activity (default 0)")
    tr.add_argument("--label-balance", type=float, default=0.5, metavar="B",
                    help="how evenly the emotion labels share the batches: 0 in proportion to their motion, "
                         "1 equally; in between a label's share grows as (its frames) ** (1 - B) (default 0.5)")
    tr.add_argument("--mirror", action="store_true",
                    help="mirror half of the training windows left-right (skeletons whose sides pair up by "
                         "name, with axis-aligned joint frames, such as Bandai Namco's)")
    tr.add_argument("--max-minutes", type=float, default=0.0, metavar="MIN",
                    help="stop after this many minutes of training (and save), whichever comes first of it "
                         "and --steps (default 0: no limit)")
    tr.add_argument("--checkpoint-every", type=int, default=1000)
    tr.add_argument("--eval-every", type=int, default=500)
    tr.add_argument("--model-config", help='JSON overrides of the model sizes, e.g. {"layers": 2, "latent": 128}')
    tr.add_argument("--metadata", help="JSON file merged into the checkpoint metadata")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_train)

    try:
        from ..evaluation.evaluate import add_cli as add_evaluate_cli
    except ImportError:  # no numpy in this interpreter: main() says how to install the dependencies
        pass
    else:
        add_evaluate_cli(sub)

    ex = sub.add_parser("export", help="copy a checkpoint without its training state (for shipping)")
    ex.add_argument("checkpoint")
    ex.add_argument("--out", required=True)
    ex.add_argument("--metadata", help="JSON file merged into the metadata")
    ex.add_argument("--overwrite", action="store_true")
    ex.set_defaults(func=cmd_export)
    return p


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # so temp files are removed when the add-on cancels (SIGTERM)


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    except ValueError:  # not the main thread (main() called from a script's worker)
        pass
    try:
        return int(args.func(args) or 0)
    except ImportError as exc:  # e.g. the add-on pointed at an interpreter without torch
        print(f"error: this Python ({sys.executable}) cannot import {exc.name or exc}; install the dependencies "
              f"(Blender: add-on preferences > Install Dependencies; elsewhere: pip install torch numpy scipy "
              f"librosa soundfile safetensors tqdm).", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError) as exc:  # every project error is a ValueError subclass
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
