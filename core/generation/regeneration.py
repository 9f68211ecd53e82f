"""Regenerating part of a take: frames [start, end) resampled around the kept motion, eased in
and out at both borders, and spliced back with the root path carried across."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..motion.features import FeatureLayout, slerp_features, smoothstep_ramp
from ..motion.rotations import sixd_to_matrix
from ..motion.skeleton import Motion
from .constraints import ease_to_constraints
from .model_loading import GenerationError, LoadedModel
from .sampling import generate_features

BORDER_FADE = 12  # frames inside a regenerated range over which it eases in from / out to the kept motion


def regenerate_range(
    lm: LoadedModel,
    audio_features: np.ndarray,
    existing: np.ndarray,
    start: int,
    end: int,
    emotions: Sequence[str],
    weights: np.ndarray,
    constraints: tuple[np.ndarray, np.ndarray] | None = None,
    **sampling,
) -> np.ndarray:
    """Resample frames [start, end) of ``existing`` motion features (F, D), keeping the rest.

    Only the windows around the range are sampled: frames outside it are inpainted as known,
    the window before it seeds the sampler, and the first and last ``BORDER_FADE`` frames of
    the new part are slerp-blended with the old motion so position and velocity stay
    continuous at both borders, and the new part turns the body as much in all as the old one
    did (``_turn_as_much_as``), so the kept frames after it face the way it ends. Returns the
    full (F, D) features; outside the range they are ``existing`` bit for bit. ``constraints`` (known (F, D), mask (F, D)) from
    ``constraints_to_known`` are met inside the range (see ``ease_to_constraints``).
    """
    frames = len(existing)
    if not 0 <= start < end <= frames:
        raise GenerationError(f"the range {start}:{end} is not inside the take's {frames} frames.")
    if len(audio_features) < frames:
        pad = np.repeat(audio_features[-1:], frames - len(audio_features), axis=0)
        audio_features = np.concatenate([audio_features, pad])
    context = lm.n_seed + BORDER_FADE
    first = max(0, start - context)
    last = min(frames, end + context)
    known_mask = np.ones(last - first, dtype=bool)
    known_mask[start - first:end - first] = False
    seed_frames = existing[first - lm.n_seed:first] if first >= lm.n_seed else None
    if np.ndim(weights) == 2:
        weights = np.asarray(weights)[:, first:last]
    known = existing[first:last]
    if constraints is not None:
        inside = np.zeros((frames, 1), dtype=bool)
        inside[start:end] = True
        c_mask = np.asarray(constraints[1], dtype=bool) & inside
        known = np.where(c_mask, constraints[0], existing)[first:last]
        known_mask = np.repeat(known_mask[:, None], existing.shape[1], axis=1) | c_mask[first:last]
    region = generate_features(
        lm, audio_features[first:last], emotions, weights, known=known, known_mask=known_mask,
        first_seed=seed_frames, energy_reference=audio_features[:frames], **sampling,
    )
    new = region[start - first:end - first]
    old = existing[start:end]
    length = end - start
    ease = np.ones(length)
    for border, at_start in ((0, True), (length - 1, False)):
        fade = min(_border_fade(existing, new, border, start, end, lm.layout), length // 2)
        if fade < 1:
            continue
        ramp = smoothstep_ramp(fade)  # the blend weight starts with zero slope, so velocity has no kink
        if at_start:
            ease[:fade] = np.minimum(ease[:fade], ramp)
        else:
            ease[length - fade:] = np.minimum(ease[length - fade:], ramp[::-1])
    new = _blend(old, new, ease, lm.layout)
    if end < frames:
        new = _turn_as_much_as(old, new, ease, lm.layout)
    if constraints is not None:
        new = ease_to_constraints(new, constraints[0][start:end], c_mask[start:end], lm.layout, anchored=True)
    out = existing.copy()
    out[start:end] = new
    return out


def _turn_as_much_as(old: np.ndarray, new: np.ndarray, weight: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """``new`` (n, D) with its heading velocity bent so the range turns the body as much in all
    as ``old`` did, the difference spread by ``weight`` (n,), which is near 0 at the borders.

    Why: the heading is the running sum of the heading velocity, so a range that turns even a
    few degrees more or less than the one it replaces leaves every kept frame after it facing
    another way than the new part's last frame: the whole body snapped round at the end border
    (docs/blender.md)."""
    column = layout.slices["heading_velocity"]
    total = float(weight.sum())
    if total <= 0:
        return new
    out = np.array(new, copy=True)
    drift = float((old[:, column] - new[:, column]).sum())
    out[:, column] += (drift * weight / total)[:, None].astype(out.dtype)
    return out


def _joint_matrices(features: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    rot = features[:, layout.slices["rotations"]].astype(np.float64)
    return sixd_to_matrix(rot.reshape(len(features), layout.num_joints, 6))


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle (rad) between matrices a and b, per leading index."""
    trace = np.einsum("...ij,...ij->...", a, b)
    return np.arccos(np.clip((trace - 1) / 2, -1.0, 1.0))


def _border_fade(existing: np.ndarray, new: np.ndarray, border: int, start: int, end: int,
                 layout: FeatureLayout) -> int:
    """Frames to ease over at one border of a regenerated range: at least BORDER_FADE, and
    long enough that easing across the gap between the old and new pose (smoothstep's peak
    acceleration is 6 gap / fade^2) stays within the kept motion's usual acceleration."""
    kept = np.concatenate([existing[max(0, start - 60):start], existing[end:end + 60]])
    gap = _angles(_joint_matrices(existing[start + border:start + border + 1], layout),
                  _joint_matrices(new[border:border + 1], layout)).max()
    if len(kept) < 4:
        return BORDER_FADE
    m = _joint_matrices(kept, layout)
    step = _angles(m[1:], m[:-1])  # (frames-1, joints) angular speed
    acceleration = np.abs(np.diff(step, axis=0)).max(axis=1)
    typical = max(float(np.percentile(acceleration, 90)), 1e-4)
    return max(BORDER_FADE, int(np.ceil(np.sqrt(6.0 * gap / typical))))


def _blend(a: np.ndarray, b: np.ndarray, weight_b: np.ndarray, layout: FeatureLayout) -> np.ndarray:
    """Per-frame blend from ``a`` (weight 0) to ``b`` (weight 1): slerp on rotations."""
    out = np.empty_like(a)
    for w in np.unique(weight_b):
        rows = weight_b == w
        if w >= 1.0:
            out[rows] = b[rows]
        else:
            out[rows] = _crossfade_at(a[rows], b[rows], float(w), layout)
    return out


def _crossfade_at(a: np.ndarray, b: np.ndarray, w: float, layout: FeatureLayout) -> np.ndarray:
    return slerp_features(a, b, np.full((len(a), 1), w), layout)


def spliced(existing: Motion, decoded: Motion, start: int, end: int, root: int) -> Motion:
    """``existing`` with frames [start, end) from ``decoded``; the new root path is shifted so it
    leaves the kept frame before START and arrives at the kept frame at END."""
    frames = existing.num_frames
    rotations = existing.rotations.copy()
    rotations[start:end] = decoded.rotations[start:end]
    translations = existing.local_translations.copy()
    before = existing.local_translations[max(start - 1, 0), root] - decoded.local_translations[max(start - 1, 0), root]
    after = (existing.local_translations[end, root] - decoded.local_translations[end, root]) if end < frames else before
    ramp = ((np.arange(start, end) - start + 1) / (end - start + 1))[:, None]
    translations[start:end, root] = decoded.local_translations[start:end, root] + before + ramp * (after - before)
    return Motion(existing.skeleton, rotations, translations, existing.fps)
