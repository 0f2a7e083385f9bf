"""``rnnbench study list|run|report``: sweeps that check claims, and a report with a verdict per claim.

``study run`` runs each sweep of a study's profile as an ordinary ``rnnbench run`` (same
request, same store, tagged with the study), skipping the sweeps whose cases are all
stored and resuming the one that was stopped; then it evaluates the claims and writes the
study's report. ``study report`` rebuilds that report from the database alone.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shlex
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from rich.console import Console
from rich.text import Text

from rnnbench.analysis.study_runs import load_study_data, report_folder, study_of_run, study_tag, sweep_runs
from rnnbench.commands.common import add_out, load_plugins, results_folder
from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.manager import Registry
from rnnbench.records import DEVICES
from rnnbench.render.fit import Column, print_fitted
from rnnbench.request.options import BY_KEY, THREADS_WHEN_ABSENT
from rnnbench.request.run_request import parse_layer, resolve_request
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore
from rnnbench.study_api import StudySpec

if TYPE_CHECKING:
    from rnnbench.execution.session import RunOutcome
    from rnnbench.render.run_console import ConsoleObserver
    from rnnbench.render.study_report import StudyReportPaths
    from rnnbench.run_service import ProcessStart

#: ``study run`` options that apply to every sweep and are not part of a sweep's fingerprint
PASSED_TO_SWEEPS = ("executor", "workers", "scheduler", "timeout", "threads")

#: at most this many cases of a side-by-side sweep at once, however many cores (each worker holds its own torch)
MAX_SIDE_BY_SIDE = 8


def add_parser(sub, add_common) -> None:
    study = sub.add_parser("study", help="run a study: sweeps that check claims, a report with a verdict per claim",
                           description="Studies check claims (e.g. what a textbook says about RNNs) with ordinary"
                           " runs and answer each with supported, not supported or inconclusive (docs/studies.md).")
    commands = study.add_subparsers(dest="study_command", metavar="STUDY_COMMAND", parser_class=type(study))

    lst = commands.add_parser("list", help="list the installed studies, their claims and profiles")
    add_common(lst)
    lst.set_defaults(handler=list_studies)

    run = commands.add_parser("run", help="run a study's sweeps (skipping stored ones) and write its report")
    add_common(run)
    run.add_argument("name", metavar="NAME", help="the study (see 'rnnbench study list')")
    run.add_argument("--profile", default="quick", help="quick (a CPU) or full (a GPU or a cluster);"
                     " default: %(default)s")
    add_out(run)
    run.add_argument("--executor", default=None, help="where cases run, for every sweep (default: local)")
    run.add_argument("--workers", default=None, help="worker processes (executors that start them)")
    run.add_argument("--scheduler", default=None, help="cluster scheduler address (executors that use one)")
    run.add_argument("--timeout", default=None, help="seconds per case (executors that can stop one)")
    run.add_argument("--threads", default=None, help="threads for torch and BLAS in every case (default:"
                     f" {THREADS_WHEN_ABSENT})")
    run.add_argument("--device", default=None, choices=DEVICES,
                     help="run every sweep on this device (default: each sweep's own, cpu); a device given"
                     " here makes its own runs and report")
    run.add_argument("--fresh", action="store_true", help="start new runs instead of continuing stored sweeps")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(handler=run_study)

    report = commands.add_parser("report", help="rebuild a study's report from the results database")
    add_common(report)
    report.add_argument("target", metavar="NAME|RUN_ID", help="a study, or the run id of one of its sweeps")
    report.add_argument("--profile", default=None, help="the profile to report (default: quick, or the run's)")
    report.add_argument("--device", default=None, choices=DEVICES,
                        help="the device given to 'study run --device' (default: none, or the run's)")
    add_out(report)
    report.set_defaults(handler=report_study)
    study.set_defaults(handler=lambda args: _missing_subcommand(study))


def _missing_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _profile(spec: StudySpec, profile: str) -> str:
    if profile not in spec.profiles:
        raise UsageError(f"study '{spec.name}' has no profile '{profile}' (profiles: {', '.join(spec.profiles)})")
    return profile


# -- list -------------------------------------------------------------------------------------

def list_studies(args: argparse.Namespace) -> int:
    registry = load_plugins(args.plugins)
    # fitted as the run's table is: the terminal's width, or COLUMNS when piped; names never break,
    # text wraps between words, and the plugin and then the profiles go first when it is narrow
    columns = [Column("study", priority=0), Column("claims", priority=0, wrap=True, wrap_at=44),
               Column("profiles", priority=2, wrap=True, wrap_at=30), Column("description", priority=1, wrap=True),
               Column("plugin", priority=3)]
    rows = []
    for name in sorted(registry.studies):
        spec = registry.studies[name]
        claims = "\n".join(f"{c.number or i}. {c.title}" for i, c in enumerate(spec.claims, start=1))
        profiles = "; ".join(f"{p}: {len(s)} sweeps, seeds {_seeds(s)}" for p, s in spec.profiles.items())
        rows.append([name, claims, profiles, spec.description, registry.owners.get(name, "")])
    print_fitted(Console(), columns, rows, title="studies (rnnbench study run NAME [--profile PROFILE])",
                 hint="a wider terminal, or COLUMNS when piped, shows them", show_lines=True)
    if not registry.studies:
        print("no studies installed")
    return 0


def _seeds(sweeps) -> str:
    seeds: set[str] = set()
    for sweep in sweeps:
        seeds.update(str(s) for s in str(sweep.flags.get("seeds", "0")).split(","))
    return ",".join(sorted(seeds, key=int))


# -- run --------------------------------------------------------------------------------------

def run_study(args: argparse.Namespace) -> int:
    from rnnbench.render.run_console import ConsoleObserver  # deferred: fast start
    from rnnbench.render.study_report import print_claims_table  # deferred: fast start
    from rnnbench.run_service import start_process  # deferred: fast start

    out = results_folder(args.out)
    overrides = _overrides(args)
    # as in rnnbench run: the machine sampled and the threading chosen before the plugins import torch
    start = start_process(parse_layer(overrides).get("threads"))
    registry = load_plugins(args.plugins)
    spec = registry.resolve_study(args.name)
    profile = _profile(spec, args.profile)
    sweeps = spec.sweeps(profile)
    # a sweep's own plugins (its "plugins" flag) are loaded with the command's, before any sweep is planned
    wanted = list(dict.fromkeys([*args.plugins, *(m for s in sweeps for m in _sweep_plugins(spec, s))]))
    if wanted != list(args.plugins):
        registry = load_plugins(wanted)
    registry.resolve_executor(overrides.get("executor", "local"))  # a typo fails before any work
    err = Console(stderr=True)
    observer = ConsoleObserver(err, show_progress=not args.no_progress)
    with _one_study_run_at_a_time(out, spec.name):
        started = time.perf_counter()
        # Every sweep is planned before the first runs: a bad flag in the last one costs no work.
        placed = [{**side_by_side(sweep, overrides, args.device), **overrides} for sweep in sweeps]
        planned = [_plan_sweep(spec, sweep, flags, args.device, registry, observer)
                   for sweep, flags in zip(sweeps, placed)]
        stored = {} if args.fresh else _stored_sweeps(out, spec.name)
        failed = 0
        for index, ((sweep, request, cases, settings), sweep_overrides) in enumerate(zip(planned, placed), start=1):
            head = f"[{index}/{len(sweeps)}] sweep {sweep.name}"
            sweep_started = time.perf_counter()
            outcome = _run_sweep(args, spec, profile, sweep, request, cases, settings, sweep_overrides, stored,
                                 registry, start, observer, head=head,
                                 workers_chosen=bool(side_by_side(sweep, overrides, args.device)))
            if outcome is None:
                continue
            err.print(Text(f"{head}: {len(outcome.results)} case(s) in {time.perf_counter() - sweep_started:.0f} s"
                           " of wall clock"), soft_wrap=True)
            if outcome.interrupted:
                again = ["rnnbench", "study", "run", spec.name, "--profile", profile, "--out", str(out),
                         *_device_argv(args.device), *_override_argv(overrides)]
                err.print(Text("interrupted: finished cases are stored; run the same command again to continue:\n  "
                               + " ".join(shlex.quote(a) for a in again), style="red"), soft_wrap=True)
                return 130
            failed += sum(r.status != "ok" for r in outcome.results)
        elapsed = time.perf_counter() - started
        paths, claims = _write_report(out, spec, profile, args.device)
    print_claims_table(claims, Console())
    err.print(Text(f"study {spec.name} ({profile}): {len(sweeps)} sweep(s) in {elapsed:.0f} s of wall clock"
                   f" (this command, stored sweeps skipped); report: {paths.html}  {paths.markdown}"), soft_wrap=True)
    print(paths.html)
    if failed:
        err.print(Text(f"{failed} case(s) failed; the claims that read them are inconclusive", style="red"))
        return 1
    return 0


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``study run`` flags passed to every sweep, checked as ``rnnbench run`` checks them (exit 2)."""
    overrides = {key: getattr(args, key) for key in PASSED_TO_SWEEPS if getattr(args, key) is not None}
    parse_layer(overrides)  # "--threads: must be positive, got 0", before any work
    if args.plugins:
        overrides["plugins"] = list(args.plugins)
    return overrides


