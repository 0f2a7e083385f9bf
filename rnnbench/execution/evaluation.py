"""Held-out evaluation of a trained model, at its training length and at others (--eval-seq-len).

Length generalisation: a model trained on sequences of one length is evaluated on
the same task built at another length (same seed and options, the test split),
one metric per length: ``eval_<key>_len<L>``. ``L`` means what ``--seq-len`` means
for the task (copy's delay, lm's context). A model with a fixed maximum length says
what it does beyond it (:meth:`rnnbench.model_api.Model.length_extension`); the
sentence is recorded in the case's ``TrainingNotes.length_extension``, and a refusal
is recorded there instead of a metric.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from rnnbench.model_api import Model
from rnnbench.records import CaseResult, Metric, TrainingNotes
from rnnbench.task_api import Task, baseline_entries


def evaluate(model: Model, task: Task, batch_size: int, batches: int, weighted: bool = False,
             split: str = "test") -> dict[str, float]:
    """Each metric of the task averaged over ``batches`` batches of ``split`` (metrics are means per batch):
    the test split for what a case reports, the validation split for choosing a rate (--lr-grid).

    ``weighted``: each batch weighs as many as its counted positions, so that a finite test set
    whose last batch is partly masked is averaged per example (:meth:`Task.test_batches`)."""
    totals: dict[str, float] = {}
    weight = 0.0
    for index in range(batches):
        batch = task.batch(split, index, batch_size)
        outputs = model.predict(model.to_device(batch))
        if not np.isfinite(outputs).all():  # else argmax of NaN scores as a (wrong) prediction: accuracy 0
            bad = int(np.size(outputs) - np.isfinite(outputs).sum())
            raise FloatingPointError(f"the model's outputs hold {bad} NaN or infinite value(s) of {np.size(outputs)}"
                                     f" on held-out {split} batch {index}; no metric can be computed from them")
        counted = float((batch.mask > 0).sum()) if weighted else 1.0
        weight += counted
        for key, value in task.metrics(outputs, batch).items():
            totals[key] = totals.get(key, 0.0) + counted * float(value)
    return {key: total / weight for key, total in totals.items()}


def _incompatibility(trained: Task, other: Task) -> str:
    """Why a model trained on ``trained`` cannot read ``other``'s batches, or ``""``."""
    a, b = trained.shape, other.shape
    for name in ("input_kind", "input_size", "output_kind", "output_size"):
        if getattr(a, name) != getattr(b, name):
            return f"the task's {name} changes with the length ({getattr(a, name)} -> {getattr(b, name)})"
    return ""


def evaluate_lengths(model: Model, trained_task: Task, trained_len: int, task_at: Callable[[int], Task],
                     lengths: tuple[int, ...], batch_size: int, batches: int,
                     at_training_length: dict[str, float], result: CaseResult) -> None:
    """Evaluate at every length of ``lengths``; record metrics, baselines that differ, and what the model did."""
    extension: dict[str, str] = {}
    # stored now and filled in place (a record keeps the dict it is given): the lengths before one that raises
    # stay recorded
    TrainingNotes(length_extension=extension).store(result.details)
    trained_baselines = baseline_entries(trained_task.baselines())
    for length in lengths:
        if length == trained_len:
            task, scores, what = trained_task, at_training_length, "the training length"
        else:
            try:
                task = task_at(length)
            except ValueError as exc:
                extension[str(length)] = f"refused: the task cannot be built at this length: {exc}"
                continue
            reason = _incompatibility(trained_task, task)
            if reason:
                extension[str(length)] = f"refused: {reason}"
                continue
            total = task.shape.seq_len
            if total <= model.config.max_seq_len:
                what = f"within the training length ({total} <= {model.config.max_seq_len} positions)"
            else:
                try:
                    what = model.length_extension(total)
                except ValueError as exc:
                    extension[str(length)] = f"refused: {exc}"
                    continue
            whole = task.test_batches(batch_size)
            scores = evaluate(model, task, batch_size, batches if whole is None else whole, weighted=whole is not None)
        extension[str(length)] = what
        how = (f"mean over {batches} held-out test batches of {batch_size} at --seq-len {length}"
               f" ({task.shape.seq_len} positions), trained at {trained_len}")
        for key, value in scores.items():
            result.metrics.append(Metric("train", f"eval_{key}_len{length}", value, "", how))
        for key, baseline in baseline_entries(task.baselines()).items():
            if trained_baselines.get(key) != baseline:
                result.metrics.append(Metric("train", f"baseline_{key}_len{length}", baseline.value, "",
                                             f"{baseline.label} at --seq-len {length}"))
