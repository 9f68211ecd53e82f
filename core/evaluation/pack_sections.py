"""The pack evaluation's sections (``evaluate.evaluate`` runs them in order): the synchrony
measures proven on a real take, the evaluation networks' sanity and FGD baselines on real
held-out data, each sampler on held-out clips and unseen speech, emotion control, the
pictures and the pack's quality bar."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import measures as M
from . import take_pictures as P
from ..generation.settings import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, DEFAULT_SMOOTHING_HZ, DEFAULT_STEPS, SAMPLER_NAMES
from .pack_nets import EvalNets, EvaluationError, feature_windows, train_eval_nets, with_velocity
from .takes import Take, find_body_parts

BLEND_CANDIDATES = (("neutral", "angry"), ("happy", "sad"), ("neutral", "tired"), ("neutral", "old"))
PICTURE_EMOTIONS = ("neutral", "angry", "sad", "happy", "tired", "old")
GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0)
ZEGGS_TAKE = "067_Speech_2_x_1_0"
# The product's few-step sampler beside the 1000-step reference.
SAMPLERS_DEFAULT = f"{DEFAULT_SAMPLER}:{DEFAULT_STEPS[DEFAULT_SAMPLER]},ddpm:1000"


@dataclass
class EvalConfig:
    quick: bool = True
    samplers: list[tuple[str, int]] = field(default_factory=lambda: parse_samplers(SAMPLERS_DEFAULT))
    guidance: float = DEFAULT_GUIDANCE
    seed: int = 0
    retime: bool = True  # generate_features' re-timing to the model's activity (models that make one)
    smoothing_hz: float = DEFAULT_SMOOTHING_HZ  # generate_features' low-pass of the finished motion; 0: off
    foot_lock: bool = True  # generate_features' pinning of planted feet
    window: int = 40  # frames per embedding/classifier window (1.3 s at 30 fps)
    stride: int = 10
    embed_dim: int = 32
    ae_steps: int = 500
    classifier_steps: int = 700
    heldout_clips: int = 24  # held-out clips generated with the few-step sampler
    heldout_seconds: float = 10.0  # each clip cropped to this
    reference_clips: int = 6  # held-out clips generated with a 1000-step sampler
    reference_seconds: float | None = None  # None: one model window per clip
    speech_seconds: float = 35.0  # unseen speech clips cropped to this (few-step)
    reference_speech_seconds: float = 12.0
    emotion_seconds: float = 8.0
    all_emotions: bool = False

    @classmethod
    def for_mode(cls, quick: bool, **overrides) -> "EvalConfig":
        base = cls() if quick else cls(
            quick=False, ae_steps=2000, classifier_steps=2500, heldout_clips=10_000, heldout_seconds=30.0,
            reference_clips=10, reference_seconds=10.0, speech_seconds=70.0, reference_speech_seconds=35.0,
            emotion_seconds=20.0, all_emotions=True)
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


def parse_samplers(text: str) -> list[tuple[str, int]]:
    """'ddim:25,ddpm:1000' -> [('ddim', 25), ('ddpm', 1000)]."""
    out = []
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        name, _, steps = part.partition(":")
        if name not in SAMPLER_NAMES:
            raise EvaluationError(f"unknown sampler {name!r} in {text!r}; use {', '.join(SAMPLER_NAMES)}.")
        try:
            n = int(steps) if steps else (1000 if name == "ddpm" else 25)
        except ValueError:
            raise EvaluationError(f"sampler steps {steps!r} in {text!r} is not a whole number.") from None
        if n < 1:
            raise EvaluationError(f"sampler steps must be positive, got {n}.")
        out.append((name, n))
    if not out:
        raise EvaluationError("no sampler given; use for example ddim:25,ddpm:1000.")
    return out


def sampler_key(name: str, steps: int) -> str:
    return f"{name}:{steps}"


def is_reference(name: str, steps: int) -> bool:
    return steps >= 200  # a many-step run is the slow reference; gets the small budget


def heldout_split(dataset, meta: dict) -> tuple[list, list, str]:
    """(train, held-out, how): the model's own held-out takes when its metadata names them."""
    takes = set(meta.get("training", {}).get("held_out_takes") or [])
    present = {c.take for c in dataset.clips}
    if takes and takes <= present:
        held = [c for c in dataset.clips if c.take in takes]
        train = [c for c in dataset.clips if c.take not in takes]
        return train, held, f"the checkpoint's held-out takes ({len(takes)})"
    train, held = dataset.split(0.1, seed=0)
    how = "GestureDataset.split(0.1, seed=0)"
    if takes:
        how += " (the checkpoint's held-out takes are not in this pack)"
    return train, held, how


