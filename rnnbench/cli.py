"""The ``rnnbench`` command line.

Every user error ends in one line on stderr and a non-zero exit (2 for usage
errors); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Sequence

import rnnbench
from rnnbench.errors import RnnbenchError, UsageError


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one line with exit code 2, like the rest of the CLI."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", dest="plugins", action="append", default=[], metavar="MODULE",
                        help="load a plugin module by import path (repeatable), as pytest -p")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnbench", description="Benchmark recurrent models against Transformers: "
                     "speed, memory and accuracy, through plugins.")
    parser.add_argument("--version", action="version", version=f"rnnbench {rnnbench.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a sweep of models x tasks x sizes and report it",
                         description="Run a sweep. Axes are comma lists; their product is the set of cases.")
    _add_common(run)
    axes = run.add_argument_group("sweep axes (comma lists)")
    axes.add_argument("--models", default="lstm,gru,transformer",
                      help="ARCH or ARCH@BACKEND names (default: %(default)s)")
    axes.add_argument("--tasks", default="copy", help="task names (default: %(default)s)")
    axes.add_argument("--seq-len", help="how far the dependency reaches; see 'rnnbench list' per task (default: the task's)")
    axes.add_argument("--batch-size", help="batch size (default: the task's)")
    axes.add_argument("--hidden", help="width of the core (default: the task's, 128 for most)")
    axes.add_argument("--layers", help="recurrent layers or Transformer blocks (default: the task's, 1 for most)")
    axes.add_argument("--device", default="cpu", help="cpu and/or cuda (default: %(default)s)")
    axes.add_argument("--dtype", default="float32", help="parameter dtype (default: %(default)s)")
    axes.add_argument("--seeds", default="0", help="seeds (default: %(default)s)")
    axes.add_argument("--steps", help="training steps (default: the task's budget)")
    axes.add_argument("--lr", help="Adam learning rate (default: the task's)")
    axes.add_argument("--task-opt", action="append", default=[], metavar="TASK.KEY=VALUE",
                      help="a task option (repeatable), e.g. copy.num_symbols=5")
    axes.add_argument("--match-params", action="store_true",
                      help="pick each model's width so that its parameter count is within 5%% of the first"
                      " model's at --hidden (embedding and head included)")
    how = run.add_argument_group("how to run")
    how.add_argument("--scenarios", default="train,forward", help="train, forward, decode (default: %(default)s)")
    how.add_argument("--threads", type=str, default=None,
                     help="threads for torch and BLAS in every case (default: all %d cores)" % (os.cpu_count() or 1))
    how.add_argument("--min-time", type=str, default="0.5",
                     help="seconds of timed repeats per timing, after warm-up (default: %(default)s)")
    how.add_argument("--executor", default="local", help="where cases run (default: %(default)s)")
    how.add_argument("--timeout", type=str, default=None, help="seconds per case (executors that can stop one)")
    how.add_argument("--workers", type=str, default="1", help="worker processes (executors that start them)")
    how.add_argument("--scheduler", default=None, help="cluster scheduler address (executors that use one)")
    how.add_argument("--out", default="results", help="results folder (default: %(default)s)")
    how.add_argument("--resume", metavar="RUN_ID",
                     help="continue a run with its stored flags: skip its ok cases, rerun failed and missing ones")
    how.add_argument("--sweep", metavar="FILE.toml",
                     help="read the flags from a TOML sweep file; flags given here override it (docs/robustness.md)")
    how.add_argument("--no-progress", action="store_true", help="no progress bar")

    lst = sub.add_parser("list", help="list installed models, tasks and executors")
    _add_common(lst)
    env = sub.add_parser("env", help="print the environment record a run would store")
    _add_common(env)
    from rnnbench.analysis import compare
    from rnnbench.commands import export, history  # subcommands that register themselves

    for module in (compare, history, export):
        module.register(sub, _add_common)
    report = sub.add_parser("report", help="rebuild a run's plots, report.md and report.html from the store",
                            description="Rebuild results/RUN_ID/ (results.csv, env.json, plots, report.md,"
                            " report.html) from the results database alone.")
    _add_common(report)
    report.add_argument("run_id", metavar="RUN_ID", help="the run to report (see results/rnnbench.db)")
    report.add_argument("--out", default="results", help="results folder holding rnnbench.db (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        handler = getattr(args, "handler", None) or {
            "run": cmd_run, "list": cmd_list, "env": cmd_env, "report": cmd_report}[args.command]
        return handler(args, argv)
    except RnnbenchError as exc:
        if debug:
            raise
        print(f"rnnbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rnnbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, reported as one line unless --debug
        if debug:
            raise
        print(f"rnnbench: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _load(args: argparse.Namespace):
    from rnnbench.execution.runner import registry_for

    registry = registry_for(tuple(args.plugins))
    for problem in registry.problems:
        print(f"rnnbench: warning: {problem}", file=sys.stderr)
    return registry


def _positive(flag: str, text: str | None, kind: type = int) -> float | int | None:
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{flag}: '{text}' is not a{'n integer' if kind is int else ' number'}") from None
    if not value > 0:
        raise UsageError(f"{flag}: must be positive, got {text}")
    return value


def cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from rich.console import Console

    from rnnbench.request import sweep as sw
    from rnnbench.records import SCENARIOS
    from rnnbench.execution.executors import ExecutorOptions
    from rnnbench.render.report import print_summary
    from rnnbench.execution.runner import RunSettings
    from rnnbench.execution.timing import TimerSettings
    from rnnbench.request.run_request import resolve_run_args
    from rnnbench.execution.interrupts import sigterm_as_interrupt

    request = resolve_run_args(args, argv, build_parser)  # defaults < --resume's run < --sweep file < flags
    sigterm_as_interrupt()
    axes = sw.SweepAxes(
        models=sw.parse_name_list("--models", args.models),
        tasks=sw.parse_name_list("--tasks", args.tasks),
        seq_len=sw.parse_int_list("--seq-len", args.seq_len) if args.seq_len is not None else None,
        batch_size=sw.parse_int_list("--batch-size", args.batch_size) if args.batch_size is not None else None,
        hidden=sw.parse_int_list("--hidden", args.hidden) if args.hidden is not None else None,
        layers=sw.parse_int_list("--layers", args.layers) if args.layers is not None else None,
        device=sw.parse_choice_list("--device", args.device, ("cpu", "cuda")),
        dtype=sw.parse_name_list("--dtype", args.dtype),
        seeds=sw.parse_int_list("--seeds", args.seeds, minimum=0),
        steps=sw.parse_int_list("--steps", args.steps) if args.steps is not None else None,
        lr=sw.parse_float_list("--lr", args.lr) if args.lr is not None else None,
        task_options=sw.parse_task_options(args.task_opt),
    )
    scenarios = tuple(sw.parse_choice_list("--scenarios", args.scenarios, SCENARIOS))
    threads = _positive("--threads", args.threads) or (os.cpu_count() or 1)
    min_time = _positive("--min-time", args.min_time, float)
    timeout = _positive("--timeout", args.timeout, float)
    workers = _positive("--workers", args.workers)

    registry = _load(args)
    registry.resolve_executor(args.executor)  # fail before any work on a typo
    expansion = sw.expand(axes, registry)
    err = Console(stderr=True)
    for note in expansion.skipped:
        err.print(f"[yellow]rnnbench: skipping[/yellow] {note}")
    if args.match_params:
        from rnnbench.analysis.match_params import match_params, registry_param_counter

        matching = match_params(expansion.cases, registry_param_counter(registry))
        expansion.cases = matching.cases
        for choice in matching.choices:
            err.print(f"match-params: {choice.describe()}")
        for note in matching.warnings:
            err.print(f"[yellow]rnnbench: warning:[/yellow] match-params: {note}")

    settings = RunSettings(scenarios=scenarios, threads=int(threads),
                           timer=TimerSettings(min_run_time=float(min_time)))
    command = "rnnbench " + " ".join(shlex.quote(a) for a in argv)
    outcome = _run_with_progress(expansion.cases, registry, settings, args, command, err,
                                 ExecutorOptions(timeout=timeout, workers=int(workers), scheduler=args.scheduler),
                                 request)
    from rnnbench.render.run_folder import write_run_folder

    write_run_folder(outcome.run, outcome.results)
    for message in outcome.observer_errors or []:
        err.print(f"[yellow]rnnbench: warning:[/yellow] {message}")
    print_summary(outcome.results, outcome.run, Console())
    folder = outcome.run.folder
    err.print(f"results: {folder / 'results.csv'}  report: {folder / 'report.md'}  {folder / 'report.html'}"
              f"  database: {Path(args.out) / 'rnnbench.db'}", soft_wrap=True)
    _plot_notes(outcome.results, err)
    failed = [r for r in outcome.results if r.status != "ok"]
    if outcome.interrupted:
        from rnnbench.request.run_request import resume_command

        resume = resume_command(args.out, outcome.run.run_id)
        err.print(f"[red]interrupted[/red]: finished cases are stored; resume with:\n  {resume}",
                  highlight=False, soft_wrap=True)
        return 130
    if failed:
        err.print(f"[red]{len(failed)} of {len(outcome.results)} case(s) failed[/red]; their rows say why")
        return 1
    return 0


def _run_with_progress(cases, registry, settings, args, command, err, executor_options, request=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rnnbench.request.run_request import resume_command
    from rnnbench.execution.session import run_sweep

    def on_start(run, to_run, already_done):
        done = f", {already_done} already done" if already_done else ""
        err.print(f"run {run.run_id}: {to_run} case(s) to run{done}; if it stops, continue with:"
                  f" {resume_command(args.out, run.run_id)}", highlight=False, soft_wrap=True)

    kwargs = dict(executor=args.executor, executor_options=executor_options, out_dir=Path(args.out),
                  command=command, resume=args.resume, request=request, on_start=on_start)
    if args.no_progress:
        return run_sweep(cases, registry, settings, **kwargs)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task(f"{len(cases)} case(s)", total=None)

        def on_start_with_bar(run, to_run, already_done):
            on_start(run, to_run, already_done)
            progress.update(bar, total=to_run, description=f"run {run.run_id}")

        kwargs["on_start"] = on_start_with_bar

        def on_result(result, index, total):
            mark = "ok" if result.status == "ok" else result.status.upper()
            progress.update(bar, completed=index, total=total,
                            description=f"{result.config.model} {result.config.task}: {mark}")

        return run_sweep(cases, registry, settings, on_result=on_result, **kwargs)


def cmd_list(args: argparse.Namespace, argv: list[str]) -> int:
    from rich.console import Console
    from rich.table import Table

    registry = _load(args)
    console = Console()
    if not console.is_terminal:  # piped: no terminal width to respect, keep rows unwrapped
        console = Console(width=160)
    models = Table(title="models (ARCH@BACKEND; a bare ARCH means its default backend)")
    for col in ("model", "family", "devices", "dtypes", "available", "plugin"):
        models.add_column(col)
    for name in sorted(registry.models):
        spec = registry.models[name]
        reason = spec.unavailable_reason()
        default = " (default)" if spec.default_for_arch else ""
        models.add_row(name + default, spec.family, ",".join(spec.devices), ",".join(spec.dtypes),
                       "yes" if reason is None else f"no: {reason}", registry.owners.get(name, ""))
    console.print(models)
    tasks = Table(title="tasks (options: --task-opt TASK.KEY=VALUE)")
    for col in ("task", "--seq-len means", "defaults", "options", "description"):
        tasks.add_column(col, overflow="fold")
    for name in sorted(registry.tasks):
        spec = registry.tasks[name]
        d = spec.defaults
        tasks.add_row(name, spec.seq_len_meaning,
                      f"seq_len={d.seq_len} batch={d.batch_size} steps={d.steps} lr={d.lr:g}"
                      + "".join(f" lr[{f}]={lr:g}" for f, lr in d.lr_by_family.items())
                      + f" hidden={d.hidden} layers={d.layers}",
                      ", ".join(f"{k}={v}" for k, v in spec.options.items()) or "-", spec.description)
    console.print(tasks)
    executors = Table(title="executors (--executor NAME)")
    executors.add_column("executor")
    executors.add_column("description")
    for name in sorted(registry.executors):
        executors.add_row(name, registry.executors[name].description)
    console.print(executors)
    return 0


def cmd_env(args: argparse.Namespace, argv: list[str]) -> int:
    from rnnbench.execution.environment import collect_environment

    registry = _load(args)
    env = collect_environment(os.cpu_count() or 1)
    registry.notify("rnnbench_environment", env=env)
    print(json.dumps(env, indent=2, default=str))
    return 0


def _plot_notes(results, err) -> None:
    from rnnbench.render.plots import matplotlib_missing

    missing = matplotlib_missing()
    if missing and results:
        err.print(f"rnnbench: note: the report has no plots: {missing}", markup=False, highlight=False)


def cmd_report(args: argparse.Namespace, argv: list[str]) -> int:
    from rich.console import Console

    from rnnbench.render.run_folder import write_run_folder
    from rnnbench.store import DEFAULT_DB_NAME, load_run

    run, results = load_run(Path(args.out) / DEFAULT_DB_NAME, args.run_id)
    paths = write_run_folder(run, results)
    print(paths.markdown)
    print(paths.html)
    _plot_notes(results, Console(stderr=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
