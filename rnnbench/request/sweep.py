"""Sweeps: the axes of a request, validated against the plugins and expanded into cases."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rnnbench.errors import OptionError, UsageError
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig
from rnnbench.request.model_options import convert_value, resolve_model_options
from rnnbench.request.options import RunRequest
from rnnbench.specs import DTYPES, TaskSpec
from rnnbench.sweep_axes import AXES, Axis


def multiplied_axes() -> tuple[Axis, ...]:
    """The axes whose request values the sweep multiplies (each with an ``option``), in the order declared.

    The models and the tasks multiply them too: a sweep is models x tasks x these.
    """
    return tuple(axis for axis in AXES if axis.option is not None)


def case_count(request: RunRequest) -> int:
    """How many cases a request makes at most (before models that cannot run a device are skipped)."""
    return len(request.models) * len(request.tasks) * math.prod(
        len(getattr(request, axis.option) or [None]) for axis in multiplied_axes())


def check_size(request: RunRequest, max_cases: int) -> None:
    """Refuse a sweep of more than ``max_cases`` cases before planning it (planning 300k cases takes 30 s)."""
    count = case_count(request)
    if count > max_cases:
        names = ["models", "tasks", *(axis.option for axis in multiplied_axes())]
        sizes = " x ".join(f"{len(getattr(request, n))} {n}" for n in names if len(getattr(request, n) or []) > 1)
        raise UsageError(f"the sweep has {count:,} cases ({sizes}), more than --max-cases {max_cases:,}; narrow an"
                         f" axis, or raise the bound with --max-cases {count}")


def axis_values(axis: Axis, request: RunRequest, task: TaskSpec) -> list[Any]:
    """The values a sweep gives ``axis`` for ``task``'s cases: the request's, else the task's default (or none)."""
    if any(getattr(request, other) for other in axis.replaced_by):
        return [None]  # the budget decides: no one value (steps under --time-budget or --flops-budget)
    values = getattr(request, axis.option)
    if values:
        return list(values)
    return [getattr(task.defaults, axis.name)] if axis.task_default else [None]


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
    request: RunRequest,
    registry: Registry,
    *,
    cuda_probe: Callable[[], bool] = cuda_available,
) -> Expansion:
    """Resolve names, validate combinations and expand the product of the axes.

    Unknown names and impossible requests raise :class:`UsageError`. A model that
    is unavailable here or does not support a requested device or dtype is left
    out with its reason, unless that leaves nothing to run.
    """
    model_specs, task_specs = _resolve(request, registry, cuda_probe)
    skipped: list[str] = []
    usable = []
    for spec in model_specs:
        reason = spec.unavailable_reason()
        if reason:
            skipped.append(f"{spec.name}: not available ({reason})")
        else:
            usable.append(spec)

    widths = request.hidden or sorted({t.defaults.hidden for t in task_specs})
    model_options = resolve_model_options(request.model_opt, model_specs, widths)
    cases: list[CaseConfig] = []
    for task in task_specs:
        cases += _task_cases(request, task, usable, model_options, skipped)
    if not cases:
        reasons = "; ".join(skipped) if skipped else "the sweep is empty"
        raise UsageError(f"nothing to run: {reasons}")
    # One case per id, in the order given (a repeated axis value is not repeated work).
    unique = list({case.case_id: case for case in cases}.values())
    return Expansion(cases=unique, skipped=skipped)


def _resolve(request: RunRequest, registry: Registry, cuda_probe: Callable[[], bool]) -> tuple[list, list]:
    """The request's model and task specs (each once, in the order named), its options, devices and dtypes
    checked against them (a :class:`UsageError` otherwise)."""
    model_specs = []
    for name in request.models:
        spec = registry.resolve_model(name)
        if spec not in model_specs:
            model_specs.append(spec)
    task_specs = []
    for name in request.tasks:
        spec = registry.resolve_task(name)
        if spec not in task_specs:
            task_specs.append(spec)

    for task_name in request.task_opt:
        if task_name not in registry.tasks:
            registry.resolve_task(task_name)  # raises with close matches
        if task_name not in {t.name for t in task_specs}:
            raise OptionError("task_opt", task_name, None, f"task '{task_name}' is not in --tasks")
    # A GPU matters only if a requested model can use one; a CPU-only model's own
    # message ("not supported on cuda", below) is the clearer one.
    wants_cuda = any("cuda" in spec.devices for spec in model_specs)
    if "cuda" in request.device and wants_cuda and not cuda_probe():
        raise UsageError("--device cuda: no CUDA GPU is available here (torch.cuda.is_available() is False)")
    for dtype in request.dtype:
        if dtype not in DTYPES:
            raise UsageError(f"--dtype: '{dtype}' is not one of {', '.join(DTYPES)}")
    return model_specs, task_specs


def _task_cases(request: RunRequest, task: TaskSpec, usable: list, model_options: dict,
                skipped: list[str]) -> list[CaseConfig]:
    """One task's cases: its options converted, each usable model times the product of the multiplied axes.

    A point a model cannot run (its device or dtype) is added to ``skipped`` once.
    """
    options = dict(task.options)
    for key, value in request.task_opt.get(task.name, {}).items():
        options[key] = convert_option(task, key, value)
    frozen_options = tuple(sorted(options.items()))
    d = task.defaults
    try:
        check_task_options(task, options, request.seq_len or [d.seq_len])
    except UsageError as exc:
        if task.name in request.task_opt and not isinstance(exc, OptionError):
            # the user's values: name where they were given (a flag, or the sweep file's table)
            raise OptionError("task_opt", task.name, None, str(exc)) from None
        raise
    grid = tuple(request.lr_grid or ())
    axes = multiplied_axes()
    cases = []
    for spec, values in itertools.product(usable, itertools.product(*(axis_values(a, request, task) for a in axes))):
        point = dict(zip((a.name for a in axes), values))
        # a grid replaces the one rate (None, as steps are None under a budget); the family's default otherwise
        point["lr"] = None if grid else d.lr_for(spec.family) if point["lr"] is None else point["lr"]
        note = _unsupported(spec, point["device"], point["dtype"])
        if note is not None:
            if note not in skipped:
                skipped.append(note)
            continue
        cases.append(CaseConfig(model=spec.name, task=task.name, task_options=frozen_options, lr_grid=grid,
                                model_options=model_options[spec.name], **point))
    return cases


def _unsupported(spec, device: str, dtype: str) -> str | None:
    """Why a model leaves out a point of the sweep (a device or a dtype it lacks), or ``None``."""
    if device not in spec.devices:
        return f"{spec.name}: not supported on {device} (supports: {', '.join(spec.devices)})"
    if dtype not in spec.dtypes:
        return f"{spec.name}: dtype {dtype} not supported (supports: {', '.join(spec.dtypes)})"
    return None
