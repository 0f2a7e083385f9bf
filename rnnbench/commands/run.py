"""``rnnbench run``: its arguments, and its handler: resolve the request, run it (rnnbench.run_service), print it."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from rnnbench.analysis.sources import store_run_id
from rnnbench.commands.common import add_out, load_plugins, results_folder
from rnnbench.errors import OptionError, UsageError
from rnnbench.execution.interrupts import interrupt_once
from rnnbench.records import RunInfo
from rnnbench.request.options import OPTIONS, default_text, switch
from rnnbench.request.run_request import locate_option_error, resolve_request, resume_command
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore

if TYPE_CHECKING:
    from rnnbench.run_service import FinishedRun


def add_parser(sub, add_common) -> None:
    parser = sub.add_parser("run", help="run a sweep of models x tasks x sizes and report it",
                            description="Run a sweep. Axes are comma lists; their product is the set of cases.")
    add_common(parser, plugins=False)  # -p is a request option below: a sweep file may set it too
    groups = {"axes": parser.add_argument_group("sweep axes (comma lists)"),
              "how": parser.add_argument_group("how to run")}
    for option in OPTIONS:
        # No defaults here: what argparse returns is exactly what was typed (RunRequest has the defaults).
        kwargs: dict[str, Any] = {"dest": option.key, "default": argparse.SUPPRESS, "metavar": option.metavar}
        if option.parse is switch:
            kwargs = {"dest": option.key, "default": argparse.SUPPRESS, "action": "store_true"}
        elif option.accumulates:
            kwargs["action"] = "append"
        help_text = option.help if option.accumulates or option.parse is switch else \
            f"{option.help} (default: {default_text(option.key)})"
        groups[option.group].add_argument(option.cli_flag, help=help_text, **kwargs)
    how = groups["how"]
    add_out(how)
    how.add_argument("--resume", metavar="RUN",
                     help="continue a run (a run id, 'latest' or 'latest~N') with its stored flags: skip its ok"
                     " cases, rerun failed and missing ones")
    how.add_argument("--sweep", metavar="FILE.toml",
                     help="read the flags from a TOML sweep file; flags given here override it (docs/robustness.md)")
    how.add_argument("--allow-changed-settings", action="store_true",
                     help="with --resume: allow threads, scenarios or timing settings other than the run's; each row"
                     " then records its own and the outputs say what varied")
    how.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


#: arguments of ``rnnbench run`` that say where to store or how to show, not what to run
_NOT_REQUEST = ("out", "resume", "sweep", "no_progress", "debug", "handler", "command", "argv",
                "allow_changed_settings")


def run(args: argparse.Namespace) -> int:
    from rnnbench.render.run_console import ConsoleObserver  # deferred: fast start
    from rnnbench.run_service import (  # deferred: fast start
        asked_threads, check_kept, plan_cases, run_request, start_process)

    out = results_folder(args.out)
    flags = {k: v for k, v in vars(args).items() if k not in _NOT_REQUEST}
    if args.resume is not None and not args.resume.strip():  # else '' would start a new default sweep
        raise UsageError("--resume: empty run name; give a run id, 'latest' or 'latest~N'")
    if args.resume:  # 'latest' and 'latest~N' name a stored run here as everywhere
        args.resume = store_run_id(args.resume, out, what="--resume")
    if args.allow_changed_settings and not args.resume:
        err_early = Console(stderr=True)
        err_early.print("rnnbench: warning: --allow-changed-settings applies to --resume only; a new run measures"
                        " every case alike, so it is ignored", markup=False, highlight=False, soft_wrap=True)
    stored_run = _stored_run(out, args.resume) if args.resume else None
    stored = _request_of(stored_run) if stored_run is not None else None
    request = resolve_request(flags, stored=stored, sweep=args.sweep)
    kept = stored_run.run_settings if stored_run is not None else None
    start = start_process(asked_threads(request, kept), request.max_corpus_mb)  # before torch loads
    registry = load_plugins(request.plugins)
    registry.resolve_executor(request.executor)  # fail before any work on a typo
    err = Console(stderr=True)
    err.soft_wrap = not err.is_terminal  # piped: no line is broken ('pip install' stays with its package)
    observer = ConsoleObserver(err, show_progress=not args.no_progress)
    try:
        cases, settings = plan_cases(request, registry, observer)
    except OptionError as exc:
        raise locate_option_error(exc, flags, args.sweep) from None
    if stored_run is not None and kept is not None:
        check_kept(stored_run.run_id, kept, settings, args.allow_changed_settings, observer)
    command = "rnnbench " + " ".join(shlex.quote(a) for a in args.argv)
    with interrupt_once() as interrupts:
        finished = run_request(request, registry, cases, settings, start=start, out=out, command=command,
                               observer=observer, resume=args.resume, kept=kept)
        _print_finished(finished, out, err)
    outcome = finished.outcome
    if interrupts.held:
        err.print(f"rnnbench: note: {interrupts.held} more interrupt(s) held until the run folder was written",
                  markup=False, highlight=False)
    failed = [r for r in outcome.results if r.status != "ok"]
    if outcome.interrupted:
        err.print(f"[red]interrupted[/red]: finished cases are stored; resume with:\n"
                  f"  {resume_command(out, outcome.run.run_id)}", highlight=False,
                  soft_wrap=not err.is_terminal)
        return 130
    if failed:
        err.print(f"[red]{len(failed)} of {len(outcome.results)} case(s) failed[/red]; their rows say why")
        return 1
    return 0


def _print_finished(finished: FinishedRun, out: Path, err: Console) -> None:
    """The summary table on stdout; where the results went, and what the report lacks, on stderr."""
    from rnnbench.render.plots import matplotlib_missing  # deferred: fast start
    from rnnbench.render.terminal import print_summary  # deferred: fast start

    outcome, paths = finished.outcome, finished.paths
    print_summary(outcome.results, outcome.run, Console(), found=paths.content.findings)
    folder = outcome.run.folder
    sep = "\n" if err.is_terminal else "  "
    err.print(f"results: {folder / 'results.csv'}{sep}report: {folder / 'report.md'}  {folder / 'report.html'}"
              f"{sep}database: {out / DEFAULT_DB_NAME}", soft_wrap=not err.is_terminal, highlight=False,
              markup=False)
    missing = matplotlib_missing()
    if missing and outcome.results:
        err.print(f"rnnbench: note: the report has no plots: {missing}", markup=False, highlight=False)
    if outcome.left_to_others:
        err.print(f"rnnbench: note: {len(outcome.left_to_others)} case(s) were left to another process that is"
                  " resuming this run (claimed in the database); it stores them", markup=False, highlight=False)


def _stored_run(out_dir: Path, run_id: str) -> RunInfo:
    with ResultsStore.reader(out_dir / DEFAULT_DB_NAME) as store:
        return store.run_info(run_id)


def _request_of(run: RunInfo) -> dict[str, Any]:
    """The request stored with a run, or ``{}`` for a run stored without one."""
    stored = run.settings.get("request")
    return dict(stored) if isinstance(stored, dict) else {}
