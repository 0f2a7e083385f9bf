"""Timing in the discipline of torch.utils.benchmark.

Warm up, then time blocks of calls until a minimum total time is filled; call the
device's ``synchronize`` inside each timed block so that queued GPU work is
counted; keep every per-call sample, so that comparisons between runs can test
significance instead of comparing two medians.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rnnbench.records import TimerSettings
from rnnbench.stats import Summary


@dataclass
class Measurement:
    """Per-call times in seconds from one timed region, with their spread.

    ``samples[i]`` is the mean time of one call within block ``i`` of
    ``calls_per_sample`` consecutive calls.
    """

    samples: list[float]
    calls_per_sample: int = 1
    warmup_calls: int = 0
    method: str = "wall clock (time.perf_counter)"

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def summary(self) -> Summary:
        return Summary.of(self.samples)

    @property
    def median(self) -> float:
        return self.summary.median

    def describe(self) -> str:
        return (
            f"median of {self.n} samples ({self.calls_per_sample} call(s) each) after "
            f"{self.warmup_calls} warm-up call(s), {self.method}"
        )


def time_call(
    fn: Callable[[], object],
    sync: Callable[[], None] = lambda: None,
    settings: TimerSettings = TimerSettings(),
) -> Measurement:
    """Time ``fn`` as torch.utils.benchmark's ``blocked_autorange`` does."""
    for _ in range(settings.warmup_calls):
        fn()
    sync()
    # Calibrate: how many calls make a block long enough that timer overhead is noise.
    start = time.perf_counter()
    fn()
    sync()
    once = max(time.perf_counter() - start, 1e-9)
    calls = max(1, int(np.ceil(settings.min_block_time / once)))

    samples: list[float] = []
    total = 0.0
    while len(samples) < settings.max_repeats and (
        len(samples) < settings.min_repeats or total < settings.min_run_time
    ):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        elapsed = time.perf_counter() - start
        samples.append(elapsed / calls)
        total += elapsed
    return Measurement(samples=samples, calls_per_sample=calls, warmup_calls=settings.warmup_calls + 1)
