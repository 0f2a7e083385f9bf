"""A fixed reference computation, timed at a run's start and end: how fast was this machine?

A timing compared across runs is only as comparable as the machines (and their state)
that produced it: another runner, a throttled CPU or a different thread count moves
every case at once. Each run therefore times the same two small computations, at the
run's thread count, before its first case and after its last, and stores them in its
environment record (``env["calibration"]``):

* ``gemm``: a 128 x 128 by 128 x 128 float32 matrix product (torch.mm), the kernel of
  every dense layer;
* ``recurrent``: a 32-step tanh recurrence ``h = tanh(x_t W + h U)`` at batch 8 and
  width 64, the shape of an RNN's inner loop (small matrix products and their latency).

Each is timed in blocks of calls (``time.perf_counter``), and the median over the blocks
is kept with the count. ``rnnbench compare`` prints NEW/BASE of these figures and can
divide timings by it (``--normalise``); ``rnnbench history --normalise`` plots timings
in units of the run's calibration. It costs a few hundredths of a second at each end.
This is pytest-benchmark's "control benchmark" idea (its issue #2) and asv's wish for
comparable machines (asv#1278), kept to a ratio: it says how the machines differ on this
reference, not how they differ on every model.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any, Callable

#: blocks timed per computation, and calls per block
BLOCKS = 30
GEMM_CALLS = 20
RECURRENT_CALLS = 2
GEMM_SIZE = 128
RECURRENT = {"steps": 32, "batch": 8, "width": 64}
METHOD = (f"median over {BLOCKS} blocks (time.perf_counter) of a {GEMM_SIZE}x{GEMM_SIZE} float32 torch.mm"
          f" ({GEMM_CALLS} calls a block) and of a {RECURRENT['steps']}-step tanh recurrence, batch"
          f" {RECURRENT['batch']}, width {RECURRENT['width']} ({RECURRENT_CALLS} calls a block), at the run's"
          " thread count, after one warm-up block")


def _median_block(call: Callable[[], Any], calls: int) -> float:
    call()  # warm-up: allocations, first-call dispatch
    times = []
    for _ in range(BLOCKS):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times)


def measure(threads: int) -> dict[str, Any]:
    """Time the reference computations once, at ``threads`` torch threads (restored afterwards)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(GEMM_SIZE, GEMM_SIZE, generator=generator)
        b = torch.randn(GEMM_SIZE, GEMM_SIZE, generator=generator)
        steps, batch, width = RECURRENT["steps"], RECURRENT["batch"], RECURRENT["width"]
        x = torch.randn(steps, batch, width, generator=generator)
        w = torch.randn(width, width, generator=generator) / math.sqrt(width)
        u = torch.randn(width, width, generator=generator) / math.sqrt(width)

        def recurrence() -> torch.Tensor:
            h = torch.zeros(batch, width)
            for t in range(steps):
                h = torch.tanh(x[t] @ w + h @ u)
            return h

        with torch.no_grad():
            gemm_s = _median_block(lambda: torch.mm(a, b), GEMM_CALLS)
            recurrent_s = _median_block(recurrence, RECURRENT_CALLS)
    finally:
        torch.set_num_threads(before)
    return {"gemm_s": gemm_s, "recurrent_s": recurrent_s, "blocks": BLOCKS, "threads": int(threads),
            "at": time.time()}


def record(env: dict[str, Any], when: str, threads: int) -> None:
    """Measure and put the reading into ``env["calibration"][when]`` (``"start"`` or ``"end"``)."""
    calibration = env.get("calibration")
    if not isinstance(calibration, dict):  # absent, or set to something else by an environment hook
        if calibration is not None:
            env["calibration_replaced"] = f"an environment hook set calibration to {str(calibration)[:80]!r}"
        calibration = env["calibration"] = {"method": METHOD}
    calibration[when] = measure(threads)


def problem(env: dict[str, Any]) -> str | None:
    """Why a run's stored calibration cannot be used (not an object, a reading not a positive finite
    time), or None: valid, or never measured (runs stored before rnnbench measured one)."""
    calibration = env.get("calibration")
    if calibration is None:
        return None
    if not isinstance(calibration, dict):
        return f"calibration is {str(calibration)[:40]!r}, not an object"
    for when in ("start", "end"):
        reading = calibration.get(when)
        if reading is None:
            continue
        if not isinstance(reading, dict):
            return f"calibration.{when} is {str(reading)[:40]!r}, not an object"
        for key in ("gemm_s", "recurrent_s"):
            value = reading.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
                return f"calibration.{when}.{key} is {value!r}, not a positive finite time"
    return None


def score(env: dict[str, Any]) -> dict[str, float] | None:
    """A run's calibration: per computation, the geometric mean of its start and end readings.

    ``"combined"`` is the geometric mean of the two computations. ``None`` for runs stored
    before rnnbench measured it (or that stopped before measuring), and for an invalid one
    (:func:`problem` says why).
    """
    if problem(env) is not None:
        return None
    calibration = env.get("calibration") or {}
    readings = [calibration[w] for w in ("start", "end") if isinstance(calibration.get(w), dict)]
    if not readings:
        return None
    out = {key: math.exp(statistics.fmean(math.log(float(r[key])) for r in readings))
           for key in ("gemm_s", "recurrent_s")}
    out["combined"] = math.sqrt(out["gemm_s"] * out["recurrent_s"])
    return out


def drift(env: dict[str, Any]) -> float | None:
    """End over start of the combined reading: how much the machine slowed (>1) during the run."""
    calibration = env.get("calibration") or {}
    if problem(env) is not None:
        return None
    start, end = calibration.get("start"), calibration.get("end")
    if not isinstance(start, dict) or not isinstance(end, dict):
        return None
    try:
        return math.sqrt(end["gemm_s"] * end["recurrent_s"] / (start["gemm_s"] * start["recurrent_s"]))
    except (KeyError, TypeError, ZeroDivisionError):
        return None
