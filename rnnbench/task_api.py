"""The task contract: seeded batches, metrics and the baseline every metric is shown beside."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, Union

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


#: the kinds of baseline a task may declare, each with whether ``rnnbench.testing.check_task``
#: recomputes it by guessing. A kind that ignores the input (chance, a memoryless loss) is what
#: guessing from the training targets' distribution gets, and the check recomputes it. The others
#: are real predictors that a model must beat: they read the input (repeating the last value, the
#: nearest training example) or the exact training set (its majority class, which sampled batches
#: only approximate when classes nearly tie); they are taken as declared, named by their kind, and
#: each task's own tests recompute them. ``"predictor"`` is the open kind: any other rule that reads
#: the input ("answer the current bit"), named by its ``detail``. docs/plugins.md has the table.
BASELINE_KINDS: dict[str, bool] = {
    "chance": True,
    "memoryless": True,
    "unigram": True,
    "majority class": False,
    "persistence": False,
    "seasonal naive": False,
    "nearest neighbour": False,
    "predictor": False,
}
#: the kinds that ignore the input: what guessing gets, recomputed by ``check_task``
GUESSED_KINDS = tuple(kind for kind, guessed in BASELINE_KINDS.items() if guessed)
#: the kinds that read the input or the exact training set: taken as declared
PREDICTOR_KINDS = tuple(kind for kind, guessed in BASELINE_KINDS.items() if not guessed)


@dataclass(frozen=True)
class Baseline:
    """A baseline value with what produced it.

    :param value: its score on the metric of the same key.
    :param kind: one of :data:`BASELINE_KINDS`; the table, the findings and the report
        name it ("against persistence 0.0915"), so a number is never read as chance when it is not.
    :param detail: what exactly, when the kind alone does not say (``"1-NN, DTW"``); required
        for the open kind ``"predictor"``, which is named by it.
    :param key: where a metric has several baselines, the name a further one is stored under
        (``"1nn_dtw"``: the column ``baseline_accuracy_1nn_dtw``); by default made from the
        detail or the kind. The metric's first baseline is stored as ``baseline_<metric>``.
    """

    value: float
    kind: str = "chance"
    detail: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in BASELINE_KINDS:
            raise ValueError(
                f"baseline kind must be one of {', '.join(BASELINE_KINDS)}, got {self.kind!r}: kinds that ignore the"
                f" input ({', '.join(GUESSED_KINDS)}) are recomputed by guessing; for a rule that reads the input,"
                f" use one of {', '.join(PREDICTOR_KINDS)} ('predictor' with a detail saying what it does)")
        if self.kind == "predictor" and not self.detail.strip():
            raise ValueError("a baseline of kind 'predictor' is named by its detail: say what it predicts"
                             " (Baseline(value, 'predictor', 'answers the current bit'))")

    @property
    def guessable(self) -> bool:
        """Whether guessing without the input gets it (and ``check_task`` recomputes it so)."""
        return BASELINE_KINDS[self.kind]

    @property
    def label(self) -> str:
        """How the baseline is named wherever it is shown: ``"nearest neighbour (1-NN, DTW)"``; the open kind
        ``predictor`` by its detail alone."""
        if self.kind == "predictor":
            return self.detail
        return f"{self.kind} ({self.detail})" if self.detail else self.kind

    @property
    def short_label(self) -> str:
        """A compact name for findings and legends: the detail where it names the baseline (``1-NN, DTW``)."""
        if self.kind == "predictor" or (self.kind == "nearest neighbour" and self.detail):
            return self.detail.split(", aeon")[0] if self.kind == "nearest neighbour" else self.detail
        return self.kind


#: what ``Task.baselines()`` maps a metric to: a bare number (chance), a Baseline, or several
BaselineValue = Union[float, Baseline, Sequence[Baseline]]


def baselines_by_metric(baselines: Mapping[str, BaselineValue]) -> dict[str, tuple[Baseline, ...]]:
    """Every metric's baselines, its first (the one the table's baseline column shows) first; a bare number
    is chance."""
    out: dict[str, tuple[Baseline, ...]] = {}
    for metric, value in baselines.items():
        if isinstance(value, Baseline):
            out[metric] = (value,)
        elif isinstance(value, (list, tuple)):
            if not value or not all(isinstance(b, Baseline) for b in value):
                raise TypeError(f"baseline {metric!r}: a list of baselines must hold rnnbench.Baseline objects,"
                                " at least one")
            out[metric] = tuple(value)
        else:
            out[metric] = (Baseline(float(value)),)
    return out


def stored_name(metric: str, baseline: Baseline, first: bool) -> str:
    """The name a baseline is stored under (as ``baseline_<name>``): the metric for its first baseline."""
    if first:
        return metric
    slug = re.sub(r"[^a-z0-9]+", "_", (baseline.key or baseline.detail or baseline.kind).lower()).strip("_")
    return f"{metric}_{slug}"


def baseline_entries(baselines: Mapping[str, BaselineValue]) -> dict[str, Baseline]:
    """``Task.baselines()`` flattened under the names they are stored by (:func:`stored_name`), every value
    a :class:`Baseline`; a bare number is chance."""
    out: dict[str, Baseline] = {}
    for metric, entries in baselines_by_metric(baselines).items():
        for index, baseline in enumerate(entries):
            name = stored_name(metric, baseline, index == 0)
            if name in out:
                raise ValueError(f"two baselines are stored as {name!r}: give the later one a key="
                                 " (rnnbench.Baseline(..., key='...'))")
            out[name] = baseline
    return out


def baseline_values(baselines: Mapping[str, BaselineValue]) -> dict[str, float]:
    """The values of :func:`baseline_entries`, by the names they are stored under."""
    return {name: baseline.value for name, baseline in baseline_entries(baselines).items()}


def bare_numbers(baselines: Mapping[str, BaselineValue]) -> list[str]:
    """The metrics whose baseline is a bare number (read as chance): a plugin written before rnnbench.Baseline."""
    return [metric for metric, value in baselines.items() if isinstance(value, (int, float))]


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
    #: whether the primary metric lies in a fixed range (accuracy in [0, 1]): compare then allows an
    #: absolute change; an unbounded one (MSE, loss, bits per char) a relative one. None: bounded
    #: exactly when higher is better.
    primary_metric_bounded: bool | None = None
    #: the scale and unit of the metrics when they are not self-evident, shown beside the quality column
    #: and in the report (forecast: "standardised with the training split's mean and standard deviation:
    #: mse in units of that standard deviation squared"); empty for accuracies and losses in nats.
    metric_scale: str = ""

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
    def baselines(self) -> dict[str, BaselineValue]:
        """Reference scores keyed like :meth:`metrics` (chance accuracy, a memoryless loss).

        A :class:`Baseline` names its kind, and may read the input (persistence, a nearest-neighbour
        classifier) when it says so by its kind. A list of them gives a metric several baselines, all
        shown (majority class, 1-NN Euclidean, 1-NN DTW); the first is the table's baseline column.
        A bare number is read as chance (what guessing without the input gets), and the run notes it.
        """

    def test_batches(self, batch_size: int) -> int | None:
        """For a task with a finite test set: how many test batches of ``batch_size`` cover it
        once (the last one masked past its end); the runner then scores all of it instead of
        ``--eval-batches`` batches. ``None`` (the default) for generated tasks."""
        return None


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


def masked_mse(outputs: np.ndarray, batch: Batch) -> float:
    """Mean squared error over masked positions (averaged over the output width), in float64."""
    error = (outputs.astype(np.float64) - batch.targets.astype(np.float64)) ** 2
    per_position = error.mean(axis=-1) if error.ndim == 3 else error
    mask = batch.mask > 0
    return float(per_position[mask].mean())


# -- disjoint splits -----------------------------------------------------------------------
# Disjoint train/valid/test splits for generated tasks: each example belongs to one split by
# its hash. An example is drawn at random and kept only if the hash of its input row falls in
# the split's buckets (80% train, 10% valid, 10% test). The hash depends on the example alone,
# never on the seed or the split asked for, so no input sequence can appear in two splits,
# whatever the seeds and batch indices.

#: hash buckets 0..9 of each split: 80 / 10 / 10
SPLIT_BUCKETS = {"train": (0, 1, 2, 3, 4, 5, 6, 7), "valid": (8,), "test": (9,)}


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """Steele, Lea & Flood's splitmix64 finaliser, a good 64-bit mixer (wraps mod 2^64)."""
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_buckets(rows: np.ndarray) -> np.ndarray:
    """Bucket 0..9 of each row of ``rows`` (any dtype, any trailing shape), from its bytes."""
    flat = np.ascontiguousarray(rows).reshape(len(rows), -1)
    raw = flat.view(np.uint8).reshape(len(rows), -1)
    pad = (-raw.shape[1]) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((len(rows), pad), np.uint8)], axis=1)
    words = raw.view("<u8")
    key = np.zeros(len(rows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in words.T:
            key = _splitmix64(key ^ column)
    return (key % np.uint64(10)).astype(np.int64)


def split_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one batch: a pure function of (seed, split, batch index)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    if index < 0:
        raise ValueError(f"batch index must be >= 0, got {index}")
    return np.random.default_rng([seed, SPLITS.index(split), index])


def sample_split(
    split: str,
    rng: np.random.Generator,
    batch_size: int,
    generate: Callable[[np.random.Generator, int], tuple[np.ndarray, ...]],
) -> tuple[np.ndarray, ...]:
    """``batch_size`` examples of ``split`` by rejection sampling.

    ``generate(rng, n)`` draws ``n`` candidate examples as arrays whose first axis is
    the example; the first array is the input that identifies the example. About 1.25
    draws per train example and 10 per valid or test example are needed, so callers
    must make sure the space of examples is not tiny (every split needs members).
    """
    buckets = SPLIT_BUCKETS[split]
    kept: list[tuple[np.ndarray, ...]] = []
    count = 0
    draw = 2 * batch_size if split == "train" else 12 * batch_size
    for _ in range(1000):
        candidate = generate(rng, draw)
        keep = np.isin(row_buckets(candidate[0]), buckets)
        kept.append(tuple(part[keep] for part in candidate))
        count += int(keep.sum())
        if count >= batch_size:
            return tuple(np.concatenate(parts)[:batch_size] for parts in zip(*kept))
    raise RuntimeError(f"could not draw {batch_size} {split} examples: the space of examples is too small")
