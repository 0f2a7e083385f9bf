"""The terminal summary fits 80, 100 and 120 columns without splitting a word, and shows what varies."""

import io

import pytest
from rich.console import Console

from rnnbench.records import CaseConfig, CaseResult, Metric, RunInfo
from rnnbench.render.fit import Column, fit, rich_table
from rnnbench.render.content import summary_columns
from rnnbench.render.terminal import print_summary


def _case(model="lstm@torch", dtype="float32", status="ok", error="", step=0.0123):
    config = CaseConfig(model=model, task="copy", task_options=(), seq_len=10, batch_size=64, hidden=32, layers=1,
                        device="cpu", dtype=dtype, seed=0, steps=30, lr=0.002)
    result = CaseResult(config, status=status, error=error, details={"primary_metric": "accuracy"},
                        worker={"cpu": "Test CPU", "threads": 2})
    if status == "ok":
        result.metrics = [
            Metric("model", "params", 9060.0, "count"),
            Metric("train", "step_time_s", step, "s", "wall clock", [step * f for f in (0.9, 1.0, 1.1, 1.2)]),
            Metric("forward", "latency_s", step / 5, "s", "blocked", [step / 5] * 2),
            Metric("forward", "tokens_per_s", 259000.0, "tokens/s"),
            Metric("train", "memory_bytes", 4.43 * 2**20, "bytes", "autograd saved-tensor bytes"),
            Metric("train", "eval_accuracy", 0.167), Metric("train", "baseline_accuracy", 0.125),
        ]
    return result


RESULTS = [
    _case("lstm@torch"), _case("gru@torch", step=0.2),
    _case("transformer@torch", status="error",
          error="Traceback (most recent call last):\nFloatingPointError: training diverged: loss is nan at step 1"),
    _case("lstm@numpy", dtype="float64"),
]
RUN = RunInfo("20261126-054704-ff65", folder=None, env={"threads": 2, "cpu": "Test CPU"})


def _render(width: int) -> str:
    out = io.StringIO()
    print_summary(RESULTS, RUN, Console(file=out, width=width, force_terminal=True, color_system=None))
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 100, 120])
def test_no_cell_is_split_at_common_widths(width):
    text = _render(width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines)
    columns, rows, _ = summary_columns(RESULTS)
    fitted = fit(columns, rows, width)
    table_lines = [line for line in lines if line.startswith("│")]
    for row in fitted.rows:
        for column, cell in zip(fitted.columns, row):
            if column.wrap:  # wraps between words only: each word is whole on some line
                assert all(any(word in line for line in table_lines) for word in cell.split()), (cell, text)
            else:
                assert any(cell in line for line in table_lines), (cell, text)
    assert "rnnbench run 20261126-054704-ff65" in text  # the run id is never split
    assert "Findings" in text


def test_narrow_tables_name_what_they_leave_out_and_keep_model_and_status():
    text = _render(80)
    assert "Not shown at 80 columns:" in text and "results.csv" in text
    columns, rows, _ = summary_columns(RESULTS)
    fitted = fit(columns, rows, 80)
    names = [c.name for c in fitted.columns]
    assert names[0] == "model" and names[-1] == "status" and "dtype" in names


def test_every_varying_axis_gets_a_column_and_failed_rows_say_why():
    columns, rows, constant = summary_columns(RESULTS)
    names = [c.name for c in columns]
    assert "dtype" in names and "seq_len" not in names  # dtype varies, T does not
    assert "T=10" in constant and "batch 64" in constant
    dtype = names.index("dtype")
    assert [row[dtype] for row in rows] == ["float32", "float32", "float32", "float64"]
    status = [row[-1] for row in rows]
    assert status[2] == "error: FloatingPointError: training diverged: loss is…"


def test_a_dtype_sweep_tells_its_rows_apart():
    results = [_case(dtype=d) for d in ("float32", "bfloat16")]
    _, rows, _ = summary_columns(results)
    assert rows[0] != rows[1] and {"float32", "bfloat16"} <= {cell for row in rows for cell in row}


def test_two_samples_print_no_spread():
    _, rows, _ = summary_columns(RESULTS[:1])
    assert "2.46 ms (n=2)" in rows[0] and "12.9 ms ±923 µs" in rows[0] and not any("±0" in cell for cell in rows[0])


def test_piped_output_without_columns_is_never_wrapped(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    out = io.StringIO()
    print_summary(RESULTS, RUN, Console(file=out, width=80))  # not a terminal
    text = out.getvalue()
    assert "Not shown" not in text
    assert any(len(line) > 80 for line in text.splitlines())


def test_fit_widths_never_go_below_a_cell():
    columns = [Column("model"), Column("a long header", "a", priority=1), Column("reason", wrap=True)]
    rows = [["transformer@torch", "1.23 ms ±4%", "one two three four five six seven"]]
    fitted = fit(columns, rows, 45)
    out = io.StringIO()
    Console(file=out, width=45).print(rich_table(fitted))
    text = out.getvalue()
    assert "transformer@torch" in text and "1.23 ms ±4%" in text and "seven" in text
    assert fit(columns, rows, 40).left_out == ["a long header"]  # too narrow: the droppable column goes
