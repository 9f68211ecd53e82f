"""Sampling speed against quality: the 1000-step DDPM reference and each fast setting.

    .venv/bin/python benchmarks/bench_sampling.py [--model CKPT] [--data PACK.npz] [--speech WAV]

For each sampler setting, from one run:
- evals: denoiser evaluations (batched forward calls) for the quality set;
- FGD against held-out real motion (the evaluation autoencoder, trained on the training
  split only; core/evaluation/pack_nets.py), on held-out clips' audio;
- sync: loudness-wrist-speed correlation (0.5 s smoothing) on unseen real speech, and the
  95th percentile of the same with time-shifted audio;
- wrist: mean wrist speed (cm/s), the amplitude naive few-step sampling loses;
- time and real-time factor of 60 s of speech to a finished BVH, in process (audio features,
  sampling, decoding, writing), the reference measured on a shorter clip and scaled;
- peak memory of the whole CLI run (``ohgesture generate``, a separate process).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402,F401  (loads the repository root as the package ``ohgesture``)

SHARED = ROOT.parent / "shared" / "data"
DEFAULT_SETTINGS = "ddpm:1000,ddim:10,ddim:20,ddim:25,ddim:50,dpmpp_2m:10,dpmpp_2m:20"


class CountingModel:
    """Counts batched forward calls of the denoiser."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.model(*args, **kwargs)


