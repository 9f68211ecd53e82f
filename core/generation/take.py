"""One take from settings and inputs: what ``ohgesture generate`` and the warm worker
(``ohgesture serve``) both call. A new take: the selected audio, its emotion weights per frame
(``--gamma-curve``), poses to pass through, sampling, finishing, resampling. A regenerated
range: the kept take read, frames [start, end) resampled and spliced in with the root path
carried across. The caller loads the model, parses and checks the flags, and writes the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .settings import GenerationSettings


class TakeError(ValueError):
    """An input that cannot make a take, in one sentence (the CLI's exit 1)."""


@dataclass(frozen=True)
class TakeInputs:
    """Where a take's audio and poses come from, and what of an earlier take is kept."""

    audio: Path
    start_seconds: float | None = None  # where the take starts in the audio
    duration_seconds: float | None = None
    gamma_curve: str | None = None  # .npy: the share of the --blend emotion over the clip
    delivery_curve: str | None = None  # .npy: the delivery (0 conversation .. 1 oration) over the clip
    constraints: str | None = None  # .npz: poses to pass through
    keep: str | None = None  # an earlier take (.bvh or .npz) to keep outside ``frame_range``
    frame_range: tuple[int, int] | None = None  # model frames [start, end) of ``keep`` to regenerate
    fps: float | None = None  # output frame rate (None: the model's)


@dataclass
class Take:
    motion: object  # core.motion.skeleton.Motion
    meta: dict
    kept_frames: int = 0  # frames of ``keep`` outside the range (0 for a new take)
    notes: list = field(default_factory=list)


class AudioCache:
    """The audio features of whole files, per (path, mtime, size, fps, config), and the energy
    offsets measured on them: a worker that serves many takes of one strip analyses its audio
    and measures its energy once (a regenerated range reuses the whole take's). The plain CLI
    uses none."""

    def __init__(self, limit: int = 8):
        self.limit = limit
        self._entries: dict = {}
        self._offsets: dict = {}

    def energy_offset(self, lm, path: Path, part: tuple, energy: float, reference) -> float:
        """``activity_offset`` of ``reference``, the features of ``part`` of the file at ``path``."""
        from .sampling import activity_offset

        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, str(lm.path), part, energy)
        if key not in self._offsets:
            if len(self._offsets) >= 64:
                self._offsets.clear()
            self._offsets[key] = activity_offset(lm, reference, energy)
        return self._offsets[key]

    def forget_offsets(self) -> None:
        """Another model was loaded: the offsets were measured with the one before."""
        self._offsets.clear()

    def features(self, path: Path, lm, n_frames: int | None = None) :
        from ..audio.features import audio_features_from_file

        if n_frames is not None:  # a regenerated range: the whole file's first frames are the same features
            whole = self.features(path, lm)
            if n_frames <= len(whole):
                return whole[:n_frames]
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, lm.fps, repr(lm.audio_config), n_frames)
        if key not in self._entries:
            while len(self._entries) >= self.limit:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = audio_features_from_file(path, lm.fps, config=lm.audio_config, n_frames=n_frames)
        return self._entries[key]


def _audio_features(cache: AudioCache | None, path: Path, lm, n_frames: int | None = None) :
    if cache is not None:
        return cache.features(path, lm, n_frames)
    from ..audio.features import audio_features_from_file

    return audio_features_from_file(path, lm.fps, config=lm.audio_config, n_frames=n_frames)


def make_take(lm, settings: GenerationSettings, inputs: TakeInputs, progress=None, *,
              audio_cache: AudioCache | None = None) -> Take:
    """The take ``settings`` and ``inputs`` give with the loaded model ``lm``; ``progress``:
    callable(fraction, message)."""
    progress = progress or (lambda fraction, message: None)
    mix = settings.emotions(lm.labels)
    for label, _ in mix:
        lm.emotion_index(label)
    if inputs.keep is not None:
        return _regenerated_take(lm, settings, inputs, mix, progress, audio_cache)
    return _new_take(lm, settings, inputs, mix, progress, audio_cache)


def _selected_audio(lm, inputs: TakeInputs, cache) -> tuple:
    """The audio features of the part of the file to animate, and a note if it had to be padded."""
    features = _audio_features(cache, inputs.audio, lm)
    if len(features) == 0:
        raise TakeError(f"{inputs.audio} is shorter than one motion frame ({1 / lm.fps:.3f} s); nothing to animate.")
    first = int(round((inputs.start_seconds or 0.0) * lm.fps))
    last = len(features) if inputs.duration_seconds is None else first + int(round(inputs.duration_seconds * lm.fps))
    if first < 0 or first >= len(features) or last <= first:
        raise TakeError("--start-seconds/--duration-seconds select no audio inside the file.")
    features = features[first:min(last, len(features))]
    note = None
    if len(features) < lm.n_seed:
        note = f"the audio is shorter than {lm.n_seed / lm.fps:.2f} s; it was padded with silence"
    return features, note


def _curve(path: str, flag: str, frames: int):
    """(F,) values of a .npy curve of values 0..1 spread evenly over the clip (an animated panel value)."""
    import numpy as np

    try:
        curve = np.asarray(np.load(path, allow_pickle=False), dtype=np.float64).reshape(-1)
    except (OSError, ValueError) as exc:
        raise TakeError(f"{flag} {path} is not a readable .npy array ({exc}).") from None
    if curve.size == 0 or not np.all(np.isfinite(curve)) or curve.min() < 0 or curve.max() > 1:
        raise TakeError(f"{flag} values must lie between 0 and 1.")
    return np.interp(np.linspace(0, 1, frames), np.linspace(0, 1, curve.size), curve)


