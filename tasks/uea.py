"""``uea``: sequence classification on the UEA/UCR time-series archive sets that aeon bundles.

The archive (Dau et al. 2019, "The UCR time series archive"; Bagnall et al. 2018, "The UEA
multivariate time series classification archive") fixes each set's train/test split; aeon
ships a few sets inside its wheel, so they load offline. Every channel is one input feature
per step (no embedding); the class is read at each series' last step.

- **Split:** the archive's test set is the test split. The validation split is carved from
  the archive's training set, stratified by class, with a fixed seed (scikit-learn's
  ``train_test_split``, ``random_state=0``): the same for every run seed, so seeds differ
  only in training.
- **Preprocessing:** each channel is standardised with the mean and standard deviation of
  the training portion (all its steps); series are right-padded with zeros to the longest,
  and only the last real step is counted (the mask), so padding is never read by a causal
  model before its answer.
- **Baselines, computed on the same split and the same standardised inputs:** the majority
  class of the training portion (accuracy on the test set); the training class frequencies
  (cross-entropy); and aeon's 1-nearest-neighbour classifier with Euclidean distance and with
  DTW (full window), fitted on the training portion and scored on the test set.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from rnnbench.tasks._data import class_prior_baselines, covering_batches, finite_batch_ids, missing, require
from rnnbench.tasks._splits import split_rng

import rnnbench
from rnnbench.specs import TaskDefaults
from rnnbench.task_api import Baseline, TaskShape, classification_metrics

#: the sets aeon bundles, by archive name -> aeon's loader
DATASETS = {
    "JapaneseVowels": "load_japanese_vowels",
    "BasicMotions": "load_basic_motions",
    "GunPoint": "load_gunpoint",
    "ItalyPowerDemand": "load_italy_power_demand",
    "ArrowHead": "load_arrow_head",
    "OSULeaf": "load_osuleaf",
}
VALID_FRACTION = 0.2
#: the validation carve is the same for every run seed
CARVE_SEED = 0
PACKAGES = ("aeon", "sklearn")


@dataclass(frozen=True)
class Prepared:
    """One data set, split and standardised: series ``[N, T, C]`` float32, lengths, class ids."""

    inputs: dict[str, np.ndarray]
    lengths: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    classes: tuple[str, ...]
    series: dict[str, list[np.ndarray]]  # each [C, L_i], standardised: what 1-NN reads


def _load(dataset: str):
    loader = getattr(require("aeon.datasets"), DATASETS[dataset])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loader(split="train"), loader(split="test")


@functools.lru_cache(maxsize=8)
def prepare(dataset: str, max_len: int) -> Prepared:
    """Load, split, standardise and pad ``dataset``, series cut to their first ``max_len`` steps."""
    model_selection = require("sklearn.model_selection")
    (x_train, y_train), (x_test, y_test) = _load(dataset)
    as_list = lambda x: [np.asarray(s, dtype=np.float64)[:, :max_len] for s in x]  # noqa: E731
    x_train, x_test = as_list(x_train), as_list(x_test)
    classes = tuple(sorted(set(map(str, y_train)) | set(map(str, y_test))))
    ids = {c: i for i, c in enumerate(classes)}
    y_train = np.array([ids[str(c)] for c in y_train])
    y_test = np.array([ids[str(c)] for c in y_test])
    fit_idx, valid_idx = model_selection.train_test_split(
        np.arange(len(x_train)), test_size=VALID_FRACTION, stratify=y_train, random_state=CARVE_SEED)
    parts = {"train": ([x_train[i] for i in np.sort(fit_idx)], y_train[np.sort(fit_idx)]),
             "valid": ([x_train[i] for i in np.sort(valid_idx)], y_train[np.sort(valid_idx)]),
             "test": (x_test, y_test)}
    steps = np.concatenate([s.T for s in parts["train"][0]])  # every training step, [steps, C]
    mean, std = steps.mean(axis=0), steps.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    T = max(s.shape[1] for x, _ in parts.values() for s in x)
    C = x_train[0].shape[0]
    inputs, lengths, labels, series = {}, {}, {}, {}
    for split, (x, y) in parts.items():
        scaled = [((s.T - mean) / std).T for s in x]
        padded = np.zeros((len(x), T, C), dtype=np.float32)
        for i, s in enumerate(scaled):
            padded[i, :s.shape[1]] = s.T
        inputs[split], lengths[split], labels[split] = padded, np.array([s.shape[1] for s in x]), y
        series[split] = scaled
    return Prepared(inputs, lengths, labels, classes, series)


@functools.lru_cache(maxsize=16)
def nearest_neighbour_accuracy(dataset: str, max_len: int, distance: str) -> float:
    """Test accuracy of aeon's 1-NN classifier (``distance``) fitted on the training portion."""
    prepared = prepare(dataset, max_len)
    knn = require("aeon.classification.distance_based").KNeighborsTimeSeriesClassifier
    train, test = prepared.series["train"], prepared.series["test"]
    equal = len({s.shape[1] for s in train + test}) == 1
    as_input = (lambda x: np.stack(x)) if equal else (lambda x: x)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier = knn(n_neighbors=1, distance=distance).fit(as_input(train), prepared.labels["train"])
        predicted = classifier.predict(as_input(test))
    return float(np.mean(predicted == prepared.labels["test"]))


