"""Running one case: build the task and the model, run each scenario, measure it.

Everything in here happens inside the case's error boundary: whatever a plugin
raises becomes the case's status and message, never the sweep's end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import functools
import math
import os
import socket
import statistics
import time
import traceback
from typing import Any, Callable, Iterator

import numpy as np

from rnnbench.execution import gradients
from rnnbench.execution.budget_load import CHANGE_CPUS, BudgetLoad
from rnnbench.execution.environment import cpu_model
from rnnbench.execution.evaluation import evaluate, evaluate_lengths
from rnnbench.execution.load import LoadMeter
from rnnbench.execution.progress import CaseObserver, StepReporter, report
from rnnbench.execution.thread_policy import CaseThreads, ThreadGovernor, case_threads, probe_threads
from rnnbench.execution.lr_grid import record_choice, select_rate
from rnnbench.execution.memory_estimate import refuse_if_too_big
from rnnbench.execution.timing import Measurement, time_call
from rnnbench.execution.timing_check import TimingCheck, checked
from rnnbench.manager import Registry, load_registry
from rnnbench.model_api import FINAL_LR_FRACTION, WARMUP_FRACTION, Batch, Model, ModelConfig, lr_factor
from rnnbench.records import (
    BaselineEntry,
    BaselineRecord,
    CaseConfig,
    CaseJob,
    CaseResult,
    Metric,
    ModelFacts,
    RunSettings,
    ScoringRecord,
    Series,
    TrainingNotes,
    WorkerRecord,
)
from rnnbench.task_api import Task, bare_numbers, baseline_entries, baselines_by_metric, stored_name


@functools.lru_cache(maxsize=8)
def registry_for(plugin_modules: tuple[str, ...]) -> Registry:
    """The plugins of this process, loaded once per set of ``-p`` modules."""
    return load_registry(plugin_modules)


def execute_job(job: CaseJob, registry: Registry | None = None, observer: CaseObserver | None = None) -> CaseResult:
    """Run a job; loads the plugins (once per process) when no registry is given; ``observer`` hears how it goes."""
    if registry is None:
        registry = registry_for(job.plugin_modules)
    return run_case(job.config, registry, job.settings, observer)


def worker_facts(threads: int) -> dict[str, Any]:
    return WorkerRecord(host=socket.gethostname(), pid=os.getpid(), cpu=cpu_model(), threads=threads).to_dict()


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Pin torch's and the BLAS libraries' thread pools to ``threads`` for the block."""
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency
        torch = None
    previous = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch is not None and previous is not None:
            torch.set_num_threads(previous)


def seed_everything(seed: int) -> None:
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


#: what allocators say when they cannot allocate: CUDA's and torch's caching allocator ("out of
#: memory"), torch's CPU allocator ("DefaultCPUAllocator: can't allocate memory"), and the C
#: library's strerror(ENOMEM) that both append ("Cannot allocate memory")
_OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


