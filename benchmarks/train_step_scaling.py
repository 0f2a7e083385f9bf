"""Train-step time per token against T: classic cells, parallel-scan recurrences and the Transformer.

    python benchmarks/train_step_scaling.py                                   # T = 64..1024, the six variants
    python benchmarks/train_step_scaling.py --lengths 16,32 --rounds 1 --hidden 16 --batch 2   # a smoke test

Feng et al. (2024) report minGRU's training step 175x faster than a sequential one at
T = 512 on a GPU; this measures the same ratio, and the classic cells', on this machine.
Every variant is built once per T (``--hidden``, one layer, copy-task shapes: tokens in,
classes out, ``--batch`` sequences of length T), then timed in ``--rounds`` interleaved
rounds (every variant once per round, in a rotated order, so that a change in the machine's
load falls on all of them alike); a round times ``--steps`` consecutive ``train_step`` calls
(forward, backward, Adam) after one untimed warm-up step, with time.perf_counter. Reported:
the median over rounds of seconds per token (step time / (batch · T)) and each variant's
ratio to lstm and to mingru's sequential form, all measured in this one process. One thread
unless ``--threads`` says otherwise. Timings on a busy machine are not figures.

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
    ("mingru-parallel", "mingru@torch", {"scan": "parallel"}),
    ("mingru-sequential", "mingru@torch", {"scan": "sequential"}),
    ("mamba", "mamba@torch", {}),
    ("transformer", "transformer@torch", {}),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="64,128,256,512,1024")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="timed train steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
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
    print(f"train-step time per token (median of {args.rounds} interleaved rounds of {args.steps} steps,"
          f" time.perf_counter; hidden={args.hidden}, batch={args.batch}, 1 layer, {args.threads} thread(s),"
          f" float32, torch {torch.__version__})")
    header = f"{'T':>6} " + " ".join(f"{label:>18}" for label, _, _ in VARIANTS)
    rows = []
    for length in args.lengths:
        inputs = rng.integers(0, 10, (args.batch, length))
        batch = Batch(inputs, inputs.copy(), np.ones((args.batch, length), np.float32))
        models = [build(registry, name, options, args.hidden, length) for _, name, options in VARIANTS]
        devs = [m.to_device(batch) for m in models]
        for model, dev in zip(models, devs):
            model.train_step(dev)  # warm-up, untimed
        times = [[] for _ in VARIANTS]
        for r in range(args.rounds):
            order = [(i + r) % len(VARIANTS) for i in range(len(VARIANTS))]
            for i in order:
                start = time.perf_counter()
                for _ in range(args.steps):
                    models[i].train_step(devs[i])
                times[i].append((time.perf_counter() - start) / args.steps / (args.batch * length))
        rows.append((length, [statistics.median(t) for t in times]))
    print("\nseconds per token")
    print(header)
    for length, medians in rows:
        print(f"{length:>6} " + " ".join(f"{m:>18.3e}" for m in medians))
    labels = [label for label, _, _ in VARIANTS]
    for reference in ("lstm", "mingru-sequential"):
        k = labels.index(reference)
        print(f"\nratio to {reference} (its time / each variant's time: >1 means the variant is faster)")
        print(header)
        for length, medians in rows:
            print(f"{length:>6} " + " ".join(f"{medians[k] / m:>18.3g}" for m in medians))
    return 0


if __name__ == "__main__":
    sys.exit(main())
