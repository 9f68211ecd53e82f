"""The ``ohgesture`` command-line tool: the parser and the one place errors become one line.

Every failure the user can cause ends in one line ``error: ...`` on stderr and a
non-zero exit code, never a traceback. Each command lives in its own module.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import data, generate, info, serve
from ..generation.settings import SettingError
from .common import EXIT_FAILED, EXIT_USAGE, UsageError, error_line, import_error_line



class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line, like every other error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


LIGHT_COMMANDS = ("info", "generate", "serve", "prepare", "train", "export")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; when the command about to run is one of LIGHT_COMMANDS, ``evaluate`` is
    listed without its flags, so its module (numpy and scipy: most of a second) is not imported."""
    p = _Parser(prog="ohgesture", description="Speech-driven, emotion-controllable gesture animation.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    info.add_parser(sub)
    generate.add_parser(sub)
    serve.add_parser(sub)
    data.add_parsers(sub)
    if command in LIGHT_COMMANDS:
        sub.add_parser("evaluate", help="measure a model (ohgesture evaluate --help)")
    else:
        try:
            from ..evaluation.evaluate import add_cli as add_evaluate_cli
        except ImportError:  # no numpy in this interpreter: main() says how to install the dependencies
            pass
        else:
            add_evaluate_cli(sub)
    data.add_export_parser(sub)
    return p


def _quiet_closed_pipe() -> int:
    """``ohgesture info X | head -1``: the reader left; end quietly, no traceback, no error line."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_FAILED


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # so temp files are removed when the add-on cancels (SIGTERM)


def main(argv: list[str] | None = None) -> int:
    import signal

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(next((a for a in argv if not a.startswith("-")), None))
    args = parser.parse_args(argv)
    try:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    except ValueError:  # not the main thread (main() called from a script's worker)
        pass
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return _quiet_closed_pipe()
    except (UsageError, SettingError) as exc:  # a flag's value: refused before torch loads
        message = error_line(exc)[1]
        if not getattr(args, "progress_lines", False):  # a person at a terminal, not the add-on
            message = f"{message.rstrip('.')} (see ohgesture {args.command} --help)."
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:  # e.g. the add-on pointed at an interpreter without torch
        print(f"error: {import_error_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError) as exc:  # every project error is a ValueError subclass
        print(f"error: {error_line(exc)[1]}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
