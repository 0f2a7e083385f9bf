"""The sweep axes: every field of a case (rnnbench.records.CaseConfig) that a sweep can vary, declared once.

Each reader takes what it needs from this one table:

* the findings (rnnbench.analysis.findings) compare models only within a *point*: rows
  equal on every axis with ``point=True`` (seeds are pooled, so ``seed`` is no point axis);
* the plots and crossovers (rnnbench.analysis.axes) draw one line per value of every
  ``series`` axis that varies besides the x, and put a ``plot_x`` axis on x;
* the summary table (rnnbench.render.content) gives a varying axis a column (``column``,
  ``short``) and says a constant one above the table (``constant``);
* --match-params (rnnbench.analysis.match_params) sizes models to one count per value of
  the ``architecture`` axes;
* case labels (CaseConfig.label, ``in_case_label``) and the columns of ``rnnbench
  history`` tag a case with :meth:`Axis.tag`;
* the sweep expansion (rnnbench.request.sweep) multiplies the values of every axis with a
  request ``option`` (``--seeds`` gives ``seed``), the task's default where the request has none.

A new axis is one entry here and its CaseConfig field (and its ``rnnbench run`` option, in
rnnbench.request.options); a new field of CaseConfig that is no axis is named in :data:`NOT_AXES`
with the reason. tests/test_sweep_axes.py fails otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Axis:
    #: the CaseConfig field, and the results-frame column that holds it
    name: str
    #: its name in a sentence and as a summary-table column ("batch")
    column: str
    #: its compact name: the narrow table's column and case labels ("B")
    short: str
    #: on a plot axis, in captions and in crossover sentences ("--seq-len")
    label: str
    #: how a value that every case shares is said above the summary table
    constant: str
    #: models are compared only between cases equal on every point axis
    point: bool
    #: plot lines and crossover groups are told apart by every series axis that varies
    series: bool
    #: a numeric axis a plot may put on x (the first swept one, in the order declared here)
    plot_x: bool = False
    #: a tag prints the value alone ("cpu", "float32") rather than NAME=VALUE
    bare: bool = False
    #: CaseConfig.label names it (when set)
    in_case_label: bool = False
    #: appended to the value in a tag ("budget=0.3s")
    unit: str = ""
    #: it can change a model's parameter count: --match-params matches models within each value
    #: (the training protocol, lr, steps and budget among it, never splits a match)
    architecture: bool = False
    #: the RunRequest field (and option key) whose list of values the sweep multiplies: ``seeds`` for
    #: ``seed``; ``None`` for an axis expanded otherwise (per task, per model, or within a case)
    option: str | None = None
    #: the cases take the task's default (``TaskDefaults.<name>``) when the request gives no value
    task_default: bool = False
    #: request options that replace this axis: while one is given, the axis holds its "none" value
    #: (0 steps: a budgeted case trains until its budget is spent; steps_reached says how many ran)
    replaced_by: tuple[str, ...] = ()

    def text(self, value: Any) -> str:
        """The value as every output prints it: numbers with %g, options as KEY=VALUE,..."""
        if self.name.endswith("_options"):
            options = json.loads(value) if isinstance(value, str) else dict(value or {})
            return ",".join(f"{k}={v}" for k, v in options.items()) or "default options"
        return format_value(value)

    def tag(self, value: Any, compact: bool = False) -> str:
        """``T=64`` (``compact``: the short name), ``batch=8``, ``budget=0.3s``, or a bare value (``cpu``)."""
        text = self.text(value) + (self.unit if value is not None else "")
        return text if self.bare else f"{self.short if compact else self.column}={text}"


def format_value(value: Any) -> str:
    """Numbers with %g (1e-3, 0.3, 64), anything else as str; None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (tuple, list)):  # a grid: 0.001,0.003,0.01
        return ",".join(format_value(item) for item in value) or "-"
    try:
        return f"{float(value):g}" if isinstance(value, float) or hasattr(value, "dtype") else str(value)
    except (TypeError, ValueError):
        return str(value)


