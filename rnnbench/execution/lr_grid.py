"""``--lr-grid``: train a case at each rate of a grid, keep the one best on the validation split.

Benchmarks that compare families (Zoology, MAD, LRA) tune the learning rate per model
and keep the best on held-out validation data; one rate per family, assumed, decides
comparisons instead (issue 21). The protocol here, per case:

1. every rate trains a fresh model from the same initialisation on the same batches
   (the model's seed and the task's batches are fixed by the case's seed);
2. each trained model is scored on the task's **validation** split (its primary metric,
   ``eval_batches`` batches); the test split is never looked at;
3. the best score wins (ties: the smaller rate); only that model is evaluated on the test
   split and goes on to the other scenarios, and its training run is the case's training
   run: its loss curve, step times and memory are the ones stored;
4. a rate that fails (diverges, runs out of memory, raises) is recorded with its reason and
   the others go on; only when every rate fails does the case fail, naming each reason.

The choice is made per case, so per seed: each seed repeats the whole protocol, tuning
included, and the spread across seeds includes the spread of the choice. Choosing one rate
per model from the mean over seeds would need every seed before any test score, which
breaks the case as the unit that runs, resumes and fails alone.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from rnnbench.records import CaseResult, LrGridRecord, Metric, RateOutcome, Series


@dataclass
class GridChoice:
    """The grid's outcome: the chosen rate, its trained model and training record."""

    outcomes: list[RateOutcome]
    lr: float
    score: float
    model: Any
    #: the chosen rate's training (metrics, series, details), to become the case's
    result: CaseResult
    #: wall clock of training and validating every rate
    seconds: float = 0.0


class GridFailed(RuntimeError):
    """Every rate of the grid failed; the message names each rate's reason."""


def select_rate(rates: Sequence[float], train_at: Callable[[float], tuple[Any, CaseResult]],
                score: Callable[[Any], float], *, higher_is_better: bool,
                classify: Callable[[BaseException], str]) -> GridChoice:
    """Train at every rate (``train_at(rate)`` -> (model, its training record)), score each on the
    validation split (``score(model)``) and keep the best; failures are recorded, never raised,
    unless every rate fails (:class:`GridFailed`). Only the best model so far is kept alive."""
    start = time.perf_counter()
    outcomes: list[RateOutcome] = []
    best: tuple[float, float, Any, CaseResult] | None = None
    for rate in rates:
        try:
            model, record = train_at(rate)
            value = float(score(model))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # one rate's failure is that rate's only
            outcomes.append(RateOutcome(rate, classify(exc), error=f"{type(exc).__name__}: {exc}".rstrip(": ")))
            continue
        if not math.isfinite(value):
            outcomes.append(RateOutcome(rate, "error", error=f"the validation score is {value}"))
            continue
        outcomes.append(RateOutcome(rate, "ok", value))
        better = best is None or (value > best[1] if higher_is_better else value < best[1])
        if better:
            best = (rate, value, model, record)
        del model, record  # a worse model is released before the next rate trains
    if best is None:
        reasons = "; ".join(f"{o.lr:g}: {o.error}" for o in outcomes)
        raise GridFailed(f"every rate of --lr-grid failed: {reasons}")
    rate, value, model, record = best
    return GridChoice(outcomes, rate, value, model, record, time.perf_counter() - start)


def record_choice(result: CaseResult, choice: GridChoice, metric: str, higher_is_better: bool, how: str) -> None:
    """Store the grid, each rate's validation score and the choice in the case's result.

    ``metric`` is the task's primary metric; ``how`` says how the validation score was taken.
    """
    rates = [o.lr for o in choice.outcomes]
    grid = ",".join(f"{r:g}" for r in rates)
    best = "highest" if higher_is_better else "lowest"
    result.metrics += [
        Metric("train", "lr_selected", choice.lr, "",
               f"the rate of --lr-grid {grid} with the {best} validation {metric} ({how}); chosen for this case"
               " (this seed) alone"),
        Metric("train", f"valid_{metric}", choice.score, "", f"{how}, at the chosen rate"),
        Metric("train", "lr_grid_time_s", choice.seconds, "s",
               f"wall clock of training and validating all {len(rates)} rates (train_time_s is the chosen rate's)"),
    ]
    result.series.append(Series(
        "train", "lr_grid_valid", rates, [o.score if o.score is not None else math.nan for o in choice.outcomes],
        "learning rate", metric, f"validation {metric} of each rate of the grid ({how}); nan: the rate failed"
        " (details.lr_grid says why: rnnbench.records.LrGridRecord)"))
    LrGridRecord(tuple(choice.outcomes), metric).store(result.details)
