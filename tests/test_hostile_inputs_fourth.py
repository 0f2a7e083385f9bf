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
from test_hostile_inputs import TINY, error_of


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
