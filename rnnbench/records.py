"""Every value type of rnnbench, and nothing else: the bottom layer.

A case's configuration, how a run measures, the job a worker receives, what a case
produces (metrics and series), a run's identity. These are plain dataclasses that
serialize to dicts; they import no plugin machinery, so every layer can use them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rnnbench.sweep_axes import AXES

#: the devices a case can run on (a model spec names the ones it supports)
DEVICES = ("cpu", "cuda")
#: what a case can do; each scenario adds its own metrics
SCENARIOS = ("train", "forward", "decode", "gradients")
DEFAULT_SCENARIOS = ("train", "forward")

#: field metadata for CaseConfig fields added after the first release: they count in the
#: case id only when set, so the ids of cases stored before them stay what they were
ID_WHEN_SET = {"id_when_set": True}


#: CaseConfig fields that describe how a case was chosen, not the work it does: outside the case id
ANNOTATIONS = ("requested_hidden", "matched_params")


def known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The entries of ``data`` that are fields of the dataclass ``cls``: stored records written by
    another version of rnnbench may carry keys this one does not know."""
    known = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in known}


#: CaseConfig fields that are ``None`` when something else decides them, and the value they held then
#: before schema 3 (and still hold inside the case id, so ids stay what they were): ``steps`` 0 under a
#: budget, ``lr`` 0.0 under a grid
UNSET_IN_ID: dict[str, Any] = {"steps": 0, "lr": 0.0}


