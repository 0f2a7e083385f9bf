"""lstm@triton against torch.nn.LSTM (cuDNN) on a CUDA GPU: times, µs per step, speedups.

    pip install -e '.[triton]'
    python benchmarks/triton_vs_cudnn.py --quick          # the small grid (< 4 min with compilation)
    python benchmarks/triton_vs_cudnn.py                  # the full grid
    python benchmarks/triton_vs_cudnn.py --batch 16 --hidden 768 --seq 1024 --dtype float16

Both run the same layers (same weights, batch-first [B, T, H] input, hidden = input
width, zero initial state): cuDNN through nn.LSTM, the Triton recurrence through
TritonLSTMCore. float32 is compared with TF32 off on both sides (IEEE products)
unless --precision opts the Triton side into tf32/tf32x3 (then cuDNN's TF32 is on too).
``forward`` rows are inference: both modules in .eval(), under torch.inference_mode();
``fwd+bwd`` rows are forward + backward (gradients of the input and every parameter).
Each time is the median of torch.utils.benchmark's blocked_autorange (it synchronises
CUDA), with the IQR and number of timed blocks beside it, and as µs per time step.
The cuDNN algorithm is read from the CUDA kernels torch.profiler records in one call
(torch does not expose cudnnRNNAlgo_t): ``persistent`` when a kernel's name says so,
else ``STANDARD``. The barrier floor is the time per step of a kernel with the Triton
row's grid whose steps do nothing but the grid barrier (``barrier_floor_kernel``): the
least a step of the persistent design can cost there. Before timing, the outputs of the
two are compared and the largest difference printed.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import platform
import sys
from dataclasses import asdict, dataclass

import torch
from torch import nn

QUICK = dict(batch="1,16,64", hidden="256,1024", seq="512", dtype="bfloat16,float32", mode="forward,train")
#: The row the issue anchors on (fp16, B=16, T=1024, H=768): always part of --quick.
ANCHOR = ("float16", 16, 768, 1024)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class Row:
    dtype: str
    mode: str
    batch: int
    hidden: int
    seq: int
    design: str
    cudnn_algo: str
    cudnn_ms: float
    cudnn_iqr_ms: float
    cudnn_n: int
    triton_ms: float
    triton_iqr_ms: float
    triton_n: int
    cudnn_us_per_step: float
    triton_us_per_step: float
    barrier_floor_us_per_step: float  # nan where not measured (no barrier in the plan, or no GPU)
    speedup: float  # cuDNN time / Triton time: > 1 means Triton is faster
    max_abs_diff: float


def parse_list(text: str, kind=int) -> list:
    return [kind(item) for item in text.split(",") if item.strip()]


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(fn, min_run_time: float, device: torch.device):
    from torch.utils.benchmark import Timer

    fn()  # warm-up: compilation, cuDNN plan selection, allocator
    synchronize(device)
    m = Timer(stmt="fn()", globals={"fn": fn}).blocked_autorange(min_run_time=min_run_time)
    return m.median, m.iqr, len(m.times)


def cudnn_algorithm(run, device: torch.device) -> str:
    """Which cuDNN RNN algorithm ran, from the kernel names of one profiled call."""
    if device.type != "cuda":
        return "n/a (CPU)"
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        run()
        synchronize(device)
    names = [e.key for e in prof.key_averages() if e.device_type.name == "CUDA"]
    if not names:
        return "unknown (profiler saw no kernels)"
    return "persistent" if any("persist" in n.lower() for n in names) else "STANDARD"


def host_cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_floors: dict = {}


def barrier_floor_us(grid: tuple[int, int], seq: int, min_run_time: float, device: torch.device) -> float:
    """µs per step of the empty-step kernel on ``grid`` (cached per grid and length)."""
    from rnnbench.plugins.triton import barrier_safety, launchers

    key = (grid, seq)
    if key not in _floors:
        median, _, _ = time_it(lambda: launchers.barrier_floor(seq, grid[0], grid[1], device), min_run_time, device)
        barrier_safety.check_barrier(device, wait=True)
        _floors[key] = median * 1e6 / seq  # seq barriers, the launch included
    return _floors[key]


def bench_case(batch, hidden, seq, dtype, mode, layers, design, precision, min_run_time, device) -> Row:
    from rnnbench.plugins.triton import barrier_safety, planning
    from rnnbench.plugins.triton.lstm import TritonLSTMCore

    torch.manual_seed(0)
    cudnn = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True).to(device=device, dtype=dtype)
    cudnn.flatten_parameters()
    fused = TritonLSTMCore(hidden, layers, design=design, precision=precision).to(device=device, dtype=dtype)
    fused.load_state_dict(cudnn.state_dict())
    x = torch.randn(batch, seq, hidden, device=device, dtype=dtype)
    train = mode == "train"
    for module in (cudnn, fused):
        module.train(train)

    def runner(module, forward):
        if not train:
            def run():
                with torch.inference_mode():
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
    with torch.inference_mode():
        diff = (cudnn(x)[0].float() - fused(x).float()).abs().max().item()
    algo = cudnn_algorithm(run_cudnn, device)
    cudnn_s, cudnn_iqr, cudnn_n = time_it(run_cudnn, min_run_time, device)
    triton_s, triton_iqr, triton_n = time_it(run_triton, min_run_time, device)
    barrier_safety.check_barrier(device, wait=True)  # a timed-out barrier would make these numbers wrong
    plan = planning.plan_for(batch, hidden, dtype, device, design, precision)
    floor = float("nan")
    if device.type == "cuda" and plan.synced(hidden):
        floor = barrier_floor_us(plan.grid(batch, hidden), seq, min_run_time, device)
    return Row(
        dtype=str(dtype).replace("torch.", ""), mode="fwd+bwd" if train else "forward", batch=batch, hidden=hidden,
        seq=seq, design=plan.describe(batch, hidden), cudnn_algo=algo,
        cudnn_ms=cudnn_s * 1e3, cudnn_iqr_ms=cudnn_iqr * 1e3, cudnn_n=cudnn_n,
        triton_ms=triton_s * 1e3, triton_iqr_ms=triton_iqr * 1e3, triton_n=triton_n,
        cudnn_us_per_step=cudnn_s * 1e6 / seq, triton_us_per_step=triton_s * 1e6 / seq,
        barrier_floor_us_per_step=floor, speedup=cudnn_s / triton_s, max_abs_diff=diff,
    )


HEADER = (f"{'dtype':>8} {'mode':>7} {'B':>4} {'H':>5} {'T':>5} {'cuDNN algo':>10} "
          f"{'cuDNN ms (IQR, n)':>23} {'Triton ms (IQR, n)':>23} {'cuDNN µs/step':>13} {'Triton µs/step':>14} "
          f"{'floor µs/step':>13} {'speedup':>8} {'max|diff|':>9}  Triton design")


def format_row(r: Row) -> str:
    floor = "-" if r.barrier_floor_us_per_step != r.barrier_floor_us_per_step else f"{r.barrier_floor_us_per_step:.2f}"
    return (f"{r.dtype:>8} {r.mode:>7} {r.batch:>4} {r.hidden:>5} {r.seq:>5} {r.cudnn_algo:>10} "
            f"{r.cudnn_ms:>9.3f} ({r.cudnn_iqr_ms:>6.3f}, {r.cudnn_n:>3}) "
            f"{r.triton_ms:>9.3f} ({r.triton_iqr_ms:>6.3f}, {r.triton_n:>3}) "
            f"{r.cudnn_us_per_step:>13.2f} {r.triton_us_per_step:>14.2f} {floor:>13} "
            f"{r.speedup:>7.2f}x {r.max_abs_diff:>9.1e}  {r.design}")


def summarize(rows: list[Row]) -> list[str]:
    """The issue's targets, counted over the rows (printed; nothing is asserted)."""
    def count(selected, ok, what):
        if selected:
            return [f"{what}: {sum(ok(r) for r in selected)} of {len(selected)} rows"]
        return []

    small = [r for r in rows if r.batch <= 16 and r.seq >= 2]
    lines = count([r for r in small if r.dtype == "bfloat16" and r.mode == "forward"], lambda r: r.speedup >= 3,
                  "batch <= 16, bfloat16 forward >= 3x faster than cuDNN")
    lines += count([r for r in small if r.dtype == "float32" and r.mode == "forward" and r.hidden <= 512],
                   lambda r: r.speedup > 1, "batch <= 16, float32 forward (H <= 512) faster than cuDNN")
    lines += count([r for r in small if r.mode == "fwd+bwd"], lambda r: r.speedup > 1,
                   "batch <= 16, forward+backward faster than cuDNN")
    lines += count([r for r in rows if r.batch >= 64], lambda r: r.speedup >= 1 / 1.2,
                   "batch >= 64, within 1.2x of cuDNN (speedup >= 0.83)")
    floored = [r for r in small if r.mode == "forward" and r.barrier_floor_us_per_step == r.barrier_floor_us_per_step]
    lines += count(floored, lambda r: r.triton_us_per_step <= 1.5 * r.barrier_floor_us_per_step,
                   "batch <= 16, forward µs/step within 1.5x of the barrier floor")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"the small grid ({QUICK}) plus the fp16 B=16 T=1024 H=768 anchor row, "
                             "0.2 s of repeats per measurement: under 4 minutes with compilation")
    parser.add_argument("--batch", default="1,16,64,256", help="comma list (default: %(default)s)")
    parser.add_argument("--hidden", default="256,1024", help="comma list (default: %(default)s)")
    parser.add_argument("--seq", default="512", help="comma list (default: %(default)s)")
    parser.add_argument("--dtype", default="float32,bfloat16", help="comma list (default: %(default)s)")
    parser.add_argument("--mode", default="forward,train", help="forward and/or train (forward + backward)")
    parser.add_argument("--layers", type=int, default=1, help="stacked layers (default: %(default)s)")
    parser.add_argument("--design", default="auto", choices=("auto", "persistent", "per-step"),
                        help="force a Triton launch design (default: chosen per size)")
    parser.add_argument("--precision", default=None, choices=("ieee", "tf32", "tf32x3"),
                        help="float32 products of the Triton kernels (default: ieee); tf32 also turns cuDNN's on")
    parser.add_argument("--min-run-time", type=float, default=0.5,
                        help="seconds of timed repeats per measurement (default: %(default)s; --quick: 0.2)")
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                        help="cpu: a smoke test of this script in Triton's interpreter (TRITON_INTERPRET=1) "
                             "against oneDNN; its times say nothing about the kernels' speed")
    args = parser.parse_args(argv)
    cases_anchor = []
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        args.min_run_time = 0.2
        cases_anchor = [ANCHOR]

    device = torch.device(args.device)
    if device.type == "cpu":
        from rnnbench.plugins.triton.lstm import interpreter_requested

        if not interpreter_requested():
            print("triton_vs_cudnn: --device cpu needs TRITON_INTERPRET=1 (Triton's interpreter)", file=sys.stderr)
            return 2
        cases_anchor = []
    elif not torch.cuda.is_available():
        print("triton_vs_cudnn: needs a CUDA GPU (torch.cuda.is_available() is False); nothing was measured.",
              file=sys.stderr)
        return 2
    if importlib.util.find_spec("triton") is None:
        print("triton_vs_cudnn: triton is not installed: pip install 'rnnbench[triton]'", file=sys.stderr)
        return 2
    try:
        wanted = parse_list(args.dtype, str)
        modes = parse_list(args.mode, str)
        grid = [(d, b, h, s) for d in wanted for h in parse_list(args.hidden) for s in parse_list(args.seq)
                for b in parse_list(args.batch)]
    except ValueError as exc:
        print(f"triton_vs_cudnn: {exc}", file=sys.stderr)
        return 2
    unknown = [d for d in wanted if d not in DTYPES] + [m for m in modes if m not in ("forward", "train")]
    if unknown:
        print(f"triton_vs_cudnn: unknown dtype or mode: {', '.join(unknown)}", file=sys.stderr)
        return 2

    # float32 compared like with like: IEEE on both sides, or TF32 on both when opted in.
    tf32 = args.precision in ("tf32", "tf32x3")
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    import triton

    where = torch.cuda.get_device_name() if device.type == "cuda" else \
        "CPU, Triton interpreter and oneDNN: a smoke test, NOT a speed comparison"
    cudnn = torch.backends.cudnn.version() if device.type == "cuda" else "n/a"
    print(f"device: {where}; host CPU: {host_cpu()}")
    print(f"torch {torch.__version__}, cuDNN {cudnn}, triton {triton.__version__}; float32 products: "
          f"{args.precision or 'ieee'} (TF32 {'on' if tf32 else 'off'} for cuDNN/cuBLAS); layers={args.layers}")
    print(f"times: median of torch.utils.benchmark blocked_autorange (>= {args.min_run_time} s of repeats, "
          "CUDA-synchronised), IQR and number of timed blocks in brackets; µs/step = time / T; "
          "forward = inference (.eval(), inference_mode); speedup = cuDNN time / Triton time; "
          "floor = µs/step of an empty-step kernel on the Triton row's grid (its grid barrier only)")
    print(HEADER)
    rows: list[Row] = []
    cases = [(d, m, b, h, s) for d, b, h, s in grid for m in modes]
    cases += [(d, m, b, h, s) for d, b, h, s in cases_anchor for m in ("forward", "train")]
    csv_file = open(args.csv, "w", newline="") if args.csv else None
    writer = None
    failed = 0
    for dtype_name, mode, batch, hidden, seq in cases:
        try:
            row = bench_case(batch, hidden, seq, DTYPES[dtype_name], mode, args.layers, args.design, args.precision,
                             args.min_run_time, device)
        except Exception as exc:  # a failing case (out of memory, a compile error, a timed-out barrier) is
            # reported on one line and the others still run
            failed += 1
            reason = "out of memory" if isinstance(exc, torch.cuda.OutOfMemoryError) else \
                f"FAILED: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            print(f"{dtype_name:>8} {mode:>7} {batch:>4} {hidden:>5} {seq:>5}  {reason}", flush=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        rows.append(row)
        print(format_row(row), flush=True)
        if csv_file is not None:  # each row written as soon as it is measured
            if writer is None:
                writer = csv.DictWriter(csv_file, fieldnames=list(asdict(row)))
                writer.writeheader()
            writer.writerow(asdict(row))
            csv_file.flush()
    if csv_file is not None:
        csv_file.close()
        print(f"rows written to {args.csv}")
    for line in summarize(rows):
        print(line)
    if failed:
        print(f"{failed} case(s) failed (listed above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
