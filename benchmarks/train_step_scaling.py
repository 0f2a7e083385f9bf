"""Train-step time per token against T: classic cells, parallel-scan recurrences and the Transformer.

    python benchmarks/train_step_scaling.py                                   # T = 64..1024, every variant
    python benchmarks/train_step_scaling.py --quick            # T = 64, 256, 1024; 3 rounds of 1 step (issue 35)
    python benchmarks/train_step_scaling.py --variants lstm,mamba,mamba-torch --lengths 64,1024
    python benchmarks/train_step_scaling.py --lengths 16,32 --rounds 1 --hidden 16 --batch 2   # a smoke test

Feng et al. (2024) report minGRU's training step 175x faster than a sequential one at
T = 512 on a GPU; this measures the same ratio, and the classic cells', on this machine.
Every variant is built once per T (``--hidden``, one layer, copy-task shapes: tokens in,
classes out, ``--batch`` sequences of length T), then timed in ``--rounds`` interleaved
rounds (every variant once per round, in a rotated order, so that a change in the machine's
load falls on all of them alike); a round times ``--steps`` consecutive ``train_step`` calls
(forward, backward, Adam) after one untimed warm-up step, with time.thread_time on one thread
(the CPU time of the thread that runs torch and the fused kernels, which a loaded machine
inflates far less than wall time) and time.perf_counter on more. Reported: the median over
rounds of seconds per token (step time / (batch · T)); each variant's cost relative to lstm as
the median over rounds of its time / lstm's time in the same round (a paired ratio: the two ran
seconds apart), with its interquartile range over rounds, and a warning where that range exceeds
SPREAD_WARNING of the median (the machine was not steady: rerun before reading the figure);
its cost per token relative to its own at the first T (flat in T is 1); and the ratio to
mingru's sequential torch form, all measured in this one process. One thread unless
``--threads`` says otherwise. Timings on a busy machine are not figures.

Variants ``X`` run the model's default kernel (``kernel=fused``: the compiled scans of
plugins/torch/fused_scans.py), ``X-torch`` its pure-torch form.

Duration on a quiet 2-core CPU at the defaults: roughly 10-15 minutes, most of it the
sequential forms and the Transformer at T = 1024.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

from rnnbench.manager import load_registry
from rnnbench.model_api import Batch, ModelConfig

#: (label, model, options)
VARIANTS = (
    ("lstm", "lstm@torch", {}),
    ("gru", "gru@torch", {}),
    ("mingru", "mingru@torch", {"kernel": "fused"}),
    ("mingru-torch", "mingru@torch", {"kernel": "torch", "scan": "parallel"}),
    ("mingru-sequential", "mingru@torch", {"kernel": "torch", "scan": "sequential"}),
    ("minlstm", "minlstm@torch", {"kernel": "fused"}),
    ("minlstm-torch", "minlstm@torch", {"kernel": "torch", "scan": "parallel"}),
    ("hawk", "hawk@torch", {"kernel": "fused"}),
    ("hawk-torch", "hawk@torch", {"kernel": "torch"}),
    ("mamba", "mamba@torch", {"kernel": "fused"}),
    ("mamba-torch", "mamba@torch", {"kernel": "torch"}),
    ("transformer", "transformer@torch", {}),
)
LABELS = [label for label, _, _ in VARIANTS]
#: a paired ratio's interquartile range over rounds, as a fraction of its median, above which the table warns
#: (torch.utils.benchmark's Measurement flags its own spread the same way)
SPREAD_WARNING = 0.10


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="64,128,256,512,1024")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed train steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", default=",".join(LABELS), help="comma list of: " + ", ".join(LABELS))
    parser.add_argument("--quick", action="store_true",
                        help="T = 64, 256, 1024 (unless --lengths), 3 rounds of 1 step: issue 35's acceptance table")
    args = parser.parse_args(argv)
    if args.quick:
        if args.lengths == parser.get_default("lengths"):
            args.lengths = "64,256,1024"
        args.rounds, args.steps = 3, 1
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(args.variants) - set(LABELS))
    if unknown or "lstm" not in args.variants:
        parser.error(f"--variants must name lstm and only variants of: {', '.join(LABELS)} (got {unknown or 'no lstm'})")
    try:
        args.lengths = [int(x) for x in args.lengths.split(",")]
    except ValueError:
        parser.error(f"--lengths must be a comma list of integers, got {args.lengths!r}")
    if min(args.lengths + [args.hidden, args.batch, args.steps, args.rounds, args.threads]) < 1:
        parser.error("lengths, --hidden, --batch, --steps, --rounds and --threads must be positive")
    return args


def build(registry, name, options, hidden, length):
    config = ModelConfig(input_kind="tokens", input_size=10, output_kind="classes", output_size=10, hidden=hidden,
                         layers=1, max_seq_len=length, seed=0, lr=1e-3, options=options)
    return registry.models[name].factory(config)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    registry = load_registry()
    rng = np.random.default_rng(0)
    variants = [v for v in VARIANTS if v[0] in args.variants]
    clock_name = "time.thread_time" if args.threads == 1 else "time.perf_counter"
    clock = time.thread_time if args.threads == 1 else time.perf_counter
    print(f"train-step time per token (median of {args.rounds} interleaved rounds of {args.steps} steps,"
          f" {clock_name}; hidden={args.hidden}, batch={args.batch}, 1 layer, {args.threads} thread(s),"
          f" float32, torch {torch.__version__})")
    labels = [label for label, _, _ in variants]
    header = f"{'T':>6} " + " ".join(f"{label:>18}" for label in labels)
    rows, paired = [], []  # medians per variant; per-round ratios to lstm per variant
    for length in args.lengths:
        inputs = rng.integers(0, 10, (args.batch, length))
        batch = Batch(inputs, inputs.copy(), np.ones((args.batch, length), np.float32))
        models = [build(registry, name, options, args.hidden, length) for _, name, options in variants]
        devs = [m.to_device(batch) for m in models]
        for model, dev in zip(models, devs):
            model.train_step(dev)  # warm-up, untimed
        times = [[] for _ in variants]
        for r in range(args.rounds):
            order = [(i + r) % len(variants) for i in range(len(variants))]
            for i in order:
                start = clock()
                for _ in range(args.steps):
                    models[i].train_step(devs[i])
                times[i].append((clock() - start) / args.steps / (args.batch * length))
        rows.append((length, [statistics.median(t) for t in times]))
        lstm_times = times[labels.index("lstm")]
        paired.append((length, [[t / base for t, base in zip(ts, lstm_times)] for ts in times]))
    print("\nseconds per token")
    print(header)
    for length, medians in rows:
        print(f"{length:>6} " + " ".join(f"{m:>18.3e}" for m in medians))
    print(f"\ncost relative to lstm (each variant's time / lstm's time in the same round: median over {args.rounds}"
          " rounds (interquartile range); <1 means the variant is faster)")
    print(f"{'T':>6} " + " ".join(f"{label:>22}" for label in labels))
    unsteady = []
    for length, ratios in paired:
        cells = []
        for label, per_round in zip(labels, ratios):
            median = statistics.median(per_round)
            low, high = statistics.quantiles(per_round, n=4)[::2] if len(per_round) > 1 else (median, median)
            if label == "lstm":
                cells.append(f"{'1x':>22}")
                continue
            cells.append(f"{f'{median:.3g}x ({low:.3g}-{high:.3g})':>22}")
            if high - low > SPREAD_WARNING * median:
                unsteady.append(f"{label} at T={length} ({low:.3g}-{high:.3g})")
        print(f"{length:>6} " + " ".join(cells))
    if unsteady:
        print(f"warning: the interquartile range over rounds exceeds {SPREAD_WARNING:.0%} of the median for "
              + ", ".join(unsteady) + ": the machine was not steady; rerun on a quiet machine before reading those")
    print(f"\ncost per token relative to the same variant's at T={rows[0][0]} (1 is flat in T)")
    print(header)
    for length, medians in rows:
        print(f"{length:>6} " + " ".join(f"{m / first:>17.3g}x" for m, first in zip(medians, rows[0][1])))
    if "mingru-sequential" in labels:
        k = labels.index("mingru-sequential")
        print("\nratio to mingru-sequential (its time / each variant's time: >1 means the variant is faster)")
        print(header)
        for length, medians in rows:
            print(f"{length:>6} " + " ".join(f"{medians[k] / m:>18.3g}" for m in medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