def upgrade_unset_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A stored case configuration in today's convention: ``steps`` ``None`` under a budget and ``lr``
    ``None`` under a grid, where configurations written before schema 3 held 0.

    Only a 0 beside the budget or the grid that replaced it is rewritten: elsewhere 0 is a value as
    given. The store's migration to schema 3 rewrites stored rows with it; reading an older store that
    was opened read-only (or an older export) goes through it as well.
    """
    upgraded = dict(data)
    budgeted = data.get("time_budget_s") is not None or data.get("flops_budget") is not None
    if budgeted and data.get("steps") == 0:
        upgraded["steps"] = None
    if data.get("lr_grid") and data.get("lr") == 0:
        upgraded["lr"] = None
    return upgraded


@dataclass(frozen=True)
class CaseConfig:
    """One point of a sweep: everything that defines the work of a case.

    The environment (machine, commit, threads, versions) is deliberately not part
    of it, so that one case can be compared across commits and machines.
    """

    model: str  # canonical ARCH@BACKEND
    task: str
    task_options: tuple[tuple[str, Any], ...]
    seq_len: int
    batch_size: int
    hidden: int
    layers: int
    device: str
    dtype: str
    seed: int
    #: training steps; ``None`` under --time-budget or --flops-budget, where the budget decides how many run
    #: (``train_steps_reached`` says). Rows stored before schema 3 held 0 there (see :data:`UNSET_IN_ID`)
    steps: int | None
    #: Adam's learning rate; ``None`` under --lr-grid, where the grid chooses per case (``train_lr_selected``
    #: says which ran). Rows stored before schema 3 held 0.0 there
    lr: float | None
    #: the --hidden asked for when --match-params chose ``hidden`` (the width that runs);
    #: an annotation, not part of the case's identity (see :attr:`case_id`)
    requested_hidden: int | None = None
    #: the model options set away from their defaults (``--model-opt ARCH.KEY=VALUE``), sorted;
    #: the factory receives them over the spec's defaults. Empty: every option at its default
    model_options: tuple[tuple[str, Any], ...] = field(default=(), metadata=ID_WHEN_SET)
    #: train to this wall-clock budget in seconds instead of ``steps`` steps (--time-budget)
    time_budget_s: float | None = field(default=None, metadata=ID_WHEN_SET)
    #: train for as many steps as this many training FLOPs allow (--flops-budget): the model's
    #: counted FLOPs per training step decide its steps, so models of unequal cost get equal compute
    flops_budget: float | None = field(default=None, metadata=ID_WHEN_SET)
    #: --lr-grid: train at each of these rates and keep the one best on the validation split (the
    #: case's ``lr`` is then ``None``, like ``steps`` under a budget; ``train_lr_selected`` says which ran)
    lr_grid: tuple[float, ...] = field(default=(), metadata=ID_WHEN_SET)
    #: --lr-schedule: ``constant``, or ``warmup-cosine`` (rnnbench.model_api.lr_factor)
    lr_schedule: str = field(default="constant", metadata=ID_WHEN_SET)
    #: the parameter count --match-params sized this case to (the reference model's count at its
    #: point; the reference itself carries its own count); like ``requested_hidden``, an
    #: annotation outside the case's identity. ``None``: not matched
    matched_params: int | None = None

    @property
    def arch(self) -> str:
        return self.model.split("@", 1)[0]

    @property
    def backend(self) -> str:
        return self.model.split("@", 1)[1]

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.task_options)

    @property
    def case_id(self) -> str:
        """A stable id: the hash of the work this case does, independent of run and machine.

        ``hidden`` is the width that ran and the :data:`ANNOTATIONS` (``requested_hidden``,
        ``matched_params``) are left out: a Transformer matched to width 104 is the same case
        as one asked for at ``--hidden 104``, and compares with it. Fields marked :data:`ID_WHEN_SET`
        count only when they differ from their default.
        """
        identity = self.to_dict()
        # the id keeps the spelling it had before None meant "chosen elsewhere": stored runs are compared
        # across versions by case id, so a grid or budget case must hash as it did when it held 0
        for name, old_spelling in UNSET_IN_ID.items():
            if identity[name] is None:
                identity[name] = old_spelling
        for annotation in ANNOTATIONS:
            identity.pop(annotation)
        for f in fields(self):
            if f.metadata.get("id_when_set") and getattr(self, f.name) == f.default:
                identity.pop(f.name)
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["task_options"] = dict(self.task_options)
        data["model_options"] = dict(self.model_options)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CaseConfig":
        values = known_fields(cls, upgrade_unset_fields(data))
        values["task_options"] = tuple(sorted(dict(values.get("task_options") or {}).items()))
        values["model_options"] = tuple(sorted(dict(values.get("model_options") or {}).items()))
        values["lr_grid"] = tuple(float(rate) for rate in values.get("lr_grid") or ())
        return cls(**values)

    @property
    def model_label(self) -> str:
        """``transformer@torch`` or, with options set, ``transformer@torch[heads=4]``."""
        if not self.model_options:
            return self.model
        return f"{self.model}[{','.join(f'{k}={v}' for k, v in self.model_options)}]"

    def label(self) -> str:
        """``lstm@torch copy T=64 B=8 H=32 L=1 seed=0``: the model and the axes marked ``in_case_label``."""
        tags = [axis.tag(getattr(self, axis.name), compact=True) for axis in AXES
                if axis.in_case_label and getattr(self, axis.name) is not None]
        return " ".join([self.model_label, *tags])


@dataclass(frozen=True)
class TimerSettings:
    """How long to time: at least ``min_repeats`` samples and ``min_run_time`` seconds,
    at most ``max_repeats`` samples; each sample lasts at least ``min_block_time``.

    These defaults are the only ones: ``--min-time`` shows and uses ``min_run_time``.
    """

    warmup_calls: int = 2
    min_run_time: float = 0.5
    min_repeats: int = 5
    max_repeats: int = 200
    min_block_time: float = 5e-3


def flat_settings(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested run settings as ``{"timer.min_run_time": 0.5, ...}`` (tuples as lists, as JSON stores them), so
    that settings given now and settings read back from the store compare key by key."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(flat_settings(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def upgrade_thread_cap(settings: dict[str, Any]) -> dict[str, Any]:
    """Run settings stored before schema 3 called the cap ``threads``: the same value under its own name."""
    if "threads" not in settings or "thread_cap" in settings:
        return settings
    upgraded = {k: v for k, v in settings.items() if k != "threads"}
    upgraded["thread_cap"] = settings["threads"]
    return upgraded


@dataclass(frozen=True)
class RunSettings:
    """How every case of a run is measured (not part of a case's identity)."""

    scenarios: tuple[str, ...] = DEFAULT_SCENARIOS
    #: the most threads a case may take: --threads, or every core without it. What a case ran with is its
    #: own record (``CaseResult.ran_on.threads``, ``worker["thread_record"]``), never written back here
    thread_cap: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: no --threads: each case picks its count up to ``thread_cap`` where it runs and follows the load
    #: during training (rnnbench.execution.thread_policy)
    auto_threads: bool = False
    timer: TimerSettings = TimerSettings()
    #: batches of the test split that evaluation averages over
    eval_batches: int = 8
    #: training steps excluded from the step-time samples (allocation, lazy init)
    train_warmup_steps: int = 3
    #: how many points of the loss curve are kept
    loss_curve_points: int = 50
    #: lengths (the task's --seq-len meaning) the trained model is also evaluated at (--eval-seq-len)
    eval_seq_lens: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunSettings":
        data = upgrade_thread_cap(data)
        values = known_fields(cls, data)
        if isinstance(values.get("timer"), dict):
            values["timer"] = TimerSettings(**known_fields(TimerSettings, values["timer"]))
        for name in ("scenarios", "eval_seq_lens"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)


@dataclass(frozen=True)
class CaseJob:
    """A case with everything a worker in another process needs to run it."""

    config: CaseConfig
    settings: RunSettings
    plugin_modules: tuple[str, ...] = ()


@dataclass
class Metric:
    """One measured number.

    :param scenario: ``"train"``, ``"forward"``, ``"decode"`` or ``"model"`` (static facts).
    :param name: the metric's name with its unit as a suffix (``step_time_s``).
    :param method: how it was measured, shown beside the number.
    :param samples: repeated measurements of this number (timings), ``value`` their median;
        ``None`` for a number measured once.
    :param calls_per_sample: how many calls each sample averages (blocked timing).
    """

    scenario: str
    name: str
    value: float | None
    unit: str = ""
    method: str = ""
    samples: list[float] | None = None
    calls_per_sample: int = 1

    @property
    def column(self) -> str:
        return f"{self.scenario}_{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Metric":
        values = known_fields(cls, data)
        values["calls_per_sample"] = int(values.get("calls_per_sample") or 1)
        return cls(**values)


@dataclass
class Series:
    """A curve a case produced: ``y`` against ``x`` (the loss against the training step).

    Not a measurement repeated: each point is its own number, so no median or spread
    is ever taken over it.
    """

    scenario: str
    name: str
    x: list[float]
    y: list[float]
    x_label: str = ""
    unit: str = ""
    method: str = ""

    @property
    def column(self) -> str:
        return f"{self.scenario}_{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Series":
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class RateOutcome:
    """One rate of --lr-grid: its validation score, or why it has none."""

    lr: float
    status: str  # "ok", or the failure's class ("error", "oom")
    score: float | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"lr": self.lr, "status": self.status, "valid": self.score}
        if self.error:
            entry["error"] = self.error
        return entry

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RateOutcome":
        score = data.get("valid")
        return cls(lr=float(data["lr"]), status=str(data.get("status", "")),
                   score=None if score is None else float(score), error=str(data.get("error", "")))


