"""What every subcommand shares: the -p/--debug/--out flags and loading the plugins."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rnnbench.execution.runner import registry_for
from rnnbench.errors import UsageError
from rnnbench.manager import IMPORT_FAILED, Registry
from rnnbench.store import DEFAULT_DB_NAME, DEFAULT_RESULTS_FOLDER


def add_common(parser: argparse.ArgumentParser, *, plugins: bool = True) -> None:
    if plugins:
        parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="MODULE",
                            help="load a plugin module by import path (repeatable), as pytest -p")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")


def add_out(parser) -> None:
    """``--out FOLDER``: the results folder that holds the database (and the run folders)."""
    parser.add_argument("--out", default=DEFAULT_RESULTS_FOLDER,
                        help=f"results folder holding {DEFAULT_DB_NAME} (default: %(default)s)")


def load_plugins(modules: list[str] | tuple[str, ...]) -> Registry:
    """The plugins of this process; each problem a plugin had is one warning line."""
    registry = registry_for(tuple(modules))
    for problem in registry.problems:
        # a module asked for by name (-p, or a sweep file's plugins) that cannot be imported is an error,
        # as with pytest -p; an installed plugin that breaks costs only its own models and tasks
        if problem.plugin in modules and problem.message.startswith(IMPORT_FAILED):
            raise UsageError(f"-p {problem.plugin}: cannot import the plugin module"
                             f"{problem.message[len(IMPORT_FAILED):]}")
    for problem in registry.problems:
        print(f"rnnbench: warning: {problem}", file=sys.stderr)
    return registry


def load_named_plugins(modules: list[str]) -> None:
    """Load the ``-p`` modules of a command that reads stored runs, so that a typo is an error, not ignored.

    Stored rows need no plugin to be read; loading them keeps ``-p`` meaning the same in every command.
    """
    if modules:
        load_plugins(modules)


def results_folder(text: str, flag: str = "--out") -> Path:
    """``--out`` of a command that writes runs: refused when empty, not UTF-8, or inside a run's folder.

    A results folder holds ``rnnbench.db`` and one folder per run; a database created inside a run
    folder would hide the runs from every command reading the outer one.
    """
    if not text.strip():
        raise UsageError(f"{flag}: empty path; give the results folder, e.g. {flag} results")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as surrogate escapes
        raise UsageError(f"{flag}: the path {os.fsencode(text)!r} is not valid UTF-8; rnnbench stores and prints"
                         " paths as text: rename the folder or choose another") from None
    path = Path(text)
    for folder in [path.resolve(), *path.resolve().parents]:
        if (folder.parent / DEFAULT_DB_NAME).is_file() and (folder / "env.json").is_file():
            raise UsageError(f"{flag}: {text} is inside the run folder {folder}; give the results folder that"
                             f" holds {DEFAULT_DB_NAME} ({folder.parent}) or a new one")
    return path
