"""What a case produces: metrics with their method and raw samples, and a status."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnbench.sweep import CaseConfig

#: statuses of a finished case; everything but "ok" is an error row
STATUSES = ("ok", "error", "timeout", "oom", "crashed", "skipped")


@dataclass
class Metric:
    """One measured number.

    :param scenario: ``"train"``, ``"forward"``, ``"decode"`` or ``"model"`` (static facts).
    :param name: the metric's name with its unit as a suffix (``step_time_s``).
    :param method: how it was measured, shown beside the number.
    :param samples: raw per-repeat samples for timed metrics; ``value`` is their median.
    """

    scenario: str
    name: str
    value: float | None
    unit: str = ""
    method: str = ""
    samples: list[float] | None = None

    @property
    def column(self) -> str:
        return f"{self.scenario}_{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario, "name": self.name, "value": self.value,
            "unit": self.unit, "method": self.method, "samples": self.samples,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Metric":
        return cls(**{k: data.get(k) for k in ("scenario", "name", "value", "unit", "method", "samples")})


@dataclass
class CaseResult:
    """The outcome of one case, successful or not; the unit the store writes."""

    config: CaseConfig
    status: str = "ok"
    error: str = ""
    metrics: list[Metric] = field(default_factory=list)
    #: where it ran: host, pid, CPU model, threads
    worker: dict[str, Any] = field(default_factory=dict)
    #: implementation facts reported by the model (kernel path, TF32 setting, widths)
    details: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    duration_s: float = 0.0

    @property
    def case_id(self) -> str:
        return self.config.case_id

    def metric(self, scenario: str, name: str) -> Metric | None:
        for metric in self.metrics:
            if metric.scenario == scenario and metric.name == name:
                return metric
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(), "status": self.status, "error": self.error,
            "metrics": [m.to_dict() for m in self.metrics], "worker": self.worker,
            "details": self.details, "started_at": self.started_at, "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CaseResult":
        return cls(
            config=CaseConfig.from_dict(data["config"]), status=data["status"], error=data.get("error", ""),
            metrics=[Metric.from_dict(m) for m in data.get("metrics", [])], worker=data.get("worker", {}),
            details=data.get("details", {}), started_at=data.get("started_at", 0.0),
            duration_s=data.get("duration_s", 0.0),
        )


@dataclass
class RunInfo:
    """A run: its id, output folder, environment and the command that started it."""

    run_id: str
    folder: Path
    env: dict[str, Any]
    command: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
