"""A run from start to finish: each case through an executor, each result stored as it arrives.

This process is the only writer of the results store, whatever the executor, so
resume, progress and reports behave the same everywhere.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.execution import calibration
from rnnbench.execution.environment import collect_environment
from rnnbench.execution.interrupts import hold_interrupts
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig, CaseJob, CaseResult, RunInfo, RunSettings
from rnnbench.specs import ExecutorOptions, ExecutorSpec
from rnnbench.store import DEFAULT_DB_NAME, DEFAULT_RESULTS_FOLDER, ResultsStore

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
    out_dir: Path = Path(DEFAULT_RESULTS_FOLDER),
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
    process holds is left to it. A Ctrl-C (or SIGTERM) from the moment the run is written
    marks it "interrupted", even one that arrives inside the write; once the sweep ends or
    is interrupted, further interrupts are held until the run is marked
    (see :mod:`rnnbench.execution.interrupts`).
    """
    executor_spec = registry.resolve_executor(executor)
    out_dir = _results_dir(Path(out_dir))
    runner, store = _start(executor_spec, registry, executor_options, out_dir)
    try:
        if resume:
            run, observer_errors = store.run_info(resume), []
        else:
            run, observer_errors = _new_run(registry, settings, executor, out_dir, command, request,
                                            settings_extra, environment)
        sweep = _Sweep(store, registry, run, out_dir, observer_errors)
        try:
            if not resume:
                sweep.create()
            sweep.run(runner, cases, settings, on_start, on_result)
        except KeyboardInterrupt:
            if not sweep.exists():  # interrupted before the run was written: nothing to mark
                raise
            sweep.interrupted = True
        hold_interrupts()  # the wrap-up below must not be cut short by a second Ctrl-C
        return sweep.wrap_up()
    except sqlite3.Error as exc:  # e.g. the disk filled while a run was created or finished
        raise RnnbenchError(f"results database {store.path}: {exc}; what was stored before is kept") from None
    finally:
        try:
            runner.close()
        finally:
            store.close()


def _start(executor_spec: ExecutorSpec, registry: Registry, executor_options: ExecutorOptions, out_dir: Path):
    """The executor started, then the store opened (the executor closed again if the store cannot open).

    The executor starts before the store is touched: a missing package or an unreachable
    cluster must not leave an empty "running" run behind.
    """
    runner = executor_spec.factory(dataclasses.replace(executor_options, registry=registry))
    try:
        return runner, ResultsStore(out_dir / DEFAULT_DB_NAME)
    except BaseException:
        runner.close()
        raise


def threads_ran(results: list[CaseResult]) -> list[int]:
    """The distinct thread counts the run's cases ran with (each case's own record), fewest first."""
    return sorted({int(threads) for r in results if isinstance(threads := r.ran_on.threads, int)})


def _results_dir(out_dir: Path) -> Path:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out: cannot create results folder {out_dir}: {exc.strerror}") from None
    return out_dir


def _new_run(registry: Registry, settings: RunSettings, executor: str, out_dir: Path, command: str,
             request: dict[str, Any] | None, settings_extra: dict[str, Any] | None,
             environment: dict[str, Any] | None) -> tuple[RunInfo, list[str]]:
    """The record of a new run (not yet stored) and what its environment hooks reported."""
    env = collect_environment(settings.thread_cap)
    env["plugins"] = registry.plugin_versions()  # which distribution and version ran each plugin
    env.update(environment or {})
    errors = registry.notify("rnnbench_environment", env=env)
    env = _json_safe_environment(env, errors)
    calibration.record(env, "start", settings.thread_cap)  # how fast the machine is, before the first case
    run = RunInfo(run_id=new_run_id(), folder=out_dir, env=env, command=command,
                  settings=_settings_dict(settings, executor), created_at=time.time())
    if request is not None:
        run.settings["request"] = request
    run.settings.update(settings_extra or {})  # e.g. the study a sweep belongs to
    return run, errors


