"""What a run found, in plain sentences: the answer printed under the summary table and opening the reports.

Computed from the results frame (one row per case, rnnbench.frame) with the raw
timing samples attached (:func:`attach_samples`), for the axes the run actually
swept:

* the fastest training step and forward per token (and decode step, when it ran):
  the ratio of medians to the fastest model with its bootstrap confidence interval
  (rnnbench.stats), "no significant difference" when the interval includes 1;
* the most accurate model against what chance scores, and the best model of each family
  (recurrent, linear-recurrent, attention, ...) where a run holds several;
* the smallest training memory and decode state;
* where the ranking changes along a swept length axis;
* what the findings do not cover (the sizes, the device, the thread count).

Models are compared only at the same point: cases that differ in nothing but the
model (seeds are pooled). Failed cases are named, never compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from rnnbench.analysis.conditions import case_distortion
from rnnbench.analysis.frame import higher_is_better as _higher_is_better
from rnnbench.analysis.frame import primary_metric
from rnnbench.stats import estimate_ratio, fmt_bytes, fmt_time
from rnnbench.sweep_axes import AXES, BY_NAME, POINT_AXES

#: the axis whose ranking changes are reported as "where the ranking changes"
LENGTH_AXIS = "seq_len"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Cost:
    """A timed metric compared between models; lower is better."""

    column: str
    what: str
    #: divide by batch x total length to state it per token
    per_token: bool


COSTS = (
    Cost("train_step_time_s", "training step", True),
    Cost("forward_latency_s", "forward", True),
    Cost("decode_token_latency_s", "decode step()", False),
)
#: raw-sample columns :func:`attach_samples` adds, one per timed metric
SAMPLED = tuple(cost.column for cost in COSTS)
#: the column :func:`attach_samples` adds: why a case's times decide no ranking (machine busy, timing distorted)
DISTORTED = "timing_distorted"


@dataclass(frozen=True)
class Finding:
    #: "speed", "quality", "memory", "ranking", "failed" or "scope"
    kind: str
    text: str


@dataclass(frozen=True)
class Comparison:
    """One model against the fastest at one point: ratio of medians and its interval."""

    model: str
    median: float
    ratio: float
    ci_low: float | None
    ci_high: float | None
    n: int

    @property
    def significant(self) -> bool | None:
        """True when the interval excludes 1; None when there are too few samples for one."""
        if self.ci_low is None or self.ci_high is None:
            return None
        return not (self.ci_low <= 1.0 <= self.ci_high)


# -- input -------------------------------------------------------------------------------------

def attach_samples(frame: pd.DataFrame, results: Iterable) -> pd.DataFrame:
    """A copy of ``frame`` with ``<column>_samples`` holding each case's raw timing samples (a list or None).

    ``results`` are the CaseResults the frame was built from; rows are matched by case id.
    """
    by_case: dict[str, dict[str, list[float]]] = {}
    for result in results:
        by_case[result.case_id] = {f"{m.scenario}_{m.name}": list(m.samples) for m in result.metrics
                                   if m.samples and f"{m.scenario}_{m.name}" in SAMPLED}
    distortion = {result.case_id: case_distortion(result) for result in results}
    out = frame.copy()
    for column in SAMPLED:
        out[f"{column}_samples"] = [by_case.get(cid, {}).get(column) for cid in out.get("case_id", [])]
    out[DISTORTED] = [distortion.get(cid) for cid in out.get("case_id", [])]
    return out


def _distorted(rows: pd.DataFrame, column: str) -> list[str]:
    """Why rows timed in ``column`` decide no ranking (one reason per flagged case); [] when none is flagged."""
    if DISTORTED not in rows or column not in rows:
        return []
    timed = rows[rows[column].notna()]
    return [str(reason) for reason in timed[DISTORTED] if isinstance(reason, str) and reason]


def _not_ranked(reasons: list[str], timed: int) -> str:
    """The sentence that replaces a ranking whose cases were flagged: the first reason, with the count."""
    more = f" (and {len(reasons) - 1} more of the {timed} case(s))" if len(reasons) > 1 else \
        f" ({len(reasons)} of the {timed} case(s))"
    return f"not ranked: {reasons[0]}{more}; times measured then include waiting, not only the model"


# -- the engine --------------------------------------------------------------------------------

def findings(frame: pd.DataFrame) -> list[Finding]:
    """Every finding the frame supports, most important first; [] for an empty frame."""
    if frame.empty or "model" not in frame:
        return []
    frame = frame.copy()
    if "status" not in frame:
        frame["status"] = "ok"
    ok = frame[frame["status"] == "ok"]
    out = [*_failed(frame)]
    if ok.empty:
        return out + [Finding("scope", "No case succeeded: there is nothing to compare.")]
    varying = [a for a in POINT_AXES if a in ok and _nunique(ok[a]) > 1]
    points = _points(ok, varying)
    compact = len(points) > 2
    for cost in COSTS:
        out += _speed(cost, points, varying, compact)
    out += _quality(points, varying, compact)
    out += _families(points)
    out += _memory(points, varying, compact, "train_memory_bytes", "training memory")
    out += _memory(points, varying, compact, "decode_state_bytes", "decode state")
    if LENGTH_AXIS in varying:
        for cost in COSTS:
            out += _ranking_along_length(cost, ok, varying)
    out.append(_scope(ok, varying))
    return out


def _nunique(column: pd.Series) -> int:
    return column.map(_hashable).nunique(dropna=True)


def _hashable(value):
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _points(ok: pd.DataFrame, varying: list[str]) -> list[tuple[dict, pd.DataFrame]]:
    """The comparison points: rows grouped by the varying config axes, in first-seen order."""
    if not varying:
        return [({}, ok)]
    keyed = ok.assign(**{f"__{a}": ok[a].map(_hashable) for a in varying})
    groups = keyed.groupby([f"__{a}" for a in varying], sort=False, dropna=False)
    out = []
    for _, rows in groups:
        first = rows.iloc[0]
        out.append(({a: first[a] for a in varying}, rows))
    if LENGTH_AXIS in varying:  # read along the length axis in order
        out.sort(key=lambda p: tuple(p[0][a] if a == LENGTH_AXIS else 0 for a in varying))
    return out


def _label(point: dict) -> str:
    """``T=64 batch=8 cpu``: a comparison point, each axis as rnnbench.sweep_axes prints it."""
    return " ".join(BY_NAME[axis].tag(value) for axis, value in point.items())


def _num(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.integer, np.floating)) else str(value)


def _samples(rows: pd.DataFrame, column: str) -> list[float]:
    """The model's raw samples at a point, pooled over seeds; the stored median where no samples were kept."""
    pooled: list[float] = []
    for _, row in rows.iterrows():
        samples = row.get(f"{column}_samples")
        if isinstance(samples, (list, tuple, np.ndarray)) and len(samples):
            pooled += [float(s) for s in samples]
        elif column in row and pd.notna(row[column]):
            pooled.append(float(row[column]))
    return pooled


