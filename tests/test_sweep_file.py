"""Sweep files: what they mean, how flags override them, and the errors that name the key."""

from pathlib import Path

import pytest

from rnnbench.cli import build_parser
from rnnbench.commands.run import _NOT_REQUEST
from rnnbench.errors import UsageError
from rnnbench.request.options import OPTIONS
from rnnbench.request.run_request import resolve_request
from rnnbench.store import ResultsStore

EXAMPLES = Path(__file__).parent.parent / "examples" / "sweeps"
FAST_FILE = """
models = "tiny@test"
plugins = ["testplugins.tiny"]
seeds = [0, 1]
steps = 6
hidden = 8
batch_size = 4
seq_len = 3
min_time = 0.01
scenarios = "forward"

[task_opt.copy]
num_symbols = 2
"""


def resolved(argv):
    """The typed ``rnnbench run`` request after the sweep file, as the CLI resolves it."""
    args = build_parser().parse_args(argv)
    flags = {k: v for k, v in vars(args).items() if k not in _NOT_REQUEST}
    return resolve_request(flags, sweep=args.sweep)


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_sweep_file_sets_the_flags(tmp_path):
    path = write(tmp_path, FAST_FILE)
    args = resolved(["run", "--sweep", str(path)])
    assert args.models == ["tiny@test"] and args.seeds == [0, 1] and args.hidden == [8] and args.seq_len == [3]
    assert args.plugins == ["testplugins.tiny"] and args.task_opt == {"copy": {"num_symbols": 2}}
    assert args.min_time == 0.01 and args.layers is None  # an unset key keeps the default (the task's)


def test_flags_override_the_file_and_task_options_merge(tmp_path):
    path = write(tmp_path, FAST_FILE)
    args = resolved(["run", "--sweep", str(path), "--seeds", "7", "--hidden", "16",
                     "--task-opt", "copy.num_symbols=3", "--task-opt", "copy.alphabet_size=4", "-p", "testplugins.tiny"])
    assert args.seeds == [7] and args.hidden == [16] and args.models == ["tiny@test"]
    # file first, command line after: the later value of an option wins
    assert args.task_opt == {"copy": {"num_symbols": "3", "alphabet_size": "4"}}
    assert args.plugins == ["testplugins.tiny"]  # loaded once


def test_a_flag_equal_to_its_default_still_overrides_the_file(tmp_path):
    path = write(tmp_path, 'hidden = 64\nlayers = 3\n')
    args = resolved(["run", "--sweep", str(path), "--hidden", "128", "--layers=1"])
    assert args.hidden == [128] and args.layers == [1]


@pytest.mark.parametrize("text,message", [
    ("seq_lens = [8]", "unknown key 'seq_lens'; did you mean 'seq_len'?"),
    ("seq-len = [8]", "unknown key 'seq-len'; did you mean 'seq_len'?"),
    ("colour = 'red'", "unknown key 'colour' (keys: "),
    ("hidden = 'abc'", "'hidden' must be an integer or a list of integers, got 'abc' (a string)"),
    ("hidden = [8, 'x']", "'hidden' must be an integer or a list of integers, got 'x' (a string)"),
    ("seq_len = 0", "'seq_len' must be at least 1, got 0"),
    ("seeds = -1", "'seeds' must be at least 0, got -1"),
    ("layers = true", "'layers' must be an integer or a list of integers, got True (a boolean)"),
    ("hidden = []", "'hidden' is an empty list"),
    ("lr = 'fast'", "'lr' must be a number or a list of numbers, got 'fast' (a string)"),
    ("lr = -0.1", "'lr' must be a positive number, got -0.1"),
    ("timeout = 0", "'timeout' must be positive, got 0"),
    ("workers = 1.5", "'workers' must be an integer, got 1.5 (a number)"),
    ("models = 3", "'models' must be a name or a list of names, got 3 (an integer)"),
    ("executor = ['a', 'b']", "'executor' must be a string, got ['a', 'b'] (a list)"),
    ("no_progress = true", "unknown key 'no_progress'"),
    ("task_opt = 5", "'task_opt' must be a table of tables, like [task_opt.copy], got an integer"),
    ("[task_opt]\ncopy = 5", "'task_opt.copy' must be a table of options, like [task_opt.copy], got an integer"),
    ("[task_opt.copy]\nnum_symbols = [1, 2]", "'task_opt.copy.num_symbols' must be a single value, got a list"),
    ("models = [lstm]", "not valid TOML: "),
    ("hidden = 8\nhidden = 16", "not valid TOML: "),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as info:
        resolved(["run", "--sweep", str(path)])
    assert str(info.value).startswith(str(path)) and message in str(info.value), str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_sweep_file(tmp_path):
    with pytest.raises(UsageError, match="--sweep: no such file: .*nope.toml"):
        resolved(["run", "--sweep", str(tmp_path / "nope.toml")])


def test_every_run_option_is_a_sweep_file_key(tmp_path):
    """An option declared once in OPTIONS is a flag and a file key with the same checks."""
    for option in OPTIONS:
        tables = ("task_opt", "model_opt")  # tables of tables: a bare number is what is wrong for them
        path = write(tmp_path, f"{option.key} = {{ bad = 1 }}\n" if option.key not in tables else f"{option.key} = 5\n")
        with pytest.raises(UsageError, match=f"'{option.key}'"):
            resolved(["run", "--sweep", str(path)])


@pytest.mark.parametrize("name", ["quick.toml", "seq-len-scaling.toml", "context-scaling.toml"])
def test_the_example_sweep_files_expand_to_real_cases(name, registry):
    from rnnbench.request.sweep import expand

    request = resolved(["run", "--sweep", str(EXAMPLES / name)])
    expansion = expand(request, registry)
    assert len(expansion.cases) == len(request.models) * len(request.seq_len) and not expansion.skipped
    registry.resolve_executor(request.executor)


def test_run_with_a_sweep_file_and_an_override(cli, tmp_path):
    path = write(tmp_path, FAST_FILE)
    proc = cli("run", "--sweep", path, "--seeds", "2", "--out", tmp_path / "out", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with ResultsStore(tmp_path / "out" / "rnnbench.db", create=False) as store:
        [run_id] = store.run_ids()
        [result] = store.results(run_id)
        request = store.run_info(run_id).settings["request"]
    assert result.config.seed == 2 and result.config.hidden == 8 and result.config.options["num_symbols"] == 2
    assert request["seeds"] == [2] and request["models"] == ["tiny@test"]  # what resume will repeat


def test_a_bad_sweep_file_through_the_cli(cli, tmp_path):
    path = write(tmp_path, "models = ['lstm']\nseq_lens = [8]\n")
    proc = cli("run", "--sweep", path, "--out", tmp_path / "out")
    assert proc.returncode == 2
    [line] = [l for l in proc.stderr.splitlines() if l.strip()]
    assert line == (f"rnnbench: error: {path}: unknown key 'seq_lens'; did you mean 'seq_len'? (keys: " +
                    line.split("(keys: ")[1])
    assert not (tmp_path / "out").exists()
    debug = cli("run", "--sweep", path, "--out", tmp_path / "out", "--debug")
    assert "Traceback" in debug.stderr and "UsageError" in debug.stderr
