"""Whole-take evaluation, the fingers (issue 32): how many finger chains a take has, how far and
how much its fingers bend, and whether any finger bends backwards further than real capture.
Pure functions over takes.Take (world joint positions; the finger chains found by name when the
take was made, ``Take.fingers``):

1. finger chains (fingers) found by name, and their segments (three a finger: issue 32's bar
   asks for at least 20);
2. flexion: the angle between each finger's first and second segments (its middle joint, 0
   straight; ``core.motion.measures.finger_flexion`` on the three named joints, without the end
   joint the model's skeleton lacks): its mean, its std over the take (the mean over the
   fingers) and the 5th-95th percentile range;
3. backward bending: each finger's bend at each of its joints (knuckle, middle and, where the
   take has the end joint, last), signed about the joint's hinge: positive towards the palm,
   negative backwards (hyperextension). The hand's frame comes from joint positions only:
   ``along`` from the hand joint to the middle finger's knuckle (``...Middle1``), ``across``
   from the little finger's knuckle to the index finger's, the palm's normal
   ``across x along`` for the right hand and ``along x across`` for the left (a mirror
   image; right-handed world axes, as a BVH file's), and the hinge ``along x palm``. The
   thumb is left out: it bends across the palm, not about that hinge. A frame bends backwards when some finger joint is bent backwards by
   more than BACKWARD_DEG.

Used by takes.evaluate_takes; reported by take_report; the hands' close-up picture is
take_pictures.hand_sheet.
"""

from __future__ import annotations

import numpy as np

from ..motion.measures import FINGER_KINDS, SIDES, chain_flexion

FINGER_BAR = dict(segments=20, flexion_std=3.0, flexion_low=10.0, flexion_high=50.0)
BACKWARD_DEG = 5.0  # a finger joint bent backwards by more than this counts as a backward-bent frame
BACKWARD_MARGIN = 1.0  # degrees a joint may bend backwards beyond the real takes' largest (measurement noise)
_SIDE_LETTER = {"Left": "l", "Right": "r"}


def chain_names(joint_names: list[str], chains: list[list[int]]) -> dict[str, list[int]]:
    """{"r_index": chain, ...} for chains from ``finger_chains`` (their first joint's name gives
    the side and the finger)."""
    out = {}
    for chain in chains:
        name = joint_names[chain[0]]
        side = next(s for s in SIDES if name.startswith(s))
        finger = next(f for f in FINGER_KINDS if name == f"{side}Hand{f}1")
        out[f"{_SIDE_LETTER[side]}_{finger.lower()}"] = list(chain)
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def flexion(take) -> np.ndarray:
    """(F, A) degrees between each finger's first and second segments (its middle joint), from its three
    named joints only (``core.motion.measures.finger_flexion`` without the end joints), so a take
    with end joints (real capture) and one without (the model's) compare alike; (F, 0) without fingers."""
    return chain_flexion(take.positions, [chain[:3] for chain in take.fingers.values()])


