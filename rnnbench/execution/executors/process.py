"""The ``process`` executor: every case in a fresh worker process, with a timeout.

A case that segfaults, calls ``os._exit``, hangs past ``--timeout`` or runs out
of memory takes down only its own worker; it comes back as a result row with
status ``crashed``, ``timeout``, ``oom`` or ``error`` and the sweep goes on.

Workers are started with the ``spawn`` method, so each begins from a clean
interpreter (no state, threads or CUDA context inherited from the parent) and
loads the plugins as the parent did: entry points plus the ``-p`` modules, with
the parent's ``sys.path`` so that any module the parent could import is found.
The parent talks to a worker through one pipe and watches its process sentinel,
so it notices a death without a result as soon as it happens.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Iterable, Iterator

from rnnbench.execution.environment import cpu_model
from rnnbench.execution.executors.worker_memory import peak_rss_metrics
from rnnbench.hookspecs import hookimpl
from rnnbench.records import CaseJob, CaseResult, WorkerRecord
from rnnbench.specs import ExecutorOptions, ExecutorSpec

#: seconds a hung worker gets to write its Python stack (faulthandler) before it is killed
STACK_DUMP_GRACE_S = 0.5
#: characters of a crashed worker's faulthandler output kept in the row's details
MAX_STACK_CHARS = 4000
#: seconds a worker may take to start and load plugins (importing torch on a busy
#: machine), on top of --timeout; a plugin whose import hangs is still stopped
STARTUP_ALLOWANCE_S = 120.0
#: what a worker sends when its plugins are loaded and the case itself begins
_STARTED = "started"


# -- the worker side ---------------------------------------------------------------------------

def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when the parent dies (even by SIGKILL).

    Without it, a worker stuck in a hung case would outlive a killed sweep forever.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # best effort: the sweep works without it
        pass


def worker_main(conn: Connection, job: CaseJob, sys_path: list[str], stack_file: str) -> None:
    """Entry point of a worker process: run one job, send back its result, exit."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides what
    # an interrupt means and kills its workers, so a worker ignores it. (It was born
    # with SIGINT blocked, see _sigint_blocked; once ignored, it can be unblocked.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.setpgrp()  # its own group, so a timeout kills whatever the case started too
    _die_with_parent()
    sys.path[:] = sys_path
    import faulthandler

    # On a segfault, or on SIGUSR1 from the parent before a timeout kill, the Python
    # stack goes to this file, and from there into the row's details.
    stack = open(stack_file, "w")
    faulthandler.enable(stack, all_threads=True)
    if hasattr(faulthandler, "register") and hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, stack, all_threads=True)

    from rnnbench.execution.runner import (  # after faulthandler: see above
        execute_job,
        registry_for,
    )

    try:
        registry = registry_for(job.plugin_modules)
        metrics_before = peak_rss_metrics(after_loading=True)
        conn.send(_STARTED)  # the case's --timeout counts from here, not from the spawn
        result = execute_job(job, registry)
        result.metrics += peak_rss_metrics(baseline=metrics_before)
    except BaseException as exc:  # anything outside run_case's own boundary
        result = CaseResult(config=job.config, status="error", error=f"worker failed: {type(exc).__name__}: {exc}")
    try:
        conn.send(result)
    except Exception as exc:  # an unpicklable detail from a plugin: send what can be sent
        result.details, result.metrics = {}, []
        result.status, result.error = "error", f"the worker could not send its result: {type(exc).__name__}: {exc}"
        conn.send(result)
    conn.close()


# -- the parent side ---------------------------------------------------------------------------

