"""What a second thread gains per training step, at the README main job's sizes and above.

Run on a quiet machine (the numbers are ratios measured in this one run):

    python benchmarks/thread_gain.py            # about 2 minutes on a 2-core machine
    python benchmarks/thread_gain.py --quick    # a smoke test, seconds

For each model and (batch, hidden) it times training steps of one case with 1 and 2 threads
(torch.set_num_threads, the same model and batch), alternating, and prints the median step
time of each and their ratio. rnnbench's thread policy (rnnbench.execution.thread_policy)
gives a case two threads only from MIN_WORK_FOR_TWO_THREADS = batch x hidden^2 up: the
sizes below it should show a ratio near 1 (little to gain, and a second thread risks
waiting on a busy machine).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnbench.execution.runner import build_model, build_task, registry_for
from rnnbench.execution.thread_policy import MIN_WORK_FOR_TWO_THREADS
from rnnbench.records import CaseConfig


def step_times(model, batch, threads: int, steps: int) -> list[float]:
    torch.set_num_threads(threads)
    model.train_step(batch)  # warm-up at this thread count
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_step(batch)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke test)")
    args = parser.parse_args()
    registry = registry_for(())
    sizes = [(4, 8)] if args.quick else [(64, 128), (64, 256), (64, 512)]
    models = ["lstm"] if args.quick else ["lstm", "gru", "transformer"]
    steps, rounds = (3, 2) if args.quick else (10, 5)
    task_spec = registry.resolve_task("copy")
    print(f"median wall-clock seconds per training step (time.perf_counter), {rounds} alternating rounds of"
          f" {steps} steps; threshold batch x hidden^2 = {MIN_WORK_FOR_TWO_THREADS:,}")
    print(f"{'model':12} {'batch':>5} {'hidden':>6} {'b*h^2':>11} {'1 thread':>10} {'2 threads':>10} {'1/2 ratio':>9}")
    for name in models:
        spec = registry.resolve_model(name)
        for batch_size, hidden in sizes:
            config = CaseConfig(model=spec.name, task="copy", seq_len=task_spec.defaults.seq_len,
                                batch_size=batch_size, hidden=hidden, layers=1, device="cpu", dtype="float32",
                                seed=0, steps=1, lr=2e-3, task_options=tuple(sorted(task_spec.options.items())))
            task = build_task(config, registry)
            model = build_model(config, registry, task)
            batch = model.to_device(task.batch("train", 0, batch_size))
            one, two = [], []
            for _ in range(rounds):
                one += step_times(model, batch, 1, steps)
                two += step_times(model, batch, 2, steps)
            m1, m2 = statistics.median(one), statistics.median(two)
            print(f"{spec.name:12} {batch_size:5d} {hidden:6d} {batch_size * hidden * hidden:11,d} {m1:10.5f}"
                  f" {m2:10.5f} {m1 / m2:9.2f}")


if __name__ == "__main__":
    main()
