"""``rnnbench compare BASE NEW``: its arguments and its handler (exit 1 on a regression).

The rules are in rnnbench.analysis.compare, the output in rnnbench.render.compare.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Callable

from rnnbench.commands.common import add_out
from rnnbench.analysis.aa_history import load_aa_history
from rnnbench.analysis.compare.comparison import CompareSettings
from rnnbench.analysis.compare.match import compare_runs
from rnnbench.analysis.compare.pooling import pool_runs
from rnnbench.analysis.compare.timing import MIN_ROUNDS, busy_notes, timed_keys
from rnnbench.analysis.calibration import calibration_ratio, normalise
from rnnbench.analysis.sources import COMMIT_PREFIX, load_run_source
from rnnbench.errors import UsageError
from rnnbench.commands.common import load_named_plugins


def parse_fraction(flag: str, text: str) -> float:
    """``10%`` or ``0.1`` -> 0.1; anything else is a usage error."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UsageError(f"{flag}: '{text}' is not a number (give a fraction like 0.1 or a percentage like 10%)") from None
    if not (0 < value < 1):
        raise UsageError(f"{flag}: must be between 0 and 1 (or 0% and 100%), got {text}")
    return value


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``rnnbench compare`` to the CLI's subparsers."""
    p = sub.add_parser(
        "compare", help="compare two runs case by case; exit 1 on a regression",
        description="Compare NEW against BASE case by case. BASE and NEW are run ids, run folders"
                    " (results/<run-id>), files from 'rnnbench export --format json', 'latest', 'latest~N'"
                    " (N runs before the newest) or 'commit:SHA' (the newest run of that commit; a prefix"
                    " is enough). A comma list of runs of one commit pools them as rounds, judged on the run level"
                    " (docs/ci.md)."
                    " Exit codes: 0 no regression, 1 regression, 2 usage error.")
    add_common(p)
    p.add_argument("base", nargs="?", metavar="BASE", help="the reference run")
    p.add_argument("new", nargs="?", metavar="NEW", help="the run under test (default with --commit: latest)")
    p.add_argument("--commit", metavar="SHA", help="BASE is the newest run of this commit (NEW defaults to latest)")
    add_out(p)
    p.add_argument("--threshold", default="10%", help="smallest change that counts (default: %(default)s)")
    p.add_argument("--alpha", default="0.002", help="significance level of the Mann-Whitney U test (default: %(default)s)")
    p.add_argument("--acc-tolerance", default="0.02",
                   help="allowed drop of the primary metric when a case has one seed (default: %(default)s)")
    p.add_argument("--metric-tolerance", default="10%",
                   help="allowed worsening of an unbounded primary metric (MSE, loss, bits per char) with one"
                        " seed, relative to BASE (default: %(default)s)")
    p.add_argument("--strict", action="store_true",
                   help="the timing rule of before: samples of all runs as independent draws, busy machines"
                        " and the runs' own drift ignored (more false alarms; docs/ci.md)")
    p.add_argument("--normalise", action="store_true",
                   help="divide each run's timings by its calibration (a fixed GEMM and recurrence timed at the"
                        " run's start and end), in units of BASE's: for runs on different or throttled machines")
    p.add_argument("--format", choices=("table", "markdown", "json"), default="table", help="output (default: %(default)s)")
    p.set_defaults(handler=run)


def _operands(args: argparse.Namespace) -> tuple[str, str]:
    given = [x for x in (args.base, args.new) if x is not None]
    if args.commit is not None:
        if len(given) > 1:
            raise UsageError("--commit names BASE: give at most one more run (NEW)")
        return COMMIT_PREFIX + args.commit, given[0] if given else "latest"
    if len(given) < 2:
        raise UsageError("compare needs BASE and NEW (run ids, run folders, exported files, 'latest',"
                         " 'commit:SHA'), or --commit SHA")
    return given[0], given[1]


def _print_notes(base_runs: list, new_runs: list) -> None:
    """On stderr (stdout may be JSON or Markdown): where results came from, and a run compared with itself."""
    import sys

    notes = [note for loaded in base_runs + new_runs for note in loaded.notes]
    base_ids = sorted({loaded.run.run_id for loaded in base_runs})
    if base_ids == sorted({loaded.run.run_id for loaded in new_runs}):
        notes.append(f"both sides are run {', '.join(base_ids)}: a run compared with itself, so every difference"
                     " below is zero by construction and tells nothing about noise or change")
    for note in notes:
        print(f"rnnbench: note: {note}", file=sys.stderr)


def _split_runs(spec: str, what: str) -> list[str]:
    parts = [x.strip() for x in spec.split(",")]
    if any(not x for x in parts):
        raise UsageError(f"{what}: '{spec}' has an empty run name")
    return parts


def _settings(args: argparse.Namespace) -> CompareSettings:
    try:
        acc_tolerance = float(args.acc_tolerance)
        alpha = float(args.alpha)
    except ValueError:
        raise UsageError("--alpha and --acc-tolerance take numbers") from None
    if not math.isfinite(acc_tolerance):
        raise UsageError(f"--acc-tolerance: must be a finite number, got {args.acc_tolerance}")
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha: must be between 0 and 1, got {args.alpha}")
    if acc_tolerance < 0:
        raise UsageError(f"--acc-tolerance: must not be negative, got {args.acc_tolerance}")
    return CompareSettings(threshold=parse_fraction("--threshold", args.threshold), alpha=alpha,
                           acc_tolerance=acc_tolerance,
                           metric_tolerance=parse_fraction("--metric-tolerance", args.metric_tolerance),
                           strict=args.strict)


def run(args: argparse.Namespace) -> int:
    from rnnbench.render.compare import render_json, render_markdown, render_table  # deferred: fast start
    from rich.console import Console

    load_named_plugins(args.plugins)
    base_spec, new_spec = _operands(args)
    settings = _settings(args)
    out = Path(args.out)
    base_runs = [load_run_source(x, out, "BASE") for x in _split_runs(base_spec, "BASE")]
    new_runs = [load_run_source(x, out, "NEW") for x in _split_runs(new_spec, "NEW")]
    calibration = calibration_ratio(base_runs, new_runs)
    if args.normalise:
        if calibration.base is None or calibration.new is None:
            raise UsageError(f"--normalise: {calibration.describe()}")
        base_runs = [normalise(r, calibration.base["combined"]) for r in base_runs]
        new_runs = [normalise(r, calibration.base["combined"]) for r in new_runs]
    base, base_repeats = pool_runs(base_runs, "BASE")
    new, new_repeats = pool_runs(new_runs, "NEW")
    _print_notes(base_runs, new_runs)
    history = None
    if not settings.strict and min(len(base_runs), len(new_runs)) < MIN_ROUNDS:
        # fewer than MIN_ROUNDS runs a side: a change must exceed this machine's A/A band
        history = load_aa_history(out, base_runs, new_runs, timed_keys(new))
    comparison = compare_runs(base, new, settings, (base_repeats, new_repeats),
                              (busy_notes(base_runs), busy_notes(new_runs)), history)
    comparison.calibration, comparison.normalised = calibration, args.normalise
    if args.format == "json":
        print(render_json(comparison), end="")
    elif args.format == "markdown":
        print(render_markdown(comparison), end="")
    else:
        render_table(comparison, Console())
    return 1 if comparison.regressions else 0
