"""rnnbench_run_finished runs once the run folder is written: a hook reads results.csv from inside it."""

import contextlib
import io
import json

from rnnbench.cli import main

PLUGINS = ["-p", "testplugins.tiny", "-p", "testplugins.reads_run_folder"]


def _quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)


def _seen(out):
    [seen] = list(out.rglob("seen-by-hook.json"))
    return json.loads(seen.read_text())


def test_run_finished_reads_the_written_run_folder(tmp_path):
    code = _quiet(["run", *PLUGINS, "--models", "tiny@test", "--tasks", "copy", "--seq-len", "4", "--hidden", "8",
                   "--steps", "2", "--batch-size", "4", "--scenarios", "train", "--threads", "1",
                   "--no-progress", "--out", str(tmp_path)])
    assert code == 0
    seen = _seen(tmp_path)
    assert seen["rows"] == seen["results"] == 1
    assert {"results.csv", "env.json", "report.md"} <= set(seen["files"])


def test_run_finished_reads_the_written_run_folder_of_a_study_sweep(tmp_path):
    code = _quiet(["study", "run", "folder-study", *PLUGINS, "--profile", "quick", "--threads", "1",
                   "--no-progress", "--out", str(tmp_path)])
    assert code == 0
    seen = _seen(tmp_path)
    assert seen["rows"] == seen["results"] == 1 and "results.csv" in seen["files"]
