"""Whole-take evaluation, 4. and 5.: FGD in a skeleton-agnostic pose space, and whether emotions
differ more than seeds (frame-aligned pose distance), on takes.Take objects. Used by
takes.evaluate_takes."""

from __future__ import annotations

import numpy as np

from . import measures as M

# the body parts every take must have (takes.find_body_parts), all of them in the pose space
REQUIRED_PARTS = ("hips", "head", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "wrist_l", "wrist_r")
HELD_OUT_SECONDS = 15.0  # the last 15 s of each real take: never in any training set (model card)
POSE_FPS = 15.0  # pose-space windows are compared at one rate (the BEAT take has 15 fps)
WINDOW_SECONDS = 2.0
WINDOW_STRIDE_SECONDS = 0.2  # 3 frames at POSE_FPS
PCA_COMPONENTS = 16
VELOCITY_SECONDS = 0.2  # pose-space velocities count as the distance moved in 0.2 s (else they drown the pose)


class TakeError(ValueError):
    """A take or a skeleton the whole-take evaluation cannot measure, said in one line."""


# ------------------------------------------------------------------ 4. FGD in a skeleton-agnostic pose space


# The pose is rebuilt on one standard body: each bone keeps its direction (so the pose is the take's)
# and gets a standard length in torso heights (so rigs with other proportions compare fairly: the
# ZEGGS and BEAT rigs' upper-arm joints are 26 and 38 cm apart on torsos of 51 cm).
CANONICAL_BONES = (("hips", "shoulder_mid", 1.0), ("shoulder_mid", "head", 0.3),
                   ("shoulder_mid", "shoulder_l", 0.35), ("shoulder_mid", "shoulder_r", 0.35),
                   ("shoulder_l", "elbow_l", 0.55), ("shoulder_r", "elbow_r", 0.55),
                   ("elbow_l", "wrist_l", 0.5), ("elbow_r", "wrist_r", 0.5))
POSE_POINTS = tuple(child for _, child, _ in CANONICAL_BONES)


def heading_aligned(take) -> dict[str, np.ndarray]:
    """(F, 3) positions of the required body parts and the shoulder midpoint relative to the hips, turned
    about Y so the shoulders' left-right axis is +X (the character faces +Z)."""
    across = take.part("shoulder_l") - take.part("shoulder_r")
    angle = np.arctan2(across[:, 2], across[:, 0])
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    out = {}
    for name in REQUIRED_PARTS:
        rel = take.part(name) - take.part("hips")
        out[name] = np.stack([c[:, 0] * rel[:, 0] + s[:, 0] * rel[:, 2], rel[:, 1],
                              -s[:, 0] * rel[:, 0] + c[:, 0] * rel[:, 2]], axis=-1)
    out["shoulder_mid"] = 0.5 * (out["shoulder_l"] + out["shoulder_r"])
    return out


def aligned_pose(take) -> np.ndarray:
    """(F, P, 3) the skeleton-agnostic pose: POSE_POINTS relative to the hips, heading-aligned, laid out
    with the bone directions of the take and the standard bone lengths of CANONICAL_BONES (torso heights)."""
    aligned = heading_aligned(take)
    out = {"hips": np.zeros_like(aligned["hips"])}
    for parent, child, length in CANONICAL_BONES:
        bone = aligned[child] - aligned[parent]
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        if not np.all(norm > 1e-9):
            raise TakeError(f"take {take.name}: the {parent} and {child} joints coincide; no pose direction.")
        out[child] = out[parent] + length * bone / norm
    return np.stack([out[p] for p in POSE_POINTS], axis=1)


def resample_rows(values: np.ndarray, fps: float, new_fps: float) -> np.ndarray:
    """Linear interpolation of (F, ...) values from ``fps`` to ``new_fps`` over the same duration."""
    if abs(fps - new_fps) < 1e-9:
        return values
    t = np.arange(int(np.floor((len(values) - 1) / fps * new_fps)) + 1) * fps / new_fps
    i0 = np.minimum(np.floor(t).astype(int), len(values) - 1)
    i1 = np.minimum(i0 + 1, len(values) - 1)
    w = (t - i0).reshape(-1, *([1] * (values.ndim - 1)))
    return values[i0] * (1 - w) + values[i1] * w


