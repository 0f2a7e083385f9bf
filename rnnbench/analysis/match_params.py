"""``--match-params``: give every model of a sweep the parameter count of the first one.

Architectures are compared on equal terms when they have the same number of
trainable parameters, embedding and head included, rather than the same width:
at ``--hidden 128`` an LSTM has about 4·2·128² core weights, a Transformer block
about 12·128². For each point of the sweep (task, options, length, batch, depth,
device, dtype, seed, budget) the first model of ``--models`` keeps the requested
width and sets the target; every other model gets the width whose count is
within :data:`TOLERANCE` of it.

A point is what fixes the architecture: the ``architecture`` axes of
rnnbench.sweep_axes (:data:`ARCHITECTURE`). The training protocol (learning rate
and its grid and schedule, steps, budget, seed, batch, device, dtype) is left out, so that a task
giving each family its own rate (``lr_by_family``) or a sweep over steps does not
split the LSTM and the Transformer into points of one model each, which would leave
every model at the width asked for. Every matched case records the count it was
sized to (``matched_params``, the reference's own count for the reference).

Counts come from the models themselves: each candidate width is built through
the plugin's factory and asked for ``num_params()``, so the match holds for any
plugin and any task vocabulary. The count grows with the width, which makes the
search a bisection. The width with the closest count wins, unless a multiple of 8
is within half the tolerance (2.5%): a width like 104 rather than 107 keeps SIMD
lanes full and the Transformer's heads even (``default_heads`` gives a prime width
a single head). When no width is within the tolerance, the closest is used and a
warning says so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from rnnbench.execution.runner import build_model, build_task
from rnnbench.manager import Registry
from rnnbench.records import CaseConfig
from rnnbench.sweep_axes import ARCHITECTURE_AXES

#: relative distance of a matched count from the target that counts as equal
TOLERANCE = 0.05
#: never search beyond this multiple of the requested width
MAX_WIDTH_FACTOR = 64
#: CaseConfig fields that set the parameter count of a given model (declared in rnnbench.sweep_axes):
#: cases equal in these are one point; the model and its options tell models apart within it
ARCHITECTURE = ARCHITECTURE_AXES


@dataclass(frozen=True)
class WidthChoice:
    """The width chosen for one model at one sweep point."""

    model: str
    reference: str
    requested: int
    width: int
    params: int
    target: int

    @property
    def relative_gap(self) -> float:
        """(params - target) / target."""
        return (self.params - self.target) / self.target

    @property
    def within_tolerance(self) -> bool:
        return abs(self.relative_gap) <= TOLERANCE + 1e-12

    def describe(self) -> str:
        return (f"{self.model}: width {self.width} ({self.params:,} params, {self.relative_gap:+.1%} vs"
                f" {self.reference} at {self.requested}: {self.target:,})")


@dataclass
class Matching:
    cases: list[CaseConfig]
    choices: list[WidthChoice]
    #: models left at the requested width, or matched outside the tolerance, with the reason
    warnings: list[str]


ParamCounter = Callable[[CaseConfig, int], int]


def registry_param_counter(registry: Registry) -> ParamCounter:
    """Count parameters by building the model through its plugin at a given width."""
    tasks: dict[tuple, object] = {}
    counts: dict[tuple[CaseConfig, int], int] = {}

    def count(config: CaseConfig, width: int) -> int:
        key = (point_of(config), config.model, config.model_options, width)
        if key not in counts:
            task_key = (config.task, config.task_options, config.seq_len, config.seed)
            if task_key not in tasks:
                tasks[task_key] = build_task(config, registry)
            model = build_model(config, registry, tasks[task_key], hidden=width)
            counts[key] = int(model.num_params())
        return counts[key]

    return count


def point_of(case: CaseConfig) -> tuple:
    """The architecture fields but the model (and the width chosen for it): the cases that must match."""
    requested = case.requested_hidden or case.hidden
    return tuple(requested if name == "hidden" else getattr(case, name) for name in ARCHITECTURE)


def match_params(cases: list[CaseConfig], count: ParamCounter, tolerance: float = TOLERANCE) -> Matching:
    """Re-width every case so that its model's count matches the first model's at its point."""
    references: dict[tuple, tuple[str, int]] = {}
    out: list[CaseConfig] = []
    choices: list[WidthChoice] = []
    warnings: list[str] = []
    reference_models: dict[tuple, tuple] = {}
    for case in cases:
        point = point_of(case)
        if point not in references:
            reference_models[point] = (case.model, case.model_options)
            try:
                references[point] = (case.model, count(case, case.hidden))
            except Exception as exc:  # the case will fail on its own and say why
                warnings.append(f"{case.model}: could not be built to count its parameters"
                                f" ({type(exc).__name__}: {exc}); its point is not matched")
                references[point] = (case.model, 0)
        reference, target = references[point]
        if reference_models[point] == (case.model, case.model_options):  # the reference keeps its width
            out.append(dataclasses.replace(case, requested_hidden=case.hidden, matched_params=target or None))
            continue
        if target <= 0:
            out.append(case)
            continue
        try:
            step = width_step(lambda w: count(case, w), case.hidden)
            # search in units of the widths the model accepts (heads=4: multiples of 4), not every width
            k = choose_width(lambda k: count(case, k * step), target, -(-case.hidden // step), tolerance)
            width = k * step
            choice = WidthChoice(case.model, reference, case.hidden, width, count(case, width), target)
        except Exception as exc:
            warnings.append(f"{case.model}: left at width {case.hidden}: its parameters could not be"
                            f" counted ({type(exc).__name__}: {exc})")
            out.append(case)
            continue
        if choice not in choices:
            choices.append(choice)
            if not choice.within_tolerance:
                warnings.append(f"{choice.describe()}: no width is within {tolerance:.0%}; the closest is used")
        out.append(dataclasses.replace(case, hidden=width, requested_hidden=case.hidden, matched_params=target))
    unique = list({c.case_id: c for c in out}.values())
    return Matching(cases=unique, choices=choices, warnings=warnings)


#: the width granularities a model may need (its heads, its chunk): tried smallest first
WIDTH_STEPS = (1, 2, 4, 8, 16, 32, 64, 128)


def width_step(params: Callable[[int], int], start: int) -> int:
    """The smallest step of :data:`WIDTH_STEPS` whose multiples around ``start`` the model accepts
    (builds at two consecutive multiples); ValueError when none does."""
    last: Exception | None = None
    for step in WIDTH_STEPS:
        first = max(1, -(-start // step)) * step
        try:
            params(first)
            params(first + step)
            return step
        except ValueError as exc:
            last = exc
    raise ValueError(f"no width near {start} that the model accepts ({last})")


def choose_width(params: Callable[[int], int], target: int, start: int, tolerance: float = TOLERANCE) -> int:
    """The width whose count is closest to ``target``, or a multiple of 8 within half the tolerance.

    ``params(width)`` must grow with the width. Raises ValueError when no width up to
    ``MAX_WIDTH_FACTOR·start`` reaches the target.
    """
    def gap(width: int) -> float:
        return abs(params(width) - target) / target

    reaching = _first_width(params, lambda p: p >= target, start)  # the closest is it or the one before
    closest = min({max(1, reaching - 1), reaching}, key=lambda w: (gap(w), w))
    low = _first_width(params, lambda p: p >= (1 - tolerance / 2) * target, start)
    high = _first_width(params, lambda p: p > (1 + tolerance / 2) * target, max(start, low))
    eights = [w for w in range(low + (-low) % 8, high, 8) if gap(w) <= tolerance / 2]
    return min(eights, key=lambda w: (gap(w), w)) if eights else closest


def _first_width(params: Callable[[int], int], reached: Callable[[int], bool], start: int) -> int:
    """The smallest width ``w >= 1`` with ``reached(params(w))``, by doubling then bisection."""
    limit = MAX_WIDTH_FACTOR * max(start, 1)
    high = max(start, 1)
    while not reached(params(high)):
        if high >= limit:
            raise ValueError(f"no width up to {limit} reaches the target parameter count")
        high = min(2 * high, limit)
    low = 0  # invariant: reached(params(high)); low == 0 or not reached(params(low))
    while high - low > 1:
        middle = (low + high) // 2
        if reached(params(middle)):
            high = middle
        else:
            low = middle
    return high
