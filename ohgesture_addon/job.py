"""Run one generation (or any command) as a subprocess without blocking Blender.

Plain Python, no bpy: the modal operator polls a job on a timer, scripts and tests
poll it in a loop. Output is read by background threads so a chatty child never
blocks on a full pipe.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

PROGRESS_PREFIX = "OHG_PROGRESS"
RUNNING, FINISHED, FAILED, CANCELLED = "RUNNING", "FINISHED", "FAILED", "CANCELLED"


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


class ProcessJob:
    """A subprocess whose stdout/stderr lines are collected by reader threads."""

    def __init__(self, command, *, env=None, cwd=None, description="Working"):
        self.command = [str(part) for part in command]
        self.env = env
        self.cwd = cwd
        self.progress = 0.0
        self.message = description
        self.error = ""
        self.state = None
        self.returncode = None
        self._lines = []
        self._lock = threading.Lock()
        self._consumed = 0
        self._process = None
        self._threads = []

    def start(self) -> "ProcessJob":
        kwargs = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True
        elif hasattr(subprocess, "CREATE_NO_WINDOW"):
            kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, encoding="utf-8", errors="replace", bufsize=1, env=env, cwd=self.cwd, **kwargs)
        except OSError as exc:
            self.state = FAILED
            self.error = f"Cannot start {self.command[0]}: {exc.strerror or exc}."
            return self
        self.state = RUNNING
        for stream in (self._process.stdout, self._process.stderr):
            thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _read(self, stream) -> None:
        for line in stream:
            with self._lock:
                self._lines.append(line.rstrip("\r\n"))
        stream.close()

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    @property
    def pid(self):
        return self._process.pid if self._process else None

    def _consume_new_lines(self) -> None:
        with self._lock:
            new = self._lines[self._consumed:]
            self._consumed = len(self._lines)
        for line in new:
            parsed = parse_progress(line)
            if parsed:
                self.progress, self.message = parsed[0], parsed[1] or self.message

    def poll(self) -> str:
        if self.state != RUNNING:
            return self.state
        self._consume_new_lines()
        returncode = self._process.poll()
        if returncode is None:
            return RUNNING
        for thread in self._threads:
            thread.join(timeout=5)
        self._consume_new_lines()
        self.returncode = returncode
        if returncode == 0:
            self.state = FINISHED
            self.progress = 1.0
        else:
            self.state = FAILED
            self.error = self._error_line(returncode)
        return self.state

    def _error_line(self, returncode: int) -> str:
        lines = [line for line in self.lines if line.strip() and not line.startswith(PROGRESS_PREFIX)]
        for line in reversed(lines):
            if line.lower().startswith("error:"):
                return line.split(":", 1)[1].strip()
        if returncode < 0:  # POSIX: killed by a signal (out of memory, the user, a crash)
            try:
                name = signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            return f"The process was killed ({name}) before it finished."
        if lines:
            return lines[-1].strip()
        return f"The process stopped with exit code {returncode}."

    def wait(self, timeout=None, interval=0.05) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() == RUNNING:
            if deadline is not None and time.monotonic() > deadline:
                self.cancel()
                self.state, self.error = FAILED, f"The process did not finish within {timeout:.0f} s."
                break
            time.sleep(interval)
        return self.state

    def cancel(self, grace_seconds: float = 2.0) -> None:
        """Terminate the process (and kill it when it does not stop in time)."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                process.terminate()
                process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=grace_seconds)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=1)
        if self.state in (None, RUNNING):
            self.state = CANCELLED
            self.message = "Cancelled"


class ChainJob:
    """Several commands one after the other (installing dependencies); progress is the
    share of finished commands."""

    def __init__(self, steps, *, env=None):
        self.steps = list(steps)  # [(description, command), ...]
        self.env = env
        self.index = 0
        self.current = None
        self.state = None
        self.error = ""
        self.progress = 0.0
        self.message = ""

    def start(self) -> "ChainJob":
        self.state = RUNNING
        self._start_current()
        return self

    def _start_current(self) -> None:
        description, command = self.steps[self.index]
        self.message = description
        self.current = ProcessJob(command, env=self.env, description=description).start()

    def poll(self) -> str:
        if self.state != RUNNING:
            return self.state
        state = self.current.poll()
        if state == FAILED:
            self.state = FAILED
            self.error = f"{self.steps[self.index][0]} failed: {self.current.error}"
        elif state == FINISHED:
            self.index += 1
            self.progress = self.index / len(self.steps)
            if self.index == len(self.steps):
                self.state = FINISHED
            else:
                self._start_current()
        return self.state

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel()
        if self.state == RUNNING:
            self.state = CANCELLED


def venv_python(venv_dir, platform: str = sys.platform) -> str:
    if platform == "win32":
        return os.path.join(venv_dir, "Scripts", "python.exe")
    return os.path.join(venv_dir, "bin", "python")