@dataclass
class _Worker:
    job: CaseJob
    process: Any  # multiprocessing.Process (spawn context)
    conn: Connection
    stack_file: str
    started_at: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    case_started: bool = False
    result: CaseResult | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class ProcessExecutor:
    """Run each job in a new spawned process, at most ``options.workers`` at a time."""

    def __init__(self, options: ExecutorOptions):
        self.options = options
        self.context = multiprocessing.get_context("spawn")
        self.workers = max(1, int(options.workers or 1))
        self.timeout = options.timeout
        self._running: list[_Worker] = []
        self._warned = False
        if options.scheduler:  # a cluster address given here would otherwise be dropped without a word
            print("rnnbench: warning: the process executor starts its workers on this machine, so --scheduler"
                  " is ignored; use --executor dask to run on a cluster", file=sys.stderr)

    # -- starting and stopping workers ---------------------------------------------------
    def _start(self, job: CaseJob) -> None:
        receive, send = self.context.Pipe(duplex=False)
        fd, stack_file = tempfile.mkstemp(prefix="rnnbench-worker-", suffix=".stack")
        os.close(fd)
        process = self.context.Process(
            target=worker_main, args=(send, job, list(sys.path), stack_file),
            name=f"rnnbench-worker {job.config.model}", daemon=True,
        )
        with _sigint_blocked():  # a Ctrl-C now interrupts the parent only after the worker is known
            try:
                process.start()
            except BaseException:  # e.g. out of processes or file descriptors: leave nothing behind
                receive.close()
                send.close()
                os.unlink(stack_file)
                raise
            send.close()  # the worker holds the only writing end: EOF when it dies
            worker = _Worker(job=job, process=process, conn=receive, stack_file=stack_file)
            if self.timeout is not None:
                worker.deadline = worker.started + self.timeout + STARTUP_ALLOWANCE_S
            self._running.append(worker)

    def _read_messages(self, worker: _Worker) -> None:
        """Take what the worker sent: the start of its case, then its result."""
        try:
            while worker.result is None and worker.conn.poll():
                message = worker.conn.recv()
                if message == _STARTED:
                    worker.case_started = True
                    if self.timeout is not None:
                        worker.deadline = time.monotonic() + self.timeout
                else:
                    worker.result = message
        except (EOFError, OSError):  # the worker died; its exit code says how
            pass

    def _kill(self, worker: _Worker) -> None:
        pid = worker.process.pid
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker and anything it started
        except (ProcessLookupError, PermissionError, OSError):
            pass
        if worker.process.is_alive():  # not yet in its own group (killed while starting)
            worker.process.kill()
        worker.process.join()

    def _reap(self, worker: _Worker) -> None:
        worker.conn.close()
        worker.process.join()
        worker.process.close()
        try:
            os.unlink(worker.stack_file)
        except OSError:
            pass

    def close(self) -> None:
        for worker in self._running:
            self._kill(worker)
            self._reap(worker)
        self._running.clear()

    # -- results ---------------------------------------------------------------------------
    def _failure(self, worker: _Worker, status: str, message: str) -> CaseResult:
        """A row for a case whose worker gave no result: where it ran, for how long, why."""
        result = CaseResult(
            config=worker.job.config, status=status, error=message, started_at=worker.started_at,
            duration_s=worker.elapsed(),
            worker=WorkerRecord(host=socket.gethostname(), pid=worker.process.pid, cpu=cpu_model(),
                                threads=worker.job.settings.thread_cap).to_dict(),
        )
        stack = _read_stack(worker.stack_file)
        if stack:
            result.details["traceback"] = stack
        return result

    def _result_of_dead(self, worker: _Worker) -> CaseResult:
        """The worker ended without sending a result: say how it ended."""
        worker.process.join()
        code = worker.process.exitcode
        if code is not None and code < 0:
            name = _signal_name(-code)
            hint = ""
            if -code == signal.SIGKILL:
                hint = " (on Linux the kernel's out-of-memory killer sends SIGKILL: check `dmesg`)"
            return self._failure(worker, "crashed", f"worker died from signal {-code} ({name}){hint}")
        return self._failure(worker, "crashed", f"worker exited with code {code} before returning a result")

    def _timed_out(self, worker: _Worker) -> CaseResult:
        # Ask for the Python stack first: where a case hangs is what the user needs to know.
        if hasattr(signal, "SIGUSR1"):
            try:
                os.kill(worker.process.pid, signal.SIGUSR1)
                worker.process.join(STACK_DUMP_GRACE_S)
            except (ProcessLookupError, OSError):
                pass
        self._kill(worker)
        if not worker.case_started:
            return self._failure(worker, "timeout", f"the worker did not start the case within"
                                 f" {STARTUP_ALLOWANCE_S + (self.timeout or 0):g}s (loading plugins); it was killed")
        return self._failure(worker, "timeout",
                             f"the case ran past --timeout {self.timeout:g}s; its worker was killed")

    # -- the executor contract ---------------------------------------------------------------
    def map(self, jobs: Iterable[CaseJob]) -> Iterator[CaseResult]:
        # Jobs are taken one at a time, when a worker is free: the session claims each case
        # as it is taken, so a second resumer of the run gets the cases not yet started.
        source = iter(jobs)
        warned = False
        exhausted = False
        while True:
            while not exhausted and len(self._running) < self.workers:
                job = next(source, None)
                if job is None:
                    exhausted = True
                    break
                if not warned:
                    self._warn_about_sharing(job)
                    warned = True
                self._start(job)
            if not self._running:
                return
            now = time.monotonic()
            deadlines = [w.deadline for w in self._running if w.deadline is not None]
            wait_for = max(0.0, min(deadlines) - now) if deadlines else None
            ready = set(wait([w.conn for w in self._running] + [w.process.sentinel for w in self._running],
                             timeout=wait_for))
            for worker in list(self._running):
                if worker.conn in ready or worker.process.sentinel in ready:
                    self._read_messages(worker)
                if worker.result is not None:
                    result = worker.result
                elif worker.process.sentinel in ready:
                    result = self._result_of_dead(worker)
                elif worker.deadline is not None and time.monotonic() >= worker.deadline:
                    result = self._timed_out(worker)
                else:
                    continue
                self._running.remove(worker)
                self._reap(worker)
                yield result

    def _warn_about_sharing(self, job: CaseJob) -> None:
        cores = os.cpu_count() or 1
        if self.workers > 1 and self.options.warn_sharing and not self._warned:
            self._warned = True
            print(f"rnnbench: warning: --workers {self.workers} runs {self.workers} cases at once with"
                  f" {job.settings.thread_cap} thread(s) each on {cores} core(s): concurrent cases share the"
                  " cores and memory bandwidth, so their timings disturb each other; use --workers 1 for"
                  " timings you will compare", file=sys.stderr)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold back SIGINT while a worker is spawned.

    The worker inherits the blocked mask through fork and exec, so a Ctrl-C during
    its start-up (while it imports torch, before it can ignore SIGINT) cannot kill it
    with a traceback. The parent receives the held-back signal when the block ends,
    by which time the worker is in ``_running`` and ``close()`` will stop it.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown signal"


def _read_stack(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read().strip()
    except OSError:
        return ""
    return text[-MAX_STACK_CHARS:]


@hookimpl
def rnnbench_register_executors(register):
    register(ExecutorSpec(
        name="process", factory=ProcessExecutor,
        description="each case in a fresh worker process (--timeout, --workers): a crash, hang or"
                    " out-of-memory becomes that case's row",
    ))
