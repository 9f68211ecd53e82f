"""What every command of the ``ohgesture`` tool shares: its error type, the progress
reporter and the output-path check."""

from __future__ import annotations

import sys
from pathlib import Path

from ..atomic import folder_writable
from ..generation.settings import SettingError
from .protocol import progress_line


class CliError(ValueError):
    """A mistake of the user's, said in one line (exit 1: the command failed)."""


class UsageError(CliError):
    """A mistake in the command line itself (a flag's value, flags that do not go together, an
    output that exists): exit 2, found before the model and torch are loaded."""


EXIT_USAGE = 2
EXIT_FAILED = 1


def error_line(exc: Exception) -> tuple[int, str]:
    """(exit code, one line) for an error the user can cause: a usage mistake exits 2, any
    other project error (a ValueError or OSError) 1."""
    message = str(exc).strip()
    if isinstance(exc, (UsageError, SettingError)):
        return EXIT_USAGE, message
    return EXIT_FAILED, message.splitlines()[0] if message else type(exc).__name__


def import_error_line(exc: ImportError) -> str:
    """The one line for an interpreter that lacks a dependency (the add-on pointed at the wrong
    Python, say)."""
    return (f"this Python ({sys.executable}) cannot import {exc.name or exc}; install the dependencies (Blender: "
            f"add-on preferences > Install Dependencies; elsewhere: pip install torch numpy scipy librosa soundfile "
            f"safetensors tqdm).")


class ProgressReporter:
    """Progress on stderr: a bar on a terminal, one plain line per step when stderr is a file or
    a pipe (a log), or ``OHG_PROGRESS <fraction> <message>`` lines for the add-on."""

    def __init__(self, machine: bool, total_label: str = "generate"):
        self.machine = machine
        self.bar = None
        self.label = total_label
        self._last = -1.0
        self._last_message = None
        self.terminal = sys.stderr.isatty()

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        if self.machine:
            if fraction - self._last >= 0.005 or fraction >= 1.0:
                self._last = fraction
                print(progress_line(fraction, message), file=sys.stderr, flush=True)
            return
        if not self.terminal:  # a log: a line per tenth and per new step, never a carriage-return bar
            if fraction < 0.05:  # nothing until sampling starts, so early errors stay one line
                return
            step = message.split(" ", 1)[0]
            if fraction - self._last >= 0.1 or step != self._last_message or fraction >= 1.0 > self._last:
                self._last, self._last_message = fraction, step
                print(f"{self.label}: {fraction:4.0%} {message}".rstrip(), file=sys.stderr, flush=True)
            return
        if self.bar is None:  # from the start, so the first run's loading shows what it is waiting for
            from tqdm import tqdm

            self.bar = tqdm(total=1000, desc=self.label, unit="‰", file=sys.stderr, dynamic_ncols=True, leave=False,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} {postfix}")
        self.bar.n = int(fraction * 1000)
        self.bar.set_postfix_str(message, refresh=True)

    def close(self) -> None:
        """Remove the bar (the caller's last line says what was done); also on an error."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def check_output(path: Path, overwrite: bool, suffixes: tuple[str, ...], *, make_folders: bool = False) -> Path:
    """Refuse, in one sentence and before any work, an output that cannot be written: the
    wrong suffix, a folder in its place, a parent that is a file, missing (unless
    ``make_folders``: the caller makes the missing folders) or not writable, an existing
    file without ``overwrite``."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"output {path} must end in {' or '.join(suffixes)}.")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; give the name of a file ending in {' or '.join(suffixes)}.")
    parent = path.parent if str(path.parent) else Path(".")
    while make_folders and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"the output folder {parent} is a file, not a folder.")
    if not parent.is_dir():
        raise UsageError(f"the output folder {parent} does not exist.")
    if not folder_writable(parent):
        raise CliError(f"the output folder {parent} is not writable.")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} already exists; pass --overwrite to replace it.")
    return path
