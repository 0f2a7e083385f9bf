"""Rows from different CPU models (a dask cluster) are never silently one comparison."""

from pathlib import Path

from rnnbench.records import CaseResult, RunInfo
from rnnbench.render.content import cpu_notes
from rnnbench.render.run_folder import write_report_md
from rnnbench.records import CaseConfig


def result(seed: int, cpu: str) -> CaseResult:
    config = CaseConfig(model="gru@torch", task="copy", task_options=(), seq_len=3, batch_size=4, hidden=8,
                        layers=1, device="cpu", dtype="float32", seed=seed, steps=6, lr=1e-3)
    return CaseResult(config=config, worker={"host": f"h{seed}", "pid": 1, "cpu": cpu, "threads": 1})


def run_info(tmp_path: Path, cpu: str = "Client CPU") -> RunInfo:
    return RunInfo(run_id="r1", folder=tmp_path, env={"cpu": cpu, "threads": 1})


def test_mixed_cpu_models_get_a_warning_in_the_report(tmp_path):
    results = [result(0, "CPU A"), result(1, "CPU B"), result(2, "CPU B")]
    report = write_report_md(results, run_info(tmp_path), tmp_path).read_text()
    assert "- Warning: these cases ran on 2 different CPU models (CPU A: 1 case(s); CPU B: 2 case(s))" in report


def test_one_cpu_model_needs_no_warning_but_a_remote_one_is_named(tmp_path):
    assert cpu_notes([result(0, "Client CPU"), result(1, "Client CPU")], run_info(tmp_path)) == []
    [note] = cpu_notes([result(0, "Worker CPU")], run_info(tmp_path))
    assert "ran on Worker CPU, not on the machine that started the run (Client CPU)" in note
