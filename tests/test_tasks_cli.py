"""The new tasks from the command line: option errors as one line, and a tiny end-to-end run."""

import pandas as pd
import pytest
from run_helpers import single_stderr_line as one_line_error

TINY = ["--steps", "4", "--hidden", "8", "--batch-size", "4", "--min-time", "0.01", "--no-progress"]


@pytest.mark.parametrize("args,expected", [
    (["--tasks", "lm", "--task-opt", "lm.corpus=/no/such/file.txt"],
     "task 'lm' at --seq-len 128: corpus file '/no/such/file.txt' does not exist"),
    (["--tasks", "selective_copy", "--seq-len", "3"], "cannot hold num_tokens=4 data tokens"),
    (["--tasks", "associative_recall", "--task-opt", "associative_recall.num_pairs=many"],
     "associative_recall.num_pairs: 'many' is not a valid int"),
    (["--tasks", "adding", "--task-opt", "adding.length=5"],
     "adding.length: unknown option for task 'adding' (options: none"),
])
def test_bad_task_options_are_one_clear_line(cli, tmp_path, args, expected):
    proc = cli("run", "--models", "lstm", "--out", tmp_path, *args)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith("rnnbench: error: ") and expected in line, line


def test_non_utf8_corpus_is_refused(cli, tmp_path):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes("Grüße ".encode("latin-1") * 5000)
    proc = cli("run", "--models", "lstm", "--tasks", "lm", "--task-opt", f"lm.corpus={corpus}", "--out", tmp_path)
    assert proc.returncode == 2
    assert "is not UTF-8 text (invalid byte at offset 2)" in one_line_error(proc)


@pytest.mark.slow
def test_every_new_task_runs_end_to_end_with_its_baseline(cli, tmp_path):
    proc = cli("run", "--models", "lstm,transformer", "--tasks", "adding,selective_copy,associative_recall,lm",
               "--seq-len", "16", "--task-opt", "associative_recall.num_pairs=5",
               "--task-opt", "associative_recall.num_queries=5", "--out", tmp_path, *TINY)
    assert proc.returncode == 0, proc.stderr
    [csv] = tmp_path.glob("*/results.csv")
    frame = pd.read_csv(csv)
    assert len(frame) == 8 and (frame["status"] == "ok").all()
    primary = {"adding": "mse", "selective_copy": "accuracy", "associative_recall": "accuracy", "lm": "bits_per_char"}
    for task, metric in primary.items():
        rows = frame[frame["task"] == task]
        assert rows[f"train_eval_{metric}"].notna().all() and rows[f"train_baseline_{metric}"].notna().all()
    assert set(frame.loc[frame["task"] == "associative_recall", "layers"]) == {2}