def zeggs_proof(zeggs_dir: Path, fps: float = 30.0) -> dict | None:
    """Both synchrony measures on the real ZEGGS take: true audio vs time-shifted audio."""
    from ..audio.features import load_audio, loudness_envelope
    from ..motion.bvh import read_bvh
    from ..motion.kinematics import forward_kinematics
    from ..motion.resample import resample_motion

    bvh, wav = Path(zeggs_dir) / f"{ZEGGS_TAKE}.bvh", Path(zeggs_dir) / f"{ZEGGS_TAKE}.wav"
    if not bvh.exists() or not wav.exists():
        return None
    motion = read_bvh(bvh)
    if abs(motion.fps - fps) > 1e-3:
        motion = resample_motion(motion, fps)
    positions = forward_kinematics(motion)[0]
    sk = motion.skeleton
    speed = M.wrist_speed_from_positions(positions, [sk.index("LeftHand"), sk.index("RightHand")], fps)
    samples, sr = load_audio(wav, sr=16000)
    loudness = loudness_envelope(samples, sr, fps, len(speed))
    return dict(take=ZEGGS_TAKE, speed=speed, loudness_curve=loudness, samples=samples, sr=sr,
                **M.synchrony(loudness, speed, samples, sr, fps))


def sync_plot(panels: list[dict], fps: float, path: Path) -> Path:
    """Per panel: speech loudness (smoothed) with onsets vs wrist speed (smoothed), over time."""
    plt = P.pyplot()
    path = Path(path)
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 2.6 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        n = min(len(panel["loudness"]), len(panel["speed"]))
        t = np.arange(n) / fps
        loud = M.smooth(panel["loudness"][:n], fps, 0.5)
        speed = M.smooth(panel["speed"][:n], fps, 0.5)
        ax.plot(t, loud / (loud.max() or 1), color="tab:orange", label="loudness (RMS, 0.5 s)")
        onsets = [o for o in panel.get("onsets", []) if o < t[-1]]
        ax.vlines(onsets, 0, 0.15, color="tab:orange", alpha=0.6, lw=0.8, label="audio onsets")
        ax2 = ax.twinx()
        ax2.plot(t, speed, color="tab:blue", label="wrist speed (0.5 s)")
        ax2.set_ylabel("wrist speed (cm/s)")
        ax.set_ylabel("loudness (norm.)")
        ax.set_title(panel["title"], fontsize=10)
        lines = ax.get_legend_handles_labels()
        lines2 = ax2.get_legend_handles_labels()
        ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="upper right", fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return P.save_png(fig, path)


def _classifier_eval(nets: EvalNets, clips, window_stride: int) -> dict:
    seqs = [nets.normalise(c.motion) for c in clips]
    windows, owner = feature_windows(seqs, nets.window, window_stride)
    if len(windows) == 0:
        return dict(windows=0, accuracy=float("nan"), clip_accuracy=float("nan"), recall={})
    probs = nets.probabilities(windows)
    target = np.array([nets.labels.index(clips[i].label) for i in owner])
    pred = probs.argmax(1)
    recall = {l: float((pred[target == k] == k).mean()) for k, l in enumerate(nets.labels) if (target == k).any()}
    clip_correct = []
    for i in np.unique(owner):
        clip_correct.append(probs[owner == i].mean(0).argmax() == target[owner == i][0])
    return dict(windows=int(len(windows)), accuracy=float((pred == target).mean()),
                balanced_accuracy=float(np.mean(list(recall.values()))),
                clip_accuracy=float(np.mean(clip_correct)), recall=recall, chance=1.0 / len(nets.labels))


