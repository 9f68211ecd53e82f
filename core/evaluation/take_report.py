"""The whole-take evaluation's report (markdown tables, PNGs, a GIF, JSON) and its command line:
``ohgesture evaluate --model M --takes SPEECH.wav ... --reference REAL.bvh ... --out DIR``."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from . import take_fingers as F
from . import take_pictures as P
from .measures import jsonable
from . import take_pose
from . import take_repertoire as R
from . import takes as T


def _f(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def _mark(passed) -> str:
    return "n/a" if passed is None else ("pass" if passed else "FAIL")


def _row(label: str, s: dict, fgd, passed) -> str:
    cells = [label, str(s["takes"]), _f(s["above_head_pct"]), _f(s["above_shoulder_pct"]), _f(s.get("overlap"), 2),
             _f(s.get("wasserstein"), 3), _f(s["mean_speed"]), f"{_f(s['block_min'])}-{_f(s['block_max'])}",
             _f(s["loudness_r"], 2), _f(s["shifted_p95"], 2), _f(fgd), passed]
    return "| " + " | ".join(cells) + " |"


def main_table(result: dict) -> list[str]:
    """One row per emotion and one for the real takes: measures 1-4 and pass/fail."""
    bar = result["quality_bar"]["bar"]
    lines = [f"| emotion | takes | wrist above head, % of frames (<= {bar['above_head_pct']:g}) | above shoulder % "
             f"(<= {bar['above_shoulder_pct']:g}) | wrist-height overlap with real | Wasserstein (arm lengths) | mean "
             f"wrist speed (cm/s) | 10-s blocks, min-max ({bar['block_min']:g}-{bar['block_max']:g}; "
             f"{', '.join(T.SLOW_LABELS)}: {bar['block_min_slow']:g}-{bar['block_max']:g}) | loudness r | "
             f"shifted p95 | FGD | gesture space / liveliness |", "|" + "---|" * 12]
    for label, s in result["emotions"].items():
        p = result["quality_bar"]["emotions"][label]
        lines.append(_row(label, s, result["fgd"]["fgd"][label],
                          f"{_mark(p['gesture_space'])} / {_mark(p['liveliness'])}"))
    real = dict(result["real"])
    rows = result["real_takes"]
    real.update(overlap=float(np.mean([r["overlap"] for r in rows])),
                wasserstein=float(np.mean([r["wasserstein"] for r in rows])))
    fgd_floor = result["fgd"]["floors"].get("real: all takes' other parts vs held-out")
    marks = ", ".join(f"{_mark(v['gesture_space'])} / {_mark(v['liveliness'])}" for v in real["passes"].values())
    lines.append(_row(f"real ({len(rows)} takes)", real, fgd_floor, marks))
    return lines


def clip_table(result: dict) -> list[str]:
    bar = result["quality_bar"]["bar"]
    lines = [f"| speech | takes | loudness r, mean over emotions (>= {bar['loudness_r']:g}) | shifted p95, mean | "
             "pass |", "|---|---|---|---|---|"]
    for speech, c in result["clips"].items():
        lines.append(f"| {speech} | {c['takes']} | {_f(c['loudness_r'], 2)} | {_f(c['shifted_p95'], 2)} | "
                     f"{_mark(c['passed'])} |")
    for r in result["real_takes"]:
        c = r["coupling"]
        if c:
            lines.append(f"| real: {r['speech']} | 1 | {_f(c['true'], 2)} | {_f(c['shifted_p95'], 2)} | "
                         f"{_mark(c['true'] >= bar['loudness_r'] and c['margin'] > 0)} |")
    return lines


def fgd_table(result: dict) -> list[str]:
    fgd = result["fgd"]
    lines = ["| takes vs the real held-out windows | FGD |", "|---|---|"]
    lines += [f"| {label} | {_f(v)} |" for label, v in fgd["fgd"].items() if label not in fgd["ceilings"]]
    lines += [f"| floor, {label} | {_f(v)} |" for label, v in fgd["floors"].items()]
    lines += [f"| ceiling, {label} | {_f(fgd['fgd'][label])} |" for label in fgd["ceilings"]]
    return lines


def plausibility_table(result: dict) -> list[str]:
    """Jerk, jitter (jerk per unit of wrist speed), foot sliding and the heading's largest turn per emotion
    next to each real take's (measures 6 and 7)."""
    checks = result["quality_bar"].get("plausibility", {})
    limit = result["quality_bar"]["bar"]["heading_drift"]
    lines = [f"| takes (at {T.POSE_FPS:g} fps) | mean jerk of the body parts (cm/s^3) | per unit of wrist speed "
             f"(1/s^2, the jitter) | foot sliding (cm/s) | heading's largest turn from the first frame (deg, <= "
             f"{limit:g}) | jitter / sliding within the real takes' / facing |", "|---|---|---|---|---|---|"]
    for label, s in result["emotions"].items():
        marks = [_mark(v[label]) for v in checks.values() if v is not None and label in v]
        marks.append(_mark(result["quality_bar"]["emotions"][label]["facing"]))
        lines.append(f"| {label} | {_f(s['jerk'], 0)} | {_f(s['jerk_per_speed'], 0)} | {_f(s['foot_sliding'], 2)} | "
                     f"{_f(s['heading_drift'])} | {' / '.join(marks)} |")
    for r in result["real_takes"]:
        lines.append(f"| real: {r['name']} | {_f(r['jerk'], 0)} | {_f(r['jerk_per_speed'], 0)} | "
                     f"{_f(r['foot_sliding'], 2)} | {_f(r['heading_drift'])} | |")
    return lines


