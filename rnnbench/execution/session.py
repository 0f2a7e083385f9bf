"""A run from start to finish: each case through an executor, each result stored as it arrives.

This process is the only writer of the results store, whatever the executor, so
resume, progress and reports behave the same everywhere.
"""

from __future__ import annotations

import dataclasses
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from rnnbench.errors import RnnbenchError
from rnnbench.execution.environment import collect_environment
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
) -> RunOutcome:
    """Run ``cases`` through an executor and store each result (the caller writes the run folder).

    On ``resume``, cases already stored with status ``ok`` are skipped and every
    other case (failed, timed out, crashed, or never run) runs again. ``request``
    (the resolved command-line values) is stored with a new run so that a resume
    can repeat the sweep; ``on_start(run, to_run, already_done)`` is called once
    the run exists, before the first case.
    """
    executor_spec = registry.resolve_executor(executor)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RnnbenchError(f"cannot create results folder {out_dir}: {exc.strerror}") from None
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
            observer_errors += registry.notify("rnnbench_environment", env=env)
            run = RunInfo(run_id=new_run_id(), folder=out_dir, env=env, command=command,
                          settings=_settings_dict(settings, executor), created_at=time.time())
            if request is not None:
                run.settings["request"] = request
            store.create_run(run)
            done = set()
        run.folder = out_dir / run.run_id
        try:
            run.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RnnbenchError(f"cannot create run folder {run.folder}: {exc.strerror}") from None

        jobs = [CaseJob(c, settings, registry.plugin_modules) for c in cases if c.case_id not in done]
        total = len(jobs)
        if on_start:
            on_start(run, total, len(cases) - total)
        interrupted = False
        try:
            for index, result in enumerate(runner.map(jobs), start=1):
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

        store.finish_run(run.run_id, "interrupted" if interrupted else "finished")
        results = store.results(run.run_id)
        if not interrupted:
            observer_errors += registry.notify("rnnbench_run_finished", run=run, results=results)
        return RunOutcome(run=run, results=results, interrupted=interrupted, observer_errors=observer_errors)
    except sqlite3.Error as exc:  # e.g. the disk filled while a run was created or finished
        raise RnnbenchError(f"results database {store.path}: {exc}; what was stored before is kept") from None
    finally:
        try:
            runner.close()
        finally:
            store.close()


def _settings_dict(settings: RunSettings, executor: str) -> dict[str, Any]:
    return {"run": settings.to_dict(), "executor": executor}