def pick_blend_pair(labels: list[str], recall: dict) -> tuple[str, str]:
    options = [(a, b) for a, b in BLEND_CANDIDATES if a in labels and b in labels]
    if not options:
        options = [(labels[0], labels[1])] if len(labels) > 1 else [(labels[0], labels[0])]
    return max(options, key=lambda ab: (min(recall.get(ab[0], 0.0), recall.get(ab[1], 0.0)), -options.index(ab)))


def _fgd_block(nets: EvalNets, real_train, real_held, cfg: EvalConfig, rng) -> dict:
    W, S = cfg.window, cfg.stride
    held_windows, _ = feature_windows(real_held, W, S)
    if len(held_windows) < 4:
        raise EvaluationError(f"the held-out split has only {len(held_windows)} windows of {W} frames.")
    held_emb = nets.embed(held_windows)
    train_windows, _ = feature_windows(real_train, W, S)
    train_emb = nets.embed(train_windows)
    half = held_windows.shape[2] // 2  # pose channels; the rest are their frame-to-frame changes
    mean_pose = np.zeros_like(held_windows)  # normalised mean pose, no motion
    static = np.zeros_like(held_windows)
    static[:, :, :half] = held_windows[:, :1, :half]
    shuffled = np.stack([with_velocity(w[rng.permutation(W), :half], nets.velocity_std) for w in held_windows])
    return dict(
        held_emb=held_emb, held_windows=int(len(held_windows)), train_windows=int(len(train_windows)),
        floor_train_vs_heldout=M.fgd(train_emb, held_emb),
        mean_pose=M.fgd(nets.embed(mean_pose), held_emb),
        static_pose=M.fgd(nets.embed(static), held_emb),
        shuffled_time=M.fgd(nets.embed(shuffled), held_emb),
        wrong_audio=0.0,
    )


@dataclass
class PackEvaluation:
    """What every section of one evaluation shares: the model, the settings, the held-out clips and, once
    trained, the evaluation networks with the held-out real embeddings and joint positions."""
    lm: object
    cfg: EvalConfig
    labels: list[str]
    held: list
    groups: dict
    nets: EvalNets | None = None
    held_emb: np.ndarray | None = None
    real_positions: list | None = None

    def __post_init__(self):
        self.fps = self.lm.fps
        self.neutral = "neutral" if "neutral" in self.lm.labels else self.lm.labels[0]
        samplers = self.cfg.samplers
        self.few_step = next(((n, s) for n, s in samplers if not is_reference(n, s)), samplers[0])
        self.has_reference = any(is_reference(n, s) for n, s in samplers)
        held = self.held
        self.order = sorted(range(len(held)), key=lambda i: (held[i].label, held[i].take))

    def take(self, audio, emotions, weights, sampler, steps, seed):
        """Motion features as the CLI makes them, with this evaluation's guidance and finishing."""
        cfg = self.cfg
        return M.generate(self.lm, audio, emotions, weights, sampler, steps, cfg.guidance, seed, cfg.retime,
                          cfg.smoothing_hz, cfg.foot_lock)

    def clip_choice(self, ref: bool) -> tuple[list[int], int]:
        """Held-out clips spread over labels (every k-th of the label-sorted list) and the crop length."""
        cfg, order = self.cfg, self.order
        n_clips = cfg.reference_clips if ref else cfg.heldout_clips
        seconds = cfg.reference_seconds if ref else cfg.heldout_seconds
        max_frames = self.lm.window if seconds is None else int(round(seconds * self.fps))
        picks = np.linspace(0, len(order) - 1, min(n_clips, len(order))).round().astype(int)
        return list(dict.fromkeys(order[i] for i in picks)), max_frames

    def generate_heldout(self, name, steps, chosen, max_frames):
        """Normalised generated and real features and generated joint positions of the chosen held-out clips."""
        gen_n, real_n, gen_pos = [], [], []
        for k, i in enumerate(chosen):
            clip = self.held[i]
            n = min(len(clip.motion), max_frames)
            label = clip.label if clip.label in self.lm.labels else self.neutral
            feats = self.take(clip.audio[:n], [label], [1.0], name, steps, self.cfg.seed + k)
            gen_n.append(self.nets.normalise(feats))
            real_n.append(self.nets.normalise(clip.motion[:n]))
            gen_pos.append(M.motion_positions(self.lm, feats))
        return gen_n, real_n, gen_pos

    def windows_of(self, feats):
        return feature_windows([self.nets.normalise(feats)], self.cfg.window, self.cfg.stride)[0]

    def probabilities(self, feature_sets):
        """Classifier probabilities of the windows of several feature sequences, pooled."""
        w = [x for x in (self.windows_of(f) for f in feature_sets) if len(x)]
        return self.nets.probabilities(np.concatenate(w)) if w else np.full((1, len(self.labels)), np.nan)


