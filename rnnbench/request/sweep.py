"""Sweeps: the axes of a request, validated against the plugins and expanded into cases."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from rnnbench.errors import OptionError, UsageError
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig
from rnnbench.request.model_options import convert_value, resolve_model_options
from rnnbench.request.options import RunRequest
from rnnbench.specs import DTYPES, TaskSpec


def _default(name: str) -> Any:
    """A factory for the default of a RunRequest field: defaults are declared there alone."""
    return field(default_factory=lambda: getattr(RunRequest(), name))


@dataclass
class SweepAxes:
    """The axes of a sweep (the part of a RunRequest that expands); ``None`` means "the task's default"."""

    models: list[str]
    tasks: list[str] = _default("tasks")
    seq_len: list[int] | None = None
    batch_size: list[int] | None = None
    hidden: list[int] | None = None
    layers: list[int] | None = None
    device: list[str] = _default("device")
    dtype: list[str] = _default("dtype")
    seeds: list[int] = _default("seeds")
    steps: list[int] | None = None
    lr: list[float] | None = None
    #: every case trains at each rate and keeps the best on the validation split (then ``lr`` is 0)
    lr_grid: list[float] | None = None
    lr_schedule: list[str] = _default("lr_schedule")
    task_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``{arch or ARCH@BACKEND: {option: value}}`` (``--model-opt``)
    model_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: wall-clock training budgets in seconds; None trains for ``steps`` steps
    time_budget: list[float] | None = None
    #: training-FLOPs budgets; each case's steps follow from its model's FLOPs per step
    flops_budget: list[float] | None = None


#: the axes whose product is the set of cases (``lr_grid`` trains within a case, the options are not axes)
PRODUCT_AXES = ("models", "tasks", "seq_len", "batch_size", "hidden", "layers", "device", "dtype", "seeds",
                "steps", "lr", "lr_schedule", "time_budget", "flops_budget")


def case_count(axes: SweepAxes) -> int:
    """How many cases the axes make at most (before models that cannot run a device are skipped)."""
    return math.prod(len(getattr(axes, name) or [None]) for name in PRODUCT_AXES)


def check_size(axes: SweepAxes, max_cases: int) -> None:
    """Refuse a sweep of more than ``max_cases`` cases before planning it (planning 300k cases takes 30 s)."""
    count = case_count(axes)
    if count > max_cases:
        sizes = " x ".join(f"{len(getattr(axes, n))} {n}" for n in PRODUCT_AXES if len(getattr(axes, n) or []) > 1)
        raise UsageError(f"the sweep has {count:,} cases ({sizes}), more than --max-cases {max_cases:,}; narrow an"
                         f" axis, or raise the bound with --max-cases {count}")


def axes_of(request: RunRequest) -> SweepAxes:
    """The sweep a request asks for."""
    return SweepAxes(
        models=request.models, tasks=request.tasks, seq_len=request.seq_len, batch_size=request.batch_size,
        hidden=request.hidden, layers=request.layers, device=request.device, dtype=request.dtype,
        seeds=request.seeds, steps=request.steps, lr=request.lr, lr_grid=request.lr_grid,
        lr_schedule=request.lr_schedule, task_options=request.task_opt,
        model_options=request.model_opt,
        time_budget=request.time_budget, flops_budget=request.flops_budget,
    )

def convert_option(task: TaskSpec, key: str, value: Any) -> Any:
    """Convert an option value to the type of its default, or raise a UsageError."""
    if key not in task.options:
        known = ", ".join(sorted(task.options)) or "none"
        raise OptionError("task_opt", task.name, key, f"unknown option for task '{task.name}' (options: {known};"
                          f" --seq-len is the {task.seq_len_meaning})")
    return convert_value("task_opt", task.name, key, task.options[key], value)

def check_task_options(task: TaskSpec, options: dict[str, Any], seq_lens: Sequence[int]) -> None:
    """Let the task refuse impossible values, or say what it needs installed, before any case runs (a UsageError)."""
    reason = task.unavailable_reason()
    if reason:
        raise UsageError(f"task '{task.name}' cannot run here: {reason}")
    if task.check_options is None:
        return
    for seq_len in seq_lens:
        try:
            task.check_options(options, seq_len)
        except ValueError as exc:
            raise UsageError(f"task '{task.name}' at --seq-len {seq_len}: {exc}") from None

# -- expansion -------------------------------------------------------------------------------

@dataclass
class Expansion:
    cases: list[CaseConfig]
    #: combinations left out, each with the reason (an unavailable backend, an unsupported device)
    skipped: list[str]

def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())

def expand(
    axes: SweepAxes,
    registry: Registry,
    *,
    cuda_probe: Callable[[], bool] = cuda_available,
) -> Expansion:
    """Resolve names, validate combinations and expand the product of the axes.

    Unknown names and impossible requests raise :class:`UsageError`. A model that
    is unavailable here or does not support a requested device or dtype is left
    out with its reason, unless that leaves nothing to run.
    """
    model_specs = []
    for name in axes.models:
        spec = registry.resolve_model(name)
        if spec not in model_specs:
            model_specs.append(spec)
    task_specs = []
    for name in axes.tasks:
        spec = registry.resolve_task(name)
        if spec not in task_specs:
            task_specs.append(spec)

    for task_name in axes.task_options:
        if task_name not in registry.tasks:
            registry.resolve_task(task_name)  # raises with close matches
        if task_name not in {t.name for t in task_specs}:
            raise OptionError("task_opt", task_name, None, f"task '{task_name}' is not in --tasks")
    # A GPU matters only if a requested model can use one; a CPU-only model's own
    # message ("not supported on cuda", below) is the clearer one.
    wants_cuda = any("cuda" in spec.devices for spec in model_specs)
    if "cuda" in axes.device and wants_cuda and not cuda_probe():
        raise UsageError("--device cuda: no CUDA GPU is available here (torch.cuda.is_available() is False)")
    for dtype in axes.dtype:
        if dtype not in DTYPES:
            raise UsageError(f"--dtype: '{dtype}' is not one of {', '.join(DTYPES)}")

    skipped: list[str] = []
    usable = []
    for spec in model_specs:
        reason = spec.unavailable_reason()
        if reason:
            skipped.append(f"{spec.name}: not available ({reason})")
        else:
            usable.append(spec)

    widths = axes.hidden or sorted({t.defaults.hidden for t in task_specs})
    model_options = resolve_model_options(axes.model_options, model_specs, widths)

    cases: list[CaseConfig] = []
    for task in task_specs:
        options = dict(task.options)
        for key, value in axes.task_options.get(task.name, {}).items():
            options[key] = convert_option(task, key, value)
        frozen_options = tuple(sorted(options.items()))
        d = task.defaults
        try:
            check_task_options(task, options, axes.seq_len or [d.seq_len])
        except UsageError as exc:
            if task.name in axes.task_options and not isinstance(exc, OptionError):
                # the user's values: name where they were given (a flag, or the sweep file's table)
                raise OptionError("task_opt", task.name, None, str(exc)) from None
            raise
        # A budgeted case trains until its time (or its FLOPs) is spent: its step count is 0, "none"
        # (steps_reached says how many ran).
        grid = tuple(axes.lr_grid or ())
        for (spec, seq_len, batch, hidden, layers, device, dtype, seed, steps, lr, schedule, budget,
             flops) in itertools.product(
            usable,
            axes.seq_len or [d.seq_len],
            axes.batch_size or [d.batch_size],
            axes.hidden or [d.hidden],
            axes.layers or [d.layers],
            axes.device,
            axes.dtype,
            axes.seeds,
            [0] if axes.time_budget or axes.flops_budget else axes.steps or [d.steps],
            axes.lr or [None],
            axes.lr_schedule,
            axes.time_budget or [None],
            axes.flops_budget or [None],
        ):
            # a grid replaces the one rate (0, as steps are 0 under a budget); the family's default otherwise
            lr = 0.0 if grid else d.lr_for(spec.family) if lr is None else lr
            if device not in spec.devices:
                note = f"{spec.name}: not supported on {device} (supports: {', '.join(spec.devices)})"
                if note not in skipped:
                    skipped.append(note)
                continue
            if dtype not in spec.dtypes:
                note = f"{spec.name}: dtype {dtype} not supported (supports: {', '.join(spec.dtypes)})"
                if note not in skipped:
                    skipped.append(note)
                continue
            cases.append(CaseConfig(
                model=spec.name, task=task.name, task_options=frozen_options,
                seq_len=seq_len, batch_size=batch, hidden=hidden, layers=layers,
                device=device, dtype=dtype, seed=seed, steps=steps, lr=lr, time_budget_s=budget,
                flops_budget=flops,
                lr_grid=grid, lr_schedule=schedule,
                model_options=model_options[spec.name],
            ))
    if not cases:
        reasons = "; ".join(skipped) if skipped else "the sweep is empty"
        raise UsageError(f"nothing to run: {reasons}")
    # One case per id, in the order given (a repeated axis value is not repeated work).
    unique = list({case.case_id: case for case in cases}.values())
    return Expansion(cases=unique, skipped=skipped)
