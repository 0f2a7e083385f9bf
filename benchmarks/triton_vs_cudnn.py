"""lstm@triton against torch.nn.LSTM (cuDNN) on a CUDA GPU: time ratios and achieved TFLOP/s.

    pip install -e '.[triton]'
    python benchmarks/triton_vs_cudnn.py                  # the full grid (a few minutes)
    python benchmarks/triton_vs_cudnn.py --batch 8 --hidden 512 --seq 128 --dtype float32

Both run the same layer (same weights, batch-first [B, T, H] input, hidden = input
width, zero initial state): cuDNN through nn.LSTM with TF32 off (float32 products in
float32, as the Triton kernels do), the Triton recurrence through TritonLSTMCore.
``forward`` is inference under torch.no_grad(); ``train`` is forward + backward
(gradients of the input and every parameter). Each time is the median of
torch.utils.benchmark's blocked_autorange (it synchronises CUDA), with the IQR beside it.
FLOPs are analytic: forward 2·B·T·4H·(I+H) per layer, forward + backward three times that.
Before timing, the outputs of the two are compared and the largest difference printed.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class Row:
    dtype: str
    mode: str
    batch: int
    hidden: int
    seq: int
    design: str
    cudnn_ms: float
    cudnn_iqr_ms: float
    cudnn_n: int
    triton_ms: float
    triton_iqr_ms: float
    triton_n: int
    speedup: float  # cuDNN time / Triton time: > 1 means Triton is faster
    cudnn_tflops: float
    triton_tflops: float
    max_abs_diff: float


def parse_list(text: str, kind=int) -> list:
    return [kind(item) for item in text.split(",") if item.strip()]


def lstm_flops(batch: int, seq: int, hidden: int, layers: int, train: bool) -> float:
    forward = layers * 2.0 * batch * seq * 4 * hidden * (hidden + hidden)
    return 3.0 * forward if train else forward


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(fn, min_run_time: float, device: torch.device):
    from torch.utils.benchmark import Timer

    fn()  # warm-up: compilation, cuDNN plan selection, allocator
    synchronize(device)
    m = Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time)
    return m.median, m.iqr, len(m.times)


def bench_case(batch, hidden, seq, dtype, mode, layers, design, min_run_time, kernels, device) -> Row:
    from rnnbench.plugins.triton.lstm import TritonLSTMCore

    torch.manual_seed(0)
    cudnn = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True).to(device=device, dtype=dtype)
    cudnn.flatten_parameters()
    fused = TritonLSTMCore(hidden, layers, design=design).to(device=device, dtype=dtype)
    fused.load_state_dict(cudnn.state_dict())
    x = torch.randn(batch, seq, hidden, device=device, dtype=dtype)
    train = mode == "train"

    def runner(module, forward):
        if not train:
            def run():
                with torch.no_grad():
                    return forward(x)
            return run
        x_grad = x.clone().requires_grad_()
        params = list(module.parameters())
        grad_out = torch.randn(batch, seq, hidden, device=device, dtype=dtype)

        def run():
            return torch.autograd.grad(forward(x_grad), [x_grad, *params], grad_out)
        return run

    run_cudnn = runner(cudnn, lambda inp: cudnn(inp)[0])
    run_triton = runner(fused, fused)
    with torch.no_grad():
        diff = (cudnn(x)[0].float() - fused(x).float()).abs().max().item()
    cudnn_s, cudnn_iqr, cudnn_n = time_it(run_cudnn, min_run_time, device)
    triton_s, triton_iqr, triton_n = time_it(run_triton, min_run_time, device)
    flops = lstm_flops(batch, seq, hidden, layers, train)
    plan = kernels.plan_launch(batch, hidden, x.element_size(), device, design, kernels.sm_count(device))
    return Row(
        dtype=str(dtype).replace("torch.", ""), mode="fwd+bwd" if train else "forward", batch=batch, hidden=hidden,
        seq=seq, design=("persistent" if plan.persistent else "per-step") + ("+W_on_chip" if plan.w_on_chip else ""),
        cudnn_ms=cudnn_s * 1e3, cudnn_iqr_ms=cudnn_iqr * 1e3, cudnn_n=cudnn_n,
        triton_ms=triton_s * 1e3, triton_iqr_ms=triton_iqr * 1e3, triton_n=triton_n, speedup=cudnn_s / triton_s,
        cudnn_tflops=flops / cudnn_s / 1e12, triton_tflops=flops / triton_s / 1e12, max_abs_diff=diff,
    )


HEADER = (f"{'dtype':>8} {'mode':>7} {'B':>4} {'H':>5} {'T':>4} {'design':>20} "
          f"{'cuDNN ms (IQR, n)':>23} {'Triton ms (IQR, n)':>23} {'speedup':>8} {'cuDNN TF/s':>10} {'Triton TF/s':>11} "
          f"{'max|diff|':>9}")


def format_row(r: Row) -> str:
    return (f"{r.dtype:>8} {r.mode:>7} {r.batch:>4} {r.hidden:>5} {r.seq:>4} {r.design:>20} "
            f"{r.cudnn_ms:>9.3f} ({r.cudnn_iqr_ms:>6.3f}, {r.cudnn_n:>3}) "
            f"{r.triton_ms:>9.3f} ({r.triton_iqr_ms:>6.3f}, {r.triton_n:>3}) "
            f"{r.speedup:>7.2f}x {r.cudnn_tflops:>10.2f} {r.triton_tflops:>11.2f} {r.max_abs_diff:>9.1e}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", default="1,8,64,256", help="comma list (default: %(default)s)")
    parser.add_argument("--hidden", default="256,512,1024", help="comma list (default: %(default)s)")
    parser.add_argument("--seq", default="128,512", help="comma list (default: %(default)s)")
    parser.add_argument("--dtype", default="float32,bfloat16", help="comma list (default: %(default)s)")
    parser.add_argument("--mode", default="forward,train", help="forward and/or train (forward + backward)")
    parser.add_argument("--layers", type=int, default=1, help="stacked layers (default: %(default)s)")
    parser.add_argument("--design", default="auto", choices=("auto", "persistent", "per-step"),
                        help="force a Triton launch design (default: chosen per size)")
    parser.add_argument("--min-run-time", type=float, default=0.5,
                        help="seconds of timed repeats per measurement (default: %(default)s)")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cpu: a smoke test of this script in Triton's interpreter (TRITON_INTERPRET=1) "
                             "against oneDNN; its times say nothing about the kernels' speed")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    if device.type == "cpu":
        from rnnbench.plugins.triton.lstm import interpreter_requested

        if not interpreter_requested():
            print("triton_vs_cudnn: --device cpu needs TRITON_INTERPRET=1 (Triton's interpreter)", file=sys.stderr)
            return 2
    elif not torch.cuda.is_available():
        print("triton_vs_cudnn: needs a CUDA GPU (torch.cuda.is_available() is False); nothing was measured.",
              file=sys.stderr)
        return 2
    if importlib.util.find_spec("triton") is None:
        print("triton_vs_cudnn: triton is not installed: pip install 'rnnbench[triton]'", file=sys.stderr)
        return 2
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    wanted = parse_list(args.dtype, str)
    unknown = [d for d in wanted if d not in dtypes] + [m for m in parse_list(args.mode, str)
                                                          if m not in ("forward", "train")]
    if unknown:
        print(f"triton_vs_cudnn: unknown dtype or mode: {', '.join(unknown)}", file=sys.stderr)
        return 2

    # cuDNN and cuBLAS would use TF32 for float32 on Ampere+: off, so both compute in float32.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    from rnnbench.plugins.triton import kernels
    import triton

    where = torch.cuda.get_device_name() if device.type == "cuda" else \
        "CPU, Triton interpreter and oneDNN: a smoke test, NOT a speed comparison"
    print(f"device: {where}; torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, "
          f"triton {triton.__version__}; TF32 off; layers={args.layers}")
    print(f"times: median of torch.utils.benchmark blocked_autorange (>= {args.min_run_time} s of repeats, "
          "CUDA-synchronised), IQR and number of timed blocks in brackets; speedup = cuDNN time / Triton time; TF/s from analytic FLOPs")
    print(HEADER)
    rows: list[Row] = []
    for dtype_name in wanted:
        for mode in parse_list(args.mode, str):
            for hidden in parse_list(args.hidden):
                for seq in parse_list(args.seq):
                    for batch in parse_list(args.batch):
                        try:
                            row = bench_case(batch, hidden, seq, dtypes[dtype_name], mode, args.layers, args.design,
                                             args.min_run_time, kernels, device)
                        except torch.cuda.OutOfMemoryError:
                            print(f"{dtype_name:>8} {mode:>7} {batch:>4} {hidden:>5} {seq:>4}  out of memory")
                            torch.cuda.empty_cache()
                            continue
                        rows.append(row)
                        print(format_row(row), flush=True)
    if rows:
        small = [r.speedup for r in rows if r.batch <= 16]
        large = [r.speedup for r in rows if r.batch > 16]
        if small:
            print(f"batch <= 16: Triton faster than cuDNN in {sum(s > 1 for s in small)} of {len(small)} cases")
        if large:
            print(f"batch > 16: within 1.2x of cuDNN in {sum(s >= 1 / 1.2 for s in large)} of {len(large)} cases")
    if args.csv and rows:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(asdict(rows[0])))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        print(f"rows written to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