def zeggs_section(zeggs, fps: float, result: dict, log) -> dict | None:
    """0. the synchrony measures on real data: the ZEGGS take's proof (or None without one)."""
    proof = zeggs_proof(Path(zeggs), fps) if zeggs else None
    if proof is not None:
        result["zeggs"] = {k: proof[k] for k in ("take", "seconds", "loudness", "bc", "bc_reverse")}
        log(f"ZEGGS loudness-wrist correlation {proof['loudness']['true']:.3f} "
            f"(shifted median {proof['loudness']['shifted_median']:.3f}); BC {proof['bc']['true']:.3f} "
            f"(shifted median {proof['bc']['shifted_median']:.3f})")
    return proof


def real_data_section(ev: PackEvaluation, train, cache_dir: Path, rng, result: dict, log) -> None:
    """1. evaluation networks, classifier sanity on real held-out data, FGD baselines, real plausibility."""
    nets = ev.nets = train_eval_nets(train, ev.labels, ev.cfg, cache_dir=cache_dir, log=log)
    result["eval_nets"] = nets.info
    result["classifier_real_heldout"] = _classifier_eval(nets, ev.held, ev.cfg.stride)
    real_train_n = [nets.normalise(c.motion) for c in train]
    real_held_n = [nets.normalise(c.motion) for c in ev.held]
    fgd_block = _fgd_block(nets, real_train_n, real_held_n, ev.cfg, rng)
    ev.held_emb = fgd_block.pop("held_emb")
    result["fgd_baselines"] = fgd_block
    ev.real_positions = [M.motion_positions(ev.lm, c.motion) for c in ev.held]
    result["real_physical"] = M.physical_stats(ev.real_positions, ev.groups, ev.fps)


