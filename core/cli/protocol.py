"""The generator's contract with the programs that run it (the add-on, the batch script):
the command line they build and the lines it writes back. Plain Python, no bpy, no torch:
both sides import it, so neither writes a flag or a prefix of its own.

- ``generate_argv``: the arguments of ``ohgesture generate`` for a ``GenerationSettings`` and
  the request's inputs (audio, output, animated blend, constraints, kept take and range).
- ``progress_line``/``parse_progress``: ``OHG_PROGRESS <fraction> <message>`` on stderr.
- ``note_line``/``parse_note``: ``note: <text>``, something the user should know about a take
  that is not an error (audio padded with silence).
"""

from __future__ import annotations

from ..generation.settings import GenerationSettings

PROGRESS_PREFIX = "OHG_PROGRESS"
NOTE_PREFIX = "note: "


def generate_argv(settings: GenerationSettings, audio: str, out: str, *, gamma_curve: str | None = None,
                  delivery_curve: str | None = None,
                  constraints: str | None = None, keep: str | None = None, frame_range: tuple[int, int] | None = None,
                  start_seconds: float | None = None, duration_seconds: float | None = None) -> list[str]:
    """``generate AUDIO --out OUT --progress-lines`` with every setting and the given inputs."""
    argv = ["generate", str(audio), "--out", str(out), "--progress-lines", *settings.to_argv()]
    if gamma_curve is not None:
        argv += ["--gamma-curve", str(gamma_curve)]
    if delivery_curve is not None:
        argv += ["--delivery-curve", str(delivery_curve)]
    if start_seconds is not None:
        argv += ["--start-seconds", f"{start_seconds:.6f}", "--duration-seconds", f"{duration_seconds:.6f}"]
    if constraints is not None:
        argv += ["--constraints", str(constraints)]
    if keep is not None:
        argv += ["--keep", str(keep), "--range", f"{frame_range[0]}:{frame_range[1]}"]
    return argv


def progress_line(fraction: float, message: str = "") -> str:
    return f"{PROGRESS_PREFIX} {fraction:.4f} {message}"


def parse_progress(line: str):
    """(fraction, message) for an ``OHG_PROGRESS <fraction> <message>`` line, else None."""
    parts = line.strip().split(None, 2)
    if len(parts) < 2 or parts[0] != PROGRESS_PREFIX:
        return None
    try:
        fraction = float(parts[1])
    except ValueError:
        return None
    return min(max(fraction, 0.0), 1.0), parts[2] if len(parts) > 2 else ""


def note_line(text: str) -> str:
    return f"{NOTE_PREFIX}{text}"


def parse_note(line: str) -> str | None:
    """The text of a ``note: ...`` line, else None."""
    return line[len(NOTE_PREFIX):] if line.startswith(NOTE_PREFIX) else None


# --- the warm worker (``ohgesture serve``) ----------------------------------------------------
# One JSON object per line. The worker starts with {"hello": VERSION, "pid": ..., "python": ...};
# a request is {"version": VERSION, "id": ID, "argv": ["generate", AUDIO, "--out", OUT, ...]}
# (generate_argv: the command line it replaces); {"cancel": ID} cancels it. The answers to a
# request: {"id", "progress", "message"} lines, {"id", "note"} lines, then one of
# {"id", "done": OUT, "seconds"}, {"id", "error": one sentence, "exit": code} or
# {"id", "cancelled": true}.

VERSION = 1


def write_message(message: dict) -> str:
    import json

    return json.dumps(message, separators=(",", ":")) + "\n"


def read_message(line: str) -> dict | None:
    """The message of one line (None for a blank line); ValueError for anything but a JSON object."""
    import json

    line = line.strip()
    if not line:
        return None
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("a protocol line must be a JSON object.")
    return message


def hello_message() -> dict:
    import os
    import sys

    return {"hello": VERSION, "pid": os.getpid(), "python": sys.executable}


def request_message(rid: int, argv: list[str]) -> dict:
    return {"version": VERSION, "id": rid, "argv": [str(a) for a in argv]}


def cancel_message(rid: int) -> dict:
    return {"cancel": rid}


def progress_message(rid, fraction: float, message: str = "") -> dict:
    return {"id": rid, "progress": round(min(max(float(fraction), 0.0), 1.0), 4), "message": message}


def note_message(rid, text: str) -> dict:
    return {"id": rid, "note": text}


def done_message(rid, out: str, seconds: float) -> dict:
    return {"id": rid, "done": out, "seconds": round(seconds, 3)}


def error_message(rid, text: str, code: int = 1) -> dict:
    return {"id": rid, "error": text, "exit": code}


def cancelled_message(rid) -> dict:
    return {"id": rid, "cancelled": True}
