"""What uea's 1-NN DTW baseline leaves in the process, and what it does to the next forward (issue 37).

    python benchmarks/baseline_threads.py                      # numba's default threading layer
    NUMBA_THREADING_LAYER=workqueue python benchmarks/baseline_threads.py

It pins torch to one thread, times an LSTM forward at uea's JapaneseVowels shape (batch 32,
29 steps, 12 channels, hidden 128), computes the task's 1-NN DTW baseline (aeon, numba-parallel),
then prints torch's thread count, numba's threading layer and the forward again, with the CPU
time each OS thread of the process took during the timing (/proc/self/task). With numba's OpenMP
layer, torch's count goes from 1 to NUMBA_NUM_THREADS and a second thread works (or spins) beside
the forward; with workqueue it stays at 1. rnnbench's runner re-pins the pools before each timed
region and computes baselines after them (docs/robustness.md). Needs the `data` extra.
"""

from __future__ import annotations

import os
import time

import torch


def thread_cpu() -> dict[str, tuple[str, float]]:
    """Every OS thread of this process: (name, CPU seconds so far)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:  # the thread ended meanwhile
            continue
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return out


def timed(label: str, forward, calls: int = 30) -> None:
    forward()
    before, wall, cpu = thread_cpu(), time.perf_counter(), time.thread_time()
    for _ in range(calls):
        forward()
    wall, cpu = (time.perf_counter() - wall) / calls, (time.thread_time() - cpu) / calls
    after = thread_cpu()
    busy = {f"{after[t][0]}:{t}": round(after[t][1] - before.get(t, ("", 0.0))[1], 2) for t in after
            if after[t][1] - before.get(t, ("", 0.0))[1] > 0}
    print(f"{label}: torch threads {torch.get_num_threads()}, forward {wall * 1e3:.2f} ms wall,"
          f" {cpu * 1e3:.2f} ms CPU of the timing thread; CPU s by thread during the timing: {busy}")


def main() -> None:
    from rnnbench.tasks.uea import nearest_neighbour_accuracy

    torch.set_num_threads(1)
    lstm = torch.nn.LSTM(12, 128, batch_first=True)
    x = torch.randn(32, 29, 12)

    def forward() -> None:
        with torch.no_grad():
            lstm(x)

    timed("before the baseline", forward)
    start = time.perf_counter()
    accuracy = nearest_neighbour_accuracy("JapaneseVowels", 1024, "dtw")
    import numba

    print(f"1-NN DTW accuracy {accuracy:.3f} in {time.perf_counter() - start:.1f} s; numba threading layer"
          f" {numba.threading_layer()}, numba threads {numba.get_num_threads()}")
    timed("after the baseline", forward)
    torch.set_num_threads(1)
    timed("after re-pinning torch to 1 thread", forward)


if __name__ == "__main__":
    main()
