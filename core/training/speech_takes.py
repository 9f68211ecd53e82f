"""Real co-speech takes (motion with its own speech) on one body skeleton.

The model is trained on real speech gesture: a ZEGGS take and a BEAT take, both 75-joint
skeletons with T-pose rests and the same joint names for the body. Both are brought onto
``SPEECH_BODY``, the ZEGGS body without fingers and end joints: the ZEGGS take as it is,
the BEAT take by copying each body joint's local rotation (the two rests point the bones
the same way, so the visible pose is kept), resampled from 15 to 30 fps with slerp and
standing at the ZEGGS hips' height (the BEAT release fixes the root in place).

The BEAT take's hands do not follow its loudness (r -0.08; the ZEGGS take's do, r 0.72):
what the product promises is hands that mark loud, stressed speech and calm in pauses, so
the BEAT take is re-timed to its own speech before training (``follow_own_speech``: every
pose is the capture's, only when it is shown changes, with the limits generation's
re-timing uses; r becomes 0.56, its mean wrist speed is kept).

The last ``HELD_OUT_SECONDS`` of every take are held out of training for validation and
evaluation (a separate take named ``<take>~heldout``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..motion.bvh import read_bvh
from ..motion.resample import resample_motion
from ..motion.skeleton import Motion, Skeleton

SPEECH_BODY = (
    "Hips", "Spine", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
    "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase",
)
HELD_OUT_SECONDS = 15.0
ZEGGS_TAKE = ("zeggs-sample", "067_Speech_2_x_1_0")
BEAT_TAKE = ("beat-sample", "2_scott_0_1_1")


class SpeechTakeError(ValueError):
    """A take is missing or does not have the body joints."""


@dataclass
class SpeechTake:
    name: str
    motion: Motion  # on the SPEECH_BODY skeleton, at the model's frame rate
    audio: Path  # the take's own speech
    source: str  # which release, for the model card
    license: str
    retimed: bool = False  # re-timed to follow its own speech (follow_own_speech)


def body_joints(motion: Motion, names=SPEECH_BODY, skeleton: Skeleton | None = None) -> Motion:
    """``motion`` reduced to the joints ``names`` (each one's parent the nearest kept ancestor),
    on ``skeleton`` (same joints) if given: the joints' local rotations are copied."""
    source = motion.skeleton
    missing = [n for n in names if n not in source.joint_names]
    if missing:
        raise SpeechTakeError(f"the {source.name} skeleton has no joint {missing[0]!r}.")
    index = [source.index(n) for n in names]
    own = skeleton is None
    if own:
        parents = []
        for j in index:
            p = int(source.parents[j])
            while p >= 0 and source.joint_names[p] not in names:
                p = int(source.parents[p])
            parents.append(-1 if p < 0 else list(names).index(source.joint_names[p]))
        skeleton = Skeleton(name=f"{source.name}-body", joint_names=list(names), parents=np.asarray(parents),
                            offsets=np.asarray(source.offsets)[index].astype(np.float64),
                            channels=[list(source.channels[j]) for j in index] if source.channels else [])
    translations = np.broadcast_to(skeleton.offsets, (motion.num_frames, len(names), 3)).copy()
    if own:
        translations[:] = motion.local_translations[:, index]
    return Motion(skeleton, motion.rotations[:, index].copy(), translations, motion.fps)


def with_fingers(body, fingers) -> tuple[str, ...]:
    """The body's joint names with each hand's fingers right after the hand: depth-first, as
    BVH files list their joints."""
    out = []
    for name in body:
        out.append(name)
        out.extend(f for f in fingers if f.startswith(name) and f != name)
    return tuple(out)


def _on_reference_floor(motion: Motion, reference: Motion) -> Motion:
    """``motion`` (its root fixed in place, as the BEAT take's is) with its hips over the
    reference take's first-frame hips and raised or lowered so its toes stand on the
    reference's floor (motion.measures.floor_height; before, docs/model-card.md, floor)."""
    from ..motion.kinematics import forward_kinematics
    from ..motion.measures import contact_joints, floor_height

    translations = motion.local_translations.copy()
    translations[:, 0] = reference.local_translations[0, 0]
    placed = replace(motion, local_translations=translations)
    toes = contact_joints(motion.skeleton)
    if toes:
        translations[:, 0, 1] += (floor_height(forward_kinematics(reference)[0], toes)
                                  - floor_height(forward_kinematics(placed)[0], toes))
    return replace(motion, local_translations=translations)


def load_speech_takes(data_root: Path, fps: float = 30.0, fingers: bool = False) -> list[SpeechTake]:
    """The ZEGGS and BEAT takes under ``data_root`` (``../shared/data``) on the ZEGGS body
    (with ``fingers``, the body and hands.FINGERS: the BEAT hands brought onto the ZEGGS layout)."""
    data_root = Path(data_root)
    paths = {key: data_root / folder / f"{stem}.bvh" for key, (folder, stem) in
             (("zeggs", ZEGGS_TAKE), ("beat", BEAT_TAKE))}
    for path in paths.values():
        if not path.is_file() or not path.with_suffix(".wav").is_file():
            raise SpeechTakeError(f"{path} (with its .wav) is missing; it is one of the two real co-speech takes.")
    if fingers:
        from .hands import FINGERS, hands_on_layout

        zeggs = body_joints(read_bvh(paths["zeggs"]), names=with_fingers(SPEECH_BODY, FINGERS))
        beat = _on_reference_floor(hands_on_layout(read_bvh(paths["beat"]), zeggs.skeleton), zeggs)
    else:
        zeggs = body_joints(read_bvh(paths["zeggs"]))
        beat = _on_reference_floor(body_joints(read_bvh(paths["beat"]), skeleton=zeggs.skeleton), zeggs)
    takes = []
    for key, motion, source, license in (
        ("zeggs", zeggs, "ZEGGS (Ubisoft La Forge), take 067_Speech_2_x_1_0, female speaker, oration",
         "CC BY-NC-ND 4.0"),
        ("beat", beat, "BEAT, take 2_scott_0_1_1, male speaker, conversation (BVH header corrected to "
                       "957 frames at 15 fps)", "BEAT terms (non-commercial research)"),
    ):
        if abs(motion.fps - fps) > 1e-6:
            motion = resample_motion(motion, fps)
        wav = paths[key].with_suffix(".wav")
        if key == "beat":
            motion = follow_own_speech(motion, wav)
        takes.append(SpeechTake(paths[key].stem, motion, wav, source, license, retimed=key == "beat"))
    return takes


def follow_own_speech(motion: Motion, wav: Path) -> Motion:
    """``motion`` re-timed so its faster wrist's speed follows the loudness of its speech."""
    from ..audio.features import load_audio, loudness_envelope
    from ..generation.retiming import activity_time_map, retime_features
    from ..motion.features import FeatureLayout, features_to_motion, initial_root_state, motion_to_features
    from ..motion.measures import wrist_speeds

    samples, sr = load_audio(wav)
    loudness = loudness_envelope(samples, sr, motion.fps, motion.num_frames)
    positions = activity_time_map(wrist_speeds(motion).max(axis=1), loudness)
    features = retime_features(motion_to_features(motion), positions, FeatureLayout.for_skeleton(motion.skeleton))
    start_position, start_heading = initial_root_state(motion)
    return features_to_motion(features, motion.skeleton, motion.fps, start_position=start_position,
                              start_heading=start_heading)


def split_held_out(frames: int, fps: float, seconds: float = HELD_OUT_SECONDS) -> int:
    """The first held-out frame of a take of ``frames`` frames."""
    return max(1, frames - int(round(seconds * fps)))


# Whose way of gesturing each real take shows: the performer condition the animator picks
# (generation's --delivery), never the voice (issue 28).
PERFORMERS = {"zeggs": "oration", "beat": "conversation"}
# Not captured in the BEAT release (root rotation and translation zeroed, legs still): left out
# of the loss on its windows, so the legs and the root are learnt from the ZEGGS take only.
UNCAPTURED = {"beat": ("Hips", "RightUpLeg", "RightLeg", "RightFoot", "RightToeBase",
                       "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase")}
# Training voices: each take's speech also pitched by these semitones (librosa's pitch shift
# moves the formants with the pitch, as a higher or lower voice does), and once with room noise,
# so that no voice identifies a take.
VOICE_SHIFTS = (-6.0, -3.0, 3.0, 6.0)
# The fingers' share of the loss: 30 finger joints would otherwise outweigh the 24 body joints
# the issue-28 measures are about (issue 32: the fingers must not hold the body back).
FINGER_LOSS_WEIGHT = 0.3
NOISE_SNR_DB = 20.0


def channel_weight(layout, skeleton: Skeleton, uncaptured) -> np.ndarray | None:
    """(D,) 1 for every motion channel, FINGER_LOSS_WEIGHT for the fingers', 0 for the root's and
    for the ``uncaptured`` joints'; None when all would be 1."""
    from .hands import FINGERS

    fingers = [skeleton.index(n) for n in FINGERS if n in skeleton.joint_names]
    if not uncaptured and not fingers:
        return None
    weight = np.ones(layout.D, np.float32)
    for joint in fingers:
        weight[layout.joint_slice(joint)] = FINGER_LOSS_WEIGHT
    slices = layout.slices
    for name in ("root_velocity", "root_height", "heading_velocity") if uncaptured else ():
        weight[slices[name]] = 0.0
    for name in uncaptured or ():
        weight[layout.joint_slice(skeleton.index(name))] = 0.0
    return weight


def voice_variants(wav: Path, shifts=VOICE_SHIFTS, noise_snr_db: float = NOISE_SNR_DB, seed: int = 0):
    """[(suffix, samples, sample rate)]: the recording as it is, pitched by each of ``shifts``
    semitones, and with noise ``noise_snr_db`` below its speech."""
    import librosa

    from ..audio.features import load_audio

    samples, sr = load_audio(wav)
    out = [("", samples, sr)]
    for shift in shifts:
        out.append((f"~voice{shift:+g}", librosa.effects.pitch_shift(samples, sr=sr, n_steps=shift), sr))
    rng = np.random.default_rng(seed)
    level = np.sqrt(np.mean(samples ** 2))
    noise = rng.standard_normal(len(samples)).astype(np.float32)
    noise = np.convolve(noise, np.ones(8) / 8, mode="same")  # duller than white, like a room
    noise *= level / max(np.sqrt(np.mean(noise ** 2)), 1e-9) * 10 ** (-noise_snr_db / 20)
    out.append(("~noise", (samples + noise).astype(np.float32), sr))
    return out


# The emotions the model offers and the Bandai Namco style each one is learnt from.
SPEECH_STYLES = {"neutral": "normal", "happy": "happy", "sad": "sad", "angry": "angry", "old": "old",
                 "tired": "tired"}


def build_speech_styles(data_root: Path, fps: float = 30.0, styles: dict[str, str] | None = None,
                        audio_config=None, swing: tuple[float, float] | None = None, fingers: bool = False):
    """The training set: every real take in every style of ``styles`` (label -> Bandai style),
    with the take's own speech; each take's last ``HELD_OUT_SECONDS`` form held-out takes.
    ``swing``: the styles' swing ratios are held to (low, high) (styles.AMPLITUDE_RANGE).

    Every take is a performer (PERFORMERS); its uncaptured joints weigh nothing in the loss
    (UNCAPTURED); with a take-normalised ``audio_config`` (the default) its training windows also
    hear the speech pitched and with noise (voice_variants), the held-out ones only the original."""
    from ..audio.features import AudioFeatureConfig, audio_features, load_audio
    from ..motion.features import FeatureLayout, model_skeleton, motion_to_features
    from .datasets import Clip, GestureDataset
    from .styles import AMPLITUDE_RANGE, apply_style, learn_style_changes

    data_root = Path(data_root)
    styles = dict(styles or SPEECH_STYLES)
    audio_config = audio_config or AudioFeatureConfig(take_normalised=True)
    changes = learn_style_changes(data_root / "bandai-namco", styles, swing=swing or AMPLITUDE_RANGE)
    takes = load_speech_takes(data_root, fps, fingers=fingers)
    skeleton = model_skeleton(takes[0].motion)
    layout = FeatureLayout.for_skeleton(skeleton)
    clips, held = [], []
    for key, take in zip(("zeggs", "beat"), takes):
        variants = voice_variants(take.audio) if audio_config.take_normalised else [("", *load_audio(take.audio))]
        voices = [(suffix, audio_features(y, sr, fps, n_frames=take.motion.num_frames, config=audio_config))
                  for suffix, y, sr in variants]
        frames = min(take.motion.num_frames, len(voices[0][1]))
        cut = split_held_out(frames, fps)
        weight = channel_weight(layout, skeleton, UNCAPTURED.get(key))
        for label in styles:
            features = motion_to_features(apply_style(take.motion, changes[label]))[:frames].astype(np.float32)
            for suffix, audio in voices:
                parts = (("", (0, cut)), ("~heldout", (cut, frames))) if not suffix else (("", (0, cut)),)
                for part, (a, b) in parts:
                    clips.append(Clip(f"{take.name}{part}:{label}{suffix}", take.name + part, label, features[a:b],
                                      audio[a:b].astype(np.float32), PERFORMERS[key], weight))
        held.append(take.name + "~heldout")
    labels = list(styles)
    return GestureDataset(
        clips, skeleton, layout, audio_config, fps,
        source="; ".join(t.source for t in takes) + f"; styles learnt from the Bandai Namco Research Motion "
               f"Dataset 1 ({', '.join(f'{k}<-{v}' for k, v in styles.items())})",
        license="non-commercial: " + "; ".join(f"{t.name}: {t.license}" for t in takes) + "; Bandai Namco: CC BY-NC 4.0",
        labels=labels, held_out_takes=held, performers=list(PERFORMERS.values()),
        uncaptured={PERFORMERS[key]: ["root", *joints] for key, joints in UNCAPTURED.items()},
    )