class UeaTask(rnnbench.Task):
    primary_metric = "accuracy"
    higher_is_better = True

    def __init__(self, dataset: str, max_len: int, seed: int):
        self.dataset, self.max_len, self.seed = dataset, max_len, seed
        self.data = prepare(dataset, max_len)
        _, T, C = self.data.inputs["train"].shape
        self.shape = TaskShape(input_kind="features", input_size=C, output_kind="classes",
                               output_size=len(self.data.classes), seq_len=T)

    def batch(self, split: str, index: int, batch_size: int) -> rnnbench.Batch:
        rng = split_rng(self.seed, split, index)  # validates split and index
        count = len(self.data.labels[split])
        ids, counted = finite_batch_ids(split, index, batch_size, count, rng)
        T = self.shape.seq_len
        inputs = self.data.inputs[split][ids]
        targets = np.repeat(self.data.labels[split][ids][:, None], T, axis=1).astype(np.int64)
        mask = np.zeros((batch_size, T), dtype=np.float32)
        mask[np.arange(batch_size), self.data.lengths[split][ids] - 1] = counted
        return rnnbench.Batch(inputs, targets, mask)

    def test_batches(self, batch_size: int) -> int:
        return covering_batches(len(self.data.labels["test"]), batch_size)

    def metrics(self, outputs: np.ndarray, batch: rnnbench.Batch) -> dict[str, float]:
        return classification_metrics(outputs, batch)

    def baselines(self) -> dict[str, Baseline | list[Baseline]]:
        key = (self.dataset, self.max_len)
        prior = class_prior_baselines(self.data.labels["train"], self.data.labels["test"], len(self.data.classes),
                                      "of the training portion")
        # three baselines of accuracy, all shown: the majority class first (the column studies read as
        # chance), then the two classifiers the UEA archive reports (stored as baseline_accuracy_1nn_*)
        return {
            **prior,
            "accuracy": [
                prior["accuracy"],
                Baseline(nearest_neighbour_accuracy(*key, "euclidean"), "nearest neighbour", "1-NN Euclidean",
                         key="1nn_euclidean"),
                Baseline(nearest_neighbour_accuracy(*key, "dtw"), "nearest neighbour", "1-NN DTW", key="1nn_dtw"),
            ],
        }


def check_options(options: dict, seq_len: int) -> None:
    dataset = options["dataset"]
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; aeon bundles {', '.join(DATASETS)}")
    if seq_len < 1:
        raise ValueError(f"--seq-len (the longest series kept) must be at least 1, got {seq_len}")
    reason = missing(*PACKAGES)
    if reason:
        raise ValueError(reason)


def factory(options: dict, seq_len: int, seed: int) -> UeaTask:
    return UeaTask(dataset=options["dataset"], max_len=seq_len, seed=seed)


@rnnbench.hookimpl
def rnnbench_register_tasks(register):
    register(rnnbench.TaskSpec(
        name="uea", factory=factory, check_options=check_options,
        options={"dataset": "JapaneseVowels"},
        defaults=TaskDefaults(seq_len=1024, batch_size=32, steps=400, lr=3e-3),
        seq_len_meaning="longest series kept (series are cut to their first T steps); the task's length is"
                        " the longest series of the set, up to T",
        description="UEA/UCR time-series classification (aeon's bundled sets: " + ", ".join(DATASETS) + ")",
        source="aeon: UEA/UCR archive, bundled; official train/test split",
        available=lambda: missing(*PACKAGES),
    ))

