"""benchmarks/recall_state_frontier.py: the runs it asks for, the table it reads, and a tiny run end to end."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "recall_state_frontier.py"


def load():
    spec = importlib.util.spec_from_file_location("recall_state_frontier", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_defaults_run_three_seeds_and_the_lr_grid_at_each_pair_count(tmp_path):
    frontier = load()
    args = frontier.parse_args(["--out", str(tmp_path)])
    assert len(args.seeds.split(",")) >= 3 and len(args.lr_grid.split(",")) >= 3
    counts = frontier.pair_counts(args.pairs)
    assert len(counts) >= 2
    argv = frontier.command(args, counts[-1], tmp_path / "p")
    joined = " ".join(argv)
    assert f"--lr-grid {args.lr_grid}" in joined and f"--seeds {args.seeds}" in joined
    assert f"associative_recall.num_pairs={counts[-1]}" in joined and "--scenarios train,decode" in joined


@pytest.mark.parametrize("pairs", ["0", "22", "a,b", ""])
def test_a_pair_count_that_does_not_fit_is_refused_in_one_line(pairs):
    with pytest.raises(SystemExit, match="--pairs must"):
        load().pair_counts(pairs)


def test_the_table_is_per_model_pair_count_and_width_with_the_spread_over_seeds():
    rows = [{"status": "ok", "model": "mingru@torch", "family": "linear-recurrent", "pairs": p, "hidden": h,
             "seed": s, "train_eval_accuracy": acc + 0.01 * s, "decode_state_bytes": 64.0 * h,
             "decode_context_len": 64, "model_params": 10 * h, "train_lr_selected": 8e-3}
            for p, h, acc in ((4, 16, 0.9), (16, 16, 0.3), (16, 64, 0.8)) for s in range(3)]
    table = load().frontier(pd.DataFrame(rows))
    assert len(table) == 3 and set(table["seeds"]) == {3}
    row = table[(table["pairs"] == 16) & (table["hidden"] == 16)].iloc[0]
    assert row["accuracy"] == pytest.approx(0.31) and row["accuracy_min"] == pytest.approx(0.3)
    assert row["accuracy_max"] == pytest.approx(0.32) and row["lr_chosen"] == "0.008,0.008,0.008"


@pytest.mark.slow
def test_a_tiny_frontier_runs_end_to_end(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--models", "mingru", "--widths", "8,16",
                          "--pairs", "2,4", "--seeds", "0,1,2", "--lr-grid", "1e-2,3e-2", "--steps", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    table = pd.read_csv(tmp_path / "recall_state_frontier.csv")
    assert sorted(set(table["pairs"])) == [2, 4] and sorted(set(table["hidden"])) == [8, 16]
    assert set(table["seeds"]) == {3} and (table["state_bytes"] > 0).all()
    assert (tmp_path / "recall_state_frontier.png").exists()
