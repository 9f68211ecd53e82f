"""How a take is generated: one settings object, from the panel, the batch script, the command
line or the evaluation to ``generate_features`` (torch-free, so the add-on reads it before
torch is installed).

``GenerationSettings`` holds every choice that changes the motion and nothing about where it
comes from or goes (audio, output, kept take, range: the caller's). One name per setting: the
attribute is the command-line flag without its dashes (``--smooth-hz`` is ``smooth_hz``) or,
for a setting that is on unless turned off, without ``--no-`` (``--no-foot-lock`` is
``foot_lock``). Each limit is stated once, in ``validate``; ``add_arguments``, ``from_args`` and
``to_argv`` are the one declaration of the flags, used by the CLI, the batch script, the
evaluation and the add-on's command line (core/cli/protocol.py).
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

# The shipped model, used when no --model is given.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "weights" / "default.safetensors"

# The few-step sampler and its step counts, chosen with benchmarks/bench_sampling.py
# (docs/performance.md has its table): dpmpp_2m with 20 steps at 1/50 of the 1000-step DDPM
# reference's denoiser evaluations. ddpm always runs all of the model's steps.
DEFAULT_SAMPLER = "dpmpp_2m"
SAMPLER_NAMES = ("ddpm", "ddim", "dpmpp_2m")
DEFAULT_STEPS = {"dpmpp_2m": 20, "ddim": 25}

# The add-on's Quality menu and the batch script's --quality: preset -> (sampler, steps);
# ddpm runs all of the model's 1000 steps.
QUALITY_PRESETS = {
    "FAST": ("dpmpp_2m", 10),
    "BALANCED": (DEFAULT_SAMPLER, DEFAULT_STEPS[DEFAULT_SAMPLER]),
    "REFERENCE": ("ddpm", 1000),
}

# Classifier-free guidance strength; 1 = none (one denoiser pass per emotion per step).
# The shipped model was measured at 1, 1.5, 2 and 3 (docs/evaluation.md): above 1 it moves
# faster and scores a lower FGD, but jitter and foot sliding rise, synchrony over seeds 0-2
# does not improve, and no style the classifier missed at 1 (angry on the BEAT voice) is
# recovered. Every front end starts from this one value so they give the same motion.
DEFAULT_GUIDANCE = 1.0

# How much the hands move: the take's mean activity (standardised wrist speed the model is
# conditioned on; 0 = the training takes' mean) that pipeline.activity_offset centres the
# encoder's prediction on. Chosen on the validation recording 2_scott_0_55_55 (31 s; in no
# report) and the two training recordings, every emotion, seeds 0-2, levels 1-2 with the 5 Hz
# smoothing below (research/energy_levels.py, docs/experiments/energy.md): the level nearest
# to where neutral on the validation recording moves as fast as the real takes (55 cm/s) with
# every emotion on the three recordings inside the bar: hands in the speaking space, 10-s
# blocks within 25-140 cm/s, feet sliding no more than the real ZEGGS take's 1.57 cm/s. At 2,
# neutral's 55.4 cm/s, sad's feet slid 3.43 cm/s on the ZEGGS voice; at 1.75 neutral moves at
# 53.2, the blocks span 30.4-108.6 cm/s and the worst feet slide 1.45. The model gives less
# speed than it is asked for, hence a level above the mean.
DEFAULT_ENERGY = 1.75
ENERGY_LIMIT = 5.0  # standard deviations of the training takes' activity: beyond it the model was never asked

# Low-pass cutoff (Hz) of the finished motion. The few-step sampler leaves frame-to-frame
# noise: the shipped model's hands had about six times the jerk of real mocap. Chosen on the
# validation recording 2_scott_0_55_55 at energy 1.25 (then the default), with the whole-take evaluation's
# jerk (body parts at 15 fps, evaluation.takes.plausibility) per unit of wrist speed, which
# does not count a livelier style as shakier: neutral, happy, angry and tired gave 66-73 at 7 Hz,
# 58-66 at 6 Hz and 49-56 at 5 Hz, against 34 and 61 for the real BEAT and ZEGGS takes;
# 5 Hz is the highest of 7, 6, 5 and 4 Hz inside that range, and costs about 5 % of the wrist
# speed against 7 Hz. (On the ZEGGS voice the model stays 5-9 % above her take at 5 Hz.)
# The any-voice model's livelier legs and trunk (issue 28) took the jitter to 68-99 on unseen
# speech: the trunk and legs are now filtered lower than the arms (finishing.TRUNK_SMOOTHING_SHARE)
# and the arms at 3.5 Hz, chosen there with it.
DEFAULT_SMOOTHING_HZ = 3.5

DEVICES = ("auto", "cpu", "cuda")

# The repertoire the animator picks (models trained with performers, issue 28): 0 gestures as
# the BEAT speaker does in conversation (smaller, lower, closer to the body), 1 as the ZEGGS
# speaker does in oration (wide, high, weight shifting); in between the two are blended inside
# the sampler like emotions. The legs and the root always follow oration's, the only take whose
# lower body was captured. The voice never picks it. Older models have one repertoire and
# ignore it.
DELIVERIES = {"conversation": 0.0, "oration": 1.0}
DEFAULT_DELIVERY = 0.35


def parse_delivery(text) -> float:
    """``--delivery conversation|oration|0..1`` -> a number from 0 (conversation) to 1 (oration)."""
    if isinstance(text, (int, float)):
        return float(text)
    named = DELIVERIES.get(str(text).strip().lower())
    if named is not None:
        return named
    try:
        return float(text)
    except ValueError:
        raise SettingError(f"--delivery must be conversation, oration or a number from 0 to 1, got {text!r}.") from None


def default_steps(sampler: str, total_steps: int) -> int:
    """The step count a front end uses when the user names none (``total_steps``: the model's T)."""
    return total_steps if sampler == "ddpm" else DEFAULT_STEPS[sampler]


class SettingError(ValueError):
    """A setting that cannot be used, said in one sentence naming its flag (the CLI exits 2)."""


def format_number(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``1`` for 1.0, ``0.3`` for 0.3)."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def _label_weight(text: str, flag: str) -> tuple[str, float]:
    label, sep, value = text.rpartition(":")
    if not sep or not label:
        raise SettingError(f"{flag} must look like LABEL:WEIGHT (for example sad:0.3), got {text!r}.")
    try:
        weight = float(value)
    except ValueError:
        raise SettingError(f"{flag} weight {value!r} is not a number.") from None
    if not 0.0 <= weight <= 1.0:
        raise SettingError(f"{flag} weight must lie between 0 and 1, got {weight:g}.")
    return label, weight


def parse_blend(text: str | None) -> tuple[str, float] | None:
    """``--blend LABEL:SHARE`` -> (label, share)."""
    return _label_weight(text, "--blend") if text else None


def parse_mix(text: str | None) -> tuple[tuple[str, float], ...] | None:
    """``--mix A:w,B:w,...`` -> ((label, weight), ...) as written (``emotions`` scales them to sum
    to 1, so the flags read back exactly)."""
    if not text:
        return None
    mix = tuple(_label_weight(part.strip(), "--mix") for part in text.split(",") if part.strip())
    total = sum(w for _, w in mix)
    if not mix or abs(total - 1.0) > 1e-3:
        raise SettingError(f"--mix weights must sum to 1, they sum to {total:g}.")
    return mix


@dataclass(frozen=True)
class GenerationSettings:
    """Every choice that changes the generated motion (see the module's docstring)."""

    model: str | None = None  # checkpoint; None: the shipped model
    emotion: str | None = None  # e1; None: neutral (the model's first emotion if it has no neutral)
    blend: tuple[str, float] | None = None  # (e2, its share gamma); e1 gets 1 - gamma
    mix: tuple[tuple[str, float], ...] | None = None  # any number of (emotion, weight), weights summing to 1
    guidance: float = DEFAULT_GUIDANCE
    energy: float = DEFAULT_ENERGY
    sampler: str = DEFAULT_SAMPLER
    steps: int | None = None  # None: the sampler's default (default_steps)
    seed: int = 0
    retime: bool = True  # core/generation/retiming.py
    smooth_hz: float = DEFAULT_SMOOTHING_HZ  # 0: off
    foot_lock: bool = True  # core/generation/root_anchor.py, footlock.py
    rest: bool = True  # core/generation/rest.py
    delivery: float = DEFAULT_DELIVERY  # 0 conversation .. 1 oration (DELIVERIES)
    device: str = "auto"
    threads: int = 1  # torch CPU threads; 0: torch's default

    # --- the flags ---------------------------------------------------------------------

    @staticmethod
    def add_arguments(parser, only=None, **defaults) -> None:
        """Declare the settings' flags on ``parser`` (``only``: the names of those wanted;
        ``defaults``: another default for some, e.g. the evaluation's device=cpu)."""
        d = {f.name: f.default for f in fields(GenerationSettings)}
        d.update(defaults)
        flags = {
            "model": (["--model"], dict(help="checkpoint (.safetensors); default: the shipped model")),
            "emotion": (["--emotion"], dict(help="emotion e1 (default: neutral)")),
            "blend": (["--blend"], dict(metavar="LABEL2:GAMMA", help="mix in LABEL2 with weight GAMMA (0..1); e1 gets "
                                                                     "1-GAMMA")),
            "mix": (["--mix"], dict(metavar="A:W,B:W,...", help="any number of emotions with weights that sum to 1")),
            "guidance": (["--guidance"], dict(type=float, help="classifier-free guidance strength (1 = none)")),
            "energy": (["--energy"], dict(type=float, help=f"how much the hands move, whatever the voice's level (default "
                                          f"{DEFAULT_ENERGY:g}; 0 is the training takes' mean activity, each 1 about a "
                                          f"standard deviation more; docs/cli.md)")),
            "sampler": (["--sampler"], dict(choices=SAMPLER_NAMES, help=(
                f"dpmpp_2m ({DEFAULT_STEPS['dpmpp_2m']} steps), ddim ({DEFAULT_STEPS['ddim']} steps) or ddpm (all the "
                f"model's steps, the reference); default {DEFAULT_SAMPLER}"))),
            "steps": (["--steps"], dict(type=int, help="denoising steps for ddim/dpmpp_2m")),
            "seed": (["--seed"], dict(type=int, help="sampling seed: the same seed and settings give the same motion")),
            "retime": (["--no-retime"], dict(action="store_false", help=(
                "keep the sampler's own timing; by default the motion is re-timed so the hands move fast where the "
                "speech is loud and linger in pauses (docs/cli.md)"))),
            "smooth_hz": (["--smooth-hz"], dict(type=float, help=(
                f"low-pass cutoff of the generated motion in Hz (default {DEFAULT_SMOOTHING_HZ:g}; 0 keeps the "
                f"sampler's frame-to-frame noise)"))),
            "foot_lock": (["--no-foot-lock"], dict(action="store_false", help=(
                "leave planted feet where the sampler put them; by default a foot that rests on the floor is pinned "
                "there by leg IK"))),
            "delivery": (["--delivery"], dict(metavar="conversation|oration|0..1", help=(
                f"the repertoire of gestures: conversation (0: smaller, closer to the body), oration (1: wide and "
                f"high) or a blend between them (default {DEFAULT_DELIVERY:g}); the voice never picks it"))),
            "rest": (["--no-rest"], dict(action="store_false", help=(
                "keep the sampler's arms in long pauses; by default they come to rest low and relaxed (docs/cli.md)"))),
            "device": (["--device"], dict(help="auto, cpu or cuda")),
            "threads": (["--threads"], dict(type=int, help=(
                "torch CPU threads (default 1: this small model gains little from more, and extra threads spin "
                "against other processes; 0 = torch's default)"))),
        }
        for name, (names, kwargs) in flags.items():
            if only is None or name in only:
                if name in ("blend", "mix", "delivery"):  # text, parsed by from_args into one sentence on a mistake
                    parser.add_argument(*names, dest=name, default=None, **kwargs)
                else:
                    parser.add_argument(*names, dest=name, default=d[name], **kwargs)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "GenerationSettings":
        """The settings the parsed flags give (names not declared keep their defaults);
        SettingError on a malformed --blend or --mix."""
        values = {f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)}
        if isinstance(values.get("blend"), str):
            values["blend"] = parse_blend(values["blend"])
        if isinstance(values.get("mix"), str):
            values["mix"] = parse_mix(values["mix"])
        if values.get("delivery") is None:
            values.pop("delivery", None)
        else:
            values["delivery"] = parse_delivery(values["delivery"])
        return cls(**values)

    def to_argv(self) -> list[str]:
        """The flags that give these settings back (numbers exact), every setting named."""
        argv = []
        if self.model is not None:
            argv += ["--model", str(self.model)]
        if self.emotion is not None:
            argv += ["--emotion", self.emotion]
        if self.blend is not None:
            argv += ["--blend", f"{self.blend[0]}:{format_number(self.blend[1])}"]
        if self.mix is not None:
            argv += ["--mix", ",".join(f"{label}:{format_number(w)}" for label, w in self.mix)]
        argv += ["--guidance", format_number(self.guidance), "--energy", format_number(self.energy),
                 "--sampler", self.sampler]
        if self.steps is not None:
            argv += ["--steps", str(self.steps)]
        argv += ["--seed", str(self.seed), "--smooth-hz", format_number(self.smooth_hz),
                 "--delivery", format_number(self.delivery), "--device", self.device,
                 "--threads", str(self.threads)]
        if not self.retime:
            argv.append("--no-retime")
        if not self.foot_lock:
            argv.append("--no-foot-lock")
        if not self.rest:
            argv.append("--no-rest")
        return argv

    def replace(self, **changes) -> "GenerationSettings":
        return replace(self, **changes)

    # --- the limits ----------------------------------------------------------------------

    def validate(self) -> "GenerationSettings":
        """Refuse, in one sentence naming the flag, a value no model can use (before torch loads)."""
        if self.steps is not None and self.steps < 1:
            raise SettingError(f"--steps must be a positive whole number, got {self.steps}.")
        if self.sampler not in SAMPLER_NAMES:
            raise SettingError(f"unknown sampler {self.sampler!r} for --sampler; use {', '.join(SAMPLER_NAMES)}.")
        if not 0 <= self.guidance < math.inf:  # also refuses nan
            raise SettingError(f"--guidance must be a finite number, 0 or more, got {self.guidance:g}.")
        if not -ENERGY_LIMIT <= self.energy <= ENERGY_LIMIT:  # also refuses nan
            raise SettingError(f"--energy must be a number from -{ENERGY_LIMIT:g} to {ENERGY_LIMIT:g}, got {self.energy:g}.")
        if self.threads < 0:
            raise SettingError(f"--threads must be 0 (torch's default) or a positive whole number, got {self.threads}.")
        if not self.smooth_hz >= 0:  # also refuses nan; the upper bound needs the model's frame rate
            raise SettingError(f"--smooth-hz must be 0 (off) or a positive frequency, got {self.smooth_hz:g}.")
        device = self.device.lower()
        if device not in DEVICES and not device.startswith("cuda:"):
            raise SettingError(f"unknown device {self.device!r} for --device; use auto, cpu or cuda.")
        if not 0.0 <= self.delivery <= 1.0:  # also refuses nan
            raise SettingError(f"--delivery must be conversation, oration or a number from 0 to 1, got "
                               f"{self.delivery:g}.")
        if self.blend is not None and self.mix is not None:
            raise SettingError("use either --blend or --mix, not both.")
        for label, weight in (self.mix or ()) + ((self.blend,) if self.blend else ()):
            if not 0.0 <= weight <= 1.0:
                raise SettingError(f"an emotion's weight must lie between 0 and 1, got {label}:{weight:g}.")
        return self

    def check_model(self, metadata: dict) -> None:
        """The limits that need the model's metadata (read without torch): its emotions, its
        frame rate, its number of diffusion steps."""
        fps = float(metadata.get("fps") or 0)
        if fps and not self.smooth_hz < fps / 2:
            raise SettingError(f"--smooth-hz must be 0 (off) or a frequency below {fps / 2:g} Hz (half the model's "
                               f"{fps:g} fps), got {self.smooth_hz:g}.")
        total = int(metadata.get("diffusion", {}).get("T", 1000))
        if self.sampler == "ddpm" and self.steps not in (None, total):
            raise SettingError(f"the ddpm sampler always runs all {total} steps; use --sampler ddim for fewer.")
        labels = list(metadata.get("emotions") or [])
        for label, _ in self.emotions(labels or ["neutral"]):
            if labels and label not in labels:
                raise SettingError(f"the model has no emotion {label!r}; valid emotions: {', '.join(labels)}.")

    # --- what the pipeline reads -----------------------------------------------------------

    def emotions(self, labels) -> list[tuple[str, float]]:
        """[(emotion, weight), ...]: --emotion E1 [--blend E2:G] -> [(E1, 1-G), (E2, G)], or the mix."""
        if self.mix is not None:
            total = sum(w for _, w in self.mix)
            return [(label, w / total) for label, w in self.mix]
        first = self.emotion or ("neutral" if "neutral" in labels else labels[0])
        if self.blend is None:
            return [(first, 1.0)]
        second, share = self.blend
        return [(first, 1.0 - share), (second, share)]

    def sampling_steps(self, total_steps: int) -> int:
        """The steps the sampler runs (``total_steps``: the model's T)."""
        return self.steps if self.steps is not None else default_steps(self.sampler, total_steps)

    def pipeline_arguments(self, total_steps: int) -> dict:
        """The keyword arguments of ``generate_features`` and ``regenerate_range`` these settings fill."""
        return dict(guidance=self.guidance, sampler=self.sampler, steps=self.sampling_steps(total_steps),
                    seed=self.seed, smoothing_hz=self.smooth_hz, foot_lock=self.foot_lock, energy=self.energy,
                    delivery=self.delivery, rest=self.rest)
