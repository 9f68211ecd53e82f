"""``ohgesture serve``: a warm generator. One process keeps torch, the audio stack and the
model loaded and makes one take per request, read from its standard input, answered on its
standard output (the protocol: core/cli/protocol.py). The add-on keeps one per Blender
session; any tool can drive it.

The worker ends at the end of its input (its parent exited or crashed), after
``--idle-seconds`` without a request, or on SIGTERM. A request is cancelled by a cancel
message; the next request works as usual.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from pathlib import Path

from . import protocol


def add_parser(sub) -> None:
    serve = sub.add_parser("serve", help="a warm generator speaking JSON lines on stdin/stdout (docs/cli.md)",
                           description="Keep the model loaded and make one take per request line on standard "
                                       "input; answers are JSON lines on standard output (docs/cli.md).")
    serve.add_argument("--idle-seconds", type=float, default=0.0,
                       help="exit after this long without a request (default 0: never; the end of input always ends it)")
    serve.set_defaults(func=cmd_serve)


def _generate_parser():
    """``ohgesture``'s parser with only its generate command (main imports this module)."""
    import argparse

    from . import generate

    parser = argparse.ArgumentParser(prog="ohgesture")
    generate.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


class Cancelled(Exception):
    """The running request was cancelled."""


class _Inbox:
    """Request lines read by a thread, so a cancel arrives while a take is being made."""

    def __init__(self, stream):
        self.requests: queue.Queue = queue.Queue()
        self.cancelled: set = set()
        self.closed = threading.Event()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            try:
                message = protocol.read_message(line)
            except ValueError as exc:
                self.requests.put({"invalid": str(exc)})
                continue
            if message is None:
                continue
            if "cancel" in message:
                self.cancelled.add(message["cancel"])
            else:
                self.requests.put(message)
        self.closed.set()
        self.requests.put(None)


class Worker:
    """The loaded models (per path, modification time and size) and the audio features of
    the files they read."""

    def __init__(self, send):
        from ..generation.take import AudioCache

        self.send = send
        self.models: dict = {}
        self.audio = AudioCache()

    def model(self, settings):
        from .generate import load_generator

        path = Path(settings.model) if settings.model else None
        stat = path.stat() if path is not None and path.exists() else None
        key = (str(path), settings.device, stat and stat.st_mtime_ns, stat and stat.st_size)
        if key not in self.models:
            self.models.clear()  # one model at a time: memory stays flat
            self.audio.forget_offsets()
            self.models[key] = load_generator(settings)
        elif settings.threads:  # load_generator sets the threads of the request that loaded the model
            import torch

            if torch.get_num_threads() != settings.threads:
                torch.set_num_threads(settings.threads)
        return self.models[key]

    def handle(self, request: dict, is_cancelled) -> None:
        """Make the take a request asks for and answer done, error or cancelled."""
        from .common import EXIT_USAGE, UsageError, error_line, import_error_line

        rid = request.get("id")
        started = time.time()

        def progress(fraction, message=""):
            if is_cancelled(rid):
                raise Cancelled
            self.send(protocol.progress_message(rid, fraction, message))

        try:
            from .generate import parse_request, write_take
            from ..generation.take import make_take

            argv = list(request["argv"])
            if not argv or argv[0] != "generate":
                raise UsageError("a request's argv must start with generate.")
            args = _generate_parser().parse_args(argv)
            out, settings, inputs = parse_request(args)
            progress(0.0, "loading the model" if not self.models else "warm")
            lm = self.model(settings)
            progress(0.02, "reading audio")
            take = make_take(lm, settings, inputs, progress, audio_cache=self.audio)
            for note in take.notes:
                self.send(protocol.note_message(rid, note))
            progress(0.97, "writing")
            write_take(out, take, inputs, lm.layout.root_joint)
        except Cancelled:
            self.send(protocol.cancelled_message(rid))
        except SystemExit as exc:  # argparse: the line is on stderr
            self.send(protocol.error_message(rid, "the request's flags are not valid (see ohgesture generate --help).",
                                             int(exc.code or EXIT_USAGE)))
        except ImportError as exc:
            self.send(protocol.error_message(rid, import_error_line(exc), 1))
        except (ValueError, OSError, KeyError, TypeError) as exc:
            code, text = error_line(exc)
            self.send(protocol.error_message(rid, text, code))
        else:
            self.send(protocol.done_message(rid, str(out), time.time() - started))


def cmd_serve(args) -> int:
    lock = threading.Lock()
    stdout = sys.stdout

    def send(message: dict) -> None:
        with lock:
            stdout.write(protocol.write_message(message))
            stdout.flush()

    inbox = _Inbox(sys.stdin)
    worker = Worker(send)
    send(protocol.hello_message())
    idle = args.idle_seconds if args.idle_seconds and args.idle_seconds > 0 else None
    while True:
        try:
            request = inbox.requests.get(timeout=idle)
        except queue.Empty:
            return 0  # idle too long: the add-on starts a fresh one when needed
        if request is None:
            return 0  # end of input: the parent is gone
        if "invalid" in request:
            send(protocol.error_message(None, request["invalid"], 2))
            continue
        if request.get("version") != protocol.VERSION:
            send(protocol.error_message(request.get("id"), f"this worker speaks protocol version {protocol.VERSION}, "
                                        f"the request {request.get('version')!r}.", 2))
            continue
        worker.handle(request, lambda rid: rid in inbox.cancelled or inbox.closed.is_set())
