"""The typed records of a case's ``worker`` and ``details`` (rnnbench.records): what the runner writes is what
the readers read, each round trips, and each reads a dict stored in the format rows held before the records."""

import pytest

from conftest import case
from rnnbench.analysis.frame import result_row
from rnnbench.execution.runner import run_case
from rnnbench.store import ResultsStore
from rnnbench.records import (
    BaselineEntry,
    BaselineRecord,
    ModelFacts,
    RunInfo,
    RunSettings,
    ScoringRecord,
    TrainingNotes,
    WorkerRecord,
)

#: a case's dicts as the runner stored them before the typed records (a row of an older database)
STORED_WORKER = {"host": "h", "pid": 12, "cpu": "Some CPU", "threads": 3, "thread_record": {"chosen": 3},
                 "settings": {"threads": 4}, "load": {"cores": 8}, "timing_check": {"forward": {"ok": True}},
                 "dask_worker": "tcp://1.2.3.4:5"}
STORED_DETAILS = {
    "kernel_path": "cudnn", "family": "recurrent", "total_seq_len": 14, "primary_metric": "accuracy",
    "higher_is_better": True, "primary_metric_bounded": True, "metric_scale": "0 to 1",
    "baseline_kind": "chance", "baselines": [
        {"kind": "chance", "label": "chance (uniform)", "short": "chance", "value": 0.25,
         "column": "baseline_accuracy"},
        {"kind": "majority", "label": "majority class", "short": "majority", "value": 0.4,
         "column": "baseline_accuracy_majority"}],
    "baseline_bare_numbers": ["loss"], "length_extension": {"8": "the training length", "16": "refused: no"},
    "load_change": "steady: the load did not change", "gradients_unsupported": "no states",
    "gradients": {"fit": "least squares"},
}

RECORDS = [
    (WorkerRecord, WorkerRecord(host="h", pid=12, cpu="Some CPU", threads=3, thread_record={"chosen": 3},
                                settings={"threads": 4}, load={"cores": 8}, timing_check={"forward": {"ok": True}})),
    (ModelFacts, ModelFacts(family="recurrent", total_seq_len=14)),
    (ScoringRecord, ScoringRecord("accuracy", True, True, "0 to 1")),
    (BaselineRecord, BaselineRecord("chance", (BaselineEntry("chance", "chance (uniform)", "chance", 0.25,
                                                             "baseline_accuracy"),
                                               BaselineEntry("majority", "majority class", "majority", 0.4,
                                                             "baseline_accuracy_majority")), ["loss"])),
    (TrainingNotes, TrainingNotes({"8": "the training length", "16": "refused: no"},
                                  "steady: the load did not change", "no states", {"fit": "least squares"})),
]


@pytest.mark.parametrize("kind, expected", RECORDS, ids=[kind.__name__ for kind, _ in RECORDS])
def test_a_record_reads_a_row_stored_before_it_and_round_trips(kind, expected):
    stored = STORED_WORKER if kind is WorkerRecord else STORED_DETAILS
    assert kind.from_dict(stored) == expected
    assert kind.from_dict(expected.to_dict()) == expected
    written: dict = {"other": 1}
    expected.store(written)  # beside what others stored, under the keys the old rows used
    assert written == {"other": 1, **{key: stored[key] for key in expected.to_dict()}}


@pytest.mark.parametrize("kind", [kind for kind, _ in RECORDS], ids=[kind.__name__ for kind, _ in RECORDS])
def test_a_row_stored_without_the_facts_reads_them_as_none(kind):
    empty = kind.from_dict({})
    assert empty.to_dict() == {} and all(value is None for value in vars(empty).values())


def test_the_readers_see_what_the_runner_wrote(registry, tmp_path):
    """One real case writes every record; the accessors, the frame and the report's tables read them back."""
    from rnnbench.render.measurements import gradient_table, length_table

    config = case(task_options=(("alphabet_size", 8), ("num_symbols", 4)), seq_len=4, steps=4)
    settings = RunSettings(scenarios=("train", "forward", "gradients"), thread_cap=1, eval_batches=1,
                           train_warmup_steps=1, eval_seq_lens=(4, 6))
    with ResultsStore(tmp_path / "rnnbench.db") as store:  # as stored and read back
        store.create_run(RunInfo("r", tmp_path, {}))
        store.add_result("r", run_case(config, registry, settings))
        [result] = store.results("r")
    assert result.status == "ok", result.error
    ran_on = result.ran_on
    assert ran_on.threads == 1 and ran_on.pid and ran_on.host and ran_on.settings["eval_seq_lens"] == [4, 6]
    assert set(ran_on.timing_check) == {"forward"} and ran_on.load is not None
    assert result.model_facts == ModelFacts(family="recurrent", total_seq_len=result.model_facts.total_seq_len)
    assert result.model_facts.total_seq_len > config.seq_len  # copy: the symbols, the delay and the recall
    assert result.scoring.primary_metric == "accuracy" and result.scoring.higher_is_better is True
    baselines = result.baseline_record
    assert baselines.baseline_kind == baselines.baselines[0].kind
    assert result.metric("train", baselines.baselines[0].column.removeprefix("train_")) is not None
    notes = result.training_notes
    assert set(notes.length_extension) == {"4", "6"} and notes.gradients is not None
    row = result_row(result)
    assert (row["threads"], row["family"], row["primary_metric"]) == (1, "recurrent", "accuracy")
    assert row["baseline_kind"] == baselines.baseline_kind and "length_extension" in row
    assert length_table([result]) is not None and gradient_table([result]) is not None


def test_a_damaged_baseline_list_still_gives_the_baseline_kind():
    """baseline_kind is read for every row (the table's column): a row whose list is damaged keeps it."""
    damaged = BaselineRecord.from_dict({"baseline_kind": "persistence", "baselines": 3})
    assert damaged == BaselineRecord(baseline_kind="persistence")
    mixed = BaselineRecord.from_dict({"baselines": ["x", {"kind": "chance", "value": 0.5}]})
    assert mixed.baselines == (BaselineEntry(kind="chance", value=0.5),)
