"""The tidy in-memory form of results: one pandas row per case (docs/results-schema.md)."""

from __future__ import annotations

import json
from typing import Iterable

import pandas as pd

from rnnbench.records import CaseConfig, CaseResult
from rnnbench.stats import Summary
from rnnbench.sweep_axes import format_value

#: bump when a column changes meaning or disappears (adding columns does not bump it);
#: 2: ``steps`` is empty (was 0) for a case trained to a --time-budget or --flops-budget (issue 39)
FRAME_SCHEMA_VERSION = 2

#: metrics whose "how it was measured" gets its own column beside the value
_METHOD_SUFFIXES = ("_s", "memory_bytes", "state_bytes")


def baseline_kind(result: CaseResult) -> str:
    """How the primary metric's baseline is named: ``"persistence"``; ``"chance"`` for runs stored before kinds."""
    return str(result.baseline_record.baseline_kind or "chance")


def result_row(result: CaseResult, run_id: str = "") -> dict:
    c, ran_on, model, scoring = result.config, result.ran_on, result.model_facts, result.scoring
    baselines = result.baseline_record.baselines
    row: dict = {
        "schema_version": FRAME_SCHEMA_VERSION, "run_id": run_id, "case_id": result.case_id,
        # the model's label: its options set away from their defaults tell two settings apart
        "model": c.model_label, "arch": c.arch, "backend": c.backend,
        "model_options": json.dumps(dict(c.model_options), sort_keys=True), "task": c.task,
        "task_options": json.dumps(c.options, sort_keys=True), "seq_len": c.seq_len,
        # hidden: the --hidden asked for (the sweep's axis); width: what ran (--match-params may differ)
        "batch_size": c.batch_size, "hidden": c.requested_hidden or c.hidden, "width": c.hidden,
        "matched_params": c.matched_params,
        "family": model.family, "layers": c.layers, "device": c.device,
        "dtype": c.dtype, "seed": c.seed, "steps": c.steps,
        # under a budget steps is empty (train_steps_reached says how many ran); under --lr-grid the rate is
        # chosen per case: lr is empty, train_lr_selected holds the choice
        "lr": c.lr, "lr_grid": format_value(c.lr_grid) if c.lr_grid else None,
        "lr_schedule": c.lr_schedule, "time_budget_s": c.time_budget_s,
        "flops_budget": c.flops_budget,
        "status": result.status, "error": result.error,
        "host": ran_on.host, "pid": ran_on.pid, "cpu": ran_on.cpu, "threads": ran_on.threads,
        "duration_s": result.duration_s,
        "total_seq_len": model.total_seq_len,
        "primary_metric": scoring.primary_metric,
        "higher_is_better": scoring.higher_is_better,
        # what the primary metric's baseline is (chance, persistence, majority class, ...)
        "baseline_kind": baseline_kind(result),
        # every baseline of the primary metric, [[name, column], ...]: the first is baseline_kind's
        "baselines": json.dumps([[b.short, b.column] for b in baselines]) if baselines else None,
    }
    notes = result.training_notes
    for key in ("length_extension", "load_change", "gradients_unsupported"):  # the training-dynamics notes, as sentences
        value = getattr(notes, key)
        if value is not None:
            row[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    for m in result.metrics:
        row[m.column] = m.value
        if m.samples and m.name.endswith("_s"):
            summary = Summary.of(m.samples)
            row[f"{m.column}_iqr"] = summary.iqr
            row[f"{m.column}_q1"], row[f"{m.column}_q3"] = summary.q1, summary.q3
            row[f"{m.column}_n"] = summary.n
        if m.name.endswith(_METHOD_SUFFIXES) and m.method:
            row[f"{m.column}_method"] = m.method
    for curve in result.series:  # a curve is one cell: its y values, in x order
        row[curve.column] = json.dumps(curve.y)
    return row


def primary_metrics(frame: pd.DataFrame) -> list[str]:
    """The tasks' primary metrics ('accuracy') that these rows evaluated (``train_eval_<name>``), first seen first.

    One task gives one; a run of tasks with different primary metrics gives several, and each
    reader says what it does then (a plot draws the first, the summary table says "quality").
    """
    if "primary_metric" not in frame:
        return []
    return [str(p) for p in frame["primary_metric"].dropna().unique()
            if f"train_eval_{p}" in frame and frame[f"train_eval_{p}"].notna().any()]


def higher_is_better(rows: pd.DataFrame) -> bool:
    """The direction of these rows' primary metric, as their task declared it (higher when they do not say)."""
    if "higher_is_better" in rows and rows["higher_is_better"].notna().any():
        return bool(rows["higher_is_better"].dropna().iloc[0])
    return True


def primary_metric(frame: pd.DataFrame) -> str | None:
    """The primary metric these rows evaluated (the first, when their tasks name several); None: none was."""
    return next(iter(primary_metrics(frame)), None)


def base_columns() -> list[str]:
    """The columns every row has, metrics aside: the header of a run with no case yet."""
    placeholder = CaseConfig(model="-@-", task="-", task_options=(), seq_len=1, batch_size=1, hidden=1, layers=1,
                             device="cpu", dtype="float32", seed=0, steps=1, lr=1.0)
    return list(result_row(CaseResult(config=placeholder)))


def results_frame(results: Iterable[CaseResult], run_id: str = "") -> pd.DataFrame:
    """One row per case, config columns first, then status and metrics.

    With no case (a run interrupted before its first case finished) it still has the
    columns, so results.csv has its header.
    """
    rows = [result_row(r, run_id) for r in results]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=base_columns())