@dataclass(frozen=True)
class LrGridRecord:
    """What --lr-grid recorded in a case's ``details``: each rate's outcome, and the metric that scored them.

    The runner writes it (:meth:`store`) and the report reads it (:meth:`read`): the keys of
    ``details`` are named here alone.
    """

    outcomes: tuple[RateOutcome, ...]
    #: the task's primary metric, on the validation split
    metric: str

    OUTCOMES_KEY = "lr_grid"
    METRIC_KEY = "lr_grid_metric"

    def store(self, details: dict[str, Any]) -> None:
        details[self.OUTCOMES_KEY] = [o.to_dict() for o in self.outcomes]
        details[self.METRIC_KEY] = self.metric

    @classmethod
    def read(cls, details: dict[str, Any]) -> "LrGridRecord | None":
        """The record of a case trained on a grid, or ``None`` (no grid, or it failed before any rate ran)."""
        entries = details.get(cls.OUTCOMES_KEY)
        if not entries:
            return None
        return cls(tuple(RateOutcome.from_dict(e) for e in entries), str(details.get(cls.METRIC_KEY) or "score"))

    def outcome(self, rate: float) -> RateOutcome | None:
        return next((o for o in self.outcomes if o.lr == float(rate)), None)


class StoredFacts:
    """A typed record kept in a case's ``details`` or ``worker`` dict: each field under its own name.

    The writer builds the record and stores it (:meth:`store`); readers take it back with :meth:`from_dict`
    (``CaseResult.scoring`` and the like), so the keys of the stored dict are named by the fields alone.
    Only the fields that are set are stored: records written at different moments of a case share one
    dict, and a row stored without a fact reads it as ``None``. Values are stored as given, not copied.
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        return cls(**known_fields(cls, data if isinstance(data, dict) else {}))

    def store(self, facts: dict[str, Any]) -> None:
        facts.update(self.to_dict())


@dataclass(frozen=True)
class WorkerRecord(StoredFacts):
    """Where and how a case ran (``CaseResult.worker``), as the runner records it."""

    host: str | None = None
    pid: int | None = None
    #: the CPU's model name
    cpu: str | None = None
    #: the thread count the case's timed regions ran on (rnnbench.execution.thread_policy.CaseThreads.chosen)
    threads: int | None = None
    #: how that count was chosen: rnnbench.execution.thread_policy.CaseThreads.facts()
    thread_record: dict[str, Any] | None = None
    #: the run's RunSettings.to_dict(): a resume allowed to change settings mixes them in a run
    settings: dict[str, Any] | None = None
    #: what other processes took from the machine meanwhile (rnnbench.execution.load.LoadDuring.facts())
    load: dict[str, Any] | None = None
    #: by scenario, the TimingCheck.facts() of its timed region
    timing_check: dict[str, Any] | None = None


@dataclass(frozen=True)
class ModelFacts(StoredFacts):
    """What the runner records of the model it built (in ``details``)."""

    #: the model spec's family (recurrent, linear-recurrent, attention...)
    family: str | None = None
    #: the length of the sequences the model saw (the task's, which --seq-len may only cap)
    total_seq_len: int | None = None


@dataclass(frozen=True)
class ScoringRecord(StoredFacts):
    """How the case's quality is read: the task's primary metric and its direction (in ``details``)."""

    primary_metric: str | None = None
    higher_is_better: bool | None = None
    #: ``None`` for rows stored before the task said whether the metric has a fixed range
    primary_metric_bounded: bool | None = None
    #: what the metric's numbers mean, in words, for a task that says so
    metric_scale: str | None = None


@dataclass(frozen=True)
class BaselineEntry:
    """One baseline of the primary metric, as the report's legend and the frame read it."""

    kind: str = ""
    label: str = ""
    short: str = ""
    value: float | None = None
    #: the metric column that holds its value (``baseline_accuracy``)
    column: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BaselineEntry":
        return cls(**known_fields(cls, data))


