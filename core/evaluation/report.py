"""The markdown report of ``evaluate(...)`` (core/evaluation/evaluate.py): ``OUT/report.md``.

``write_report(result, path)`` writes the sections below in order; each section builds its lines from the
numbers in ``result`` and ends with a blank line (the pictures, last, with the image links).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_path

QUALITY_BAR_TEXT = dict(
    loudness_r_at_least_0p3="loudness-wrist-speed correlation >= 0.3 on every unseen speech clip (few-step sampler)",
    loudness_r_above_shifted_p95="... and above the 95th percentile of its time-shifted values",
    wrist_speed_mean_in_real_range="mean wrist speed within the range of real held-out clips' means (alive, not wild)",
    wrist_speed_p95_within_real="95th-percentile wrist speed at most 1.5x the real held-out one",
    blend_monotonic="blend sweep: classifier p(e2) rises monotonically with gamma (by > 0.1 overall)",
    emotions_differ_more_than_seeds="two emotions differ more than two seeds of one emotion (joint positions)",
    all="all of the above",
)

SYNC_TABLE_HEAD = "| {} | measure | true | shifted median | shifted p95 | z | beats shifted p95 |"
SYNC_TABLE_RULE = "|---|---|---|---|---|---|---|"


def _f(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def _sync_rows(name: str, s: dict) -> list[str]:
    rows = []
    for measure, label in (("loudness", "loudness-wrist r"), ("bc", "BC (motion beats)"),
                           ("bc_reverse", "BC (audio onsets)")):
        v = s[measure]
        rows.append(f"| {name} | {label} | {_f(v['true'])} | {_f(v['shifted_median'])} | {_f(v['shifted_p95'])} "
                    f"| {_f(v['z'], 2)} | {'yes' if v['margin'] > 0 else 'no'} |")
    return rows


def _header(result: dict) -> list[str]:
    """Title, inputs, split, wall time and how the generated motion was finished."""
    cfg = result["config"]
    return [f"# OHGesture evaluation ({result['mode']} mode)", "",
            f"- model: `{result['model']}`", f"- data: `{result['data']}`",
            f"- held-out split: {result['heldout_clips']} clips, {result['train_clips']} training clips; "
            f"{result['split']}", f"- wall time: {result['seconds']:.0f} s",
            "- timing: " + ("re-timed so the hands follow the speech's loudness (core/generation/retiming.py)"
                            if cfg["retime"] else "the sampler's own (no re-timing)"),
            "- smoothing: " + (f"{cfg['smoothing_hz']:g} Hz low-pass of the generated motion"
                               if cfg.get("smoothing_hz", 0) > 0 else "none"),
            "- feet: " + ("the hips kept over the planted feet and the feet pinned by leg IK "
                          "(core/generation/root_anchor.py, footlock.py)" if cfg.get("foot_lock")
                          else "as sampled (no foot locking)"), ""]


def _quality_bar(result: dict) -> list[str]:
    L = ["## Quality bar", "", "| check | passed |", "|---|---|"]
    L += [f"| {QUALITY_BAR_TEXT.get(k, k)} | {_f(v)} |" for k, v in result["quality_bar"].items()]
    return L + [""]


def _real_synchrony(result: dict) -> list[str]:
    """The synchrony measures on the real ZEGGS take: do they tell true from shifted audio at all?"""
    L = ["## Synchrony measures on real data", "",
         "True audio-motion pairing against the same motion with circularly time-shifted audio "
         "(shifts of 5-30 s). A measure is useful only if the true pairing stands out "
         "(z = (true - mean shifted) / std shifted; 'beats shifted p95' = true above 95 % of shifts).", "",
         SYNC_TABLE_HEAD.format("clip"), SYNC_TABLE_RULE]
    if "zeggs" in result:
        L += _sync_rows(f"real ZEGGS {result['zeggs']['take']}", result["zeggs"])
        z = result["zeggs"]
        sep = [n for n, k in (("loudness-wrist correlation", "loudness"), ("BC", "bc")) if z[k]["margin"] > 0]
        L += ["", f"On real data the measure that separates true from shifted audio: "
                  f"{', '.join(sep) if sep else 'neither'}. BC rewards any motion beat near any onset; "
                  "speech has ~3 onsets per second, so a shifted pairing scores nearly as high as the true one."]
    else:
        L += ["| (no ZEGGS take given: pass --zeggs DIR) | | | | | | |"]
    return L + [""]


def _fgd(result: dict) -> list[str]:
    """FGD of each generated set beside the real clips it was made for, with floor, baselines and ceiling."""
    L = ["## FGD (Frechet distance of motion-window embeddings vs held-out real motion)", "",
         f"Embedding: 1-D conv autoencoder, {result['config']['embed_dim']}-d, trained on training-split windows "
         f"of {result['config']['window']} frames only. Lower is better. FGD depends on the number of windows, "
         "so each generated set is shown next to the real clips it was generated for ('real, same clips').", "",
         "| set | FGD | windows |", "|---|---|---|"]
    b = result["fgd_baselines"]
    L += [f"| floor: training real vs held-out real | {_f(b['floor_train_vs_heldout'])} | {b['train_windows']} |",
          f"| baseline: time-shuffled held-out windows (poses right, dynamics destroyed) | {_f(b['shuffled_time'])} "
          f"| {b['held_windows']} |",
          f"| baseline: static pose (each window frozen at its first frame) | {_f(b['static_pose'])} "
          f"| {b['held_windows']} |",
          f"| ceiling: mean pose everywhere | {_f(b['mean_pose'])} | {b['held_windows']} |"]
    for key, e in result["samplers"].items():
        L += [f"| generated, {key} | {_f(e.get('fgd'))} | {e['windows']} |",
              f"| real, same clips as {key} | {_f(e.get('fgd_real_same_clips'))} | {e['windows']} |"]
        if e.get("fgd_on_reference_clips") is not None:
            L.append(f"| generated, {key}, on the 1000-step reference's clips | {_f(e['fgd_on_reference_clips'])} "
                     f"| (same as reference) |")
    L += ["", "Held-out motion with the wrong audio has FGD 0 (the same windows as held-out real): FGD ignores "
              "audio entirely, which is why synchrony is measured separately below.", ""]
    return L


def _speech_synchrony(result: dict) -> list[str]:
    L = ["## Speech-motion synchrony on unseen speech", "",
         "Generated motion (neutral) for speech the model never saw; same table as for the real take.", "",
         SYNC_TABLE_HEAD.format("sampler / speech"), SYNC_TABLE_RULE]
    for key, e in result["samplers"].items():
        for wav, s in e["sync"].items():
            L += _sync_rows(f"{key} / {wav} ({s['seconds']:.0f} s)", s)
    return L + [""]


def _emotion_control(result: dict) -> list[str]:
    """The style classifier on real and generated motion, per target emotion."""
    em = result["emotion"]
    cls = result["classifier_real_heldout"]
    L = ["## Emotion control", "",
         f"Style classifier (1-D conv over {result['config']['window']}-frame windows) trained on training-split "
         f"windows. On real held-out data: window accuracy {_f(cls['accuracy'])}, balanced {_f(cls.get('balanced_accuracy'))}, "
         f"clip accuracy {_f(cls['clip_accuracy'])} (chance {_f(cls.get('chance'))}).", "",
         f"Generated with {em['sampler']} on each of {', '.join(em['audio'])} ({_f(result['config']['emotion_seconds'], 0)} s "
         "each); accuracy is the mean over the clips, probabilities and the blend sweep pool their windows.", "",
         "| target emotion | classifier accuracy on generated | per clip (what it mostly reads as, if not the target) "
         "| mean p(target) | most windows read as "
         "| recall on real held-out |",
         "|---|---|---|---|---|---|"]
    for e, v in em["per_emotion"].items():
        read_as = v.get("per_clip_read_as", {})
        per_clip = " / ".join(_f(a, 2) + (f" ({read_as[c]})" if read_as.get(c, e) != e else "")
                              for c, a in v.get("per_clip", {}).items())
        L.append(f"| {e} | {_f(v['accuracy'])} | {per_clip} | {_f(v['probability'])} | {v.get('read_as', '')} "
                 f"| {_f(cls['recall'].get(e))} |")
    return L + [""]


def _blend_and_distances(result: dict) -> list[str]:
    """The blend sweep between two emotions, then the model-free emotion-vs-seed distances."""
    em = result["emotion"]
    bl = em["blend"]
    L = [f"Blend sweep {bl['e1']} -> {bl['e2']} (gamma = share of {bl['e2']}):", "",
         "| gamma | p(" + bl["e1"] + ") | p(" + bl["e2"] + ") |", "|---|---|---|"]
    L += [f"| {s['gamma']:.2f} | {_f(s['p_e1'])} | {_f(s['p_e2'])} |" for s in bl["sweep"]]
    L += ["", f"p({bl['e2']}) rises monotonically: {_f(bl['p_e2_monotonic'])}; "
              f"p({bl['e1']}) falls monotonically: {_f(bl['p_e1_monotonic'])}.", "",
          f"Model-free, same audio: joint positions of two emotions are {_f(em['distance_between_emotions'])} cm "
          f"apart vs {_f(em['distance_between_seeds'])} cm for two seeds of one emotion (per-frame RMS over joint "
          f"coordinates, horizontal root travel removed). In normalised features with velocities, which magnify "
          f"joints that barely move in the data: {_f(em.get('feature_distance_between_emotions', float('nan')))} vs "
          f"{_f(em.get('feature_distance_between_seeds', float('nan')))}.", ""]
    return L


def _physical_row(name: str, p: dict) -> str:
    return (f"| {name} | {p['seconds']:.0f} | {_f(p['foot_sliding'], 2)} | {_f(p['jitter'], 0)} | "
            f"{_f(p['wrist_speed_mean'], 1)} | {_f(p['wrist_speed_p95'], 1)} |")


def _physical_plausibility(result: dict) -> list[str]:
    L = ["## Physical plausibility", "",
         "Foot sliding: mean horizontal speed of foot/toe joints while within 5 cm of the sequence's floor. "
         "Jitter: mean jerk magnitude over all joints. Wrist speed: the faster wrist.", "",
         "| set | seconds | foot sliding (cm/s) | jitter (cm/s^3) | wrist speed mean | wrist speed p95 |",
         "|---|---|---|---|---|---|"]
    L.append(_physical_row("real held-out (all)", result["real_physical"]))
    for key, e in result["samplers"].items():
        L += [_physical_row(f"generated, {key}", e["physical"]),
              _physical_row(f"real, same clips as {key}", e["physical_real_same_clips"])]
    means = result["real_physical"]["wrist_speed_clip_means"]
    L += ["", f"Real held-out clips' mean wrist speed ranges {min(means):.1f}-{max(means):.1f} cm/s.", ""]
    return L


def _samplers_side_by_side(result: dict) -> list[str]:
    L = ["## Samplers side by side", "", "| sampler | seconds | FGD | mean loudness r | mean shifted p95 | "
         "jitter | wrist speed mean |", "|---|---|---|---|---|---|---|"]
    for key, e in result["samplers"].items():
        L.append(f"| {key} | {e['seconds']:.0f} | {_f(e.get('fgd'))} | {_f(e.get('sync_mean_r'))} | "
                 f"{_f(e.get('sync_mean_shifted_p95'))} | {_f(e['physical']['jitter'], 0)} | "
                 f"{_f(e['physical']['wrist_speed_mean'], 1)} |")
    return L + [""]


def _pictures(result: dict) -> list[str]:
    return ["## Pictures", ""] + [f"![{k}]({v})" for k, v in result["plots"].items()]


SECTIONS = (_header, _quality_bar, _real_synchrony, _fgd, _speech_synchrony, _emotion_control,
            _blend_and_distances, _physical_plausibility, _samplers_side_by_side, _pictures)


def write_report(result: dict, path: Path) -> None:
    """``path`` (report.md): every section of ``SECTIONS`` in turn, from the numbers ``evaluate`` returned."""
    text = "\n".join(line for section in SECTIONS for line in section(result)) + "\n"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