def _range(low, high, digits: int = 0) -> str:
    return "n/a" if low is None else f"{_f(low, digits)}..{_f(high, digits)}"


def _repertoire_cells(s: dict) -> list[str]:
    """Hands, legs and hand roll of one summary (take_repertoire.repertoire_summary)."""
    legs = [_f(s["knee_std"]), _f(s["sway_range"]), _f(s["hip_speed"])] if s["legs_captured"] else ["not captured"] * 3
    return [_f(s["wrist_above_hips"]), _f(s["high_wrist_pct"]), *legs,
            f"{_range(s['roll_p5'], s['roll_p95'])} (max {_f(s['roll_max_abs'], 0)}, spread {_f(s['roll_spread'], 0)})"]


def repertoire_table(result: dict) -> list[str]:
    """Hands in the gesture space, legs, hand roll and tempo per emotion (pass: on every recording), then
    per recording over the emotions, beside each real take's (take_repertoire; issue 28's bar)."""
    rep = result["repertoire"]
    b = rep["bar"]
    tempo_bar = {label: f"{side} {limit:g}" for label, (side, limit) in b["tempo"].items()}
    lines = [f"| takes | wrist above the hips, mean (cm, >= {b['wrist_above_hips']:g}) | higher wrist > "
             f"{R.HIGH_WRIST_CM:g} cm above the hips (% of frames, >= {b['high_wrist_pct']:g}) | knee flexion std (deg, "
             f">= {b['knee_std']:g}) | hip sway range (cm, >= {b['sway_range']:g}) | hip speed (cm/s, <= "
             f"{b['hip_speed']:g}) | hand roll about the forearm, p5..p95 (deg) | wrist speed / neutral's | real grid's "
             "(Bandai style) | hands / legs / tempo |", "|" + "---|" * 10]
    for label, s in rep["emotions"].items():
        tempo, grid = rep["tempo"].get(label), rep["grid_tempo"].get(label)
        ratio = "n/a" if tempo is None else f"{_f(tempo['ratio'], 2)} ({_f(tempo['low'], 2)}-{_f(tempo['high'], 2)})" + \
            (f" ({tempo_bar[label]})" if label in tempo_bar else "")
        real = "n/a" if grid is None else f"{_f(grid['ratio'], 2)} ({grid['style']}, {_f(grid['low'], 2)}-{_f(grid['high'], 2)})"
        p = rep["passes"][label]
        lines.append("| " + " | ".join([label, *_repertoire_cells(s), ratio, real,
                                         f"{_mark(p['hands'])} / {_mark(p['legs'])} / "
                                         f"{_mark(rep['tempo_passes'].get(label))}"]) + " |")
    for speech, s in rep["recordings"].items():
        p = rep["recording_passes"][speech]
        lines.append("| " + " | ".join([f"recording: {speech}", *_repertoire_cells(s), "", "",
                                         f"{_mark(p['hands'])} / {_mark(p['legs'])} /"]) + " |")
    for name, s in rep["real"].items():
        lines.append("| " + " | ".join([f"real: {name}", *_repertoire_cells(s), "", "", ""]) + " |")
    return lines