@dataclass(frozen=True)
class BaselineRecord(StoredFacts):
    """The task's baselines of its primary metric (in ``details``); ``None`` fields for a task with none."""

    #: the first baseline's kind: the table's column header (``chance``, ``persistence``)
    baseline_kind: str | None = None
    baselines: tuple[BaselineEntry, ...] | None = None
    #: a plugin's baselines given as bare numbers, read as chance (said once in the legend)
    baseline_bare_numbers: Any = None

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        if self.baselines is not None:
            data["baselines"] = [b.to_dict() for b in self.baselines]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BaselineRecord":
        record = super().from_dict(data)
        if not isinstance(record.baselines, (list, tuple)):  # none, or a damaged row: no baselines to name
            return replace(record, baselines=None)
        return replace(record, baselines=tuple(BaselineEntry.from_dict(b) for b in record.baselines
                                               if isinstance(b, dict)))


@dataclass(frozen=True)
class TrainingNotes(StoredFacts):
    """Sentences on how training and evaluation went, beside the metrics (in ``details``)."""

    #: --eval-seq-len: {length: what the model did there} (rnnbench.execution.evaluation)
    length_extension: dict[str, str] | None = None
    #: --time-budget: whether other processes' load changed during the budget
    load_change: str | None = None
    #: the gradients scenario on a model that cannot expose its states: why
    gradients_unsupported: str | None = None
    #: the gradients scenario: how its probes were taken (rnnbench.execution.gradients)
    gradients: dict[str, str] | None = None


