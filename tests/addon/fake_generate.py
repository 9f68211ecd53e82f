"""A stand-in for `core/cli/_entry.py generate` used by the add-on tests: a real subprocess
that prints OHG_PROGRESS lines and writes a motion npz for the test skeleton.
FAKE_MODE: "ok" (default), "slow" (keeps running), "fail" (error line, exit 1).
FAKE_ARGS_LOG: where to write the received arguments as JSON."""

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from blender_util import save_motion, synthetic_motion  # noqa: E402


def main(argv):
    args = argv[1:]
    log = os.environ.get("FAKE_ARGS_LOG")
    if log:
        record = {"argv": args}
        if "--gamma-curve" in args:
            import numpy as np

            record["gamma_curve"] = np.load(args[args.index("--gamma-curve") + 1]).tolist()
        Path(log).write_text(json.dumps(record))
    mode = os.environ.get("FAKE_MODE", "ok")
    print("OHG_PROGRESS 0.0 loading model", file=sys.stderr, flush=True)
    if mode == "fail":
        print("error: the audio file could not be decoded.", file=sys.stderr, flush=True)
        return 1
    if mode == "slow":
        for k in range(600):
            print(f"OHG_PROGRESS {min(k / 600, 0.99):.3f} sampling", file=sys.stderr, flush=True)
            time.sleep(0.1)
    duration = float(args[args.index("--duration-seconds") + 1]) if "--duration-seconds" in args else 2.0
    frames = int(round(duration * 30))
    out = args[args.index("--out") + 1]
    print("OHG_PROGRESS 0.5 sampling", file=sys.stderr, flush=True)
    save_motion(out, synthetic_motion(frames, fps=30.0, seed=int(args[args.index("--seed") + 1])))
    print("OHG_PROGRESS 1.0 done", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