def _frame_weights(gamma_curve: str | None, mix, frames: int) :
    """(K, F) emotion weights per frame: constant, or the --gamma-curve spread over the clip."""
    import numpy as np

    from .pipeline import emotion_weights

    if not gamma_curve:
        return emotion_weights(mix)[:, None].repeat(frames, axis=1)
    share = _curve(gamma_curve, "--gamma-curve", frames)
    return np.stack([1.0 - share, share])


def _load_constraints(path, lm, n_frames: int):
    """(known (F, D), mask (F, D)) from a --constraints file, or (None, None) without one."""
    if not path:
        return None, None
    from ..motion.motion_file import MotionFileError, read_constraints
    from .pipeline import constraints_to_known

    try:
        arrays = read_constraints(path)
    except MotionFileError as exc:
        raise TakeError(f"--constraints {path}: {exc}") from None
    return constraints_to_known(lm, arrays["frames"], arrays["joints"], arrays["rotations"], n_frames)


def _new_take(lm, settings: GenerationSettings, inputs: TakeInputs, mix, progress, cache) -> Take:
    from ..motion.resample import resample_motion
    from .pipeline import features_to_output, generate_with_constraints

    features, note = _selected_audio(lm, inputs, cache)
    weights = _frame_weights(inputs.gamma_curve, mix, len(features))
    known, known_mask = _load_constraints(inputs.constraints, lm, len(features))
    offset = None if cache is None else cache.energy_offset(
        lm, inputs.audio, ("take", inputs.start_seconds, inputs.duration_seconds), settings.energy, features)
    sampling = settings.pipeline_arguments(lm.schedule.T)
    if inputs.delivery_curve:
        sampling["delivery"] = _curve(inputs.delivery_curve, "--delivery-curve", len(features))
    motion_features = generate_with_constraints(
        lm, features, [label for label, _ in mix], weights, None if known is None else (known, known_mask),
        progress=lambda f, msg: progress(0.05 + 0.9 * f, msg), retime=settings.retime, energy_offset=offset,
        **sampling)
    motion = features_to_output(lm, motion_features)
    if inputs.fps is not None and abs(inputs.fps - lm.fps) > 1e-6:
        motion = resample_motion(motion, inputs.fps)
    meta = dict(emotions=mix, guidance=settings.guidance, energy=settings.energy, sampler=settings.sampler,
                steps=settings.sampling_steps(lm.schedule.T), seed=settings.seed, smoothing_hz=settings.smooth_hz,
                foot_lock=settings.foot_lock, retimed=bool(known is None and settings.retime),
                delivery="animated" if inputs.delivery_curve else settings.delivery,
                model=str(lm.path.name), audio=Path(inputs.audio).name, start_seconds=inputs.start_seconds or 0.0,
                note=note)
    return Take(motion, meta, notes=[note] if note else [])


def read_kept_take(path: str, lm):
    """The take of ``--keep`` on the model's skeleton and frame rate (TakeError otherwise)."""
    from ..motion.bvh import read_bvh
    from ..motion.motion_file import read_motion

    existing = read_motion(Path(path), lm.skeleton) if Path(path).suffix.lower() == ".npz" else read_bvh(Path(path))
    if existing.skeleton.joint_names != lm.skeleton.joint_names:
        raise TakeError(f"{path} is not on the model's {lm.skeleton.name} skeleton.")
    if abs(existing.fps - lm.fps) > 1e-6:
        raise TakeError(f"{path} is at {existing.fps:g} fps; --keep needs the model's {lm.fps:g} fps.")
    return existing


def _regenerated_take(lm, settings: GenerationSettings, inputs: TakeInputs, mix, progress, cache) -> Take:
    """--keep EXISTING --range S:E: resample frames [S, E) and keep every other frame exactly."""
    from ..motion.features import features_to_motion, motion_to_features
    from .pipeline import emotion_weights, regenerate_range, spliced

    existing = read_kept_take(inputs.keep, lm)
    frames = existing.num_frames
    start, end = inputs.frame_range
    if not 0 <= start < end <= frames:
        raise TakeError(f"--range {start}:{end} must lie inside the kept take's {frames} frames, START < END.")
    root = lm.layout.root_joint
    # --start-seconds: where the take starts in the audio (a trimmed strip); the take sets the length.
    skip = int(round((inputs.start_seconds or 0.0) * lm.fps))
    audio = _audio_features(cache, inputs.audio, lm, n_frames=skip + frames)[skip:]
    constraints = _load_constraints(inputs.constraints, lm, frames) if inputs.constraints else None
    # the whole take's energy (regenerate_range measures it on audio[:frames]), once per take
    offset = None if cache is None else cache.energy_offset(
        lm, inputs.audio, ("range", skip, frames), settings.energy, audio[:frames])
    features = regenerate_range(
        lm, audio, motion_to_features(existing, root_joint=root), start, end, [label for label, _ in mix],
        emotion_weights(mix), constraints=constraints, progress=lambda f, msg: progress(0.05 + 0.9 * f, msg),
        energy_offset=offset, **settings.pipeline_arguments(lm.schedule.T))
    motion = spliced(existing, features_to_motion(features, lm.skeleton, lm.fps, root_joint=root), start, end, root)
    meta = dict(emotions=mix, seed=settings.seed, kept=Path(inputs.keep).name, range=[start, end],
                model=str(lm.path.name), audio=Path(inputs.audio).name, start_seconds=inputs.start_seconds or 0.0)
    return Take(motion, meta, kept_frames=frames - (end - start))
