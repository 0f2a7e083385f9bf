"""Tables of the training-dynamics measurements: equal-time training, length generalisation, gradient flow.

Each function returns a :class:`MeasurementTable` (or None when the run has no such
measurement); the terminal summary and the report render the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnbench.records import CaseResult
from rnnbench.stats import fmt_count, fmt_time


@dataclass
class MeasurementTable:
    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _case(result: CaseResult) -> list[str]:
    c = result.config
    return [c.model, c.task + (f" seed {c.seed}" if c.seed else ""), str(c.seq_len)]


def _value(result: CaseResult, scenario: str, name: str) -> float | None:
    metric = result.metric(scenario, name)
    return None if metric is None else metric.value


def budget_table(results: list[CaseResult]) -> MeasurementTable | None:
    """Per budgeted case: the budget, the steps and tokens it reached, its CPU time, and its quality."""
    budgeted = [r for r in results if r.config.time_budget_s is not None and r.status == "ok"]
    if not budgeted:
        return None
    rows, changed = [], []
    for r in budgeted:
        primary = r.scoring.primary_metric or ""
        quality = _value(r, "train", f"eval_{primary}")
        chance = _value(r, "train", f"baseline_{primary}")
        rows.append(_case(r) + [
            f"{r.config.time_budget_s:g} s", fmt_time(_value(r, "train", "time_s")),
            fmt_count(_value(r, "train", "steps_reached")), fmt_count(_value(r, "train", "tokens_reached")),
            fmt_time(_value(r, "train", "cpu_time_s")),
            (r.training_notes.load_change or "-").split(":", 1)[0],
            f"{primary} {_number(quality)}" if quality is not None else "-", _named_baseline(r, _number(chance)),
        ])
        if _value(r, "train", "load_changed"):
            changed.append(f"{r.config.model} {r.config.task}: {r.training_notes.load_change or 'the load changed'}")
    notes = ["Equal-time training (--time-budget; Stanić et al. 2023): each case trained until its wall-clock"
             " budget was spent (batches, transfers and steps; evaluation outside it); trained: the wall clock"
             " used; CPU: the CPU time the case's process got meanwhile (all its threads, time.process_time);"
             " load: whether other processes' CPU use stayed steady or changed between parts of the budget"
             " (/proc/stat);"
             " quality: the task's primary metric on held-out test batches after training."]
    notes += [f"Warning: the machine's load changed during the budget of {line}; steps reached are not at"
              " equal compute." for line in changed]
    return MeasurementTable("Equal-time training (--time-budget)",
                            ["model", "task", "seq_len", "budget", "trained", "steps reached", "tokens",
                             "CPU", "load", "quality", "chance"], rows, notes)


def _named_baseline(result: CaseResult, text: str) -> str:
    """A baseline's number, named by its kind unless it is chance (the column's header)."""
    kind = result.baseline_record.baseline_kind or "chance"
    return text if kind == "chance" or text == "-" else f"{kind} {text}"


def _lengths(result: CaseResult, primary: str) -> dict[int, float | None]:
    prefix = f"eval_{primary}_len"
    return {int(m.name[len(prefix):]): m.value for m in result.metrics
            if m.scenario == "train" and m.name.startswith(prefix) and m.name[len(prefix):].isdigit()}


def length_table(results: list[CaseResult]) -> MeasurementTable | None:
    """The primary metric at every evaluated length (--eval-seq-len), one row per case."""
    evaluated = [r for r in results if r.status == "ok" and r.training_notes.length_extension]
    if not evaluated:
        return None
    lengths = sorted({length for r in evaluated for length in _lengths(r, r.scoring.primary_metric or "")}
                     | {int(k) for r in evaluated for k in r.training_notes.length_extension or {}})
    rows, notes, seen = [], [], set()
    for r in evaluated:
        primary = r.scoring.primary_metric or ""
        scores = _lengths(r, primary)
        extension = r.training_notes.length_extension or {}
        cells = []
        for length in lengths:
            said = extension.get(str(length), "")
            cells.append(_number(scores.get(length)) if length in scores else
                         ("refused" if said.startswith("refused") else "-"))
        chance = [_value(r, "train", f"baseline_{primary}_len{length}") or _value(r, "train", f"baseline_{primary}")
                  for length in lengths]
        chance_text = _named_baseline(r, ",".join(sorted({_number(c) for c in chance if c is not None})) or "-")
        rows.append([r.config.model, r.config.task + (f" seed {r.config.seed}" if r.config.seed else ""),
                     primary, str(r.config.seq_len), *cells, chance_text])
        beyond = {said for said in extension.values() if said != "the training length" and not said.startswith("within")}
        for said in sorted(beyond):
            if (r.config.model, said) not in seen:
                seen.add((r.config.model, said))
                notes.append(f"{r.config.model}: {said}")
    notes.insert(0, "Length generalisation (--eval-seq-len): each trained model evaluated on held-out test batches"
                    " of the same task built at each length (what --seq-len means for the task); trained at: the"
                    " training length. Beyond it:")
    return MeasurementTable("Length generalisation (--eval-seq-len)",
                            ["model", "task", "metric", "trained at", *[f"at {length}" for length in lengths],
                             "chance"], rows, notes)


def gradient_table(results: list[CaseResult]) -> MeasurementTable | None:
    """The fitted decay per step of ‖∂ℓ/∂h_t‖ at initialisation and after training, with standard errors."""
    probed = [r for r in results if r.status == "ok" and (r.training_notes.gradients is not None
                                                          or r.training_notes.gradients_unsupported is not None)]
    if not probed:
        return None
    rows = []
    for r in probed:
        cells = []
        for stage in ("init", "trained"):
            decay = r.metric("gradients", f"decay_per_step_{stage}")
            se = _value(r, "gradients", f"decay_per_step_{stage}_se")
            if decay is None:
                cells.append("-")
            elif decay.value is None:
                cells.append("no fit (zero beyond d=0)" if "no gradient reaches" in decay.method else "no fit")
            else:
                cells.append(f"{decay.value:.3f} ±{se:.3f}" if se is not None else f"{decay.value:.3f}")
        if r.training_notes.gradients_unsupported:
            cells = ["not supported", "not supported"]
        rows.append(_case(r) + cells)
    notes = ["Gradient flow (the gradients scenario; Bengio et al. 1994, Pascanu et al. 2013): decay per step ="
             " minus the least-squares slope of ln||dl/dh_t|| against the distance from the loss (d >= 1),"
             " ± the fit's standard error; positive = vanishing (a factor e^-decay per step), negative = growing."
             " h_t: the recurrent state (all layers, LSTM cell included), the Transformer's residual stream"
             " entering its first block, mlp's per-position representation; loss at each example's last scored"
             " position of the first test batch; torch models are probed in a float64 copy, NumPy models in"
             " their own dtype."]
    notes += [f"{r.config.model}: {unsupported}" for r in probed
              if (unsupported := r.training_notes.gradients_unsupported)]
    return MeasurementTable("Gradient flow (decay per step of ||dl/dh_t||)",
                            ["model", "task", "seq_len", "at initialisation", "after training"], rows, notes)


def measurement_tables(results: list[CaseResult]) -> list[MeasurementTable]:
    """Every table of this module that the run has data for, in a fixed order."""
    tables = (budget_table(results), length_table(results), gradient_table(results))
    return [table for table in tables if table is not None]
