"""The ``dask`` executor: each case is a task on a dask.distributed cluster.

rnnbench does not schedule anything itself: it hands cases to a dask scheduler
(``--scheduler tcp://HOST:PORT``, or a LocalCluster of ``--workers N`` worker
processes started here) and takes the results back as each case finishes. This
process stays the only writer of the results store.

Fair timing: a worker runs one case at a time (one dask thread per worker, or the
``rnnbench_case`` resource), and the case pins torch/BLAS to ``--threads``.

Failures: a plugin's exception is already an error row (``execute_job``); an
exception from dask itself becomes an error row too; a worker that dies in the
middle of a case makes dask retry the case on another worker, up to
``distributed.scheduler.allowed-failures`` times, after which it is a ``crashed``
row. Every case comes back exactly once.

This module imports without dask installed; the factory needs it.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from rnnbench.errors import RnnbenchError, UsageError
from rnnbench.extras import install_hint
from rnnbench.execution.runner import execute_job, registry_for
from rnnbench.hookspecs import hookimpl
from rnnbench.records import CaseJob, CaseResult, WorkerRecord
from rnnbench.specs import ExecutorOptions, ExecutorSpec

INSTALL_HINT = f"--executor dask needs dask.distributed: {install_hint('dask')}"

#: a worker started with ``--resources rnnbench_case=1`` runs one case at a time whatever its nthreads
CASE_RESOURCE = "rnnbench_case"


# -- what runs inside a worker process (module level, so it pickles by reference) --------------
def run_job_on_worker(job: CaseJob) -> CaseResult:
    """Run one case in a worker; record the worker's address beside host, pid and CPU."""
    from distributed import get_worker

    result = execute_job(job)  # loads the plugins once per worker process
    result.worker["dask_worker"] = get_worker().address
    return result


def describe_worker(plugin_modules: tuple[str, ...]) -> dict[str, Any]:
    """What this worker can run: its plugins, as it loads them for a case, and its host."""
    import socket

    import rnnbench

    registry = registry_for(tuple(plugin_modules))
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cpu_count": os.cpu_count() or 1,
        "models": sorted(registry.models),
        "tasks": sorted(registry.tasks),
        "problems": [(p.plugin, str(p)) for p in registry.problems],
        "rnnbench": rnnbench.__version__,
    }


def extend_sys_path(paths: list[str]) -> None:
    """Make the client's import path the worker's (a LocalCluster shares the file system)."""
    for path in paths:
        if path not in sys.path:
            sys.path.append(path)


def _local_worker_plugin(paths: list[str]):
    from distributed.diagnostics.plugin import WorkerPlugin

    class LocalWorkerSetup(WorkerPlugin):
        """Runs on every local worker, restarted ones included, before it takes a task."""

        def __init__(self, paths: list[str]):
            self.paths = paths

        def setup(self, worker) -> None:
            extend_sys_path(self.paths)
            # Ctrl-C reaches the whole process group; the rnnbench process alone handles it
            # (stores what finished, then closes the cluster), so workers do not print tracebacks
            import signal
            import threading

            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.SIG_IGN)

    return LocalWorkerSetup(paths)


# -- the client side ---------------------------------------------------------------------------
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def check_address(address: str) -> None:
    """Refuse a malformed scheduler address before dask tries (and retries) it."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme in ("tcp", "tls", "ws", "wss"):
            parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--scheduler '{address}' is not a dask scheduler address like tcp://HOST:PORT"
                         f" ({_one_line(exc)})") from None


def connect_timeout() -> float:
    """dask's own connect timeout (``distributed.comm.timeouts.connect``), in seconds."""
    import dask
    from dask.utils import parse_timedelta

    return float(parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), default="s"))


@dataclass
class WorkerInfo:
    address: str
    host: str
    pid: int
    cpu_count: int
    nthreads: int
    resources: dict[str, float]