#: in the order the summary table lists them (and a plot prefers its x)
AXES: tuple[Axis, ...] = (
    Axis("task", "task", "task", "task", "{}", point=True, series=True, bare=True, in_case_label=True,
         architecture=True),
    Axis("task_options", "task options", "opts", "task options", "options {}", point=True, series=True, bare=True,
         architecture=True),
    Axis("seq_len", "T", "T", "--seq-len", "T={}", point=True, series=True, plot_x=True, in_case_label=True,
         architecture=True, option="seq_len", task_default=True),
    Axis("batch_size", "batch", "B", "batch size", "batch {}", point=True, series=True, plot_x=True,
         in_case_label=True, option="batch_size", task_default=True),
    Axis("hidden", "hidden", "H", "--hidden (width asked for)", "hidden {}", point=True, series=True, plot_x=True,
         in_case_label=True, architecture=True, option="hidden", task_default=True),
    Axis("layers", "layers", "L", "layers", "layers {}", point=True, series=True, plot_x=True, in_case_label=True,
         architecture=True, option="layers", task_default=True),
    Axis("device", "device", "dev", "device", "{}", point=True, series=True, bare=True, option="device"),
    Axis("dtype", "dtype", "dtype", "dtype", "{}", point=True, series=True, bare=True, option="dtype"),
    Axis("seed", "seed", "seed", "seed", "seed {}", point=False, series=False, in_case_label=True, option="seeds"),
    Axis("steps", "steps", "steps", "training steps", "{} steps", point=True, series=True, plot_x=True,
         option="steps", task_default=True, replaced_by=("time_budget", "flops_budget")),
    # no rate given: the model family's default, chosen per model at expansion
    Axis("lr", "lr", "lr", "learning rate", "lr {}", point=True, series=True, plot_x=True, option="lr"),
    Axis("lr_grid", "lr grid", "lrs", "learning-rate grid (--lr-grid)", "learning rate chosen from {} on the"
         " validation split (--lr-grid)", point=True, series=True),
    Axis("lr_schedule", "lr schedule", "sched", "learning-rate schedule", "lr schedule {}", point=True,
         series=True, option="lr_schedule"),
    Axis("time_budget_s", "budget", "budget", "training budget (s of wall clock)",
         "trained for {} s of wall clock (--time-budget)", point=True, series=True, in_case_label=True, unit="s",
         option="time_budget"),
    Axis("flops_budget", "FLOPs budget", "flops", "training budget (FLOPs)",
         "trained for {} FLOPs (--flops-budget)", point=True, series=True, in_case_label=True,
         option="flops_budget"),
    # a model with other options is another line, but still the same model where findings compare models
    Axis("model_options", "model options", "model opts", "model options", "model options {}", point=False,
         series=True, bare=True),
)

#: CaseConfig fields that are no sweep axis, and why
NOT_AXES: Mapping[str, str] = {
    "model": "what the axes compare; every output names it first",
    "requested_hidden": "the --hidden asked for when --match-params chose another width: the hidden axis reads it",
    "matched_params": "the parameter count --match-params sized the case to: an annotation, not a choice",
}

BY_NAME: Mapping[str, Axis] = {axis.name: axis for axis in AXES}
POINT_AXES = tuple(a.name for a in AXES if a.point)
SERIES_AXES = tuple(a.name for a in AXES if a.series)
PLOT_X_AXES = tuple(a.name for a in AXES if a.plot_x)
ARCHITECTURE_AXES = tuple(a.name for a in AXES if a.architecture)


def axis_value(config: Any, name: str) -> Any:
    """The value of axis ``name`` for a CaseConfig: ``hidden`` is the width asked for, as the frame holds it."""
    if name == "hidden":
        return config.requested_hidden or config.hidden
    if name.endswith("_options"):
        return dict(getattr(config, name))
    return getattr(config, name)
