"""A stand-in for `core/cli/_entry.py generate` used by the add-on tests: a real subprocess
that prints OHG_PROGRESS lines and writes a motion npz for the test skeleton.
FAKE_MODE: "ok" (default), "slow" (keeps running), "slow_after_first" (slow from the second call
logged in FAKE_CALLS_LOG on), "fail" (error line, exit 1).
FAKE_ARGS_LOG: where to write the received arguments (and its pid, whether the audio file
existed and its size) as JSON; FAKE_CALLS_LOG: a file that gets one such line per call. Like the real generator it refuses audio starting with
b"BROKEN" in one line, takes the length of a WAV file from it and notes audio shorter than
0.27 s (the tiny model's seed window) on stderr."""

import json
import os
import sys
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blender_util import save_motion, synthetic_motion  # noqa: E402


def main(argv):
    args = argv[1:]
    log = os.environ.get("FAKE_ARGS_LOG")
    audio = args[1]
    record = {"argv": args, "pid": os.getpid(), "audio_exists": os.path.isfile(audio),
              "audio_size": os.path.getsize(audio) if os.path.isfile(audio) else None}
    if log:
        if "--gamma-curve" in args:
            import numpy as np

            record["gamma_curve"] = np.load(args[args.index("--gamma-curve") + 1]).tolist()
        Path(log).write_text(json.dumps(record))
    calls = os.environ.get("FAKE_CALLS_LOG")
    if calls:
        with open(calls, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
    mode = os.environ.get("FAKE_MODE", "ok")
    print("OHG_PROGRESS 0.0 loading model", file=sys.stderr, flush=True)
    if mode == "fail":
        print("error: the audio file could not be decoded.", file=sys.stderr, flush=True)
        return 1
    earlier = len(Path(calls).read_text().splitlines()) - 1 if calls else 0
    if mode == "slow" or (mode == "slow_after_first" and earlier > 0):
        for k in range(600):
            print(f"OHG_PROGRESS {min(k / 600, 0.99):.3f} sampling", file=sys.stderr, flush=True)
            time.sleep(0.1)
    with open(audio, "rb") as handle:
        if handle.read(6) == b"BROKEN":
            print(f"error: Audio file '{audio}' is not a readable audio format (Format not recognised).",
                  file=sys.stderr, flush=True)
            return 1
    duration = float(args[args.index("--duration-seconds") + 1]) if "--duration-seconds" in args else _length(audio)
    if duration < 0.27:
        print("note: the audio is shorter than 0.27 s; it was padded with silence", file=sys.stderr, flush=True)
    frames = int(round(duration * 30))
    out = args[args.index("--out") + 1]
    print("OHG_PROGRESS 0.5 sampling", file=sys.stderr, flush=True)
    save_motion(out, synthetic_motion(frames, fps=30.0, seed=int(args[args.index("--seed") + 1])))
    print("OHG_PROGRESS 1.0 done", file=sys.stderr, flush=True)
    return 0


def _length(audio: str) -> float:
    try:
        with wave.open(audio) as handle:
            return handle.getnframes() / handle.getframerate()
    except (wave.Error, EOFError, OSError):
        return 2.0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