def compare_costs(rows: pd.DataFrame, column: str) -> list[Comparison]:
    """Every model at one point, fastest first, each with its ratio to the fastest (the fastest: 1)."""
    if column not in rows:
        return []
    by_model = {model: _samples(group, column) for model, group in rows.groupby("model", sort=False)}
    by_model = {m: s for m, s in by_model.items() if s}
    if not by_model:
        return []
    ordered = sorted(by_model, key=lambda m: float(np.median(by_model[m])))
    best = by_model[ordered[0]]
    out = []
    for model in ordered:
        samples = by_model[model]
        if model == ordered[0]:
            out.append(Comparison(model, float(np.median(samples)), 1.0, None, None, len(samples)))
            continue
        est = estimate_ratio(best, samples, confidence=CONFIDENCE)
        out.append(Comparison(model, float(np.median(samples)), est.ratio, est.ci_low, est.ci_high, len(samples)))
    return out


def _tokens(rows: pd.DataFrame) -> float | None:
    if "batch_size" not in rows or "total_seq_len" not in rows:
        return None
    tokens = (rows["batch_size"] * rows["total_seq_len"]).dropna()
    return float(tokens.iloc[0]) if len(tokens) and tokens.nunique() == 1 else None


def _versus(c: Comparison) -> str:
    """How one model compares with the fastest, with the interval that decides it."""
    interval = f"{_pct(CONFIDENCE)} CI {c.ci_low:.2f}–{c.ci_high:.2f}" if c.ci_low is not None else ""
    if c.significant is None:
        return f"{c.model} {c.ratio:.2f}× (n={c.n}: too few samples for a confidence interval)"
    if not c.significant:
        return f"{c.model}: no significant difference ({c.ratio:.2f}×, {interval})"
    return f"{c.model} {c.ratio:.2f}× slower ({interval})"