def classify_error(exc: BaseException) -> str:
    """``oom`` for an allocation failure on any device, ``error`` for everything else."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return "oom"
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return "oom"
    text = str(exc).lower()
    return "oom" if any(message in text for message in _OOM_MESSAGES) else "error"


def _governor(settings: RunSettings, threads: int) -> ThreadGovernor | None:
    """A governor that follows the load during training, for a case that chose more than one thread itself."""
    if not settings.auto_threads or threads <= 1:
        return None
    import torch

    cap = os.cpu_count() or 1
    return ThreadGovernor(cap=cap, threads=threads, set_threads=torch.set_num_threads, clock=time.monotonic)


def run_case(config: CaseConfig, registry: Registry, settings: RunSettings,
             observer: CaseObserver | None = None) -> CaseResult:
    """Run every requested scenario of one case; never raises for a plugin's failure.

    ``observer`` hears of each phase and of training's progress, between steps and outside every timed call
    (:mod:`rnnbench.execution.progress`).
    """
    # chosen here, in the process that runs the case: one per free CPU now; once the model is built,
    # _settle_threads keeps more than one only where they speed up its forward (rnnbench.execution.thread_policy)
    # settings.thread_cap is the run's cap; the case's own count is a record of what it ran with
    threads = case_threads(settings.thread_cap, settings.auto_threads)
    result = CaseResult(config=config, started_at=time.time(), worker=worker_facts(threads.chosen))
    # every row says how it was measured: a resume allowed to change settings mixes them in a run
    WorkerRecord(settings=settings.to_dict()).store(result.worker)
    _record_threads(result, threads)
    start = time.perf_counter()
    meter = LoadMeter()
    if observer is not None:
        report(observer.case_started, config)
    try:
        with meter, thread_limit(threads.chosen):
            _run_scenarios(config, registry, settings, result, threads, observer)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # a plugin's failure is this case's failure only
        result.status = classify_error(exc)
        result.error = f"{type(exc).__name__}: {exc}".strip().rstrip(":")  # MemoryError has no message
        result.details["traceback"] = traceback.format_exc(limit=20)
    result.duration_s = time.perf_counter() - start
    if meter.result is not None:  # what other processes took from the machine while the case ran
        WorkerRecord(load=meter.result.facts()).store(result.worker)
        result.metrics += meter.result.metrics()
    return result


def build_task(config: CaseConfig, registry: Registry, seq_len: int | None = None) -> Task:
    """The case's task, at the case's ``seq_len`` or (for evaluation at other lengths) at ``seq_len``."""
    spec = registry.resolve_task(config.task)
    if seq_len is not None and spec.check_options is not None:
        # another length is checked as the case's was (a task with one fixed length, such as digits,
        # would otherwise build its own length again and evaluate the trained one twice)
        spec.check_options(dict(config.options), seq_len)
    task = spec.factory(config.options, config.seq_len if seq_len is None else seq_len, config.seed)
    task.shape.validate()
    return task


def build_model(config: CaseConfig, registry: Registry, task: Task, hidden: int | None = None) -> Model:
    spec = registry.resolve_model(config.model)
    shape = task.shape
    model_config = ModelConfig(
        input_kind=shape.input_kind, input_size=shape.input_size,
        output_kind=shape.output_kind, output_size=shape.output_size,
        hidden=hidden or config.hidden, layers=config.layers, max_seq_len=shape.seq_len,
        # lr None: an --lr-grid case's first model, which never trains (each rate builds its own): Adam at 0
        device=config.device, dtype=config.dtype, seed=config.seed, lr=0.0 if config.lr is None else config.lr,
        options={**spec.options, **dict(config.model_options)},
    )
    refuse_if_too_big(spec, model_config)  # before allocating: an absurd option would page in for minutes
    return spec.factory(model_config)


def _set_threads(threads: int) -> None:
    """torch's and the BLAS libraries' pools at ``threads`` (thread_limit's block restores them at its end)."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(limits=threads)


def _record_threads(result: CaseResult, threads: CaseThreads) -> None:
    """The case's thread record in its row, as it stands: kept up to date, so that a failed case has it too."""
    # threads: the one number the table, the frame and the load meter read
    WorkerRecord(threads=threads.chosen, thread_record=threads.facts()).store(result.worker)


def _settle_threads(model: Model, task: Task, config: CaseConfig, threads: CaseThreads,
                    result: CaseResult) -> CaseThreads:
    """Automatic threading on the CPU: keep more than one thread only where the case's own forward gains from it.

    The probe (rnnbench.execution.thread_policy.probe_threads) runs forwards only, with the
    random state put back afterwards, so the case trains and measures as it would without it.
    """
    if not threads.automatic or threads.chosen <= 1 or config.device != "cpu":
        return threads
    import torch

    batch = model.to_device(task.batch("test", 0, config.batch_size))
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    try:
        probe = probe_threads(lambda: model.forward(batch), _set_threads, threads.chosen)
    except Exception as exc:  # the forward scenario, if asked for, reports the model's own failure
        chosen, why, facts = 1, f"the thread probe's forward failed ({type(exc).__name__}): 1 thread", None
    else:
        (chosen, why), facts = probe.choice(), probe.facts()
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)
    _set_threads(chosen)
    # after case_threads' sentence on the load
    settled = dataclasses.replace(threads, chosen=chosen, reason=f"{threads.reason}; {why}", probe=facts)
    _record_threads(result, settled)
    return settled


