"""How far each built-in torch model runs from this CPU's arithmetic limit.

    python benchmarks/roofline.py                          # every built-in torch model, both sizes, 1 thread
    python benchmarks/roofline.py --models lstm,mamba --threads 2
    python benchmarks/roofline.py --quick                  # fewer repeats, a smaller GEMM: a smoke run

Per model and size it prints the achieved rate of the forward and of the training step,
GFLOP/s = the model's own ``flops()`` (what ``--flops-budget`` counts) / measured time, beside
the rate of an fp32 GEMM measured in the same process on the same threads (torch.mm of
``--gemm-size`` square matrices, a size at which the GEMM saturates the cores), and their
ratio: the fraction of the machine's GEMM rate the implementation reaches. A low fraction
says the model's time goes to something other than its arithmetic (Python loops, autograd
bookkeeping, memory traffic, exp/log): the implementation, not the architecture, sets it.

Sizes: ``readme``, the README's main job (copy task: delay 10, so T = 30 with its 10
symbols and their recall, hidden 128, batch 64, one layer) and ``long`` (the same task
shapes at T = 256, batch 64, hidden 256). Timing: the median of ``--repeats`` calls after
one untimed warm-up, with time.thread_time on one thread (CPU time of the thread, which a
loaded machine inflates less than wall time) and time.perf_counter on more; the spread
printed is (max - min) / median over the repeats. A busy machine makes every figure here
lower; compare ratios measured in one process, not figures from different runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

from rnnbench.manager import load_registry
from rnnbench.model_api import Batch, ModelConfig

#: the copy task's shapes (tasks/copy.py defaults: 10 symbols of an alphabet of 8)
COPY_SYMBOLS, COPY_INPUT, COPY_OUTPUT = 10, 10, 9


@dataclass(frozen=True)
class Size:
    name: str
    seq_len: int
    batch: int
    hidden: int


SIZES = {"readme": Size("readme", 10 + 2 * COPY_SYMBOLS, 64, 128), "long": Size("long", 256, 64, 256)}


@dataclass(frozen=True)
class Timing:
    median_s: float
    spread: float  # (max - min) / median
    repeats: int


def builtin_torch_models(registry) -> list[str]:
    return sorted(name.split("@")[0] for name, spec in registry.models.items()
                  if name.endswith("@torch") and registry.source_of(name).distribution == "rnnbench"
                  and "cpu" in spec.devices)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="", help="comma list of torch models (default: every built-in one)")
    parser.add_argument("--sizes", default="readme,long", help=f"comma list of: {', '.join(SIZES)}")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gemm-size", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="2 repeats and a 512 GEMM (unless given)")
    args = parser.parse_args(argv)
    if args.quick:
        if args.repeats == parser.get_default("repeats"):
            args.repeats = 2
        if args.gemm_size == parser.get_default("gemm_size"):
            args.gemm_size = 512
    if min(args.threads, args.repeats, args.gemm_size) < 1:
        parser.error("--threads, --repeats and --gemm-size must be positive")
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if not args.sizes or set(args.sizes) - set(SIZES):
        parser.error(f"--sizes must be a comma list of {', '.join(SIZES)}, got {','.join(args.sizes)!r}")
    return args


def timed(call, repeats: int, clock) -> Timing:
    call()  # warm-up: compilation, caches, allocator
    samples = []
    for _ in range(repeats):
        start = clock()
        call()
        samples.append(clock() - start)
    median = statistics.median(samples)
    return Timing(median, (max(samples) - min(samples)) / median if median > 0 else 0.0, repeats)


def gemm_rate(size: int, repeats: int, clock) -> tuple[float, Timing]:
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator) for _ in range(2))
    timing = timed(lambda: torch.mm(a, b), repeats, clock)
    return 2.0 * size ** 3 / timing.median_s / 1e9, timing


def build(registry, model: str, size: Size):
    config = ModelConfig(input_kind="tokens", input_size=COPY_INPUT, output_kind="classes",
                         output_size=COPY_OUTPUT, hidden=size.hidden, layers=1, max_seq_len=size.seq_len,
                         seed=0, lr=2e-3,
                         # a model with weights per position (unshared_rnn) needs as many as the sequence has
                         options={"positions": size.seq_len} if "positions" in _options(registry, model) else {})
    return registry.models[f"{model}@torch"].factory(config)


def _options(registry, model: str) -> dict:
    return dict(registry.models[f"{model}@torch"].options or {})


def main(argv=None) -> int:
    args = parse_args(argv)
    registry = load_registry()
    known = builtin_torch_models(registry)
    models = [m.strip() for m in args.models.split(",") if m.strip()] or known
    unknown = [m for m in models if m not in known]
    if unknown:
        print(f"error: --models: unknown {', '.join(unknown)}; built-in torch models: {', '.join(known)}",
              file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    clock_name, clock = ("time.thread_time", time.thread_time) if args.threads == 1 else \
        ("time.perf_counter", time.perf_counter)
    gemm, gemm_timing = gemm_rate(args.gemm_size, max(args.repeats, 3), clock)
    print(f"roofline: {args.threads} thread(s), torch {torch.__version__}, float32; {clock_name}, median of"
          f" {args.repeats} calls after a warm-up; spread = (max - min) / median")
    print(f"GEMM: torch.mm {args.gemm_size}x{args.gemm_size} float32: {gemm:.1f} GFLOP/s"
          f" (spread {gemm_timing.spread:.0%})")
    header = (f"{'model':<17} {'size':<7} {'T':>5} {'B':>4} {'H':>4} {'kernel':<7} {'fwd GFLOP/s':>11} {'of GEMM':>8}"
              f" {'spread':>7} {'train GFLOP/s':>13} {'of GEMM':>8} {'spread':>7}")
    print(header)
    rng = np.random.default_rng(0)
    for name in args.sizes:
        size = SIZES[name]
        inputs = rng.integers(0, COPY_INPUT, (size.batch, size.seq_len))
        batch = Batch(inputs, rng.integers(0, COPY_OUTPUT, (size.batch, size.seq_len)),
                      np.ones((size.batch, size.seq_len), np.float32))
        for model_name in models:
            model = build(registry, model_name, size)
            dev = model.to_device(batch)
            forward = timed(lambda: model.forward(dev), args.repeats, clock)
            train = timed(lambda: model.train_step(dev), args.repeats, clock)
            fwd_rate = model.flops(size.seq_len, size.batch) / forward.median_s / 1e9
            train_rate = model.flops(size.seq_len, size.batch, training=True) / train.median_s / 1e9
            kernel = model.describe().get("kernel", "-")
            print(f"{model_name:<17} {name:<7} {size.seq_len:>5} {size.batch:>4} {size.hidden:>4} {kernel:<7}"
                  f" {fwd_rate:>11.2f} {fwd_rate / gemm:>8.1%} {forward.spread:>7.0%}"
                  f" {train_rate:>13.2f} {train_rate / gemm:>8.1%} {train.spread:>7.0%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
