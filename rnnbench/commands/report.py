"""``rnnbench report RUN_ID``: rebuild a run's folder from the results database alone."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnnbench.render.plots import matplotlib_missing
from rnnbench.render.run_folder import write_run_folder
from rnnbench.store import DEFAULT_DB_NAME, load_run


def add_parser(sub, add_common) -> None:
    parser = sub.add_parser("report", help="rebuild a run's plots, report.md and report.html from the store",
                            description="Rebuild results/RUN_ID/ (results.csv, env.json, plots, report.md,"
                            " report.html) from the results database alone.")
    add_common(parser)
    parser.add_argument("run_id", metavar="RUN_ID", help="the run to report (see results/rnnbench.db)")
    parser.add_argument("--out", default="results", help="results folder holding rnnbench.db (default: %(default)s)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    run_info, results = load_run(Path(args.out) / DEFAULT_DB_NAME, args.run_id)
    paths = write_run_folder(run_info, results)
    print(paths.markdown)
    print(paths.html)
    missing = matplotlib_missing()
    if missing and results:
        print(f"rnnbench: note: the report has no plots: {missing}", file=sys.stderr)
    return 0