def _pct(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _speed(cost: Cost, points, varying: list[str], compact: bool) -> list[Finding]:
    per_point = []
    for point, rows in points:
        ranked = compare_costs(rows, cost.column)
        if len(ranked) >= 2:
            per_point.append((point, rows, ranked))
    if not per_point:
        return []
    what = f"{cost.what} per token" if cost.per_token else cost.what
    if compact:  # many points: the winner at each, and whether the runner-up is distinguishable
        parts = []
        for point, rows, ranked in per_point:
            reasons = _distorted(rows, cost.column)
            if reasons:  # a busy machine or a distorted timing ranks nothing (as in rnnbench compare)
                parts.append(f"at {_label(point)} {_not_ranked(reasons, int(rows[cost.column].notna().sum()))}")
                continue
            runner = ranked[1]
            sure = {True: f"ahead of {runner.model} by {runner.ratio:.2f}×",
                    False: f"not significantly ahead of {runner.model}",
                    None: "too few samples to tell"}[runner.significant]
            parts.append(f"{ranked[0].model} at {_label(point)} ({sure})")
        return [Finding("speed", f"Fastest {what} (ratio of medians, {_pct(CONFIDENCE)} bootstrap CI): "
                        + "; ".join(parts) + ".")]
    out = []
    for point, rows, ranked in per_point:
        best = ranked[0]
        tokens = _tokens(rows) if cost.per_token else None
        reasons = _distorted(rows, cost.column)
        if reasons:
            where = f"At {_label(point)}: " if point else ""
            medians = ", ".join(f"{c.model} {fmt_time(c.median)}" for c in ranked)
            out.append(Finding("speed", f"{where}{what.capitalize()}: {_not_ranked(reasons, int(rows[cost.column].notna().sum()))}"
                               f" (medians: {medians})."))
            continue
        value = (f"{fmt_time(best.median / tokens)}/token ({fmt_time(best.median)} per {_call(cost)} of {tokens:g} tokens,"
                 f" median of {best.n})" if tokens else f"{fmt_time(best.median)} (median of {best.n})")
        where = f"At {_label(point)}: " if point else ""
        others = "; ".join(_versus(c) for c in ranked[1:])
        if all(c.significant is False for c in ranked[1:]):
            ratios = ", ".join(f"{c.model} {c.ratio:.2f}× ({_pct(CONFIDENCE)} CI {c.ci_low:.2f}–{c.ci_high:.2f})"
                               for c in ranked[1:])
            out.append(Finding("speed", f"{where}{what.capitalize()}: no significant difference between"
                               f" {', '.join(c.model for c in ranked)}; lowest median {best.model}, {value};"
                               f" the others' ratios to it: {ratios}."))
        else:
            out.append(Finding("speed", f"{where}Fastest {what}: {best.model}, {value}; {others}."))
    return out


def _call(cost: Cost) -> str:
    return {"train_step_time_s": "step", "forward_latency_s": "forward"}.get(cost.column, "call")


def _quality(points, varying: list[str], compact: bool) -> list[Finding]:
    out, parts = [], []
    for point, rows in points:
        primary = primary_metric(rows)
        if primary is None:
            continue
        column, base = f"train_eval_{primary}", f"train_baseline_{primary}"
        higher = _higher_is_better(rows)
        scored = rows.dropna(subset=[column])
        by_model = scored.groupby("model", sort=False)[column].agg(["median", "min", "max", "count"])
        if len(by_model) < 2:
            continue
        by_model = by_model.sort_values("median", ascending=not higher)
        chance = float(scored[base].median()) if base in scored and scored[base].notna().any() else None
        kinds = scored["baseline_kind"].dropna().unique() if "baseline_kind" in scored else []
        kind = str(kinds[0]) if len(kinds) == 1 else "the baseline" if len(kinds) else "chance"
        seeds = int(by_model["count"].max())

        def better_than_chance(v: float) -> bool:
            return chance is None or (v > chance if higher else v < chance)

        def cell(model: str) -> str:
            row = by_model.loc[model]
            spread = f" (seeds {row['min']:.3g}–{row['max']:.3g})" if row["count"] > 1 else ""
            at_chance = "" if better_than_chance(row["median"]) else f" (no better than {kind})"
            return f"{model} {row['median']:.3g}{spread}{at_chance}"

        best = by_model.index[0]
        chance_text = (_all_baselines(scored, higher) or f"{kind} {chance:.3g}") if chance is not None else "no baseline"
        if compact:
            parts.append(f"{best} at {_label(point)} ({by_model.loc[best, 'median']:.3g}, {chance_text})")
            continue
        where = f"At {_label(point)}: " if point else ""
        spread_note = (f"median over {seeds} seeds, range in brackets" if seeds > 1 else
                       "one seed: no spread between trainings; --seeds 0,1,2 gives one")
        if not better_than_chance(by_model.iloc[0]["median"]):
            # no best to name: every model is listed, the closest first
            lead, tie, rest = f"{where}No model beats {kind} on held-out {primary} ({chance_text})", "", by_model.index
        else:
            lead = f"{where}Most accurate: {best}, held-out {primary} {by_model.iloc[0]['median']:.3g} against {chance_text}"
            ties = by_model.index[by_model["median"] == by_model.iloc[0]["median"]]
            tie = f" (tied with {', '.join(ties[1:])})" if len(ties) > 1 else ""
            rest = by_model.index[1:]
        out.append(Finding("quality", f"{lead}{tie}; " + ", ".join(cell(m) for m in rest)
                           + f" ({'higher' if higher else 'lower'} is better; {spread_note})."))
    if parts:
        out.append(Finding("quality", "Most accurate on held-out data: " + "; ".join(parts) + "."))
    return out


def _all_baselines(rows: pd.DataFrame, higher: bool) -> str | None:
    """A task's several baselines, the strongest first (``1-NN DTW 0.949, majority class 0.111``); None for one."""
    if "baselines" not in rows or not rows["baselines"].notna().any():
        return None
    named = json.loads(rows["baselines"].dropna().iloc[0])
    values = [(name, float(rows[f"train_{column}"].median())) for name, column in named
              if f"train_{column}" in rows and rows[f"train_{column}"].notna().any()]
    if len(values) < 2:
        return None
    values.sort(key=lambda item: item[1], reverse=higher)
    return ", ".join(f"{name} {value:.3g}" for name, value in values)


def _families(points) -> list[Finding]:
    """Where a point holds models of several families (recurrent, linear-recurrent, attention, ...):
    the best model of each family on held-out data, best family first, and how many it was chosen from."""
    out = []
    for point, rows in points:
        primary = primary_metric(rows)
        column = f"train_eval_{primary}" if primary else None
        if column is None or column not in rows or "family" not in rows:
            continue
        scored = rows.dropna(subset=[column, "family"])
        if scored["family"].nunique() < 2:
            continue
        higher = _higher_is_better(scored)
        by_model = scored.groupby(["family", "model"], sort=False)[column].median()
        best = []  # (value, family, model, models in the family)
        for family, models in by_model.groupby(level="family", sort=False):
            values = models.droplevel("family").sort_values(ascending=not higher)
            best.append((float(values.iloc[0]), str(family), str(values.index[0]), len(values)))
        best.sort(key=lambda b: -b[0] if higher else b[0])
        where = f"At {_label(point)}: " if point else ""
        cells = [f"{family}: {model} {value:.3g}" + (f" (best of {n})" if n > 1 else "")
                 for value, family, model, n in best]
        out.append(Finding("quality", f"{where}By family, held-out {primary} of each family's best model (median"
                           f" over seeds): " + "; ".join(cells) + "."))
    return out


def _memory(points, varying: list[str], compact: bool, column: str, what: str) -> list[Finding]:
    out, parts = [], []
    for point, rows in points:
        if column not in rows or rows[column].notna().sum() == 0:
            continue
        data = rows.dropna(subset=[column])
        methods = data.get(f"{column}_method")
        if methods is not None and methods.nunique(dropna=True) > 1:
            continue  # autograd bytes and tracemalloc peaks are not one comparison
        by_model = data.groupby("model", sort=False)[column].median().sort_values()
        if len(by_model) < 2 or by_model.iloc[0] <= 0:
            continue
        best = by_model.index[0]
        if compact:
            parts.append(f"{best} at {_label(point)} ({fmt_bytes(by_model.iloc[0])})")
            continue
        method = f"measured as {methods.dropna().iloc[0].split(' (')[0]}; " if methods is not None and methods.notna().any() else ""
        where = f"At {_label(point)}: " if point else ""
        others = ", ".join(f"{m} {fmt_bytes(v)} ({v / by_model.iloc[0]:.3g}×)" for m, v in by_model.iloc[1:].items())
        out.append(Finding("memory", f"{where}Smallest {what}: {best}, {fmt_bytes(by_model.iloc[0])}; {others}"
                           f" ({method}one reading per case, no spread)."))
    if parts:
        out.append(Finding("memory", f"Smallest {what}: " + "; ".join(parts) + "."))
    return out


def _ranking_along_length(cost: Cost, ok: pd.DataFrame, varying: list[str]) -> list[Finding]:
    """Where the fastest model changes as the length grows, per value of the other varying axes."""
    others = [a for a in varying if a != LENGTH_AXIS]
    out = []
    for fixed, rows in _points(ok, others):
        winners: list[tuple[float, Comparison, Comparison | None]] = []
        for length, at in sorted(rows.groupby(LENGTH_AXIS), key=lambda kv: kv[0]):
            if _distorted(at, cost.column):  # a length whose times were flagged ranks nothing
                continue
            ranked = compare_costs(at, cost.column)
            if len(ranked) >= 2:
                winners.append((float(length), ranked[0], ranked[1]))
        if len(winners) < 2:
            continue
        what = f"{cost.what} per token" if cost.per_token else cost.what
        where = f" ({_label(fixed)})" if fixed else ""
        names = [w[1].model for w in winners]
        lengths = [_num(w[0]) for w in winners]
        unsure = [f"T={_num(length)}" for length, _, runner in winners if runner is not None and runner.significant is not True]
        caveat = (f"; at {', '.join(unsure)} the lead is not significant" if unsure else
                  "; every lead is significant")
        if len(set(names)) == 1:
            out.append(Finding("ranking", f"Along T{where}: {names[0]} has the fastest {what} at every T measured"
                               f" ({', '.join(lengths)}; {_pct(CONFIDENCE)} bootstrap CI of the ratio of"
                               f" medians{caveat})."))
            continue
        runs, start = [], 0
        for i in range(1, len(names) + 1):
            if i == len(names) or names[i] != names[start]:
                span = lengths[start] if i - 1 == start else f"{lengths[start]}–{lengths[i - 1]}"
                runs.append(f"{names[start]} at T={span}")
                start = i
        out.append(Finding("ranking", f"Along T{where} the fastest {what} changes: {', then '.join(runs)}"
                           f" ({_pct(CONFIDENCE)} bootstrap CI of the ratio of medians{caveat})."))
    return out


def _failed(frame: pd.DataFrame) -> list[Finding]:
    failed = frame[frame["status"] != "ok"]
    if failed.empty:
        return []
    varying = [a for a in POINT_AXES if a in frame and _nunique(frame[a]) > 1]
    parts = []
    for _, row in failed.iterrows():
        where = _label({a: row[a] for a in varying})
        reason = short_reason(str(row.get("error") or ""))
        parts.append(f"{row['model']}{' at ' + where if where else ''} ({row['status']}{': ' + reason if reason else ''})")
    return [Finding("failed", f"Not compared, {'it' if len(parts) == 1 else 'they'} failed: " + "; ".join(parts) + ".")]


def short_reason(error: str, limit: int = 60) -> str:
    """The error's last line, cut at a word boundary to about ``limit`` characters."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(",;:") + "…"


def _ran_at(ok: pd.DataFrame) -> float | None:
    """The one length the cases ran at where the task reports it (``total_seq_len``), else ``None``."""
    if "total_seq_len" not in ok or ok["total_seq_len"].isna().any() or ok["total_seq_len"].nunique() != 1:
        return None
    return float(ok["total_seq_len"].iloc[0])


#: axes that describe training only: no part of the scope of a run that did not train
_TRAINING_AXES = ("steps", "lr", "lr_grid", "lr_schedule", "time_budget_s", "flops_budget")


def _scope(ok: pd.DataFrame, varying: Sequence[str]) -> Finding:
    fixed = []
    budgets = sorted(ok["time_budget_s"].dropna().unique()) if "time_budget_s" in ok else []
    # a run that trained nothing (--scenarios forward) says nothing of steps, rates or budgets
    trained = any(ok[c].notna().any() for c in ok.columns if str(c).startswith("train_"))
    for axis in AXES:
        name = axis.name
        if not axis.point or name in varying or name == "time_budget_s" or name not in ok:
            continue
        if ok[name].isna().all() and not (name == "steps" and budgets):  # steps is empty under a budget
            continue
        if not trained and name in _TRAINING_AXES:
            continue
        value = ok[name].iloc[0]
        if name == "steps" and budgets:  # budgeted cases train to a wall-clock budget, not a step count
            if "time_budget_s" not in varying:
                fixed.append(" / ".join(f"{_num(b)} s" for b in budgets) + " training budget")
        elif name == "steps" and "flops_budget" in ok and ok["flops_budget"].notna().any():
            continue  # a FLOPs budget gives each model its own steps: the flops_budget axis says the budget
        elif name == "steps":
            fixed.append(f"{_num(value)} training steps")
        elif name == LENGTH_AXIS and _ran_at(ok) is not None and _ran_at(ok) < value:
            fixed.append(f"T={_num(_ran_at(ok))} (series of {_num(_ran_at(ok))} steps; --seq-len {_num(value)} caps them)")
        elif name != "task_options" or axis.text(value) != "default options":
            fixed.append(axis.tag(value))
    cpus = sorted(ok["cpu"].dropna().unique()) if "cpu" in ok else []
    threads = sorted({int(t) for t in ok["threads"].dropna()}) if "threads" in ok else []
    seeds = ok["seed"].nunique() if "seed" in ok else 1
    machine = (f" on {', '.join(cpus)}" if cpus else "") + (
        f" with {', '.join(map(str, threads))} thread(s)" if threads else "")
    swept = f"; swept: {', '.join(BY_NAME[a].column for a in varying)}" if varying else ""
    return Finding("scope", f"These findings cover only this run: {' '.join(fixed)}{swept}{machine},"
                   f" {seeds} seed(s). Other sizes, devices, dtypes and thread counts can rank differently.")
