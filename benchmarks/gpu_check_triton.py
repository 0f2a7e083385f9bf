"""lstm@triton on a CUDA GPU in one command that fits a short GPU session (about 8 minutes on an H100).

    python3 -m pip install --no-deps --no-build-isolation -e .   # once, from the repository root
    python3 benchmarks/gpu_check_triton.py                       # results in gpu-check-triton/
    python3 benchmarks/gpu_check_triton.py --dry-run             # the steps and their timeouts; runs nothing

Steps run in priority order, each in its own process under its own timeout (a hung grid
barrier ends its step, not the session), and the whole within --budget seconds: a step
gets the smaller of its own timeout and what is left. Each step's output is written to
gpu-check-triton/NN-name.log as it runs, and its verdict appended to
gpu-check-triton/summary.txt as soon as it is known, so a session cut short keeps
everything done until then:

 1. environment: GPU, driver, torch, cuDNN, triton;
 2. barrier: the barrier-only kernel on 1, 4 and 128 programs (1000 steps), timeout flag clear;
 3. tiny: bfloat16 B=1 H=256 T=17, forward and backward against a float64 nn.LSTM;
 4. small-H: one program owning all units (H 16/32/64, both 16-bit dtypes and float32), the
    plans whose time loop the software pipeliner once ran ahead of its own stores;
 5. timings: key rows timed with CUDA events (Triton, cuDNN, barrier floor), to timings.csv;
 6. GPU tests: a chosen subset of tests/test_triton_lstm_gpu.py;
 7. quick: benchmarks/triton_vs_cudnn.py --quick with the time left (rows to quick.csv as measured).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests" / "test_triton_lstm_gpu.py"
#: The subset of the GPU tests run in step 6: every dtype, both designs, a ragged batch, a
#: large hidden size, a streamed W, decoding, and the barrier on the largest grid.
TEST_SUBSET = ("(match_float64 and (B1-H1024 or B7-H768 or B64-H256) and layers1) or designs_agree or "
               "decoding or largest_grid or impossible_grid or (large_batch_float32 and (ieee or H1024-tf32x3)))")


def pytest_command(selection: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-v", "-rs", "-s", "-p", "no:cacheprovider", str(TESTS), "-k", selection]


def steps(out: Path) -> list[tuple[str, int, list[str]]]:
    """(name, timeout in seconds on an H100 including compilation, command)."""
    me = [sys.executable, str(Path(__file__).resolve()), "--step"]
    return [
        ("environment", 20, me + ["environment"]),
        ("barrier", 45, me + ["barrier"]),
        ("tiny", 60, me + ["tiny"]),
        ("small-H", 90, pytest_command("small_hidden")),
        ("timings", 75, me + ["timings", str(out / "timings.csv")]),
        ("GPU tests", 120, pytest_command(TEST_SUBSET)),
        ("quick", 0, [sys.executable, str(ROOT / "benchmarks" / "triton_vs_cudnn.py"), "--quick",
                      "--csv", str(out / "quick.csv")]),  # 0: whatever is left
    ]


def run_steps(out: Path, budget: float, dry_run: bool) -> int:
    planned = steps(out)
    fixed = sum(t for _, t, _ in planned)
    print(f"gpu_check_triton: {len(planned)} steps within {budget:.0f} s; each step's timeout is the smaller of its "
          f"own and the time left; 'quick' gets what is left (at least {budget - fixed:.0f} s if every step before "
          f"it uses its whole timeout)")
    if dry_run:
        for number, (name, timeout, command) in enumerate(planned, 1):
            shown = f"{timeout} s" if timeout else "the time left"
            print(f"{number}. {name:<12} timeout {shown:<14} {' '.join(command)}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    summary = out / "summary.txt"
    summary.write_text(f"gpu_check_triton started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, "
                       f"budget {budget:.0f} s\n")
    started = time.monotonic()
    failed = 0
    for number, (name, timeout, command) in enumerate(planned, 1):
        left = budget - (time.monotonic() - started)
        limit = min(timeout, left) if timeout else left
        if limit < 5:
            verdict = f"skipped: {left:.0f} s of the budget left"
        else:
            print(f"\n== step {number}: {name} (timeout {limit:.0f} s; {left:.0f} s of the budget left) ==", flush=True)
            verdict = run_one(command, limit, out / f"{number:02d}-{name.replace(' ', '-')}.log")
        failed += not verdict.startswith("ok")
        line = f"{number}. {name}: {verdict}"
        print(line, flush=True)
        with summary.open("a") as f:
            f.write(line + "\n")
    total = time.monotonic() - started
    with summary.open("a") as f:
        f.write(f"total {total:.0f} s; {failed} step(s) not ok\n")
    print(f"\ngpu_check_triton: {total:.0f} s, {failed} step(s) not ok; results in {out}/")
    return 1 if failed else 0


def run_one(command: list[str], limit: float, log: Path) -> str:
    """Run ``command`` with its output teed to ``log``; kill its process group at ``limit`` seconds."""
    import threading

    t0 = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TRITON_DEFAULT_FP_FUSION": "1"}
    env.pop("TRITON_INTERPRET", None)
    with log.open("w") as f:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, start_new_session=True)

        def tee():
            for line in proc.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                f.write(line)
                f.flush()

        reader = threading.Thread(target=tee, daemon=True)
        reader.start()
        try:
            proc.wait(timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the step and anything it started
            except ProcessLookupError:
                pass
            proc.wait()
        reader.join(timeout=5)
    took = time.monotonic() - t0
    if timed_out:
        return f"TIMED OUT after {took:.0f} s (killed; see {log.name})"
    return f"{'ok' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})'} in {took:.0f} s ({log.name})"


# -- the steps that are not pytest or the benchmark ----------------------------------------------


def step_environment() -> int:
    import torch
    import triton

    subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm", "--format=csv"], check=False)
    print(f"torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}, triton {triton.__version__}, "
          f"CUDA available: {torch.cuda.is_available()}")
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        print(f"{props.name}: {props.multi_processor_count} SMs")
    print(os.getloadavg())
    return 0 if torch.cuda.is_available() else 1


def step_barrier() -> int:
    import torch

    from rnnbench.plugins.triton import barrier_safety, launchers

    device = torch.device("cuda")
    for programs in (1, 4, 128):
        t0 = time.monotonic()
        launchers.barrier_floor(1000, 1, programs, device)
        torch.cuda.synchronize()
        barrier_safety.check_barrier(device, wait=True)  # raises BarrierTimeout if a program gave up
        print(f"barrier-only kernel, 1 x {programs} programs, 1000 steps: completed, flag clear "
              f"({time.monotonic() - t0:.2f} s wall, compilation included)", flush=True)
    return 0


def step_tiny() -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    import torch
    from test_triton_lstm_gpu import TOLERANCE, run_both

    errors = run_both(1, 256, 1, torch.bfloat16)
    worst = max(errors, key=errors.get)
    print(f"bfloat16 B=1 H=256 T=17 vs float64 nn.LSTM, forward and backward: largest relative error "
          f"{errors[worst]:.2e} ({worst}); tolerance {TOLERANCE[torch.bfloat16]:.0e}")
    return 0 if errors[worst] <= TOLERANCE[torch.bfloat16] else 1


#: (dtype, batch, hidden, T): the rows the earlier targets name (small batch, bf16 and fp32)
TIMED = [("bfloat16", 1, 256, 512), ("bfloat16", 16, 1024, 512), ("float32", 1, 256, 512),
         ("float32", 16, 512, 512), ("bfloat16", 64, 1024, 512)]


def cuda_event_ms(fn, repeats: int = 20) -> float:
    """Median of ``repeats`` calls timed with CUDA events (after one warm-up call)."""
    import statistics

    import torch

    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def step_timings(csv_path: str) -> int:
    import csv

    import torch
    from torch import nn

    from rnnbench.plugins.triton import barrier_safety, launchers, planning
    from rnnbench.plugins.triton.lstm import TritonLSTMCore

    device = torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = False
    fields = ["dtype", "batch", "hidden", "T", "mode", "cudnn_us_per_step", "triton_us_per_step",
              "floor_us_per_step", "speedup", "plan"]
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        print("medians of 20 calls timed with CUDA events (one warm-up call first); µs per step = time / T; "
              "forward = inference; floor = the barrier-only kernel on the plan's grid")
        for dtype_name, B, H, T in TIMED:
            dtype = getattr(torch, dtype_name)
            torch.manual_seed(0)
            cudnn = nn.LSTM(H, H, batch_first=True).to(device=device, dtype=dtype).eval()
            fused = TritonLSTMCore(H, 1).to(device=device, dtype=dtype).eval()
            fused.load_state_dict(cudnn.state_dict())
            x = torch.randn(B, T, H, device=device, dtype=dtype)
            plan = planning.plan_for(B, H, dtype, device)
            for mode in ("forward", "fwd+bwd"):
                if mode == "forward":
                    def run_cudnn():
                        with torch.inference_mode():
                            cudnn(x)

                    def run_triton():
                        with torch.inference_mode():
                            fused(x)
                else:
                    xg = x.clone().requires_grad_()

                    def run_cudnn():
                        cudnn(xg)[0].sum().backward()

                    def run_triton():
                        fused(xg).sum().backward()
                c_ms, t_ms = cuda_event_ms(run_cudnn), cuda_event_ms(run_triton)
                barrier_safety.check_barrier(device, wait=True)
                floor = float("nan")
                if plan.synced(H):
                    tiles, slices = plan.grid(B, H)
                    floor = cuda_event_ms(lambda: launchers.barrier_floor(T, tiles, slices, device)) * 1e3 / T
                    barrier_safety.check_barrier(device, wait=True)
                row = dict(dtype=dtype_name, batch=B, hidden=H, T=T, mode=mode, cudnn_us_per_step=c_ms * 1e3 / T,
                           triton_us_per_step=t_ms * 1e3 / T, floor_us_per_step=floor, speedup=c_ms / t_ms,
                           plan=plan.describe(B, H))
                writer.writerow(row)
                f.flush()
                print(f"{dtype_name:>8} B={B:<3} H={H:<5} T={T} {mode:<8} cuDNN {row['cudnn_us_per_step']:8.2f} µs/step"
                      f"  Triton {row['triton_us_per_step']:8.2f} µs/step  floor {floor:6.2f} µs/step  "
                      f"speedup {row['speedup']:.2f}x", flush=True)
    return 0


STEPS = {"environment": step_environment, "barrier": step_barrier, "tiny": step_tiny, "timings": step_timings}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="list the steps and their timeouts; run nothing")
    parser.add_argument("--budget", type=float, default=470,
                        help="seconds for all steps together (default: %(default)s, under 8 minutes)")
    parser.add_argument("--out", default=str(ROOT / "gpu-check-triton"), help="folder for logs, CSVs and summary")
    parser.add_argument("--step", nargs="+", metavar=("NAME", "ARG"), help=argparse.SUPPRESS)  # one step, in-process
    args = parser.parse_args(argv)
    if args.step:
        name, *rest = args.step
        if name not in STEPS:
            print(f"gpu_check_triton: no step {name!r}", file=sys.stderr)
            return 2
        return STEPS[name](*rest)
    if args.budget <= 0:
        print("gpu_check_triton: --budget must be positive", file=sys.stderr)
        return 2
    return run_steps(Path(args.out), args.budget, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