def hand_frames(take) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{side: (palm normal, hinge)} (F, 3) unit vectors per hand that has its index, middle and
    little fingers (the module's docstring gives the definition)."""
    out = {}
    for side in "lr":
        needed = [f"{side}_{f}" for f in ("index", "middle", "pinky")]
        if not all(n in take.fingers for n in needed):
            continue
        index, middle, pinky = (take.positions[:, take.fingers[n][0]] for n in needed)
        along = _unit(middle - take.part(f"wrist_{side}"))
        across = index - pinky
        palm = _unit(np.cross(across, along) if side == "r" else np.cross(along, across))
        out[side] = (palm, _unit(np.cross(along, palm)))
    return out


JOINTS = ("knuckle", "middle", "last")  # a finger's joints from the hand out: the bends signed_bends measures


def signed_bends(take) -> dict[str, np.ndarray]:
    """{joint: (F, B)} every finger's (not the thumb's) bend in degrees at its knuckle, its middle
    joint and, with the end joint, its last joint (JOINTS), about the hand's hinge: positive towards
    the palm, negative bent backwards; {} where no hand has the fingers that give its frame."""
    frames = hand_frames(take)
    bends = {}
    for name, chain in take.fingers.items():
        side = name[0]
        if name.endswith("thumb") or side not in frames:
            continue
        hinge = frames[side][1]
        points = take.positions[:, [take.parts[f"wrist_{side}"], *chain]]
        segments = _unit(np.diff(points, axis=1))
        u, v = segments[:, :-1], segments[:, 1:]
        sine = np.sum(np.cross(u, v) * hinge[:, None], axis=-1)
        angles = np.degrees(np.arctan2(sine, np.sum(u * v, axis=-1)))
        for k, joint in enumerate(JOINTS[:angles.shape[1]]):
            bends.setdefault(joint, []).append(angles[:, k])
    return {joint: np.stack(columns, axis=1) for joint, columns in bends.items()}


def _no_fingers(chains: int) -> dict:
    return dict(finger_chains=chains, finger_segments=3 * chains, flexion_mean=None, flexion_std=None,
                flexion_p5=None, flexion_p95=None, backward_pct=None, backward_max=None)


def finger_measures(take) -> dict:
    """Per take: finger chains and segments found, mean flexion, its std over the take (mean over the
    angles), its 5th and 95th percentiles, the share of frames bent backwards (% of frames with some
    finger joint bent backwards by more than BACKWARD_DEG) and the largest backward bend per joint
    ({joint: degrees, 0 if never}; None where no hand frame); the figures None without fingers."""
    angles = flexion(take)
    if not angles.size:
        return _no_fingers(len(take.fingers))
    backward = {joint: -b for joint, b in signed_bends(take).items()}
    worst = np.max([b.max(axis=1) for b in backward.values()], axis=0) if backward else None
    return dict(_no_fingers(len(take.fingers)), flexion_mean=float(angles.mean()),
                flexion_std=float(angles.std(axis=0).mean()), flexion_p5=float(np.percentile(angles, 5)),
                flexion_p95=float(np.percentile(angles, 95)),
                backward_pct=None if worst is None else float(np.mean(worst > BACKWARD_DEG) * 100),
                backward_max=None if worst is None else {j: float(max(b.max(), 0.0)) for j, b in backward.items()})


def largest_backward(rows: list[dict]) -> dict | None:
    """{joint: the largest backward bend} over rows (finger_measures or finger_summary); None if none has one."""
    found = [r["backward_max"] for r in rows if r["backward_max"]]
    return {j: max(f[j] for f in found if j in f) for j in JOINTS if any(j in f for f in found)} if found else None


def finger_summary(takes: list) -> dict:
    """One line for a set of takes (an emotion's, or the real ones): the fewest chains and segments of any
    take, the mean flexion over every frame, the mean of the takes' flexion std, the 5th-95th percentile
    of all frames' flexion pooled, the share of backward-bent frames over all frames, the largest
    backward bend per joint; ``fingers`` False (the figures None) if a take has no fingers."""
    rows = [finger_measures(t) for t in takes]
    out = dict(_no_fingers(min(r["finger_chains"] for r in rows)), takes=len(takes))
    if any(r["flexion_mean"] is None for r in rows):
        return dict(out, fingers=False)
    pooled = np.concatenate([flexion(t).ravel() for t in takes])
    frames = np.array([len(t.positions) for t in takes], np.float64)
    measured = [(r["backward_pct"], f) for r, f in zip(rows, frames) if r["backward_pct"] is not None]
    return dict(out, fingers=True, flexion_mean=float(np.average([r["flexion_mean"] for r in rows], weights=frames)),
                flexion_std=float(np.mean([r["flexion_std"] for r in rows])),
                flexion_p5=float(np.percentile(pooled, 5)), flexion_p95=float(np.percentile(pooled, 95)),
                backward_pct=float(np.average([v for v, _ in measured], weights=[f for _, f in measured]))
                if measured else None,
                backward_max=largest_backward(rows))


def finger_passes(summary: dict, real_backward: dict | None, bar: dict = FINGER_BAR) -> dict:
    """Issue 32's bar for one emotion: finger segments, variability, relaxed mean flexion, and no joint
    bent backwards beyond the real takes' largest at that joint (by more than BACKWARD_MARGIN) (``real_backward``, largest_backward;
    a joint the real takes lack is not judged, and without any, None)."""
    segments = summary["finger_segments"] >= bar["segments"]
    if not summary["fingers"]:
        return dict(segments=segments, variability=False, relaxed=False, backward=False, passed=False)
    if real_backward is None:
        backward = None
    else:
        own = summary["backward_max"] or {}
        backward = bool(own) and all(own.get(j, 0.0) <= limit + BACKWARD_MARGIN
                                     for j, limit in real_backward.items())
    out = dict(segments=bool(segments), variability=bool(summary["flexion_std"] >= bar["flexion_std"]),
               relaxed=bool(bar["flexion_low"] <= summary["flexion_mean"] <= bar["flexion_high"]), backward=backward)
    return dict(out, passed=all(v is not False for v in out.values()))


def finger_result(generated: list, references: list, bar: dict = FINGER_BAR) -> dict:
    """Per emotion and per real take: finger_summary, and the bar per emotion (finger_passes) with the
    real takes' largest backward bend per joint as the limit; ``all``: every emotion passes."""
    labels = list(dict.fromkeys(t.label for t in generated))
    real = {r.name: finger_summary([r]) for r in references}
    limit = largest_backward(list(real.values()))
    emotions = {label: finger_summary([t for t in generated if t.label == label]) for label in labels}
    passes = {label: finger_passes(s, limit, bar) for label, s in emotions.items()}
    return dict(bar=dict(bar, backward_max=limit), emotions=emotions, real=real, passes=passes,
                all=bool(passes and all(p["passed"] for p in passes.values())))
