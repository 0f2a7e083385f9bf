"""uea: aeon's bundled UEA/UCR sets, their official split, the carved validation set, masks and baselines."""

import numpy as np
import pytest

pytest.importorskip("aeon")
pytest.importorskip("sklearn")

from rnnbench.task_api import baseline_entries  # noqa: E402
from rnnbench.tasks import uea  # noqa: E402


@pytest.fixture
def no_knn(monkeypatch):
    """1-NN baselines replaced by a stand-in (DTW over a whole set takes seconds; tested alone below)."""
    monkeypatch.setattr(uea, "nearest_neighbour_accuracy", lambda dataset, max_len, distance: 0.5)


def test_official_split_sizes_and_stratified_validation():
    data = uea.prepare("JapaneseVowels", 1024)
    sizes = {split: len(labels) for split, labels in data.labels.items()}
    assert sizes == {"train": 216, "valid": 54, "test": 370}  # 270 archive training series, 20% carved
    assert data.classes == tuple(str(i) for i in range(1, 10))
    # stratified: every class keeps its share in both parts (30 per class in the archive's train)
    assert set(np.bincount(data.labels["valid"])) == {6} and set(np.bincount(data.labels["train"])) == {24}
    assert data.inputs["train"].shape == (216, 29, 12)  # padded to the longest series of the set (29)
    lengths = np.concatenate(list(data.lengths.values()))
    assert lengths.min() == 7 and lengths.max() == 29  # the archive's 7 to 29 frames


def test_standardised_on_the_training_portion_only():
    data = uea.prepare("BasicMotions", 1024)
    steps = np.concatenate([s.T for s in data.series["train"]])
    assert np.allclose(steps.mean(axis=0), 0, atol=1e-9) and np.allclose(steps.std(axis=0), 1)
    held_out = np.concatenate([s.T for s in data.series["test"]])
    assert not np.allclose(held_out.mean(axis=0), 0, atol=1e-3)  # test statistics were not used


def test_class_read_at_the_last_real_step_and_padding_past_the_end(no_knn):
    task = uea.factory({"dataset": "JapaneseVowels"}, 1024, 0)
    batch = task.batch("test", 0, 64)
    lengths = task.data.lengths["test"][:64]
    assert (batch.mask.sum(axis=1) == 1).all()
    assert (batch.mask.argmax(axis=1) == lengths - 1).all()
    assert (batch.targets[:, 0] == task.data.labels["test"][:64]).all()
    assert (batch.inputs[0, lengths[0]:] == 0).all()  # right-padded
    # 370 test series in 6 batches of 64; the last counts 50 and pads the rest
    assert task.test_batches(64) == 6
    assert task.batch("test", 5, 64).mask.sum() == 370 - 5 * 64
    assert np.array_equal(task.batch("test", 6, 64).inputs, batch.inputs)  # wraps around


def test_cut_to_seq_len():
    task = uea.factory({"dataset": "BasicMotions"}, 50, 0)
    assert task.shape.seq_len == 50 and task.shape.input_size == 6 and task.shape.output_size == 4


def test_contract_on_the_bundled_sets(no_knn, registry):
    from rnnbench.testing import check_task

    for dataset in ("BasicMotions", "GunPoint", "ItalyPowerDemand"):
        report = check_task(registry.tasks["uea"], options={"dataset": dataset}, batch_size=32, batches=4)
        assert any("disjoint" in line for line in report.checked)


def test_train_batches_are_seeded_and_eval_batches_are_not(no_knn):
    a, b = (uea.factory({"dataset": "GunPoint"}, 1024, seed) for seed in (0, 1))
    assert not np.array_equal(a.batch("train", 0, 16).inputs, b.batch("train", 0, 16).inputs)
    assert np.array_equal(a.batch("test", 2, 16).inputs, b.batch("test", 2, 16).inputs)


def test_majority_class_recomputed(no_knn):
    task = uea.factory({"dataset": "GunPoint"}, 1024, 0)
    train, test = task.data.labels["train"], task.data.labels["test"]
    majority = np.bincount(train).argmax()
    assert np.bincount(train).tolist().count(np.bincount(train).max()) == 1
    baselines = baseline_entries(task.baselines())
    assert baselines["accuracy"].value == pytest.approx(np.mean(test == majority))
    assert baselines["accuracy"].kind == "majority class" and not baselines["accuracy"].guessable
    assert baselines["accuracy_1nn_dtw"].kind == "nearest neighbour"


@pytest.mark.slow
def test_one_nn_euclidean_recomputed_with_numpy():
    data = uea.prepare("ItalyPowerDemand", 1024)
    train = data.inputs["train"].reshape(len(data.labels["train"]), -1).astype(np.float64)
    test = data.inputs["test"].reshape(len(data.labels["test"]), -1).astype(np.float64)
    distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=-1)
    predicted = data.labels["train"][distances.argmin(axis=1)]
    expected = float(np.mean(predicted == data.labels["test"]))
    assert uea.nearest_neighbour_accuracy("ItalyPowerDemand", 1024, "euclidean") == pytest.approx(expected, abs=0.002)


@pytest.mark.slow
def test_one_nn_dtw_beats_euclidean_on_basic_motions():
    # the archive's published figures on the full training set: DTW 1.00 / 0.975, Euclidean 0.68;
    # here on the 80% training portion of the standardised series
    dtw = uea.nearest_neighbour_accuracy("BasicMotions", 1024, "dtw")
    euclidean = uea.nearest_neighbour_accuracy("BasicMotions", 1024, "euclidean")
    assert dtw > 0.8 and dtw > euclidean


def test_unknown_dataset_is_one_line():
    with pytest.raises(ValueError, match="aeon bundles JapaneseVowels"):
        uea.check_options({"dataset": "Nope"}, 100)
