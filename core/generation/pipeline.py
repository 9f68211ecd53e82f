"""The generation API in one import: a model loaded (model_loading), windowed sampling
(sampling), finishing (finishing), regenerating part of a take (regeneration) and poses to
pass through (constraints). Each concept lives in its own module; callers may import from
here or from there."""

from .constraints import (CONSTRAINT_EASE, EASE_STEP, ConstraintError, constraints_to_known,  # noqa: F401
                          ease_to_constraints, generate_with_constraints)
from .finishing import (FINISH_EASE_FRAMES, activity_positions, features_to_output, finish,  # noqa: F401
                        finishing_weight, follow_activity, ground, speech_loudness)
from .model_loading import DEFAULT_MODEL, GenerationError, LoadedModel, load_model, resolve_device  # noqa: F401
from .regeneration import BORDER_FADE, regenerate_range, spliced  # noqa: F401
from .sampling import Progress, activity_offset, emotion_weights, generate_features, window_starts  # noqa: F401
