"""``rnnbench history``: its arguments and its handler.

The data is built by rnnbench.analysis.history, written by rnnbench.render.history.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from rnnbench.commands.common import add_out
from rnnbench.analysis.history import load_history
from rnnbench.errors import UsageError
from rnnbench.store import DEFAULT_DB_NAME
from rnnbench.commands.common import load_named_plugins


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("history", help="one metric of chosen cases over the runs and commits in the store",
                       description="Show a metric of the stored cases over time: one row per run (oldest first),"
                                   " one column per case.")
    add_common(p)
    p.add_argument("--metric", default="forward_latency_s",
                   help="a results.csv metric column, SCENARIO_NAME (default: %(default)s)")
    p.add_argument("--model", default=None, help="comma list of models (ARCH or ARCH@BACKEND; default: all)")
    p.add_argument("--task", default=None, help="comma list of tasks (default: all)")
    add_out(p)
    p.add_argument("--format", choices=("table", "markdown"), default="table", help="(default: %(default)s)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the history to a PNG (needs rnnbench[plot])")
    p.add_argument("--normalise", action="store_true",
                   help="divide each run's timings by its calibration (a fixed reference computation timed at the"
                        " run's start and end), so runs on machines of different speed share one scale")
    p.set_defaults(handler=run)


#: image formats --plot writes (matplotlib's, chosen by the file's suffix)
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def _names(text: str | None, flag: str) -> list[str]:
    """A comma list of names; absent means all, but an empty one given is a mistake, not 'all'."""
    if text is None:
        return []
    names = [item.strip().lower() for item in text.split(",") if item.strip()]
    if not names:
        raise UsageError(f"{flag}: must not be empty (leave it out for all)")
    return names


def run(args: argparse.Namespace) -> int:
    from rnnbench.render.history import (  # deferred: fast start
        plot_history, render_markdown, render_table, require_matplotlib)
    from rich.console import Console

    load_named_plugins(args.plugins)
    if args.plot is not None:
        if not args.plot.strip():
            raise UsageError("--plot: must not be empty; give a file name such as history.png")
        if Path(args.plot).suffix.lower() not in PLOT_SUFFIXES:  # matplotlib takes the format from the name
            raise UsageError(f"--plot: '{args.plot}' must end in {', '.join(PLOT_SUFFIXES)} (the name gives the"
                             " image format)")
        require_matplotlib()
    h = load_history(Path(args.out) / DEFAULT_DB_NAME, args.metric, _names(args.model, "--model"),
                     _names(args.task, "--task"),
                     normalise=args.normalise)
    for note in h.notes:
        print(f"rnnbench: note: {note}", file=sys.stderr)
    if args.format == "markdown":
        print(render_markdown(h))
    else:
        render_table(h, Console())
    if args.plot is not None:
        plot_history(h, Path(args.plot))
        print(f"plot: {args.plot}")
    return 0