def recording_table(result: dict) -> list[str]:
    """Per emotion and recording: wrist height above the hips, share of high-wrist frames, knee std."""
    by_recording = result["repertoire"]["by_recording"]
    speeches = list(result["repertoire"]["recordings"])
    lines = ["| wrist above the hips (cm) / higher wrist > 25 cm (%) / knee std (deg) | " + " | ".join(speeches) + " |",
             "|---|" + "---|" * len(speeches)]
    for label, cells in by_recording.items():
        lines.append(f"| {label} | " + " | ".join(
            "" if speech not in cells else f"{_f(cells[speech]['wrist_above_hips'])} / "
            f"{_f(cells[speech]['high_wrist_pct'], 0)} / {_f(cells[speech]['knee_std'])}" for speech in speeches) + " |")
    return lines


def variant_tables(result: dict) -> list[str]:
    """The takes of altered speech: pitched voices against the speech as given, silence, re-timing off."""
    rep = result["repertoire"]
    b = rep["bar"]
    lines = []
    if rep["voices"]:
        lines += [f"| voice (vs the speech as given, same emotion and seed) | takes | wrist height change, mean / largest "
                  f"recording's / largest take's (cm; +{b['voice_semitones']} st: each recording's <= {b['voice_height']:g}) | "
                  f"wrist speed change, mean / largest recording's / largest take's (%; each recording's <= "
                  f"{b['voice_speed_pct']:g}) | wrist above the hips (cm) | higher wrist > "
                  f"{R.HIGH_WRIST_CM:g} cm (%) | knee std (deg) | hip sway (cm) | hip speed (cm/s) | hand roll (deg) | "
                  "pass |", "|" + "---|" * 11]
        for variant, v in rep["voices"].items():
            lines.append("| " + " | ".join([R.VARIANTS[variant], str(v["takes"]),
                                             f"{_f(v['height_change'])} / {_f(v['recording_height_max'])} / "
                                             f"{_f(v['height_change_max'])}",
                                             f"{_f(v['speed_change_pct'], 0)} / {_f(v['recording_speed_max'], 0)} / "
                                             f"{_f(v['speed_change_pct_max'], 0)}",
                                             *_repertoire_cells(v), _mark(v["passed"])]) + " |")
        seeds = next(iter(rep["voices"].values()))["seed_height_max"]
        if seeds is not None:
            lines += ["", f"- Two seeds of one emotion on the same speech as given differ in mean wrist height by up to "
                          f"{_f(seeds)} cm: a single take's change above is read against that."]
        lines.append("")
    if rep["silence"]:
        lines += [f"| {R.SILENCE_SECONDS:g} s of silence | wrist above the hips (cm) | wrist speed (cm/s) | hand roll "
                  "about the forearm, p5..p95 (deg) | largest roll (deg) | hip sway range (cm) |", "|---|---|---|---|---|---|"]
        for label, s in rep["silence"].items():
            lines.append(f"| {label} | {_f(s['wrist_above_hips'])} | {_f(s['mean_speed'])} | "
                         f"{_range(s['roll_p5'], s['roll_p95'])} | {_f(s['roll_max_abs'], 0)} | {_f(s['sway_range'])} |")
        lines.append("")
    if rep["retime"]:
        lines += ["| speech | loudness r, re-timed | shifted p95 | loudness r, not re-timed | shifted p95 |",
                  "|---|---|---|---|---|"]
        for speech, c in rep["retime"].items():
            cells = [f"{_f(c[k]['loudness_r'], 2)} | {_f(c[k]['shifted_p95'], 2)}" if c[k] else "n/a | n/a"
                     for k in ("retimed", "not_retimed")]
            lines.append(f"| {speech} | {cells[0]} | {cells[1]} |")
        lines.append("")
    return lines


def repertoire_lines(result: dict) -> list[str]:
    rep = result["repertoire"]
    v = rep["reroll"]
    return [f"- Re-rolls: wrist paths (hips-relative, heading-aligned, each take's mean removed) "
            f"{_f(v['between_seeds'])} cm apart between two seeds of one emotion, {_f(v['between_recordings'])} cm "
            f"between two recordings; ratio {_f(v['ratio'], 2)} (>= {rep['bar']['reroll_ratio']:g}): "
            f"{_mark(v['passed'])}.",
            f"- Repertoire bar (issue 28): {'passed' if rep['all'] else 'not passed'}."]


def _backward(joints: dict | None) -> str:
    if not joints:
        return "n/a"
    return " / ".join(_f(joints[j], 0) if j in joints else "-" for j in F.JOINTS)


