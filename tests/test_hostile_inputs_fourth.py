"""Hostile inputs of issue 38 (the fourth reliability pass): each one clear line, exit 2 for usage
errors, finished within seconds, nothing lost.

In-process CLI calls (``rnnbench.cli.main``, via ``error_of``) where no process boundary is the
point; real processes where the behaviour is a process's (signals, FIFOs, resource limits).
"""

from __future__ import annotations

import json
import math
import sqlite3
import sys

import pytest

from rnnbench.cli import main
from rnnbench.stats import smallest_possible_p
from rnnbench.store import ResultsStore
from run_helpers import rnnbench, run_sweep
from test_hostile_inputs import TINY, error_of, stored  # noqa: F401 (a fixture)


def db(out):
    return sqlite3.connect(str(out / "rnnbench.db"))


# -- the CI path: pooled runs with thousands of samples --------------------------------------------

def test_the_smallest_possible_p_of_thousands_of_samples_is_zero_not_an_overflow():
    assert smallest_possible_p(3, 4) == pytest.approx(2 / 35)
    assert smallest_possible_p(1, 1) == 1.0
    assert smallest_possible_p(5000, 6000) == 0.0  # 2 / C(11000, 5000) underflows; the old comb() overflowed


DECODE = ["-p", "testplugins.tiny", "--models", "tiny@test", "--scenarios", "decode", "--hidden", "8",
          "--batch-size", "4", "--seq-len", "3", "--threads", "1", "--no-progress", "--min-time", "0.5"]


@pytest.mark.slow
def test_pooled_runs_with_thousands_of_decode_samples_a_side_compare(tmp_path):
    """The recipe of docs/ci.md: two runs a side, pooled; a decode timing holds up to 5000 samples a run."""
    for _ in range(4):
        run_sweep(tmp_path, *DECODE)
    proc = rnnbench("compare", "--out", tmp_path, "latest~3,latest~2", "latest~1,latest", "--format", "json")
    assert proc.returncode in (0, 1) and "internal error" not in proc.stderr, proc.stderr
    [row] = [r for r in json.loads(proc.stdout)["rows"] if r["metric"] == "token_latency_s"]
    counts = [int(text.rsplit("(n=", 1)[1].rstrip(")")) for text in (row["base_text"], row["new_text"])]
    assert math.comb(sum(counts), counts[0]) > sys.float_info.max, counts  # what made 2.0 / comb() overflow


# -- silent wrongs ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two runs of TINY (forward only) in one store: copy it before damaging it."""
    out = tmp_path_factory.mktemp("two_runs")
    return out, [run_sweep(out, *TINY) for _ in range(2)]


@pytest.fixture
def copied(two_runs, tmp_path):
    import shutil

    out, ids = two_runs
    shutil.copy(out / "rnnbench.db", tmp_path / "rnnbench.db")
    return tmp_path, ids


