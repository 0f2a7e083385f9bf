"""The calibration of each side of a comparison: NEW/BASE of the reference computation, and
timings divided by it (``rnnbench compare --normalise``, ``rnnbench history --normalise``).

Each run stores the time of a fixed reference computation at its start and end
(:mod:`rnnbench.execution.calibration`). A side of several pooled runs takes the median
of its runs' readings; the ratio NEW/BASE then says how much slower NEW's machine ran
the reference, and normalising a run multiplies its timing samples by
``reference / its own calibration``, so that they read as seconds on the reference machine.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

from rnnbench.analysis.sources import LoadedRun
from rnnbench.execution.calibration import problem, score
from rnnbench.records import Metric

#: calibrations that differ by more than this make compare warn: different or throttled machines
WARN_ABOVE = 0.10


@dataclass(frozen=True)
class CalibrationRatio:
    """NEW/BASE of the reference computation; ``None`` figures where a side did not measure it."""

    base: dict[str, float] | None
    new: dict[str, float] | None
    #: why a side's stored calibration is invalid ("BASE run X: calibration.start.gemm_s is 0 ..."), if it is
    problems: tuple[str, ...] = ()

    def ratio(self, key: str = "combined") -> float | None:
        if self.base is None or self.new is None:
            return None
        return self.new[key] / self.base[key]

    @property
    def differs(self) -> bool:
        r = self.ratio()
        return r is not None and abs(r - 1.0) > WARN_ABOVE

    def describe(self) -> str:
        missing = [side for side, value in (("BASE", self.base), ("NEW", self.new)) if value is None]
        if self.problems:
            return f"calibration: invalid in {'; '.join(self.problems)}"
        if missing:
            return (f"calibration: not measured in {' and '.join(missing)} (runs stored before rnnbench timed its"
                    " reference computation)")
        return (f"calibration NEW/BASE: x{self.ratio():.3f} (GEMM x{self.ratio('gemm_s'):.3f}, recurrent loop"
                f" x{self.ratio('recurrent_s'):.3f}; each run times a fixed GEMM and tanh recurrence at its thread"
                " count at its start and end, geometric means, median over pooled runs)")


def side_score(runs: list[LoadedRun]) -> dict[str, float] | None:
    """The median, over a side's runs, of each run's calibration; ``None`` if any run lacks one."""
    scores = [score(r.run.env) for r in runs]
    if not scores or any(s is None for s in scores):
        return None
    return {key: statistics.median(s[key] for s in scores) for key in scores[0]}


def calibration_ratio(base_runs: list[LoadedRun], new_runs: list[LoadedRun]) -> CalibrationRatio:
    problems = tuple(f"{side} run {r.run.run_id}: {why}" for side, runs in (("BASE", base_runs), ("NEW", new_runs))
                     for r in runs if (why := problem(r.run.env)) is not None)
    return CalibrationRatio(side_score(base_runs), side_score(new_runs), problems)


def normalise(run: LoadedRun, reference: float) -> LoadedRun:
    """The run with every timing (unit ``s``, raw samples) multiplied by ``reference / its combined calibration``.

    Runs without a calibration are returned as they are (compare says so).
    """
    own = score(run.run.env)
    if own is None:
        return run
    factor = reference / own["combined"]

    def scaled(m: Metric) -> Metric:
        if m.unit != "s" or m.value is None or not m.samples:
            return m
        return dataclasses.replace(m, value=m.value * factor, samples=[v * factor for v in m.samples],
                                   method=f"{m.method} (x{factor:.3f}: normalised by the run's calibration)")

    results = [dataclasses.replace(r, metrics=[scaled(m) for m in r.metrics]) for r in run.results]
    return dataclasses.replace(run, results=results)