def _finger_cells(s: dict) -> list[str]:
    """Chains, flexion and backward bending of one take or summary (take_fingers.finger_summary)."""
    found = f"{s['finger_chains']} / {s['finger_segments']}"
    if s["flexion_mean"] is None:
        return [found, "no fingers", "", "", "", ""]
    return [found, _f(s["flexion_mean"]), _f(s["flexion_std"]), _range(s["flexion_p5"], s["flexion_p95"]),
            _f(s["backward_pct"]), _backward(s["backward_max"])]


def finger_table(result: dict) -> list[str]:
    """Finger chains, flexion and backward bending per emotion beside each real take's (take_fingers;
    issue 32's bar)."""
    fingers = result["fingers"]
    b = fingers["bar"]
    limit = "the real takes'" if b["backward_max"] is None else f"<= {_backward(b['backward_max'])}"
    lines = [f"| takes | finger chains / segments found (segments >= {b['segments']}) | mean flexion (deg, "
             f"{b['flexion_low']:g}-{b['flexion_high']:g}) | flexion std over the take (deg, >= {b['flexion_std']:g}) | "
             f"flexion p5..p95 (deg) | frames with a finger bent backwards > {F.BACKWARD_DEG:g} deg (%) | largest "
             f"backward bend, {' / '.join(F.JOINTS)} (deg, {limit}) | segments / variability / relaxed / backward |",
             "|" + "---|" * 8]
    for label, s in fingers["emotions"].items():
        p = fingers["passes"][label]
        marks = " / ".join(_mark(p[k]) for k in ("segments", "variability", "relaxed", "backward"))
        lines.append("| " + " | ".join([label, *_finger_cells(s), marks]) + " |")
    for name, s in fingers["real"].items():
        lines.append("| " + " | ".join([f"real: {name}", *_finger_cells(s), ""]) + " |")
    lines += ["", f"- Finger bar (issue 32): {'passed' if fingers['all'] else 'not passed'}"
              + ("" if all(s["fingers"] for s in fingers["emotions"].values()) else " (no fingers)") + "."]
    return lines


def summary_lines(result: dict) -> list[str]:
    d, q = result["distances"], result["quality_bar"]
    failed = [label for label, v in q["emotions"].items() if not v["passed"]]
    for name, checks in (q.get("plausibility") or {}).items():
        failed += [f"{label} ({T.PLAUSIBILITY_CHECKS[name]})" for label, ok in (checks or {}).items() if not ok]
    lines = []
    real = [r for r in result["real_takes"] if r.get("jerk") is not None]
    if real:  # mean jerk is not judged (jitter is), but a reader should see where it is above real capture
        top, speed = max(r["jerk"] for r in real), result["real"]["mean_speed"]
        above = [f"{label} ({_f(s['mean_speed'] / speed if speed else None, 2)} times the real takes' wrist speed)"
                 for label, s in result["emotions"].items() if s["jerk"] > top]
        if above:
            lines.append(f"- Mean jerk above the highest real take's ({_f(top, 0)} cm/s^3): {', '.join(above)}; "
                         "the bar judges jitter, the jerk per unit of wrist speed.")
    return lines + [f"- Emotions differ more than seeds: mean pose distance between emotions {_f(d['between_emotions'], 3)}, "
            f"between seeds {_f(d['between_seeds'], 3)} (torso heights): {_mark(d['passed'])}.",
            f"- Quality bar: {'passed' if q['all'] else 'not passed'}"
            + (f" (failing emotions: {', '.join(failed)})" if failed else "") + "."]


