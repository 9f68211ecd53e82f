"""``ohgesture evaluate``: the whole-take evaluation (``--takes``, the quality gate: takes.py,
take_report.py) or the pack evaluation (``--data``: FGD, speech synchrony, emotion control and
plausibility on a dataset pack's held-out windows, beside the 1000-step reference sampler).

``evaluate(...)`` runs the pack evaluation's sections (pack_sections.py) with its networks
(pack_nets.py), writes ``OUT/report.md`` (report.py) and PNGs, and returns the numbers
(reused by benchmarks). The measures both evaluations use are in measures.py.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .measures import joint_groups, jsonable
from .pack_nets import EvaluationError
from .pack_sections import (SAMPLERS_DEFAULT, EvalConfig, PackEvaluation, emotion_section, heldout_split,
                            pack_quality_bar, parse_samplers, pictures_section, real_data_section, sampler_key,
                            sampler_section, zeggs_section)
from .report import write_report
from ..generation.settings import GenerationSettings

def evaluate(model: str | Path, data: str | Path, out: str | Path, *, speech: list | None = None,
             zeggs: str | Path | None = None, samplers: str | list = SAMPLERS_DEFAULT, quick: bool = True,
             cache_dir: str | Path | None = None, device: str = "cpu", threads: int | None = 1, log=print,
             **overrides) -> dict:
    """Run every measurement, write ``out/report.md`` and PNGs, return the numbers."""
    import torch

    from ..training.datasets import load_pack
    from ..generation.pipeline import load_model

    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = EvalConfig.for_mode(quick, **overrides)
    cfg.samplers = parse_samplers(samplers) if isinstance(samplers, str) else list(samplers)
    if threads:
        # small models on a shared CPU: extra threads spin against other processes
        torch.set_num_threads(int(threads))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    lm = load_model(model, device)
    dataset = load_pack(Path(data))
    if dataset.layout.D != lm.layout.D:
        raise EvaluationError(f"the pack's motion features (D={dataset.layout.D}) do not match the model's "
                              f"(D={lm.layout.D}); evaluate with the pack the model was trained on.")
    train, held, split_how = heldout_split(dataset, lm.metadata)
    ev = PackEvaluation(lm, cfg, list(dataset.labels), held, joint_groups(lm.skeleton))
    log(f"split: {len(train)} training clips, {len(held)} held-out clips ({split_how})")
    result: dict = dict(model=str(model), data=str(data), mode="quick" if quick else "full", split=split_how,
                        train_clips=len(train), heldout_clips=len(held), config=asdict(cfg),
                        activity_encoder=lm.model.activity_predictor is not None)

    proof = zeggs_section(zeggs, ev.fps, result, log)
    real_data_section(ev, train, Path(cache_dir) if cache_dir else out, rng, result, log)
    speech = [Path(s) for s in (speech or [])]
    for s in speech:
        if not s.exists():
            raise EvaluationError(f"speech file {s} does not exist.")
    sync_panels: list = []
    result["samplers"] = {sampler_key(name, steps): sampler_section(ev, name, steps, speech, sync_panels, log)
                          for name, steps in cfg.samplers}
    result["emotion"], emo_feats = emotion_section(ev, speech, result["classifier_real_heldout"]["recall"], log)
    result["plots"] = pictures_section(ev, emo_feats, proof, sync_panels, out)
    result["quality_bar"] = pack_quality_bar(result, ev.few_step)
    result["seconds"] = round(time.time() - started, 1)
    write_report(result, out / "report.md")
    return result


# ------------------------------------------------------------------ CLI


def add_cli(subparsers) -> None:
    ev = subparsers.add_parser("evaluate", help="measure a model: FGD, synchrony, emotion control, plausibility",
                               description="Evaluate a checkpoint on a dataset pack; writes OUT/report.md and PNGs. "
                                           "With --takes: the whole-take evaluation instead (OUT/takes.md).")
    ev.add_argument("--model", required=True, help="checkpoint (.safetensors)")
    ev.add_argument("--data", help="dataset pack (.npz from ohgesture prepare); not used with --takes")
    ev.add_argument("--out", required=True, help="output folder for report.md and plots")
    ev.add_argument("--speech", nargs="+", default=[], help="speech recordings the model never saw in training")
    ev.add_argument("--zeggs", help="folder with the real ZEGGS take 067_Speech_2_x_1_0.bvh/.wav (validates "
                                    "the synchrony measures)")
    ev.add_argument("--samplers", default=SAMPLERS_DEFAULT, help="comma list of sampler:steps")
    ev.add_argument("--quick", action="store_true", help="short clips, short 1000-step reference (minutes on a CPU)")
    ev.add_argument("--cache", help="folder for the cached evaluation networks (default: --out)")
    ev.add_argument("--json", help="also write the numbers to this JSON file")
    GenerationSettings.add_arguments(ev, only=("guidance", "seed", "device", "threads", "retime", "smooth_hz",
                                               "foot_lock"), device="cpu")  # the generation settings it uses
    from .take_report import add_take_arguments

    add_take_arguments(ev)
    ev.set_defaults(func=run_evaluate_cli)


def run_evaluate_cli(args) -> int:
    if args.takes:
        from .take_report import run_take_evaluation_cli

        return run_take_evaluation_cli(args)
    if not args.data:
        raise EvaluationError("--data DATASET.npz is required (or --takes SPEECH.wav ... for the whole-take evaluation).")
    for p, what in ((args.model, "model"), (args.data, "data pack")):
        if not Path(p).exists():
            raise EvaluationError(f"the {what} {p} does not exist.")
    result = evaluate(args.model, args.data, args.out, speech=args.speech, zeggs=args.zeggs,
                      samplers=args.samplers, quick=args.quick, cache_dir=args.cache, device=args.device,
                      threads=args.threads, guidance=args.guidance, retime=args.retime, seed=args.seed,
                      smoothing_hz=args.smooth_hz, foot_lock=args.foot_lock, log=lambda m: print(m, file=sys.stderr))
    text = json.dumps(jsonable(result), indent=2)
    (Path(args.out) / "metrics.json").write_text(text)
    if args.json:
        Path(args.json).write_text(text)
    print(f"wrote {Path(args.out) / 'report.md'} ({result['seconds']:.0f} s); quality bar "
          f"{'passed' if result['quality_bar']['all'] else 'not passed'}", file=sys.stderr)
    return 0