def test_a_new_side_with_null_metrics_is_a_regression_not_a_pass(capsys, copied):
    out, (base, new) = copied
    with db(out) as conn:
        conn.execute("UPDATE metrics SET value = NULL WHERE run_id = ?", (new,))
    assert main(["compare", "--out", str(out), base, new, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    [row] = doc["rows"]
    assert row["verdict"] == "missing" and row["note"].startswith("NEW has no value for "), row


def test_a_new_side_with_deleted_metrics_is_a_regression(capsys, copied):
    out, (base, new) = copied
    with db(out) as conn:
        conn.execute("DELETE FROM metrics WHERE run_id = ?", (new,))
    assert main(["compare", "--out", str(out), base, new, "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["rows"][0]["verdict"] == "missing"


def test_a_compare_of_nothing_fails(capsys, copied):
    out, (base, new) = copied
    with db(out) as conn:
        conn.execute("UPDATE metrics SET value = NULL")
    code, line = error_of(capsys, "compare", "--out", out, base, new)
    assert code == 2 and "no metric with a value on both sides: nothing was compared" in line, line


@pytest.mark.parametrize("value", ["nan", "inf", "Infinity"])
def test_an_accuracy_tolerance_that_is_not_finite_is_refused(capsys, two_runs, value):
    out, (base, new) = two_runs
    code, line = error_of(capsys, "compare", "--out", out, base, new, "--acc-tolerance", value)
    assert code == 2 and line == f"rnnbench: error: --acc-tolerance: must be a finite number, got {value}", line


@pytest.mark.parametrize("flag", ["--metric-tolerance", "--threshold", "--alpha"])
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_the_other_tolerances_refuse_nan_and_inf(capsys, two_runs, flag, value):
    out, (base, new) = two_runs
    code, line = error_of(capsys, "compare", "--out", out, base, new, flag, value)
    assert code == 2 and line.startswith(f"rnnbench: error: {flag}: must be between 0 and 1"), line


def test_a_task_of_one_fixed_length_is_not_evaluated_at_another_as_if_it_were(tmp_path):
    """digits is 64 pixels whatever --eval-seq-len says: length 32 is refused, not the length-64 figure again."""
    run_id = run_sweep(tmp_path, "--models", "gru", "--tasks", "digits", "--seq-len", "64", "--eval-seq-len", "32",
                       "--steps", "2", "--hidden", "8", "--threads", "1", "--min-time", "0.01",
                       "--scenarios", "train", "--no-progress")
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [result] = store.results(run_id)
    assert result.metric("train", "eval_accuracy_len32") is None
    assert result.details["length_extension"]["32"].startswith("refused: the task cannot be built at this length:")
    assert "--seq-len must be 64, got 32" in result.details["length_extension"]["32"]


NAN_ALL = ["-p", "testplugins.nan_outputs", "--models", "nanall@test", "--tasks", "copy", "--hidden", "8",
           "--batch-size", "4", "--seq-len", "3", "--min-time", "0.01", "--threads", "1", "--no-progress"]


@pytest.mark.parametrize("scenario, what", [("forward", "forward"), ("decode", "decode step()")])
def test_nan_outputs_fail_the_case_under_forward_and_decode(tmp_path, scenario, what):
    assert main(["run", *NAN_ALL, "--scenarios", scenario, "--out", str(tmp_path)]) == 1
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [result] = store.results(store.run_ids()[-1])
    assert result.status == "error" and f"the model's {what} outputs hold" in result.error, result.error
    assert not [m for m in result.metrics if m.scenario == scenario and m.unit == "s"]


def test_an_infinite_metric_exports_as_strict_json(capsys, copied):
    out, (_, new) = copied
    with db(out) as conn:
        conn.execute("UPDATE metrics SET value = 9e999 WHERE run_id = ? AND name = 'params'", (new,))
    assert main(["export", "--out", str(out), new]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert [w for w in doc["non_finite"]["where"] if w.endswith(".value = inf")], doc["non_finite"]
    assert "1 NaN or infinite value(s) written as null" in captured.err


# -- hangs and a crash ------------------------------------------------------------------------------

def test_a_model_option_too_big_for_memory_is_refused_before_allocating(tmp_path):
    """mamba.d_state=1e9 is ~180 GiB of parameters: counted on the meta device, refused in seconds."""
    code = main(["run", "--models", "mamba", "--hidden", "8", "--seq-len", "5", "--steps", "2", "--threads", "1",
                 "--min-time", "0.01", "--scenarios", "train", "--no-progress", "--out", str(tmp_path),
                 "--model-opt", "mamba.d_state=1000000000"])
    assert code == 1
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [result] = store.results(store.run_ids()[-1])
        assert store.conn.execute("SELECT status FROM runs").fetchall() == [("finished",)]
    assert result.status == "oom" and "refused before allocating" in result.error, result.error
    assert "GiB of parameters" in result.error and "d_state=1000000000" in result.error


@pytest.mark.parametrize("make", ["/dev/zero", "fifo"])
def test_a_sweep_file_that_is_not_a_regular_file_is_refused_at_once(tmp_path, make):
    import os

    path = make
    if make == "fifo":
        path = tmp_path / "f"
        os.mkfifo(path)
    proc = rnnbench("run", "--sweep", path, "--out", tmp_path, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"rnnbench: error: --sweep: {path} is not a regular file (a device, pipe or socket);" \
                                  " give a TOML file"


def test_a_sweep_file_over_the_size_cap_is_refused(capsys, tmp_path):
    sweep = tmp_path / "big.toml"
    sweep.write_text("# " + "x" * (1 << 20) + "\n")
    code, line = error_of(capsys, "run", "--sweep", sweep, "--out", tmp_path)
    assert code == 2 and f"--sweep: {sweep} is {sweep.stat().st_size} bytes; a sweep file is at most" in line, line


def test_a_sweep_file_nested_100000_deep_is_a_usage_error(capsys, tmp_path):
    sweep = tmp_path / "deep.toml"
    sweep.write_text("models = " + "[" * 100_000 + "\n")
    code, line = error_of(capsys, "run", "--sweep", sweep, "--out", tmp_path)
    assert code == 2 and line == f"rnnbench: error: {sweep}: not valid TOML: arrays or tables nested too deep", line


@pytest.mark.parametrize("command", [["run", "--models", "lstm"], ["study", "run", "rnn-claims"]])
def test_a_hundred_thousand_threads_are_refused(capsys, tmp_path, command):
    code, line = error_of(capsys, *command, "--threads", "100000", "--out", tmp_path)
    assert code == 2 and line.startswith("rnnbench: error: --threads: at most ") and line.endswith("got 100000"), line
    assert not (tmp_path / "rnnbench.db").exists()


# -- tracebacks: Ctrl-C during the imports, SIGTERM during a JIT compile -----------------------------

#: runs ``python -m rnnbench ARGS`` with SIGINT sent to itself when module MODULE is first imported
#: (an import hook, not a timer: the signal lands inside the imports whatever the load)
IMPORT_INTERRUPT = """
import importlib.abc, os, runpy, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background shell starts us with SIGINT ignored
module = sys.argv[1]
class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == module:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
sys.argv = ["rnnbench", *sys.argv[2:]]
runpy.run_module("rnnbench", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize("command, module", [("run", "numpy"), ("run", "rnnbench.commands.run"),
                                             ("run", "rnnbench.run_service"), ("run", "torch"), ("compare", "numpy"),
                                             ("compare", "rnnbench.commands.compare"), ("compare", "scipy.stats")])
def test_a_ctrl_c_during_the_imports_is_one_line_and_exit_130(tmp_path, two_runs, command, module):
    import subprocess

    from conftest import cli_env

    out = tmp_path
    argv = ["run", "--models", "lstm", *TINY[4:]]
    if command == "compare":
        out, argv = two_runs[0], ["compare", "latest~1", "latest"]
    proc = subprocess.run([sys.executable, "-c", IMPORT_INTERRUPT, module, *argv, "--out", str(out)],
                          env=cli_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "rnnbench: interrupted", proc.stderr
    if command == "run":
        assert not (tmp_path / "rnnbench.db").exists()


def test_the_console_script_import_loads_only_the_standard_library_and_pluggy():
    """The console script runs ``from rnnbench.cli import main`` before ``main()`` can catch a Ctrl-C, so that
    import must stay milliseconds: ``rnnbench/__init__`` loads its public names lazily (numpy, torch, pandas,
    scipy, rich and the commands load inside ``main``)."""
    import subprocess

    from conftest import cli_env

    probe = ("import sys; import rnnbench.cli; "
             "print(','.join(m for m in ('numpy', 'torch', 'pandas', 'scipy', 'rich', 'rnnbench.commands.run')"
             " if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], env=cli_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "", (proc.stdout, proc.stderr)


def test_the_public_names_load_on_first_use_and_are_listed():
    import rnnbench

    assert set(rnnbench.__all__) - {"__version__"} <= set(dir(rnnbench))
    from rnnbench.specs import ModelSpec

    assert rnnbench.ModelSpec is ModelSpec
    with pytest.raises(AttributeError, match="no attribute 'NotAName'"):
        rnnbench.NotAName  # noqa: B018 (the attribute access is the test)


@pytest.mark.slow
def test_a_sigterm_dropped_inside_a_callback_is_delivered_again(tmp_path):
    """As while numba compiles: the interrupt raised in a ``__del__`` is "ignored" by Python; the run must
    still stop (status interrupted, rc 130), not run on with its one interrupt spent."""
    proc = rnnbench("run", "-p", "testplugins.swallower", "--models", "swallow@test", *TINY[4:], "--out", tmp_path,
                    timeout=120)
    assert proc.returncode == 130, proc.stderr
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    with db(tmp_path) as conn:
        assert conn.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
        assert conn.execute("SELECT count(*) FROM cases WHERE status = 'ok'").fetchone() == (0,)


# -- stored contents validated on read ----------------------------------------------------------------

NEWEST = "(SELECT max(run_id) FROM runs)"


@pytest.mark.parametrize("damage, command, message", [
    ("UPDATE runs SET env_json = '{x' WHERE run_id = ?", ["export", "NEW"], "env_json is not JSON"),
    ("UPDATE runs SET env_json = '{x' WHERE run_id = ?", ["compare", "BASE", "NEW"], "env_json is not JSON"),
    ("UPDATE cases SET config_json = '{x' WHERE run_id = ?", ["report", "NEW"], "config_json is not JSON"),
    ("UPDATE metrics SET samples_json = '{x' WHERE run_id = ?", ["compare", "BASE", "NEW"],
     "samples_json is not JSON"),
    ("UPDATE metrics SET samples_json = '[1e999, 0.1]' WHERE run_id = ? AND unit = 's'", ["compare", "BASE", "NEW"],
     "samples_json holds 1 value(s) that are not finite times"),
    ("UPDATE runs SET settings_json = '{x' WHERE run_id = ?", ["report", "NEW"], "settings_json is not JSON"),
    ("UPDATE runs SET settings_json = '{x' WHERE run_id = ?", ["run", "--resume", "NEW"], "settings_json is not JSON"),
    ("UPDATE runs SET env_json = '[]' WHERE run_id = ?", ["export", "NEW"], "env_json is a JSON list, not an object"),
    ("UPDATE metrics SET value = 'abc' WHERE run_id = ? AND name = 'params'", ["export", "NEW"],
     "metric model/params value is 'abc', not a number"),
])
def test_a_damaged_column_names_the_run_and_the_column(capsys, copied, damage, command, message):
    out, (base, new) = copied
    with db(out) as conn:
        conn.execute(damage, (new,))
    argv = [{"BASE": base, "NEW": new}.get(word, word) for word in command]
    code, line = error_of(capsys, *argv, "--out", out)
    assert code == 1 and line.startswith(f"rnnbench: error: damaged results database: run {new}"), line
    assert message in line, line


@pytest.mark.parametrize("damage, message", [
    ("UPDATE metrics SET value = 'abc' WHERE run_id = ? AND name = 'params'", "value is 'abc', not a number"),
    ("UPDATE runs SET created_at = 'abc' WHERE run_id = ?", "created_at is 'abc', not a date"),
    ("UPDATE runs SET env_json = '[]' WHERE run_id = ?", "env_json is a JSON list, not an object"),
])
def test_history_leaves_a_damaged_run_out_with_a_note(capsys, copied, damage, message):
    out, (base, new) = copied
    with db(out) as conn:
        conn.execute(damage, (new,))
    assert main(["history", "--out", str(out), "--metric", "model_params", "--format", "markdown"]) == 0
    captured = capsys.readouterr()
    assert f"rnnbench: note: damaged results database: run {new}" in captured.err and message in captured.err
    assert captured.err.strip().endswith("that run is left out"), captured.err
    assert base in captured.out and new not in captured.out


def _set_calibration(out, run_id, text):
    with db(out) as conn:
        env = conn.execute("SELECT env_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
        start = env.index('"calibration"')
        conn.execute("UPDATE runs SET env_json = ? WHERE run_id = ?",
                     (env[:start] + f'"calibration": {text}, "was": ' + env[start + len('"calibration":'):], run_id))


@pytest.mark.parametrize("calibration, message", [
    ('"garbage"', "calibration is 'garbage', not an object"),
    ('{"start": {"gemm_s": 9e999, "recurrent_s": 0.01}}', "calibration.start.gemm_s is inf, not a positive finite"),
    ('{"start": {"gemm_s": 0, "recurrent_s": 0.01}}', "calibration.start.gemm_s is 0, not a positive finite time"),
    ('{"start": {"gemm_s": -1, "recurrent_s": 0.01}}', "calibration.start.gemm_s is -1, not a positive finite"),
])
def test_an_invalid_calibration_is_said_to_be_invalid(capsys, copied, calibration, message):
    out, (base, new) = copied
    _set_calibration(out, new, calibration)
    code, line = error_of(capsys, "compare", "--out", out, base, new, "--normalise")
    assert code == 2 and line.startswith(f"rnnbench: error: --normalise: calibration: invalid in NEW run {new}: ")
    assert message in line, line
    assert main(["history", "--out", str(out), "--metric", "forward_latency_s", "--normalise"]) == 0
    err = capsys.readouterr().err
    assert f"rnnbench: note: run {new}: " in err and "an invalid calibration; that run is left out" in err, err


def test_an_environment_hook_that_sets_the_calibration_key_does_not_lose_the_run(tmp_path):
    run_id = run_sweep(tmp_path, *TINY, "-p", "testplugins.garbage_calibration")
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        env = store.run_info(run_id).env
        assert len(store.results(run_id)) == 1
    assert env["calibration_replaced"] == "an environment hook set calibration to 'garbage'"
    assert set(env["calibration"]) >= {"start", "end"}


def test_an_export_of_a_hundred_thousand_character_run_id_is_an_unknown_run(capsys, stored):  # noqa: F811 (stored: the imported fixture)
    out, _ = stored
    code, line = error_of(capsys, "export", "x" * 100_000, "--out", out)
    assert code == 2 and line.startswith("rnnbench: error: unknown run id 'xxxx") and "(100000 characters)" in line
    assert len(line) < 400


# -- results that are not results are not ok ----------------------------------------------------------

LSTM_TRAIN = ["--models", "lstm", "--hidden", "8", "--seq-len", "5", "--steps", "20", "--threads", "1",
              "--min-time", "0.01", "--scenarios", "train", "--no-progress"]


def test_a_finite_but_exploded_loss_fails_the_case_as_diverged(tmp_path):
    assert main(["run", *LSTM_TRAIN, "--lr", "1e30", "--out", str(tmp_path)]) == 1
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [result] = store.results(store.run_ids()[-1])
    assert result.status == "error" and result.error.startswith("FloatingPointError: training diverged: the loss"), \
        result.error
    assert "more than 10 x the first step's" in result.error


def test_an_lr_grid_never_chooses_a_diverged_rate(tmp_path):
    run_id = run_sweep(tmp_path, *LSTM_TRAIN, "--lr-grid", "1e6,0.01")
    with ResultsStore(tmp_path / "rnnbench.db", create=False) as store:
        [result] = store.results(run_id)
    assert result.status == "ok" and result.metric("train", "lr_selected").value == 0.01, result.details
    [diverged] = [e for e in result.details["lr_grid"] if e["lr"] == 1e6]
    assert diverged["status"] == "error" and "training diverged" in diverged["error"]


# -- the unclear ones ---------------------------------------------------------------------------------

@pytest.mark.parametrize("table, message", [
    ('models = ["mamba"]\n[model_opt.mamba]\nscan = 5\n',
     "[model_opt.mamba]: model 'mamba@torch' at --hidden 128: scan must be one of chunked, sequential, got '5'"),
    ('models = ["transformer"]\n[model_opt.transformer]\nheads = 3\n',
     "[model_opt.transformer]: model 'transformer@torch' at --hidden 128: heads=3 does not divide --hidden 128"),
    ('tasks = ["copy"]\n[task_opt.copy]\nnum_symbols = 0\n',
     "[task_opt.copy]: task 'copy' at --seq-len 10: num_symbols must be at least 1, got 0"),
])
def test_a_value_the_plugin_refuses_names_the_sweep_file_the_key_and_the_value(capsys, tmp_path, table, message):
    sweep = tmp_path / "s.toml"
    sweep.write_text(table)
    code, line = error_of(capsys, "run", "--sweep", sweep, "--out", tmp_path)
    assert code == 2 and line == f"rnnbench: error: {sweep}: {message}" or message in line and str(sweep) in line, line


def test_a_sweep_file_with_a_byte_order_mark_is_read(capsys, tmp_path):
    sweep = tmp_path / "bom.toml"
    sweep.write_bytes(b"\xef\xbb\xbfmodels = [\"lstm\"]\nscan = 5\n")
    code, line = error_of(capsys, "run", "--sweep", sweep, "--out", tmp_path)
    assert code == 2 and line.startswith(f"rnnbench: error: {sweep}: unknown key 'scan'"), line  # parsed, not 'Invalid'


def test_a_model_option_given_twice_with_two_values_is_refused(capsys, tmp_path):
    code, line = error_of(capsys, "run", "--models", "transformer", "--model-opt", "transformer.heads=2",
                          "--model-opt", "transformer.heads=4", "--out", tmp_path)
    assert code == 2 and line == ("rnnbench: error: --model-opt: transformer.heads is given twice ('2' and '4');"
                                  " give it once"), line


@pytest.mark.parametrize("argv, line", [
    (["--plot", ""], "rnnbench: error: --plot: must not be empty; give a file name such as history.png"),
    (["--task", ""], "rnnbench: error: --task: must not be empty (leave it out for all)"),
    (["--model", " , "], "rnnbench: error: --model: must not be empty (leave it out for all)"),
])
def test_history_refuses_empty_names(capsys, stored, argv, line):  # noqa: F811 (stored: the imported fixture)
    out, _ = stored
    code, got = error_of(capsys, "history", "--out", out, "--metric", "model_params", *argv)
    assert code == 2 and got == line, got


def test_export_to_an_empty_file_name_is_refused(capsys, stored):  # noqa: F811 (stored: the imported fixture)
    out, run_id = stored
    code, line = error_of(capsys, "export", run_id, "-o", "", "--out", out)
    assert code == 2 and line == "rnnbench: error: -o/--output: must not be empty; leave it out to write to standard output"


def test_a_run_with_no_cases_exports_with_a_note(capsys, copied):
    out, (_, new) = copied
    with db(out) as conn:
        conn.execute("DELETE FROM metrics WHERE run_id = ?", (new,))
        conn.execute("DELETE FROM cases WHERE run_id = ?", (new,))
    assert main(["export", new, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["results"] == []
    assert captured.err.startswith(f"rnnbench: note: run {new}") and "has no cases" in captured.err, captured.err


def test_a_study_lock_path_that_is_a_folder_is_named(capsys, tmp_path):
    (tmp_path / ".study-rnn-claims.lock").mkdir()
    code, line = error_of(capsys, "study", "run", "rnn-claims", "--out", tmp_path)
    assert code == 2 and line == (f"rnnbench: error: study 'rnn-claims': cannot open its lock file"
                                  f" {tmp_path / '.study-rnn-claims.lock'}: Is a directory; remove or rename it"), line


def test_match_params_searches_the_widths_a_model_accepts(tmp_path):
    """xlstm with 4 heads takes multiples of 4: it is matched among those, not left at +62%."""
    from rnnbench.analysis.match_params import match_params
    from rnnbench.records import CaseConfig

    def count(config, width):  # lstm: 4h^2-ish; xlstm: only multiples of 4
        if config.model == "xlstm@torch" and width % 4:
            raise ValueError(f"heads=4 does not divide --hidden {width}")
        return 10 * width * width if config.model == "xlstm@torch" else 9 * width * width

    base = dict(task="copy", task_options=(), seq_len=5, batch_size=4, hidden=30, layers=1, device="cpu",
                dtype="float32", seed=0, steps=2, lr=1e-3)
    cases = [CaseConfig(model="lstm@torch", **base), CaseConfig(model="xlstm@torch", **base)]
    matching = match_params(cases, count)
    [choice] = matching.choices
    assert choice.width % 4 == 0 and choice.within_tolerance, choice


# -- the untested faults, with real processes ---------------------------------------------------------

SLEEPY = ["-p", "testplugins.sleepy", "--models", "sleepy@test", "--steps", "3", "--hidden", "8", "--batch-size", "4",
          "--seq-len", "3", "--min-time", "0.01", "--scenarios", "forward", "--threads", "1", "--no-progress"]


def _stored_seeds(out, run_id=None):
    with ResultsStore(out / "rnnbench.db", create=False, readonly=True) as store:
        run_id = run_id or store.run_ids()[-1]
        return run_id, sorted(r.config.seed for r in store.results(run_id) if r.status == "ok")


@pytest.mark.slow
def test_two_resumes_of_one_run_split_its_cases_and_run_each_once(tmp_path):
    import signal
    import subprocess
    import time

    from conftest import cli_env

    argv = [sys.executable, "-m", "rnnbench", "run", "--out", str(tmp_path), *SLEEPY, "--seeds", "0,1,2,3,4,5,6,7"]
    first = subprocess.Popen(argv, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # stop it once it has stored a case: a run half done
        time.sleep(0.2)
        if (tmp_path / "rnnbench.db").exists():
            try:
                if _stored_seeds(tmp_path)[1]:
                    break
            except Exception:  # the run row is not written yet
                pass
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=120)
    run_id, before = _stored_seeds(tmp_path)
    assert 0 < len(before) < 8, before
    resumes = [subprocess.Popen([sys.executable, "-m", "rnnbench", "run", "--out", str(tmp_path), "--resume", run_id],
                                env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    errors = [proc.communicate(timeout=600)[1] for proc in resumes]
    assert [proc.returncode for proc in resumes] == [0, 0], errors
    with db(tmp_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT status FROM runs").fetchall() == [("finished",)]
        counts = conn.execute("SELECT count(*) FROM cases WHERE run_id = ? GROUP BY case_id", (run_id,)).fetchall()
    assert _stored_seeds(tmp_path, run_id)[1] == list(range(8)) and counts == [(1,)] * 8


@pytest.mark.slow
def test_a_disk_that_fills_mid_run_keeps_what_was_stored_and_says_how_to_resume(tmp_path):
    """A 2 MiB tmpfs (root only): the sweep stops with one line, the store stays consistent."""
    import os
    import subprocess

    from conftest import cli_env

    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        proc = subprocess.run([sys.executable, "-m", "rnnbench", "run", "--out", str(disk), *SLEEPY,
                               "--seeds", ",".join(map(str, range(200)))], env=cli_env(), capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "database or disk is full" in proc.stderr or "No space left" in proc.stderr, proc.stderr
        with db(disk) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            [(status,)] = conn.execute("SELECT status FROM runs").fetchall()
            stored = conn.execute("SELECT count(*) FROM cases WHERE status = 'ok'").fetchone()[0]
        assert status == "interrupted" and 0 < stored < 200, (status, stored)
        assert "--resume" in proc.stderr
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