@dataclass
class CaseResult:
    """The outcome of one case, successful or not; the unit the store writes."""

    config: CaseConfig
    status: str = "ok"
    error: str = ""
    metrics: list[Metric] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    #: where it ran: host, pid, CPU model, threads
    worker: dict[str, Any] = field(default_factory=dict)
    #: implementation facts reported by the model (kernel path, TF32 setting, widths)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    duration_s: float = 0.0

    @property
    def case_id(self) -> str:
        return self.config.case_id

    @property
    def ran_on(self) -> WorkerRecord:
        return WorkerRecord.from_dict(self.worker)

    @property
    def model_facts(self) -> ModelFacts:
        return ModelFacts.from_dict(self.details)

    @property
    def scoring(self) -> ScoringRecord:
        return ScoringRecord.from_dict(self.details)

    @property
    def baseline_record(self) -> BaselineRecord:
        return BaselineRecord.from_dict(self.details)

    @property
    def training_notes(self) -> TrainingNotes:
        return TrainingNotes.from_dict(self.details)

    def metric(self, scenario: str, name: str) -> Metric | None:
        for metric in self.metrics:
            if metric.scenario == scenario and metric.name == name:
                return metric
        return None

    def curve(self, scenario: str, name: str) -> Series | None:
        for series in self.series:
            if series.scenario == scenario and series.name == name:
                return series
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "status": self.status, "error": self.error,
            "metrics": [m.to_dict() for m in self.metrics], "series": [s.to_dict() for s in self.series],
            "worker": self.worker, "details": self.details, "started_at": self.started_at,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CaseResult":
        metrics, series = [], []
        for m in data.get("metrics", []):
            if m.get("name") == "loss_curve":  # exports before series existed kept the curve as samples
                series.append(Series(m["scenario"], "loss_curve", list(range(len(m.get("samples") or []))),
                                     list(m.get("samples") or []), "point", "", m.get("method", "")))
            else:
                metrics.append(Metric.from_dict(m))
        series += [Series.from_dict(s) for s in data.get("series", [])]
        return cls(
            config=CaseConfig.from_dict(data["config"]), status=data["status"], error=data.get("error", ""),
            metrics=metrics, series=series, worker=data.get("worker", {}),
            details=data.get("details", {}), started_at=data.get("started_at", 0.0),
            duration_s=data.get("duration_s", 0.0),
        )


@dataclass
class RunInfo:
    """A run: its id, output folder, environment and the command that started it.

    ``settings`` holds the stored :class:`RunSettings` (under ``"run"``), the
    executor, and the request that ``--resume`` repeats (under ``"request"``).
    """

    run_id: str
    folder: Path
    env: dict[str, Any]
    command: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0

    @property
    def run_settings(self) -> RunSettings | None:
        """The run's measurement settings, or ``None`` for a run stored without them."""
        stored = self.settings.get("run")
        if stored is None and "scenarios" in self.settings:  # runs stored before settings had their own key
            stored = self.settings
        return RunSettings.from_dict(stored) if isinstance(stored, dict) else None


@dataclass(frozen=True)
class RunThreads:
    """The threads a run's cases ran with, as its environment record says (:func:`run_threads`)."""

    #: the distinct counts its cases ran with, fewest first; () where the run did not record them
    counts: tuple[int, ...]
    #: the most any case could take (--threads, or every core with automatic threads); None if unknown
    cap: int | None
    #: False for a run stored before rnnbench recorded what ran, whose threads were chosen per case
    recorded: bool

    def text(self) -> str:
        if self.counts:
            return ",".join(map(str, self.counts))
        if self.cap is None:
            return "unknown"
        return f"<={self.cap} (automatic; the run recorded only its cap)"

    def key(self) -> tuple:
        """What two runs must share to count as measured with the same threads."""
        return ("ran", self.counts) if self.counts else ("cap", self.cap)


def run_threads(env: dict[str, Any]) -> RunThreads:
    """What a run's cases ran with: ``env["threads_ran"]``, written when the run ends.

    Runs stored before it was recorded kept ``env["threads"]``: the count as given with
    --threads, or, with automatic threads, the cap (every core), although each case chose its
    own count. Those fall back to what they recorded: the count as given, or only the cap.
    """
    ran = env.get("threads_ran")
    cap = env.get("thread_cap", env.get("threads"))
    cap = int(cap) if isinstance(cap, (int, float)) else None
    if isinstance(ran, list) and ran:
        return RunThreads(tuple(sorted({int(t) for t in ran})), cap, True)
    # before rnnbench chose threads itself (no "threading" record), or with --threads: the count ran
    automatic = (env.get("threading") or {}).get("automatic")
    if "thread_cap" not in env and automatic is not True and cap is not None:
        return RunThreads((cap,), cap, False)
    return RunThreads((), cap, False)


def machine_line(env: dict[str, Any]) -> str:
    """The machine a run measured on, as its environment record says: CPU, GPU, threads, load, torch.

    Every caption that states where a figure was measured (run reports, study figures) prints this.
    """
    parts = [f"{env.get('cpu') or 'unknown CPU'} ({env.get('cpu_count')} logical CPUs)"]
    if env.get("gpu"):
        parts.append(f"GPU {env['gpu']}")
    parts.append(f"{run_threads(env).text()} thread(s)")
    load = env.get("load_average")
    if load:
        parts.append(f"load average {load[0]:.1f} at the start of the run")
    torch_version = (env.get("versions") or {}).get("torch")
    if torch_version:
        parts.append(f"torch {torch_version}")
    return "; ".join(parts)
