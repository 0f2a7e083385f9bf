"""Associative-recall accuracy against decode state bytes: the recall–state frontier (Arora et al. 2023).

    python benchmarks/recall_state_frontier.py --out frontier                 # 8 models x widths 32,64,128,256
    python benchmarks/recall_state_frontier.py --out /tmp/f --models mingru,lstm --widths 8,16 --steps 5   # smoke

Zoology (Arora et al. 2023) found that how well a model answers multi-query associative
recall is bounded by the size of the state it carries while decoding. This trains every
model of ``--models`` at every width of ``--widths`` on ``associative_recall`` (the task's
defaults: T = 64, 8 pairs, 2 layers, 300 steps unless ``--steps``), in one ``rnnbench run``
(``--scenarios train,decode --threads 1``; ``--seeds`` for more than one training), then
reads its results.csv and prints, per model and width, the held-out accuracy (the task's
primary metric, on test batches) and the decode state in bytes (counted from the tensors
``step()`` returns, at the run's decode context; a Transformer's KV cache grows with it).
It writes ``recall_state_frontier.png`` (accuracy against state bytes, log scale, one line
per model) and ``recall_state_frontier.csv`` into ``--out``. Accuracy is not a timing: it
may be measured on a busy machine.

Duration on a 2-core CPU at the defaults: about 60-80 minutes serially (32 trainings of 300
steps; the widest Mamba, DeltaNet, xLSTM and Transformer cases dominate), about half that with
``--workers 2``. A stopped run continues with ``--resume RUN``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

MODELS = "lstm,gru,mingru,hawk,mamba,deltanet,xlstm,transformer"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the run, the table and the figure")
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--widths", default="32,64,128,256")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the task's)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--workers", type=int, default=1,
                        help="cases at once, each in its own process on one thread (accuracy and state bytes do"
                             " not depend on the load; default: %(default)s)")
    parser.add_argument("--resume", default=None, metavar="RUN",
                        help="continue a stopped run of this benchmark in --out (its id, as rnnbench run printed)")
    return parser.parse_args(argv)


def run(args) -> Path:
    command = [sys.executable, "-m", "rnnbench", "run", "--out", str(args.out)]
    if args.resume:  # the run's stored flags decide what it runs
        command += ["--resume", args.resume]
    else:
        command += ["--models", args.models, "--tasks", "associative_recall", "--hidden", args.widths,
                    "--seeds", args.seeds, "--scenarios", "train,decode", "--threads", "1"]
        if args.steps:
            command += ["--steps", str(args.steps)]
        if args.workers > 1:
            command += ["--executor", "process", "--workers", str(args.workers)]
    print("$", " ".join(command), flush=True)
    proc = subprocess.run(command)
    if proc.returncode not in (0, 1):  # 1: some case failed; its row says why
        raise SystemExit(f"rnnbench run exited {proc.returncode}")
    runs = sorted(args.out.glob("*/results.csv"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit(f"no results.csv under {args.out}")
    return runs[-1]


def frontier(results: pd.DataFrame) -> pd.DataFrame:
    ok = results[results["status"] == "ok"]
    table = (ok.groupby(["model", "family", "hidden"], as_index=False)
             .agg(accuracy=("train_eval_accuracy", "median"), state_bytes=("decode_state_bytes", "median"),
                  context=("decode_context_len", "first"), params=("model_params", "first"),
                  seeds=("seed", "nunique")))
    return table.sort_values(["model", "state_bytes"])


def plot(table: pd.DataFrame, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[plot]'): no figure")
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for model, rows in table.groupby("model"):
        ax.plot(rows["state_bytes"], rows["accuracy"], marker="o", label=model)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("decode state (bytes, from the tensors step() returns)")
    ax.set_ylabel("held-out accuracy (associative recall)")
    ax.set_title("recall–state frontier (Arora et al. 2023)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = pd.read_csv(run(args))
    table = frontier(results)
    failed = results[results["status"] != "ok"]
    for _, row in failed.iterrows():
        print(f"not ok: {row['model']} hidden={row['hidden']}: {row['status']} {row.get('error', '')}")
    print("\naccuracy: the task's primary metric on held-out test batches (median over seeds);"
          " state: decode state bytes at the decode context, counted from step()'s tensors")
    print(table.to_string(index=False))
    table.to_csv(args.out / "recall_state_frontier.csv", index=False)
    if plot(table, args.out / "recall_state_frontier.png"):
        print(f"figure: {args.out / 'recall_state_frontier.png'}")
    return 0 if failed.empty else 1


if __name__ == "__main__":
    sys.exit(main())