def side_by_side(sweep, overrides: dict[str, Any], device: str | None) -> dict[str, Any]:
    """Where a sweep marked ``side_by_side`` runs when the command does not say: its cases one per core at once.

    Such a sweep's results do not depend on how fast the machine runs (training for a fixed number of
    steps or FLOPs, gradient probes), so the cores a serial run would leave idle can run its cases in
    parallel: the process executor, one worker per usable core (at most :data:`MAX_SIDE_BY_SIDE`), one
    thread each. The sweeps that time something stay serial, with the cores to themselves. Nothing changes
    where the command chose the executor, workers or threads, on a GPU, or with one core.
    """
    if not sweep.side_by_side or device not in (None, "cpu"):
        return {}
    if any(key in overrides for key in ("executor", "workers", "threads")):
        return {}
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
                  MAX_SIDE_BY_SIDE)
    return {"executor": "process", "workers": workers, "threads": 1} if workers > 1 else {}


def _sweep_plugins(spec: StudySpec, sweep) -> list[str]:
    modules = sweep.flags.get("plugins", [])
    modules = [modules] if isinstance(modules, str) else list(modules)
    try:
        return parse_layer({"plugins": modules})["plugins"] if modules else []
    except UsageError as exc:
        raise UsageError(f"study '{spec.name}', sweep '{sweep.name}': {exc}") from None


