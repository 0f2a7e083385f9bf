"""One median and one spread for the same samples, in every output (issue 12).

Samples [1, 2, 3, 4] s: median 2.5 s, quartiles 1.75 and 3.25 (linear interpolation),
so every output says 2.5 s ±750 ms. (Before the redesign the terminal took quartiles
by rounding the index down and printed 2.5 s ±1 s.)
"""

import io
import json

import pytest
from rich.console import Console

from rnnbench.analysis.compare.match import compare_runs
from rnnbench.analysis.frame import results_frame
from rnnbench.analysis.history import load_history
from rnnbench.analysis.sources import load_run_source
from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo, RunSettings
from rnnbench.render.compare import cells, render_json
from rnnbench.render.export import pytest_benchmark_document
from rnnbench.render.history import cell
from rnnbench.render.run_folder import write_report_md
from rnnbench.render.terminal import print_summary
from rnnbench.store import DEFAULT_DB_NAME, ResultsStore

SAMPLES = [1.0, 2.0, 3.0, 4.0]
EXPECTED = "2.5 s ±750 ms"


@pytest.fixture
def stored(tmp_path):
    config = CaseConfig(model="lstm@torch", task="copy", task_options=(), seq_len=3, batch_size=4, hidden=8,
                        layers=1, device="cpu", dtype="float32", seed=0, steps=6, lr=1e-3)
    result = CaseResult(config=config, metrics=[
        Metric("forward", "latency_s", 2.5, "s", "median of 4 samples (3 call(s) each)", list(SAMPLES), 3)])
    run = RunInfo(run_id="r1", folder=tmp_path / "r1", env={"threads": 1, "cpu": "test CPU", "git_commit": "abc"},
                  settings={"run": RunSettings(thread_cap=1).to_dict()}, created_at=1.0)
    with ResultsStore(tmp_path / DEFAULT_DB_NAME) as store:
        store.create_run(run)
        store.add_result(run.run_id, result)
        store.finish_run(run.run_id)
    return tmp_path, run, [result]


def test_every_output_prints_the_same_median_and_spread(stored):
    out, run, results = stored
    # the terminal table
    buffer = io.StringIO()
    print_summary(results, run, Console(file=buffer, width=300))
    assert EXPECTED in buffer.getvalue()
    # report.md
    run.folder.mkdir()
    assert f"| {EXPECTED} |" in write_report_md(results, run, run.folder).read_text()
    # results.csv
    row = results_frame(results, run.run_id).iloc[0]
    assert row["forward_latency_s"] == 2.5 and row["forward_latency_s_iqr"] / 2 == pytest.approx(0.75)
    assert (row["forward_latency_s_q1"], row["forward_latency_s_q3"]) == (1.75, 3.25)
    # compare (a run against itself, read back from the store)
    loaded = load_run_source("r1", out)
    [time_row] = [r for r in compare_runs(loaded, loaded).rows if r.kind == "time"]
    assert cells(time_row)[2:4] == [f"{EXPECTED} (n=4)"] * 2
    assert json.loads(render_json(compare_runs(loaded, loaded)))["rows"][0]["base_text"] == f"{EXPECTED} (n=4)"
    # history
    history = load_history(out / DEFAULT_DB_NAME, "forward_latency_s", [], [])
    assert cell(history.runs[0].points[results[0].case_id], history.unit) == EXPECTED
    # export (pytest-benchmark form): median and quartiles, and the calls each sample averages
    [bench] = pytest_benchmark_document(loaded.run, loaded.results)["benchmarks"]
    stats = bench["stats"]
    assert (stats["median"], stats["q1"], stats["q3"]) == (2.5, 1.75, 3.25)
    assert stats["iterations"] == 3 and "Hyndman & Fan type 7" in bench["extra_info"]["quartiles"]
    assert bench["options"]["min_rounds"] == RunSettings().timer.min_repeats  # the run's own timer settings


def test_the_legend_reads_the_warm_up_steps_from_the_run(stored):
    out, run, results = stored
    # the legend explains only the columns shown: a training step makes the train-step column appear
    results[0].metrics.append(Metric("train", "step_time_s", 2.5, "s", "wall clock", list(SAMPLES)))
    run.settings["run"]["train_warmup_steps"] = 5
    buffer = io.StringIO()
    print_summary(results, run, Console(file=buffer, width=300))
    assert "after 5 warm-up steps" in buffer.getvalue()
    run.settings = RunSettings(train_warmup_steps=7).to_dict()  # stored flat, before settings had a key
    buffer = io.StringIO()
    print_summary(results, run, Console(file=buffer, width=300))
    assert "after 7 warm-up steps" in buffer.getvalue()
    run.settings = {}  # a run stored without its settings: no number is made up
    buffer = io.StringIO()
    print_summary(results, run, Console(file=buffer, width=300))
    assert "after the warm-up steps" in buffer.getvalue()