def _run_scenarios(config: CaseConfig, registry: Registry, settings: RunSettings, result: CaseResult,
                   threads: CaseThreads, observer: CaseObserver | None = None) -> None:
    seed_everything(config.seed)
    task = build_task(config, registry)
    model = build_model(config, registry, task)
    T, B = task.shape.seq_len, config.batch_size
    threads = _settle_threads(model, task, config, threads, result)
    n = threads.chosen
    result.details.update(model.describe())
    ModelFacts(family=registry.resolve_model(config.model).family, total_seq_len=T).store(result.details)
    result.metrics += [
        Metric("model", "params", float(model.num_params()), "count", "trainable parameters, embedding and head included"),
        Metric("model", "forward_flops", float(model.flops(T, B, training=False)), "FLOP",
               "analytic count for one forward over [B, T] (docs/results-schema.md)"),
    ]
    # The gradient probe looks at the model before any scenario changes it, and again at the
    # end, after training if the train scenario ran (wherever "gradients" sits in the list).
    init_probe = gradients.take(model, task, B) if "gradients" in settings.scenarios else None
    trained = False
    for scenario in settings.scenarios:
        if observer is not None and scenario != "gradients":
            report(observer.phase, _PHASES.get(scenario, scenario))
        if scenario == "train":
            task_at = lambda length: build_task(config, registry, length)  # noqa: E731
            if config.lr_grid:  # the chosen rate's model goes on to the other scenarios
                model = _train_on_grid(config, registry, task, settings, n, result, task_at, observer)
            else:
                _train(model, task, config, settings, n, result, task_at, observer)
            during = result.details.pop("threads_during_training", None)
            if during is not None:  # the governor's changes: part of what the case ran with
                threads = dataclasses.replace(threads, during_training=during)
                _record_threads(result, threads)
            trained = True
        elif scenario == "forward":
            _forward(model, task, config, settings, n, result)
        elif scenario == "decode":
            _decode(model, task, config, settings, n, result)
        elif scenario != "gradients":
            raise ValueError(f"unknown scenario '{scenario}'")
    if init_probe is not None:
        gradients.record(result, init_probe, gradients.take(model, task, B) if trained else None)
    if trained:  # after every timed region of the case: what a baseline starts cannot run inside one (issue 37)
        _record_baselines(task, result)


#: what the progress display calls each scenario's phase
_PHASES = {"train": "training", "forward": "timing forward", "decode": "timing decode"}


def _timing_metrics(scenario: str, name: str, m: Measurement, work: float, work_unit: str,
                    flops: float) -> list[Metric]:
    """A timing, the throughput it implies and its achieved GFLOP/s, each with raw samples."""
    how = m.describe()
    return [
        Metric(scenario, name, m.median, "s", how, list(m.samples), m.calls_per_sample),
        Metric(scenario, f"{work_unit}_per_s", work / m.median, f"{work_unit}/s",
               f"{work:g} {work_unit} / median time", [work / s for s in m.samples], m.calls_per_sample),
        Metric(scenario, "gflops", flops / m.median / 1e9, "GFLOP/s", "analytic FLOPs / median time"),
    ]


def _train(model: Model, task: Task, config: CaseConfig, settings: RunSettings, threads: int, result: CaseResult,
           task_at: Callable[[int], Task], observer: CaseObserver | None = None) -> None:
    """Train at the case's rate, then evaluate on the test split."""
    _fit(model, task, config, settings, threads, result, observer)
    if observer is not None:
        report(observer.phase, "testing")
    _test(model, task, config, settings, result, task_at)


