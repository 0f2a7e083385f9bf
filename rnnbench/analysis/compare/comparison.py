"""What ``rnnbench compare`` produces: its settings, and the :class:`Comparison` of two runs as rows of
numbers and verdicts (no text: rnnbench.render.compare writes it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnbench.analysis.calibration import CalibrationRatio
from rnnbench.analysis.sources import LoadedRun
from rnnbench.records import CaseResult
from rnnbench.stats import Summary

#: verdicts that make compare exit 1
REGRESSIONS = {"slower", "bigger", "worse", "failed", "missing"}


@dataclass(frozen=True)
class CompareSettings:
    threshold: float = 0.10
    alpha: float = 0.002
    acc_tolerance: float = 0.02
    confidence: float = 0.95
    resamples: int = 2000
    seed: int = 0
    #: relative tolerance of an unbounded quality metric (MSE, loss, bits per char) with one seed
    metric_tolerance: float = 0.10
    #: today's timing rule: samples as independent draws, busy flags ignored (docs/ci.md)
    strict: bool = False

    @property
    def upper(self) -> float:
        return 1.0 + self.threshold

    @property
    def lower(self) -> float:
        # symmetric on a log scale: 10% slower is x1.10, 10% faster is x1/1.10
        return 1.0 / (1.0 + self.threshold)


@dataclass(frozen=True)
class Side:
    """One side's figure of a compared (case, metric), as the renderers show it.

    A timing carries the :class:`Summary` of its samples; an accuracy the standard
    deviation over its seeds; a status row the case's status.
    """

    value: float | None
    summary: Summary | None = None
    seeds: int = 1
    seed_sd: float | None = None
    status: str | None = None


@dataclass
class Row:
    """One compared (case, metric): the figures on each side, the change, the verdict."""

    kind: str  # "time" | "memory" | "params" | "accuracy" | "budget" | "gradient" | "status"
    case: str  # human label
    case_ids: list[str]
    scenario: str
    metric: str
    base_side: Side
    new_side: Side
    verdict: str
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    delta: float | None = None
    tolerance: float | None = None
    note: str = ""
    #: which rule decided (legend): "rounds (3+3 runs)", "one run a side",
    #: "fewer than 3 runs a side (2+2)", "strict", or an accuracy's scale
    rule: str = ""
    #: rnnbench flagged the case as distorted by other processes on a side: the verdict is noisy
    busy: bool = False

    @property
    def base(self) -> float | None:
        return self.base_side.value

    @property
    def new(self) -> float | None:
        return self.new_side.value

    @property
    def regression(self) -> bool:
        return self.verdict in REGRESSIONS


@dataclass
class Comparison:
    base: LoadedRun
    new: LoadedRun
    settings: CompareSettings
    rows: list[Row] = field(default_factory=list)
    only_in_base: list[str] = field(default_factory=list)
    only_in_new: list[str] = field(default_factory=list)
    env_differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: NEW/BASE of the runs' reference computation (rnnbench.analysis.calibration); None: not read
    calibration: "CalibrationRatio | None" = None
    #: timings were divided by each run's calibration (--normalise)
    normalised: bool = False

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regression]

    def count(self, verdict: str) -> int:
        return sum(1 for r in self.rows if r.verdict == verdict)

    @property
    def busy(self) -> int:
        """Rows left undecided because rnnbench flagged the machine busy on a side."""
        return sum(1 for r in self.rows if r.busy)


def case_label(result: CaseResult, with_seed: bool = True) -> str:
    """A case as the rows name it: model, task and sizes, what differs from the defaults, and its seed."""
    c = result.config
    text = f"{c.model_label} {c.task} T={c.seq_len} B={c.batch_size} H={c.hidden} L={c.layers}"
    if c.device != "cpu" or c.dtype != "float32":
        text += f" {c.device} {c.dtype}"
    if c.time_budget_s is not None:
        text += f" budget={c.time_budget_s:g}s"
    if c.flops_budget is not None:
        text += f" flops={c.flops_budget:g}"
    return text + (f" seed={c.seed}" if with_seed else "")