def picture_set(generated: list[T.Take], references: list[T.Take], result: dict, out: Path,
                draw_references: bool = True) -> list[Path]:
    """Contact sheets per speech clip (front and side; the first emotion's pitched voices below the emotions),
    wrist-height and liveliness plots, a close-up of the hands (each emotion's first take) and a GIF of the
    first take.
    ``draw_references`` False leaves the real takes out of the pictures (a report to publish
    without the reference data in it); the tables keep them."""
    out = Path(out)
    paths = []
    variants = [t for t in generated if t.variant]
    generated = [t for t in generated if not t.variant]
    first_seed = min(t.seed for t in generated)
    shown = references if draw_references else []
    for speech in dict.fromkeys(t.speech for t in generated):
        rows = [(t.label, t) for t in generated if t.speech == speech and t.seed == first_seed]
        rows += [(f"{t.label} {t.variant}", t) for t in variants if t.speech == speech and t.variant.endswith(" st")
                 and t.label == rows[0][1].label]
        rows += [(f"real: {r.name[:14]}", r) for r in shown]
        for view, suffix in (("front", ""), ("side", "_side")):
            paths.append(P.contact_sheet(rows, out / f"sheet_{Path(speech).stem}{suffix}.png", view=view))
    heights = {label: np.concatenate([T.wrist_heights(t) for t in generated if t.label == label])
               for label in result["emotions"]}
    real = np.concatenate([T.wrist_heights(r) for r in shown]) if shown else None
    paths.append(P.height_plot(heights, real, out / "wrist_height.png"))
    blocks = {label: [r["blocks"] for r in result["takes"] if r["label"] == label] for label in result["emotions"]}
    if shown:
        blocks["real"] = [r["blocks"] for r in result["real_takes"]]
    paths.append(P.liveliness_plot(blocks, result["quality_bar"]["bar"], out / "liveliness.png"))
    firsts = {t.label: t for t in reversed(generated) if t.seed == first_seed}  # each emotion's first take
    hands = [(label, firsts[label]) for label in result["emotions"]] + [(f"real: {r.name[:14]}", r) for r in shown]
    paths.append(P.hand_sheet(hands, out / "hands.png"))
    take = generated[0]
    paths.append(P.preview_gif(take, out / f"preview_{take.name}.gif", start_s=min(20.0, take.duration / 3),
                               title=take.label))
    return paths


def write_take_report(result: dict, generated: list[T.Take], references: list[T.Take], out,
                      draw_references: bool = True) -> Path:
    """OUT/takes.md (tables and pictures), OUT/takes.json and the PNGs/GIF; returns the markdown path."""
    out = Path(out)
    pictures = picture_set(generated, references, result, out, draw_references)
    lines = ["# Whole takes", "", f"Command: `{result.get('command', '')}`", "", *main_table(result), "",
             *clip_table(result), "", *fgd_table(result), "", *plausibility_table(result), "",
             *summary_lines(result), "", "## Repertoire (issue 28)", "", *repertoire_table(result), "",
             *recording_table(result), "", *variant_tables(result), *repertoire_lines(result), "",
             "## Fingers (issue 32)", "", *finger_table(result), ""]
    lines += [f"![{p.stem}]({p.name})" for p in pictures]
    path = out / "takes.md"
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    with atomic_path(out / "takes.json") as tmp:
        Path(tmp).write_text(json.dumps(jsonable(result), indent=1))
    return path


# ------------------------------------------------------------------ command line


def add_take_arguments(ev) -> None:
    """The whole-take mode's options of ``ohgesture evaluate``."""
    ev.add_argument("--takes", nargs="+", metavar="SPEECH",
                    help="whole-take mode: speech recordings (each at least --min-seconds long) to animate with "
                         "every emotion and seed and judge as an animator would (no --data needed)")
    ev.add_argument("--reference", nargs="+", default=[], metavar="REAL.bvh",
                    help="whole-take mode: real co-speech takes on any skeleton (their .wav beside them is used "
                         "when present); the last 15 s of each are the FGD's held-out windows")
    ev.add_argument("--emotions", help="whole-take mode: comma list (default: every emotion of the model)")
    ev.add_argument("--seeds", default="0", help="whole-take mode: comma list of seeds (two or more measure "
                                                 "whether emotions differ more than seeds; default 0)")
    ev.add_argument("--ceiling", nargs="*", default=[], metavar="CLIP.bvh",
                    help="whole-take mode: further takes to place on the FGD scale (for example a wave clip)")
    ev.add_argument("--min-seconds", type=float, default=T.MIN_TAKE_SECONDS,
                    help=f"whole-take mode: shortest speech accepted (default {T.MIN_TAKE_SECONDS:g} s)")
    ev.add_argument("--save-takes", action="store_true", help="whole-take mode: also write each take as BVH")
    ev.add_argument("--voice-variants", action="store_true",
                    help="whole-take mode: also animate each speech pitched +6 and -6 semitones (first seed) and "
                         "report how far wrist height and speed move")
    ev.add_argument("--silence", action="store_true",
                    help=f"whole-take mode: also animate {R.SILENCE_SECONDS:g} s of digital silence per emotion")
    ev.add_argument("--also-no-retime", action="store_true",
                    help="whole-take mode: also animate each take without re-timing and report the loudness "
                         "coupling with and without")
    ev.add_argument("--grid", metavar="DIR",
                    help="whole-take mode: the Bandai Namco dataset-1 data folder, for the real styles' wrist speed "
                         "ratio to normal beside each emotion's ratio to neutral")
    ev.add_argument("--pictures-without-reference", action="store_true",
                    help="whole-take mode: leave the real takes out of the pictures (the tables keep them), for a "
                         "report published without the reference data")


