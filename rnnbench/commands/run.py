"""``rnnbench run``: expand a request into cases, run them, store them, report them."""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
from pathlib import Path
from typing import Any

from rich.console import Console

from rnnbench.analysis.match_params import match_params, registry_param_counter
from rnnbench.analysis.sources import store_run_id
from rnnbench.commands.common import add_out, load_plugins, results_folder
from rnnbench.errors import OptionError, UsageError
from rnnbench.execution.interrupts import hold_interrupts, interrupt_once, sigterm_as_interrupt
from rnnbench.execution.load import sample_machine
from rnnbench.execution.thread_policy import apply_threading, choose_threading
from rnnbench.execution.session import RunOutcome, run_sweep
from rnnbench.records import CaseConfig, RunInfo, RunSettings, TimerSettings
from rnnbench.render.plots import matplotlib_missing
from rnnbench.render.progress import TerminalCaseProgress, run_progress
from rnnbench.render.terminal import print_summary
from rnnbench.render.run_folder import ReportPaths, write_run_folder
from rnnbench.request.model_options import refuse_untrainable
from rnnbench.request.options import OPTIONS, RunRequest, default_text, switch
from rnnbench.request.run_request import locate_option_error, resolve_request, resume_command
from rnnbench.request.sweep import axes_of, check_size, expand
from rnnbench.specs import ExecutorOptions
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore
from rnnbench.task_api import MAX_CORPUS_ENV


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
    # Before the plugins are loaded: they import torch, and OpenMP reads its wait policy then.
    # A resume keeps the threads its run measured with, whatever the load now.
    kept = stored_run.run_settings if stored_run is not None else None
    machine = sample_machine()
    threading = choose_threading(request.threads or (kept.threads if kept is not None else None), machine)
    too_late = apply_threading(threading)
    if request.max_corpus_mb is not None:  # an environment variable: worker processes read it too
        os.environ[MAX_CORPUS_ENV] = f"{request.max_corpus_mb:g}"
    sigterm_as_interrupt()
    registry = load_plugins(request.plugins)
    registry.resolve_executor(request.executor)  # fail before any work on a typo
    err = Console(stderr=True)
    err.soft_wrap = not err.is_terminal  # piped: no line is broken ('pip install' stays with its package)
    try:
        cases, settings = plan_cases(request, registry, err)
    except OptionError as exc:
        raise locate_option_error(exc, flags, args.sweep) from None
    if stored_run is not None and kept is not None:
        check_kept(stored_run.run_id, kept, settings, args.allow_changed_settings, err)
    command = "rnnbench " + " ".join(shlex.quote(a) for a in args.argv)
    environment, notes = _load_facts(machine, threading, too_late)
    with interrupt_once() as interrupts:
        outcome = execute_request(request, registry, cases, settings, out=out, resume=args.resume,
                                  command=command, show_progress=not args.no_progress, err=err,
                                  environment=environment, notes=notes)
        hold_interrupts()  # from here on the run is wrapped up: a Ctrl-C is held until it is done
        paths = finish_run_folder(outcome, registry, err)
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


def plan_cases(request: RunRequest, registry, err: Console) -> tuple[list[CaseConfig], RunSettings]:
    """The cases of a request (expanded, widths matched under --match-params) and how to measure them.

    ``--threads`` is kept as given; without it each case chooses its threads where it runs, up to every core
    (:mod:`rnnbench.execution.thread_policy`). Shared with ``rnnbench study run``, whose sweeps are ordinary runs.
    """
    axes = axes_of(request)
    check_size(axes, request.max_cases)
    expansion = expand(axes, registry)
    if "train" in request.scenarios:
        refuse_untrainable(expansion.cases, registry)
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
    cores = os.cpu_count() or 1
    if request.threads and request.threads > cores:  # oversubscribed pools time contention, not the model
        err.print(f"rnnbench: warning: --threads {request.threads} is more than the {cores} logical CPU(s) of"
                  f" this machine: the threads will share cores, and times will be slower and noisier than with"
                  f" --threads {cores} or fewer", markup=False, highlight=False)
    # Without --threads each case chooses where it runs (its size, the load then and during it), up to every core.
    settings = RunSettings(scenarios=tuple(request.scenarios), threads=request.threads or cores,
                           auto_threads=request.threads is None,
                           timer=TimerSettings(min_run_time=request.min_time),
                           eval_seq_lens=tuple(request.eval_seq_len or ()))
    return cases, settings


def _stored_run(out_dir: Path, run_id: str) -> RunInfo:
    with ResultsStore.reader(out_dir / DEFAULT_DB_NAME) as store:
        return store.run_info(run_id)


def _request_of(run: RunInfo) -> dict[str, Any]:
    """The request stored with a run, or ``{}`` for a run stored without one."""
    stored = run.settings.get("request")
    return dict(stored) if isinstance(stored, dict) else {}


