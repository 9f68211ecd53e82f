"""Sampling defaults shared by the command line, the evaluation, the batch script and the
add-on (torch-free, so the add-on can read them before torch is installed)."""

# Classifier-free guidance strength; 1 = none (one denoiser pass per emotion per step).
# The shipped model was measured at 1, 1.5, 2 and 3 (README, Evaluation): above 1 it moves
# faster and scores a lower FGD, but jitter and foot sliding rise, synchrony over seeds 0-2
# does not improve, and no style the classifier missed at 1 (angry on the BEAT voice) is
# recovered. Every front end starts from this one value so they give the same motion.
DEFAULT_GUIDANCE = 1.0

# Low-pass cutoff (Hz) of the finished motion. The few-step sampler leaves frame-to-frame
# noise: the shipped model's hands had about six times the jerk of real mocap. Measured in
# README, Evaluation.
DEFAULT_SMOOTHING_HZ = 8.0
