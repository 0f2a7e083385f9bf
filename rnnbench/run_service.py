"""Running a request: the one service below the CLI that ``rnnbench run`` and ``rnnbench study run`` share.

It owns what a run does besides parsing and printing: sampling the machine and choosing the
threading (with the OpenMP wait policy) before the plugins load, planning the cases, executing
them into the store and writing the run folder. Whatever it has to say goes to a
:class:`~rnnbench.execution.observer.RunObserver` passed in (the commands pass one that prints
to the terminal and draws the progress bar, :mod:`rnnbench.render.run_console`); the service
prints nothing itself.

A layer of its own between the commands and render/analysis: it writes the run folder
(``render.run_folder``) and matches parameter counts (``analysis.match_params``), so it cannot
sit in ``execution/``, which both of those import.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnbench.analysis.match_params import match_params, registry_param_counter
from rnnbench.errors import UsageError
from rnnbench.execution.interrupts import hold_interrupts, sigterm_as_interrupt
from rnnbench.execution.load import MachineLoad, sample_machine
from rnnbench.execution.observer import RunObserver
from rnnbench.execution.session import RunOutcome, run_sweep
from rnnbench.execution.thread_policy import ThreadingChoice, apply_threading, choose_threading
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig, RunInfo, RunSettings, TimerSettings, flat_settings
from rnnbench.render.run_folder import ReportPaths, write_run_folder
from rnnbench.request.model_options import refuse_untrainable
from rnnbench.request.options import RunRequest
from rnnbench.request.run_request import resume_command
from rnnbench.request.sweep import check_size, expand
from rnnbench.specs import ExecutorOptions
from rnnbench.task_api import MAX_CORPUS_ENV


@dataclass(frozen=True)
class ProcessStart:
    """The machine as sampled when the process started, and the threading chosen from it."""

    machine: MachineLoad
    #: the thread count asked for (``None``: chosen from the load), as given to :func:`choose_threading`
    requested: int | None
    threading: ThreadingChoice
    #: why the OpenMP wait policy could not be set in this process, if it could not
    too_late: str | None

    def for_threads(self, requested: int | None) -> "ProcessStart":
        """The start as a request asking for ``requested`` threads sees it (a study's sweep may ask for its own)."""
        if requested == self.requested:
            return self
        threading = choose_threading(requested, self.machine)
        return ProcessStart(self.machine, requested, threading, apply_threading(threading))

    def facts(self) -> tuple[dict[str, Any], list[str]]:
        """What the run's environment records about the load and the threading, and the warnings to print."""
        machine, threading, too_late = self.machine, self.threading, self.too_late
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


def asked_threads(request: RunRequest, kept: RunSettings | None = None) -> int | None:
    """``--threads`` as given; a resume keeps the threads its run measured with, whatever the load now."""
    return request.threads or (kept.thread_cap if kept is not None else None)


def start_process(threads: int | None, max_corpus_mb: float | None = None) -> ProcessStart:
    """Sample the machine and choose the threading, before the plugins are loaded.

    The plugins import torch, and OpenMP reads its wait policy then. ``threads`` is the count
    asked for (:func:`asked_threads`), ``None`` to choose it from the load.
    """
    machine = sample_machine()
    threading = choose_threading(threads, machine)
    too_late = apply_threading(threading)
    if max_corpus_mb is not None:  # an environment variable: worker processes read it too
        os.environ[MAX_CORPUS_ENV] = f"{max_corpus_mb:g}"
    sigterm_as_interrupt()
    return ProcessStart(machine=machine, requested=threads, threading=threading, too_late=too_late)


def plan_cases(request: RunRequest, registry: Registry, observer: RunObserver
               ) -> tuple[list[CaseConfig], RunSettings]:
    """The cases of a request (expanded, widths matched under --match-params) and how to measure them.

    ``--threads`` is kept as given; without it each case chooses its threads where it runs, up to every core
    (:mod:`rnnbench.execution.thread_policy`).
    """
    check_size(request, request.max_cases)
    expansion = expand(request, registry)
    if "train" in request.scenarios:
        refuse_untrainable(expansion.cases, registry)
    for note in expansion.skipped:
        observer.skipping(note)
    cases = expansion.cases
    if request.match_params:
        matching = match_params(cases, registry_param_counter(registry))
        cases = matching.cases
        for choice in matching.choices:
            observer.note(f"match-params: {choice.describe()}")
        for note in matching.warnings:
            observer.warning(f"match-params: {note}")
    cores = os.cpu_count() or 1
    if request.threads and request.threads > cores:  # oversubscribed pools time contention, not the model
        observer.warning(f"--threads {request.threads} is more than the {cores} logical CPU(s) of"
                         f" this machine: the threads will share cores, and times will be slower and noisier than"
                         f" with --threads {cores} or fewer")
    # Without --threads each case chooses where it runs (its size, the load then and during it), up to every core.
    settings = RunSettings(scenarios=tuple(request.scenarios), thread_cap=request.threads or cores,
                           auto_threads=request.threads is None,
                           timer=TimerSettings(min_run_time=request.min_time),
                           eval_seq_lens=tuple(request.eval_seq_len or ()))
    return cases, settings


def check_kept(run_id: str, kept: RunSettings, settings: RunSettings, allowed: bool, observer: RunObserver,
               refusal: str = "drop the flag, start a new run, or pass --allow-changed-settings (each row then"
               " records its settings and the table and report say what varied)", what_is_done: str = "") -> None:
    """A resume measures as the run did, unless the user allows a change (then every output says so)."""
    before, now = flat_settings(kept.to_dict()), flat_settings(settings.to_dict())
    changed = [(k, before.get(k), now.get(k)) for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    if not changed:
        return
    what = ", ".join(f"{k}={old} to {new}" for k, old, new in changed)
    if not allowed:
        raise UsageError(
            f"{what_is_done or '--resume ' + run_id}: this would change {what}; the rows of one run must be measured"
            f" alike: {refusal}")
    observer.warning(f"--resume {run_id} with --allow-changed-settings: {what}; the rows run now record"
                     " it, and the table and report say what varied")


@dataclass(frozen=True)
class FinishedRun:
    """A run executed and its folder written."""

    outcome: RunOutcome
    paths: ReportPaths


def run_request(request: RunRequest, registry: Registry, cases: list[CaseConfig], settings: RunSettings, *,
                start: ProcessStart, out: Path, command: str, observer: RunObserver, resume: str | None = None,
                kept: RunSettings | None = None, settings_extra: dict[str, Any] | None = None,
                warn_sharing: bool = True) -> FinishedRun:
    """Run the planned cases (a new run, or ``resume``'s), store them and write the run folder.

    The run's environment records the load and the threading of ``start`` (as this request's
    threads see it; ``kept``: the settings of the run resumed); its warnings (a busy machine, a
    wait policy set too late) are told to the observer once the run exists, so that a request
    refused before shows its one error alone.
    ``settings_extra`` is stored with a new run's settings (``rnnbench study run`` tags its sweeps);
    ``warn_sharing`` False: the caller chose the workers for cases whose results do not depend on
    timing (no warning about sharing the CPUs). The observer's :meth:`~RunObserver.case_observer`
    hears the steps of each case that runs in this process.
    Once the cases are done, interrupts are held (:func:`hold_interrupts`) until the folder is written.
    """
    environment, notes = start.for_threads(asked_threads(request, kept)).facts()

    def on_start(run: RunInfo, to_run: int, already_done: int) -> None:
        observer.run_started(run, to_run, already_done, resume_command(out, run.run_id))
        for note in notes:
            observer.warning(note)

    try:
        outcome = run_sweep(cases, registry, settings, executor=request.executor, out_dir=out, command=command,
                            resume=resume, request=request.to_dict(), on_start=on_start,
                            on_result=observer.case_finished, settings_extra=settings_extra,
                            environment=environment,
                            executor_options=ExecutorOptions(timeout=request.timeout, workers=request.workers,
                                                             scheduler=request.scheduler, warn_sharing=warn_sharing,
                                                             case_observer=observer.case_observer()))
    finally:
        observer.run_stopped()
    hold_interrupts()  # from here on the run is wrapped up: a Ctrl-C is held until it is done
    return FinishedRun(outcome, finish_run_folder(outcome, registry, observer))


def finish_run_folder(outcome: RunOutcome, registry: Registry, observer: RunObserver) -> ReportPaths:
    """Write the run folder, then call ``rnnbench_run_finished`` (a run that finished, not one interrupted)
    so that its plugins find results.csv, env.json and the reports in ``run.folder``; tell the observer
    every observer hook's failure as one warning."""
    paths = write_run_folder(outcome.run, outcome.results)
    errors = list(outcome.observer_errors or [])
    if not outcome.interrupted:
        errors += registry.notify("rnnbench_run_finished", run=outcome.run, results=outcome.results)
    for message in errors:
        observer.warning(message)
    return paths