def _train_on_grid(config: CaseConfig, registry: Registry, task: Task, settings: RunSettings, threads: int,
                   result: CaseResult, task_at: Callable[[int], Task], observer: CaseObserver | None = None) -> Model:
    """--lr-grid: train at each rate, keep the best on the validation split, test it (rnnbench.execution.lr_grid)."""
    B = config.batch_size

    def train_at(rate: float) -> tuple[Model, CaseResult]:
        seed_everything(config.seed)  # every rate starts from the same initialisation and sees the same batches
        rated = dataclasses.replace(config, lr=rate)
        candidate = build_model(rated, registry, task)
        record = CaseResult(config=rated)
        if observer is not None:
            report(observer.phase, f"training at lr {rate:g}")
        _fit(candidate, task, rated, settings, threads, record, observer)
        return candidate, record

    def validation_score(candidate: Model) -> float:
        return evaluate(candidate, task, B, settings.eval_batches, split="valid")[task.primary_metric]

    choice = select_rate(config.lr_grid, train_at, validation_score, higher_is_better=task.higher_is_better,
                         classify=classify_error)
    result.metrics += choice.result.metrics
    result.series += choice.result.series
    result.details.update(choice.result.details)
    record_choice(result, choice, task.primary_metric, task.higher_is_better,
                  f"mean over {settings.eval_batches} validation batches of {B}")
    if observer is not None:
        report(observer.phase, "testing")
    _test(choice.model, task, dataclasses.replace(config, lr=choice.lr), settings, result, task_at)
    return choice.model


#: training diverged when its last losses are this many times its first (a finite but exploded loss,
#: as at --lr 1e30, is no trained model; an lr grid must never choose it)
DIVERGENCE_FACTOR = 10.0


