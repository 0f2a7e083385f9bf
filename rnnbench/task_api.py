"""The task contract: seeded batches, metrics and the baseline every metric is shown beside."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from rnnbench.model_api import Batch

SPLITS = ("train", "valid", "test")
#: where ``rnnbench run --max-corpus-mb N`` puts its cap on a corpus file's size, in MB (10^6
#: bytes), for tasks that read a file: an environment variable, so worker processes see it too
MAX_CORPUS_ENV = "RNNBENCH_MAX_CORPUS_MB"


@dataclass(frozen=True)
class TaskShape:
    """What a model must accept and produce for a task (see :class:`rnnbench.Batch`)."""

    input_kind: str  # "tokens" | "features"
    input_size: int  # vocabulary size, or feature width
    output_kind: str  # "classes" | "regression"
    output_size: int  # number of classes, or output width
    seq_len: int  # total length T of every batch

    def validate(self) -> None:
        if self.input_kind not in ("tokens", "features"):
            raise ValueError(f"input_kind must be 'tokens' or 'features', got {self.input_kind!r}")
        if self.output_kind not in ("classes", "regression"):
            raise ValueError(f"output_kind must be 'classes' or 'regression', got {self.output_kind!r}")
        for name in ("input_size", "output_size", "seq_len"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive")


class Task(ABC):
    """A task instance, built for one seed, options and sequence length.

    ``batch(split, index, batch_size)`` must be a pure function of the task's seed
    and its arguments, and the splits must never share an example.
    """

    shape: TaskShape
    #: the metric that summarises the task, a key of :meth:`metrics`.
    primary_metric: str = "accuracy"
    #: whether larger values of the primary metric are better.
    higher_is_better: bool = True

    @abstractmethod
    def batch(self, split: str, index: int, batch_size: int) -> Batch:
        """The ``index``-th batch of ``split`` (``"train"``, ``"valid"`` or ``"test"``)."""

    @abstractmethod
    def metrics(self, outputs: np.ndarray, batch: Batch) -> dict[str, float]:
        """Metrics of model outputs ``[B, T, output_size]`` on ``batch``.

        Metrics must be means over the masked positions, so that the runner can
        average them over evaluation batches of equal size.
        """

    @abstractmethod
    def baselines(self) -> dict[str, float]:
        """What guessing gets, keyed like :meth:`metrics` (chance accuracy, a memoryless loss)."""


def masked_accuracy(outputs: np.ndarray, batch: Batch) -> float:
    """Fraction of masked positions whose arg-max class equals the target."""
    predicted = outputs.argmax(axis=-1)
    mask = batch.mask > 0
    return float((predicted[mask] == batch.targets[mask]).mean())


def masked_cross_entropy(outputs: np.ndarray, batch: Batch) -> float:
    """Mean cross-entropy (nats) over masked positions, computed stably in float64."""
    logits = outputs.astype(np.float64)
    logits = logits - logits.max(axis=-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, batch.targets[..., None].astype(np.int64), axis=-1)[..., 0]
    mask = batch.mask > 0
    return float(-picked[mask].mean())


def classification_metrics(outputs: np.ndarray, batch: Batch) -> dict[str, float]:
    """Accuracy and cross-entropy (nats) over the masked positions: the metrics of recall tasks."""
    return {"accuracy": masked_accuracy(outputs, batch), "cross_entropy": masked_cross_entropy(outputs, batch)}
