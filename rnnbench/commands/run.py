"""``rnnbench run``: expand a request into cases, run them, store them, report them."""

from __future__ import annotations

import argparse
import os
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from rnnbench.analysis.match_params import match_params, registry_param_counter
from rnnbench.commands.common import load_plugins
from rnnbench.execution.interrupts import sigterm_as_interrupt
from rnnbench.execution.session import RunOutcome, run_sweep
from rnnbench.records import CaseConfig, RunSettings, TimerSettings
from rnnbench.render.plots import matplotlib_missing
from rnnbench.render.terminal import print_summary
from rnnbench.render.run_folder import write_run_folder
from rnnbench.request.options import OPTIONS, RunRequest, default_text, switch
from rnnbench.request.run_request import resolve_request, resume_command
from rnnbench.request.sweep import axes_of, expand
from rnnbench.specs import ExecutorOptions
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore


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
    how.add_argument("--out", default="results", help="results folder (default: %(default)s)")
    how.add_argument("--resume", metavar="RUN_ID",
                     help="continue a run with its stored flags: skip its ok cases, rerun failed and missing ones")
    how.add_argument("--sweep", metavar="FILE.toml",
                     help="read the flags from a TOML sweep file; flags given here override it (docs/robustness.md)")
    how.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


#: arguments of ``rnnbench run`` that say where to store or how to show, not what to run
_NOT_REQUEST = ("out", "resume", "sweep", "no_progress", "debug", "handler", "command", "argv")


def run(args: argparse.Namespace) -> int:
    flags = {k: v for k, v in vars(args).items() if k not in _NOT_REQUEST}
    stored = _stored_request(Path(args.out), args.resume) if args.resume else None
    request = resolve_request(flags, stored=stored, sweep=args.sweep)
    sigterm_as_interrupt()
    registry = load_plugins(request.plugins)
    registry.resolve_executor(request.executor)  # fail before any work on a typo
    expansion = expand(axes_of(request), registry)
    err = Console(stderr=True)
    for note in expansion.skipped:
        err.print(f"[yellow]rnnbench: skipping[/yellow] {note}")
    cases = expansion.cases
    if request.match_params:
        matching = match_params(cases, registry_param_counter(registry))
        cases = matching.cases
        for choice in matching.choices:
            err.print(f"match-params: {choice.describe()}")
        for note in matching.warnings:
            err.print(f"[yellow]rnnbench: warning:[/yellow] match-params: {note}")

    settings = RunSettings(scenarios=tuple(request.scenarios), threads=request.threads or os.cpu_count() or 1,
                           timer=TimerSettings(min_run_time=request.min_time))
    command = "rnnbench " + " ".join(shlex.quote(a) for a in args.argv)
    outcome = _run_with_progress(cases, registry, settings, request, args, command, err)
    write_run_folder(outcome.run, outcome.results)
    for message in outcome.observer_errors or []:
        err.print(f"[yellow]rnnbench: warning:[/yellow] {message}")
    print_summary(outcome.results, outcome.run, Console())
    folder = outcome.run.folder
    err.print(f"results: {folder / 'results.csv'}  report: {folder / 'report.md'}  {folder / 'report.html'}"
              f"  database: {Path(args.out) / DEFAULT_DB_NAME}", soft_wrap=True)
    missing = matplotlib_missing()
    if missing and outcome.results:
        err.print(f"rnnbench: note: the report has no plots: {missing}", markup=False, highlight=False)
    failed = [r for r in outcome.results if r.status != "ok"]
    if outcome.interrupted:
        err.print(f"[red]interrupted[/red]: finished cases are stored; resume with:\n"
                  f"  {resume_command(args.out, outcome.run.run_id)}", highlight=False, soft_wrap=True)
        return 130
    if failed:
        err.print(f"[red]{len(failed)} of {len(outcome.results)} case(s) failed[/red]; their rows say why")
        return 1
    return 0


def _stored_request(out_dir: Path, run_id: str) -> dict[str, Any]:
    """The request stored with a run, or ``{}`` for a run stored without one."""
    with ResultsStore.reader(out_dir / DEFAULT_DB_NAME) as store:
        stored = store.run_info(run_id).settings.get("request")
    return dict(stored) if isinstance(stored, dict) else {}


def _run_with_progress(cases: list[CaseConfig], registry, settings: RunSettings, request: RunRequest,
                       args: argparse.Namespace, command: str, err: Console) -> RunOutcome:
    def on_start(run, to_run, already_done):
        done = f", {already_done} already done" if already_done else ""
        err.print(f"run {run.run_id}: {to_run} case(s) to run{done}; if it stops, continue with:"
                  f" {resume_command(args.out, run.run_id)}", highlight=False, soft_wrap=True)

    kwargs = dict(executor=request.executor, out_dir=Path(args.out), command=command, resume=args.resume,
                  request=request.to_dict(), on_start=on_start,
                  executor_options=ExecutorOptions(timeout=request.timeout, workers=request.workers,
                                                   scheduler=request.scheduler))
    if args.no_progress:
        return run_sweep(cases, registry, settings, **kwargs)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task(f"{len(cases)} case(s)", total=None)

        def on_start_with_bar(run, to_run, already_done):
            on_start(run, to_run, already_done)
            progress.update(bar, total=to_run, description=f"run {run.run_id}")

        def on_result(result, index, total):
            mark = "ok" if result.status == "ok" else result.status.upper()
            progress.update(bar, completed=index, total=total,
                            description=f"{result.config.model} {result.config.task}: {mark}")

        kwargs["on_start"] = on_start_with_bar
        return run_sweep(cases, registry, settings, on_result=on_result, **kwargs)
