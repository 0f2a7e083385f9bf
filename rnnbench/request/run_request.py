"""What ``rnnbench run`` was asked to do, from up to four layers, the later winning:

1. the flags' defaults,
2. the stored request of the run named by ``--resume`` (so ``rnnbench run
   --resume RUN_ID`` alone repeats that sweep),
3. the sweep file given with ``--sweep``,
4. the flags given explicitly on the command line.

To know which flags were given explicitly, the command line is parsed a second
time with every default of ``rnnbench run`` suppressed: what is left in the
namespace was typed by the user. Repeatable flags (``-p``, ``--task-opt``)
accumulate across layers instead; for ``--task-opt`` the later layer still wins
per option, because later options overwrite earlier ones when they are parsed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from rnnbench.request.sweep_file import read_sweep_file

#: run flags that say how to present or where to store, not what to run: never in a file or a request
NOT_REQUEST = frozenset({"help", "debug", "sweep", "resume", "out", "no_progress", "command"})


def _run_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    for action in parser._actions:  # argparse offers no public way to reach a subparser
        if isinstance(action, argparse._SubParsersAction):
            return action.choices["run"]
    raise RuntimeError("the command line has no 'run' command")


def request_keys(parser: argparse.ArgumentParser) -> tuple[set[str], set[str], set[str]]:
    """(keys a sweep file may set, which are on/off switches, which are repeatable)."""
    keys, switches, repeated = set(), set(), set()
    for action in _run_parser(parser)._actions:
        if action.dest in NOT_REQUEST or action.dest == argparse.SUPPRESS:
            continue
        keys.add(action.dest)
        if isinstance(action, argparse._StoreTrueAction):
            switches.add(action.dest)
        if isinstance(action, argparse._AppendAction):
            repeated.add(action.dest)
    return keys, switches, repeated


def explicit_dests(parser_factory, argv: Sequence[str]) -> set[str]:
    """The ``rnnbench run`` destinations the user gave on the command line."""
    parser = parser_factory()
    for action in _run_parser(parser)._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(list(argv)))) - {"command"}


def stored_request(out_dir: Path, run_id: str) -> dict[str, Any]:
    """The request stored with a run, or ``{}`` for a run stored without one."""
    from rnnbench.store import DEFAULT_DB_NAME, ResultsStore

    with ResultsStore(Path(out_dir) / DEFAULT_DB_NAME, create=False) as store:
        request = store.run_info(run_id).settings.get("request")
    return dict(request) if isinstance(request, dict) else {}


def resolve_run_args(args: argparse.Namespace, argv: Sequence[str], parser_factory) -> dict[str, Any]:
    """Apply the layers to ``args`` in place; return the request to store with the run."""
    keys, switches, repeated = request_keys(parser_factory())
    explicit = explicit_dests(parser_factory, argv)
    layers: list[dict[str, Any]] = []
    if getattr(args, "resume", None):
        layers.append({k: v for k, v in stored_request(Path(args.out), args.resume).items() if k in keys})
    if getattr(args, "sweep", None):
        layers.append(read_sweep_file(args.sweep, keys, switches))
    for dest in keys:
        given = getattr(args, dest, None)
        if dest in repeated:
            merged: list[str] = []
            for layer in layers:
                merged += list(layer.get(dest) or [])
            merged += list(given or []) if dest in explicit else []
            if dest == "plugins":  # a module loaded once, in first-mention order
                merged = list(dict.fromkeys(merged))
            setattr(args, dest, merged)
        elif dest not in explicit:
            for layer in layers:
                if dest in layer:
                    setattr(args, dest, layer[dest])
    return {dest: getattr(args, dest) for dest in sorted(keys) if hasattr(args, dest)}


def resume_command(out_dir: str | Path, run_id: str) -> str:
    """The command that continues a run; its stored request supplies everything else."""
    import shlex

    return " ".join(shlex.quote(part) for part in ["rnnbench", "run", "--out", str(out_dir), "--resume", run_id])