def _plan_sweep(spec: StudySpec, sweep, overrides: dict[str, Any], device: str | None, registry: Registry,
                observer: ConsoleObserver):
    """(sweep, request, cases, settings) of one sweep; its errors name the study and the sweep (exit 2)."""
    from rnnbench.run_service import plan_cases  # deferred: fast start

    where = f"study '{spec.name}', sweep '{sweep.name}'"
    unknown = sorted(set(sweep.flags) - set(BY_KEY))
    if unknown:  # a sweep file refuses them too: a typo ('seq_lens') must not be ignored
        raise UsageError(f"{where}: unknown flag key(s) {', '.join(map(repr, unknown))}"
                         f" (keys: {', '.join(sorted(BY_KEY))})")
    flags = {**dict(sweep.flags), **overrides, **({"device": device} if device else {})}
    try:
        request = resolve_request(flags)
        cases, settings = plan_cases(request, registry, observer)
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return sweep, request, cases, settings


def _run_sweep(args, spec: StudySpec, profile: str, sweep, request, cases, settings, overrides, stored, registry,
               start: ProcessStart, observer: ConsoleObserver, head: str, workers_chosen: bool = False) -> RunOutcome | None:
    """Run one planned sweep (new, or continuing its stored run) as ``rnnbench run`` runs a request;
    ``None`` when all its cases are stored.

    ``workers_chosen``: the study placed the sweep's cases side by side itself (:func:`side_by_side`), so
    the executor's warning about a ``--workers`` the user never gave is left out.
    """
    from rnnbench.run_service import check_kept, run_request  # deferred: fast start

    err = observer.err
    out = Path(args.out)
    tag = study_tag(spec, profile, sweep, len(cases), args.device)
    previous = stored.get(tag["fingerprint"])
    resume = None
    if previous is not None:
        done = _done_ok(out, previous.run_id)
        missing = [c for c in cases if c.case_id not in done]
        if not missing:
            err.print(Text(f"{head}: all {len(cases)} case(s) stored in run {previous.run_id}; skipped"), soft_wrap=True)
            return None
        if previous.run_settings is not None:  # a continued run measures as it began, as with run --resume
            check_kept(previous.run_id, previous.run_settings, settings, False, observer,
                       refusal="give the flags the run began with, or --fresh to start new runs",
                       what_is_done=f"study '{spec.name}', sweep '{sweep.name}' continues run {previous.run_id}")
        resume = previous.run_id
        err.print(Text(f"{head}: continuing run {resume} ({len(cases) - len(missing)} of {len(cases)} case(s)"
                       " stored)"), soft_wrap=True)
    else:
        err.print(Text(f"{head}: {sweep.purpose}"), soft_wrap=True)
    command = "rnnbench run " + " ".join(shlex.quote(a) for a in [*sweep.argv(), *_device_argv(args.device),
                                                                  *_override_argv(overrides)])
    return run_request(request, registry, cases, settings, start=start, out=out, command=command, observer=observer,
                       resume=resume, settings_extra={"study": tag},
                       warn_sharing=not workers_chosen).outcome