def _heldout_fgd(ev: PackEvaluation, name: str, steps: int, chosen: list[int], gen_n, real_n) -> dict:
    """FGD and classifier accuracy of one sampler's held-out clips (and on the reference's clips)."""
    cfg, nets = ev.cfg, ev.nets
    ref = is_reference(name, steps)
    dense = max(1, cfg.stride // 2)
    stride = dense if ref else cfg.stride  # few windows: use them densely
    gen_windows, owner = feature_windows(gen_n, cfg.window, stride)
    real_windows, _ = feature_windows(real_n, cfg.window, stride)
    entry: dict = dict(clips=len(chosen), windows=int(len(gen_windows)))
    if len(gen_windows) >= 2:
        entry["fgd"] = M.fgd(nets.embed(gen_windows), ev.held_emb)
        entry["fgd_real_same_clips"] = M.fgd(nets.embed(real_windows), ev.held_emb)
        gen_cls = nets.probabilities(gen_windows)
        target = np.array([ev.labels.index(ev.held[chosen[o]].label) for o in owner])
        entry["generated_heldout_label_accuracy"] = float(np.mean(gen_cls.argmax(1) == target))
    if not ref and ev.has_reference:
        # the few-step sampler on exactly the reference's clips: a like-for-like FGD
        ref_chosen, ref_frames = ev.clip_choice(True)
        g, _, _ = ev.generate_heldout(name, steps, ref_chosen, ref_frames)
        w, _ = feature_windows(g, cfg.window, dense)
        entry["fgd_on_reference_clips"] = M.fgd(nets.embed(w), ev.held_emb) if len(w) >= 2 else None
    return entry


def _speech_synchrony(ev: PackEvaluation, name: str, steps: int, speech: list[Path], sync_panels: list) -> dict:
    """Synchrony on unseen speech (neutral); the few-step sampler's first clip also becomes a plot panel."""
    cfg = ev.cfg
    ref = is_reference(name, steps)
    sync = {}
    for s in (speech if not ref else speech[:1]):
        inp = M.speech_inputs(ev.lm, s, cfg.reference_speech_seconds if ref else cfg.speech_seconds)
        feats = ev.take(inp["audio"], [ev.neutral], [1.0], name, steps, cfg.seed)
        positions = M.motion_positions(ev.lm, feats)
        speed = M.wrist_speed_from_positions(positions, ev.groups["wrists"], ev.fps)
        sync[inp["name"]] = M.synchrony(inp["loudness"], speed, inp["samples"], inp["sr"], ev.fps)
        sync[inp["name"]]["wrist_speed"] = M.speed_stats(speed)
        if (name, steps) == ev.few_step and not sync_panels:
            sync_panels.append(dict(title=f"generated ({sampler_key(name, steps)}, {ev.neutral}) on unseen speech "
                                          f"{inp['name']}: r = {sync[inp['name']]['loudness']['true']:.2f}",
                                    loudness=inp["loudness"], speed=speed,
                                    onsets=M.audio_onsets(inp["samples"], inp["sr"])))
    return sync


def sampler_section(ev: PackEvaluation, name: str, steps: int, speech: list[Path], sync_panels: list, log) -> dict:
    """One sampler: FGD, classifier and plausibility on held-out clips, then synchrony on unseen speech."""
    key = sampler_key(name, steps)
    t0 = time.time()
    chosen, max_frames = ev.clip_choice(is_reference(name, steps))
    gen_n, real_n, gen_pos = ev.generate_heldout(name, steps, chosen, max_frames)
    log(f"{key}: generated {len(chosen)} held-out clips in {time.time() - t0:.0f} s")
    entry = _heldout_fgd(ev, name, steps, chosen, gen_n, real_n)
    entry["physical"] = M.physical_stats(gen_pos, ev.groups, ev.fps)
    real_same = M.physical_stats([ev.real_positions[i][:max_frames] for i in chosen], ev.groups, ev.fps)
    entry["physical_real_same_clips"] = real_same

    sync = entry["sync"] = _speech_synchrony(ev, name, steps, speech, sync_panels)
    if sync:
        entry["sync_mean_r"] = float(np.mean([v["loudness"]["true"] for v in sync.values()]))
        entry["sync_mean_shifted_p95"] = float(np.mean([v["loudness"]["shifted_p95"] for v in sync.values()]))
    entry["seconds"] = round(time.time() - t0, 1)
    log(f"{key}: done in {entry['seconds']:.0f} s")
    return entry


def _emotion_inputs(ev: PackEvaluation, speech: list[Path], e1: str, e2: str) -> tuple[list, list[str]]:
    """The audio the emotions are generated on, (name, features) each, and the emotions to measure."""
    cfg = ev.cfg
    # every unseen speech clip: one clip alone can decide a small style (measured: the shipped model's angry
    # reads as angry on the ZEGGS voice and as sad on the BEAT one)
    if speech:
        sources = [(p.name, M.speech_inputs(ev.lm, p, cfg.emotion_seconds)["audio"]) for p in speech]
    else:
        clip = ev.held[ev.order[0]]
        sources = [(f"held-out clip {clip.name}", clip.audio[: int(cfg.emotion_seconds * ev.fps)])]
    if cfg.all_emotions:
        emotions = list(ev.lm.labels)
    else:
        emotions = list(dict.fromkeys([e for e in (ev.neutral, e1, e2) if e in ev.lm.labels]))
        emotions += [e for e in PICTURE_EMOTIONS if e in ev.lm.labels and e not in emotions][: max(0, 3 - len(emotions))]
    return sources, emotions


def _per_emotion(ev: PackEvaluation, emo_feats: dict, emotions: list[str]) -> dict:
    """Per target emotion: classifier accuracy per clip (and what each mostly reads as), pooled p(target)."""
    labels = ev.labels
    per_emotion = {}
    for e in emotions:
        if e not in labels:
            continue
        k = labels.index(e)
        per_clip, per_clip_read_as = {}, {}
        for name in emo_feats:
            w = ev.windows_of(emo_feats[name][e])
            if len(w):
                predicted = ev.nets.probabilities(w).argmax(1)
                per_clip[name] = float((predicted == k).mean())
                per_clip_read_as[name] = labels[int(np.bincount(predicted, minlength=len(labels)).argmax())]
        if per_clip:
            p = ev.probabilities([emo_feats[name][e] for name in emo_feats])
            per_emotion[e] = dict(accuracy=float(np.mean(list(per_clip.values()))), per_clip=per_clip,
                                  per_clip_read_as=per_clip_read_as,
                                  probability=float(p[:, k].mean()),
                                  read_as=labels[int(np.bincount(p.argmax(1), minlength=len(labels)).argmax())])
    return per_emotion


def _blend_sweep(ev: PackEvaluation, sources: list, e1: str, e2: str) -> dict:
    """p(e1) and p(e2) of motion blended from e1 to e2, over GAMMAS (e2's share)."""
    emo_name, emo_steps = ev.few_step
    labels = ev.labels
    sweep = []
    for g in GAMMAS:
        p = ev.probabilities([ev.take(audio, [e1, e2], [1 - g, g], emo_name, emo_steps, ev.cfg.seed)
                              for _, audio in sources])
        sweep.append(dict(gamma=g, p_e1=float(p[:, labels.index(e1)].mean()),
                          p_e2=float(p[:, labels.index(e2)].mean())))
    return dict(e1=e1, e2=e2, sweep=sweep,
                # gamma is e2's share, so e1's probability must fall as gamma rises (e2's must rise);
                # a flat curve (the classifier sees no change) does not count as a rise
                p_e1_monotonic=M.is_monotonic_increasing([-s["p_e1"] for s in sweep], tolerance=0.02)
                and sweep[0]["p_e1"] - sweep[-1]["p_e1"] > 0.1,
                p_e2_monotonic=M.is_monotonic_increasing([s["p_e2"] for s in sweep], tolerance=0.02)
                and sweep[-1]["p_e2"] - sweep[0]["p_e2"] > 0.1)


def _emotion_distances(ev: PackEvaluation, sources: list, emo_feats: dict, emotions: list[str]) -> dict:
    """Mean distance between the emotions and between two seeds of one emotion, on the same audio."""
    # "Two emotions differ more than two takes of one emotion do", same audio: measured on the
    # visible pose (joint positions) and, for comparison, on the normalised features with their
    # velocities, where channels that barely vary in the data (a standing leg's) are magnified
    # up to 10^4 times, so a few degrees of foot-locking IK outweigh the gestures.
    emo_name, emo_steps = ev.few_step
    between, within, between_features, within_features = [], [], [], []
    for name, audio in sources:
        feats = emo_feats[name]
        poses = {e: M.pose_coordinates(ev.lm, f) for e, f in feats.items()}
        normalised = {e: ev.nets.normalise(f) for e, f in feats.items()}
        between.append(M.mean_pairwise_distance(list(poses.values())))
        between_features.append(M.mean_pairwise_distance(list(normalised.values())))
        for e in emotions[:3]:
            again = ev.take(audio, [e], [1.0], emo_name, emo_steps, ev.cfg.seed + 1)
            within.append(M.mean_pairwise_distance([poses[e], M.pose_coordinates(ev.lm, again)]))
            within_features.append(M.mean_pairwise_distance([normalised[e], ev.nets.normalise(again)]))
    return dict(distance_between_emotions=float(np.mean(between)), distance_between_seeds=float(np.mean(within)),
                feature_distance_between_emotions=float(np.mean(between_features)),
                feature_distance_between_seeds=float(np.mean(within_features)))


def emotion_section(ev: PackEvaluation, speech: list[Path], recall: dict, log) -> tuple[dict, dict]:
    """Emotion control (few-step sampler): the result's "emotion" entry, and the features per audio and emotion."""
    t0 = time.time()
    emo_name, emo_steps = ev.few_step
    e1, e2 = pick_blend_pair([l for l in ev.labels if l in ev.lm.labels], recall)
    sources, emotions = _emotion_inputs(ev, speech, e1, e2)
    emo_feats = {name: {e: ev.take(audio, [e], [1.0], emo_name, emo_steps, ev.cfg.seed)
                        for e in emotions} for name, audio in sources}
    per_emotion = _per_emotion(ev, emo_feats, emotions)
    blend = _blend_sweep(ev, sources, e1, e2)
    distances = _emotion_distances(ev, sources, emo_feats, emotions)
    emotion = dict(
        sampler=sampler_key(*ev.few_step), audio=[name for name, _ in sources], emotions=emotions,
        per_emotion=per_emotion,
        mean_accuracy=float(np.mean([v["accuracy"] for v in per_emotion.values()])) if per_emotion else float("nan"),
        blend=blend, **distances, seconds=round(time.time() - t0, 1),
    )
    log(f"emotion control measured in {time.time() - t0:.0f} s")
    return emotion, emo_feats


def pictures_section(ev: PackEvaluation, emo_feats: dict, proof: dict | None, sync_panels: list, out: Path) -> dict:
    """The contact sheet (the first audio's emotions) and the synchrony plot; their file names."""
    sheet_feats = next(iter(emo_feats.values()))
    pic = [e for e in PICTURE_EMOTIONS if e in sheet_feats][:3]
    pic += [e for e in sheet_feats if e not in pic][: 3 - len(pic)]
    parts, parents = find_body_parts(ev.lm.skeleton.joint_names), np.asarray(ev.lm.skeleton.parents)
    sheet = P.contact_sheet([(e, Take(e, M.motion_positions(ev.lm, sheet_feats[e]), ev.fps, parts, parents, label=e))
                             for e in pic], out / "contact_sheet.png", columns=8)
    if proof is not None:
        sync_panels.append(dict(title=f"real ZEGGS take {ZEGGS_TAKE} (reference): "
                                      f"r = {proof['loudness']['true']:.2f}",
                                loudness=proof["loudness_curve"], speed=proof["speed"],
                                onsets=M.audio_onsets(proof["samples"], proof["sr"])))
    plots = dict(contact_sheet=sheet.name)
    if sync_panels:
        plots["sync"] = sync_plot(sync_panels, ev.fps, out / "sync.png").name
    return plots


def pack_quality_bar(result: dict, few_step) -> dict:
    """The pack evaluation's bar (report.QUALITY_BAR_TEXT says what each entry asks)."""
    entry = result["samplers"].get(sampler_key(*few_step), {})
    sync = entry.get("sync", {})
    real = result["real_physical"]
    gen = entry.get("physical", {})
    clip_means = real["wrist_speed_clip_means"]
    bar = dict(
        loudness_r_at_least_0p3=bool(sync) and all(v["loudness"]["true"] >= 0.3 for v in sync.values()),
        loudness_r_above_shifted_p95=bool(sync) and all(v["loudness"]["margin"] > 0 for v in sync.values()),
        wrist_speed_mean_in_real_range=bool(gen) and min(clip_means) <= gen["wrist_speed_mean"] <= max(clip_means),
        wrist_speed_p95_within_real=bool(gen) and gen["wrist_speed_p95"] <= 1.5 * real["wrist_speed_p95"],
        blend_monotonic=result["emotion"]["blend"]["p_e2_monotonic"],
        emotions_differ_more_than_seeds=result["emotion"]["distance_between_emotions"]
        > result["emotion"]["distance_between_seeds"],
    )
    bar["all"] = all(bar.values())
    return bar
