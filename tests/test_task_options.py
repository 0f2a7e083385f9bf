"""Every task option is checked before any case runs, with bounds that keep memory and time finite.

Issue 13, item 3: ``copy.num_symbols=0`` became failed rows, ``=99999999999`` hung computing
``alphabet_size ** num_symbols``, ``copy.alphabet_size=100000000`` grew to 23 GB, and
``lm.corpus=/dev/zero`` read without end.
"""

from __future__ import annotations

import os

import pytest

from rnnbench.request.options import RunRequest
from rnnbench.request.sweep import expand
from rnnbench.errors import UsageError
from rnnbench.tasks import lm
from rnnbench.tasks._bounds import MAX_COUNT, MAX_VOCABULARY

FAST = ["--models", "gru", "--steps", "2", "--hidden", "8", "--batch-size", "4", "--min-time", "0.01",
        "--scenarios", "forward", "--no-progress"]


def refused(registry, task: str, seq_len: int, **options) -> str:
    axes = RunRequest(models=["gru"], tasks=[task], seq_len=[seq_len],
                     task_opt={task: {k: str(v) for k, v in options.items()}})
    with pytest.raises(UsageError) as info:
        expand(axes, registry, cuda_probe=lambda: False)
    return str(info.value)


@pytest.mark.parametrize("task,seq_len,options,says", [
    ("copy", 10, {"num_symbols": 0}, "num_symbols must be at least 1, got 0"),
    ("copy", 10, {"num_symbols": -1}, "num_symbols must be at least 1, got -1"),
    ("copy", 10, {"num_symbols": 99999999999}, f"num_symbols=99999999999 is above the bound of {MAX_COUNT}"),
    ("copy", 10, {"alphabet_size": 0}, "alphabet_size must be at least 2, got 0"),
    ("copy", 10, {"alphabet_size": 1}, "alphabet_size must be at least 2, got 1"),
    ("copy", 10, {"alphabet_size": 100000000},
     f"alphabet_size=100000000 is above the bound of {MAX_VOCABULARY} (it sets the embedding"),
    ("copy", 10, {"num_symbols": 1, "alphabet_size": 3}, "are too few to give the"),
    ("selective_copy", 32, {"alphabet_size": 10**9}, f"above the bound of {MAX_VOCABULARY}"),
    ("selective_copy", 2000, {"num_tokens": 2000}, f"num_tokens=2000 is above the bound of {MAX_COUNT}"),
    ("associative_recall", 64, {"num_values": 10**7}, f"num_values=10000000 is above the bound of {MAX_VOCABULARY}"),
    ("associative_recall", 64, {"num_keys": 10**7}, f"num_keys=10000000 is above the bound of {MAX_VOCABULARY}"),
    ("associative_recall", 64, {"num_queries": 0}, "num_queries must be at least 1, got 0"),
])
def test_bad_options_are_refused_before_any_case(registry, task, seq_len, options, says):
    message = refused(registry, task, seq_len, **options)
    # the options were the user's (--task-opt or a sweep file's table): the message names where they came from
    assert says in message and message.startswith(f"--task-opt {task}: task '{task}' at --seq-len {seq_len}: ")


def test_bounds_admit_the_papers_sizes(registry):
    for task, seq_len, options in [("copy", 100, {"num_symbols": 10, "alphabet_size": 8}),
                                   ("copy", 10, {"num_symbols": 3, "alphabet_size": 8}),
                                   ("selective_copy", 4096, {"num_tokens": 16, "alphabet_size": 16}),
                                   ("associative_recall", 256, {"num_pairs": 64, "num_queries": 64,
                                                                "num_keys": 4096, "num_values": 4096})]:
        axes = RunRequest(models=["gru"], tasks=[task], seq_len=[seq_len],
                         task_opt={task: {k: str(v) for k, v in options.items()}})
        assert len(expand(axes, registry, cuda_probe=lambda: False).cases) == 1


@pytest.mark.parametrize("corpus,says", [
    ("/dev/zero", "is not a regular file"),
    ("/dev/urandom", "is not a regular file"),
])
def test_lm_corpus_must_be_a_regular_file(registry, corpus, says):
    assert says in refused(registry, "lm", 16, corpus=corpus)


def test_lm_corpus_from_a_pipe_is_refused(registry, tmp_path):
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)  # opening it for reading would block forever: it must not be opened at all
    assert "is not a regular file" in refused(registry, "lm", 16, corpus=fifo)


def test_lm_corpus_size_cap_and_how_to_raise_it(registry, tmp_path, monkeypatch):
    corpus = tmp_path / "big.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 2000, encoding="utf-8")  # 88 kB
    monkeypatch.setenv(lm.MAX_CORPUS_ENV, "0.05")
    message = refused(registry, "lm", 16, corpus=corpus)
    assert "larger than the cap of 0.05 MB" in message and "--max-corpus-mb" in message
    monkeypatch.setenv(lm.MAX_CORPUS_ENV, "1")
    axes = RunRequest(models=["gru"], tasks=["lm"], seq_len=[16], task_opt={"lm": {"corpus": str(corpus)}})
    assert len(expand(axes, registry, cuda_probe=lambda: False).cases) == 1
    monkeypatch.setenv(lm.MAX_CORPUS_ENV, "lots")
    assert "is not a number of megabytes" in refused(registry, "lm", 16, corpus=corpus)


def test_the_capped_read_stops_at_the_cap(tmp_path, monkeypatch):
    """A file that grows between the size check and the read is still read only up to the cap."""
    corpus = tmp_path / "grows.txt"
    corpus.write_text("x" * 5000, encoding="utf-8")
    with pytest.raises(ValueError, match="larger than the cap of 0.001 MB"):
        lm._read_corpus(str(corpus), 0, 0, 1000)


@pytest.mark.parametrize("option", ["copy.num_symbols=99999999999", "copy.alphabet_size=100000000",
                                    "copy.num_symbols=0"])
def test_through_the_command_one_line_and_nothing_stored(cli, tmp_path, option):
    proc = cli("run", "--tasks", "copy", "--task-opt", option, "--out", tmp_path, *FAST, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnbench: error: --task-opt copy: task 'copy' at --seq-len"), proc.stderr
    assert not (tmp_path / "rnnbench.db").exists()


def test_lm_dev_zero_through_the_command(cli, tmp_path):
    proc = cli("run", "--tasks", "lm", "--task-opt", "lm.corpus=/dev/zero", "--out", tmp_path, *FAST, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "is not a regular file" in proc.stderr and "Traceback" not in proc.stderr