def _device_argv(device: str | None) -> list[str]:
    return ["--device", device] if device else []


@contextlib.contextmanager
def _one_study_run_at_a_time(out: Path, study: str) -> Iterator[None]:
    """Hold a lock on ``OUT/.study-NAME.lock`` for the whole ``study run``; a second one is refused.

    Two processes running one study would resume each other's sweeps and mark them finished
    while the other still ran them. The lock (``flock``) goes with the process, even a killed one.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create results folder {out}: {exc.strerror}") from None
    lock = out / f".study-{study}.lock"
    try:
        handle = open(lock, "a+")
    except OSError as exc:  # a folder or an unwritable file where the lock goes: say which
        raise UsageError(f"study '{study}': cannot open its lock file {lock}: {exc.strerror}; remove or rename"
                         " it") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise UsageError(f"study '{study}' is already running on {out} ({holder}); wait for it to end, or"
                             " give another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        yield


def _override_argv(overrides: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in overrides.items():
        if key == "plugins":
            for module in value:
                args += ["-p", module]
        else:
            args += ["--" + key.replace("_", "-"), str(value)]
    return args


def _stored_sweeps(out: Path, study: str):
    db = out / DEFAULT_DB_NAME
    if not db.exists():
        return {}
    with ResultsStore.reader(db) as store:
        return sweep_runs(store, study)


def _done_ok(out: Path, run_id: str) -> set[str]:
    with ResultsStore.reader(out / DEFAULT_DB_NAME) as store:
        return store.done_case_ids(run_id, statuses=("ok",))


# -- report -----------------------------------------------------------------------------------

def _write_report(out: Path, spec: StudySpec, profile: str,
                  device: str | None = None) -> tuple[StudyReportPaths, list]:
    from rnnbench.analysis.studies import evaluate  # deferred: fast start
    from rnnbench.render.study_report import write_study_report  # deferred: fast start

    folder = report_folder(out, spec.name, profile, device)
    db = out / DEFAULT_DB_NAME
    if not db.exists():
        raise UsageError(f"no results database at {db}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnnbenchError(f"cannot create the report folder {folder}: {exc.strerror}") from None
    with ResultsStore.reader(db) as store:
        data = load_study_data(store, spec, profile, folder, device)
    claims = evaluate(spec, data)
    sweeps = [f"{s.sweep.name}: run {s.run.run_id} ({len(s.results)} case(s)) — {s.run.command}" if s.run else
              f"{s.sweep.name}: not run" for s in data.sweeps.values()]
    try:
        return write_study_report(spec, profile, claims, sweeps, folder), claims
    except OSError as exc:  # a read-only or full disk: the stored runs are untouched
        raise RnnbenchError(f"cannot write the study report into {folder}: {exc.strerror or exc}; the stored runs"
                            " are kept: give a writable --out") from None


def report_study(args: argparse.Namespace) -> int:
    from rnnbench.render.study_report import print_claims_table  # deferred: fast start

    registry: Registry = load_plugins(args.plugins)
    out = Path(args.out)
    target = args.target.strip()
    if target.lower() in registry.studies:
        spec, profile, device = registry.studies[target.lower()], args.profile or "quick", args.device
    else:
        db = out / DEFAULT_DB_NAME
        if not db.exists():
            raise UsageError(f"'{target}' is not an installed study (studies: {', '.join(sorted(registry.studies))})"
                             f" and there is no results database at {db}")
        with ResultsStore.reader(db) as store:
            try:
                name, run_profile, run_device = study_of_run(store, target)
            except UsageError:
                raise UsageError(f"'{target}' is neither an installed study ({', '.join(sorted(registry.studies))})"
                                 f" nor the run id of a study's sweep in {db}") from None
        spec, profile = registry.resolve_study(name), args.profile or run_profile
        device = args.device or run_device
    paths, claims = _write_report(out, spec, _profile(spec, profile), device)
    print_claims_table(claims, Console())
    print(paths.markdown)
    print(paths.html)
    return 0
