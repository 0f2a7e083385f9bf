"""Associative-recall accuracy against decode state bytes: the recall–state frontier (Arora et al. 2023).

    python benchmarks/recall_state_frontier.py --out frontier          # 8 models x 4 widths x 2 pair counts
    python benchmarks/recall_state_frontier.py --out /tmp/f --models mingru --widths 8,16 --pairs 2,4 \
        --seeds 0 --lr-grid 1e-2 --steps 2                                      # smoke

Zoology (Arora et al. 2023) found that how well a model answers multi-query associative
recall is bounded by the size of the state it carries while decoding, and that the bound
bites harder the more key-value pairs there are to recall. This trains every model of
``--models`` at every width of ``--widths`` on ``associative_recall`` (T = 64, 2 layers,
300 steps unless ``--steps``), at each number of key-value pairs of ``--pairs`` (queried as
many times), one ``rnnbench run`` per pair count (``--scenarios train,decode --threads 1``),
on ``--seeds`` (default three) and with ``--lr-grid`` (default the studies' three rates up to
3e-2: every model keeps the rate best on the validation split). It then reads the runs'
results.csv and prints, per model, pair count and width, the held-out accuracy (the task's
primary metric on test batches; median and range over seeds), the rate each seed chose and
the decode state in bytes (counted from the tensors ``step()`` returns, at the run's decode
context; a Transformer's KV cache grows with it). It writes ``recall_state_frontier.png``
(accuracy against state bytes, log scale, a colour per model and a line style per pair count)
and ``recall_state_frontier.csv`` into ``--out``. Accuracy is not a timing: it may be
measured on a busy machine.

Duration on a 2-core CPU at the defaults: several hours (8 models x 4 widths x 2 pair counts
x 3 seeds x 3 rates = 576 trainings of 300 steps; the widest Mamba, DeltaNet, xLSTM and
Transformer cases dominate), about half that with ``--workers 2``; meant for a GPU or a long
night. A stopped run continues with ``--resume RUN`` (one pair count at a time).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

MODELS = "lstm,gru,mingru,hawk,mamba,deltanet,xlstm,transformer"
#: the studies' grid (studies/rnn_claims/sweeps.py, studies/modern_recurrence/claims.py): three rates up to the cap
LR_GRID = "2e-3,8e-3,3e-2"
#: long enough for 3 x 21 pairs and queries; the task's default length
SEQ_LEN = 64


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the run, the table and the figure")
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--widths", default="32,64,128,256")
    parser.add_argument("--pairs", default="4,16",
                        help="key-value pairs to recall (as many queries), one run each; 3 x pairs must fit in"
                             f" T = {SEQ_LEN} (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the task's)")
    parser.add_argument("--seeds", default="0,1,2", help="(default: %(default)s)")
    parser.add_argument("--lr-grid", default=LR_GRID,
                        help="learning rates each model tries, keeping the best on validation (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=1,
                        help="cases at once, each in its own process on one thread (accuracy and state bytes do"
                             " not depend on the load; default: %(default)s)")
    parser.add_argument("--resume", default=None, metavar="RUN",
                        help="continue a stopped run of this benchmark in --out (its id, as rnnbench run printed)")
    return parser.parse_args(argv)


def pair_counts(text: str) -> list[int]:
    try:
        counts = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SystemExit(f"--pairs must be whole numbers separated by commas, got {text!r}") from None
    if not counts or min(counts) < 1 or 3 * max(counts) > SEQ_LEN:
        raise SystemExit(f"--pairs must be between 1 and {SEQ_LEN // 3} (3 x pairs fit in T = {SEQ_LEN}), got {text!r}")
    return counts


def command(args, pairs: int, out: Path) -> list[str]:
    """The ``rnnbench run`` of one pair count."""
    command = [sys.executable, "-m", "rnnbench", "run", "--out", str(out)]
    if args.resume:  # the run's stored flags decide what it runs
        return command + ["--resume", args.resume]
    command += ["--models", args.models, "--tasks", "associative_recall", "--seq-len", str(SEQ_LEN),
                "--hidden", args.widths, "--seeds", args.seeds, "--scenarios", "train,decode", "--threads", "1",
                "--task-opt", f"associative_recall.num_pairs={pairs}",
                "--task-opt", f"associative_recall.num_queries={pairs}"]
    if len(args.lr_grid.split(",")) > 1:
        command += ["--lr-grid", args.lr_grid]
    else:
        command += ["--lr", args.lr_grid]
    if args.steps:
        command += ["--steps", str(args.steps)]
    if args.workers > 1:
        command += ["--executor", "process", "--workers", str(args.workers)]
    return command


def run(args, pairs: int) -> pd.DataFrame:
    """One pair count's run; its results with a ``pairs`` column."""
    out = args.out / f"pairs-{pairs}"
    argv = command(args, pairs, out)
    print("$", " ".join(argv), flush=True)
    proc = subprocess.run(argv)
    if proc.returncode not in (0, 1):  # 1: some case failed; its row says why
        raise SystemExit(f"rnnbench run exited {proc.returncode}")
    runs = sorted(out.glob("*/results.csv"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit(f"no results.csv under {out}")
    return pd.read_csv(runs[-1]).assign(pairs=pairs)


def frontier(results: pd.DataFrame) -> pd.DataFrame:
    """Per model, pair count and width: median (and range of) held-out accuracy over seeds, state bytes, rates."""
    ok = results[results["status"] == "ok"].copy()
    if "train_lr_selected" not in ok:
        ok["train_lr_selected"] = ok.get("lr", float("nan"))
    table = (ok.groupby(["model", "family", "pairs", "hidden"], as_index=False)
             .agg(accuracy=("train_eval_accuracy", "median"), accuracy_min=("train_eval_accuracy", "min"),
                  accuracy_max=("train_eval_accuracy", "max"), state_bytes=("decode_state_bytes", "median"),
                  context=("decode_context_len", "first"), params=("model_params", "first"),
                  seeds=("seed", "nunique"),
                  lr_chosen=("train_lr_selected", lambda v: ",".join(f"{x:g}" for x in v))))
    return table.sort_values(["model", "pairs", "state_bytes"])


def plot(table: pd.DataFrame, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[plot]'): no figure")
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = ("-", "--", ":", "-.")
    pair_counts = sorted(table["pairs"].unique())
    for i, (model, by_model) in enumerate(table.groupby("model")):
        for pairs, rows in by_model.groupby("pairs"):
            ax.plot(rows["state_bytes"], rows["accuracy"], marker="o", color=f"C{i % 10}",
                    linestyle=styles[pair_counts.index(pairs) % len(styles)], label=f"{model}, {pairs} pairs")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("decode state (bytes, from the tensors step() returns)")
    ax.set_ylabel("held-out accuracy (associative recall, median over seeds)")
    ax.set_title("recall–state frontier (Arora et al. 2023)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    counts = pair_counts(args.pairs)
    if args.resume and len(counts) > 1:
        raise SystemExit("--resume continues one run: give the --pairs count of that run alone")
    results = pd.concat([run(args, pairs) for pairs in counts], ignore_index=True)
    table = frontier(results)
    failed = results[results["status"] != "ok"]
    for _, row in failed.iterrows():
        print(f"not ok: {row['model']} hidden={row['hidden']} pairs={row['pairs']}: {row['status']}"
              f" {row.get('error', '')}")
    print("\naccuracy: the task's primary metric on held-out test batches (median, min and max over seeds);"
          " state: decode state bytes at the decode context, counted from step()'s tensors; lr_chosen: per seed,"
          " the rate kept on the validation split")
    print(table.to_string(index=False))
    table.to_csv(args.out / "recall_state_frontier.csv", index=False)
    if plot(table, args.out / "recall_state_frontier.png"):
        print(f"figure: {args.out / 'recall_state_frontier.png'}")
    return 0 if failed.empty else 1


if __name__ == "__main__":
    sys.exit(main())
