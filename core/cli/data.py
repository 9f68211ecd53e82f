"""``ohgesture prepare``, ``train`` and ``export``: datasets in, checkpoints out."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .common import CliError, UsageError, check_output


def add_parsers(sub) -> None:
    def data_args(sp):
        sp.add_argument("--data", required=True, help="dataset folder (or a .npz pack with --format pack)")
        sp.add_argument("--format", required=True, choices=["speech", "pairs", "pack"],
                        help="speech: the real co-speech takes under DATA (../shared/data) in every emotion style "
                             "(the shipped model's recipe); pairs: a folder with labels.csv; pack: prepare's .npz")
        sp.add_argument("--style-swing", type=_swing, default=None, metavar="LOW:HIGH",
                        help="--format speech: hold each style's swing ratio to LOW..HIGH times normal "
                             "(default 0.45:1.15; docs/model-card.md)")
        sp.add_argument("--fingers", action="store_true",
                        help="--format speech: the model also learns the fingers (both takes' hands on the ZEGGS "
                             "layout; docs/model-card.md)")
        sp.add_argument("--fps", type=float, default=30.0)
        sp.add_argument("--seed", type=int, default=0)

    prep = sub.add_parser("prepare", help="turn a dataset folder into a preprocessed .npz pack")
    data_args(prep)
    prep.add_argument("--out", required=True)
    prep.add_argument("--overwrite", action="store_true")
    prep.add_argument("--float16", action="store_true", help="store the features as float16 (half the size)")
    prep.set_defaults(func=cmd_prepare)

    tr = sub.add_parser("train", help="train a model")
    data_args(tr)
    tr.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    tr.add_argument("--steps", type=int, default=20000)
    tr.add_argument("--batch", type=int, default=64)
    tr.add_argument("--lr", type=float, default=2e-4)
    tr.add_argument("--device", default="auto")
    tr.add_argument("--resume", help="continue from this checkpoint")
    tr.add_argument("--seed-drop", type=float, default=0.1, metavar="P",
                    help="probability of training a window without its seed gesture (default 0.1)")
    tr.add_argument("--time-warp", type=float, default=1.0, metavar="FACTOR",
                    help="play training windows at random rates between 1/FACTOR and FACTOR, so only the "
                         "audio tells when strokes come (default 1: off; the shipped model used 1.25: docs/model-card.md)")
    tr.add_argument("--predicted-activity", type=float, default=0.0, metavar="SHARE",
                    help="with an activity-conditioned model, condition this share of training windows on the "
                         "encoder's own prediction (what sampling sees) instead of the true activity (default 0)")
    tr.add_argument("--label-balance", type=float, default=0.5, metavar="B",
                    help="how evenly the emotion labels share the batches: 0 in proportion to their motion, "
                         "1 equally; in between a label's share grows as (its frames) ** (1 - B) (default 0.5)")
    tr.add_argument("--max-minutes", type=float, default=0.0, metavar="MIN",
                    help="stop after this many minutes of training (and save), whichever comes first of it "
                         "and --steps (default 0: no limit)")
    tr.add_argument("--checkpoint-every", type=int, default=1000)
    tr.add_argument("--eval-every", type=int, default=500)
    tr.add_argument("--model-config", help='JSON overrides of the model sizes, e.g. {"layers": 2, "latent": 128}')
    tr.add_argument("--metadata", help="JSON file merged into the checkpoint metadata")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=cmd_train)



def add_export_parser(sub) -> None:
    ex = sub.add_parser("export", help="copy a checkpoint without its training state (for shipping)")
    ex.add_argument("checkpoint")
    ex.add_argument("--out", required=True)
    ex.add_argument("--metadata", help="JSON file merged into the metadata")
    ex.add_argument("--overwrite", action="store_true")
    ex.set_defaults(func=cmd_export)


def _swing(text: str) -> tuple[float, float]:
    import argparse

    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW:HIGH, for example 0.95:1.25, got {text!r}") from None
    if not 0 < low <= 1 <= high < float("inf"):
        raise argparse.ArgumentTypeError(f"LOW must lie in (0, 1] and HIGH at 1 or more, got {text!r}")
    return low, high


def load_dataset(args, log=print):
    from ..training.datasets import build_pairs, load_pack

    data = Path(args.data)
    if not data.exists():
        raise CliError(f"the data folder {data} does not exist.")
    if args.format == "pack":
        return load_pack(data)
    if args.format == "speech":
        from ..training.speech_takes import build_speech_styles

        return build_speech_styles(data, fps=args.fps, swing=args.style_swing, fingers=args.fingers)
    if args.format == "pairs":
        return build_pairs(data, fps=args.fps)
    raise CliError(f"unknown data format {args.format!r}.")


def cmd_prepare(args) -> int:
    out = check_output(Path(args.out), args.overwrite, (".npz",))
    from ..training.datasets import save_pack

    dataset = load_dataset(args, log=lambda m: print(m, file=sys.stderr))
    save_pack(dataset, out, dtype="float16" if args.float16 else "float32")
    frames = sum(len(c.motion) for c in dataset.clips)
    print(f"wrote {out}: {len(dataset.clips)} clips, {frames / dataset.fps / 60:.1f} min, "
          f"labels {', '.join(dataset.labels)}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    out = check_output(Path(args.out), True, (".safetensors",))
    if args.steps < 1 or args.batch < 1:
        raise UsageError("--steps and --batch must be positive whole numbers.")
    if not 0 <= args.seed_drop <= 1:
        raise UsageError(f"--seed-drop must be a probability between 0 and 1, got {args.seed_drop:g}.")
    if not 0 <= args.max_minutes < float("inf"):
        raise UsageError(f"--max-minutes must be a finite number of minutes, 0 or more, got {args.max_minutes:g}.")
    if not 1 <= args.time_warp <= 4:
        raise UsageError(f"--time-warp must be a playback-rate factor from 1 (off) to 4, got {args.time_warp:g}.")
    if not 0 <= args.predicted_activity <= 1:
        raise UsageError(f"--predicted-activity must be a share between 0 and 1, got {args.predicted_activity:g}.")
    if not 0 <= args.label_balance <= 1:
        raise UsageError(f"--label-balance must lie between 0 and 1, got {args.label_balance:g}.")
    from ..generation.pipeline import resolve_device
    from ..training.train import TrainConfig, train

    device = resolve_device(args.device)
    if device.type == "cuda" and "LOCAL_RANK" in os.environ:
        import torch

        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dataset = load_dataset(args, log=lambda m: print(m, file=sys.stderr))
    overrides = json.loads(args.model_config) if args.model_config else {}
    config = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed,
                         checkpoint_every=args.checkpoint_every, eval_every=args.eval_every, model=overrides,
                         seed_drop=args.seed_drop,
                         time_warp=args.time_warp, max_seconds=60.0 * args.max_minutes,
                         predicted_activity_share=args.predicted_activity, label_balance=args.label_balance)
    extra = json.loads(Path(args.metadata).read_text()) if args.metadata else None
    result = train(dataset, out, config, device=device, resume=Path(args.resume) if args.resume else None,
                   extra_metadata=extra, log=lambda m: print(m, file=sys.stderr),
                   show_progress=not args.quiet and sys.stderr.isatty())  # a log: a line per 100 steps
    held = "n/a" if result.held_out_loss is None else f"{result.held_out_loss:.4f}"
    print(f"wrote {out} after {result.steps} steps in {result.seconds:.0f} s: train loss {result.train_loss:.4f}, "
          f"held-out loss {held}", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    out = check_output(Path(args.out), args.overwrite, (".safetensors",))
    from ..training.train import strip_training_state

    extra = json.loads(Path(args.metadata).read_text()) if args.metadata else None
    strip_training_state(Path(args.checkpoint), out, extra)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, inference weights only)", file=sys.stderr)
    return 0
