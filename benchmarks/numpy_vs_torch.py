"""NumPy recurrent layers against torch.nn's, at one shape and one thread count.

    python benchmarks/numpy_vs_torch.py [--threads N] [--seq-len 256] [--batch 32]
                                        [--input 128] [--hidden 256] [--min-time 1.0]

For each of rnn, lstm, gru (one layer, float32): the forward time and the training
step time (forward + backward through time, every weight gradient and dx; no
optimizer update) of the NumPy layer and of nn.RNN / nn.LSTM / nn.GRU, their
ratio, and the achieved GFLOP/s from the analytic count 2·B·T·G·H·(I+H) (forward;
training counts three times that). Beside them, the GEMM throughput of NumPy's
BLAS and of torch's at a 2048² sgemm and at the per-step recurrent shape
B×H by H×G·H: the two libraries link different BLAS, and that ratio bounds what
the NumPy layers can reach.

Timing: torch.utils.benchmark.Timer.blocked_autorange at the same thread count
for both libraries (torch.set_num_threads and threadpoolctl for NumPy's BLAS);
each figure is the median over blocks filling --min-time seconds, IQR beside it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits
from torch.utils import benchmark

from rnnbench.plugins.numpy.layers import GATES
from rnnbench.plugins.numpy.model import blas_name
from rnnbench.plugins.numpy.convert import TORCH_LAYERS, stack_like


@dataclass
class Timing:
    median: float
    iqr: float
    n: int

    def __str__(self) -> str:
        return f"{self.median * 1e3:8.2f} ms ±{self.iqr / 2 * 1e3:5.2f}"


def measure(fn: Callable[[], object], threads: int, min_time: float) -> Timing:
    fn()  # warm-up: allocations, oneDNN primitive creation, workspace buffers
    m = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads).blocked_autorange(min_run_time=min_time)
    return Timing(m.median, m.iqr, len(m.times))


def gemm_rows(threads: int, min_time: float, B: int, H: int, G: int) -> list[tuple[str, float, float]]:
    rows = []
    rng = np.random.default_rng(0)
    for label, (m, k, n) in (("2048² sgemm", (2048, 2048, 2048)), (f"per-step {B}×{H} · {H}×{G * H}", (B, H, G * H))):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        out = np.empty((m, n), np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tout = torch.empty(m, n)
        flops = 2.0 * m * k * n
        t_np = measure(lambda: np.matmul(a, b, out=out), threads, min_time).median
        t_torch = measure(lambda: torch.mm(ta, tb, out=tout), threads, min_time).median
        rows.append((label, flops / t_np / 1e9, flops / t_torch / 1e9))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--input", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds of timing per figure")
    parser.add_argument("--archs", default="lstm,gru,rnn")
    args = parser.parse_args(argv)
    T, B, I, H, threads = args.seq_len, args.batch, args.input, args.hidden, args.threads

    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        blas = [f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)" for i in threadpool_info()]
        print(f"# NumPy {np.__version__} ({blas_name()}), torch {torch.__version__}; {threads} thread(s);"
              f" {platform.processor() or platform.machine()}; Python {sys.version.split()[0]}")
        print(f"# thread pools: {'; '.join(blas)}")
        print(f"# float32, T={T}, B={B}, input={I}, hidden={H}, 1 layer; time = median of"
              f" torch.utils.benchmark blocked_autorange over >= {args.min_time:g} s (± half the IQR)")
        print("# training step = forward + backward through time (all weight gradients and dx), no optimizer")
        print()
        header = f"{'model':6} {'pass':8} {'numpy':>20} {'torch':>20} {'ratio':>6} {'numpy GF/s':>10} {'torch GF/s':>10}  torch path"
        print(header)
        print("-" * len(header))
        torch.manual_seed(0)
        rng = np.random.default_rng(0)
        x_np = rng.standard_normal((T, B, I), dtype=np.float32)
        dy_np = rng.standard_normal((T, B, H), dtype=np.float32)
        x_t, dy_t = torch.from_numpy(x_np), torch.from_numpy(dy_np)
        for arch in args.archs.split(","):
            rnn = TORCH_LAYERS[arch](I, H)
            rnn.flatten_parameters()
            stack = stack_like(rnn, np.float32)
            forward_flops = 2.0 * B * T * GATES[arch] * H * (I + H)
            path = "oneDNN fused" if arch == "lstm" and torch.backends.mkldnn.is_available() else "ATen per-step loop"

            def np_forward():
                return stack.forward(x_np)

            def np_train():
                _, _, caches = stack.forward(x_np)
                return stack.backward(dy_np, caches)

            def torch_forward():
                with torch.inference_mode():
                    return rnn(x_t)

            x_req = x_t.clone().requires_grad_(True)

            def torch_train():
                rnn.zero_grad(set_to_none=True)
                y, _ = rnn(x_req)
                y.backward(dy_t)

            for name, np_fn, torch_fn, flops in (("forward", np_forward, torch_forward, forward_flops),
                                                 ("train", np_train, torch_train, 3 * forward_flops)):
                tn, tt = measure(np_fn, threads, args.min_time), measure(torch_fn, threads, args.min_time)
                print(f"{arch:6} {name:8} {str(tn):>20} {str(tt):>20} {tn.median / tt.median:5.2f}x"
                      f" {flops / tn.median / 1e9:10.1f} {flops / tt.median / 1e9:10.1f}  {path}")
        print()
        print(f"{'GEMM (float32)':28} {'numpy GF/s':>10} {'torch GF/s':>10} {'torch/numpy':>11}")
        for label, g_np, g_torch in gemm_rows(threads, args.min_time, B, H, 4):
            print(f"{label:28} {g_np:10.1f} {g_torch:10.1f} {g_torch / g_np:10.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
