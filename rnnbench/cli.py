"""The ``rnnbench`` command line: the top parser and the dispatch to one module per subcommand.

Every user error ends in one line on stderr and a non-zero exit (2 for usage
errors); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from typing import Sequence

import rnnbench
from rnnbench.errors import RnnbenchError, UsageError

#: the subcommands' modules, in the order ``rnnbench --help`` lists them; imported by
#: :func:`commands` inside :func:`main`, so that a Ctrl-C during their seconds of imports
#: (torch, scipy, pandas) is the one line "interrupted", not a traceback
COMMAND_MODULES = ("run", "list", "env", "compare", "history", "export", "report", "study")


def commands() -> tuple:
    """The subcommand modules (their imports take seconds)."""
    import importlib

    return tuple(importlib.import_module(f"rnnbench.commands.{name}") for name in COMMAND_MODULES)


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line with exit code 2, like the rest of the CLI."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnbench", description="Benchmark recurrent models against Transformers: "
                     "speed, memory and accuracy, through plugins.")
    parser.add_argument("--version", action="version", version=f"rnnbench {rnnbench.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    from rnnbench.commands.common import add_common  # deferred: fast start (and a Ctrl-C in it is one line)

    for command in commands():
        command.add_parser(sub, add_common)
    return parser


def _printable_output() -> None:
    """On a stream that cannot encode a character (``PYTHONIOENCODING=ascii``, a Latin-1 pipe), print a
    replacement instead of failing after the work is done."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower().replace("-", "") != "utf8":
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # a stream already in use or closed keeps its settings
                pass


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _printable_output()
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        args.argv = argv
        return args.handler(args)
    except RnnbenchError as exc:
        if debug:
            raise
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except sqlite3.Error as exc:  # the store turns its own errors into lines; this catches any that slip by
        if debug:
            raise
        print(f"rnnbench: error: results database: {exc} (docs/robustness.md, 'Bad input')", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before a run existed: nothing was stored, nothing to resume
        print("rnnbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, reported as one line unless --debug
        if debug:
            raise
        print(f"rnnbench: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
