"""Rebuild the synthetic speech samples: espeak-ng renders each text, we resample to 16 kHz
mono 16-bit and write it atomically (WAV or FLAC by the name's suffix).
Run: .venv/bin/python samples/make_speech_sample.py"""

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

TEXT = (
    "Hello, and welcome. Today I want to show you something simple. "
    "When we talk, our hands move with the rhythm of our words."
)
TALK = (
    "Good morning everyone. Thank you for coming. I know it is early, and I know many of you travelled a long "
    "way to be here. This morning I want to talk about three things: where we started, what we learned along "
    "the way, and where we are going next. First, where we started. Five years ago we were a team of four "
    "people in a small room."
)
SPEECH = (
    "Thank you all for being here tonight. I want to begin with a story. When I was a child, my grandmother "
    "kept a small garden behind her house. Every spring she planted tomatoes, beans, and a row of sunflowers "
    "that grew taller than the fence. She told me that a garden teaches patience, because nothing you do today "
    "shows up until much later. I did not understand her then. I wanted everything at once. But over the years "
    "I have come to see that she was right, and not only about gardens. The work we do together, in this "
    "company and in this town, is the same kind of work. We plant things now that will matter in ten years. "
    "Some of them will fail. Some of them will surprise us. And a few of them will grow taller than the fence. "
    "So tonight I want to ask you for three things. First, be patient with each other. Second, keep planting, "
    "even when the soil looks poor. And third, when something finally blooms, take a moment to enjoy it, and "
    "remember who helped it grow. Thank you."
)
SAMPLES = {"speech_en.wav": TEXT, "speech_en_talk.flac": TALK, "speech_en_long.flac": SPEECH}
VOICE, WORDS_PER_MINUTE = "en-us", "150"
HERE = Path(__file__).resolve().parent


def render(text: str, out: Path) -> None:
    from ohgesture.core.audio.features import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", WORDS_PER_MINUTE, "-w", str(raw), text],
                       check=True, timeout=60)
        samples, sr = load_audio(raw, sr=16000)
    samples = 0.9 * samples / max(1e-9, float(np.abs(samples).max()))
    partial = out.with_name(f".{out.name}.partial{out.suffix}")
    sf.write(partial, samples, sr, subtype="PCM_16")
    os.replace(partial, out)
    print(f"{out}: {samples.size / sr:.2f} s, {out.stat().st_size} bytes")


def main() -> None:
    for name, text in SAMPLES.items():
        render(text, HERE / name)


if __name__ == "__main__":
    main()
