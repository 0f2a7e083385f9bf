"""What a second thread gains per training step, from below the README main job's size to above it.

Run on a quiet machine (the numbers are ratios measured in this one run):

    python benchmarks/thread_gain.py            # about 2 minutes on a 2-core machine
    python benchmarks/thread_gain.py --quick    # a smoke test, seconds

For each model and (batch, hidden) it times training steps of one case with 1 and 2 threads
(torch.set_num_threads, the same model and batch), alternating, and prints the median step
time of each and their ratio. rnnbench's thread policy (rnnbench.execution.thread_policy)
does not read the gain off the size: each case times its own forward on 1 and 2 threads
and keeps two where they run it at least MIN_GAIN_FOR_MORE_THREADS times faster. This
table shows, on one machine, where that line falls in sizes and whether the forward's gain
(what the probe sees) tracks the training step's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnbench.execution.runner import build_model, build_task, registry_for
from rnnbench.execution.thread_policy import MIN_GAIN_FOR_MORE_THREADS
from rnnbench.records import CaseConfig


def call_times(call, threads: int, calls: int) -> list[float]:
    torch.set_num_threads(threads)
    call()  # warm-up at this thread count
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke test)")
    parser.add_argument("--sizes", default="8x32,16x64,64x64,32x128,64x128,64x256,64x512",
                        help="BATCHxHIDDEN, comma list (default: %(default)s: from where a second thread loses to where it pays)")
    args = parser.parse_args()
    registry = registry_for(())
    try:
        sizes = [(4, 8)] if args.quick else [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes BATCHxHIDDEN pairs, got {args.sizes!r}")
    models = ["lstm"] if args.quick else ["lstm", "gru", "transformer"]
    steps, rounds = (3, 2) if args.quick else (10, 5)
    task_spec = registry.resolve_task("copy")
    print(f"median wall-clock seconds per training step (time.perf_counter), {rounds} alternating rounds of"
          f" {steps} steps and {steps} forwards; gain: 1-thread median / 2-thread median; rnnbench keeps"
          f" two threads where its forward probe gains >= {MIN_GAIN_FOR_MORE_THREADS:g}x")
    print(f"{'model':12} {'batch':>5} {'hidden':>6} {'b*h^2':>11} {'train 1 thr':>11} {'2 threads':>10}"
          f" {'train gain':>10} {'forward gain':>12}")
    for name in models:
        spec = registry.resolve_model(name)
        for batch_size, hidden in sizes:
            config = CaseConfig(model=spec.name, task="copy", seq_len=task_spec.defaults.seq_len,
                                batch_size=batch_size, hidden=hidden, layers=1, device="cpu", dtype="float32",
                                seed=0, steps=1, lr=2e-3, task_options=tuple(sorted(task_spec.options.items())))
            task = build_task(config, registry)
            model = build_model(config, registry, task)
            batch = model.to_device(task.batch("train", 0, batch_size))
            test = model.to_device(task.batch("test", 0, batch_size))
            times: dict[tuple[str, int], list[float]] = {(what, n): [] for what in ("train", "forward") for n in (1, 2)}
            for _ in range(rounds):
                for threads in (1, 2):
                    times["train", threads] += call_times(lambda: model.train_step(batch), threads, steps)
                    times["forward", threads] += call_times(lambda: model.forward(test), threads, steps)
            med = {key: statistics.median(values) for key, values in times.items()}
            print(f"{spec.name:12} {batch_size:5d} {hidden:6d} {batch_size * hidden * hidden:11,d}"
                  f" {med['train', 1]:11.5f} {med['train', 2]:10.5f} {med['train', 1] / med['train', 2]:10.2f}"
                  f" {med['forward', 1] / med['forward', 2]:12.2f}")


if __name__ == "__main__":
    main()