def _json_safe_environment(env: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """The environment with each value a plugin added that JSON cannot store replaced by its text (and said)."""
    safe: dict[str, Any] = {}
    for key, value in env.items():
        try:
            json.dumps(value, allow_nan=False)
            safe[key] = value
        except (TypeError, ValueError):
            safe[key] = repr(value)
            errors.append(f"rnnbench_environment: env[{key!r}] = {value!r:.60} cannot be stored as JSON;"
                          " its text is stored instead")
    return safe


class _Sweep:
    """One run's cases through the store: create, claim, run, store, mark."""

    def __init__(self, store: ResultsStore, registry: Registry, run: RunInfo, out_dir: Path,
                 observer_errors: list[str]) -> None:
        self.store, self.registry, self.run_info = store, registry, run
        self.out_dir = out_dir
        self._stored_so_far = 0  # cases of this run stored so far: what a failure to store keeps
        self.observer_errors = list(observer_errors)
        self.left_to_others: list[CaseConfig] = []
        self.interrupted = False
        self._created = False

    def create(self) -> None:
        self.store.create_run(self.run_info)
        self._created = True

    def exists(self) -> bool:
        """Whether the run is in the store (a Ctrl-C inside ``create`` may come after its commit)."""
        if self._created:
            return True
        hold_interrupts()  # the look-up itself must not be cut short
        return self.run_info.run_id in self.store.run_ids()

    def run(self, runner, cases: list[CaseConfig], settings: RunSettings,
            on_start: Callable[[RunInfo, int, int], None] | None,
            on_result: Callable[[CaseResult, int, int], None] | None) -> None:
        run = self.run_info
        self._created = True
        run.folder = self.out_dir / run.run_id
        done = self.store.done_case_ids(run.run_id, statuses=RESUME_SKIPS)
        jobs = [CaseJob(c, settings, self.registry.plugin_modules) for c in cases if c.case_id not in done]
        try:
            run.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RnnbenchError(f"cannot create run folder {run.folder}: {exc.strerror}") from None
        if on_start:
            on_start(run, len(jobs), len(cases) - len(jobs))
        self._stored_so_far = len(cases) - len(jobs)
        for index, result in enumerate(runner.map(self._claimed(jobs)), start=1):
            self._store(result, stored_before=index - 1 + len(cases) - len(jobs))
            self._stored_so_far += 1
            self.observer_errors += self.registry.notify("rnnbench_case_finished", result=result)
            if on_result:
                on_result(result, index, len(jobs))

    def _claimed(self, jobs: list[CaseJob]) -> Iterator[CaseJob]:
        for job in jobs:
            try:
                claimed = self.store.claim(self.run_info.run_id, job.config.case_id, skip_statuses=RESUME_SKIPS)
            except Exception as exc:  # the disk filled before the case started: as when its result cannot be stored
                self._mark_after_failure()
                raise RnnbenchError(
                    f"could not store the start of {job.config.label()} in {self.store.path}: {exc}; the"
                    f" {self._stored_so_far} case(s) stored before are kept: resume with --resume"
                    f" {self.run_info.run_id}") from None
            if claimed:
                yield job
            else:  # stored meanwhile, or running in another process that resumes this run
                self.left_to_others.append(job.config)

    def _store(self, result: CaseResult, stored_before: int) -> None:
        try:
            self.store.add_result(self.run_info.run_id, result)
        except Exception as exc:  # e.g. the disk filled: what was stored stays stored
            self._mark_after_failure()
            raise RnnbenchError(
                f"could not store the result of {result.config.label()} in {self.store.path}: {exc}; the"
                f" {stored_before} case(s) stored before are kept: resume with --resume {self.run_info.run_id}"
            ) from None

    def _mark_after_failure(self) -> None:
        """Mark the run interrupted after a result could not be stored (best effort: the disk may be full)."""
        # The status first: it is what a reader sees. A full disk usually means the write-ahead log
        # cannot grow; moving its pages into the database (a checkpoint) frees it for this one update.
        for attempt in (self.store.finish_run, self._checkpoint_then_finish):
            try:
                attempt(self.run_info.run_id, "interrupted")
                break
            except Exception:  # noqa: BLE001 - the error being raised says what failed; the resume works either way
                continue
        try:  # claims of a process that has ended are taken over by a resume anyway
            self.store.release_claims(self.run_info.run_id)
        except Exception:  # noqa: BLE001
            pass

    def _checkpoint_then_finish(self, run_id: str, status: str) -> None:
        self.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.store.finish_run(run_id, status)

    def wrap_up(self) -> RunOutcome:
        run_id = self.run_info.run_id
        self.store.release_claims(run_id)
        env = self.run_info.env
        if not self.interrupted:  # and after the last: the machine's speed may have changed meanwhile
            calibration.record(env, "end", env.get("thread_cap") or env.get("threads") or 1)
        results = self.store.results(run_id)
        # what the cases ran with, for readers of the run (history, compare's A/A band, captions)
        env["threads_ran"] = threads_ran(results)
        self.store.update_run_env(run_id, env)
        self.store.finish_run(run_id, "interrupted" if self.interrupted else "finished")
        # rnnbench_run_finished is called by the command once the run folder is written
        # (rnnbench.run_service.finish_run_folder), so that its plugins find the folder's files
        return RunOutcome(run=self.run_info, results=results, interrupted=self.interrupted,
                          observer_errors=self.observer_errors, left_to_others=self.left_to_others)


def _settings_dict(settings: RunSettings, executor: str) -> dict[str, Any]:
    return {"run": settings.to_dict(), "executor": executor}