def parse_list(text: str | None, what: str, kind=str) -> list:
    items = [part.strip() for part in (text or "").split(",") if part.strip()]
    try:
        return [kind(item) for item in items]
    except ValueError:
        raise T.TakeError(f"{what} must be a comma list of whole numbers, got {text!r}.") from None


def command_line(args) -> str:
    parts = ["ohgesture", "evaluate", "--model", args.model, "--takes", *args.takes, "--reference", *args.reference]
    if args.emotions:
        parts += ["--emotions", args.emotions]
    parts += ["--seeds", args.seeds]
    parts += [flag for flag, on in (("--no-retime", not getattr(args, "retime", True)),
                                    ("--pictures-without-reference", getattr(args, "pictures_without_reference", False)),
                                    ("--voice-variants", getattr(args, "voice_variants", False)),
                                    ("--silence", getattr(args, "silence", False)),
                                    ("--also-no-retime", getattr(args, "also_no_retime", False)))
              if on]
    if getattr(args, "grid", None):
        parts += ["--grid", args.grid]
    if getattr(args, "min_seconds", T.MIN_TAKE_SECONDS) != T.MIN_TAKE_SECONDS:
        parts += ["--min-seconds", f"{args.min_seconds:g}"]
    parts += ["--out", args.out]
    if args.ceiling:
        parts += ["--ceiling", *args.ceiling]
    return " ".join(shlex.quote(str(p)) for p in parts)


def _read_takes(args) -> tuple[list[T.Take], dict]:
    references = [T.read_reference(p) for p in args.reference]
    for ref, path in zip(references, args.reference):
        if ref.duration < take_pose.HELD_OUT_SECONDS + 2 * take_pose.WINDOW_SECONDS:
            raise T.TakeError(f"the real take {path} lasts {ref.duration:.1f} s; it needs at least "
                              f"{take_pose.HELD_OUT_SECONDS + 2 * take_pose.WINDOW_SECONDS:g} s (the last 15 s are held out).")
    ceilings = {f"{Path(p).stem} (given BVH)": [T.read_reference(p)] for p in args.ceiling}
    return references, ceilings


def run_take_evaluation_cli(args) -> int:
    """``ohgesture evaluate --takes ...``: generate, measure, write OUT/takes.md, print the tables."""
    import torch

    from ..generation.pipeline import load_model

    started = time.time()
    T.check_take_inputs(args.takes, args.reference, args.min_seconds)
    for path in args.ceiling:
        if not Path(path).is_file():
            raise T.TakeError(f"{path} does not exist (or is not a file).")
    if getattr(args, "grid", None) and not Path(args.grid).is_dir():
        raise T.TakeError(f"--grid {args.grid} is not a folder (the Bandai Namco dataset-1 data folder).")
    seeds = parse_list(args.seeds, "--seeds", int) or [0]
    references, ceilings = _read_takes(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    lm = load_model(args.model, args.device)
    emotions = T.check_emotions(lm.labels, parse_list(args.emotions, "--emotions"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    save_dir = out / "takes" if args.save_takes else None
    if save_dir:
        save_dir.mkdir(exist_ok=True)
    generated = T.generate_takes(lm, args.takes, emotions, seeds, log=log, save_dir=save_dir,
                                 retime=args.retime)
    generated += T.generate_variant_takes(lm, args.takes, emotions, seeds, voices=args.voice_variants,
                                          silence=args.silence, no_retime=args.also_no_retime and args.retime,
                                          log=log, save_dir=save_dir)
    result = T.evaluate_takes(generated, references, ceilings, grid_dir=args.grid)
    result.update(command=command_line(args), model=lm.path.name, seconds=time.time() - started)
    path = write_take_report(result, generated, references, out, not args.pictures_without_reference)
    print("\n".join([*main_table(result), "", *clip_table(result), "", *fgd_table(result), "",
                     *summary_lines(result), "", *repertoire_table(result), "", *variant_tables(result),
                     *repertoire_lines(result), "", *finger_table(result)]))
    print(f"wrote {path} ({result['seconds']:.0f} s)", file=sys.stderr)
    return 0