def pose_windows(take, start_s: float = 0.0, end_s: float | None = None) -> np.ndarray:
    """(N, W * 2D) flattened windows of aligned pose and its velocity (times VELOCITY_SECONDS), at POSE_FPS,
    WINDOW_SECONDS long every WINDOW_STRIDE_SECONDS, from the part [start_s, end_s) of the take."""
    pose = resample_rows(aligned_pose(take).reshape(len(take.positions), -1), take.fps, POSE_FPS)
    velocity = np.diff(pose, axis=0, prepend=pose[:1]) * POSE_FPS * VELOCITY_SECONDS
    if len(velocity) > 1:
        velocity[0] = velocity[1]
    frames = np.concatenate([pose, velocity], axis=1)
    first = max(0, int(round(start_s * POSE_FPS)))
    frames = frames[first:None if end_s is None else max(first, int(round(end_s * POSE_FPS)))]
    size, stride = int(round(WINDOW_SECONDS * POSE_FPS)), int(round(WINDOW_STRIDE_SECONDS * POSE_FPS))
    starts = range(0, len(frames) - size + 1, stride)
    if not len(starts):
        return np.empty((0, size * frames.shape[1]))
    return np.stack([frames[i:i + size].ravel() for i in starts])


def fit_pca(vectors: np.ndarray, components: int = PCA_COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and the first ``components`` principal axes (k, D) of vectors (N, D)."""
    mean = vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(vectors - mean, full_matrices=False)
    return mean, vt[:components]


def embed_windows(windows: np.ndarray, pca) -> np.ndarray:
    """(N, k + 1): the coordinates on the principal axes and the distance from their subspace, so a
    motion unlike any real one (say, arms held high) is not projected onto something real-looking."""
    centred = windows - pca[0]
    coords = centred @ pca[1].T
    residual = np.linalg.norm(centred - coords @ pca[1], axis=1, keepdims=True)
    return np.concatenate([coords, residual], axis=1)


def _embedded_fgd(a: np.ndarray, b: np.ndarray, pca) -> float:
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return M.fgd(embed_windows(a, pca), embed_windows(b, pca))


def pose_fgd(generated: dict[str, list], references: list,
             ceilings: dict[str, list] | None = None) -> dict:
    """FGD of each set of takes against the real takes' held-out last HELD_OUT_SECONDS, in a PCA space
    fitted on the real takes' other parts. Floors: the held-out parts of the first two real takes against
    each other, and the real takes' other parts against the held-out ones. ``ceilings``: any other takes."""
    ceilings = ceilings or {}
    held = [pose_windows(r, start_s=r.duration - HELD_OUT_SECONDS) for r in references]
    rest = [pose_windows(r, end_s=r.duration - HELD_OUT_SECONDS) for r in references]
    if sum(len(h) for h in held) < 2 or sum(len(r) for r in rest) < PCA_COMPONENTS:
        raise TakeError(f"the real takes are too short for the pose-space FGD (each needs over "
                        f"{HELD_OUT_SECONDS + WINDOW_SECONDS:g} s).")
    pca = fit_pca(np.concatenate(rest))
    real = np.concatenate(held)
    rows = {label: _embedded_fgd(np.concatenate([pose_windows(t) for t in takes]), real, pca)
            for label, takes in {**generated, **ceilings}.items()}
    floors = {"real: all takes' other parts vs held-out": _embedded_fgd(np.concatenate(rest), real, pca)}
    for ref, windows in zip(references, rest):
        floors[f"real: {ref.name}, its other part vs held-out"] = _embedded_fgd(windows, real, pca)
    if len(held) >= 2:
        floors[f"real: {references[0].name} vs {references[1].name} (held-out parts)"] = \
            _embedded_fgd(held[0], held[1], pca)
    return dict(points=list(POSE_POINTS), components=int(len(pca[1])), real_windows=int(len(real)), fgd=rows,
                floors=floors, ceilings=list(ceilings))


# ------------------------------------------------------------------ 5. emotions differ more than seeds


def emotion_seed_distances(takes: list) -> dict:
    """Mean frame-aligned pose distance (RMS of aligned_pose, torso heights) between two emotions' takes of one speech
    and seed, and between two seeds of one emotion and speech (None with a single seed)."""
    poses = {(t.speech, t.label, t.seed): aligned_pose(t).reshape(len(t.positions), -1) for t in takes}
    speeches, labels = sorted({k[0] for k in poses}), sorted({k[1] for k in poses})
    seeds = sorted({k[2] for k in poses})
    emotions = [M.mean_pairwise_distance([poses[(sp, e, s)] for e in labels if (sp, e, s) in poses])
                for sp in speeches for s in seeds if sum((sp, e, s) in poses for e in labels) >= 2]
    by_seed = [M.mean_pairwise_distance([poses[(sp, e, s)] for s in seeds if (sp, e, s) in poses])
               for sp in speeches for e in labels if sum((sp, e, s) in poses for s in seeds) >= 2]
    between_emotions = float(np.mean(emotions)) if emotions else None
    between_seeds = float(np.mean(by_seed)) if by_seed else None
    passed = None if between_emotions is None or between_seeds is None else between_emotions > between_seeds
    return dict(between_emotions=between_emotions, between_seeds=between_seeds, passed=passed)


# ------------------------------------------------------------------ summaries and the quality bar
