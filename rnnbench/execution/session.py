"""A run from start to finish: each case through an executor, each result stored as it arrives.

This process is the only writer of the results store, whatever the executor, so
resume, progress and reports behave the same everywhere.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.execution.environment import collect_environment
from rnnbench.execution.interrupts import hold_interrupts
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig, CaseJob, CaseResult, RunInfo, RunSettings
from rnnbench.specs import ExecutorOptions
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore

#: on --resume, cases stored with these statuses are not run again (failures are retried)
RESUME_SKIPS = ("ok",)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


@dataclass
class RunOutcome:
    run: RunInfo
    results: list[CaseResult]
    interrupted: bool = False
    observer_errors: list[str] | None = None
    #: cases not run because another process (a second resumer) held or stored them
    left_to_others: list[CaseConfig] = field(default_factory=list)


def run_sweep(
    cases: list[CaseConfig],
    registry: Registry,
    settings: RunSettings,
    *,
    executor: str = "local",
    executor_options: ExecutorOptions = ExecutorOptions(),
    out_dir: Path = Path("results"),
    command: str = "",
    resume: str | None = None,
    on_result: Callable[[CaseResult, int, int], None] | None = None,
    request: dict[str, Any] | None = None,
    on_start: Callable[[RunInfo, int, int], None] | None = None,
    settings_extra: dict[str, Any] | None = None,
    environment: dict[str, Any] | None = None,
) -> RunOutcome:
    """Run ``cases`` through an executor and store each result (the caller writes the run folder).

    On ``resume``, cases already stored with status ``ok`` are skipped and every
    other case (failed, timed out, crashed, or never run) runs again. ``request``
    (the resolved command-line values) is stored with a new run so that a resume
    can repeat the sweep; ``on_start(run, to_run, already_done)`` is called once
    the run exists, before the first case. ``environment`` adds facts to a new run's
    environment record (the machine's load, the threading chosen from it).

    Each case is claimed in the database just before it runs (executors pull jobs as
    they go), so two resumers of one run split the remaining cases; a case another live
    process holds is left to it. Once the sweep ends or is interrupted, further
    interrupts are held until the run is marked (see :mod:`rnnbench.execution.interrupts`).
    """
    executor_spec = registry.resolve_executor(executor)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create results folder {out_dir}: {exc.strerror}") from None
    # Start the executor before touching the store: a missing package or an unreachable
    # cluster must not leave an empty "running" run behind.
    runner = executor_spec.factory(dataclasses.replace(executor_options, registry=registry))
    try:
        store = ResultsStore(out_dir / DEFAULT_DB_NAME)
    except BaseException:
        runner.close()
        raise
    observer_errors: list[str] = []
    try:
        if resume:
            run = store.run_info(resume)
            done = store.done_case_ids(resume, statuses=RESUME_SKIPS)
        else:
            env = collect_environment(settings.threads)
            env["plugins"] = registry.plugin_versions()  # which distribution and version ran each plugin
            env.update(environment or {})
            observer_errors += registry.notify("rnnbench_environment", env=env)
            run = RunInfo(run_id=new_run_id(), folder=out_dir, env=env, command=command,
                          settings=_settings_dict(settings, executor), created_at=time.time())
            if request is not None:
                run.settings["request"] = request
            run.settings.update(settings_extra or {})  # e.g. the study a sweep belongs to
            store.create_run(run)
            done = set()
        run.folder = out_dir / run.run_id
        jobs = [CaseJob(c, settings, registry.plugin_modules) for c in cases if c.case_id not in done]
        total = len(jobs)
        left_to_others: list[CaseJob] = []

        def claimed(jobs: list[CaseJob]) -> Iterator[CaseJob]:
            for job in jobs:
                if store.claim(run.run_id, job.config.case_id, skip_statuses=RESUME_SKIPS):
                    yield job
                else:  # stored meanwhile, or running in another process that resumes this run
                    left_to_others.append(job)

        interrupted = False
        try:  # from the moment the run exists: a Ctrl-C at any point marks it "interrupted"
            try:
                run.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RnnbenchError(f"cannot create run folder {run.folder}: {exc.strerror}") from None
            if on_start:
                on_start(run, total, len(cases) - total)
            for index, result in enumerate(runner.map(claimed(jobs)), start=1):
                try:
                    store.add_result(run.run_id, result)
                except Exception as exc:  # e.g. the disk filled: what was stored stays stored
                    raise RnnbenchError(
                        f"could not store the result of {result.config.label()} in {store.path}: {exc}; the"
                        f" {index - 1 + len(cases) - total} case(s) stored before are kept: resume with"
                        f" --resume {run.run_id}") from None
                observer_errors += registry.notify("rnnbench_case_finished", result=result)
                if on_result:
                    on_result(result, index, total)
        except KeyboardInterrupt:
            interrupted = True
        hold_interrupts()  # the wrap-up below must not be cut short by a second Ctrl-C

        store.release_claims(run.run_id)
        store.finish_run(run.run_id, "interrupted" if interrupted else "finished")
        results = store.results(run.run_id)
        # rnnbench_run_finished is called by the command once the run folder is written (finish_run_folder)
        return RunOutcome(run=run, results=results, interrupted=interrupted, observer_errors=observer_errors,
                          left_to_others=[job.config for job in left_to_others])
    except sqlite3.Error as exc:  # e.g. the disk filled while a run was created or finished
        raise RnnbenchError(f"results database {store.path}: {exc}; what was stored before is kept") from None
    finally:
        try:
            runner.close()
        finally:
            store.close()


def _settings_dict(settings: RunSettings, executor: str) -> dict[str, Any]:
    return {"run": settings.to_dict(), "executor": executor}
