"""``rnnbench report RUN``: rebuild a run's folder (results.csv, env.json, plots, report.md,
report.html) from the results database alone; its arguments and its handler."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from rnnbench.commands.common import add_out
from rnnbench.analysis.sources import load_run_source
from rnnbench.errors import UsageError
from rnnbench.commands.common import load_named_plugins


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("report", help="rebuild a run's plots, report.md and report.html from the store",
                       description="Rebuild results/RUN/ (results.csv, env.json, plots, report.md,"
                                   " report.html) from the results database alone.")
    add_common(p)
    p.add_argument("run", metavar="RUN",
                   help="the run to report: a run id, its folder, 'latest', 'latest~N' or 'commit:SHA'")
    add_out(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rnnbench.render.plots import matplotlib_missing  # deferred: fast start
    from rnnbench.render.run_folder import write_run_folder  # deferred: fast start
    load_named_plugins(args.plugins)
    if Path(args.run).is_file():
        raise UsageError(f"RUN: {args.run} is a file; report rebuilds a run folder from a results database"
                         " (name a run id, a run folder, 'latest' or 'commit:SHA')")
    loaded = load_run_source(args.run, Path(args.out), "RUN")
    paths = write_run_folder(loaded.run, loaded.results)
    print(paths.markdown)
    print(paths.html)
    missing = matplotlib_missing()
    if missing and loaded.results:
        print(f"rnnbench: note: the report has no plots: {missing}", file=sys.stderr)
    return 0