def peak_memory_mb(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of a child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-500:]}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def main(argv=None) -> int:
    import torch

    from ohgesture.core.audio.features import loudness_envelope
    from ohgesture.core.evaluation import measures as M
    from ohgesture.core.audio.features import audio_features_from_file, load_audio
    from ohgesture.core.motion.bvh import write_bvh
    from ohgesture.core.training.datasets import load_pack
    from ohgesture.core.evaluation.evaluate import EvalConfig
    from ohgesture.core.evaluation.measures import joint_groups, motion_positions, wrist_speed_from_positions
    from ohgesture.core.evaluation.pack_nets import feature_windows, train_eval_nets
    from ohgesture.core.evaluation.pack_sections import heldout_split
    from ohgesture.core.generation.pipeline import DEFAULT_MODEL, features_to_output, generate_features, load_model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--data", default=str(ROOT / "runs" / "speech_pack.npz"),
                   help="the dataset pack the model was trained on (for FGD; ohgesture prepare --format speech)")
    p.add_argument("--speech", default=str(SHARED / "speech" / "2_scott_0_55_55.wav"),
                   help="unseen real speech (default: the recording held out of the default model's pairing)")
    p.add_argument("--settings", default=DEFAULT_SETTINGS)
    p.add_argument("--seconds", type=float, default=60.0, help="speech length for the timing")
    p.add_argument("--reference-seconds", type=float, default=12.0, help="speech length for the slow reference")
    p.add_argument("--clips", type=int, default=12, help="held-out clips (6 s each) for FGD and amplitude")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=str(ROOT / "reports" / "cache"))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = [(s.split(":")[0], int(s.split(":")[1])) for s in args.settings.split(",")]
    speech = Path(args.speech) if Path(args.speech).exists() else ROOT / "samples" / "speech_en.wav"

    lm = load_model(args.model, "cpu")
    counter = CountingModel(lm.model)
    lm.model = counter
    groups = joint_groups(lm.skeleton)
    fps = lm.fps

    dataset = load_pack(Path(args.data))
    train, held, _ = heldout_split(dataset, lm.metadata)
    nets = train_eval_nets(train, dataset.labels, EvalConfig(), cache_dir=Path(args.cache), log=lambda m: None)
    real_windows, _ = feature_windows([nets.normalise(c.motion) for c in held], 40, 10)
    real_embed = nets.embed(real_windows)
    clip_frames = int(6 * fps)
    rng = np.random.default_rng(0)
    quality_clips = [held[i] for i in rng.permutation(len(held)) if len(held[i].motion) >= clip_frames][:args.clips]

    feats_all = audio_features_from_file(speech, fps, config=lm.audio_config)
    samples, sr = load_audio(speech)
    n_sync = min(len(feats_all), int(args.reference_seconds * fps))
    loudness = loudness_envelope(samples[: int(n_sync / fps * sr)], sr, fps, n_sync)
    emotion = "neutral" if "neutral" in lm.labels else lm.labels[0]

    rows = []
    for name, steps in settings:
        kwargs = dict(sampler=name, steps=steps, seed=0)
        counter.calls = 0
        generated = [generate_features(lm, c.audio[:clip_frames], [c.label], np.ones(1), **kwargs)
                     for c in quality_clips]
        evals = counter.calls
        gen_windows, _ = feature_windows([nets.normalise(g) for g in generated], 40, 10)
        fgd = M.fgd(nets.embed(gen_windows), real_embed)
        wrist = np.concatenate([wrist_speed_from_positions(motion_positions(lm, g), groups["wrists"], fps)
                                for g in generated])
        sync_motion = generate_features(lm, feats_all[:n_sync], [emotion], np.ones(1), **kwargs)
        speed = wrist_speed_from_positions(motion_positions(lm, sync_motion), groups["wrists"], fps)
        sync = M.loudness_sync_test(loudness, speed, fps)

        seconds = args.reference_seconds if name == "ddpm" else args.seconds
        started = time.perf_counter()
        feats = audio_features_from_file(speech, fps, config=lm.audio_config)[: int(seconds * fps)]
        motion = features_to_output(lm, generate_features(lm, feats, [emotion], np.ones(1), **kwargs))
        with tempfile.TemporaryDirectory() as tmp:
            write_bvh(Path(tmp) / "take.bvh", motion)
        wall = (time.perf_counter() - started) * args.seconds / seconds
        rows.append(dict(setting=f"{name}:{steps}", evals=evals, fgd=fgd, sync=sync["true"],
                         sync_shifted=sync["shifted_p95"], wrist=float(wrist.mean()), wall=wall,
                         rtf=args.seconds / wall, scaled=name == "ddpm"))
        print(f"  {rows[-1]['setting']}: {wall:.1f} s", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(Path(sys.executable).parent / "ohgesture"), "generate", str(speech), "--out",
               str(Path(tmp) / "cli.bvh"), "--model", args.model, "--duration-seconds", str(args.seconds)]
        cli_wall, cli_peak = peak_memory_mb(cmd)

    reference = rows[0]
    print(f"\nSampling benchmark: model {Path(args.model).name}, device cpu ({args.threads} threads, "
          f"{os.cpu_count()} cores), torch {torch.__version__}")
    print(f"quality set: {len(quality_clips)} held-out clips x 6 s (FGD, wrist); sync on {speech.name} "
          f"({n_sync / fps:.0f} s, unseen); timing on {args.seconds:.0f} s of {speech.name}\n")
    print("| setting | denoiser evals | evals vs ref | FGD | sync (shifted p95) | wrist cm/s | "
          "60 s wall | real-time factor |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = reference["evals"] / r["evals"]
        scaled = " (scaled)" if r["scaled"] else ""
        print(f"| {r['setting']} | {r['evals']} | 1/{ratio:.0f} | {r['fgd']:.2f} ({r['fgd'] / reference['fgd']:.2f}x) | "
              f"{r['sync']:.2f} ({r['sync_shifted']:.2f}) | {r['wrist']:.1f} ({r['wrist'] / reference['wrist']:.2f}x) | "
              f"{r['wall']:.1f} s{scaled} | {r['rtf']:.1f}x |")
    print(f"\nCLI end to end (`ohgesture generate` with its defaults, dpmpp_2m:20, {args.seconds:.0f} s of speech to BVH, "
          f"process start and model load included): {cli_wall:.1f} s, peak memory {cli_peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
