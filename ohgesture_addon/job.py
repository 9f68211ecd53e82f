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

from ..core.cli.protocol import (PROGRESS_PREFIX, cancel_message, note_line, parse_progress, read_message,
                                 request_message, write_message)

RUNNING, FINISHED, FAILED, CANCELLED = "RUNNING", "FINISHED", "FAILED", "CANCELLED"


def _wait(job, timeout, interval: float, what: str) -> str:
    """Poll ``job`` until it ends; past ``timeout`` seconds cancel it and fail."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while job.poll() == RUNNING:
        if deadline is not None and time.monotonic() > deadline:
            job.cancel()
            job.state, job.error = FAILED, f"The {what} did not finish within {timeout:.0f} s."
            break
        time.sleep(interval)
    return job.state


def _signal_name(returncode: int) -> str:
    """The signal that killed a process (POSIX: a negative return code)."""
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


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
            return f"The process was killed ({_signal_name(returncode)}) before it finished."
        if lines:
            return lines[-1].strip()
        return f"The process stopped with exit code {returncode}."

    def wait(self, timeout=None, interval=0.05) -> str:
        return _wait(self, timeout, interval, "process")

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


# --- the warm generator ------------------------------------------------------------------------

class Worker:
    """One ``ohgesture serve`` process: torch, the audio stack and the model stay loaded
    between takes. Its answers are read by a thread and sorted by request id."""

    def __init__(self, python: str, entry_script: str, key: tuple, idle_seconds: float = 0.0):
        self.key = key
        self.ready = False
        self._answers: dict = {}
        self._stderr: list = []
        self._lock = threading.Lock()
        self._next_id = 0
        kwargs = {"start_new_session": True} if os.name == "posix" else {}
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen(
            [python, entry_script, "serve", "--idle-seconds", f"{idle_seconds:g}"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1,
            env=env, **kwargs)
        for target, stream in ((self._read_answers, self.process.stdout), (self._read_stderr, self.process.stderr)):
            threading.Thread(target=target, args=(stream,), daemon=True).start()

    def _read_answers(self, stream) -> None:
        for line in stream:
            try:
                message = read_message(line)
            except ValueError:
                continue  # a library's print, not the protocol
            if message is None:
                continue
            with self._lock:
                if "hello" in message:
                    self.ready = True
                else:
                    self._answers.setdefault(message.get("id"), []).append(message)
        stream.close()

    def _read_stderr(self, stream) -> None:
        for line in stream:
            with self._lock:
                self._stderr = (self._stderr + [line.rstrip()])[-20:]
        stream.close()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _send(self, message: dict) -> None:
        self.process.stdin.write(write_message(message))
        self.process.stdin.flush()

    def submit(self, argv: list[str]) -> int:
        with self._lock:
            self._next_id += 1
            rid = self._next_id
        self._send(request_message(rid, argv))
        return rid

    def answers(self, rid: int) -> list[dict]:
        """The answers to ``rid`` that arrived since the last call."""
        with self._lock:
            return self._answers.pop(rid, [])

    def cancel(self, rid: int) -> None:
        try:
            self._send(cancel_message(rid))
        except (OSError, ValueError):
            pass

    def death(self) -> str:
        """One sentence on why the worker stopped."""
        code = self.process.poll()
        if code is not None and code < 0:
            return (f"The generator was killed ({_signal_name(code)}) before it finished; the next Generate starts a "
                    f"new one.")
        last = next((line for line in reversed(self._stderr) if line.lower().startswith("error:")), "")
        return last.split(":", 1)[1].strip() if last else \
            f"The generator stopped (exit code {code}) before it finished; the next Generate starts a new one."

    def stop(self, grace_seconds: float = 2.0) -> None:
        """End of input (the worker exits by itself), then SIGTERM, then SIGKILL."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace_seconds)


_worker: Worker | None = None


def warm_worker(python: str, entry_script: str, key: tuple, idle_seconds: float = 0.0) -> tuple[Worker, bool]:
    """The session's worker for ``key`` (interpreter, model file and its modification time and
    size): the running one, else a new one (a changed key stops the old). Returns (worker,
    whether it was warm)."""
    global _worker
    if _worker is not None and _worker.alive() and _worker.key == key:
        return _worker, True
    stop_worker()
    _worker = Worker(python, entry_script, key, idle_seconds)
    return _worker, False


def stop_worker() -> None:
    """Stop the session's worker (the add-on is disabled); the next Generate starts one."""
    global _worker
    worker, _worker = _worker, None
    if worker is not None:
        worker.stop()


def drop_worker(worker: Worker) -> None:
    """Forget (and kill) a worker that died or would not cancel."""
    global _worker
    if _worker is worker:
        _worker = None
    if worker.alive():
        worker.process.kill()
        worker.process.wait(timeout=5)


class WorkerJob:
    """One request to the warm worker, polled like a ProcessJob (``session.GenerationSession``)."""

    def __init__(self, argv, *, python: str, entry_script: str, key: tuple, idle_seconds: float = 0.0):
        self.argv = [str(a) for a in argv]
        self.python, self.entry_script, self.key, self.idle_seconds = python, entry_script, key, idle_seconds
        self.progress = 0.0
        self.message = "Starting"
        self.error = ""
        self.state = None
        self.worker = None
        self.rid = None
        self._lines: list[str] = []

    @property
    def lines(self) -> list[str]:
        return list(self._lines)

    @property
    def pid(self):
        return self.worker.pid if self.worker else None

    def start(self) -> "WorkerJob":
        try:
            self.worker, warm = warm_worker(self.python, self.entry_script, self.key, self.idle_seconds)
            self.rid = self.worker.submit(self.argv)
        except OSError as exc:
            self.state, self.error = FAILED, f"Cannot start {self.python}: {exc.strerror or exc}."
            return self
        self.message = "Generator warm" if warm else "Starting the generator (loading torch and the model)"
        self.state = RUNNING
        return self

    def poll(self) -> str:
        if self.state != RUNNING:
            return self.state
        for answer in self.worker.answers(self.rid):
            if "progress" in answer:
                self.progress = answer["progress"]
                self.message = answer.get("message") or self.message
            elif "note" in answer:
                self._lines.append(note_line(answer["note"]))
            elif "done" in answer:
                self.state, self.progress = FINISHED, 1.0
            elif "error" in answer:
                self.state, self.error = FAILED, answer["error"]
            elif "cancelled" in answer:
                self.state, self.message = CANCELLED, "Cancelled"
        if self.state == RUNNING and not self.worker.alive():
            for answer in self.worker.answers(self.rid):  # the last words before it stopped
                if "done" in answer:
                    self.state = FINISHED
                    return self.state
            self.state, self.error = FAILED, self.worker.death()
            drop_worker(self.worker)
        return self.state

    def wait(self, timeout=None, interval=0.02) -> str:
        return _wait(self, timeout, interval, "generator")

    def cancel(self, grace_seconds: float = 2.0) -> None:
        """Ask the worker to drop the request; one that does not answer in time is killed
        (the next request starts a fresh one)."""
        if self.state == RUNNING and self.worker is not None:
            self.worker.cancel(self.rid)
            deadline = time.monotonic() + grace_seconds
            while self.poll() == RUNNING and time.monotonic() < deadline:
                time.sleep(0.02)
            if self.state == RUNNING:
                drop_worker(self.worker)
        if self.state in (None, RUNNING):
            self.state, self.message = CANCELLED, "Cancelled"
