"""Rebuild samples/speech_en.wav: espeak-ng renders the text, we resample to 16 kHz
mono 16-bit and write it atomically. Run: .venv/bin/python samples/make_speech_sample.py"""

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
VOICE, WORDS_PER_MINUTE = "en-us", "150"
HERE = Path(__file__).resolve().parent


def main(out: Path = HERE / "speech_en.wav") -> None:
    from ohgesture.core.audio.features import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", VOICE, "-s", WORDS_PER_MINUTE, "-w", str(raw), TEXT],
                       check=True, timeout=60)
        samples, sr = load_audio(raw, sr=16000)
    samples = 0.9 * samples / max(1e-9, float(np.abs(samples).max()))
    partial = out.with_suffix(".tmp.wav")
    sf.write(partial, samples, sr, subtype="PCM_16")
    os.replace(partial, out)
    print(f"{out}: {samples.size / sr:.2f} s, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