class DaskExecutor:
    def __init__(self, options: ExecutorOptions):
        try:
            import distributed
        except ImportError:
            raise UsageError(INSTALL_HINT) from None
        self.options = options
        self.cluster = None
        self.client: Any = None
        self.futures: list[Any] = []
        self.timeout = connect_timeout()
        if options.timeout:
            print("rnnbench: warning: the dask executor cannot stop a running case; --timeout is ignored"
                  " (use --executor process for per-case timeouts)", file=sys.stderr)
        if options.scheduler:
            self._connect(distributed, options.scheduler)
        else:
            self._start_local_cluster(distributed, options.workers)

    def _connect(self, distributed: Any, address: str) -> None:
        check_address(address)
        # dask logs every reconnection attempt; the one line below says it all
        logging.getLogger("distributed").setLevel(logging.ERROR)
        try:
            self.client = distributed.Client(address, timeout=self.timeout, set_as_default=False)
        except Exception as exc:
            raise RnnbenchError(
                f"cannot reach the dask scheduler at {address} within {self.timeout:g} s"
                f" (distributed.comm.timeouts.connect): {_one_line(exc)}"
            ) from None

    def _start_local_cluster(self, distributed: Any, workers: int) -> None:
        paths = [p or os.getcwd() for p in sys.path]  # "" is the folder rnnbench was started in
        env = {"PYTHONPATH": os.pathsep.join(paths)}  # for what a case starts in turn
        try:
            self.cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                env=env, silence_logs=logging.CRITICAL,  # the rows say what went wrong
            )
            self.client = distributed.Client(self.cluster, set_as_default=False)
            # -p modules found through this process's sys.path must import on the workers too
            self.client.register_plugin(_local_worker_plugin(paths), name="rnnbench-local-worker")
        except Exception as exc:
            self.close()
            raise RnnbenchError(f"could not start a local dask cluster of {workers} worker(s): {_one_line(exc)}") from None

    # -- before anything is submitted ------------------------------------------------------------
    def _workers(self, plugin_modules: tuple[str, ...]) -> tuple[list[WorkerInfo], dict[str, dict]]:
        try:
            self.client.wait_for_workers(1, timeout=self.timeout)
        except Exception:
            raise RnnbenchError(
                f"no dask worker joined the scheduler at {self.client.scheduler.address} within {self.timeout:g} s;"
                " start one with: dask worker ADDRESS --nthreads 1"
            ) from None
        reports = self.client.run(describe_worker, plugin_modules, on_error="return")
        info = self.client.scheduler_info(n_workers=-1)["workers"]
        workers = []
        for address, report in reports.items():
            if isinstance(report, BaseException):
                raise RnnbenchError(f"dask worker {address} cannot load rnnbench plugins: {_one_line(report)}")
            facts = info.get(address, {})
            workers.append(WorkerInfo(address, report["host"], report["pid"], report["cpu_count"],
                                      int(facts.get("nthreads", 1)), dict(facts.get("resources") or {})))
        return workers, reports

    def _check_plugins(self, jobs: list[CaseJob], reports: dict[str, dict]) -> None:
        """One clear line when a worker lacks a model or task that the sweep needs."""
        registry = registry_for(jobs[0].plugin_modules)
        needed = {("model", j.config.model) for j in jobs} | {("task", j.config.task) for j in jobs}
        lacking: dict[str, list[str]] = {}
        for address, report in reports.items():
            have = {("model", m) for m in report["models"]} | {("task", t) for t in report["tasks"]}
            missing = sorted(needed - have)
            if missing:
                problems = dict(report["problems"])
                parts = []
                for kind, name in missing:
                    plugin = registry.owners.get(name, "?")
                    why = f" ({problems[plugin]})" if plugin in problems else ""
                    parts.append(f"{kind} '{name}' from plugin '{plugin}'{why}")
                lacking[address] = parts
        if lacking:
            address, parts = next(iter(sorted(lacking.items())))
            more = f" (and {len(lacking) - 1} more worker(s))" if len(lacking) > 1 else ""
            raise RnnbenchError(
                f"dask worker {address} on {reports[address]['host']}{more} lacks {'; '.join(parts)}:"
                " install the plugin there, or put the -p module on the worker's PYTHONPATH"
            )

    def _case_slots(self, workers: list[WorkerInfo]) -> dict[str, float] | None:
        """Resources that give each worker one case at a time; refuse workers that would share."""
        if any(w.resources.get(CASE_RESOURCE) for w in workers):
            return {CASE_RESOURCE: 1}
        shared = [w for w in workers if w.nthreads > 1]
        if shared:
            w = shared[0]
            raise RnnbenchError(
                f"dask worker {w.address} runs {w.nthreads} tasks at once, so cases would share its cores and"
                " distort each other's timings; start workers with 'dask worker ADDRESS --nthreads 1'"
                f" (or '--resources {CASE_RESOURCE}=1')"
            )
        return None

    def _warn_versions(self, reports: dict[str, dict]) -> None:
        import rnnbench

        other = sorted({(r["rnnbench"], a) for a, r in reports.items() if r["rnnbench"] != rnnbench.__version__})
        if other:
            version, address = other[0]
            print(f"rnnbench: warning: dask worker {address} has rnnbench {version}, this machine"
                  f" {rnnbench.__version__}; results may differ in what they measure", file=sys.stderr)

    def _warn_oversubscription(self, workers: list[WorkerInfo], threads: int) -> None:
        per_host: dict[str, list[WorkerInfo]] = defaultdict(list)
        for w in workers:
            per_host[w.host].append(w)
        for host, here in sorted(per_host.items()):
            cores = here[0].cpu_count
            if len(here) * threads > cores:
                print(f"rnnbench: warning: {len(here)} dask workers on {host} run --threads {threads} each:"
                      f" {len(here) * threads} threads on {cores} cores, so concurrent cases share cores and"
                      " their timings are not comparable; use fewer workers or threads", file=sys.stderr)

    # -- the executor contract -------------------------------------------------------------------
    def map(self, jobs: Iterable[CaseJob]) -> Iterator[CaseResult]:
        from distributed import as_completed

        queue = deque(jobs)
        if not queue:
            return
        workers, reports = self._workers(queue[0].plugin_modules)
        self._check_plugins(list(queue), reports)
        resources = self._case_slots(workers)
        self._warn_versions(reports)
        self._warn_oversubscription(workers, queue[0].settings.thread_cap)

        # Cases are handed out as workers free up, never queued on a worker: a worker holds
        # only the case it runs, so one that dies takes exactly that case with it (retried
        # elsewhere, or `crashed`), and an interrupted sweep leaves little to cancel.
        token = secrets.token_hex(4)
        job_of: dict[str, CaseJob] = {}
        finished = as_completed(loop=self.client.loop)

        def submit_while_free() -> None:
            free = self._slots(resources) - len(job_of)
            while queue and (free > 0 or not job_of):  # at least one in flight, or the loop ends
                job = queue.popleft()
                future = self.client.submit(run_job_on_worker, job, key=f"rnnbench-case-{job.config.case_id}-{token}",
                                            pure=False, retries=0, resources=resources)
                job_of[future.key] = job
                self.futures.append(future)
                finished.add(future)
                free -= 1

        try:
            submit_while_free()
            for future in finished:
                job = job_of.pop(future.key, None)
                if job is None:  # never hand the same case back twice
                    continue
                result = self._result_of(future, job)
                future.release()
                submit_while_free()  # the next case starts while this one is stored
                yield result
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except Exception as exc:  # the scheduler went away: what did not come back is an error row
            for job in [*job_of.values(), *queue]:
                yield _failed(job, "error", f"dask lost the case: {_one_line(exc)}")

    def _slots(self, resources: dict[str, float] | None) -> int:
        """How many cases the cluster runs at once: one per (suitable) worker."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        if resources:
            return sum(1 for w in workers if (w.get("resources") or {}).get(CASE_RESOURCE))
        return len(workers)

    def _result_of(self, future: Any, job: CaseJob) -> CaseResult:
        from distributed import KilledWorker

        try:
            result = future.result()
        except KilledWorker as exc:
            last = str(getattr(exc.last_worker, "address", exc.last_worker))
            return _failed(
                job, "crashed",
                f"the dask worker running this case died (last on {last}); dask ran it"
                f" {exc.allowed_failures + 1} time(s) and each time its worker died"
                " (distributed.scheduler.allowed-failures)",
                {"dask_worker": last},
            )
        except Exception as exc:  # raised by dask (pickling, a lost future), not by a plugin
            return _failed(job, "error", f"dask: {_one_line(exc)}")
        if not isinstance(result, CaseResult):
            return _failed(job, "error", f"dask returned a {type(result).__name__}, not a case result")
        return result

    def close(self) -> None:
        for future in self.futures:  # an interrupted sweep leaves nothing running on the cluster
            if not future.done():
                future.cancel()
        self.futures = []
        if self.client is not None:
            try:
                self.client.close(timeout=self.timeout)
            except Exception:  # already gone: nothing left to release
                pass
            self.client = None
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=self.timeout)
            except Exception:
                pass
            self.cluster = None


def _failed(job: CaseJob, status: str, message: str, worker: dict[str, Any] | None = None) -> CaseResult:
    return CaseResult(config=job.config, status=status, error=message, started_at=time.time(),
                      worker={**WorkerRecord(threads=job.settings.thread_cap).to_dict(), **(worker or {})})


def make_executor(options: ExecutorOptions) -> DaskExecutor:
    return DaskExecutor(options)


@hookimpl
def rnnbench_register_executors(register):
    register(ExecutorSpec(
        name="dask", factory=make_executor,
        description="tasks on a dask.distributed cluster: --scheduler tcp://HOST:PORT, or a local"
                    " cluster of --workers N processes (needs dask.distributed)",
    ))
