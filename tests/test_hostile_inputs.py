"""Hostile inputs of issue 27, item 3: each one clear line (exit 2 for usage errors) or a documented behaviour.

In-process CLI calls (``rnnbench.cli.main``) where no process boundary is the point.
"""

from __future__ import annotations

import json

import pytest

from rnnbench.cli import main
from rnnbench.store import ResultsStore
from run_helpers import run_sweep

TINY = ["-p", "testplugins.tiny", "--models", "tiny@test", "--steps", "6", "--hidden", "8", "--batch-size", "4",
        "--seq-len", "3", "--min-time", "0.01", "--scenarios", "forward", "--threads", "1", "--no-progress"]
NAN = ["-p", "testplugins.nan_outputs", "--models", "nan@test", "--tasks", "copy", "--steps", "3", "--hidden", "8",
       "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01", "--threads", "1", "--no-progress"]


def error_of(capsys, *argv):
    """The exit code and the one line on stderr of ``rnnbench ARGV`` (in this process)."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(lines) == 1, err
    return code, lines[0]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    out = tmp_path_factory.mktemp("stored")
    return out, run_sweep(out, *TINY)


def test_an_empty_resume_is_refused_not_a_new_default_sweep(capsys, stored):
    out, _ = stored
    code, line = error_of(capsys, "run", "--out", out, "--resume", "")
    assert code == 2 and line == "rnnbench: error: --resume: empty run name; give a run id, 'latest' or 'latest~N'"
    with ResultsStore(out / "rnnbench.db", create=False) as store:
        assert len(store.run_ids()) == 1


@pytest.mark.parametrize("command", [["report", "latest~²"], ["run", "--resume", "latest~²"]])
def test_a_superscript_in_latest_is_a_usage_error(capsys, stored, command):
    out, _ = stored
    code, line = error_of(capsys, *command, "--out", out)
    assert code == 2 and "'latest~²' is not 'latest' or 'latest~N'" in line, line


def test_a_time_budget_on_a_resume_of_a_run_by_steps_says_what_the_run_has(capsys, stored):
    out, run_id = stored
    code, line = error_of(capsys, "run", "--out", out, "--resume", run_id, "--time-budget", "0.5")
    assert code == 2, line
    assert "the run being resumed trains with --steps 6" in line and "give one of them" not in line, line


def test_a_seed_above_the_64_bit_range_is_refused(capsys, tmp_path):
    code, line = error_of(capsys, "run", *TINY, "--seeds", str(2**63), "--out", tmp_path)
    assert code == 2 and f"--seeds: must be at most 2^63 - 1 ({2**63 - 1}), got {2**63}" in line, line


@pytest.mark.parametrize("flag", ["--executor", "-p"])
def test_an_empty_name_says_it_is_empty(capsys, tmp_path, flag):
    code, line = error_of(capsys, "run", "--models", "lstm", flag, "", "--out", tmp_path)
    assert code == 2 and line == f"rnnbench: error: {flag}: must not be empty", line


def test_an_empty_string_in_a_sweep_file_says_it_is_empty(capsys, tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('executor = ""\n')
    code, line = error_of(capsys, "run", "--sweep", sweep, "--out", tmp_path)
    assert code == 2 and line == f"rnnbench: error: {sweep}: 'executor' must not be empty"


@pytest.mark.parametrize("table, message", [
    ("[model_opt.tiny]\nnosuch = 3\n", "[model_opt.tiny] 'nosuch': unknown option for model 'tiny'"),
    ("[model_opt.lstm]\nheads = 3\n", "[model_opt.lstm]: not among the models of the sweep"),
    ("[task_opt.copy]\nnum_symbols = 'abc'\n", "[task_opt.copy] 'num_symbols': 'abc' is not a valid int"),
])
def test_sweep_file_option_errors_name_the_file_and_the_key(capsys, tmp_path, table, message):
    sweep = tmp_path / "s.toml"
    sweep.write_text('models = ["tiny@test"]\ntasks = ["copy"]\nplugins = ["testplugins.tiny"]\n' + table)
    code, line = error_of(capsys, "run", "--sweep", sweep, "--out", tmp_path)
    assert code == 2, line
    assert line.startswith(f"rnnbench: error: {sweep}: ") and message in line and "--model-opt" not in line, line


def test_the_same_option_typed_as_a_flag_names_the_flag(capsys, tmp_path):
    code, line = error_of(capsys, "run", *TINY, "--model-opt", "tiny.nosuch=1", "--out", tmp_path)
    assert code == 2 and line.startswith("rnnbench: error: --model-opt tiny.nosuch: unknown option"), line


def test_a_nan_float_model_option_is_refused(capsys, tmp_path):
    code, line = error_of(capsys, "run", *NAN, "--model-opt", "nan.scale=nan", "--out", tmp_path)
    assert code == 2 and line == "rnnbench: error: --model-opt nan.scale: 'nan' is not a finite number", line


def test_nan_model_outputs_are_a_failed_case_with_the_reason(capsys, tmp_path):
    assert main(["run", *NAN, "--out", str(tmp_path)]) == 1
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [result] = store.results(store.run_ids()[-1])
    assert result.status == "error"
    assert "outputs hold" in result.error and "NaN or infinite" in result.error, result.error


def test_history_plot_to_a_name_without_an_image_suffix_is_refused(capsys, stored):
    out, _ = stored
    code, line = error_of(capsys, "history", "--out", out, "--plot", out / "x.txt")
    assert code == 2 and "--plot:" in line and "must end in .png, .svg, .pdf" in line, line


@pytest.mark.parametrize("command", ["compare", "export", "report"])
def test_p_is_loaded_by_the_commands_that_read_runs(capsys, stored, command):
    out, run_id = stored
    operands = [run_id, run_id] if command == "compare" else [run_id]
    code, line = error_of(capsys, command, *operands, "--out", out, "-p", "no_such_plugin_module")
    assert code == 2 and line.startswith("rnnbench: error: -p no_such_plugin_module: cannot import"), line


def test_out_inside_a_run_folder_is_refused(capsys, stored):
    out, run_id = stored
    inner = out / run_id / "more"
    code, line = error_of(capsys, "run", *TINY, "--out", inner)
    assert code == 2 and f"is inside the run folder {out.resolve() / run_id}" in line, line
    assert not inner.exists()


def test_allow_changed_settings_without_resume_warns(capsys, tmp_path):
    assert main(["run", *TINY, "--allow-changed-settings", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "warning: --allow-changed-settings applies to --resume only" in err, err


def test_workers_and_scheduler_with_the_local_executor_warn(capsys, tmp_path):
    assert main(["run", *TINY, "--workers", "2", "--scheduler", "tcp://x:1", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "the local executor runs every case in this process, so --workers and --scheduler are ignored" in err


def test_scheduler_with_the_process_executor_warns(capsys, tmp_path):
    assert main(["run", *TINY, "--executor", "process", "--scheduler", "tcp://x:1", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "the process executor starts its workers on this machine, so --scheduler is ignored" in err, err


def test_an_environment_value_json_cannot_store_is_kept_as_text_with_a_warning(capsys, tmp_path):
    assert main(["run", *TINY, "-p", "testplugins.odd_environment", "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "env['odd'] = {1, 2} cannot be stored as JSON" in err, err
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        run = store.run_info(store.run_ids()[-1])
    assert run.env["odd"] == "{1, 2}" and run.env["ratio"] == "nan"
    json.dumps(run.env, allow_nan=False)


def test_a_reader_under_an_exclusive_lock_says_so_in_one_line_and_reads_nothing_stale(capsys, stored, monkeypatch):
    import subprocess
    import sys

    import rnnbench.store.connection

    out, run_id = stored
    monkeypatch.setattr(rnnbench.store.connection, "READ_BUSY_TIMEOUT_S", 0.2)  # the real one is seconds, not minutes
    holder = subprocess.Popen([sys.executable, "-c", "import sqlite3, sys, time\n"
                               f"c = sqlite3.connect({str(out / 'rnnbench.db')!r}, isolation_level=None)\n"
                               "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
                               "c.execute('UPDATE runs SET command = command'); c.execute('COMMIT')\n"
                               "print('held', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, line = error_of(capsys, "report", run_id, "--out", out)
    finally:
        holder.kill()
        holder.wait()
    assert code == 1 and "is locked by another process" in line, line


def test_a_sweep_too_big_is_refused_before_it_is_planned_with_the_bound_and_the_flag(capsys, tmp_path):
    seeds = ",".join(map(str, range(2000)))
    code, line = error_of(capsys, "run", "--models", "lstm,gru", "--seeds", seeds, "--hidden", "1,2,3", "--out",
                          tmp_path)
    assert code == 2, line
    assert "the sweep has 12,000 cases (2 models x 3 hidden x 2000 seeds), more than --max-cases 10,000" in line
    assert "--max-cases 12000" in line


def test_max_cases_raises_the_bound(capsys, tmp_path):
    code, line = error_of(capsys, "run", *TINY, "--seeds", "0,1,2", "--max-cases", "2", "--out", tmp_path)
    assert code == 2 and "more than --max-cases 2" in line
    assert main(["run", *TINY, "--seeds", "0,1,2", "--max-cases", "3", "--out", str(tmp_path)]) == 0


def test_a_stdout_that_cannot_encode_the_output_gets_replacements_not_an_error(tmp_path, monkeypatch):
    import io
    import sys

    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))  # as PYTHONIOENCODING=ascii
    code = main(["run", *TINY, "--out", str(tmp_path)])
    sys.stdout.flush()
    assert code == 0
    assert raw.getvalue().decode("ascii")  # printed, with '?' for what ASCII lacks


def test_a_disk_full_at_the_first_result_leaves_the_run_marked(capsys, tmp_path, monkeypatch):
    import sqlite3

    def full(self, run_id, result):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ResultsStore, "add_result", full)
    code = main(["run", *TINY, "--out", str(tmp_path)])
    line = capsys.readouterr().err.strip().splitlines()[-1]  # after the run's start line and its warning
    assert code == 1 and "could not store the result of tiny@test" in line and "--resume" in line, line
    monkeypatch.undo()
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [status] = [row[0] for row in store.conn.execute("SELECT status FROM runs")]
    assert status == "interrupted"