def _load_facts(machine, threading, too_late: str | None) -> tuple[dict[str, Any], list[str]]:
    """What the run's environment records about the load and the threading, and the warnings to print."""
    environment = {"machine_load": machine.facts(),
                   "threading": {"threads": threading.threads, "automatic": threading.automatic,
                                 "reason": threading.reason, "busy": machine.busy_for(threading.threads)},
                   "openmp_wait_policy": os.environ.get("OMP_WAIT_POLICY") if too_late is None else
                   f"not set: {too_late}"}
    notes = [too_late] if too_late else []
    if machine.busy_for(threading.threads):
        notes.insert(0, f"the machine is busy: {threading.reason}; times will include waiting for a CPU"
                        " (docs/robustness.md)")
    return environment, notes


def check_kept(run_id: str, kept: RunSettings, settings: RunSettings, allowed: bool, err: Console,
               refusal: str = "drop the flag, start a new run, or pass --allow-changed-settings (each row then"
               " records its settings and the table and report say what varied)", what_is_done: str = "") -> None:
    """A resume measures as the run did, unless the user allows a change (then every output says so)."""
    before, now = _flat(kept.to_dict()), _flat(settings.to_dict())
    changed = [(k, before.get(k), now.get(k)) for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    if not changed:
        return
    what = ", ".join(f"{k}={old} to {new}" for k, old, new in changed)
    if not allowed:
        raise UsageError(
            f"{what_is_done or '--resume ' + run_id}: this would change {what}; the rows of one run must be measured"
            f" alike: {refusal}")
    err.print(f"rnnbench: warning: --resume {run_id} with --allow-changed-settings: {what}; the rows run now record"
              " it, and the table and report say what varied", markup=False, highlight=False, soft_wrap=True)


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def finish_run_folder(outcome: RunOutcome, registry, err: Console) -> ReportPaths:
    """Write the run folder, then call ``rnnbench_run_finished`` (a run that finished, not one interrupted)
    so that its plugins find results.csv, env.json and the reports in ``run.folder``; print every observer
    hook's failure as one warning line."""
    paths = write_run_folder(outcome.run, outcome.results)
    errors = list(outcome.observer_errors or [])
    if not outcome.interrupted:
        errors += registry.notify("rnnbench_run_finished", run=outcome.run, results=outcome.results)
    for message in errors:
        err.print(f"rnnbench: warning: {message}", markup=False, highlight=False, soft_wrap=True)
    return paths


def execute_request(request: RunRequest, registry, cases: list[CaseConfig], settings: RunSettings, *, out: Path,
                    resume: str | None, command: str, show_progress: bool, err: Console,
                    settings_extra: dict[str, Any] | None = None, environment: dict[str, Any] | None = None,
                    notes: list[str] = (), warn_sharing: bool = True) -> RunOutcome:
    """Run the cases (a new run, or ``resume``'s) and store them; a progress bar on ``err`` if asked.

    ``settings_extra`` is stored with a new run's settings (``rnnbench study run`` tags its sweeps);
    ``environment`` adds to a new run's environment record; ``notes`` are warnings printed once
    the run exists (so that a request refused before prints its one error line alone); ``warn_sharing``
    False: the caller chose the workers for cases whose results do not depend on timing (no warning).
    """
    def on_start(run, to_run, already_done):
        done = f", {already_done} already done" if already_done else ""
        # on a terminal rich wraps between words, and the command gets a line of its own, so neither the
        # run id nor the command is cut by the terminal; piped, lines stay whole
        sep = "\n  " if err.is_terminal else " "
        err.print(f"run {run.run_id}: {to_run} case(s) to run{done}; if it stops, continue with:{sep}"
                  f"{resume_command(out, run.run_id)}", highlight=False, soft_wrap=not err.is_terminal)
        for note in notes:
            err.print(f"rnnbench: warning: {note}", highlight=False, soft_wrap=not err.is_terminal, markup=False)

    kwargs = dict(executor=request.executor, out_dir=out, command=command, resume=resume,
                  request=request.to_dict(), on_start=on_start, settings_extra=settings_extra,
                  environment=environment,
                  executor_options=ExecutorOptions(timeout=request.timeout, workers=request.workers,
                                                   scheduler=request.scheduler, warn_sharing=warn_sharing))
    if not show_progress:
        return run_sweep(cases, registry, settings, **kwargs)
    # The bar starts only once the run exists: an error before that (a bad --out, a missing executor
    # package) is then the only thing printed.
    progress = run_progress(err)
    bar = None
    case_row = TerminalCaseProgress(progress)  # steps, loss and time left of the case running in this process
    kwargs["executor_options"] = dataclasses.replace(kwargs["executor_options"], case_observer=case_row)

    def on_start_with_bar(run, to_run, already_done):
        nonlocal bar
        on_start(run, to_run, already_done)
        progress.start()
        bar = progress.add_task(f"run {run.run_id}", total=to_run)

    def on_result(result, index, total):
        mark = "ok" if result.status == "ok" else result.status.upper()
        progress.update(bar, completed=index, total=total,
                        description=f"{result.config.model} {result.config.task}: {mark}")
        case_row.case_finished()

    kwargs["on_start"] = on_start_with_bar
    try:
        return run_sweep(cases, registry, settings, on_result=on_result, **kwargs)
    finally:
        progress.stop()