def _refuse_divergence(losses: list[float]) -> None:
    """Fail the case when the median of the last tenth of the losses (at least one) exceeds
    :data:`DIVERGENCE_FACTOR` x the first step's loss, the loss at initialisation."""
    if len(losses) < 2 or not losses[0] > 0:
        return
    tail = losses[-max(1, len(losses) // 10):]
    final = statistics.median(tail)
    if final > DIVERGENCE_FACTOR * losses[0]:
        raise FloatingPointError(
            f"training diverged: the loss ended at {final:.3g} (median of the last {len(tail)} step(s)), more than"
            f" {DIVERGENCE_FACTOR:g} x the first step's {losses[0]:.3g}")


def flops_budget_steps(model: Model, config: CaseConfig, seq_len: int) -> int:
    """The training steps a FLOPs budget buys this model: budget // counted FLOPs per step, at least 1."""
    per_step = float(model.flops(seq_len, config.batch_size, training=True))
    if not per_step > 0:
        raise ValueError(f"--flops-budget needs the model's FLOPs per training step, and {config.model} counts"
                         f" {per_step:g}")
    return max(1, int(config.flops_budget // per_step))


def _fit(model: Model, task: Task, config: CaseConfig, settings: RunSettings, threads: int,
         result: CaseResult, observer: CaseObserver | None = None) -> None:
    """Train for ``config.steps`` steps, until ``config.time_budget_s`` seconds have passed, or for
    as many steps as ``config.flops_budget`` allows.

    Under a time budget the clock covers everything a training step needs (making
    the batch, moving it, the step itself), and stops before the first step that
    would start past the budget; evaluation and timing repeats are outside it. Under
    a FLOPs budget the steps are the budget over the model's counted training FLOPs per
    step, rounded down (at least one): the last step never goes past the budget.
    """
    T, B = task.shape.seq_len, config.batch_size
    budget = config.time_budget_s
    steps_to_run = config.steps if config.flops_budget is None else flops_budget_steps(model, config, T)
    load = BudgetLoad(budget, threads) if budget is not None else None
    _pin_threads(threads)
    governor = _governor(settings, threads)
    # after each step's timer has stopped; at most a few calls a second reach the observer
    reporter = None if observer is None else StepReporter(
        observer, total_steps=None if budget is not None else steps_to_run, budget_s=budget)
    cpu_start = time.process_time()
    run = _train_steps(model, task, config, settings, steps_to_run, load, governor, reporter)
    _refuse_divergence(run.losses)
    if governor is not None:
        result.details["threads_during_training"] = governor.facts()
    cpu_time = time.process_time() - cpu_start
    _record_step_time(model, T, B, settings, run, result)
    _record_training_totals(model, T, B, config, threads, run, cpu_time, result)
    if budget is not None:
        _record_time_budget(budget, load, result)
    _record_loss_curves(model, settings, run, result)
    if run.memory is not None:
        result.metrics.append(Metric("train", "memory_bytes", run.memory.bytes, "bytes", run.memory.method))
    if config.lr_schedule != "constant":
        result.details["lr_schedule"] = schedule_sentence(config.lr_schedule, budget is not None)


@dataclasses.dataclass
class _TrainingRun:
    """What :func:`_train_steps` saw, handed to the functions that turn it into metrics and series."""

    steps: int = 0
    loss: float = float("nan")  # the last training batch's
    losses: list[float] = dataclasses.field(default_factory=list)
    ends: list[float] = dataclasses.field(default_factory=list)  # seconds of training when each step ended
    step_times: list[float] = dataclasses.field(default_factory=list)  # the timed steps only
    memory: Any = None  # the MemoryReading of the memory-metered step, if one ran
    train_time: float = 0.0  # wall clock of the whole loop


def _train_steps(model: Model, task: Task, config: CaseConfig, settings: RunSettings, steps_to_run: int,
                 load: BudgetLoad | None, governor: ThreadGovernor | None,
                 reporter: StepReporter | None) -> _TrainingRun:
    """The training loop alone, kept apart from the bookkeeping so that what the time budget's clock covers
    (batches, transfers, steps) is all in one place: it stops after ``steps_to_run`` steps or, under
    ``config.time_budget_s``, before the first step that would start past the budget."""
    B, budget = config.batch_size, config.time_budget_s
    run = _TrainingRun()
    train_start = time.perf_counter()
    while (run.steps < steps_to_run) if budget is None else (time.perf_counter() - train_start < budget):
        step = run.steps
        if governor is not None:  # a machine that gets busy mid-case: fewer threads, no spinning partner
            governor.tick()
        batch = model.to_device(task.batch("train", step, B))
        if config.lr_schedule != "constant":  # progress in steps, or in seconds of the budget
            done = (step + 1) / steps_to_run if budget is None else (time.perf_counter() - train_start) / budget
            model.set_learning_rate(config.lr * lr_factor(config.lr_schedule, done))
        measure_memory = step == (1 if budget is not None else min(1, steps_to_run - 1))
        meter = model.memory_meter("train") if measure_memory else contextlib.nullcontext()
        start = time.perf_counter()
        with meter as reading:
            run.loss = model.train_step(batch)
            model.synchronize()
        now = time.perf_counter()
        if measure_memory:
            run.memory = reading
        elif step >= settings.train_warmup_steps:
            run.step_times.append(now - start)
        run.losses.append(float(run.loss))
        run.ends.append(now - train_start)
        if load is not None:
            load.tick(now - train_start)
        if not math.isfinite(run.loss):
            raise FloatingPointError(f"training diverged: loss is {run.loss} at step {step}")
        run.steps += 1
        if reporter is not None:
            reporter.step_done(run.steps, run.losses[-1], now - train_start)
    run.train_time = time.perf_counter() - train_start
    return run


def _record_step_time(model: Model, T: int, B: int, settings: RunSettings, run: _TrainingRun,
                      result: CaseResult) -> None:
    """The train step time from the timed steps; where none was timed, a sentence saying why instead."""
    if run.step_times:
        m = Measurement(samples=run.step_times, warmup_calls=settings.train_warmup_steps,
                        method="wall clock per real training step (time.perf_counter, synchronized)")
        result.metrics += _timing_metrics("train", "step_time_s", m, float(B * T), "tokens",
                                          model.flops(T, B, training=True))
    else:  # every step was a warm-up or the memory-metered one: nothing was timed, and we say so
        result.details["train_step_time"] = (
            f"not timed: {run.steps} step(s) are fewer than {settings.train_warmup_steps} warm-up step(s),"
            " one memory-metered step and one timed step")


def _record_training_totals(model: Model, T: int, B: int, config: CaseConfig, threads: int, run: _TrainingRun,
                            cpu_time: float, result: CaseResult) -> None:
    """What the whole training amounted to (time, CPU time, steps, tokens, FLOPs, last loss), each said against
    the budget, if any, that decided how many steps ran."""
    step, budget = run.steps, config.time_budget_s
    ran = (f"{step} training steps in a {budget:g} s budget" if budget is not None
           else f"{step} training steps in a {config.flops_budget:g} FLOP budget" if config.flops_budget is not None
           else f"{step} training steps")
    result.metrics += [
        Metric("train", "time_s", run.train_time, "s", f"wall clock of {ran} (batches, transfers and steps)"),
        Metric("train", "cpu_time_s", cpu_time, "s",
               f"CPU time of this process, all its threads, over the {ran} (time.process_time);"
               f" at most {threads} x the wall clock when the case had its threads to itself"),
        Metric("train", "steps_reached", float(step), "steps", f"training steps completed ({ran})"),
        Metric("train", "tokens_reached", float(step * B * T), "tokens",
               f"steps x batch {B} x {T} positions"),
        Metric("train", "flops", float(step * model.flops(T, B, training=True)), "FLOP",
               f"analytic count: {step} steps x the model's training FLOPs per step over [B, T]"),
        Metric("train", "final_loss", float(run.loss), task_loss_unit(model), "loss of the last training batch"),
    ]
    if config.flops_budget is not None:
        result.metrics.append(Metric("train", "flops_budget", float(config.flops_budget), "FLOP",
                                     "training-FLOPs budget (--flops-budget); steps = budget // FLOPs per step"))


def _record_time_budget(budget: float, load: BudgetLoad, result: CaseResult) -> None:
    """The time budget and whether other processes' load changed during it: a budgeted case's steps reached
    depend on the CPU it got, so a reader must know when that was not constant."""
    result.metrics.append(Metric("train", "budget_s", float(budget), "s",
                                 "wall-clock training budget (--time-budget); evaluation is outside it"))
    reading = load.finish()
    TrainingNotes(load_change=reading.sentence).store(result.details)
    result.details["budget_others_cpus"] = list(reading.others_cpus)
    result.metrics.append(Metric(
        "train", "load_changed", None if reading.changed is None else float(reading.changed), "0/1",
        f"1 when other processes' CPU use differed by >= {CHANGE_CPUS:g} CPU between parts of the budget"
        " (/proc/stat, rnnbench.execution.load), or left the case short of CPUs in some parts only"))


def _record_loss_curves(model: Model, settings: RunSettings, run: _TrainingRun, result: CaseResult) -> None:
    """The training loss against steps and against seconds, thinned to ``settings.loss_curve_points`` (the last
    step always kept) so that a long run's results stay small."""
    losses, ends = run.losses, run.ends
    every = max(1, math.ceil(len(losses) / settings.loss_curve_points))
    kept = sorted(set(range(0, len(losses), every)) | ({len(losses) - 1} if losses else set()))
    result.series += [
        Series("train", "loss_curve", [float(i) for i in kept], [losses[i] for i in kept], "training step",
               task_loss_unit(model), f"training loss every {every} step(s)"),
        Series("train", "loss_curve_time", [ends[i] for i in kept], [losses[i] for i in kept],
               "seconds of training", task_loss_unit(model),
               f"training loss every {every} step(s) against the wall clock since training started"),
    ]

def _test(model: Model, task: Task, config: CaseConfig, settings: RunSettings, result: CaseResult,
          task_at: Callable[[int], Task]) -> None:
    """Evaluate the trained model on the test split, at its length and at ``--eval-seq-len``'s."""
    B = config.batch_size
    # Evaluate on held-out data: the test split never shares an example with train.
    whole = task.test_batches(B)
    scores = evaluate(model, task, B, settings.eval_batches if whole is None else whole, weighted=whole is not None)
    how = (f"mean over {settings.eval_batches} held-out test batches of {B}" if whole is None
           else f"over the whole test set ({whole} batches of {B})")
    for key, value in scores.items():
        result.metrics.append(Metric("train", f"eval_{key}", value, "", how))
    if settings.eval_seq_lens:
        evaluate_lengths(model, task, config.seq_len, task_at, settings.eval_seq_lens, B,
                         settings.eval_batches, scores, result)
    ScoringRecord(primary_metric=task.primary_metric, higher_is_better=task.higher_is_better,
                  primary_metric_bounded=task.primary_metric_bounded,
                  metric_scale=task.metric_scale or None).store(result.details)


def _record_baselines(task: Task, result: CaseResult) -> None:
    """The task's baselines, computed once the case's timed scenarios are done.

    A baseline can be heavy work in the case's process: uea's 1-NN DTW is numba-parallel, and
    numba's OpenMP layer, starting, set the OpenMP thread count torch runs on (issue 37).
    Computed here, nothing it starts or changes can run inside this case's timed regions; the
    next case re-pins the thread pools (thread_limit, _pin_threads) and its timings are checked
    (rnnbench.execution.timing_check).
    """
    declared = task.baselines()
    for key, baseline in baseline_entries(declared).items():
        result.metrics.append(Metric("train", f"baseline_{key}", baseline.value, "", baseline.label))
    primary_baselines = baselines_by_metric(declared).get(task.primary_metric, ())
    if primary_baselines:
        # every baseline of the primary metric, for the table's legend, the findings and the report
        BaselineRecord(baseline_kind=primary_baselines[0].kind, baselines=tuple(
            BaselineEntry(kind=b.kind, label=b.label, short=b.short_label, value=b.value,
                          column=f"baseline_{stored_name(task.primary_metric, b, i == 0)}")
            for i, b in enumerate(primary_baselines))).store(result.details)
    if bare := bare_numbers(declared):  # said once in the run's legend: the plugin predates rnnbench.Baseline
        BaselineRecord(baseline_bare_numbers=bare).store(result.details)


def _pin_threads(threads: int) -> None:
    """Put the thread pools back at the case's count just before a timed region.

    Anything that ran before in the process (a task's data preparation, a baseline, a
    library starting its own OpenMP pool: numba's OpenMP layer calls omp_set_num_threads on
    the libgomp torch loaded) may have changed them; a timed region always starts from the
    case's own count.
    """
    _set_threads(threads)


def _record_check(result: CaseResult) -> Callable[[TimingCheck], None]:
    """Keeps a timed region's :class:`TimingCheck` in the case's worker facts, by scenario."""
    def record(check: TimingCheck) -> None:
        checks = {**(result.ran_on.timing_check or {}), check.scenario: check.facts()}
        WorkerRecord(timing_check=checks).store(result.worker)
    return record


def schedule_sentence(schedule: str, budgeted: bool) -> str:
    """How the rate moved during training, for the case's record."""
    clock = "seconds of the budget" if budgeted else "steps"
    return (f"{schedule}: linear warm-up from 0 over the first {WARMUP_FRACTION:.0%} of training, then cosine"
            f" decay to {FINAL_LR_FRACTION:.0%} of the rate at the end (progress in {clock})")


def task_loss_unit(model: Model) -> str:
    return "nats" if model.config.loss == "cross_entropy" else "squared error"


def _forward(model: Model, task: Task, config: CaseConfig, settings: RunSettings, threads: int,
             result: CaseResult) -> None:
    T, B = task.shape.seq_len, config.batch_size
    batch = model.to_device(task.batch("test", 0, B))
    _require_finite(model.predict(batch), "forward")
    _pin_threads(threads)
    with checked("forward", threads, _record_check(result)):
        m = time_call(lambda: model.forward(batch), model.synchronize, settings.timer)
    result.metrics += _timing_metrics("forward", "latency_s", m, float(B * T), "tokens",
                                      model.flops(T, B, training=False))
    with model.memory_meter("forward") as reading:
        model.forward(batch)
        model.synchronize()
    result.metrics.append(Metric("forward", "memory_bytes", reading.bytes, "bytes", reading.method))


def _decode(model: Model, task: Task, config: CaseConfig, settings: RunSettings, threads: int,
            result: CaseResult) -> None:
    """Token-by-token decoding through ``step()``: per-token latency and carried state bytes.

    The prompt is the first ``T - 1`` positions of a test batch, consumed one step
    at a time (as generation would); the timed call is one more step from the
    state the prompt left, so every repeat measures the cost of the token at
    context ``T``. The state bytes are those of the state that step returns: what
    is carried to the next token at context ``T``.
    """
    T, B = task.shape.seq_len, config.batch_size
    batch = task.batch("test", 0, B)
    positions = [_position(model, batch, t) for t in range(T)]  # device copies, outside the timer
    state = model.init_state(B)
    for t in range(T - 1):
        _, state = model.step(positions[t], state)
    last = positions[-1]
    model.synchronize()
    prompt_bytes = model.state_bytes(state)
    first_output, carried = model.step(last, state)
    _require_finite(first_output, "decode step()")
    # A step takes tens of microseconds: blocks of ~0.2 ms, at least 30 of them, so that on a
    # busy machine most blocks fit inside one scheduler time slice and the median is the
    # cost of a step, not of the machine's load (5 ms blocks would nearly all be preempted).
    timer = dataclasses.replace(settings.timer, min_block_time=min(settings.timer.min_block_time, 2e-4),
                                min_repeats=max(settings.timer.min_repeats, 30),
                                max_repeats=max(settings.timer.max_repeats, 5000))
    _pin_threads(threads)
    with checked("decode", threads, _record_check(result)):
        m = time_call(lambda: model.step(last, state), model.synchronize, timer)
    m.method = "wall clock per step() call at a fixed context (time.perf_counter, synchronized)"
    again, _ = model.step(last, state)
    if model.state_bytes(state) != prompt_bytes or not _same_outputs(first_output, again):
        raise RuntimeError(
            f"{config.model}: step() changed the state it was given, so repeated timed steps would measure"
            " growing contexts; step() must return a new state and leave its input untouched"
        )
    with model.memory_meter("decode") as reading:
        model.step(last, state)
        model.synchronize()
    # The marginal cost of the T-th token under the model's own analytic count.
    token_flops = model.flops(T, B, training=False) - (model.flops(T - 1, B, training=False) if T > 1 else 0.0)
    result.metrics += _timing_metrics("decode", "token_latency_s", m, float(B), "tokens", token_flops)
    state_bytes = model.state_bytes(carried)
    result.metrics += [
        Metric("decode", "context_len", float(T), "tokens",
               f"a prompt of {T - 1} positions fed through step(), then the timed step at position {T}"),
        Metric("decode", "state_bytes", float(state_bytes), "bytes",
               f"bytes of the state step() returns at context {T} (hidden/cell state or KV cache),"
               " read from its tensors/arrays"),
        Metric("decode", "memory_bytes", reading.bytes, "bytes", reading.method),
    ]


def _require_finite(outputs: Any, what: str) -> None:
    """A timing of a computation whose outputs are NaN or infinite is no result: fail the case."""
    values = _as_numpy(outputs)
    if not np.isfinite(values).all():
        bad = int(values.size - np.isfinite(values).sum())
        raise FloatingPointError(f"the model's {what} outputs hold {bad} NaN or infinite value(s) of {values.size};"
                                 " a timing of them is no result")


def _same_outputs(a: Any, b: Any) -> bool:
    return bool(np.allclose(_as_numpy(a), _as_numpy(b), rtol=1e-4, atol=1e-6, equal_nan=True))


def _as_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, wherever it lives
        x = x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _position(model: Model, batch: Any, t: int) -> Any:
    sliced = Batch(batch.inputs[:, t:t + 1], batch.targets[:, t:t + 1], batch.mask[:, t:t + 1])
    return model.to_device(sliced)
