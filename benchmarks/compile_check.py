"""Compile what lstm@triton launches on an NVIDIA GPU, ahead of time and without a GPU.

    python benchmarks/compile_check.py                  # sm_90a, every plan of the default grid
    python benchmarks/compile_check.py --arch 80,90 --hidden 1024 --dtype bfloat16
    /work/venv-triton36/bin/python benchmarks/compile_check.py   # the same against another Triton

Triton compiles to PTX and runs ptxas (shipped in the triton wheel) without a device,
so this catches what the interpreter cannot. For each (dtype, batch, hidden) and every
choice ``plan_launch`` can make there (design persistent and per-step; float32's IEEE,
tf32 and tf32x3 products), it builds the launches the launchers issue — from real
tensors on the CPU, so arguments, their values and their alignment are those of a run —
and specialises them with Triton's own binder as a launch would (integers equal to 1
become constants; 16-divisible integers and 16-byte-aligned pointers are marked so):
the forward when training and at inference, the fused decode step, the backward, and
the barrier-only kernel. Each distinct kernel is compiled once, and the row fails on

* a compile error, or registers spilled (more than --max-spill bytes), or shared memory
  over --max-shared bytes (ptxas's report, rerun on the PTX);
* a load of a later time step issued ahead by the software pipeliner (an async copy
  before the time loop, or one carried across its iterations): h_{t-1} or δgates_{t+1}
  would be read before the step that writes it;
* a product whose output warps or threads compute several times over (its layout
  covers more than the result).

It exits 1 on any failure, 2 on a usage error. Compiling takes seconds per kernel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DTYPES = ("float32", "bfloat16", "float16")
DESIGNS = ("persistent", "per-step")


def plan_launches(torch, planning, launchers, plan, batch: int, hidden: int, dtype) -> list:
    """The launches one layer of ``plan`` issues (training, inference, decoding), built on the CPU."""
    T = 2  # > 1 so that a split plan runs its barrier; T itself is not specialised on
    zeros = lambda *shape, dt=dtype: torch.zeros(*shape, dtype=dt)  # noqa: E731
    w, b = zeros(4 * hidden, hidden), zeros(4 * hidden)
    h0, c0 = zeros(batch, hidden), zeros(batch, hidden)
    out, training = launchers.forward_launches(zeros(T, batch, 4 * hidden), w, b, b, h0, c0, True, plan)
    _, inference = launchers.forward_launches(zeros(T, batch, 4 * hidden), w, b, b, h0, c0, False, plan)
    _, backward = launchers.backward_launches(zeros(T, batch, hidden), w, c0, out.cs, out.gates,
                                              zeros(batch, hidden, dt=torch.float32), plan)
    state = zeros(2, batch, hidden)  # decoding reads and writes layers of a stacked state
    decode = launchers.decode_launch(zeros(batch, 1, hidden)[:, 0], w, w, b, b, state[0], state[0], state[1],
                                     state[1], plan)
    return [training[0], inference[0], decode, backward[0]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="90", help="compute capabilities, comma list; 90 is sm_90a (default: %(default)s)")
    parser.add_argument("--batch", default="1,16,64,256", help="comma list (default: %(default)s)")
    parser.add_argument("--hidden", default="16,32,64,96,256,768,1024", help="comma list (default: %(default)s)")
    parser.add_argument("--dtype", default="float32,bfloat16,float16", help="comma list (default: %(default)s)")
    parser.add_argument("--precision", default="ieee,tf32,tf32x3",
                        help="float32 products to plan for, comma list (default: %(default)s: every choice)")
    parser.add_argument("--design", default="persistent,per-step", help="comma list (default: %(default)s)")
    parser.add_argument("--num-sms", type=int, default=132,
                        help="streaming multiprocessors the plans assume (default: %(default)s, an H100 SXM)")
    parser.add_argument("--max-shared", type=int, default=227 * 1024,
                        help="bytes of shared memory a program may use (default: %(default)s, sm_90)")
    parser.add_argument("--max-spill", type=int, default=0,
                        help="spilled bytes tolerated (default: %(default)s)")
    args = parser.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "").strip().lower() in ("1", "true", "on", "yes", "y"):
        print("compile_check: unset TRITON_INTERPRET: the interpreter compiles nothing", file=sys.stderr)
        return 2
    try:
        arches = [int(a) for a in args.arch.split(",")]
        batches = [int(b) for b in args.batch.split(",")]
        hiddens = [int(h) for h in args.hidden.split(",")]
    except ValueError as exc:
        print(f"compile_check: {exc}", file=sys.stderr)
        return 2
    dtypes, precisions, designs = args.dtype.split(","), args.precision.split(","), args.design.split(",")
    for given, allowed, what in ((dtypes, DTYPES, "--dtype"), (precisions, ("ieee", "tf32", "tf32x3"), "--precision"),
                                 (designs, DESIGNS, "--design")):
        if any(g not in allowed for g in given):
            print(f"compile_check: {what} takes {', '.join(allowed)}", file=sys.stderr)
            return 2
    try:
        import torch
        import triton

        from rnnbench.plugins.triton import aot, launchers, planning
    except ImportError as exc:
        print(f"compile_check: {exc}: pip install 'rnnbench[triton]'", file=sys.stderr)
        return 2

    print(f"triton {triton.__version__}; ptxas from the triton wheel; plans for {args.num_sms} SMs; launches "
          f"specialised by Triton's binder; limits: {args.max_spill} spilled bytes, {args.max_shared} B shared memory")
    failures = 0
    seen: dict = {}
    cuda = torch.device("cuda")
    started = time.monotonic()
    for arch in arches:
        barrier_only = launchers.barrier_floor_launch(4, 1, 8, torch.device("cpu"))
        failures += report(aot, arch, "barrier only (every synced plan's floor)", barrier_only, seen, args)
        for dtype_name in dtypes:
            dtype = getattr(torch, dtype_name)
            for batch in batches:
                for hidden in hiddens:
                    plans = {}
                    for design in designs:
                        for precision in (precisions if dtype == torch.float32 else ["tf32"]):
                            plan = planning.plan_launch(batch, hidden, dtype, cuda, design=design,
                                                        num_sms=args.num_sms, precision=precision)
                            plans.setdefault(plan, []).append(f"{design}/{precision}")
                    for plan, chosen_by in plans.items():
                        print(f"sm_{arch} {dtype_name} B={batch} H={hidden} ({', '.join(chosen_by)}): "
                              f"{plan.describe(batch, hidden)}", flush=True)
                        for launch in plan_launches(torch, planning, launchers, plan, batch, hidden, dtype):
                            failures += report(aot, arch, launch.label, launch, seen, args)
    print(f"{len(seen)} distinct kernels compiled in {time.monotonic() - started:.0f} s, {failures} failure(s)")
    return 1 if failures else 0


def report(aot, arch: int, label: str, launch, seen: dict, args) -> int:
    """Print one launch's verdict (compiling it unless an identical kernel was); 1 if it failed."""
    try:
        spec = aot.specialise(launch, arch)
    except Exception as exc:  # report every failure, then exit non-zero
        print(f"  FAIL {label:<20} specialising: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
        return 1
    if spec.key not in seen:
        seen[spec.key] = verdict(aot, spec, launch, args)
    ok, text = seen[spec.key]
    print(f"  {'ok' if ok else 'FAIL':4} {label:<20} {text}", flush=True)
    return 0 if ok else 1


def verdict(aot, spec, launch, args) -> tuple[bool, str]:
    consts = " ".join(f"{k}={v}" for k, v in launch.meta.items() if k != "num_warps")
    runtime = f"; runtime constants {', '.join(spec.constants)}" if spec.constants else ""
    try:
        compiled = aot.compile_specialised(spec)
    except Exception as exc:
        return False, f"compile error: {type(exc).__name__}: {' '.join(str(exc).split())[:400]} [{consts}]"
    regs, spills = aot.register_use(compiled)
    shared = compiled.metadata.shared
    problems = []
    if spills is None or spills > args.max_spill:
        problems.append(f"spilled {spills} B")
    if shared > args.max_shared:
        problems.append(f"shared memory {shared} B")
    problems += aot.time_loop_prefetches(compiled.asm["ttgir"]) if launch.kernel_name != "tanh_kernel" else []
    problems += [f"{what}: each output computed {factor}x" for what, factor in aot.redundant_products(
        compiled.asm["ttgir"])]
    text = (f"registers {regs}, spilled {spills} B, shared {shared} B, warps {launch.meta['num_warps']}"
            f"{runtime} [{consts}]")
    return not problems, text + "".join(f"\n       problem: {p}" for p in problems)


if __name__ == "__main__":
    sys.exit(main())
