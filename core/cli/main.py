"""The ``ohgesture`` command-line tool: the parser and the one place errors become one line.

Every failure the user can cause ends in one line ``error: ...`` on stderr and a
non-zero exit code, never a traceback. Each command lives in its own module.
"""

from __future__ import annotations

import argparse
import sys

from . import data, generate, info

EXIT_USAGE = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line, like every other error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ohgesture", description="Speech-driven, emotion-controllable gesture animation.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    info.add_parser(sub)
    generate.add_parser(sub)
    data.add_parsers(sub)
    try:
        from ..evaluation.evaluate import add_cli as add_evaluate_cli
    except ImportError:  # no numpy in this interpreter: main() says how to install the dependencies
        pass
    else:
        add_evaluate_cli(sub)
    data.add_export_parser(sub)
    return p


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # so temp files are removed when the add-on cancels (SIGTERM)


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    except ValueError:  # not the main thread (main() called from a script's worker)
        pass
    try:
        return int(args.func(args) or 0)
    except ImportError as exc:  # e.g. the add-on pointed at an interpreter without torch
        print(f"error: this Python ({sys.executable}) cannot import {exc.name or exc}; install the dependencies "
              f"(Blender: add-on preferences > Install Dependencies; elsewhere: pip install torch numpy scipy "
              f"librosa soundfile safetensors tqdm).", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, OSError) as exc:  # every project error is a ValueError subclass
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
