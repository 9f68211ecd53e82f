"""Sampling defaults: the one place the command line, the evaluation, the batch script and
the add-on take them from (torch-free, so the add-on can read them before torch is installed)."""

from pathlib import Path

# The shipped model, used when no --model is given.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "weights" / "default.safetensors"

# The few-step sampler and its step counts, chosen with benchmarks/bench_sampling.py
# (docs/performance.md has its table): dpmpp_2m with 20 steps at 1/50 of the 1000-step DDPM
# reference's denoiser evaluations. ddpm always runs all of the model's steps.
DEFAULT_SAMPLER = "dpmpp_2m"
SAMPLER_NAMES = ("ddpm", "ddim", "dpmpp_2m")
DEFAULT_STEPS = {"dpmpp_2m": 20, "ddim": 25}

# The add-on's Quality menu: preset -> (sampler, steps); ddpm runs all of the model's 1000 steps.
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

# Low-pass cutoff (Hz) of the finished motion. The few-step sampler leaves frame-to-frame
# noise: the shipped model's hands had about six times the jerk of real mocap. Chosen on the
# validation recording 2_scott_0_55_55 at energy 1.25 (then the default), with the whole-take evaluation's
# jerk (body parts at 15 fps, evaluation.takes.plausibility) per unit of wrist speed, which
# does not count a livelier style as shakier: neutral, happy, angry and tired gave 66-73 at 7 Hz,
# 58-66 at 6 Hz and 49-56 at 5 Hz, against 34 and 61 for the real BEAT and ZEGGS takes;
# 5 Hz is the highest of 7, 6, 5 and 4 Hz inside that range, and costs about 5 % of the wrist
# speed against 7 Hz. (On the ZEGGS voice the model stays 5-9 % above her take at 5 Hz.)
DEFAULT_SMOOTHING_HZ = 5.0


def default_steps(sampler: str, total_steps: int) -> int:
    """The step count a front end uses when the user names none (``total_steps``: the model's T)."""
    return total_steps if sampler == "ddpm" else DEFAULT_STEPS[sampler]
